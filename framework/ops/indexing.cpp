// Indexing ops: pick entries of x at integer positions held in an index tensor. Each op: check
// arguments, compute the value, then record its backward right below.
//
//   primitives: index_select, gather
//   composites: embedding (index_select on rows + reshape)
//
// Index tensors are int64 (a float tensor of ids is refused, naming the op: no silent cast); their values
// are read once into positions (validated: in range), and the backward closures keep those positions,
// never the index tensor. x may have any dtype; only floating x carries a gradient.
#include <cmath>
#include <cstring>
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

}  // namespace unroll
