// Tests for framework/ops/normalization.cpp: layer_norm, a fused primitive, checked against the plain
// composition of ops it replaces (values and gradients), gradchecked, and its error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor sample(const Shape& s, uint64_t seed, double scale = 1) {
  Generator gen(seed);
  Tensor t = normal(s, 0.5, scale, kFloat64, gen);
  t.requires_grad_();
  return t;
}
// layer_norm written with ops, over the last `nd` axes.
Tensor layer_norm_composite(const Tensor& x, int nd, const Tensor& w, const Tensor& b, double eps) {
  std::vector<int> axes;
  for (int i = x.dim() - nd; i < x.dim(); ++i) axes.push_back(i);
  const Tensor centered = x - mean(x, axes, true);
  const Tensor y = centered / sqrt(mean(centered * centered, axes, true) + eps);
  return (w.defined() ? y * w : y) + (b.defined() ? b : scalar(0.0, x.dtype()));
}
double distance(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item<double>(); }
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
}  // namespace

TEST_CASE("layer_norm normalizes the last axes: mean 0, variance 1, then weight and bias") {
  const Tensor x = tensor({{1.0, 2.0, 3.0, 4.0}, {-1.0, -1.0, 5.0, 5.0}});
  const Tensor y = layer_norm(x, {4});
  CHECK(y.dtype() == kFloat32);
  const std::vector<double> m = mean(y.to(kFloat64), {1}).to_vector<double>();
  const std::vector<double> v = var(y.to(kFloat64), {1}, false).to_vector<double>();
  for (int r = 0; r < 2; ++r) {
    CHECK(m[r] == doctest::Approx(0).epsilon(1e-6));
    CHECK(v[r] == doctest::Approx(1).epsilon(1e-4));  // 1 - eps / var
  }
  CHECK(y.at({1, 0}) == doctest::Approx(-1 / std::sqrt(1 + 1e-5 / 9)));
  const Tensor affine = layer_norm(x, {4}, tensor({1.0, 2.0, 1.0, 1.0}), tensor({0.0, 0.0, 0.0, 10.0}));
  CHECK(affine.at({0, 1}) == doctest::Approx(2 * y.at({0, 1})));
  CHECK(affine.at({0, 3}) == doctest::Approx(10 + y.at({0, 3})));
  CHECK(layer_norm(zeros({2, 0}), {0}).shape() == Shape{2, 0});
}

TEST_CASE("layer_norm equals the composite of ops, values and gradients, in float64") {
  for (int nd : {1, 2}) {
    CAPTURE(nd);
    const Tensor x = sample({3, 4, 5}, 1, 3);
    const Shape ns = nd == 1 ? Shape{5} : Shape{4, 5};
    const Tensor w = sample(ns, 2), b = sample(ns, 3);
    const Tensor fused = layer_norm(x, ns, w, b, 1e-3);
    const Tensor plain = layer_norm_composite(x, nd, w, b, 1e-3);
    CHECK(distance(fused, plain) < 1e-12);
    const Tensor seed = sample(x.shape(), 4).detach();
    backward({fused}, {seed});
    const Tensor gx = x.grad(), gw = w.grad(), gb = b.grad();
    for (Tensor t : {x, w, b}) t.zero_grad();
    backward({plain}, {seed});
    CHECK(distance(gx, x.grad()) < 1e-10);
    CHECK(distance(gw, w.grad()) < 1e-10);
    CHECK(distance(gb, b.grad()) < 1e-10);
  }
}

TEST_CASE("layer_norm gradcheck, with and without weight and bias") {
  const Tensor x = sample({2, 3, 4}, 5), w = sample({4}, 6), b = sample({4}, 7), w2 = sample({3, 4}, 8);
  expect_gradcheck([](const V& v) { return layer_norm(v[0], {4}, v[1], v[2]); }, {x, w, b});
  expect_gradcheck([](const V& v) { return layer_norm(v[0], {3, 4}, v[1]); }, {x, w2});
  expect_gradcheck([](const V& v) { return layer_norm(v[0], {4}, Tensor(), v[1]); }, {x, b});
  expect_gradcheck([](const V& v) { return layer_norm(v[0], {4}); }, {x});
}

TEST_CASE("layer_norm errors name the op and the shapes") {
  const Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(layer_norm(x, {2}), "layer_norm: normalized_shape [2] must be the last dims of the input, got shape [2, 3]",
                       Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {}), doctest::Contains("layer_norm: normalized_shape []"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {3}, zeros({2})),
                       "layer_norm: weight must have shape [3] (normalized_shape), got [2] (input [2, 3])", Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {3}, Tensor(), zeros({3}, kFloat64)),
                       "layer_norm: bias has dtype float64 but the input has float32 (input shape [2, 3])", Error);
  CHECK_THROWS_WITH_AS(layer_norm(zeros({2, 3}, kInt64), {3}),
                       "layer_norm: expected a floating tensor (float32, float64), got int64 of shape [2, 3]", Error);
}
