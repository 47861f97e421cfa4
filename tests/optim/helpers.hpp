// tests/optim/helpers.hpp: small helpers shared by the optimizer tests.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "unroll/unroll.hpp"

namespace unroll_test {

// A leaf parameter (requires grad) holding `values` (1-D).
inline unroll::Tensor param(const std::vector<unroll::real>& values) {
  unroll::Tensor p = unroll::tensor(values, unroll::Shape{static_cast<int64_t>(values.size())});
  p.requires_grad_();
  return p;
}

// Deposits gradient `g` into p.grad() with a real backward pass (d/dp sum(p * g) = g), replacing any
// previous gradient.
inline void set_grad(unroll::Tensor& p, const std::vector<unroll::real>& g) {
  p.zero_grad();
  unroll::sum(unroll::mul(p, unroll::tensor(g, p.shape()))).backward();
}

// Element-wise |a - b| <= tol * max(1, |b|), for a float32 or float64 tensor.
inline void check_close(const unroll::Tensor& t, const std::vector<double>& want, double tol = 1e-6) {
  const std::vector<double> got = t.to(unroll::kFloat64).to_vector<double>();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    CHECK_MESSAGE(std::abs(got[i] - want[i]) <= tol * std::max(1.0, std::abs(want[i])),
                  "element " << i << ": got " << got[i] << ", want " << want[i]);
}

}  // namespace unroll_test
