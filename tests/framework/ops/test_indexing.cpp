// Tests for framework/ops/indexing.cpp: index_select, embedding and gather: values, error messages
// and gradients (repeated positions accumulate). Indices are int64 tensors; any other dtype is refused.
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
using V = std::vector<int64_t>;
using D = std::vector<double>;
using unroll_test::iota;  // int64 0, 1, ..., numel - 1
// A float64 leaf with distinct, non-round values.
Tensor leaf(const Shape& s) { return unroll_test::distinct_leaf(s, kFloat64); }
using unroll_test::expect_gradcheck;
}  // namespace

// ---- index_select ----------------------------------------------------------------------------------
TEST_CASE("index_select picks rows, columns and repeats") {
  const Tensor x = iota({3, 4});
  CHECK(index_select(x, 0, tensor({2, 0})).shape() == Shape{2, 4});
  CHECK(index_select(x, 0, tensor({2, 0})).to_vector<int64_t>() == V{8, 9, 10, 11, 0, 1, 2, 3});
  CHECK(index_select(x, 1, tensor({3, 1, 1})).to_vector<int64_t>() == V{3, 1, 1, 7, 5, 5, 11, 9, 9});
  CHECK(index_select(x, -1, tensor({0})).to_vector<int64_t>() == V{0, 4, 8});
  CHECK(index_select(x, 0, zeros({0}, kInt64)).shape() == Shape{0, 4});
  CHECK(index_select(x.to(kFloat32), 0, tensor({2, 0})).to_vector() == std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3});
  const Tensor y = iota({2, 3, 2});
  CHECK(index_select(y, 1, tensor({2, 0})).to_vector<int64_t>() == V{4, 5, 0, 1, 10, 11, 6, 7});
}

TEST_CASE("index_select errors name the op, the index value and the shapes") {
  const Tensor x = iota({2, 3});
  CHECK_THROWS_WITH_AS(index_select(x, 1, tensor({0, 3})),
                       "index_select: index 3 is out of range for axis 1 of size 3 (index shape [2], x shape [2, 3])",
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, tensor({-1})),
                       "index_select: index -1 is out of range for axis 0 of size 2 (index shape [1], x shape [2, 3])",
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 1, tensor({0.0, 1.0})),
                       "index_select: indices must be an int64 tensor, got float32 (index shape [2], x shape [2, 3]); "
                       "convert with .to(kInt64)",
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 1, tensor({true})),
                       doctest::Contains("indices must be an int64 tensor, got bool"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, tensor({{0, 1}})),
                       "index_select: index must be 1-D, got shape [1, 2] (x shape [2, 3])", Error);
  CHECK_THROWS_WITH_AS(index_select(x, 2, tensor({0})),
                       "index_select: axis 2 is out of range for a tensor of shape [2, 3]", Error);
}

TEST_CASE("index_select backward scatter-adds, repeated positions accumulate") {
  Tensor x = leaf({3, 2});
  const Tensor y = index_select(x, 0, tensor({0, 2, 0, 0}));
  CHECK(std::string(y.grad_fn_name()) == "index_select");
  y.backward(tensor({{1, 2}, {3, 4}, {5, 6}, {7, 8}}));
  CHECK(x.grad().to_vector<double>() == D{13, 16, 0, 0, 3, 4});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return index_select(in[0], 1, tensor({2, 0, 2, 1}));
      },
      {leaf({2, 3, 2})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return index_select(in[0], 0, tensor({1, 1})); }, {leaf({3})});
}

// ---- embedding -------------------------------------------------------------------------------------
TEST_CASE("embedding looks up rows for any index shape") {
  const Tensor w = iota({4, 3}).to(kFloat64);
  const Tensor e = embedding(w, tensor({{1, 3}, {0, 1}}));
  CHECK(e.shape() == Shape{2, 2, 3});
  CHECK(e.dtype() == kFloat64);
  CHECK(e.to_vector<double>() == D{3, 4, 5, 9, 10, 11, 0, 1, 2, 3, 4, 5});
  CHECK(embedding(w, scalar(2)).shape() == Shape{3});
  CHECK(embedding(w, scalar(2)).to_vector<double>() == D{6, 7, 8});
  CHECK(embedding(w, tensor({3})).shape() == Shape{1, 3});
  CHECK(embedding(w, zeros({2, 0}, kInt64)).shape() == Shape{2, 0, 3});

  CHECK_THROWS_WITH_AS(
      embedding(w, tensor({1, 4})),
      "embedding: index 4 is out of range for a vocabulary of 4 rows (index shape [2], weight shape [4, 3])", Error);
  CHECK_THROWS_WITH_AS(
      embedding(w, tensor({1.0})),
      "embedding: indices must be an int64 tensor, got float32 (index shape [1], weight shape [4, 3]); "
      "convert with .to(kInt64)",
      Error);
  CHECK_THROWS_WITH_AS(embedding(arange(4), tensor({1})),
                       "embedding: weight must be 2-D [V, D], got shape [4] (indices shape [1])", Error);
}

TEST_CASE("embedding backward accumulates into repeated rows") {
  Tensor w = leaf({4, 2});
  const Tensor e = embedding(w, tensor({{1, 3}, {1, 1}}));
  e.backward(ones({2, 2, 2}));
  CHECK(w.grad().to_vector<double>() == D{0, 0, 3, 3, 0, 0, 1, 1});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return embedding(in[0], tensor({{2, 0, 2}, {1, 1, 0}}));
      },
      {leaf({3, 2})});
}

// ---- gather ----------------------------------------------------------------------------------------
TEST_CASE("gather follows torch.gather") {
  const Tensor x = tensor({{1, 2}, {3, 4}});
  // out[i][j] = x[i][index[i][j]]
  CHECK(gather(x, 1, tensor({{0, 0}, {1, 0}})).to_vector<int64_t>() == V{1, 1, 4, 3});
  // out[i][j] = x[index[i][j]][j]
  CHECK(gather(x, 0, tensor({{1, 0}, {1, 1}, {0, 0}})).to_vector<int64_t>() == V{3, 2, 3, 4, 1, 2});
  CHECK(gather(x, 0, tensor({{1, 0}, {1, 1}, {0, 0}})).shape() == Shape{3, 2});
  // index smaller than x outside the axis: reads x's leading corner
  const Tensor y = iota({3, 4});
  CHECK(gather(y, 1, tensor(V{3, 0}, {2, 1})).to_vector<int64_t>() == V{3, 4});
  CHECK(gather(y, -1, tensor(V{3, 0}, {2, 1})).shape() == Shape{2, 1});
  // 3-D, axis 1: out[i][j][k] = z[i][index[i][j][k]][k]
  const Tensor z = iota({2, 3, 2});
  const Tensor out = gather(z, 1, tensor(V{2, 0, 1, 1}, {2, 1, 2}));
  CHECK(out.shape() == Shape{2, 1, 2});
  CHECK(out.to_vector<int64_t>() == V{4, 1, 8, 9});
  CHECK(gather(z, 2, zeros({2, 3, 0}, kInt64)).shape() == Shape{2, 3, 0});
  // the classic use: pick each row's target logit
  CHECK(gather(y, 1, tensor(V{2, 1, 0}, {3, 1})).to_vector<int64_t>() == V{2, 5, 8});
}

TEST_CASE("gather errors") {
  const Tensor x = iota({2, 3});
  CHECK_THROWS_WITH_AS(gather(x, 1, tensor({0, 1})),
                       "gather: index must have the rank of x, got index shape [2] for x shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, zeros({3, 1}, kInt64)),
                       "gather: index shape [3, 1] exceeds x shape [2, 3] at axis 0 (only axis 1 may be larger)",
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, tensor({{0, 3}, {1, 1}})),
                       "gather: index 3 is out of range for axis 1 of size 3 (index shape [2, 2], x shape [2, 3])",
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 0, tensor(D{0}, {1, 1})),
                       "gather: indices must be an int64 tensor, got float32 (index shape [1, 1], x shape [2, 3]); "
                       "convert with .to(kInt64)",
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, -3, zeros({1, 1}, kInt64)),
                       "gather: axis -3 is out of range for a tensor of shape [2, 3]", Error);
  // index larger than x along the gather axis is fine
  CHECK(gather(x, 1, zeros({1, 5}, kInt64)).to_vector<int64_t>() == V{0, 0, 0, 0, 0});
}

TEST_CASE("gather backward scatter-adds") {
  Tensor x = leaf({2, 3});
  const Tensor y = gather(x, 1, tensor({{2, 2, 0}, {1, 0, 1}}));
  CHECK(std::string(y.grad_fn_name()) == "gather");
  y.backward(tensor({{1, 2, 3}, {4, 5, 6}}));
  CHECK(x.grad().to_vector<double>() == D{3, 0, 3, 5, 10, 0});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return gather(in[0], 1, tensor({{2, 2, 0, 1}, {1, 0, 1, 1}}));
      },
      {leaf({2, 3})});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return gather(in[0], 0, tensor(V{1, 0, 1, 1}, {2, 1, 2}));
      },
      {leaf({2, 3, 2})});
}

// ---- scatter / scatter_add / index_add ---------------------------------------------------------------
TEST_CASE("scatter writes src (or a number) at index positions of a copy of x") {
  const Tensor x = zeros({2, 4}, kInt64);
  const Tensor index = tensor({{3, 0}, {1, 2}});
  const Tensor src = tensor({{10, 20, 30}, {40, 50, 60}});  // larger than index: the rest is not used
  CHECK(scatter(x, 1, index, src).to_vector<int64_t>() == V{20, 0, 0, 10, 0, 40, 50, 0});
  CHECK(scatter(x, 1, index, 7).to_vector<int64_t>() == V{7, 0, 0, 7, 0, 7, 7, 0});
  CHECK(x.to_vector<int64_t>() == V(8, 0));  // x itself is unchanged
  CHECK(scatter(x, 0, tensor({{1, 0, 1, 0}}), tensor({{10, 20, 30, 40}})).to_vector<int64_t>() ==
        V{0, 20, 0, 40, 10, 0, 30, 0});
  CHECK(scatter(zeros({3}), 0, tensor({2}), 2.5).to_vector() == std::vector<float>{0, 0, 2.5});
  CHECK_THROWS_WITH_AS(scatter(x, 1, tensor({{4}}), 1),
                       "scatter: index 4 is out of range for axis 1 of size 4 (index shape [1, 1], x shape [2, 4])",
                       Error);
  CHECK_THROWS_WITH_AS(scatter(x, 1, tensor({{1}}), src.to(kFloat32)),
                       "scatter: src has dtype float32 but x has int64 (src shape [2, 3], x shape [2, 4]); convert one "
                       "with .to()",
                       Error);
  CHECK_THROWS_WITH_AS(scatter(x, 1, tensor({{1, 2, 3, 0}}), src),
                       "scatter: index shape [1, 4] exceeds src shape [2, 3] at axis 1", Error);
  CHECK_THROWS_WITH_AS(scatter(x, 1, tensor({{1}, {2}, {0}}), 1),
                       "scatter: index shape [3, 1] exceeds x shape [2, 4] at axis 0 (only axis 1 may be larger)", Error);
  CHECK_THROWS_WITH_AS(scatter(x, 1, tensor({1}), 1),
                       "scatter: index must have the rank of x, got index shape [1] for x shape [2, 4]", Error);
  CHECK_THROWS_WITH_AS(scatter(x, 1, tensor({{1.0}}), 1), doctest::Contains("scatter: indices must be an int64 tensor"),
                       Error);
}

TEST_CASE("scatter gradients: x except the written positions, src gathered back (0 where unused)") {
  Tensor x = leaf({2, 3}), src = leaf({2, 2});
  scatter(x, 1, tensor({{2}, {0}}), src).backward(reshape(arange(1.0, 7.0, 1.0, kFloat64), {2, 3}));
  CHECK(x.grad().to_vector<double>() == D{1, 2, 0, 0, 5, 6});
  CHECK(src.grad().to_vector<double>() == D{3, 0, 4, 0});
  const Tensor y = leaf({3, 4}), s = leaf({2, 4});
  const Tensor idx = tensor({{2, 0, 1, 1}, {0, 1, 2, 0}});  // no position twice along axis 0 per column
  expect_gradcheck([idx](const std::vector<Tensor>& v) { return scatter(v[0], 0, idx, v[1]); }, {y, s});
  expect_gradcheck([idx](const std::vector<Tensor>& v) { return scatter(v[0], 0, idx, -1.5); }, {y});
}

TEST_CASE("scatter_add adds at repeated positions; index_add adds slices, with alpha") {
  const Tensor x = zeros({2, 3}, kInt64);
  CHECK(scatter_add(x, 1, tensor({{0, 0, 2}, {1, 1, 1}}), tensor({{1, 2, 3}, {4, 5, 6}})).to_vector<int64_t>() ==
        V{3, 0, 3, 0, 15, 0});
  CHECK(index_add(x, 0, tensor({1, 1}), tensor({{1, 2, 3}, {10, 20, 30}})).to_vector<int64_t>() ==
        V{0, 0, 0, 11, 22, 33});
  CHECK(index_add(zeros({3}), 0, tensor({0, 2}), tensor({1.0, 2.0}), 0.5).to_vector() == std::vector<float>{0.5, 0, 1});
  CHECK_THROWS_WITH_AS(index_add(x, 0, tensor({1}), tensor({{1, 2}})),
                       "index_add: source must have shape [1, 3] (x shape [2, 3], index shape [1]), got [1, 2]", Error);
  CHECK_THROWS_WITH_AS(index_add(x, 0, tensor({1}), tensor({{1, 2, 3}}), 0.5),
                       "index_add: for integral tensors, alpha must not be a floating point number (got 0.5, x shape [2, "
                       "3])",
                       Error);
  CHECK_THROWS_WITH_AS(index_add(x, 0, tensor({2}), tensor({{1, 2, 3}})),
                       "index_add: index 2 is out of range for axis 0 of size 2 (index shape [1], x shape [2, 3])", Error);
  CHECK_THROWS_WITH_AS(index_add(x, 0, tensor({{0}}), tensor({{1, 2, 3}})),
                       "index_add: index must be 1-D, got shape [1, 1] (x shape [2, 3])", Error);
  const Tensor y = leaf({3, 4}), s = leaf({2, 4}), t = leaf({3, 3});
  const Tensor idx = tensor({{2, 2, 1, 1}, {0, 2, 2, 0}});
  expect_gradcheck([idx](const std::vector<Tensor>& v) { return scatter_add(v[0], 0, idx, v[1]); }, {y, s});
  expect_gradcheck([](const std::vector<Tensor>& v) { return index_add(v[0], 1, tensor({3, 0, 3}), v[1], -2.0); },
                   {y, t});
}

// ---- one_hot -----------------------------------------------------------------------------------------
TEST_CASE("one_hot: int64 [indices..., num_classes], inferred from the largest index") {
  CHECK(one_hot(tensor({0, 2}), 4).to_vector<int64_t>() == V{1, 0, 0, 0, 0, 0, 1, 0});
  CHECK(one_hot(tensor({{1}, {0}})).shape() == Shape{2, 1, 2});
  CHECK(one_hot(tensor({1, 0})).dtype() == kInt64);
  CHECK(one_hot(zeros({0}, kInt64), 3).shape() == Shape{0, 3});
  CHECK_THROWS_WITH_AS(one_hot(tensor({0, 3}), 3), "one_hot: class value 3 at position 1 is not in [0, 3) (indices shape [2])",
                       Error);
  CHECK_THROWS_WITH_AS(one_hot(tensor({-1}), 3), doctest::Contains("one_hot: class value -1"), Error);
  CHECK_THROWS_WITH_AS(one_hot(zeros({0}, kInt64)),
                       "one_hot: cannot infer the number of classes from an empty tensor of shape [0]; pass num_classes",
                       Error);
  CHECK_THROWS_WITH_AS(one_hot(tensor({1.0})), "one_hot: indices must be an int64 tensor, got float32 (shape [1])", Error);
}
