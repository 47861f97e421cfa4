// Tests for framework/ops/loss.cpp (built against unroll_f64).
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor sample(const Shape& s, uint64_t seed) { return unroll_test::random_leaf(s, seed, -2, 2); }
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
}  // namespace

TEST_CASE("cross_entropy: value by hand, reductions, ignore_index") {
  const Tensor logits = tensor({{0, 0}, {std::log(3.0), 0}});  // row 1: p = (3/4, 1/4)
  const Tensor targets = tensor({0, 1});
  const double expected = (std::log(2.0) + std::log(4.0)) / 2;
  CHECK(cross_entropy(logits, targets).item() == doctest::Approx(expected));
  CHECK(cross_entropy(logits, targets, {.reduction = Reduction::Sum}).item() == doctest::Approx(2 * expected));
  CHECK(cross_entropy(logits, targets, {.reduction = Reduction::None}).shape() == Shape{2});
  // ignored rows neither contribute nor count in the mean
  CHECK(cross_entropy(logits, tensor({-100, 1})).item() == doctest::Approx(std::log(4.0)));
  CHECK(cross_entropy(logits, tensor({5, 1}), {.ignore_index = 5}).item() == doctest::Approx(std::log(4.0)));
  CHECK(std::isnan(cross_entropy(logits, tensor({-100, -100})).item()));  // as PyTorch: 0/0
}

TEST_CASE("loss errors name the op and shapes") {
  CHECK_THROWS_WITH_AS(cross_entropy(ones({2, 3}), tensor({0, 3})),
                       "nll_loss: target 3 at position 1 is not a class id in [0, 3) for input [2, 3]", Error);
  CHECK_THROWS_WITH_AS(cross_entropy(ones({2, 3}), tensor({0, 1.5})), doctest::Contains("target 1.5 at position 1"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(ones({2, 3}), tensor({0})), "nll_loss: targets must be [2] for input [2, 3], got [1]",
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(ones({2, 3, 4}), tensor({0})), doctest::Contains("cross_entropy: expects logits [N, C]"),
                       Error);
  CHECK_THROWS_WITH_AS(mse_loss(ones({2}), ones({3})), "mse_loss: input [2] and target [3] must have the same shape", Error);
}

TEST_CASE("gradcheck: losses") {
  const Tensor logits = sample({4, 5}, 1);
  const Tensor targets = tensor({0, 4, 2, -100});
  expect_gradcheck([targets](const V& v) { return cross_entropy(v[0], targets); }, {logits});
  expect_gradcheck([targets](const V& v) { return cross_entropy(v[0], targets, {.reduction = Reduction::Sum}); }, {logits});
  expect_gradcheck([targets](const V& v) { return cross_entropy(v[0], targets, {.reduction = Reduction::None}); }, {logits});
  expect_gradcheck([targets](const V& v) { return nll_loss(log_softmax(v[0], 1), targets); }, {logits});
  expect_gradcheck([](const V& v) { return mse_loss(v[0], v[1]); }, {sample({3, 2}, 2), sample({3, 2}, 3)});
  expect_gradcheck([](const V& v) { return mse_loss(v[0], v[1], Reduction::None); }, {sample({3, 2}, 2), sample({3, 2}, 3)});
  Generator gen(4);
  const Tensor labels = rand({3, 2}, gen);  // soft labels in [0, 1)
  expect_gradcheck([labels](const V& v) { return binary_cross_entropy_with_logits(v[0], labels); }, {sample({3, 2}, 5)});
  expect_gradcheck([labels](const V& v) { return binary_cross_entropy_with_logits(v[0], labels, Reduction::Sum); },
                   {sample({3, 2}, 6)});
}

TEST_CASE("binary_cross_entropy_with_logits is stable for huge logits") {
  const Tensor x = tensor({1000, -1000});
  const Tensor y = tensor({1, 0});
  CHECK(binary_cross_entropy_with_logits(x, y).item() == doctest::Approx(0));
  CHECK(binary_cross_entropy_with_logits(x, tensor({0, 1})).item() == doctest::Approx(1000));
}
