// Tests for framework/ops/compare.cpp: comparisons and logical ops give bool tensors, compare after type
// promotion, broadcast, accept numbers on the right, and never record a graph.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>
#include <vector>

using namespace unroll;

using Bools = std::vector<bool>;

TEST_CASE("comparisons give bool and compare in the common dtype") {
  const Tensor i = tensor({1, 2, 3}), f = tensor({1.5, 2.0, 2.5});
  CHECK(eq(i, f).dtype() == kBool);
  CHECK(eq(i, f).to_vector<bool>() == Bools{false, true, false});  // 2 == 2.0 as float32
  CHECK(ne(i, f).to_vector<bool>() == Bools{true, false, true});
  CHECK(lt(i, f).to_vector<bool>() == Bools{true, false, false});
  CHECK(le(i, f).to_vector<bool>() == Bools{true, true, false});
  CHECK(gt(i, f).to_vector<bool>() == Bools{false, false, true});
  CHECK(ge(i, f).to_vector<bool>() == Bools{false, true, true});
  // operators and numbers
  CHECK((i < 2).to_vector<bool>() == Bools{true, false, false});
  CHECK((i <= 2).to_vector<bool>() == Bools{true, true, false});
  CHECK((i > 1.5).to_vector<bool>() == Bools{false, true, true});  // 1.5 makes it a float comparison
  CHECK((i >= 3).to_vector<bool>() == Bools{false, false, true});
  CHECK((i == 2).to_vector<bool>() == Bools{false, true, false});
  CHECK((i != 2).to_vector<bool>() == Bools{true, false, true});
  CHECK((f == f).to_vector<bool>() == Bools{true, true, true});
  CHECK((tensor({true, false}) == true).to_vector<bool>() == Bools{true, false});
  // NaN compares unequal to everything, itself included
  const Tensor nan = tensor({std::nanf("")});
  CHECK(!eq(nan, nan).item<bool>());
  CHECK(ne(nan, nan).item<bool>());
}

TEST_CASE("comparisons broadcast, e.g. a [T, N] mask from lengths") {
  const Tensor steps = reshape(arange(4), {4, 1});  // [T, 1]: 0..3
  const Tensor lengths = tensor({4, 2, 0});         // [N]
  const Tensor mask = lt(steps, lengths);           // [T, N]: step t is real for sequence n
  CHECK(mask.shape() == Shape{4, 3});
  CHECK(mask.to_vector<bool>() == Bools{true, true, false, true, true, false, true, false, false, true, false, false});
  CHECK(sum(mask).item<int64_t>() == 6);  // the number of real steps
  CHECK_THROWS_WITH_AS(lt(zeros({2, 3}), zeros({4})), "lt: shapes [2, 3] and [4] cannot be broadcast together", Error);
}

TEST_CASE("logical ops take any dtype (nonzero is true) and give bool") {
  const Tensor a = tensor({0, 1, 2, 0}), b = tensor({0.0, 0.0, 0.5, 3.0});
  CHECK(logical_and(a, b).to_vector<bool>() == Bools{false, false, true, false});
  CHECK(logical_or(a, b).to_vector<bool>() == Bools{false, true, true, true});
  CHECK(logical_xor(a, b).to_vector<bool>() == Bools{false, true, false, true});
  CHECK(logical_not(a).to_vector<bool>() == Bools{true, false, false, true});
  CHECK(logical_not(b).dtype() == kBool);
  CHECK(logical_and(tensor({true, true}), tensor({true})).to_vector<bool>() == Bools{true, true});
}

TEST_CASE("comparisons of tensors that require grad record nothing") {
  Tensor w = tensor({0.5, -0.5});
  w.requires_grad_();
  const Tensor m = gt(w, 0);
  CHECK(!m.requires_grad());
  CHECK(!logical_not(m).requires_grad());
  // the mask selects; gradients flow through where() to the chosen branch only
  const Tensor y = where(m, w * 2, w * 3);
  sum(y).backward();
  CHECK(w.grad().to_vector() == std::vector<float>{2, 3});
}

TEST_CASE("counting correct predictions") {
  const Tensor logits = tensor({{0.1, 2.0, -1.0}, {3.0, 0.0, 0.5}, {0.0, 0.1, 0.2}});
  const Tensor targets = tensor({1, 0, 0});
  const Tensor predicted = argmax(logits, 1);
  CHECK(predicted.dtype() == kInt64);
  CHECK(sum(eq(predicted, targets)).item<int64_t>() == 2);
  CHECK(mean(eq(predicted, targets).to(kFloat32)).item() == doctest::Approx(2.0 / 3.0));
}
