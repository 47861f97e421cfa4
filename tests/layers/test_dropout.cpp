// Tests for layers/dropout.cpp: training zeroes ~p of the elements and scales the rest, eval() is the
// identity, p = 0 / p = 1, the gradient is the mask, errors.
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

TEST_CASE("Dropout in training zeroes about p of the elements and scales the rest by 1/(1-p)") {
  manual_seed(7);
  Dropout drop({.p = 0.25});
  CHECK(drop.is_training());
  const Tensor y = drop(ones({200, 100}));
  CHECK(y.shape() == Shape{200, 100});
  int64_t zeros_count = 0, scaled_count = 0;
  for (real v : y.to_vector()) {
    zeros_count += v == 0;
    scaled_count += v == doctest::Approx(1 / 0.75);
  }
  CHECK(zeros_count + scaled_count == 20000);
  CHECK(zeros_count > 0.23 * 20000);  // expected 5000, std ~61
  CHECK(zeros_count < 0.27 * 20000);
  CHECK(drop.describe() == "Dropout(p=0.25)");
}

TEST_CASE("Dropout after eval() is the identity") {
  Dropout drop;  // p = 0.5
  CHECK(drop.options().p == doctest::Approx(0.5));
  drop.eval();
  const Tensor x = randn({4, 5});
  CHECK(drop(x).to_vector() == x.to_vector());
  drop.train();
  CHECK(drop(x).to_vector() != x.to_vector());
}

TEST_CASE("Dropout p = 0 keeps everything, p = 1 drops everything") {
  const Tensor x = randn({3, 4});
  Dropout none(0.0);
  CHECK(none(x).to_vector() == x.to_vector());
  Dropout all(1.0);
  for (real v : all(x).to_vector()) CHECK(v == 0);
}

TEST_CASE("Dropout gradient is the same mask as the forward") {
  manual_seed(1);
  Dropout drop(0.5);
  Tensor x = ones({10, 10});
  x.requires_grad_();
  const Tensor y = drop(x);
  y.sum().backward();
  CHECK(x.grad().to_vector() == y.to_vector());  // y = mask * 1
}

TEST_CASE("Dropout is reproducible under manual_seed") {
  Dropout drop(0.3);
  const Tensor x = ones({8, 8});
  manual_seed(42);
  const auto a = drop(x).to_vector();
  manual_seed(42);
  CHECK(drop(x).to_vector() == a);
}

TEST_CASE("Dropout errors") {
  CHECK_THROWS_WITH_AS(Dropout(1.5), "Dropout: probability 1.5 is outside [0, 1]", Error);
  CHECK_THROWS_WITH_AS(Dropout({.p = -0.1}), "Dropout: probability -0.1 is outside [0, 1]", Error);
}
