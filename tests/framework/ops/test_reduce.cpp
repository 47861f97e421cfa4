// Tests for framework/ops/reduce.cpp (built against unroll_f64).
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor sample(const Shape& s, uint64_t seed) { return unroll_test::random_leaf(s, seed, -2, 2); }
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
}  // namespace

TEST_CASE("sum, mean and max over axes, with and without keepdim") {
  const Tensor x = tensor({{1, 5, 3}, {4, 2, 6}});  // [2, 3]
  CHECK(sum(x).item() == 21);
  CHECK(sum(x).dim() == 0);
  CHECK(sum(x, {0}).to_vector() == std::vector<real>{5, 7, 9});
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
  CHECK(sum(x, {-1}).to_vector() == std::vector<real>{9, 12});
  CHECK(sum(x, {0, 1}).item() == 21);
  CHECK(mean(x, {1}).to_vector() == std::vector<real>{3, 4});
  CHECK(mean(x).item() == 3.5);
  CHECK(max(x).item() == 6);
  CHECK(max(x, 1).to_vector() == std::vector<real>{5, 6});
  CHECK(max(x, 0, true).shape() == Shape{1, 3});
  CHECK(argmax(x, 1).to_vector() == std::vector<real>{1, 2});
  CHECK_THROWS_WITH_AS(sum(x, {2}), "sum: axis 2 is out of range for a tensor of shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(sum(x, {1, -1}), "sum: axis -1 appears twice for shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(max(x, -3), "max: axis -3 is out of range for a tensor of shape [2, 3]", Error);
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
  const Tensor x = tensor({{1, 2, 3}, {1000, 1000, 1000}});
  const Tensor p = softmax(x, 1);
  CHECK(p.at({0, 2}) == doctest::Approx(0.6652409558));
  CHECK(p.at({1, 0}) == doctest::Approx(1.0 / 3));  // no overflow at large logits
  CHECK(sum(p, {1}).to_vector()[0] == doctest::Approx(1));
  CHECK(log_softmax(x, 1).at({0, 0}) == doctest::Approx(-2.4076059644));
  const Tensor y = sample({3, 4, 2}, 2);
  expect_gradcheck([](const V& v) { return log_softmax(v[0], 1); }, {y});
  expect_gradcheck([](const V& v) { return log_softmax(v[0], -1); }, {y});
  expect_gradcheck([](const V& v) { return softmax(v[0], 0); }, {y});
}
