// Numerical stability at the edges of the floating range: log_softmax / cross_entropy with logits of +-1e4,
// sigmoid and tanh at +-1e30 (forward and backward), BCE with large logits. Every test runs in float32
// (what users train in) and in float64 (T is the element type).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <unroll/unroll.hpp>
#include <vector>

using namespace unroll;

namespace {
// A leaf of dtype T (float or double) that requires grad, holding these values (rounded to T).
template <class T>
Tensor leaf(std::initializer_list<double> values) {
  Tensor t = tensor(values, dtype_of<T>());
  t.requires_grad_();
  return t;
}

template <class T>
Tensor values_of(std::initializer_list<double> values) {
  return tensor(values, dtype_of<T>());
}

template <class T>
bool all_finite(const Tensor& t) {
  for (T v : t.to_vector<T>())
    if (!std::isfinite(v)) return false;
  return true;
}

constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE_TEMPLATE("log_softmax and softmax with logits of +-1e4", T, float, double) {
  Tensor x = leaf<T>({1e4, -1e4, 0});
  Tensor y = log_softmax(x, 0);
  REQUIRE(y.dtype() == dtype_of<T>());
  const std::vector<T> v = y.to_vector<T>();
  CHECK(v[0] == 0);
  CHECK(v[1] == T(-2e4));
  CHECK(v[2] == T(-1e4));
  Tensor p = softmax(x.detach(), 0);
  CHECK(p.to_vector<T>() == std::vector<T>{1, 0, 0});
  // d/dx of y[1] = onehot(1) - softmax = [-1, 1, 0]
  y.backward(values_of<T>({0, 1, 0}));
  CHECK(x.grad().to_vector<T>() == std::vector<T>{-1, 1, 0});
}

TEST_CASE_TEMPLATE("log_softmax: a row of equal huge logits, and rows with -inf (masked) entries", T, float, double) {
  Tensor x = leaf<T>({1e4, 1e4, -1e4, 1e4});
  Tensor y = log_softmax(x.reshape({2, 2}), 1);
  const std::vector<T> v = y.to_vector<T>();
  CHECK(v[0] == doctest::Approx(-std::log(2.0)).epsilon(1e-3));  // float: 1e4 + log 2 rounds
  CHECK(v[1] == doctest::Approx(-std::log(2.0)).epsilon(1e-3));
  CHECK(v[2] == T(-2e4));
  CHECK(v[3] == 0);
  sum(y).backward();
  CHECK(all_finite<T>(x.grad()));

  Tensor m = leaf<T>({0, -kInf, 3});
  Tensor ym = log_softmax(m, 0);
  CHECK(ym.to_vector<T>()[1] == -std::numeric_limits<T>::infinity());
  CHECK(std::isfinite(ym.to_vector<T>()[0]));
  ym.backward(values_of<T>({1, 0, 1}));
  CHECK(all_finite<T>(m.grad()));
  CHECK(m.grad().to_vector<T>()[1] == 0);
}

TEST_CASE_TEMPLATE("cross_entropy with logits of +-1e4", T, float, double) {
  Tensor logits = leaf<T>({1e4, -1e4, -1e4, 1e4, 0, 0});
  const Tensor targets = tensor({1, 1, 0});  // int64 class ids
  Tensor loss = cross_entropy(logits.reshape({3, 2}), targets, {.reduction = Reduction::None});
  const std::vector<T> l = loss.to_vector<T>();
  CHECK(l[0] == T(2e4));  // all the mass on the wrong class
  CHECK(l[1] == 0);       // all on the right one
  CHECK(l[2] == doctest::Approx(std::log(2.0)));
  sum(loss).backward();
  // gradient: softmax - onehot
  const std::vector<T> g = logits.grad().to_vector<T>();
  CHECK(g == std::vector<T>{1, -1, 0, 0, g[4], g[5]});
  CHECK(g[4] == doctest::Approx(-0.5));
  CHECK(g[5] == doctest::Approx(0.5));
  // the mean reduction too
  Tensor mean_loss = cross_entropy(logits.detach().reshape({3, 2}), targets);
  CHECK(mean_loss.item<T>() == doctest::Approx((2e4 + std::log(2.0)) / 3));
}

TEST_CASE_TEMPLATE("sigmoid never gives NaN, even at +-1e30, forward and backward", T, float, double) {
  Tensor x = leaf<T>({1e30, -1e30, 100, -100, 0, 3.4e38, -3.4e38, 1e-30});
  Tensor y = sigmoid(x);
  const std::vector<T> v = y.to_vector<T>();
  CHECK(v[0] == 1);
  CHECK(v[1] == 0);
  CHECK(v[2] == doctest::Approx(1));
  CHECK((v[3] >= 0 && v[3] < 1e-30));  // exp(-100), or 0 in float where exp(100) overflows
  CHECK(v[4] == T(0.5));
  CHECK(v[5] == 1);
  CHECK(v[6] == 0);
  CHECK(v[7] == T(0.5));
  CHECK(all_finite<T>(y));
  sum(y).backward();
  CHECK(all_finite<T>(x.grad()));
  CHECK(x.grad().to_vector<T>()[0] == 0);
  CHECK(x.grad().to_vector<T>()[1] == 0);
  CHECK(x.grad().to_vector<T>()[4] == T(0.25));
}

TEST_CASE_TEMPLATE("tanh never gives NaN, even at +-1e30, forward and backward", T, float, double) {
  Tensor x = leaf<T>({1e30, -1e30, 100, -100, 20, -20, 0, 3.4e38, -3.4e38, 1e-30});
  Tensor y = tanh(x);
  const std::vector<T> v = y.to_vector<T>();
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
  CHECK(all_finite<T>(y));
  sum(y).backward();
  CHECK(all_finite<T>(x.grad()));
  CHECK(x.grad().to_vector<T>()[0] == 0);
  CHECK(x.grad().to_vector<T>()[1] == 0);
  CHECK(x.grad().to_vector<T>()[6] == 1);
}

TEST_CASE_TEMPLATE("tanh and sigmoid over a long vector (the SIMD path) at the extremes", T, float, double) {
  std::vector<T> values;
  for (int i = 0; i < 64; ++i) values.push_back(static_cast<T>((i % 2 ? -1 : 1) * std::pow(10.0, i % 39)));
  Tensor x = tensor(values, {64}, dtype_of<T>());
  REQUIRE(x.dtype() == dtype_of<T>());
  x.requires_grad_();
  Tensor y = tanh(x) + sigmoid(x);
  CHECK(all_finite<T>(y));
  sum(y).backward();
  CHECK(all_finite<T>(x.grad()));
}

TEST_CASE_TEMPLATE("binary_cross_entropy_with_logits at +-1e4 and +-1e30", T, float, double) {
  Tensor x = leaf<T>({1e4, -1e4, 1e30, -1e30});
  const Tensor t = values_of<T>({0, 1, 1, 0});
  Tensor loss = binary_cross_entropy_with_logits(x, t, Reduction::None);
  const std::vector<T> l = loss.to_vector<T>();
  CHECK(l[0] == T(1e4));
  CHECK(l[1] == T(1e4));
  CHECK(l[2] == 0);
  CHECK(l[3] == 0);
  sum(loss).backward();
  CHECK(all_finite<T>(x.grad()));
}
