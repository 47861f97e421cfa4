// optim::clip_grad_norm / clip_grad_value: values by hand, the 1e-6 in the coefficient, inf norm, skipping.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "helpers.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;
using unroll_test::check_close;
using unroll_test::param;
using unroll_test::set_grad;

TEST_CASE("clip_grad_norm: scales all gradients by max_norm / (total + 1e-6) and returns the total") {
  Tensor a = param({0, 0}), b = param({0});
  set_grad(a, {3, 0});
  set_grad(b, {4});
  const double norm = optim::clip_grad_norm({a, b}, 1.0);
  CHECK(norm == doctest::Approx(5.0));
  const double coef = 1.0 / (5.0 + 1e-6);
  check_close(a.grad(), {3 * coef, 0}, 1e-7);
  check_close(b.grad(), {4 * coef}, 1e-7);
}

TEST_CASE("clip_grad_norm: below the limit nothing changes") {
  Tensor a = param({0, 0});
  set_grad(a, {0.3, -0.4});
  CHECK(optim::clip_grad_norm({a}, 0.5 + 2e-6) == doctest::Approx(0.5));
  check_close(a.grad(), {0.3, -0.4}, 1e-7);
  // exactly at the limit the coefficient is max_norm / (norm + 1e-6) < 1: PyTorch scales slightly
  CHECK(optim::clip_grad_norm({a}, 0.5) == doctest::Approx(0.5));
  check_close(a.grad(), {0.3 * 0.5 / (0.5 + 1e-6), -0.4 * 0.5 / (0.5 + 1e-6)}, 1e-7);
}

TEST_CASE("clip_grad_norm: 1-norm, 3-norm and the infinity norm") {
  Tensor a = param({0, 0, 0});
  set_grad(a, {1, -2, 3});
  CHECK(optim::clip_grad_norm({a}, 100, 1) == doctest::Approx(6));
  CHECK(optim::clip_grad_norm({a}, 100, 3) == doctest::Approx(std::cbrt(36.0)));
  CHECK(optim::clip_grad_norm({a}, 1.5, optim::kInfNorm) == doctest::Approx(3));
  check_close(a.grad(), {1 * 1.5 / (3 + 1e-6), -2 * 1.5 / (3 + 1e-6), 3 * 1.5 / (3 + 1e-6)}, 1e-7);
}

TEST_CASE("clip_grad_norm: parameters without gradients are ignored; none at all gives 0") {
  Tensor a = param({1}), b = param({2});
  CHECK(optim::clip_grad_norm({a, b}, 1.0) == 0);
  set_grad(b, {10});
  CHECK(optim::clip_grad_norm({a, b}, 1.0) == doctest::Approx(10));
  CHECK_FALSE(a.grad().defined());
  check_close(b.grad(), {10 / (10 + 1e-6)}, 1e-7);
}

TEST_CASE("clip_grad_norm: a non-finite norm is returned and spreads NaN, as in PyTorch") {
  Tensor a = param({0, 0});
  set_grad(a, {std::numeric_limits<real>::infinity(), 1});
  const double norm = optim::clip_grad_norm({a}, 1.0);
  CHECK(std::isinf(norm));
  CHECK(std::isnan(a.grad().to_vector()[0]));  // inf * 0
  set_grad(a, {std::numeric_limits<real>::quiet_NaN(), 1});
  CHECK(std::isnan(optim::clip_grad_norm({a}, 1.0, optim::kInfNorm)));
}

TEST_CASE("clip_grad_value: clamps every element into [-limit, limit]") {
  Tensor a = param({0, 0, 0, 0}), b = param({0});
  set_grad(a, {-3, -0.2, 0.4, 7});
  optim::clip_grad_value({a, b}, 0.5);
  check_close(a.grad(), {-0.5, -0.2, 0.4, 0.5}, 1e-7);
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("clip: argument errors") {
  Tensor a = param({0});
  set_grad(a, {1});
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm({a}, -1), doctest::Contains("clip_grad_norm: max_norm"), Error);
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm({a}, 1, 0), doctest::Contains("norm_type"), Error);
  CHECK_THROWS_WITH_AS(optim::clip_grad_value({a}, -1), doctest::Contains("clip_grad_value"), Error);
}
