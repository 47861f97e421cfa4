// Tests for framework/ops/reduce.cpp. Gradchecks run on float64 leaves.
#include <doctest/doctest.h>

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
  CHECK(max(x, 1).to_vector() == std::vector<float>{5, 6});
  CHECK(max(x, 0, true).shape() == Shape{1, 3});
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
  CHECK(max(i, 1).to_vector<int64_t>() == I{5, 6});
  CHECK(argmax(i, 0).to_vector<int64_t>() == I{1, 0, 1});
  const int64_t big = int64_t{1} << 60;  // far beyond float's and double's exact integers
  CHECK(sum(tensor(std::vector<int64_t>{big, 1, 2}, {3})).item<int64_t>() == big + 3);
  const Tensor b = tensor({{true, false, true}, {true, true, true}});
  CHECK(sum(b).dtype() == kInt64);
  CHECK(sum(b).item<int64_t>() == 5);  // counts
  CHECK(sum(b, {1}).to_vector<int64_t>() == I{2, 3});
  CHECK(max(b, 0).dtype() == kBool);
  CHECK(max(b, 0).to_vector<bool>() == std::vector<bool>{true, true, true});
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
  expect_gradcheck([](const V& v) { return max(v[0], 1); }, {x});  // uniform samples: no ties
  expect_gradcheck([](const V& v) { return max(v[0], 2, true); }, {x});
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
