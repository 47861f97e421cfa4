// Internal: broadcasting and elementwise loops shared by the ops (not installed).
#pragma once

#include <array>
#include <atomic>
#include <type_traits>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/dispatch.hpp"
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
// op's backward undoes broadcasting with this one helper; sum() over axes uses it too (int64 and floating
// dtypes; the result has grad's dtype).
Tensor unbroadcast(const Tensor& grad, const Shape& shape);

// A Tensor handle on impl's buffer, shape and dtype, without its history.
inline Tensor as_tensor_view(const TensorImpl& impl) {
  auto copy = std::make_shared<TensorImpl>();
  copy->shape = impl.shape;
  copy->dtype = impl.dtype;
  copy->storage = impl.storage;
  return Tensor(std::move(copy));
}

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

// ---- dtypes ---------------------------------------------------------------------------------------
// PyTorch's result_type: the dtype an op on these operands computes in. Operands fall in three
// categories: tensors with dimensions, rank-0 tensors, and wrapped C++ numbers (TensorImpl::wrapped_number;
// a floating one counts as the default dtype). Within a category the larger dtype wins (bool < int64 <
// float32 < float64); a lower category can only lift the kind (bool -> integer -> floating), never the
// width: float32 [N] + float64 rank-0 stays float32, int64 [N] + float64 rank-0 is float64, int64 [N] * 0.5
// is the default dtype.
DType result_type(std::initializer_list<const Tensor*> operands);
DType result_type(const std::vector<Tensor>& operands);
inline DType result_type(const Tensor& a, const Tensor& b) { return result_type({&a, &b}); }

// A rank-0 tensor holding a C++ number for an operator (x * 0.5): kBool, kInt64, or kFloat64 for floating
// numbers, marked wrapped_number so it promotes weakly.
Tensor wrapped_scalar(Scalar value);

// x's values as `dtype`, a new tensor (or x itself when it already has that dtype). Records nothing:
// the op to() is the differentiable spelling.
Tensor cast(const Tensor& x, DType dtype);

// A pointer to x's values as T: x's own buffer when x already holds T, else a converted copy kept alive in
// `holder`.
template <class T>
const T* values_as(const Tensor& x, Tensor& holder) {
  if (x.impl()->dtype == dtype_of<T>()) return x.impl()->data<T>();
  holder = cast(x, dtype_of<T>());
  return holder.impl()->data<T>();
}

// The one element of a one-element tensor, as T.
template <class T>
T value_as(const TensorImpl& x) {
  return visit_dtype(x.dtype, [&]<class V>() { return convert<T>(x.data<V>()[0]); });
}

// Arithmetic on int64 wraps around (as PyTorch does) instead of overflowing, which C++ leaves undefined;
// on bool, + is logical or and * logical and (the results of bool(x + y), bool(x * y)). Pass them to the
// loops below inside a lambda, not as a function pointer: a pointer is not inlined, and the call per
// element made add/mul 1.5x slower on small tensors (callgrind, rnn_bench lstm 1x64).
template <class T>
T plus(T x, T y) {
  if constexpr (std::is_same_v<T, int64_t>)
    return static_cast<int64_t>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y));
  else
    return static_cast<T>(x + y);
}
template <class T>
T minus(T x, T y) {
  if constexpr (std::is_same_v<T, int64_t>)
    return static_cast<int64_t>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y));
  else
    return static_cast<T>(x - y);
}
template <class T>
T times(T x, T y) {
  if constexpr (std::is_same_v<T, int64_t>)
    return static_cast<int64_t>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y));
  else
    return static_cast<T>(x * y);
}

// ---- typed elementwise loops: the operands are read as T (converted when their dtype differs), the
// result's dtype is what f returns. ----------------------------------------------------------------------

// out = f(a, b) elementwise with broadcasting; fast paths for equal shapes and a one-element operand.
// Loops rather than xtensor's broadcasting assignment (xt::noalias(out) = xt::adapt(a) + xt::adapt(b)): on
// equal shapes [32, 1024] float32 xtensor took 1.3-1.5x the time of this loop, and 0.8-1.5x (noise around
// parity) for [32, 256] + [256] with the run-time rank the library needs (bench/xtensor_vs_loops, 2026-12-02);
// and f is any function: int64 wrap-around (plus, minus, times), bool's or/and, comparisons, NaN rules.
template <class T, class F>
Tensor broadcast_map_as(const char* op, const Tensor& a, const Tensor& b, F f) {
  using R = std::invoke_result_t<F&, T, T>;
  check_defined(op, a, b);
  Tensor hold_a, hold_b;
  if (a.shape() == b.shape()) {
    Tensor out = empty(a.shape(), dtype_of<R>());
    const T* pa = values_as<T>(a, hold_a);
    const T* pb = values_as<T>(b, hold_b);
    R* po = out.impl()->data<R>();
    for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(pa[i], pb[i]);
    return out;
  }
  const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor out = empty(shape, dtype_of<R>());
  R* po = out.impl()->data<R>();
  if (b.numel() == 1 && shape == a.shape()) {
    const T* pa = values_as<T>(a, hold_a);
    const T vb = value_as<T>(*b.impl());
    for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(pa[i], vb);
  } else if (a.numel() == 1 && shape == b.shape()) {
    const T va = value_as<T>(*a.impl());
    const T* pb = values_as<T>(b, hold_b);
    for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(va, pb[i]);
  } else {
    const T* pa = values_as<T>(a, hold_a);
    const T* pb = values_as<T>(b, hold_b);
    for_each_broadcast<2>(shape, {broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape)},
                          [&](int64_t o, const std::array<int64_t, 2>& in) { po[o] = f(pa[in[0]], pb[in[1]]); });
  }
  return out;
}

// out = f(x) elementwise.
template <class T, class F>
Tensor map_as(const Tensor& x, F f) {
  using R = std::invoke_result_t<F&, T>;
  Tensor hold;
  const T* px = values_as<T>(x, hold);
  Tensor out = empty(x.shape(), dtype_of<R>());
  R* po = out.impl()->data<R>();
  for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(px[i]);
  return out;
}

// out = f(a, b) elementwise for two tensors of the same shape (backward formulas).
template <class T, class F>
Tensor map_as(const Tensor& a, const TensorImpl& b, F f) {
  using R = std::invoke_result_t<F&, T, T>;
  Tensor hold_a, hold_b;
  const T* pa = values_as<T>(a, hold_a);
  const T* pb = b.dtype == dtype_of<T>() ? b.data<T>() : values_as<T>(as_tensor_view(b), hold_b);
  Tensor out = empty(a.shape(), dtype_of<R>());
  R* po = out.impl()->data<R>();
  for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(pa[i], pb[i]);
  return out;
}

// ---- the same, dispatched on a floating dtype: backward formulas write generic lambdas
// ([](auto g, auto y) { return g * y; }) and run in the gradient's dtype. -----------------------------
template <class F>
Tensor map(const Tensor& x, F f) {
  return visit_floating("backward", x.impl()->dtype, [&]<class T>() { return map_as<T>(x, f); });
}
template <class F>
Tensor map(const Tensor& a, const TensorImpl& b, F f) {
  return visit_floating("backward", promote_types(a.impl()->dtype, b.dtype),
                        [&]<class T>() { return map_as<T>(a, b, f); });
}
template <class F>
Tensor broadcast_map(const char* op, const Tensor& a, const Tensor& b, F f) {
  return visit_floating(op, promote_types(a.impl()->dtype, b.impl()->dtype),
                        [&]<class T>() { return broadcast_map_as<T>(op, a, b, f); });
}

// A Tensor handle on a node's saved value (same buffer, no history), for reuse in ops during backward.
inline Tensor as_tensor(const TensorImpl& impl) { return as_tensor_view(impl); }

// ---- in-place modifications (framework/ops/inplace.cpp) ----------------------------------------------
// The process-wide in-place clock: every in-place op advances it and stamps the buffer it modified
// (Storage::modified_at); record() stamps each Node with its current value (Node::recorded_at), and the
// engine refuses to run a node whose inputs or output carry a later stamp. Recording only reads it.
extern std::atomic<uint64_t> inplace_clock;

}  // namespace unroll::detail
