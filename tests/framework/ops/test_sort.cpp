// Tests for framework/ops/sort.cpp: sort, argsort, topk. Gradchecks run on float64 leaves.
#include <doctest/doctest.h>

#include <cmath>
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
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
using I = std::vector<int64_t>;
using F = std::vector<float>;
}  // namespace

TEST_CASE("sort: ascending or descending along an axis, stable, NaN largest") {
  const Tensor x = tensor({{3.0, 1.0, 2.0}, {0.5, -1.0, 9.0}});
  const auto [values, indices] = sort(x);  // last axis
  CHECK(values.to_vector() == F{1, 2, 3, -1, 0.5, 9});
  CHECK(indices.dtype() == kInt64);
  CHECK(indices.to_vector<int64_t>() == I{1, 2, 0, 1, 0, 2});
  CHECK(sort(x, 0).values.to_vector() == F{0.5, -1, 2, 3, 1, 9});
  CHECK(sort(x, 0, true).indices.to_vector<int64_t>() == I{0, 0, 1, 1, 1, 0});
  // stable: equal values keep their order, ascending and descending
  const Tensor ties = tensor({2, 1, 2, 1, 1});
  CHECK(sort(ties).indices.to_vector<int64_t>() == I{1, 3, 4, 0, 2});
  CHECK(sort(ties, 0, true).indices.to_vector<int64_t>() == I{0, 2, 1, 3, 4});
  CHECK(sort(ties).values.dtype() == kInt64);
  // NaN sorts as the largest value: last ascending, first descending (as PyTorch)
  const Tensor n = tensor({1.0, double(NAN), 0.0});
  CHECK(sort(n).indices.to_vector<int64_t>() == I{2, 0, 1});
  CHECK(sort(n, -1, true).indices.to_vector<int64_t>() == I{1, 0, 2});
  CHECK(std::isnan(sort(n).values.to_vector()[2]));
  CHECK(sort(tensor({true, false, true})).values.to_vector<bool>() == std::vector<bool>{false, true, true});
  CHECK(sort(scalar(2.5)).values.item() == 2.5);  // rank 0: itself
  CHECK(sort(zeros({2, 0})).values.shape() == Shape{2, 0});
  CHECK_THROWS_WITH_AS(sort(x, 2), "sort: axis 2 is out of range for a tensor of shape [2, 3]", Error);
}

TEST_CASE("argsort is sort's indices") {
  const Tensor x = tensor({{3.0, 1.0, 2.0}, {0.5, -1.0, 9.0}});
  CHECK(argsort(x).to_vector<int64_t>() == sort(x).indices.to_vector<int64_t>());
  CHECK(argsort(x, 0, true).to_vector<int64_t>() == I{0, 0, 1, 1, 1, 0});
  CHECK(argsort(x).requires_grad() == false);
  CHECK_THROWS_WITH_AS(argsort(x, -3), "argsort: axis -3 is out of range for a tensor of shape [2, 3]", Error);
}

TEST_CASE("topk: the k largest or smallest, sorted, ties by position") {
  const Tensor x = tensor({{1.0, 3.0, 3.0, 2.0}, {5.0, -1.0, 0.0, 4.0}});
  const auto [values, indices] = topk(x, 2);
  CHECK(values.to_vector() == F{3, 3, 5, 4});
  CHECK(indices.to_vector<int64_t>() == I{1, 2, 0, 3});
  CHECK(topk(x, 3, 1, false).values.to_vector() == F{1, 2, 3, -1, 0, 4});
  CHECK(topk(x, 1, 0).indices.to_vector<int64_t>() == I{1, 0, 0, 1});
  CHECK(topk(x, 0).values.shape() == Shape{2, 0});
  CHECK(topk(tensor({3, 1, 2}), 2).values.to_vector<int64_t>() == I{3, 2});
  CHECK(topk(tensor({1.0, double(NAN), 3.0}), 2).indices.to_vector<int64_t>() == I{1, 2});  // NaN is the largest
  CHECK_THROWS_WITH_AS(topk(x, 5), "topk: k = 5 is out of range for axis -1 of size 4 (tensor of shape [2, 4])", Error);
  CHECK_THROWS_WITH_AS(topk(x, -1), doctest::Contains("topk: k = -1 is out of range"), Error);
  CHECK_THROWS_WITH_AS(topk(tensor({true}), 1), "topk: not supported for bool tensors (shape [1])", Error);
}

TEST_CASE("sort and topk pass gradients back to where each value came from") {
  Tensor x = tensor({3.0, 1.0, 2.0}, kFloat64);
  x.requires_grad_();
  sort(x).values.backward(tensor({1.0, 10.0, 100.0}, kFloat64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{100, 1, 10});
  x.zero_grad();
  topk(x, 2, 0, false).values.backward(tensor({1.0, 10.0}, kFloat64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 10});
  const Tensor y = sample({3, 4, 2}, 11);
  expect_gradcheck([](const V& v) { return sort(v[0], 1).values; }, {y});
  expect_gradcheck([](const V& v) { return sort(v[0], -1, true).values; }, {y});
  expect_gradcheck([](const V& v) { return topk(v[0], 2, 1).values; }, {y});
  expect_gradcheck([](const V& v) { return topk(v[0], 3, 0, false).values; }, {y});
}
