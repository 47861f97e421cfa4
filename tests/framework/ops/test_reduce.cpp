// Tests for framework/ops/reduce.cpp. Gradchecks run on float64 leaves.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
// A float64 leaf with values U[-2, 2) drawn from Generator(seed).
Tensor sample(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  Tensor t = uniform(s, -2, 2, kFloat64, gen);
  t.requires_grad_();
  return t;
}
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
using I = std::vector<int64_t>;
}  // namespace

TEST_CASE("sum, mean and max over axes, with and without keepdim") {
  const Tensor x = tensor({{1.0, 5.0, 3.0}, {4.0, 2.0, 6.0}});  // [2, 3]
  CHECK(sum(x).item() == 21);
  CHECK(sum(x).dim() == 0);
  CHECK(sum(x).dtype() == kFloat32);
  CHECK(sum(x, {0}).to_vector() == std::vector<float>{5, 7, 9});
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
  CHECK(sum(x, {-1}).to_vector() == std::vector<float>{9, 12});
  CHECK(sum(x, {0, 1}).item() == 21);
  CHECK(mean(x, {1}).to_vector() == std::vector<float>{3, 4});
  CHECK(mean(x).item() == 3.5);
  CHECK(max(x).item() == 6);
  CHECK(max(x, 1).values.to_vector() == std::vector<float>{5, 6});
  CHECK(max(x, 0, true).values.shape() == Shape{1, 3});
  CHECK(argmax(x, 1).dtype() == kInt64);
  CHECK(argmax(x, 1).to_vector<int64_t>() == I{1, 2});
  CHECK_THROWS_WITH_AS(sum(x, {2}), "sum: axis 2 is out of range for a tensor of shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(sum(x, {1, -1}), "sum: axis -1 appears twice for shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(max(x, -3), "max: axis -3 is out of range for a tensor of shape [2, 3]", Error);
}

TEST_CASE("int64 and bool reductions: sums are int64 and exact, max keeps the dtype, mean refuses") {
  const Tensor i = tensor({{1, 5, 3}, {4, 2, 6}});  // int64 [2, 3]
  CHECK(sum(i).dtype() == kInt64);
  CHECK(sum(i).item<int64_t>() == 21);
  CHECK(sum(i, {0}).to_vector<int64_t>() == I{5, 7, 9});
  CHECK(max(i).item<int64_t>() == 6);
  CHECK(max(i, 1).values.to_vector<int64_t>() == I{5, 6});
  CHECK(argmax(i, 0).to_vector<int64_t>() == I{1, 0, 1});
  const int64_t big = int64_t{1} << 60;  // far beyond float's and double's exact integers
  CHECK(sum(tensor(std::vector<int64_t>{big, 1, 2}, {3})).item<int64_t>() == big + 3);
  const Tensor b = tensor({{true, false, true}, {true, true, true}});
  CHECK(sum(b).dtype() == kInt64);
  CHECK(sum(b).item<int64_t>() == 5);  // counts
  CHECK(sum(b, {1}).to_vector<int64_t>() == I{2, 3});
  CHECK(max(b, 0).values.dtype() == kBool);
  CHECK(max(b, 0).values.to_vector<bool>() == std::vector<bool>{true, true, true});
  // as PyTorch: the mean of an integer tensor is an error
  CHECK_THROWS_WITH_AS(mean(i),
                       "mean: could not infer the output dtype: expected a floating tensor, got int64 (shape [2, 3]); "
                       "convert first, e.g. x.to(kFloat32)",
                       Error);
  CHECK_THROWS_WITH_AS(mean(b, {0}), doctest::Contains("mean: could not infer the output dtype"), Error);
  CHECK(mean(i.to(kFloat64)).item<double>() == 3.5);
}

TEST_CASE("gradcheck: reductions") {
  const Tensor x = sample({2, 3, 4}, 1);
  expect_gradcheck([](const V& v) { return sum(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return sum(v[0], {0, 2}); }, {x});
  expect_gradcheck([](const V& v) { return sum(v[0], {1}, true); }, {x});
  expect_gradcheck([](const V& v) { return mean(v[0], {-1}); }, {x});
  expect_gradcheck([](const V& v) { return mean(v[0]); }, {x});
  expect_gradcheck([](const V& v) { return max(v[0], 1).values; }, {x});  // uniform samples: no ties
  expect_gradcheck([](const V& v) { return max(v[0], 2, true).values; }, {x});
  expect_gradcheck([](const V& v) { return max(v[0]); }, {x});
}

TEST_CASE("softmax family: values, stability, gradients") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const Tensor x = tensor({{1.0, 2.0, 3.0}, {1000.0, 1000.0, 1000.0}}, dt);
    const Tensor p = softmax(x, 1).to(kFloat64);
    CHECK(softmax(x, 1).dtype() == dt);
    CHECK(p.at<double>({0, 2}) == doctest::Approx(0.6652409558));
    CHECK(p.at<double>({1, 0}) == doctest::Approx(1.0 / 3));  // no overflow at large logits
    CHECK(sum(p, {1}).to_vector<double>()[0] == doctest::Approx(1));
    CHECK(log_softmax(x, 1).to(kFloat64).at<double>({0, 0}) == doctest::Approx(-2.4076059644));
  }
  const Tensor y = sample({3, 4, 2}, 2);
  expect_gradcheck([](const V& v) { return log_softmax(v[0], 1); }, {y});
  expect_gradcheck([](const V& v) { return log_softmax(v[0], -1); }, {y});
  expect_gradcheck([](const V& v) { return softmax(v[0], 0); }, {y});
}

TEST_CASE("max and min along an axis return values and int64 indices; argmin") {
  const Tensor x = tensor({{1.0, 5.0, -3.0}, {4.0, 4.0, 6.0}});  // [2, 3]
  const auto [values, indices] = max(x, 1);
  CHECK(values.to_vector() == std::vector<float>{5, 6});
  CHECK(indices.dtype() == kInt64);
  CHECK(indices.to_vector<int64_t>() == I{1, 2});
  const ValuesIndices lo = min(x, 0, true);
  CHECK(lo.values.shape() == Shape{1, 3});
  CHECK(lo.values.to_vector() == std::vector<float>{1, 4, -3});
  CHECK(lo.indices.shape() == Shape{1, 3});
  CHECK(lo.indices.to_vector<int64_t>() == I{0, 1, 0});  // a tie: the first position
  CHECK(min(x, 1).indices.to_vector<int64_t>() == I{2, 0});
  CHECK(argmin(x, 1).to_vector<int64_t>() == I{2, 0});
  CHECK(argmin(x, 0, true).shape() == Shape{1, 3});
  CHECK(min(x).item() == -3);
  // NaN counts as both the maximum and the minimum, as in PyTorch
  const Tensor n = tensor({1.0, double(NAN), 0.0});
  CHECK(min(n, 0).indices.item<int64_t>() == 1);
  CHECK(std::isnan(min(n).item()));
  CHECK(argmin(n, 0).item<int64_t>() == 1);
  // int64 and bool keep their dtype
  CHECK(min(tensor({{3, 1}, {2, 7}}), 1).values.to_vector<int64_t>() == I{1, 2});
  CHECK(min(tensor({true, false}), 0).values.dtype() == kBool);
  CHECK_THROWS_WITH_AS(argmin(tensor({true}), 0), "argmin: not supported for bool tensors", Error);
  CHECK_THROWS_WITH_AS(min(x, 2), "min: axis 2 is out of range for a tensor of shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(min(zeros({3, 0}), 1), "min: cannot reduce over an empty axis of shape [3, 0]", Error);
  CHECK_THROWS_WITH_AS(min(zeros({0})), "min: cannot reduce an empty tensor of shape [0]", Error);
  CHECK(min(zeros({0, 3}), 1).values.shape() == Shape{0});  // nothing to reduce: an empty result
}

TEST_CASE("max/min over all elements split the gradient between ties, as PyTorch; along an axis one wins") {
  Tensor x = tensor({1.0, 3.0, 3.0, 2.0}, kFloat64);
  x.requires_grad_();
  max(x).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0.5, 0.5, 0});
  x.zero_grad();
  max(x, 0).values.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 0, 0});
  Tensor y = tensor({-1.0, -1.0, -1.0, 0.0}, kFloat64);
  y.requires_grad_();
  (min(y) * 3.0).backward();
  CHECK(y.grad().to_vector<double>() == std::vector<double>{1, 1, 1, 0});
  const Tensor z = sample({2, 3, 4}, 5);
  expect_gradcheck([](const V& v) { return min(v[0], 1).values; }, {z});
  expect_gradcheck([](const V& v) { return min(v[0], -1, true).values; }, {z});
  expect_gradcheck([](const V& v) { return min(v[0]); }, {z});
}

TEST_CASE("logsumexp: stable for large and infinite values, empty sums are -inf") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const Tensor x = tensor({{1.0, 2.0, 3.0}, {1000.0, 1000.0, 1000.0}}, dt);
    const std::vector<double> v = logsumexp(x, {1}).to(kFloat64).to_vector<double>();
    CHECK(v[0] == doctest::Approx(3.4076059644));
    CHECK(v[1] == doctest::Approx(1000 + std::log(3.0)));  // no overflow
    CHECK(logsumexp(x, {0, 1}, true).shape() == Shape{1, 1});
    CHECK(logsumexp(x, {}).dim() == 0);
  }
  CHECK(logsumexp(tensor({double(INFINITY), 1.0}), {0}).item() == INFINITY);
  CHECK(logsumexp(tensor({double(-INFINITY), double(-INFINITY)}), {0}).item() == -INFINITY);
  CHECK(logsumexp(zeros({0, 3}), {0}).to_vector() == std::vector<float>(3, -INFINITY));
  CHECK(logsumexp(tensor({1, 2}), {0}).dtype() == kFloat32);  // int64 computes in the default dtype
  CHECK_THROWS_WITH_AS(logsumexp(zeros({2, 3}), {1, 1}), "logsumexp: axis 1 appears twice for shape [2, 3]", Error);
  const Tensor y = sample({3, 4, 2}, 6);
  expect_gradcheck([](const V& v) { return logsumexp(v[0], {1}); }, {y});
  expect_gradcheck([](const V& v) { return logsumexp(v[0], {0, 2}, true); }, {y});
}

TEST_CASE("cumsum: int64 for integer and bool input, gradients are reversed running sums") {
  // int64 running sums wrap around as PyTorch's (found by fuzz_ops under UBSan: overflow was undefined)
  const int64_t big = std::numeric_limits<int64_t>::max();
  CHECK(cumsum(tensor({big, int64_t{1}}), 0).to_vector<int64_t>() ==
        std::vector<int64_t>{big, std::numeric_limits<int64_t>::min()});
  CHECK(cumsum(tensor({1.0, 2.0, 3.0}), 0).to_vector() == std::vector<float>{1, 3, 6});
  const Tensor m = tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(cumsum(m, 1).to_vector<int64_t>() == I{1, 3, 6, 4, 9, 15});
  CHECK(cumsum(m, 0).to_vector<int64_t>() == I{1, 2, 3, 5, 7, 9});
  CHECK(cumsum(tensor({true, true, false}), 0).dtype() == kInt64);
  CHECK(cumsum(tensor({true, true, false}), 0).to_vector<int64_t>() == I{1, 2, 2});
  CHECK(cumsum(scalar(2.5), 0).item() == 2.5);  // a rank-0 tensor: itself
  CHECK(cumsum(scalar(2.5), -1).dim() == 0);
  CHECK(cumsum(zeros({0, 2}), 0).shape() == Shape{0, 2});
  CHECK_THROWS_WITH_AS(cumsum(m, 2), "cumsum: axis 2 is out of range for a tensor of shape [2, 3]", Error);
  Tensor x = tensor({1.0, 2.0, 3.0}, kFloat64);
  x.requires_grad_();
  cumsum(x, 0).backward(tensor({1.0, 10.0, 100.0}, kFloat64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{111, 110, 100});
  const Tensor y = sample({2, 3, 4}, 7);
  expect_gradcheck([](const V& v) { return cumsum(v[0], 1); }, {y});
  expect_gradcheck([](const V& v) { return cumsum(v[0], -1); }, {y});
}

TEST_CASE("var and std: unbiased by default, NaN for one element, std's gradient 0 where it is 0") {
  const Tensor x = tensor({{1.0, 2.0, 3.0, 4.0}, {2.0, 2.0, 2.0, 2.0}}, kFloat64);
  CHECK(var(x, {1}).to_vector<double>() == std::vector<double>{5.0 / 3, 0});
  CHECK(var(x, {1}, false).to_vector<double>() == std::vector<double>{1.25, 0});
  CHECK(var(x).item<double>() == doctest::Approx(5.5 / 7));  // mean 2.25, squared deviations sum to 5.5
  CHECK(var(x, {0}, true, true).shape() == Shape{1, 4});
  CHECK(unroll::std(x, {1}, false).to_vector<double>()[0] == doctest::Approx(std::sqrt(1.25)));
  CHECK(std::isnan(var(tensor({1.0})).item()));
  CHECK(unroll::std(tensor({1.0}), {}, false).item() == 0);
  CHECK_THROWS_WITH_AS(var(tensor({1, 2})), "var: expected a floating tensor (float32, float64), got int64 of shape [2]",
                       Error);
  CHECK_THROWS_WITH_AS(unroll::std(tensor({1, 2}), {0}), doctest::Contains("std: expected a floating tensor"), Error);
  // the constant row's standard deviation is 0: its gradient is 0 (sqrt(var) would give NaN)
  Tensor leaf_x = clone(x);
  leaf_x.requires_grad_();
  sum(unroll::std(leaf_x, {1})).backward();
  const std::vector<double> g = leaf_x.grad().to_vector<double>();
  for (size_t i = 4; i < 8; ++i) CHECK(g[i] == 0);
  CHECK(g[0] == doctest::Approx(-1.5 / 3 / std::sqrt(5.0 / 3)));
  const Tensor y = sample({3, 4, 2}, 8);
  expect_gradcheck([](const V& v) { return var(v[0], {1}); }, {y});
  expect_gradcheck([](const V& v) { return var(v[0], {0, 2}, false, true); }, {y});
  expect_gradcheck([](const V& v) { return unroll::std(v[0]); }, {y});
  expect_gradcheck([](const V& v) { return unroll::std(v[0], {-1}, true, true); }, {y});
}

TEST_CASE("norm: p = 1, 2, inf over axes, with PyTorch's gradients at the kinks") {
  const Tensor x = tensor({{3.0, -4.0}, {0.0, 0.0}}, kFloat64);
  CHECK(norm(x).item<double>() == 5);
  CHECK(norm(x, 2, {1}).to_vector<double>() == std::vector<double>{5, 0});
  CHECK(norm(x, 1, {1}).to_vector<double>() == std::vector<double>{7, 0});
  CHECK(norm(x, INFINITY, {0}, true).to_vector<double>() == std::vector<double>{3, 4});
  CHECK(norm(x, INFINITY, {0}, true).shape() == Shape{1, 2});
  CHECK(norm(zeros({0, 3}), INFINITY, {0}).to_vector() == std::vector<float>{0, 0, 0});
  CHECK_THROWS_WITH_AS(norm(x, 3), "norm: p must be 1, 2 or INFINITY, got 3 (tensor of shape [2, 2])", Error);
  CHECK_THROWS_WITH_AS(norm(tensor({1, 2})), doctest::Contains("norm: expected a floating tensor"), Error);
  // a zero row: gradient 0 (x / |x| would be NaN)
  Tensor leaf_x = clone(x);
  leaf_x.requires_grad_();
  sum(norm(leaf_x, 2, {1})).backward();
  const std::vector<double> norm_grad = leaf_x.grad().to_vector<double>();
  CHECK(norm_grad[0] == doctest::Approx(0.6));
  CHECK(norm_grad[1] == doctest::Approx(-0.8));
  CHECK(norm_grad[2] == 0);
  CHECK(norm_grad[3] == 0);
  // inf: split between tied largest magnitudes, with their signs
  Tensor t = tensor({1.0, -3.0, 3.0}, kFloat64);
  t.requires_grad_();
  norm(t, INFINITY).backward();
  CHECK(t.grad().to_vector<double>() == std::vector<double>{0, -0.5, 0.5});
  const Tensor y = sample({3, 4, 2}, 9);
  for (double p : {1.0, 2.0, double(INFINITY)}) {
    CAPTURE(p);
    expect_gradcheck([p](const V& v) { return norm(v[0], p); }, {y});
    expect_gradcheck([p](const V& v) { return norm(v[0], p, {1}); }, {y});
    expect_gradcheck([p](const V& v) { return norm(v[0], p, {0, 2}, true); }, {y});
  }
}
