// Tests for framework/ops/einsum.cpp: parsing (explicit and implicit outputs, "...", spaces, upper case),
// values against the ops it stands for, one matmul node per two-operand contraction, error messages,
// gradients (float64 gradchecks).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor sample(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  Tensor t = uniform(s, -2, 2, kFloat64, gen);
  t.requires_grad_();
  return t;
}
// max |a - b| over all elements (same shape required).
double distance(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return max(abs(sub(a.to(kFloat64), b.to(kFloat64)))).item<double>();
}
// How many nodes named `op` the graph behind t has (a depth-first walk over grad_fn inputs).
int count_nodes(const Tensor& t, const std::string& op) {
  int count = 0;
  std::vector<const TensorImpl*> stack{t.impl()}, seen;
  while (!stack.empty()) {
    const TensorImpl* impl = stack.back();
    stack.pop_back();
    if (!impl->grad_fn || std::find(seen.begin(), seen.end(), impl) != seen.end()) continue;
    seen.push_back(impl);
    count += op == impl->grad_fn->name;
    for (const auto& in : impl->grad_fn->inputs)
      if (in) stack.push_back(in.get());
  }
  return count;
}
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
}  // namespace

TEST_CASE("einsum equals the ops it stands for") {
  const Tensor a = sample({3, 4}, 1), b = sample({4, 5}, 2), c = sample({2, 3, 4}, 3), d = sample({2, 4, 5}, 4);
  const Tensor sq = sample({3, 3}, 5), v = sample({3}, 6), w = sample({3}, 7);
  CHECK(distance(einsum("ij,jk->ik", {a, b}), matmul(a, b)) < 1e-12);
  CHECK(distance(einsum("ij,jk", {a, b}), matmul(a, b)) < 1e-12);  // implicit output
  CHECK(distance(einsum(" i j , j k -> i k ", {a, b}), matmul(a, b)) < 1e-12);  // spaces
  CHECK(distance(einsum("bij,bjk->bik", {c, d}), matmul(c, d)) < 1e-12);
  CHECK(distance(einsum("ij->ji", {a}), transpose(a, 0, 1)) < 1e-12);
  CHECK(distance(einsum("ij->", {a}), sum(a)) < 1e-12);
  CHECK(distance(einsum("bij->j", {c}), sum(c, {0, 1})) < 1e-12);
  CHECK(einsum("ii", {sq}).item<double>() ==
        doctest::Approx(sq.at<double>({0, 0}) + sq.at<double>({1, 1}) + sq.at<double>({2, 2})));
  CHECK(distance(einsum("i,i->", {v, w}), sum(mul(v, w))) < 1e-12);
  CHECK(distance(einsum("i,j->ij", {v, w}), mul(reshape(v, {3, 1}), w)) < 1e-12);
  CHECK(distance(einsum("ij,ij->ij", {a, a}), mul(a, a)) < 1e-12);
  CHECK(distance(einsum("...ij,...jk->...ik", {c, b}), matmul(c, b)) < 1e-12);
  CHECK(distance(einsum("...ij->...", {c}), sum(c, {1, 2})) < 1e-12);
  // diagonal: "ii->i" takes sq[i][i]
  const Tensor diag = einsum("ii->i", {sq});
  for (int64_t i = 0; i < 3; ++i) CHECK(diag.at<double>({i}) == sq.at<double>({i, i}));
  // implicit output: the letters seen once, in ASCII order (upper case first), as torch
  CHECK(einsum("bA,ab", {sample({2, 3}, 8), sample({3, 2}, 9)}).shape() == Shape{3, 3});
  CHECK(einsum("ba", {a}).shape() == Shape{4, 3});
  // size-1 dims broadcast
  CHECK(einsum("ij,jk", {sample({2, 1}, 10), sample({3, 5}, 11)}).shape() == Shape{2, 5});
  CHECK(einsum("bij,bjk->bik", {sample({1, 2, 3}, 12), sample({4, 3, 2}, 13)}).shape() == Shape{4, 2, 2});
  // operands of one dtype, as torch.einsum (no promotion)
  CHECK_THROWS_WITH_AS(einsum("i,i->", {tensor({1.0, 2.0}), tensor({3.0, 4.0}, kFloat64)}),
                       "einsum: operands must have one dtype, got float32 and float64 (equation \"i,i->\")", Error);
  CHECK(einsum("i,i->", {tensor({1.0, 2.0}), tensor({3.0, 4.0})}).item() == 11);
}

TEST_CASE("a two-operand contraction is one matmul") {
  const Tensor q = sample({2, 2, 3, 4}, 20), k = sample({2, 2, 5, 4}, 21);
  const Tensor scores = einsum("nhld,nhsd->nhls", {q, k});
  CHECK(scores.shape() == Shape{2, 2, 3, 5});
  CHECK(count_nodes(scores, "matmul") == 1);
  CHECK(count_nodes(einsum("ij,jk->ik", {sample({3, 4}, 22), sample({4, 5}, 23)}), "matmul") == 1);
  CHECK(count_nodes(einsum("bn,anm,bm->ba", {sample({2, 3}, 24), sample({4, 3, 5}, 25), sample({2, 5}, 26)}),
                    "matmul") == 2);
}

TEST_CASE("einsum refuses malformed equations, naming the problem") {
  const Tensor a = zeros({2, 3}), b = zeros({3, 4});
  CHECK_THROWS_WITH_AS(einsum("ij,jk->ik", {a}), "einsum: the equation \"ij,jk->ik\" has 2 operands but 1 tensors were given",
                       Error);
  CHECK_THROWS_WITH_AS(einsum("ijk,jk", {a, b}),
                       "einsum: operand 0 has shape [2, 3] (2 dims) but its subscripts in \"ijk,jk\" name 3", Error);
  CHECK(einsum("ij,kl->ij", {a, zeros({4, 4})}).shape() == Shape{2, 3});  // k, l summed out
  CHECK_THROWS_WITH_AS(einsum("ij,jk", {a, zeros({4, 4})}),
                       "einsum: subscript 'j' has size 4 in operand 1 (shape [4, 4]) but 3 elsewhere (equation \"ij,jk\")",
                       Error);
  CHECK_THROWS_WITH_AS(einsum("i->ii", {zeros({3})}), "einsum: output subscript 'i' appears more than once in \"i->ii\"",
                       Error);
  CHECK_THROWS_WITH_AS(einsum("i->j", {zeros({3})}), "einsum: output subscript 'j' does not appear in any operand of \"i->j\"",
                       Error);
  CHECK_THROWS_WITH_AS(einsum("i1", {zeros({3})}),
                       "einsum: invalid subscript '1' in equation \"i1\" (letters, \"...\", ',' and \"->\" only)", Error);
  CHECK_THROWS_WITH_AS(einsum("ab->a.", {a}), doctest::Contains("einsum: '.' that is not part of one \"...\""), Error);
  CHECK_THROWS_WITH_AS(einsum("ii", {a}),
                       "einsum: subscript 'i' has size 3 in operand 0 (shape [2, 3]) but 2 elsewhere (equation \"ii\")", Error);
  CHECK_THROWS_WITH_AS(einsum("i", {tensor({1, 2})}),
                       "einsum: operands must be floating tensors (float32, float64), got int64 (equation \"i\")", Error);
  CHECK_THROWS_WITH_AS(einsum("i", {Tensor()}), "einsum: operand 0 is an undefined tensor", Error);
}

TEST_CASE("einsum gradients") {
  const Tensor a = sample({3, 4}, 30), b = sample({4, 2}, 31), c = sample({2, 3, 4}, 32), sq = sample({3, 3}, 33);
  expect_gradcheck([](const V& v) { return einsum("ij,jk->ik", {v[0], v[1]}); }, {a, b});
  expect_gradcheck([](const V& v) { return einsum("bij,jk->bki", {v[0], v[1]}); }, {c, b});
  expect_gradcheck([](const V& v) { return einsum("ii->i", {v[0]}); }, {sq});
  expect_gradcheck([](const V& v) { return einsum("ij,ij,ij->i", {v[0], v[0], v[0]}); }, {a});
  expect_gradcheck([](const V& v) { return einsum("...j,...j->...", {v[0], v[1]}); }, {c, a});
}
