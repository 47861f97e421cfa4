// Tests for framework/ops/elementwise.cpp. Gradchecks run on float64 leaves; value conventions are checked
// in float32 and float64.
#include <doctest/doctest.h>

#include <cmath>

#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
// A float64 leaf holding a copy of t's values.
Tensor leaf(const Tensor& t) {
  Tensor copy = clone(t.to(kFloat64));
  copy.requires_grad_();
  return copy;
}
// float64 values in [lo, hi) that keep away from kinks and singularities, as a leaf
Tensor sample(const Shape& s, double lo, double hi, uint64_t seed) {
  Generator gen(seed);
  return leaf(uniform(s, lo, hi, kFloat64, gen));
}
// Any floating tensor's values as doubles.
std::vector<double> values(const Tensor& t) { return t.to(kFloat64).to_vector<double>(); }
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
using D = std::vector<double>;
}  // namespace

TEST_CASE("binary ops broadcast by NumPy rules") {
  const Tensor a = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});  // [2, 3]
  const Tensor col = tensor({10.0, 20.0}).reshape({2, 1});      // [2, 1]
  CHECK((a + col).to_vector() == std::vector<float>{11, 12, 13, 24, 25, 26});
  CHECK((a - tensor({1, 1, 1})).to_vector() == std::vector<float>{0, 1, 2, 3, 4, 5});  // int64 promotes to float32
  CHECK((a * 2).to_vector() == std::vector<float>{2, 4, 6, 8, 10, 12});
  CHECK((12 / tensor({3, 4})).to_vector() == std::vector<float>{4, 3});  // true division of integers
  CHECK((col * tensor({1.0, 2.0})).shape() == Shape{2, 2});              // [2, 1] x [2] -> [2, 2]
  // the same broadcasting in int64, exact
  CHECK((tensor({{1, 2, 3}, {4, 5, 6}}) + tensor({10, 20}).reshape({2, 1})).to_vector<int64_t>() ==
        std::vector<int64_t>{11, 12, 13, 24, 25, 26});
  CHECK_THROWS_WITH_AS(a + tensor({1.0, 2.0}), "add: shapes [2, 3] and [2] cannot be broadcast together", Error);
  CHECK_THROWS_WITH_AS(a * ones({3, 3}), "mul: shapes [2, 3] and [3, 3] cannot be broadcast together", Error);
}

TEST_CASE("gradcheck: arithmetic with broadcasting") {
  const Tensor a = sample({2, 3, 4}, -1, 1, 1), b = sample({3, 1}, 0.5, 2, 2), s = sample({}, 0.5, 2, 3);
  expect_gradcheck([](const V& x) { return add(x[0], x[1]); }, {a, b});
  expect_gradcheck([](const V& x) { return sub(x[1], x[0]); }, {a, b});
  expect_gradcheck([](const V& x) { return mul(x[0], x[1]); }, {a, b});
  expect_gradcheck([](const V& x) { return div(x[0], x[1]); }, {a, b});
  expect_gradcheck([](const V& x) { return div(x[1], x[0] + 3); }, {a, b});
  expect_gradcheck([](const V& x) { return x[0] * x[1] - x[1] / x[0]; }, {b, s});
  expect_gradcheck([](const V& x) { return neg(x[0]); }, {a});
}

TEST_CASE("gradcheck: pointwise functions") {
  const Tensor x = sample({3, 4}, -2, 2, 4), pos = sample({3, 4}, 0.3, 3, 5);
  expect_gradcheck([](const V& v) { return exp(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return log(v[0]); }, {pos});
  expect_gradcheck([](const V& v) { return sqrt(v[0]); }, {pos});
  expect_gradcheck([](const V& v) { return pow(v[0], 3); }, {x});
  expect_gradcheck([](const V& v) { return pow(v[0], -1.5); }, {pos});
  expect_gradcheck([](const V& v) { return pow(v[0], v[1]); }, {pos, x});
  expect_gradcheck([](const V& v) { return tanh(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return sigmoid(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return clone(v[0]); }, {x});
  // kinks (0 for relu/abs, the bounds for clamp) are avoided: the sample keeps |x| >= 0.3 there
  const Tensor away = leaf(tensor({{-1.5, -0.3, 0.4, 2.0}, {0.7, -0.9, 1.1, -2.5}}, kFloat64));
  expect_gradcheck([](const V& v) { return relu(v[0]); }, {away});
  expect_gradcheck([](const V& v) { return abs(v[0]); }, {away});
  expect_gradcheck([](const V& v) { return clamp(v[0], -1, 1); }, {away});
}

TEST_CASE("pointwise values and conventions match PyTorch") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    CHECK(relu(tensor({-1.0, 0.0, 2.0}, dt)).dtype() == dt);
    CHECK(values(relu(tensor({-1.0, 0.0, 2.0}, dt))) == D{0, 0, 2});
    {  // PyTorch: relu(NaN) = NaN with gradient 1, relu(-0) = -0 with gradient 0
      Tensor special = tensor({std::nan(""), -0.0}, dt).requires_grad_();
      const D r = values(relu(special));
      CHECK(std::isnan(r[0]));
      CHECK((r[1] == 0 && std::signbit(r[1])));
      sum(relu(special)).backward();
      CHECK(values(special.grad()) == D{1, 0});
    }
    CHECK(values(clamp(tensor({-3.0, 0.5, 3.0}, dt), -1, 1)) == D{-1, 0.5, 1});
    CHECK(values(sigmoid(tensor({-1000.0, 0.0, 1000.0}, dt))) == D{0, 0.5, 1});  // no overflow
    CHECK(values(tanh(tensor({-1000.0, 1000.0}, dt))) == D{-1, 1});
    Tensor z = zeros({2}, dt);
    z.requires_grad_();
    sum(abs(z) + relu(z)).backward();  // PyTorch: d|x|/dx = 0 and drelu/dx = 0 at x = 0
    CHECK(z.grad().dtype() == dt);
    CHECK(values(z.grad()) == D{0, 0});
    Tensor c = tensor({-1.0, 1.0}, dt);
    c.requires_grad_();
    sum(clamp(c, -1, 1)).backward();  // the gradient passes at the bounds, as in PyTorch
    CHECK(values(c.grad()) == D{1, 1});
    CHECK_THROWS_WITH_AS(clamp(c, 1, 0), "clamp: min 1 is greater than max 0", Error);
  }
}

TEST_CASE("where and masked_fill route values and gradients") {
  const Tensor cond = tensor({{true, false, true}});  // [1, 3]
  const Tensor a = sample({2, 3}, -1, 1, 6), b = sample({3}, -1, 1, 7);
  const Tensor w = where(cond, a, b);
  CHECK(w.shape() == Shape{2, 3});
  CHECK(w.at<double>({1, 1}) == b.at<double>({1}));
  CHECK(w.at<double>({1, 2}) == a.at<double>({1, 2}));
  expect_gradcheck([cond](const V& v) { return where(cond, v[0], v[1]); }, {a, b});
  const Tensor filled = masked_fill(a, tensor({false, true, false}), -5);
  CHECK(filled.dtype() == kFloat64);
  CHECK(filled.at<double>({0, 1}) == -5);
  CHECK(filled.at<double>({0, 0}) == a.at<double>({0, 0}));
  expect_gradcheck([](const V& v) { return masked_fill(v[0], tensor({true, false, false}), 2); }, {a});
  CHECK_THROWS_WITH_AS(where(ones({4}, kBool), a, b), "where: shapes [4] and [2, 3] cannot be broadcast together",
                       Error);
  // conditions and masks are bool: a 0/1 tensor of another dtype is refused, not reinterpreted
  CHECK_THROWS_WITH_AS(where(tensor({{1, 0, 1}}), a, b),
                       "where: the condition must be a bool tensor, got int64 (shape [1, 3]); compare first, e.g. "
                       "ne(mask, 0)",
                       Error);
  CHECK(where(ne(tensor({{1, 0, 1}}), 0), a, b).to_vector<double>() == w.to_vector<double>());
  CHECK_THROWS_WITH_AS(masked_fill(a, tensor({0.0, 1.0, 0.0}), -5),
                       "masked_fill: the mask must be a bool tensor, got float32 (mask shape [3], x shape [2, 3])",
                       Error);
}

TEST_CASE("log1p, expm1, sin, cos: values, dtypes, gradients") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const Tensor x = tensor({1e-10, 0.5, -0.25}, dt);
    const D l = values(log1p(x)), e = values(expm1(x));
    CHECK(log1p(x).dtype() == dt);
    CHECK(l[0] == doctest::Approx(1e-10).epsilon(1e-6));  // accurate near 0, where log(1 + x) is not
    CHECK(l[1] == doctest::Approx(std::log1p(0.5)));
    CHECK(e[0] == doctest::Approx(1e-10).epsilon(1e-6));
    CHECK(e[2] == doctest::Approx(std::expm1(-0.25)));
    CHECK(values(sin(x))[1] == doctest::Approx(std::sin(0.5)));
    CHECK(values(cos(x))[2] == doctest::Approx(std::cos(-0.25)));
  }
  CHECK(sin(tensor({1, 2})).dtype() == kFloat32);  // int64 computes in the default dtype
  CHECK(log1p(tensor({true})).dtype() == kFloat32);
  const Tensor x = sample({3, 4}, -0.9, 3, 21);
  expect_gradcheck([](const V& v) { return log1p(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return expm1(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return sin(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return cos(v[0]); }, {x});
}

TEST_CASE("sign, floor, ceil, round: values and dtypes; a zero gradient, as PyTorch") {
  const Tensor x = tensor({-2.5, -0.5, 0.0, 0.5, 1.5, 2.5, 2.7, double(NAN)});
  CHECK(values(floor(x))[0] == -3);
  CHECK(values(ceil(x))[0] == -2);
  const D r = values(round(x));  // half to even
  CHECK(D(r.begin(), r.end() - 1) == D{-2, -0.0, 0, 0, 2, 2, 3});
  const D s = values(sign(x));
  CHECK(D(s.begin(), s.end() - 1) == D{-1, -1, 0, 1, 1, 1, 1});
  CHECK(s.back() == 0);  // sign(NaN) = 0 (PyTorch's CPU kernel)
  CHECK(std::isnan(values(floor(x)).back()));
  // integers: floor/ceil/round leave them as they are, sign computes; bool: sign is itself, the rest refuse
  const Tensor i = tensor({-3, 0, 2});
  CHECK(floor(i).dtype() == kInt64);
  CHECK(round(i).to_vector<int64_t>() == std::vector<int64_t>{-3, 0, 2});
  CHECK(sign(i).to_vector<int64_t>() == std::vector<int64_t>{-1, 0, 1});
  CHECK(sign(tensor({true, false})).to_vector<bool>() == std::vector<bool>{true, false});
  CHECK_THROWS_WITH_AS(floor(tensor({true})), "floor: not supported for bool tensors", Error);
  // the result requires grad and passes back zeros
  for (const auto& op : {&unroll::sign, &unroll::floor, &unroll::ceil, &unroll::round}) {
    Tensor leaf_x = tensor({1.2, -0.7}, kFloat64);
    leaf_x.requires_grad_();
    const Tensor y = op(leaf_x);
    CHECK(y.requires_grad());
    sum(y * leaf_x).backward();  // d/dx (f(x) x) = f(x) + 0
    CHECK(leaf_x.grad().to_vector<double>() == y.to_vector<double>());
  }
}

TEST_CASE("maximum and minimum: broadcasting, promotion, NaN wins, ties split the gradient") {
  const Tensor a = tensor({{1.0, 5.0}, {-2.0, 3.0}});
  const Tensor b = tensor({2.0, 3.0});
  CHECK(maximum(a, b).to_vector() == std::vector<float>{2, 5, 2, 3});
  CHECK(minimum(a, b).to_vector() == std::vector<float>{1, 3, -2, 3});
  CHECK(maximum(tensor({1, 5}), tensor({2.5, 1.0})).to_vector() == std::vector<float>{2.5, 5});  // promotes
  CHECK(maximum(tensor({1, 5}), tensor({2, 1})).dtype() == kInt64);
  CHECK(maximum(tensor({true, false}), tensor({false, false})).to_vector<bool>() == std::vector<bool>{true, false});
  const Tensor n = maximum(tensor({double(NAN), 1.0}), tensor({1.0, double(NAN)}));
  CHECK((std::isnan(n.to_vector()[0]) && std::isnan(n.to_vector()[1])));
  CHECK(std::isnan(minimum(tensor({double(NAN)}), tensor({1.0})).item()));
  CHECK_THROWS_WITH_AS(maximum(zeros({2}), zeros({3})), "maximum: shapes [2] and [3] cannot be broadcast together",
                       Error);
  // ties: each side gets half (PyTorch's formula)
  Tensor x = tensor({1.0, 2.0, 3.0}, kFloat64), y = tensor({1.0, 1.0, 4.0}, kFloat64);
  x.requires_grad_();
  y.requires_grad_();
  sum(maximum(x, y)).backward();
  CHECK(x.grad().to_vector<double>() == D{0.5, 1, 0});
  CHECK(y.grad().to_vector<double>() == D{0.5, 0, 1});
  const Tensor p = sample({3, 4}, -2, 2, 22), q = sample({4}, -2, 2, 23);
  expect_gradcheck([](const V& v) { return maximum(v[0], v[1]); }, {p, q});
  expect_gradcheck([](const V& v) { return minimum(v[0], v[1]); }, {p, q});
}
