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

// A leaf that requires grad, with values U[lo, hi) drawn from Generator(seed).
inline unroll::Tensor random_leaf(const unroll::Shape& shape, uint64_t seed, unroll::real lo = -1, unroll::real hi = 1) {
  unroll::Generator gen(seed);
  unroll::Tensor t = unroll::uniform(shape, lo, hi, gen);
  t.requires_grad_();
  return t;
}

// 0, 1, ..., numel - 1 in the given shape.
inline unroll::Tensor iota(const unroll::Shape& shape) { return unroll::reshape(unroll::arange(shape.numel()), shape); }

// A leaf with distinct, non-round values (no ties for max, no kinks at round numbers) that requires grad.
inline unroll::Tensor distinct_leaf(const unroll::Shape& shape) {
  unroll::Tensor t = unroll::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<unroll::real>(0.5 + 0.37 * i - 0.05 * i * i);
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
