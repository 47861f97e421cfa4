// Numerical stability at the edges of the float range: log_softmax / cross_entropy with logits of +-1e4,
// sigmoid and tanh at +-1e30 (forward and backward), BCE with large logits. Registered twice: float32
// (what users train in) and double (unroll_f64).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor leaf(std::initializer_list<real> values) { return unroll_test::values_leaf(values); }

bool all_finite(const Tensor& t) {
  for (real v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

constexpr real kInf = std::numeric_limits<real>::infinity();
}  // namespace

TEST_CASE("log_softmax and softmax with logits of +-1e4") {
  Tensor x = leaf({1e4, -1e4, 0});
  Tensor y = log_softmax(x, 0);
  const std::vector<real> v = y.to_vector();
  CHECK(v[0] == 0);
  CHECK(v[1] == real(-2e4));
  CHECK(v[2] == real(-1e4));
  Tensor p = softmax(x.detach(), 0);
  CHECK(p.to_vector() == std::vector<real>{1, 0, 0});
  // d/dx of y[1] = onehot(1) - softmax = [-1, 1, 0]
  y.backward(tensor({0, 1, 0}));
  CHECK(x.grad().to_vector() == std::vector<real>{-1, 1, 0});
}

TEST_CASE("log_softmax: a row of equal huge logits, and rows with -inf (masked) entries") {
  Tensor x = leaf({1e4, 1e4, -1e4, 1e4});
  Tensor y = log_softmax(x.reshape({2, 2}), 1);
  CHECK(y.to_vector()[0] == doctest::Approx(-std::log(2.0)).epsilon(1e-3));  // float: 1e4 + log 2 rounds
  CHECK(y.to_vector()[1] == doctest::Approx(-std::log(2.0)).epsilon(1e-3));
  CHECK(y.to_vector()[2] == real(-2e4));
  CHECK(y.to_vector()[3] == 0);
  sum(y).backward();
  CHECK(all_finite(x.grad()));

  Tensor m = leaf({0, -kInf, 3});
  Tensor ym = log_softmax(m, 0);
  CHECK(ym.to_vector()[1] == -kInf);
  CHECK(std::isfinite(ym.to_vector()[0]));
  ym.backward(tensor({1, 0, 1}));
  CHECK(all_finite(m.grad()));
  CHECK(m.grad().to_vector()[1] == 0);
}

TEST_CASE("cross_entropy with logits of +-1e4") {
  Tensor logits = leaf({1e4, -1e4, -1e4, 1e4, 0, 0});
  const Tensor targets = tensor({1, 1, 0});
  Tensor loss = cross_entropy(logits.reshape({3, 2}), targets, {.reduction = Reduction::None});
  const std::vector<real> l = loss.to_vector();
  CHECK(l[0] == real(2e4));  // all the mass on the wrong class
  CHECK(l[1] == 0);          // all on the right one
  CHECK(l[2] == doctest::Approx(std::log(2.0)));
  sum(loss).backward();
  // gradient: softmax - onehot
  const std::vector<real> g = logits.grad().to_vector();
  CHECK(g == std::vector<real>{1, -1, 0, 0, g[4], g[5]});
  CHECK(g[4] == doctest::Approx(-0.5));
  CHECK(g[5] == doctest::Approx(0.5));
  // the mean reduction too
  Tensor mean_loss = cross_entropy(logits.detach().reshape({3, 2}), targets);
  CHECK(mean_loss.item() == doctest::Approx((2e4 + std::log(2.0)) / 3));
}

TEST_CASE("sigmoid never gives NaN, even at +-1e30, forward and backward") {
  Tensor x = leaf({1e30, -1e30, 100, -100, 0, 3.4e38, -3.4e38, 1e-30});
  Tensor y = sigmoid(x);
  const std::vector<real> v = y.to_vector();
  CHECK(v[0] == 1);
  CHECK(v[1] == 0);
  CHECK(v[2] == doctest::Approx(1));
  CHECK((v[3] >= 0 && v[3] < 1e-30));  // exp(-100), or 0 in float where exp(100) overflows
  CHECK(v[4] == real(0.5));
  CHECK(v[5] == 1);
  CHECK(v[6] == 0);
  CHECK(v[7] == real(0.5));
  CHECK(all_finite(y));
  sum(y).backward();
  CHECK(all_finite(x.grad()));
  CHECK(x.grad().to_vector()[0] == 0);
  CHECK(x.grad().to_vector()[1] == 0);
  CHECK(x.grad().to_vector()[4] == real(0.25));
}

TEST_CASE("tanh never gives NaN, even at +-1e30, forward and backward") {
  Tensor x = leaf({1e30, -1e30, 100, -100, 20, -20, 0, 3.4e38, -3.4e38, 1e-30});
  Tensor y = tanh(x);
  const std::vector<real> v = y.to_vector();
  CHECK(v[0] == 1);
  CHECK(v[1] == -1);
  CHECK(v[2] == 1);
  CHECK(v[3] == -1);
  CHECK(v[4] == doctest::Approx(1));
  CHECK(v[5] == doctest::Approx(-1));
  CHECK(v[6] == 0);
  CHECK(v[7] == 1);
  CHECK(v[8] == -1);
  CHECK(v[9] == doctest::Approx(1e-30));
  CHECK(all_finite(y));
  sum(y).backward();
  CHECK(all_finite(x.grad()));
  CHECK(x.grad().to_vector()[0] == 0);
  CHECK(x.grad().to_vector()[1] == 0);
  CHECK(x.grad().to_vector()[6] == 1);
}

TEST_CASE("tanh and sigmoid over a long vector (the SIMD path) at the extremes") {
  std::vector<real> values;
  for (int i = 0; i < 64; ++i) values.push_back(static_cast<real>((i % 2 ? -1 : 1) * std::pow(10.0, i % 39)));
  Tensor x = tensor(values, {64});
  x.requires_grad_();
  Tensor y = tanh(x) + sigmoid(x);
  CHECK(all_finite(y));
  sum(y).backward();
  CHECK(all_finite(x.grad()));
}

TEST_CASE("binary_cross_entropy_with_logits at +-1e4 and +-1e30") {
  Tensor x = leaf({1e4, -1e4, 1e30, -1e30});
  const Tensor t = tensor({0, 1, 1, 0});
  Tensor loss = binary_cross_entropy_with_logits(x, t, Reduction::None);
  const std::vector<real> l = loss.to_vector();
  CHECK(l[0] == real(1e4));
  CHECK(l[1] == real(1e4));
  CHECK(l[2] == 0);
  CHECK(l[3] == 0);
  sum(loss).backward();
  CHECK(all_finite(x.grad()));
}
