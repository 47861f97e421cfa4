// Tests for framework/ops/shape.cpp: reshape family, permute/transpose, narrow/slice, concat/stack,
// split/chunk/unbind, flip and expand: values (int64 tensors, exact; every dtype at the end), error messages
// and gradients (float64 leaves).
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
using V = std::vector<int64_t>;
using D = std::vector<double>;
using unroll_test::iota;  // int64 0, 1, ..., numel - 1
// A float64 leaf with distinct, non-round values (no ties, no kinks at round numbers).
Tensor leaf(const Shape& s) { return unroll_test::distinct_leaf(s, kFloat64); }
using unroll_test::expect_gradcheck;
}  // namespace

// ---- reshape family --------------------------------------------------------------------------------
TEST_CASE("reshape keeps row-major order, infers -1 and shares the buffer") {
  const Tensor x = iota({2, 3});
  const Tensor y = reshape(x, {3, 2});
  CHECK(y.shape() == Shape{3, 2});
  CHECK(y.to_vector<int64_t>() == V{0, 1, 2, 3, 4, 5});
  CHECK(y.data_ptr() == x.data_ptr());  // no copy
  CHECK(reshape(x, {-1}).shape() == Shape{6});
  CHECK(reshape(x, {1, -1, 2}).shape() == Shape{1, 3, 2});
  CHECK(x.reshape({6, 1}).shape() == Shape{6, 1});
  CHECK(reshape(scalar(4), {1, 1}).shape() == Shape{1, 1});
  CHECK(reshape(tensor({7}), {}).item<int64_t>() == 7);
  CHECK(reshape(zeros({0, 3}), {3, -1, 2}).shape() == Shape{3, 0, 2});
}

TEST_CASE("reshape errors name the op and both shapes") {
  const Tensor x = iota({2, 3});
  CHECK_THROWS_WITH_AS(reshape(x, {4, 2}), "reshape: shape [4, 2] is invalid for a tensor of shape [2, 3] (6 elements)",
                       Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-1, 4}),
                       "reshape: shape [-1, 4] is invalid for a tensor of shape [2, 3] (6 elements)", Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-1, -1}),
                       "reshape: only one dimension can be -1, got shape [-1, -1] for a tensor of shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-2, -3}), doctest::Contains("reshape: invalid dimension -2"), Error);
  CHECK_THROWS_WITH_AS(reshape(zeros({0}), {0, -1}), doctest::Contains("reshape:"), Error);
}

TEST_CASE("reshape backward reads the gradient back in the input's shape") {
  Tensor x = leaf({2, 3});
  const Tensor y = reshape(x, {3, 2});
  CHECK(std::string(y.grad_fn_name()) == "reshape");
  const Tensor seed = iota({3, 2}).to(kFloat64);  // the root's dtype: the engine may use its buffer as is
  y.backward(seed, /*retain_graph=*/true);
  CHECK(x.grad().shape() == Shape{2, 3});
  CHECK(x.grad().to_vector<double>() == D{0, 1, 2, 3, 4, 5});
  // A second pass accumulates into x.grad without ever writing into the caller's seed (whose buffer the
  // first gradient was a view of).
  y.backward(seed);
  CHECK(x.grad().to_vector<double>() == D{0, 2, 4, 6, 8, 10});
  CHECK(seed.to_vector<double>() == D{0, 1, 2, 3, 4, 5});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return reshape(in[0], {-1, 2}) * iota({3, 2});
      },
      {leaf({2, 3})});
}

TEST_CASE("reshape records nothing without grad") {
  Tensor x = leaf({4});
  {
    NoGradGuard guard;
    CHECK_FALSE(reshape(x, {2, 2}).requires_grad());
  }
  CHECK_FALSE(reshape(iota({4}), {2, 2}).requires_grad());
  CHECK(reshape(x, {2, 2}).requires_grad());
}

TEST_CASE("flatten merges an axis range") {
  const Tensor x = iota({2, 3, 4, 5});
  CHECK(flatten(x).shape() == Shape{120});
  CHECK(flatten(x, 1).shape() == Shape{2, 60});
  CHECK(flatten(x, 1, 2).shape() == Shape{2, 12, 5});
  CHECK(flatten(x, -2, -1).shape() == Shape{2, 3, 20});
  CHECK(flatten(x, 2, 2).shape() == Shape{2, 3, 4, 5});
  CHECK(flatten(scalar(3)).shape() == Shape{1});
  CHECK(flatten(x, 1, 2).data_ptr() == x.data_ptr());
  CHECK_THROWS_WITH_AS(flatten(x, 2, 1), "flatten: start axis 2 comes after end axis 1 (tensor of shape [2, 3, 4, 5])",
                       Error);
  CHECK_THROWS_WITH_AS(flatten(x, 0, 4), "flatten: axis 4 is out of range for a tensor of shape [2, 3, 4, 5]", Error);
  expect_gradcheck([](const std::vector<Tensor>& in) { return flatten(in[0], 0, 1); }, {leaf({2, 2, 3})});
}

TEST_CASE("unsqueeze and squeeze insert and remove size-1 axes") {
  const Tensor x = iota({2, 3});
  CHECK(unsqueeze(x, 0).shape() == Shape{1, 2, 3});
  CHECK(unsqueeze(x, 1).shape() == Shape{2, 1, 3});
  CHECK(unsqueeze(x, 2).shape() == Shape{2, 3, 1});
  CHECK(unsqueeze(x, -1).shape() == Shape{2, 3, 1});
  CHECK(unsqueeze(x, -3).shape() == Shape{1, 2, 3});
  CHECK(unsqueeze(scalar(1), 0).shape() == Shape{1});
  CHECK(unsqueeze(x, 1).to_vector<int64_t>() == x.to_vector<int64_t>());
  CHECK_THROWS_WITH_AS(unsqueeze(x, 3), "unsqueeze: axis 3 is out of range for a tensor of shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(unsqueeze(x, -4), "unsqueeze: axis -4 is out of range for a tensor of shape [2, 3]", Error);

  const Tensor y = iota({2, 1, 3, 1});
  CHECK(squeeze(y, 1).shape() == Shape{2, 3, 1});
  CHECK(squeeze(y, -1).shape() == Shape{2, 1, 3});
  CHECK(squeeze(y, 0).shape() == Shape{2, 1, 3, 1});  // not size 1: unchanged, as torch.squeeze(x, dim)
  CHECK(squeeze(tensor({5}), 0).dim() == 0);
  CHECK_THROWS_WITH_AS(squeeze(y, 4), "squeeze: axis 4 is out of range for a tensor of shape [2, 1, 3, 1]", Error);
  expect_gradcheck([](const std::vector<Tensor>& in) { return squeeze(unsqueeze(in[0], 1), 2); }, {leaf({2, 1, 3})});
}

// ---- permute / transpose ---------------------------------------------------------------------------
TEST_CASE("permute moves axes") {
  const Tensor x = iota({2, 3, 4});  // x[i][j][k] = 12 i + 4 j + k
  const Tensor y = permute(x, {2, 0, 1});
  CHECK(y.shape() == Shape{4, 2, 3});
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j) CHECK(y.at<int64_t>({k, i, j}) == 12 * i + 4 * j + k);
  CHECK(permute(x, {-1, 0, 1}).to_vector<int64_t>() == y.to_vector<int64_t>());
  CHECK(permute(x, {0, 1, 2}).to_vector<int64_t>() == x.to_vector<int64_t>());
  CHECK(y.data_ptr() != x.data_ptr());
  CHECK(permute(scalar(2), {}).item<int64_t>() == 2);
  CHECK(permute(zeros({0, 2}), {1, 0}).shape() == Shape{2, 0});

  CHECK_THROWS_WITH_AS(permute(x, {0, 1}), "permute: 2 axes given for a tensor of shape [2, 3, 4]", Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 2, -1}),
                       "permute: axis -1 appears twice in the permutation (tensor of shape [2, 3, 4])", Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1, 3}), "permute: axis 3 is out of range for a tensor of shape [2, 3, 4]", Error);
}

TEST_CASE("permute backward applies the inverse permutation") {
  Tensor x = leaf({2, 3, 4});
  const Tensor y = permute(x, {1, 2, 0});  // [3, 4, 2]
  CHECK(std::string(y.grad_fn_name()) == "permute");
  y.backward(permute(iota({2, 3, 4}), {1, 2, 0}));
  CHECK(x.grad().shape() == Shape{2, 3, 4});
  CHECK(x.grad().to_vector<double>() == iota({2, 3, 4}).to(kFloat64).to_vector<double>());
  expect_gradcheck([](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 1}); }, {leaf({2, 3, 2})});
}

TEST_CASE("transpose swaps two axes") {
  const Tensor m = tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(transpose(m, 0, 1).shape() == Shape{3, 2});
  CHECK(transpose(m, 0, 1).to_vector<int64_t>() == V{1, 4, 2, 5, 3, 6});
  CHECK(m.t().to_vector<int64_t>() == V{1, 4, 2, 5, 3, 6});
  CHECK(transpose(m, -1, -2).to_vector<int64_t>() == V{1, 4, 2, 5, 3, 6});
  CHECK(transpose(m, 1, 1).to_vector<int64_t>() == m.to_vector<int64_t>());
  const Tensor x = iota({2, 3, 4});
  const Tensor y = transpose(x, 0, 2);  // [4, 3, 2]
  CHECK(y.shape() == Shape{4, 3, 2});
  CHECK(y.at<int64_t>({3, 1, 1}) == x.at<int64_t>({1, 1, 3}));
  CHECK_THROWS_WITH_AS(transpose(m, 0, 2), "transpose: axis 2 is out of range for a tensor of shape [2, 3]", Error);
  expect_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 2); }, {leaf({2, 3, 2})});
}

// ---- narrow / slice --------------------------------------------------------------------------------
TEST_CASE("narrow copies a contiguous range along an axis") {
  const Tensor x = iota({3, 4});
  CHECK(narrow(x, 0, 1, 2).shape() == Shape{2, 4});
  CHECK(narrow(x, 0, 1, 2).to_vector<int64_t>() == V{4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(narrow(x, 1, 1, 2).to_vector<int64_t>() == V{1, 2, 5, 6, 9, 10});
  CHECK(narrow(x, -1, -1, 1).to_vector<int64_t>() == V{3, 7, 11});
  CHECK(narrow(x, 1, 4, 0).shape() == Shape{3, 0});
  CHECK(narrow(iota({2, 3, 2}), 1, 2, 1).to_vector<int64_t>() == V{4, 5, 10, 11});
  CHECK_THROWS_WITH_AS(narrow(x, 1, 3, 2),
                       "narrow: start 3 + length 2 exceeds the size 4 of axis 1 (tensor of shape [3, 4])", Error);
  CHECK_THROWS_WITH_AS(narrow(x, 1, 5, 0), "narrow: start 5 is out of range for axis 1 of a tensor of shape [3, 4]",
                       Error);
  CHECK_THROWS_WITH_AS(narrow(x, 0, 0, -1), "narrow: length must be non-negative, got -1 (tensor of shape [3, 4])",
                       Error);
  CHECK_THROWS_WITH_AS(narrow(x, 2, 0, 1), "narrow: axis 2 is out of range for a tensor of shape [3, 4]", Error);
}

TEST_CASE("narrow backward writes the gradient into zeros") {
  Tensor x = leaf({3, 4});
  const Tensor y = narrow(x, 1, 1, 2);
  CHECK(std::string(y.grad_fn_name()) == "narrow");
  y.backward(tensor({{1, 2}, {3, 4}, {5, 6}}));
  CHECK(x.grad().to_vector<double>() == D{0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0});
  expect_gradcheck([](const std::vector<Tensor>& in) { return narrow(in[0], 1, 1, 2); }, {leaf({2, 3, 2})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return narrow(in[0], 0, 1, 1); }, {leaf({3, 2})});
}

TEST_CASE("slice follows Python slice bounds") {
  const Tensor v = arange(10);
  CHECK(slice(v, 0, 2, 5).to_vector<int64_t>() == V{2, 3, 4});
  CHECK(slice(v, 0, 1, 8, 3).to_vector<int64_t>() == V{1, 4, 7});
  CHECK(slice(v, 0, 1, 9, 3).to_vector<int64_t>() == V{1, 4, 7});
  CHECK(slice(v, 0, 1, 10, 3).to_vector<int64_t>() == V{1, 4, 7});
  CHECK(slice(v, 0, -3, 100).to_vector<int64_t>() == V{7, 8, 9});   // v[-3:100]
  CHECK(slice(v, 0, -100, 2).to_vector<int64_t>() == V{0, 1});      // v[-100:2]
  CHECK(slice(v, 0, 0, -8).to_vector<int64_t>() == V{0, 1});        // v[0:-8]
  CHECK(slice(v, 0, 0, 10, 4).to_vector<int64_t>() == V{0, 4, 8});  // v[::4]
  CHECK(slice(v, 0, 5, 3).numel() == 0);                            // v[5:3]
  CHECK(slice(v, 0, 12, 20, 2).numel() == 0);                       // v[12:20:2]
  const Tensor m = iota({3, 4});
  CHECK(slice(m, 1, 1, 4, 2).shape() == Shape{3, 2});
  CHECK(slice(m, 1, 1, 4, 2).to_vector<int64_t>() == V{1, 3, 5, 7, 9, 11});
  CHECK(slice(m, -2, -2, 3).to_vector<int64_t>() == V{4, 5, 6, 7, 8, 9, 10, 11});
  CHECK_THROWS_WITH_AS(slice(v, 0, 0, 5, 0), "slice: step must be positive, got 0 (tensor of shape [10])", Error);
  CHECK_THROWS_WITH_AS(slice(m, 2, 0, 1), "slice: axis 2 is out of range for a tensor of shape [3, 4]", Error);
}

TEST_CASE("slice gradients") {
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 1, 0, 3, 2); }, {leaf({2, 4})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 0, -2, 10); }, {leaf({3, 2})});
  Tensor x = leaf({5});
  slice(x, 0, 0, 5, 2).backward(tensor({1, 2, 3}));
  CHECK(x.grad().to_vector<double>() == D{1, 0, 2, 0, 3});
}

// ---- concat / stack --------------------------------------------------------------------------------
TEST_CASE("concat joins along an axis") {
  const Tensor a = tensor({{1, 2}, {3, 4}});
  const Tensor b = tensor({{5, 6}});
  const Tensor c = tensor(V{7, 8}, {2, 1});
  CHECK(concat({a, b}, 0).shape() == Shape{3, 2});
  CHECK(concat({a, b}, 0).to_vector<int64_t>() == V{1, 2, 3, 4, 5, 6});
  CHECK(concat({a, c}, 1).shape() == Shape{2, 3});
  CHECK(concat({a, c}, 1).to_vector<int64_t>() == V{1, 2, 7, 3, 4, 8});
  CHECK(concat({c, a, c}, -1).to_vector<int64_t>() == V{7, 1, 2, 7, 8, 3, 4, 8});
  CHECK(concat({a}, 0).to_vector<int64_t>() == a.to_vector<int64_t>());
  CHECK(concat({a, zeros({0, 2}, kInt64), b}, 0).to_vector<int64_t>() == V{1, 2, 3, 4, 5, 6});
  const Tensor x = iota({2, 2, 2}), y = iota({2, 1, 2});
  CHECK(concat({x, y}, 1).to_vector<int64_t>() == V{0, 1, 2, 3, 0, 1, 4, 5, 6, 7, 2, 3});
  // mixed dtypes promote to the common one, as torch.cat
  const Tensor mixed = concat({a, tensor({{0.5, 1.5}})}, 0);
  CHECK(mixed.dtype() == kFloat32);
  CHECK(mixed.to_vector() == std::vector<float>{1, 2, 3, 4, 0.5, 1.5});
  CHECK(concat({tensor({true}), tensor({2})}, 0).to_vector<int64_t>() == V{1, 2});
}

TEST_CASE("concat errors") {
  CHECK_THROWS_WITH_AS(concat({}, 0), "concat: expects a non-empty list of tensors", Error);
  CHECK_THROWS_WITH_AS(concat({zeros({2, 3}), zeros({2, 1}), zeros({4, 5})}, 1),
                       "concat: tensors 0 and 2 differ outside axis 1: [2, 3] vs [4, 5]", Error);
  CHECK_THROWS_WITH_AS(concat({zeros({2, 3}), zeros({2, 3, 1})}, 0),
                       "concat: tensors 0 and 1 differ outside axis 0: [2, 3] vs [2, 3, 1]", Error);
  CHECK_THROWS_WITH_AS(concat({zeros({2, 3}), zeros({2, 3})}, 2),
                       "concat: axis 2 is out of range for a tensor of shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(concat({scalar(1), scalar(2)}, 0), doctest::Contains("concat: cannot concatenate rank-0"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({zeros({2}), Tensor()}, 0), "concat: tensor 1 is undefined", Error);
}

TEST_CASE("concat backward splits the gradient; inputs without grad are skipped") {
  Tensor a = leaf({2, 2});
  const Tensor b = ones({2, 1});  // no grad
  Tensor c = leaf({2, 3});
  const Tensor y = concat({a, b, c}, 1);
  CHECK(std::string(y.grad_fn_name()) == "concat");
  y.backward(iota({2, 6}));
  CHECK(a.grad().to_vector<double>() == D{0, 1, 6, 7});
  CHECK(c.grad().to_vector<double>() == D{3, 4, 5, 9, 10, 11});
  CHECK_FALSE(b.grad().defined());
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[1], in[0]}, 0);
      },
      {leaf({1, 3}), leaf({2, 3})});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[1]}, -1);
      },
      {leaf({2, 2, 1}), leaf({2, 2, 3})});
}

TEST_CASE("stack adds a new axis") {
  const Tensor a = tensor({1, 2, 3}), b = tensor({4, 5, 6});
  CHECK(stack({a, b}).shape() == Shape{2, 3});
  CHECK(stack({a, b}).to_vector<int64_t>() == V{1, 2, 3, 4, 5, 6});
  CHECK(stack({a, b}, 1).shape() == Shape{3, 2});
  CHECK(stack({a, b}, 1).to_vector<int64_t>() == V{1, 4, 2, 5, 3, 6});
  CHECK(stack({a, b}, -1).to_vector<int64_t>() == V{1, 4, 2, 5, 3, 6});
  CHECK(stack({scalar(1), scalar(2)}).to_vector<int64_t>() == V{1, 2});
  CHECK_THROWS_WITH_AS(stack({}), "stack: expects a non-empty list of tensors", Error);
  CHECK_THROWS_WITH_AS(stack({a, b, tensor({1, 2})}), "stack: tensors 0 and 2 have different shapes: [3] vs [2]",
                       Error);
  CHECK_THROWS_WITH_AS(stack({a, b}, 2), "stack: axis 2 is out of range for a tensor of shape [3]", Error);
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return stack({in[0], in[1], in[0]}, 1);
      },
      {leaf({2, 2}), leaf({2, 2})});
}

// ---- split / chunk / unbind ------------------------------------------------------------------------
TEST_CASE("split by size and by sizes") {
  const Tensor x = iota({5, 2});
  auto parts = split(x, 2);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].to_vector<int64_t>() == V{0, 1, 2, 3});
  CHECK(parts[1].to_vector<int64_t>() == V{4, 5, 6, 7});
  CHECK(parts[2].shape() == Shape{1, 2});
  CHECK(parts[2].to_vector<int64_t>() == V{8, 9});
  CHECK(split(x, 5).size() == 1);
  CHECK(split(x, 7).size() == 1);
  parts = split(x, 1, 1);
  REQUIRE(parts.size() == 2);
  CHECK(parts[1].to_vector<int64_t>() == V{1, 3, 5, 7, 9});

  parts = split(x, std::vector<int64_t>{1, 0, 4});
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].to_vector<int64_t>() == V{0, 1});
  CHECK(parts[1].shape() == Shape{0, 2});
  CHECK(parts[2].shape() == Shape{4, 2});
  CHECK(split(zeros({0, 3}), 2).size() == 1);

  CHECK_THROWS_WITH_AS(split(x, 0), "split: split_size must be positive, got 0 (tensor of shape [5, 2])", Error);
  CHECK_THROWS_WITH_AS(split(x, std::vector<int64_t>{2, 2}),
                       "split: sizes add up to 4 but axis 0 of a tensor of shape [5, 2] has size 5", Error);
  CHECK_THROWS_WITH_AS(split(x, std::vector<int64_t>{6, -1}), doctest::Contains("split: negative size -1"), Error);
  CHECK_THROWS_WITH_AS(split(x, 1, 2), "split: axis 2 is out of range for a tensor of shape [5, 2]", Error);
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        auto p = split(in[0], 2, 1);  // sizes 2, 2, 1
        return concat({p[2], p[0], p[1] * p[1]}, 1);
      },
      {leaf({2, 5})});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        auto p = split(in[0], std::vector<int64_t>{1, 2});
        return p[1] * 3 + narrow(p[0], 0, 0, 1);
      },
      {leaf({3, 2})});
}

TEST_CASE("chunk follows torch.chunk (ceil-sized pieces, possibly fewer)") {
  const auto sizes = [](const std::vector<Tensor>& parts) {
    std::vector<int64_t> s;
    for (const Tensor& p : parts) s.push_back(p.size(0));
    return s;
  };
  CHECK(sizes(chunk(arange(6), 3)) == std::vector<int64_t>{2, 2, 2});
  CHECK(sizes(chunk(arange(5), 4)) == std::vector<int64_t>{2, 2, 1});
  CHECK(sizes(chunk(arange(6), 4)) == std::vector<int64_t>{2, 2, 2});
  CHECK(sizes(chunk(arange(7), 3)) == std::vector<int64_t>{3, 3, 1});
  CHECK(sizes(chunk(arange(2), 5)) == std::vector<int64_t>{1, 1});
  CHECK(sizes(chunk(zeros({0}), 3)) == std::vector<int64_t>{0, 0, 0});
  const auto parts = chunk(iota({2, 4}), 2, -1);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].to_vector<int64_t>() == V{0, 1, 4, 5});
  CHECK(parts[1].to_vector<int64_t>() == V{2, 3, 6, 7});
  CHECK_THROWS_WITH_AS(chunk(arange(4), 0), "chunk: chunks must be positive, got 0 (tensor of shape [4])", Error);
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        auto p = chunk(in[0], 3, 1);  // LSTM-style gate split
        return p[0] * p[1] + p[2];
      },
      {leaf({2, 6})});
}

TEST_CASE("unbind removes an axis") {
  const Tensor x = iota({2, 3});
  auto rows = unbind(x);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].shape() == Shape{3});
  CHECK(rows[1].to_vector<int64_t>() == V{3, 4, 5});
  auto cols = unbind(x, 1);
  REQUIRE(cols.size() == 3);
  CHECK(cols[2].shape() == Shape{2});
  CHECK(cols[2].to_vector<int64_t>() == V{2, 5});
  CHECK(unbind(iota({1, 1}), -1).size() == 1);
  CHECK(unbind(zeros({0, 3})).empty());
  CHECK_THROWS_WITH_AS(unbind(scalar(1)), "unbind: axis 0 is out of range for a tensor of shape []", Error);
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        auto steps = unbind(in[0], 1);
        return stack({steps[2], steps[0] * steps[1]}, 0);
      },
      {leaf({2, 3, 2})});
}

// ---- flip ------------------------------------------------------------------------------------------
TEST_CASE("flip reverses one axis") {
  const Tensor x = iota({2, 3});
  CHECK(flip(x, 0).to_vector<int64_t>() == V{3, 4, 5, 0, 1, 2});
  CHECK(flip(x, 1).to_vector<int64_t>() == V{2, 1, 0, 5, 4, 3});
  CHECK(flip(x, -1).to_vector<int64_t>() == V{2, 1, 0, 5, 4, 3});
  CHECK(flip(iota({2, 2, 2}), 1).to_vector<int64_t>() == V{2, 3, 0, 1, 6, 7, 4, 5});
  CHECK(flip(zeros({0, 2}), 0).shape() == Shape{0, 2});
  CHECK_THROWS_WITH_AS(flip(x, 2), "flip: axis 2 is out of range for a tensor of shape [2, 3]", Error);
  Tensor v = leaf({3});
  const Tensor y = flip(v, 0);
  CHECK(std::string(y.grad_fn_name()) == "flip");
  y.backward(tensor({1, 2, 3}));
  CHECK(v.grad().to_vector<double>() == D{3, 2, 1});
  expect_gradcheck([](const std::vector<Tensor>& in) { return flip(in[0], 1); }, {leaf({2, 3, 2})});
}

// ---- expand ----------------------------------------------------------------------------------------
TEST_CASE("expand broadcasts by copying") {
  const Tensor col = tensor(V{1, 2}, {2, 1});
  CHECK(expand(col, {2, 3}).to_vector<int64_t>() == V{1, 1, 1, 2, 2, 2});
  CHECK(expand(tensor({1, 2, 3}), {2, 3}).to_vector<int64_t>() == V{1, 2, 3, 1, 2, 3});
  CHECK(expand(col, {2, 2, 2}).to_vector<int64_t>() == V{1, 1, 2, 2, 1, 1, 2, 2});
  CHECK(expand(col, {3, -1, 2}).shape() == Shape{3, 2, 2});
  CHECK(expand(scalar(5), {2, 2}).to_vector<int64_t>() == V{5, 5, 5, 5});
  CHECK(expand(col, {2, 1}).to_vector<int64_t>() == V{1, 2});
  CHECK(expand(col, {2, 0}).shape() == Shape{2, 0});
  CHECK_THROWS_WITH_AS(
      expand(col, {3, 3}),
      "expand: the size 2 of axis 0 of a tensor of shape [2, 1] must match the size 3 at axis 0 of the "
      "target [3, 3] (or be 1)",
      Error);
  CHECK_THROWS_WITH_AS(expand(col, {2}), "expand: cannot expand a tensor of shape [2, 1] to fewer dimensions [2]",
                       Error);
  CHECK_THROWS_WITH_AS(expand(col, {-1, 2, 1}), doctest::Contains("expand: -1 is not allowed"), Error);
  CHECK_THROWS_WITH_AS(expand(col, {2, -2}), doctest::Contains("expand: invalid dimension -2"), Error);
}

TEST_CASE("expand backward sums over the broadcast axes") {
  Tensor x = leaf({2, 1});
  const Tensor y = expand(x, {3, 2, 2});
  CHECK(std::string(y.grad_fn_name()) == "expand");
  y.backward(iota({3, 2, 2}));
  // x[0] collects 0+1, 4+5, 8+9; x[1] collects 2+3, 6+7, 10+11
  CHECK(x.grad().to_vector<double>() == D{27, 39});
  expect_gradcheck([](const std::vector<Tensor>& in) { return expand(in[0], {2, 3, 2}); }, {leaf({3, 1})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return expand(in[0], {2, 3}); }, {leaf({3})});
}

// ---- composites chain through the primitives -------------------------------------------------------
TEST_CASE("a chain of shape ops differentiates end to end") {
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        const Tensor h = transpose(reshape(in[0], {2, 3, 2}), 0, 1);   // [3, 2, 2]
        const Tensor s = slice(flip(h, 2), 0, 0, 3, 2);                // [2, 2, 2]
        return concat({flatten(s, 1), expand(in[1], {2, 4})}, 1) * 2;  // [2, 8]
      },
      {leaf({12}), leaf({1, 4})});
}

TEST_CASE("shape ops move the elements of every dtype unchanged") {
  // each op on x (of dtype dt) against the same op on the int64 tensor i it was made from
  for (DType dt : {kBool, kInt64, kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const auto as_dt = [dt](const Tensor& t) { return dt == kBool ? gt(t, 2) : t.to(dt); };  // bool: i > 2
    const Tensor i = iota({2, 3});
    const Tensor x = as_dt(i);
    REQUIRE(x.dtype() == dt);
    const auto same = [&](const Tensor& got, const Tensor& want) {
      CHECK(got.dtype() == dt);
      CHECK(got.shape() == want.shape());
      CHECK(got.to(kInt64).to_vector<int64_t>() == as_dt(want).to(kInt64).to_vector<int64_t>());
    };
    same(reshape(x, {3, 2}), reshape(i, {3, 2}));
    same(permute(x, {1, 0}), permute(i, {1, 0}));
    same(narrow(x, 1, 1, 2), narrow(i, 1, 1, 2));
    same(slice(x, 1, 0, 3, 2), slice(i, 1, 0, 3, 2));
    same(concat({x, x}, 1), concat({i, i}, 1));
    same(stack({x, x}, 0), stack({i, i}, 0));
    same(flip(x, 1), flip(i, 1));
    same(expand(narrow(x, 0, 0, 1), {4, 3}), expand(narrow(i, 0, 0, 1), {4, 3}));
    same(split(x, 2, 1)[1], split(i, 2, 1)[1]);
    same(index_select(x, 1, tensor({2, 0})), index_select(i, 1, tensor({2, 0})));
    same(gather(x, 1, tensor({{1}, {2}})), gather(i, 1, tensor({{1}, {2}})));
    same(clone(x), i);
  }
}

TEST_CASE("reshape refuses shapes whose element count overflows (found by fuzz_ops)") {
  // [2^32, 2^32] has 2^64 elements, which wrapped to 0 in int64 and matched an empty tensor
  CHECK_THROWS_WITH_AS(reshape(zeros({0}), {int64_t{1} << 32, int64_t{1} << 32}),
                       "reshape: shape [4294967296, 4294967296] is too large", Error);
  CHECK_THROWS_AS(reshape(zeros({0}), {0, int64_t{1} << 40, int64_t{1} << 40}), Error);
  CHECK(reshape(zeros({0, 3}), {3, 0, 5}).shape() == Shape{3, 0, 5});
}

// ---- repeat / pad ----------------------------------------------------------------------------------
TEST_CASE("repeat tiles along every axis, with leading axes added as in torch.Tensor.repeat") {
  const Tensor x = iota({2, 2});
  CHECK(repeat(x, {1, 2}).to_vector<int64_t>() == V{0, 1, 0, 1, 2, 3, 2, 3});
  CHECK(repeat(x, {2, 1}).to_vector<int64_t>() == V{0, 1, 2, 3, 0, 1, 2, 3});
  CHECK(repeat(x, {3, 1, 1}).shape() == Shape{3, 2, 2});
  CHECK(repeat(iota({2}), {2}).to_vector<int64_t>() == V{0, 1, 0, 1});
  CHECK(repeat(x, {0, 2}).shape() == Shape{0, 4});
  CHECK(repeat(scalar(7), {}).item<int64_t>() == 7);
  CHECK(repeat(x.to(kBool), {1, 2}).dtype() == kBool);
  CHECK_THROWS_WITH_AS(repeat(x, {2}),
                       "repeat: 1 repeats given for a tensor of shape [2, 2]; the number of repeats can not be smaller "
                       "than the number of dimensions",
                       Error);
  CHECK_THROWS_WITH_AS(repeat(x, {1, -1}), "repeat: repeats must be non-negative, got -1 (tensor of shape [2, 2])",
                       Error);
  const Tensor y = leaf({2, 3});
  expect_gradcheck([](const std::vector<Tensor>& v) { return repeat(v[0], {2, 1, 3}); }, {y});
  // every copy's gradient adds up
  Tensor z = tensor({1.0, 2.0}, kFloat64);
  z.requires_grad_();
  sum(repeat(z, {3})).backward();
  CHECK(z.grad().to_vector<double>() == D{3, 3});
}

TEST_CASE("pad: constant padding of the last axes, negative amounts cut, value in x's dtype") {
  const Tensor x = iota({2, 3});
  CHECK(pad(x, {1, 2}).to_vector<int64_t>() == V{0, 0, 1, 2, 0, 0, 0, 3, 4, 5, 0, 0});
  CHECK(pad(x, {0, 0, 1, 0}, 9).to_vector<int64_t>() == V{9, 9, 9, 0, 1, 2, 3, 4, 5});
  CHECK(pad(x, {-1, 1}, 7).to_vector<int64_t>() == V{1, 2, 7, 4, 5, 7});
  CHECK(pad(x, {1, 1}, 2.5).to_vector<int64_t>()[0] == 2);  // as PyTorch: converted to int64
  CHECK(pad(x.to(kFloat32), {1, 0}, 0.5).to_vector()[0] == 0.5);
  const Tensor same = pad(x, {});
  CHECK(same.to_vector<int64_t>() == x.to_vector<int64_t>());
  CHECK(same.data_ptr() != x.data_ptr());  // a new tensor, as PyTorch
  CHECK_THROWS_WITH_AS(pad(x, {1}), "pad: the padding length 1 must be even (tensor of shape [2, 3])", Error);
  CHECK_THROWS_WITH_AS(pad(x, {1, 1, 1, 1, 1, 1}), "pad: 6 pads cover more axes than the 2 of a tensor of shape [2, 3]",
                       Error);
  CHECK_THROWS_WITH_AS(pad(x, {-2, -2}),
                       "pad: padding (-2, -2) of axis 1 of size 3 gives a negative size (tensor of shape [2, 3])", Error);
  const Tensor y = leaf({2, 3, 2});
  expect_gradcheck([](const std::vector<Tensor>& v) { return pad(v[0], {1, 0, -1, 2}, 0.5); }, {y});
}
