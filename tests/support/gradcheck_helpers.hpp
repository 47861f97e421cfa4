// Helpers shared by the tests: leaves with reproducible values, and a doctest check around gradcheck.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <unroll/unroll.hpp>
#include <vector>

namespace unroll_test {

// A 1-D leaf that requires grad, holding exactly these values.
inline unroll::Tensor values_leaf(std::initializer_list<unroll::real> values) {
  unroll::Tensor t = unroll::tensor(values);
  t.requires_grad_();
  return t;
}

// 0, 1, ..., numel - 1 in the given shape (int64).
inline unroll::Tensor iota(const unroll::Shape& shape) { return unroll::reshape(unroll::arange(shape.numel()), shape); }

// A leaf with distinct, non-round values (no ties for max, no kinks at round numbers) that requires grad;
// float64 by default, the dtype gradcheck takes.
inline unroll::Tensor distinct_leaf(const unroll::Shape& shape, unroll::DType dtype = unroll::kFloat64) {
  std::vector<double> values(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5 + 0.37 * double(i) - 0.05 * double(i) * double(i);
  unroll::Tensor t = unroll::tensor(values, shape, dtype);
  t.requires_grad_();
  return t;
}

// CHECK that autograd's Jacobian of fn matches finite differences; on failure shows gradcheck's message.
inline void expect_gradcheck(const std::function<unroll::Tensor(const std::vector<unroll::Tensor>&)>& fn,
                             const std::vector<unroll::Tensor>& inputs) {
  const unroll::GradcheckResult r = unroll::gradcheck(fn, inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace unroll_test
