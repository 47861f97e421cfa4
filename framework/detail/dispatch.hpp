// Internal: converting one value between the element types, and dispatching an op on a run-time dtype.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/dtype.hpp"

namespace unroll::detail {

// v as a T, as PyTorch's .to() converts: to bool, v != 0 (NaN is true); floating to int64 truncates toward
// zero. C++ leaves a float outside int64's range (and NaN) undefined; here those give INT64_MIN, the value
// x86's cvttsd2si (and so PyTorch on x86) produces, so no input value is undefined behaviour.
template <class T, class V>
constexpr T convert(V v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != V(0);
  } else if constexpr (std::is_same_v<T, int64_t> && std::is_floating_point_v<V>) {
    constexpr double limit = 9223372036854775808.0;  // 2^63
    const double d = static_cast<double>(v);
    return d > -limit && d < limit ? static_cast<int64_t>(d) : std::numeric_limits<int64_t>::min();
  } else {
    return static_cast<T>(v);
  }
}

// A Scalar's value as a T: integers exactly, floating numbers through convert.
template <class T>
T scalar_as(const Scalar& s) {
  return s.is_floating_point() ? convert<T>(s.to_double()) : convert<T>(s.to_int64());
}

// visit_dtype (dtype.hpp) restricted to the dtypes an op accepts: the others throw unroll::Error naming
// the op, e.g. "log_softmax: expected a floating tensor (float32, float64), got int64".
template <class F>
decltype(auto) visit_floating(const char* op, DType d, F&& f) {
  if (d == kFloat32) return f.template operator()<float>();
  check(d == kFloat64, "{}: expected a floating tensor (float32, float64), got {}", op, name(d));
  return f.template operator()<double>();
}

// int64, float32, float64: arithmetic that has no meaning on bool (neg, sub, abs, argmax ...).
template <class F>
decltype(auto) visit_numeric(const char* op, DType d, F&& f) {
  switch (d) {
    case kInt64:
      return f.template operator()<int64_t>();
    case kFloat32:
      return f.template operator()<float>();
    case kFloat64:
      break;
    case kBool:
      fail("{}: not supported for bool tensors", op);
  }
  return f.template operator()<double>();
}

// Copies between dtypes of the same element size: the unsigned integer type of that size. Ops that only move
// elements (permute, narrow, concat, gather ...) instantiate their loops once per size, not once per dtype.
template <class F>
decltype(auto) visit_element_size(DType d, F&& f) {
  switch (element_size(d)) {
    case 1:
      return f.template operator()<uint8_t>();
    case 4:
      return f.template operator()<uint32_t>();
    default:
      break;
  }
  return f.template operator()<uint64_t>();
}

}  // namespace unroll::detail
