// Internal: broadcasting and elementwise loops shared by the ops (not installed).
#pragma once

#include <array>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/tensor.hpp"

namespace unroll::detail {

using Strides = std::array<int64_t, Shape::kMaxRank>;

// A contiguous tensor seen as [outer, size, inner] around one axis: element (o, i, k) sits at
// (o * size + i) * inner + k. Every op that works "along an axis" loops this way.
struct AxisView {
  int64_t outer = 1, size = 1, inner = 1;
};

inline AxisView around(const Shape& s, int axis) {
  AxisView v;
  for (int i = 0; i < s.size(); ++i) (i < axis ? v.outer : i == axis ? v.size : v.inner) *= s[i];
  return v;
}

// NumPy broadcasting of two shapes; throws naming `op` when they are incompatible.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Element strides of a contiguous tensor of shape `s`, read as if broadcast to `out` (right-aligned,
// stride 0 along axes where s has size 1 or is missing).
Strides broadcast_strides(const Shape& s, const Shape& out);

// Sums `grad` (of a broadcast result's shape) down to `shape`: the adjoint of broadcasting. Every binary
// op's backward undoes broadcasting with this one helper; sum() over axes uses it too.
Tensor unbroadcast(const Tensor& grad, const Shape& shape);

// Calls f(out_offset, {offset in operand 0, offset in operand 1, ...}) for every element of `out` in
// row-major order, with each operand read through its broadcast strides.
template <size_t K, class F>
void for_each_broadcast(const Shape& out, const std::array<Strides, K>& strides, F&& f) {
  const int rank = out.size();
  if (out.numel() == 0) return;
  std::array<int64_t, K> offsets{};
  if (rank == 0) {
    f(int64_t{0}, offsets);
    return;
  }
  std::array<int64_t, Shape::kMaxRank> index{};
  const int64_t inner = out[rank - 1];
  int64_t out_offset = 0;
  for (;;) {
    std::array<int64_t, K> at = offsets;
    for (int64_t i = 0; i < inner; ++i) {
      f(out_offset + i, at);
      for (size_t k = 0; k < K; ++k) at[k] += strides[k][rank - 1];
    }
    out_offset += inner;
    int axis = rank - 2;
    for (; axis >= 0; --axis) {
      for (size_t k = 0; k < K; ++k) offsets[k] += strides[k][axis];
      if (++index[axis] < out[axis]) break;
      for (size_t k = 0; k < K; ++k) offsets[k] -= strides[k][axis] * out[axis];
      index[axis] = 0;
    }
    if (axis < 0) return;
  }
}

// out = f(a, b) elementwise with broadcasting; fast paths for equal shapes and a one-element operand.
template <class F>
Tensor broadcast_map(const char* op, const Tensor& a, const Tensor& b, F f) {
  check_defined(op, a, b);
  const real* pa = a.data();
  const real* pb = b.data();
  if (a.shape() == b.shape()) {
    Tensor out = empty(a.shape());
    real* po = out.data();
    for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(pa[i], pb[i]);
    return out;
  }
  const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor out = empty(shape);
  real* po = out.data();
  if (b.numel() == 1 && shape == a.shape()) {
    const real vb = pb[0];
    for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(pa[i], vb);
  } else if (a.numel() == 1 && shape == b.shape()) {
    const real va = pa[0];
    for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(va, pb[i]);
  } else {
    for_each_broadcast<2>(shape, {broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape)},
                          [&](int64_t o, const std::array<int64_t, 2>& in) { po[o] = f(pa[in[0]], pb[in[1]]); });
  }
  return out;
}

// out = f(x) elementwise.
template <class F>
Tensor map(const Tensor& x, F f) {
  Tensor out = empty(x.shape());
  const real* px = x.data();
  real* po = out.data();
  for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(px[i]);
  return out;
}

// out = f(a, b) elementwise for two tensors of the same shape (backward formulas).
template <class F>
Tensor map(const Tensor& a, const TensorImpl& b, F f) {
  Tensor out = empty(a.shape());
  const real* pa = a.data();
  const real* pb = b.data();
  real* po = out.data();
  for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(pa[i], pb[i]);
  return out;
}

// A non-owning Tensor-like view of a node's saved value, for reuse in ops during backward.
inline Tensor as_tensor(const TensorImpl& impl) {
  auto copy = std::make_shared<TensorImpl>();
  copy->shape = impl.shape;
  copy->storage = impl.storage;
  return Tensor(std::move(copy));
}

}  // namespace unroll::detail
