// Tests for framework/ops/loss.cpp. Gradchecks run on float64 leaves; values are checked in float32 and
// float64.
#include <doctest/doctest.h>

#include <cmath>
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
// A one-element floating tensor's value as a double.
double value(const Tensor& t) { return t.to(kFloat64).item<double>(); }
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
}  // namespace

TEST_CASE("cross_entropy: value by hand, reductions, ignore_index") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const Tensor logits = tensor({{0.0, 0.0}, {std::log(3.0), 0.0}}, dt);  // row 1: p = (3/4, 1/4)
    const Tensor targets = tensor({0, 1});                                 // int64 class ids
    const double expected = (std::log(2.0) + std::log(4.0)) / 2;
    CHECK(cross_entropy(logits, targets).dtype() == dt);
    CHECK(value(cross_entropy(logits, targets)) == doctest::Approx(expected));
    CHECK(value(cross_entropy(logits, targets, {.reduction = Reduction::Sum})) == doctest::Approx(2 * expected));
    CHECK(cross_entropy(logits, targets, {.reduction = Reduction::None}).shape() == Shape{2});
    // ignored rows neither contribute nor count in the mean
    CHECK(value(cross_entropy(logits, tensor({-100, 1}))) == doctest::Approx(std::log(4.0)));
    CHECK(value(cross_entropy(logits, tensor({5, 1}), {.ignore_index = 5})) == doctest::Approx(std::log(4.0)));
    CHECK(std::isnan(value(cross_entropy(logits, tensor({-100, -100})))));  // as PyTorch: 0/0
  }
}

TEST_CASE("loss errors name the op and shapes") {
  CHECK_THROWS_WITH_AS(cross_entropy(ones({2, 3}), tensor({0, 3})),
                       "nll_loss: target 3 at position 1 is not a class id in [0, 3) for input [2, 3]", Error);
  // class ids are int64: a floating tensor of targets is refused, whatever its values
  CHECK_THROWS_WITH_AS(cross_entropy(ones({2, 3}), tensor({0.0, 1.5})),
                       "nll_loss: targets must be int64 class ids, got float32 (targets shape [2], input [2, 3]); "
                       "convert with .to(kInt64)",
                       Error);
  CHECK_THROWS_WITH_AS(nll_loss(ones({2, 3}), tensor({true, false})), doctest::Contains("got bool"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(ones({2, 3}), tensor({0})),
                       "nll_loss: targets must be [2] for input [2, 3], got [1]", Error);
  CHECK_THROWS_WITH_AS(cross_entropy(ones({2, 3, 4}), tensor({0})),
                       doctest::Contains("cross_entropy: expects logits [N, C]"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(ones({2}), ones({3})), "mse_loss: input [2] and target [3] must have the same shape",
                       Error);
}

TEST_CASE("gradcheck: losses") {
  const Tensor logits = sample({4, 5}, 1);
  const Tensor targets = tensor({0, 4, 2, -100});
  expect_gradcheck([targets](const V& v) { return cross_entropy(v[0], targets); }, {logits});
  expect_gradcheck([targets](const V& v) { return cross_entropy(v[0], targets, {.reduction = Reduction::Sum}); },
                   {logits});
  expect_gradcheck([targets](const V& v) { return cross_entropy(v[0], targets, {.reduction = Reduction::None}); },
                   {logits});
  expect_gradcheck([targets](const V& v) { return nll_loss(log_softmax(v[0], 1), targets); }, {logits});
  expect_gradcheck([](const V& v) { return mse_loss(v[0], v[1]); }, {sample({3, 2}, 2), sample({3, 2}, 3)});
  expect_gradcheck([](const V& v) { return mse_loss(v[0], v[1], Reduction::None); },
                   {sample({3, 2}, 2), sample({3, 2}, 3)});
  Generator gen(4);
  const Tensor labels = rand({3, 2}, kFloat64, gen);  // soft labels in [0, 1)
  expect_gradcheck([labels](const V& v) { return binary_cross_entropy_with_logits(v[0], labels); },
                   {sample({3, 2}, 5)});
  expect_gradcheck([labels](const V& v) { return binary_cross_entropy_with_logits(v[0], labels, Reduction::Sum); },
                   {sample({3, 2}, 6)});
}

TEST_CASE("binary_cross_entropy_with_logits is stable for huge logits") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const Tensor x = tensor({1000.0, -1000.0}, dt);
    const Tensor y = tensor({1.0, 0.0}, dt);
    CHECK(value(binary_cross_entropy_with_logits(x, y)) == doctest::Approx(0));
    CHECK(value(binary_cross_entropy_with_logits(x, tensor({0.0, 1.0}, dt))) == doctest::Approx(1000));
  }
}
