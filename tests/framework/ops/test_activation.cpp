// Tests for framework/ops/activation.cpp: softplus, gelu, elu, leaky_relu, silu. Values against closed forms,
// the floating-only rule, gradients (float64 gradchecks), and no NaN gradients at extreme inputs (why
// softplus, gelu and elu are primitives).
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor sample(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  Tensor t = uniform(s, -4, 4, kFloat64, gen);
  t.requires_grad_();
  return t;
}
std::vector<double> values(const Tensor& t) { return t.to(kFloat64).to_vector<double>(); }
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
}  // namespace

TEST_CASE("activations: values in float32 and float64") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const Tensor x = tensor({-2.0, -0.5, 0.0, 1.5, 30.0}, dt);
    const std::vector<double> sp = values(softplus(x));
    CHECK(softplus(x).dtype() == dt);
    CHECK(sp[0] == doctest::Approx(std::log1p(std::exp(-2.0))));
    CHECK(sp[4] == 30);  // beta x > threshold: x itself
    CHECK(values(softplus(x, 2, 1))[3] == 1.5);
    CHECK(values(softplus(x, 2, 5))[1] == doctest::Approx(std::log1p(std::exp(-1.0)) / 2));
    CHECK(values(gelu(x))[3] == doctest::Approx(1.5 * 0.5 * (1 + std::erf(1.5 / std::sqrt(2.0)))));
    CHECK(values(gelu(x, "tanh"))[0] ==
          doctest::Approx(-1.0 * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (-2 + 0.044715 * -8)))));
    CHECK(values(elu(x))[1] == doctest::Approx(std::expm1(-0.5)));
    CHECK(values(elu(x, 0.5))[0] == doctest::Approx(0.5 * std::expm1(-2.0)));
    CHECK(values(elu(x))[3] == 1.5);
    CHECK(values(leaky_relu(x))[0] == doctest::Approx(-0.02));
    CHECK(values(leaky_relu(x, 0.2))[1] == doctest::Approx(-0.1));
    CHECK(values(silu(x))[3] == doctest::Approx(1.5 / (1 + std::exp(-1.5))));
  }
}

TEST_CASE("activations take floating tensors only, and gelu's approximate is \"none\" or \"tanh\"") {
  const Tensor i = tensor({1, -2});
  CHECK_THROWS_WITH_AS(softplus(i), "softplus: expected a floating tensor (float32, float64), got int64", Error);
  CHECK_THROWS_WITH_AS(gelu(i), "gelu: expected a floating tensor (float32, float64), got int64", Error);
  CHECK_THROWS_WITH_AS(elu(tensor({true})), "elu: expected a floating tensor (float32, float64), got bool", Error);
  CHECK_THROWS_WITH_AS(leaky_relu(i), "leaky_relu: expected a floating tensor (float32, float64), got int64", Error);
  CHECK_THROWS_WITH_AS(silu(i), "silu: expected a floating tensor (float32, float64), got int64", Error);
  CHECK_THROWS_WITH_AS(gelu(zeros({2}), "erf"), "gelu: approximate must be \"none\" or \"tanh\", got \"erf\" (shape [2])",
                       Error);
  CHECK_THROWS_WITH_AS(softplus(zeros({2}), 0), "softplus: beta must be nonzero (tensor of shape [2])", Error);
}

TEST_CASE("activations: gradients") {
  const Tensor x = sample({3, 4}, 31);
  expect_gradcheck([](const V& v) { return softplus(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return softplus(v[0], 2, 3); }, {x});  // both branches
  expect_gradcheck([](const V& v) { return gelu(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return gelu(v[0], "tanh"); }, {x});
  expect_gradcheck([](const V& v) { return elu(v[0], 0.7); }, {x});
  expect_gradcheck([](const V& v) { return leaky_relu(v[0], 0.1); }, {x});
  expect_gradcheck([](const V& v) { return silu(v[0]); }, {x});
}

TEST_CASE("softplus, gelu and elu give finite gradients at extreme inputs (where a where-composite gives NaN)") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    Tensor x = tensor({-1000.0, -50.0, 50.0, 1000.0}, dt);
    x.requires_grad_();
    sum(softplus(x) + gelu(x) + elu(x) + gelu(x, "tanh")).backward();
    for (double g : values(x.grad())) CHECK(std::isfinite(g));
    const std::vector<double> g = values(x.grad());
    CHECK(g[3] == doctest::Approx(4));  // each is the identity far right
    CHECK(g[0] == doctest::Approx(0));
  }
}
