// Comparisons and logical ops: bool results, never recorded (a bool tensor has no gradient).
//
//   Tensor mask = lt(positions, lengths);      // [T, N] bool
//   int64_t correct = sum(eq(argmax(logits, 1), targets)).item<int64_t>();
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

namespace {
// f(a, b) -> bool, after promoting both to their common dtype (eq(int64, float32) compares as float32).
template <class F>
Tensor compare(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::check_defined(op, a, b);
  return visit_dtype(detail::result_type(a, b), [&]<class T>() {
    return detail::broadcast_map_as<T>(op, a, b, [&f](T x, T y) -> bool { return f(x, y); });
  });
}

// f(a != 0, b != 0) -> bool for operands of any dtype.
template <class F>
Tensor logical(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::check_defined(op, a, b);
  return detail::broadcast_map_as<bool>(op, a, b, [&f](bool x, bool y) -> bool { return f(x, y); });
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) {
  return compare("eq", a, b, [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare("ne", a, b, [](auto x, auto y) { return x != y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare("lt", a, b, [](auto x, auto y) { return x < y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare("le", a, b, [](auto x, auto y) { return x <= y; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare("gt", a, b, [](auto x, auto y) { return x > y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare("ge", a, b, [](auto x, auto y) { return x >= y; });
}
Tensor eq(const Tensor& a, Scalar b) { return eq(a, detail::wrapped_scalar(b)); }
Tensor ne(const Tensor& a, Scalar b) { return ne(a, detail::wrapped_scalar(b)); }
Tensor lt(const Tensor& a, Scalar b) { return lt(a, detail::wrapped_scalar(b)); }
Tensor le(const Tensor& a, Scalar b) { return le(a, detail::wrapped_scalar(b)); }
Tensor gt(const Tensor& a, Scalar b) { return gt(a, detail::wrapped_scalar(b)); }
Tensor ge(const Tensor& a, Scalar b) { return ge(a, detail::wrapped_scalar(b)); }

Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, Scalar b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, Scalar b) { return ne(a, b); }
Tensor operator<(const Tensor& a, Scalar b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, Scalar b) { return le(a, b); }
Tensor operator>(const Tensor& a, Scalar b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, Scalar b) { return ge(a, b); }

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return logical("logical_and", a, b, [](bool x, bool y) { return x && y; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return logical("logical_or", a, b, [](bool x, bool y) { return x || y; });
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return logical("logical_xor", a, b, [](bool x, bool y) { return x != y; });
}
Tensor logical_not(const Tensor& x) {
  detail::check_defined("logical_not", x);
  return detail::map_as<bool>(x, [](bool v) { return !v; });
}

}  // namespace unroll
