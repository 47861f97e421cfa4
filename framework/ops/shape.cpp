// Shape ops: reshape and friends (views of the same buffer), and the copying ops that move elements
// around (permute, narrow, concat, flip, expand). Each op: check arguments, compute the value, then
// record its backward right below. Composites are built from the primitives and record nothing.
//
//   primitives: reshape, permute, narrow, concat, flip, expand
//   composites: flatten, unsqueeze, squeeze (reshape); transpose (permute); slice (narrow, or
//               index_select for step > 1); stack (unsqueeze + concat); split, chunk (narrow);
//               unbind (narrow + squeeze); repeat (index_select per axis); pad (narrow + concat)
#include <algorithm>
#include <cstring>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/block_pool.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::around;
using detail::AxisView;
using detail::check;
using detail::normalize_axis;

namespace {

// Row-major element strides of a contiguous tensor of shape s.
detail::Strides contiguous_strides(const Shape& s) {
  detail::Strides st{};
  int64_t stride = 1;
  for (int i = s.size() - 1; i >= 0; --i) {
    st[i] = stride;
    stride *= s[i];
  }
  return st;
}

// x[..., start:start+length, ...] along `axis` as a new contiguous tensor. x: [A..., n, B...] ->
// [A..., length, B...]. Shared by narrow's forward and concat's backward. Moves bytes: any dtype.
Tensor copy_narrow(const Tensor& x, int axis, int64_t start, int64_t length) {
  Shape out_shape = x.shape();
  out_shape[axis] = length;
  Tensor out = empty(out_shape, x.dtype());
  const AxisView v = around(x.shape(), axis);
  const int64_t size = x.element_size();
  const int64_t run = length * v.inner * size;  // contiguous bytes per outer block
  auto* po = static_cast<char*>(out.data_ptr());
  const auto* px = static_cast<const char*>(x.data_ptr());
  if (run == 0) return out;
  for (int64_t o = 0; o < v.outer; ++o)
    std::memcpy(po + o * run, px + (o * v.size + start) * v.inner * size, static_cast<size_t>(run));
  return out;
}

}  // namespace

// ---- reshape family (share x's buffer) -------------------------------------------------------------
// x: any shape -> `shape` with the same numel (one dim may be -1 and is inferred). No copy: the result
// is a new TensorImpl pointing at x's Storage.
Tensor reshape(const Tensor& x, const Shape& shape) {
  detail::check_defined("reshape", x);
  Shape target = shape;
  int inferred = -1;
  int64_t known = 1, nominal = 1;
  for (int i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      check(inferred < 0, "reshape: only one dimension can be -1, got shape {} for a tensor of shape {}", shape,
            x.shape());
      inferred = i;
    } else {
      check(target[i] >= 0, "reshape: invalid dimension {} in shape {} (tensor of shape {})", target[i], shape,
            x.shape());
      // guard: the product of the nonzero dims stays within empty()'s limit, so no later numel() overflows
      check(nominal <= kMaxTensorBytes / std::max<int64_t>(target[i], 1), "reshape: shape {} is too large", shape);
      nominal *= std::max<int64_t>(target[i], 1);
      known *= target[i];
    }
  }
  if (inferred >= 0) {
    check(known != 0 && x.numel() % known == 0, "reshape: shape {} is invalid for a tensor of shape {} ({} elements)",
          shape, x.shape(), x.numel());
    target[inferred] = x.numel() / known;
  }
  check(target.numel() == x.numel(), "reshape: shape {} is invalid for a tensor of shape {} ({} elements)", shape,
        x.shape(), x.numel());

  auto impl = std::allocate_shared<TensorImpl>(detail::PoolAllocator<TensorImpl>());
  impl->shape = target;
  impl->dtype = x.dtype();
  impl->storage = x.impl()->storage;
  Tensor out(std::move(impl));
  if (should_record({&x}))
    record(out, "reshape", {x}, [](BackwardContext& c) {
      // the gradient has the output's shape; read it back in the input's shape (no copy)
      c.add_grad(0, reshape(c.grad_output(), c.input(0).shape));
    });
  return out;
}

// x: [A..., d_start, ..., d_end, B...] -> [A..., d_start * ... * d_end, B...]. A rank-0 x becomes [1].
Tensor flatten(const Tensor& x, int start_axis, int end_axis) {
  detail::check_defined("flatten", x);
  if (x.dim() == 0) {
    check(start_axis >= -1 && start_axis <= 0 && end_axis >= -1 && end_axis <= 0,
          "flatten: axes {} and {} are out of range for a tensor of shape {}", start_axis, end_axis, x.shape());
    return reshape(x, {1});
  }
  const int start = normalize_axis("flatten", start_axis, x.dim(), x.shape());
  const int end = normalize_axis("flatten", end_axis, x.dim(), x.shape());
  check(start <= end, "flatten: start axis {} comes after end axis {} (tensor of shape {})", start_axis, end_axis,
        x.shape());
  Shape s;
  for (int i = 0; i < start; ++i) s.push_back(x.shape()[i]);
  int64_t merged = 1;
  for (int i = start; i <= end; ++i) merged *= x.shape()[i];
  s.push_back(merged);
  for (int i = end + 1; i < x.dim(); ++i) s.push_back(x.shape()[i]);
  return reshape(x, s);
}

// x: [A..., B...] -> [A..., 1, B...] with the new axis at position `axis` of the result
// (axis in [-(rank+1), rank]).
Tensor unsqueeze(const Tensor& x, int axis) {
  detail::check_defined("unsqueeze", x);
  const int a = normalize_axis("unsqueeze", axis, x.dim() + 1, x.shape());
  check(x.dim() < Shape::kMaxRank, "unsqueeze: a tensor of shape {} already has the maximum rank {}", x.shape(),
        Shape::kMaxRank);
  Shape s = x.shape();
  s.insert(a, 1);
  return reshape(x, s);
}

// x: [A..., 1, B...] -> [A..., B...]. As torch.squeeze(x, dim), an axis whose size is not 1 is left
// alone (the result then has x's shape).
Tensor squeeze(const Tensor& x, int axis) {
  detail::check_defined("squeeze", x);
  const int a = normalize_axis("squeeze", axis, x.dim(), x.shape());
  Shape s = x.shape();
  if (s[a] == 1) s.erase(a);
  return reshape(x, s);
}

// ---- permute / transpose ---------------------------------------------------------------------------
// x: [d_0, ..., d_{r-1}] -> [d_axes[0], ..., d_axes[r-1]] (a copy). out[i_0, ..., i_{r-1}] =
// x[j] with j[axes[k]] = i_k.
Tensor permute(const Tensor& x, const std::vector<int>& axes) {
  detail::check_defined("permute", x);
  const Shape& xs = x.shape();
  const int rank = xs.size();
  check(static_cast<int>(axes.size()) == rank, "permute: {} axes given for a tensor of shape {}", axes.size(), xs);
  std::vector<int> perm(rank), inverse(rank, -1);
  for (int i = 0; i < rank; ++i) {
    perm[i] = normalize_axis("permute", axes[i], rank, xs);
    check(inverse[perm[i]] < 0, "permute: axis {} appears twice in the permutation (tensor of shape {})", axes[i], xs);
    inverse[perm[i]] = i;
  }
  // Walk the output in row-major order; along output axis i the input moves by its stride of axis perm[i].
  // (Rather than xt::noalias(dst) = xt::transpose(xt::adapt(x)), whose stepper took 1.0-2.2x the time of this
  // loop on [256, 1024] float32 (bench/xtensor_vs_loops, 2026-12-02); this loop moves elements of any dtype.)
  const detail::Strides x_strides = contiguous_strides(xs);
  detail::Strides read{};
  Shape out_shape;
  for (int i = 0; i < rank; ++i) {
    out_shape.push_back(xs[perm[i]]);
    read[i] = x_strides[perm[i]];
  }
  Tensor out = empty(out_shape, x.dtype());
  detail::visit_element_size(x.dtype(), [&]<class U>() {
    const U* px = static_cast<const U*>(x.data_ptr());
    U* po = static_cast<U*>(out.data_ptr());
    detail::for_each_broadcast<1>(out_shape, {read},
                                  [&](int64_t o, const std::array<int64_t, 1>& at) { po[o] = px[at[0]]; });
  });
  if (should_record({&x}))
    record(out, "permute", {x}, [inverse](BackwardContext& c) {
      // grad: out_shape -> x's shape through the inverse permutation
      c.add_grad(0, permute(c.grad_output(), inverse));
    });
  return out;
}

Tensor transpose(const Tensor& x, int axis0, int axis1) {
  detail::check_defined("transpose", x);
  const int a = normalize_axis("transpose", axis0, x.dim(), x.shape());
  const int b = normalize_axis("transpose", axis1, x.dim(), x.shape());
  std::vector<int> axes(x.dim());
  for (int i = 0; i < x.dim(); ++i) axes[i] = i;
  std::swap(axes[a], axes[b]);
  return permute(x, axes);
}

// ---- narrow / slice --------------------------------------------------------------------------------
// x: [A..., n, B...] -> [A..., length, B...], elements [start, start + length) along axis (a copy).
// A negative start counts from the end, as in torch.narrow.
Tensor narrow(const Tensor& x, int axis, int64_t start, int64_t length) {
  detail::check_defined("narrow", x);
  const int a = normalize_axis("narrow", axis, x.dim(), x.shape());
  const int64_t n = x.shape()[a];
  check(start >= -n && start <= n, "narrow: start {} is out of range for axis {} of a tensor of shape {}", start, axis,
        x.shape());
  const int64_t s = start < 0 ? start + n : start;
  check(length >= 0, "narrow: length must be non-negative, got {} (tensor of shape {})", length, x.shape());
  check(s + length <= n, "narrow: start {} + length {} exceeds the size {} of axis {} (tensor of shape {})", start,
        length, n, axis, x.shape());
  Tensor out = copy_narrow(x, a, s, length);
  if (should_record({&x}))
    record(out, "narrow", {x}, [a, s](BackwardContext& c) {
      // the slice's gradient goes into rows [s, s + length) of x's gradient; the engine adds it in place
      c.add_grad_narrow(0, a, s, c.grad_output());
    });
  return out;
}

// Composite: narrow when step == 1, otherwise index_select with positions start, start + step, ...
// start/end are clamped like Python slice bounds: negative ones count from the end, then both are
// clipped to [0, n]; an empty range gives a size-0 axis.
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end, int64_t step) {
  detail::check_defined("slice", x);
  const int a = normalize_axis("slice", axis, x.dim(), x.shape());
  check(step > 0, "slice: step must be positive, got {} (tensor of shape {})", step, x.shape());
  const int64_t n = x.shape()[a];
  const auto clamp_bound = [n](int64_t i) {
    if (i < 0) i += n;
    return i < 0 ? int64_t{0} : i > n ? n : i;
  };
  const int64_t lo = clamp_bound(start), hi = clamp_bound(end);
  if (hi <= lo) return narrow(x, a, lo, 0);
  if (step == 1) return narrow(x, a, lo, hi - lo);
  const int64_t count = (hi - lo + step - 1) / step;
  return index_select(x, a, arange(lo, lo + count * step, step));
}

// ---- concat / stack --------------------------------------------------------------------------------
// xs[i]: [A..., n_i, B...] (equal outside axis) -> [A..., sum n_i, B...], in the tensors' common dtype.
Tensor concat(const std::vector<Tensor>& xs, int axis) {
  check(!xs.empty(), "concat: expects a non-empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i) check(xs[i].defined(), "concat: tensor {} is undefined", i);
  const Shape& first = xs[0].shape();
  check(first.size() > 0, "concat: cannot concatenate rank-0 tensors (tensor 0 has shape {}); use stack", first);
  const int a = normalize_axis("concat", axis, first.size(), first);
  Shape out_shape = first;
  out_shape[a] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    bool same = s.size() == first.size();
    for (int d = 0; same && d < s.size(); ++d) same = d == a || s[d] == first[d];
    check(same, "concat: tensors 0 and {} differ outside axis {}: {} vs {}", i, axis, first, s);
    out_shape[a] += s[a];
  }
  // the common dtype of all the tensors, as torch.cat: result_type over every one of them
  const DType dt = detail::result_type(xs);
  Tensor out = empty(out_shape, dt);
  const AxisView v = around(out_shape, a);
  const int64_t size = element_size(dt);
  auto* po = static_cast<char*>(out.data_ptr());
  // each outer block of the output is the tensors' blocks one after another, copied with memcpy: xt::concatenate
  // of 2 x [32, 256] along axis 1 took 60-110x as long (bench/xtensor_vs_loops, 2026-12-02)
  std::vector<int64_t> offsets(xs.size());  // start of tensor i along the axis
  int64_t at = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    offsets[i] = at;
    const Tensor part = detail::cast(xs[i], dt);
    const int64_t run = xs[i].shape()[a] * v.inner * size;  // bytes per outer block
    const auto* px = static_cast<const char*>(part.data_ptr());
    if (run > 0)
      for (int64_t o = 0; o < v.outer; ++o)
        std::memcpy(po + (o * v.size + at) * v.inner * size, px + o * run, static_cast<size_t>(run));
    at += xs[i].shape()[a];
  }
  if (should_record(xs))
    record(out, "concat", xs, [a, offsets](BackwardContext& c) {
      // grad: [A..., sum n_i, B...] -> the slice [offset_i, offset_i + n_i) for input i
      const Tensor& g = c.grad_output();
      for (size_t i = 0; i < offsets.size(); ++i)
        if (c.needs_grad(static_cast<int>(i)))
          c.add_grad(static_cast<int>(i), copy_narrow(g, a, offsets[i], c.input(i).shape[a]));
    });
  return out;
}

// xs[i]: S (all equal) -> [S[:axis]..., len(xs), S[axis:]...]; axis in [-(rank+1), rank].
Tensor stack(const std::vector<Tensor>& xs, int axis) {
  check(!xs.empty(), "stack: expects a non-empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i) check(xs[i].defined(), "stack: tensor {} is undefined", i);
  for (size_t i = 1; i < xs.size(); ++i)
    check(xs[i].shape() == xs[0].shape(), "stack: tensors 0 and {} have different shapes: {} vs {}", i, xs[0].shape(),
          xs[i].shape());
  const int a = normalize_axis("stack", axis, xs[0].dim() + 1, xs[0].shape());
  std::vector<Tensor> parts;
  parts.reserve(xs.size());
  for (const Tensor& x : xs) parts.push_back(unsqueeze(x, a));
  return concat(parts, a);
}

// ---- split / chunk / unbind ------------------------------------------------------------------------
// Pieces of split_size along axis; the last is smaller when split_size does not divide the size.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int axis) {
  detail::check_defined("split", x);
  const int a = normalize_axis("split", axis, x.dim(), x.shape());
  check(split_size > 0, "split: split_size must be positive, got {} (tensor of shape {})", split_size, x.shape());
  const int64_t n = x.shape()[a];
  std::vector<Tensor> out;
  if (n == 0) out.push_back(narrow(x, a, 0, 0));  // as torch: one empty piece
  for (int64_t start = 0; start < n; start += split_size)
    out.push_back(narrow(x, a, start, std::min(split_size, n - start)));
  return out;
}

// Pieces of the given sizes along axis; they must add up to the axis size.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis) {
  detail::check_defined("split", x);
  const int a = normalize_axis("split", axis, x.dim(), x.shape());
  int64_t total = 0;
  for (int64_t s : sizes) {
    check(s >= 0, "split: negative size {} in sizes (tensor of shape {})", s, x.shape());
    total += s;
  }
  check(total == x.shape()[a], "split: sizes add up to {} but axis {} of a tensor of shape {} has size {}", total, axis,
        x.shape(), x.shape()[a]);
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, a, start, s));
    start += s;
  }
  return out;
}

// torch.chunk: pieces of ceil(n / chunks) along axis, so there may be fewer than `chunks` pieces
// (e.g. n = 5, chunks = 4 gives sizes 2, 2, 1). A size-0 axis gives `chunks` empty pieces.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int axis) {
  detail::check_defined("chunk", x);
  const int a = normalize_axis("chunk", axis, x.dim(), x.shape());
  check(chunks > 0, "chunk: chunks must be positive, got {} (tensor of shape {})", chunks, x.shape());
  const int64_t n = x.shape()[a];
  if (n == 0) return split(x, std::vector<int64_t>(chunks, 0), a);
  return split(x, (n + chunks - 1) / chunks, a);
}

// x: [A..., n, B...] -> n tensors [A..., B...].
std::vector<Tensor> unbind(const Tensor& x, int axis) {
  detail::check_defined("unbind", x);
  const int a = normalize_axis("unbind", axis, x.dim(), x.shape());
  std::vector<Tensor> out;
  out.reserve(x.shape()[a]);
  for (int64_t i = 0; i < x.shape()[a]; ++i) out.push_back(squeeze(narrow(x, a, i, 1), a));
  return out;
}

// ---- flip ------------------------------------------------------------------------------------------
// x: [A..., n, B...] -> same shape, out[..., i, ...] = x[..., n - 1 - i, ...] (a copy).
Tensor flip(const Tensor& x, int axis) {
  detail::check_defined("flip", x);
  const int a = normalize_axis("flip", axis, x.dim(), x.shape());
  // moves bytes: inner runs of `inner` elements of `size` bytes
  const auto flip_into = [](const Tensor& src, Tensor& dst, const AxisView& v) {
    const int64_t run = v.inner * src.element_size();
    const auto* s = static_cast<const char*>(src.data_ptr());
    auto* d = static_cast<char*>(dst.data_ptr());
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.size; ++i)
        std::memcpy(d + (o * v.size + i) * run, s + (o * v.size + (v.size - 1 - i)) * run, static_cast<size_t>(run));
  };
  Tensor out = empty(x.shape(), x.dtype());
  const AxisView v = around(x.shape(), a);
  flip_into(x, out, v);
  if (should_record({&x}))
    record(out, "flip", {x}, [v, flip_into](BackwardContext& c) {
      // flipping is its own inverse (and its own adjoint)
      Tensor g = empty(c.grad_output().shape(), c.grad_output().dtype());
      flip_into(c.grad_output(), g, v);
      c.add_grad(0, g);
    });
  return out;
}

// ---- expand ----------------------------------------------------------------------------------------
// x: S -> `shape` by NumPy broadcasting (S right-aligned; each dim of S equals the target's or is 1).
// A -1 in `shape` keeps x's size at that position, as in torch.expand. Unlike torch, this is a copy.
Tensor expand(const Tensor& x, const Shape& shape) {
  detail::check_defined("expand", x);
  const Shape& xs = x.shape();
  check(xs.size() <= shape.size(), "expand: cannot expand a tensor of shape {} to fewer dimensions {}", xs, shape);
  Shape target = shape;
  const int lead = shape.size() - xs.size();
  for (int i = 0; i < shape.size(); ++i) {
    const int j = i - lead;  // matching axis of x, if any
    if (target[i] == -1) {
      check(j >= 0, "expand: -1 is not allowed for the new leading dimension {} of shape {} (tensor of shape {})", i,
            shape, xs);
      target[i] = xs[j];
    }
    check(target[i] >= 0, "expand: invalid dimension {} in shape {} (tensor of shape {})", shape[i], shape, xs);
    check(j < 0 || xs[j] == target[i] || xs[j] == 1,
          "expand: the size {} of axis {} of a tensor of shape {} must match the size {} at axis {} of the target {} "
          "(or be 1)",
          xs[std::max(j, 0)], j, xs, target[i], i, shape);  // (arguments are evaluated even when j < 0)
  }
  Tensor out = empty(target, x.dtype());
  detail::visit_element_size(x.dtype(), [&]<class U>() {
    const U* px = static_cast<const U*>(x.data_ptr());
    U* po = static_cast<U*>(out.data_ptr());
    detail::for_each_broadcast<1>(target, {detail::broadcast_strides(xs, target)},
                                  [&](int64_t o, const std::array<int64_t, 1>& at) { po[o] = px[at[0]]; });
  });
  if (should_record({&x}))
    record(out, "expand", {x}, [](BackwardContext& c) {
      // grad: target -> S, summing over the broadcast axes
      c.add_grad(0, detail::unbroadcast(c.grad_output(), c.input(0).shape));
    });
  return out;
}

// ---- repeat / pad (composites) ----------------------------------------------------------------------
// x: [d_0, ..., d_{r-1}] viewed as [1, ..., 1, d_0, ..., d_{r-1}] with repeats.size() axes -> [repeats[i] *
// size_i]. Each repeated axis is one index_select of the positions 0..n-1 taken repeats[i] times, so the
// rank never grows (an interleaving reshape would need twice the rank) and the gradient of every copy adds
// up in index_select's backward.
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  detail::check_defined("repeat", x);
  const int rank = static_cast<int>(repeats.size());
  check(rank >= x.dim(),
        "repeat: {} repeats given for a tensor of shape {}; the number of repeats can not be smaller than the "
        "number of dimensions",
        repeats.size(), x.shape());
  check(rank <= Shape::kMaxRank, "repeat: {} repeats exceed the maximum rank {} (tensor of shape {})", rank,
        Shape::kMaxRank, x.shape());
  for (int64_t r : repeats)
    check(r >= 0, "repeat: repeats must be non-negative, got {} (tensor of shape {})", r, x.shape());
  Shape padded;
  for (int i = 0; i < rank - x.dim(); ++i) padded.push_back(1);
  for (int64_t d : x.shape()) padded.push_back(d);
  Tensor out = reshape(x, padded);
  for (int i = 0; i < rank; ++i) {
    if (repeats[i] == 1) continue;
    const int64_t n = padded[i];
    check(n == 0 || repeats[i] <= kMaxTensorBytes / n, "repeat: repeats {} of axis {} of size {} is too large", repeats[i],
          i, n);
    Tensor positions = empty({n * repeats[i]}, kInt64);
    int64_t* p = positions.data<int64_t>();
    for (int64_t k = 0; k < n * repeats[i]; ++k) p[k] = k % n;
    out = index_select(out, i, positions);
  }
  return out;
}

// pads = {before, after} for the last axis, then the one before it, ... Negative amounts cut elements off
// (narrow); positive ones add blocks of `value` (concat). The gradient flows through both.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, Scalar value) {
  detail::check_defined("pad", x);
  check(pads.size() % 2 == 0, "pad: the padding length {} must be even (tensor of shape {})", pads.size(), x.shape());
  check(static_cast<int>(pads.size() / 2) <= x.dim(),
        "pad: {} pads cover more axes than the {} of a tensor of shape {}", pads.size(), x.dim(), x.shape());
  // The padded size first, refused when over empty()'s limit before any block of it is allocated (a block
  // of exactly the limit would be accepted and then fail in the allocator).
  int64_t bytes = element_size(x.dtype());
  for (int axis = 0; axis < x.dim(); ++axis) {
    const size_t j = static_cast<size_t>(x.dim() - 1 - axis);
    int64_t size = x.shape()[axis];
    if (2 * j < pads.size()) {
      const bool fits = !__builtin_add_overflow(size, pads[2 * j], &size) &&
                        !__builtin_add_overflow(size, pads[2 * j + 1], &size);
      check(fits, "pad: padding ({}, {}) of axis {} is too large (tensor of shape {})", pads[2 * j], pads[2 * j + 1],
            axis, x.shape());
    }
    if (size > 0) {
      check(bytes <= kMaxTensorBytes / size, "pad: padding axis {} to size {} makes a tensor of shape {} too large (over {} bytes)",
            axis, size, x.shape(), kMaxTensorBytes);
      bytes *= size;
    }
  }
  Tensor out = x;
  for (size_t j = 0; j < pads.size() / 2; ++j) {
    const int axis = x.dim() - 1 - static_cast<int>(j);
    const int64_t before = pads[2 * j], after = pads[2 * j + 1], n = out.shape()[axis];
    check(n + std::min<int64_t>(before, 0) + std::min<int64_t>(after, 0) >= 0,
          "pad: padding ({}, {}) of axis {} of size {} gives a negative size (tensor of shape {})", before, after, axis, n,
          x.shape());
    if (before < 0 || after < 0) {
      const int64_t start = before < 0 ? -before : 0;
      out = narrow(out, axis, start, n - start + std::min<int64_t>(after, 0));
    }
    std::vector<Tensor> parts;
    const auto block = [&](int64_t size) {
      Shape s = out.shape();
      s[axis] = size;
      return full(s, value, x.dtype());
    };
    if (before > 0) parts.push_back(block(before));
    parts.push_back(out);
    if (after > 0) parts.push_back(block(after));
    if (parts.size() > 1) out = concat(parts, axis);
  }
  return out.impl() == x.impl() ? clone(x) : out;  // a new tensor even when nothing changed, as PyTorch
}

}  // namespace unroll
