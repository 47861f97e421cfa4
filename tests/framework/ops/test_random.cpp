// Tests for framework/ops/random.cpp: generators, the random creation functions in both floating dtypes,
// randint, dropout.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

using namespace unroll;

TEST_CASE("dropout: train vs eval, scaling, reproducibility, gradient") {
  Tensor x = ones({10000});
  x.requires_grad_();
  CHECK(dropout(x, 0.3, /*training=*/false).to_vector() == x.to_vector());
  Generator g1(1), g2(1);
  const Tensor y = dropout(x, 0.3, true, g1);
  CHECK(y.to_vector() == dropout(x, 0.3, true, g2).to_vector());
  int64_t kept = 0;
  for (real v : y.to_vector()) {
    CHECK((v == 0 || v == doctest::Approx(1 / 0.7)));
    kept += v != 0;
  }
  CHECK(std::abs(kept / 10000.0 - 0.7) < 0.03);
  sum(y).backward();
  CHECK(x.grad().to_vector() == y.to_vector());  // the gradient is the same mask
  for (real v : dropout(x, 1, true).to_vector()) CHECK(v == 0);
  CHECK_THROWS_WITH_AS(dropout(x, 1.5, true), "dropout: probability 1.5 is outside [0, 1]", Error);
}

TEST_CASE("generators: independent streams, reseeding, bounds") {
  Generator g(3);
  const Tensor a = randn({5}, g);
  g.seed(3);
  CHECK(randn({5}, g).to_vector() == a.to_vector());
  for (int i = 0; i < 1000; ++i) {
    const uint64_t k = g.below(7);
    CHECK(k < 7);
  }
  const Tensor n = normal({20000}, 2, 0.5, g);
  CHECK(mean(n).item() == doctest::Approx(2).epsilon(0.01));
  CHECK(std::sqrt(mean(pow(n - 2, 2)).item()) == doctest::Approx(0.5).epsilon(0.02));
  CHECK_THROWS_WITH_AS(uniform({2}, 1, 0), "uniform: low 1 is greater than high 0", Error);
}

TEST_CASE("random dtypes: float32 and float64 draws from one seed agree to rounding; randint is int64") {
  Generator a(11), b(11);
  const Tensor f = randn({100}, a), d = randn({100}, kFloat64, b);
  CHECK(f.dtype() == kFloat32);
  CHECK(d.dtype() == kFloat64);
  CHECK(d.to(kFloat32).to_vector() == f.to_vector());
  CHECK(rand({50}, kFloat64, a).to(kFloat32).to_vector() == rand({50}, b).to_vector());
  CHECK_THROWS_WITH_AS(randn({2}, kInt64), "normal: expected a floating tensor (float32, float64), got int64", Error);
  const Tensor r = randint(-3, 4, {1000}, a);
  CHECK(r.dtype() == kInt64);
  std::vector<int64_t> seen(7, 0);
  for (int64_t v : r.to_vector<int64_t>()) {
    REQUIRE((v >= -3 && v < 4));
    ++seen[static_cast<size_t>(v + 3)];
  }
  for (int64_t count : seen) CHECK(count > 0);  // every value in [low, high) comes up
  CHECK_THROWS_WITH_AS(randint(2, 2, {1}), "randint: low 2 must be less than high 2", Error);
  // dropout keeps the dtype and refuses non-floating tensors
  CHECK(dropout(ones({4}, kFloat64), 0.5, true).dtype() == kFloat64);
  CHECK_THROWS_WITH_AS(dropout(ones({4}, kInt64), 0.5, true),
                       "dropout: expected a floating tensor (float32, float64), got int64", Error);
}

TEST_CASE("gradcheck: dropout with a fixed mask") {
  Generator gen(5);
  Tensor x = uniform({3, 4}, -1, 1, kFloat64, gen);
  x.requires_grad_();
  // a fresh generator per call draws the same mask for every finite-difference evaluation
  const GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& v) {
        Generator mask_gen(9);
        return dropout(v[0], 0.4, true, mask_gen);
      },
      {x});
  CHECK_MESSAGE(r.ok, r.message);
}
