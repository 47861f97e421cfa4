// Indexing ops: pick entries of x at integer positions held in an index tensor. Each op: check
// arguments, compute the value, then record its backward right below.
//
//   primitives: index_select, gather, scatter, scatter_add, index_add
//   composites: embedding (index_select on rows + reshape)
//   not differentiable: one_hot (int64 result)
//
// Index tensors are int64 (a float tensor of ids is refused, naming the op: no silent cast); their values
// are read once into positions (validated: in range), and the backward closures keep those positions,
// never the index tensor. x may have any dtype; only floating x carries a gradient.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;
using detail::normalize_axis;

namespace {

constexpr int kRows = -1000;  // read_positions' axis for embedding: messages speak of vocabulary rows

// The values of `index` as positions in [0, limit), where limit is the size of `axis` (as the caller
// wrote it) of the indexed tensor. Messages name the op, the bad value and both shapes.
std::vector<int64_t> read_positions(const char* op, const Tensor& index, int64_t limit, const char* x_name,
                                    const Shape& x_shape, int axis) {
  check(index.dtype() == kInt64,
        "{}: indices must be an int64 tensor, got {} (index shape {}, {} shape {}); convert "
        "with .to(kInt64)",
        op, name(index.dtype()), index.shape(), x_name, x_shape);
  const int64_t* p = index.impl()->data<int64_t>();
  const int64_t n = index.numel();
  std::vector<int64_t> pos(n);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t v = p[k];
    if (!(v >= 0 && v < limit)) [[unlikely]] {
      const std::string where = axis == kRows ? fmt::format("a vocabulary of {} rows", limit)
                                              : fmt::format("axis {} of size {}", axis, limit);
      throw Error(fmt::format("{}: index {} is out of range for {} (index shape {}, {} shape {})", op, v, where,
                              index.shape(), x_name, x_shape));
    }
    pos[k] = v;
  }
  return pos;
}

// x: [A..., n, B...], positions: k values in [0, n) -> [A..., k, B...]. Already validated; `index` is
// only recorded as an input (it never receives a gradient).
Tensor select_positions(const Tensor& x, int axis, const Tensor& index, std::vector<int64_t> pos) {
  const Shape& xs = x.shape();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= xs[i];
  for (int i = axis + 1; i < xs.size(); ++i) inner *= xs[i];
  const int64_t n = xs[axis], k = static_cast<int64_t>(pos.size());
  Shape out_shape = xs;
  out_shape[axis] = k;
  Tensor out = empty(out_shape, x.dtype());
  detail::visit_element_size(x.dtype(), [&]<class U>() {
    const U* px = static_cast<const U*>(x.data_ptr());
    U* po = static_cast<U*>(out.data_ptr());
    if (inner == 1) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < k; ++j) po[o * k + j] = px[o * n + pos[j]];
    } else if (inner > 0) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < k; ++j)
          std::memcpy(po + (o * k + j) * inner, px + (o * n + pos[j]) * inner, inner * sizeof(U));
    }
  });
  if (should_record({&x}))
    record(out, "index_select", {x, index}, [outer, inner, n, pos = std::move(pos)](BackwardContext& c) {
      // grad: [A..., k, B...] -> zeros [A..., n, B...] with row j added at position pos[j] (repeated
      // positions accumulate)
      const int64_t k = static_cast<int64_t>(pos.size());
      const Tensor& go = c.grad_output();
      Tensor g = zeros(c.input(0).shape, go.dtype());
      detail::visit_floating("index_select backward", go.dtype(), [&]<class T>() {
        const T* pg = go.impl()->data<T>();
        T* pd = g.impl()->data<T>();
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t j = 0; j < k; ++j) {
            T* dst = pd + (o * n + pos[j]) * inner;
            const T* src = pg + (o * k + j) * inner;
            for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
          }
      });
      c.add_grad(0, g);
    });
  return out;
}

}  // namespace

// x: [A..., n, B...], index: [k] with values in [0, n) -> [A..., k, B...].
Tensor index_select(const Tensor& x, int axis, const Tensor& index) {
  detail::check_defined("index_select", x, index);
  const int a = normalize_axis("index_select", axis, x.dim(), x.shape());
  check(index.dim() == 1, "index_select: index must be 1-D, got shape {} (x shape {})", index.shape(), x.shape());
  std::vector<int64_t> pos = read_positions("index_select", index, x.shape()[a], "x", x.shape(), axis);
  return select_positions(x, a, index, std::move(pos));
}

// weight: [V, D], indices: I (any shape) with values in [0, V) -> [I..., D].
Tensor embedding(const Tensor& weight, const Tensor& indices) {
  detail::check_defined("embedding", weight, indices);
  check(weight.dim() == 2, "embedding: weight must be 2-D [V, D], got shape {} (indices shape {})", weight.shape(),
        indices.shape());
  std::vector<int64_t> pos = read_positions("embedding", indices, weight.shape()[0], "weight", weight.shape(), kRows);
  Shape out_shape = indices.shape();
  check(out_shape.size() < Shape::kMaxRank, "embedding: indices of shape {} have the maximum rank {} already",
        out_shape, Shape::kMaxRank);
  out_shape.push_back(weight.shape()[1]);
  // rows: [numel(I), D]
  const Tensor rows = select_positions(weight, 0, reshape(indices, {indices.numel()}), std::move(pos));
  return reshape(rows, out_shape);
}

// torch.gather: x: [d_0, ..., d_{r-1}], index: [e_0, ..., e_{r-1}] with e_d <= d_d for d != axis and
// values in [0, d_axis) -> index's shape. For axis 1: out[i][j][k] = x[i][index[i][j][k]][k].
Tensor gather(const Tensor& x, int axis, const Tensor& index) {
  detail::check_defined("gather", x, index);
  const Shape &xs = x.shape(), &is = index.shape();
  const int a = normalize_axis("gather", axis, x.dim(), xs);
  check(is.size() == xs.size(), "gather: index must have the rank of x, got index shape {} for x shape {}", is, xs);
  for (int d = 0; d < xs.size(); ++d)
    check(d == a || is[d] <= xs[d], "gather: index shape {} exceeds x shape {} at axis {} (only axis {} may be larger)",
          is, xs, d, axis);
  std::vector<int64_t> pos = read_positions("gather", index, xs[a], "x", xs, axis);
  // Walk index (= output) in row-major order; x's offset follows the index's position on every axis but
  // `axis`, where it comes from the index value.
  detail::Strides x_strides{};
  int64_t stride = 1;
  for (int d = xs.size() - 1; d >= 0; --d) {
    x_strides[d] = stride;
    stride *= xs[d];
  }
  const int64_t axis_stride = x_strides[a];
  detail::Strides walk = x_strides;
  walk[a] = 0;
  Tensor out = empty(is, x.dtype());
  detail::visit_element_size(x.dtype(), [&]<class U>() {
    const U* px = static_cast<const U*>(x.data_ptr());
    U* po = static_cast<U*>(out.data_ptr());
    detail::for_each_broadcast<1>(
        is, {walk}, [&](int64_t o, const std::array<int64_t, 1>& at) { po[o] = px[at[0] + pos[o] * axis_stride]; });
  });
  if (should_record({&x}))
    record(out, "gather", {x, index}, [walk, axis_stride, pos = std::move(pos)](BackwardContext& c) {
      // grad: index's shape -> zeros of x's shape, each element added back where it was read from
      // (positions read twice accumulate)
      const Tensor& go = c.grad_output();
      Tensor g = zeros(c.input(0).shape, go.dtype());
      detail::visit_floating("gather backward", go.dtype(), [&]<class T>() {
        const T* pg = go.impl()->data<T>();
        T* pd = g.impl()->data<T>();
        detail::for_each_broadcast<1>(go.shape(), {walk}, [&](int64_t o, const std::array<int64_t, 1>& at) {
          pd[at[0] + pos[o] * axis_stride] += pg[o];
        });
      });
      c.add_grad(0, g);
    });
  return out;
}

// ---- scatter / scatter_add -------------------------------------------------------------------------
namespace {

// Row-major element strides of a contiguous tensor of shape s.
detail::Strides strides_of(const Shape& s) {
  detail::Strides st{};
  int64_t stride = 1;
  for (int d = s.size() - 1; d >= 0; --d) {
    st[d] = stride;
    stride *= s[d];
  }
  return st;
}

// Where scatter writes: walking index (row-major), element o goes to x offset walk(o) + pos[o] * axis_stride
// and comes from src offset src_walk(o).
struct ScatterPlan {
  std::vector<int64_t> pos;
  detail::Strides walk{}, src_walk{};
  int64_t axis_stride = 0;
  Shape index_shape;
};

ScatterPlan plan_scatter(const char* op, const Tensor& x, int axis, const Tensor& index, const Tensor* src) {
  const Shape &xs = x.shape(), &is = index.shape();
  const int a = normalize_axis(op, axis, x.dim(), xs);
  check(is.size() == xs.size(), "{}: index must have the rank of x, got index shape {} for x shape {}", op, is, xs);
  if (src) {
    check(src->dim() == xs.size(), "{}: src must have the rank of x, got src shape {} for x shape {}", op,
          src->shape(), xs);
    check(src->dtype() == x.dtype(), "{}: src has dtype {} but x has {} (src shape {}, x shape {}); convert one with .to()",
          op, name(src->dtype()), name(x.dtype()), src->shape(), xs);
  }
  for (int d = 0; d < xs.size(); ++d) {
    check(d == a || is[d] <= xs[d], "{}: index shape {} exceeds x shape {} at axis {} (only axis {} may be larger)", op,
          is, xs, d, axis);
    if (src)
      check(is[d] <= src->shape()[d], "{}: index shape {} exceeds src shape {} at axis {}", op, is, src->shape(), d);
  }
  ScatterPlan p;
  p.pos = read_positions(op, index, xs[a], "x", xs, axis);
  p.walk = strides_of(xs);
  p.axis_stride = p.walk[a];
  p.walk[a] = 0;
  if (src) p.src_walk = strides_of(src->shape());
  p.index_shape = is;
  return p;
}

enum class Scatter { Set, Add };

// out = a copy of x with src's entries written (or added) at the planned positions. src undefined: `value`.
template <Scatter kMode>
Tensor scatter_into(const Tensor& x, const ScatterPlan& p, const Tensor& src, Scalar value) {
  Tensor out = clone(x.detach());
  visit_dtype(x.dtype(), [&]<class T>() {
    T* po = out.impl()->data<T>();
    const T* ps = src.defined() ? src.impl()->data<T>() : nullptr;
    const T v = detail::scalar_as<T>(value);
    detail::for_each_broadcast<2>(p.index_shape, {p.walk, p.src_walk}, [&](int64_t o, const std::array<int64_t, 2>& at) {
      T& dst = po[at[0] + p.pos[o] * p.axis_stride];
      const T from = ps ? ps[at[1]] : v;
      if constexpr (kMode == Scatter::Set)
        dst = from;
      else
        dst = detail::plus(dst, from);
    });
  });
  return out;
}

// dL/dsrc: the gradient at the positions scatter wrote, gathered back into src's shape (0 elsewhere).
Tensor gather_back(const Tensor& g, const ScatterPlan& p, const Shape& src_shape) {
  Tensor out = zeros(src_shape, g.dtype());
  detail::visit_floating("scatter backward", g.dtype(), [&]<class T>() {
    const T* pg = g.impl()->data<T>();
    T* po = out.impl()->data<T>();
    detail::for_each_broadcast<2>(p.index_shape, {p.walk, p.src_walk}, [&](int64_t o, const std::array<int64_t, 2>& at) {
      po[at[1]] = pg[at[0] + p.pos[o] * p.axis_stride];
    });
  });
  return out;
}

}  // namespace

// out = x with out[..., index[i, j, k], ...] = src[i, j, k] along axis (the position of index on every
// other axis). Gradient: x's gradient is g with the written positions zeroed; src's, g gathered back.
Tensor scatter(const Tensor& x, int axis, const Tensor& index, const Tensor& src) {
  detail::check_defined("scatter", x, index, src);
  auto plan = std::make_shared<const ScatterPlan>(plan_scatter("scatter", x, axis, index, &src));
  Tensor out = scatter_into<Scatter::Set>(x, *plan, src, 0);
  if (should_record({&x, &src}))
    record(out, "scatter", {x, index, src}, [plan](BackwardContext& c) {
      const Tensor& g = c.grad_output();
      if (c.needs_grad(0)) {
        Tensor gx = clone(g);
        detail::visit_floating("scatter backward", g.dtype(), [&]<class T>() {
          T* pg = gx.impl()->data<T>();
          detail::for_each_broadcast<1>(plan->index_shape, {plan->walk}, [&](int64_t o, const std::array<int64_t, 1>& at) {
            pg[at[0] + plan->pos[o] * plan->axis_stride] = 0;
          });
        });
        c.add_grad(0, gx);
      }
      if (c.needs_grad(2)) c.add_grad(2, gather_back(g, *plan, c.input(2).shape));
    });
  return out;
}

Tensor scatter(const Tensor& x, int axis, const Tensor& index, Scalar value) {
  detail::check_defined("scatter", x, index);
  auto plan = std::make_shared<const ScatterPlan>(plan_scatter("scatter", x, axis, index, nullptr));
  Tensor out = scatter_into<Scatter::Set>(x, *plan, Tensor(), value);
  if (should_record({&x}))
    record(out, "scatter", {x, index}, [plan](BackwardContext& c) {
      Tensor gx = clone(c.grad_output());
      detail::visit_floating("scatter backward", gx.dtype(), [&]<class T>() {
        T* pg = gx.impl()->data<T>();
        detail::for_each_broadcast<1>(plan->index_shape, {plan->walk}, [&](int64_t o, const std::array<int64_t, 1>& at) {
          pg[at[0] + plan->pos[o] * plan->axis_stride] = 0;
        });
      });
      c.add_grad(0, gx);
    });
  return out;
}

// out = x with src added at the scattered positions. Gradient: g to x; g gathered back to src.
Tensor scatter_add(const Tensor& x, int axis, const Tensor& index, const Tensor& src) {
  detail::check_defined("scatter_add", x, index, src);
  auto plan = std::make_shared<const ScatterPlan>(plan_scatter("scatter_add", x, axis, index, &src));
  Tensor out = scatter_into<Scatter::Add>(x, *plan, src, 0);
  if (should_record({&x, &src}))
    record(out, "scatter_add", {x, index, src}, [plan](BackwardContext& c) {
      c.add_grad(0, c.grad_output());
      if (c.needs_grad(2)) c.add_grad(2, gather_back(c.grad_output(), *plan, c.input(2).shape));
    });
  return out;
}

// ---- index_add --------------------------------------------------------------------------------------
// x: [A..., n, B...], index: [k], source: [A..., k, B...] -> x with alpha * source[..., j, ...] added at
// x[..., index[j], ...]. Gradient: g to x; alpha * index_select(g, axis, index) to source.
Tensor index_add(const Tensor& x, int axis, const Tensor& index, const Tensor& source, Scalar alpha) {
  detail::check_defined("index_add", x, index, source);
  const Shape& xs = x.shape();
  const int a = normalize_axis("index_add", axis, x.dim(), xs);
  check(index.dim() == 1, "index_add: index must be 1-D, got shape {} (x shape {})", index.shape(), xs);
  Shape expected = xs;
  expected[a] = index.numel();
  check(source.shape() == expected, "index_add: source must have shape {} (x shape {}, index shape {}), got {}",
        expected, xs, index.shape(), source.shape());
  check(source.dtype() == x.dtype(),
        "index_add: source has dtype {} but x has {} (source shape {}, x shape {}); convert one with .to()",
        name(source.dtype()), name(x.dtype()), source.shape(), xs);
  check(x.is_floating_point() || !alpha.is_floating_point(),
        "index_add: for integral tensors, alpha must not be a floating point number (got {}, x shape {})",
        alpha.to_double(), xs);
  const std::vector<int64_t> pos = read_positions("index_add", index, xs[a], "x", xs, axis);
  const detail::AxisView v = detail::around(xs, a);
  const int64_t k = index.numel();
  Tensor out = clone(x.detach());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T scale = detail::scalar_as<T>(alpha);
    const T* ps = source.impl()->data<T>();
    T* po = out.impl()->data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t j = 0; j < k; ++j) {
        T* dst = po + (o * v.size + pos[j]) * v.inner;
        const T* src = ps + (o * k + j) * v.inner;
        for (int64_t i = 0; i < v.inner; ++i) dst[i] = detail::plus(dst[i], detail::times(scale, src[i]));
      }
  });
  if (should_record({&x, &source}))
    record(out, "index_add", {x, index, source}, [a, alpha](BackwardContext& c) {
      c.add_grad(0, c.grad_output());
      if (c.needs_grad(2))
        c.add_grad(2, mul(index_select(c.grad_output(), a, detail::as_tensor(c.input(1))), detail::wrapped_scalar(alpha)));
    });
  return out;
}

// ---- one_hot ----------------------------------------------------------------------------------------
Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  detail::check_defined("one_hot", indices);
  check(indices.dtype() == kInt64, "one_hot: indices must be an int64 tensor, got {} (shape {})",
        name(indices.dtype()), indices.shape());
  const int64_t* p = indices.data<int64_t>();
  const int64_t n = indices.numel();
  if (num_classes == -1) {
    check(n > 0, "one_hot: cannot infer the number of classes from an empty tensor of shape {}; pass num_classes",
          indices.shape());
    num_classes = *std::max_element(p, p + n) + 1;
  }
  check(num_classes >= 0, "one_hot: num_classes must be -1 or non-negative, got {} (indices shape {})", num_classes,
        indices.shape());
  for (int64_t i = 0; i < n; ++i)
    if (!(p[i] >= 0 && p[i] < num_classes)) [[unlikely]]
      detail::fail("one_hot: class value {} at position {} is not in [0, {}) (indices shape {})", p[i], i, num_classes,
                   indices.shape());
  Shape out_shape = indices.shape();
  check(out_shape.size() < Shape::kMaxRank, "one_hot: indices of shape {} have the maximum rank {} already",
        out_shape, Shape::kMaxRank);
  out_shape.push_back(num_classes);
  Tensor out = zeros(out_shape, kInt64);
  int64_t* po = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) po[i * num_classes + p[i]] = 1;
  return out;
}

}  // namespace unroll
