// Tests for framework/ops/matmul.cpp: float32 runs unroll's own kernel, float64 OpenBLAS's dgemm; values
// are checked in both, gradchecks on float64 leaves.
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
// A float64 leaf with values U[-1, 1) drawn from Generator(seed).
Tensor sample(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  Tensor t = uniform(s, -1, 1, kFloat64, gen);
  t.requires_grad_();
  return t;
}
// Any floating tensor's values as doubles.
std::vector<double> values(const Tensor& t) { return t.to(kFloat64).to_vector<double>(); }
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
using D = std::vector<double>;
}  // namespace

TEST_CASE("matmul values, with transposes as flags") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const Tensor a = tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, dt);  // [3, 2]
    const Tensor b = tensor({{1.0, 0.0, 2.0}, {0.0, 1.0, 3.0}}, dt);    // [2, 3]
    CHECK(matmul(a, b).dtype() == dt);
    CHECK(values(matmul(a, b)) == D{1, 2, 8, 3, 4, 18, 5, 6, 28});
    CHECK(values(matmul(b, a)) == D{11, 14, 18, 22});
    CHECK(values(matmul(a, a, true, false)) == D{35, 44, 44, 56});  // a^T a
    CHECK(matmul(a, a, false, true).shape() == Shape{3, 3});        // a a^T
    CHECK(values(matmul(b, a, true, true)) == values(matmul(a, b).reshape({3, 3}).transpose(0, 1)));
  }
}

TEST_CASE("matmul shape errors name the shapes") {
  CHECK_THROWS_WITH_AS(matmul(ones({4, 7}), ones({8, 3})), "matmul: inner dimensions differ: [4, 7] x [8, 3]", Error);
  CHECK_THROWS_WITH_AS(matmul(ones({4, 7}), ones({8, 7}), false, false),
                       "matmul: inner dimensions differ: [4, 7] x [8, 7]", Error);
  CHECK_THROWS_WITH_AS(matmul(ones({4}), ones({4, 3})), doctest::Contains("matmul: expects tensors of rank >= 2"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(ones({2, 4, 3}), ones({5, 3, 2})),
                       "matmul: batch dimensions differ: [2, 4, 3] x [5, 3, 2]", Error);
  CHECK_THROWS_WITH_AS(linear(ones({2, 5}), ones({3, 4})), doctest::Contains("linear: input [2, 5] does not end in"),
                       Error);
}

TEST_CASE("matmul dtype rules: the same floating dtype on both sides, no promotion (as PyTorch)") {
  CHECK_THROWS_WITH_AS(
      matmul(ones({2, 3}), ones({3, 4}, kFloat64)),
      "matmul: both operands must have the same dtype, got float32 [2, 3] x float64 [3, 4] (convert one "
      "with .to())",
      Error);
  CHECK_THROWS_WITH_AS(matmul(ones({2, 3}, kInt64), ones({3, 4}, kInt64)),
                       "matmul: expected a floating tensor (float32, float64), got int64", Error);
  CHECK_THROWS_AS(linear(ones({2, 3}, kFloat64), ones({4, 3})), Error);
}

TEST_CASE("gradcheck: matmul in every layout") {
  const Tensor a = sample({3, 4}, 1), b = sample({4, 2}, 2), at = sample({4, 3}, 3), bt = sample({2, 4}, 4);
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {a, b});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1], true, false); }, {at, b});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1], false, true); }, {a, bt});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1], true, true); }, {at, bt});
  // [T, N, K] x [K, M]: leading dims fold into one GEMM
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {sample({2, 3, 4}, 5), b});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1], false, true); }, {sample({2, 3, 4}, 6), bt});
  // batched, each side transposed or not
  const Tensor ba = sample({2, 3, 4}, 7), bb = sample({2, 4, 2}, 8);
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {ba, bb});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1], true, true); },
                   {sample({2, 4, 3}, 9), sample({2, 2, 4}, 10)});
  expect_gradcheck([](const V& v) { return linear(v[0], v[1], v[2]); }, {sample({2, 3, 4}, 11), bt, sample({2}, 12)});
  expect_gradcheck([](const V& v) { return linear(v[0], v[1]); }, {sample({4}, 13), bt});
}

TEST_CASE("matmul with a zero-size dimension: zeros and zero gradients, no crash (found by fuzz_ops)") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    // K = 0: an empty sum, so every output element is 0 (it used to divide by K, then leave garbage)
    Tensor a = zeros({3, 0}, dt), b = zeros({0, 2}, dt);
    a.requires_grad_();
    b.requires_grad_();
    Tensor c = matmul(a, b);
    CHECK(c.shape() == Shape{3, 2});
    CHECK(values(c) == D(6, 0));
    sum(c).backward();
    CHECK(a.grad().shape() == Shape{3, 0});
    CHECK(b.grad().shape() == Shape{0, 2});
    // N = 0 (a Linear with no outputs) and M = 0 (an empty batch): the other operand's gradient is zeros
    for (const auto& [as, bs] : std::vector<std::pair<Shape, Shape>>{
             {{2, 3}, {3, 0}}, {{0, 3}, {3, 2}}, {{2, 0, 3}, {3, 4}}, {{0, 2, 3}, {0, 3, 4}}, {{2, 0, 3}, {2, 3, 4}}}) {
      CAPTURE(as);
      CAPTURE(bs);
      Tensor x = ones(as, dt), w = ones(bs, dt);
      x.requires_grad_();
      w.requires_grad_();
      Tensor y = matmul(x, w);
      y.backward(ones(y.shape(), dt));
      CHECK(values(x.grad()) == D(x.numel(), 0));
      CHECK(values(w.grad()) == D(w.numel(), 0));
    }
    Tensor x = ones({0, 2, 1}, dt);
    Tensor w = ones({0, 1}, dt);
    w.requires_grad_();
    Tensor y = linear(x, w);  // [0, 2, 0]: its gradient reaches the engine's deferred weight product
    y.backward(ones(y.shape(), dt));
    CHECK(w.grad().shape() == Shape{0, 1});
  }
}

// ---- addmm -----------------------------------------------------------------------------------------

TEST_CASE("addmm is input + op(a) op(b) for every form of input, in both dtypes") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    Generator gen(7);
    const Tensor a = uniform({3, 4}, -1, 1, dt, gen), at = uniform({4, 3}, -1, 1, dt, gen);
    const Tensor b = uniform({4, 5}, -1, 1, dt, gen), bt = uniform({5, 4}, -1, 1, dt, gen);
    // K = 4 lies inside one slice of the kernel, so input + product is rounded once, as add(input, matmul) is
    for (const Shape& s : std::vector<Shape>{{3, 5}, {5}, {1, 5}, {3, 1}, {1, 1}, {}}) {
      CAPTURE(s);
      const Tensor input = uniform(s, -1, 1, dt, gen);
      CHECK(addmm(input, a, b).shape() == Shape{3, 5});
      CHECK(values(addmm(input, a, b)) == values(add(input, matmul(a, b))));
      CHECK(values(addmm(input, a, bt, false, true)) == values(add(input, matmul(a, bt, false, true))));
      CHECK(values(addmm(input, at, b, true, false)) == values(add(input, matmul(at, b, true, false))));
      CHECK(values(addmm(input, at, bt, true, true)) == values(add(input, matmul(at, bt, true, true))));
    }
    // [T, N, K] x [K, M] folds as in matmul; a bias broadcasts over T and N, a full input is [T, N, M]
    const Tensor a3 = uniform({2, 3, 4}, -1, 1, dt, gen), bias = uniform({5}, -1, 1, dt, gen);
    const Tensor full3 = uniform({2, 3, 5}, -1, 1, dt, gen);
    CHECK(addmm(bias, a3, bt, false, true).shape() == Shape{2, 3, 5});
    CHECK(values(addmm(bias, a3, bt, false, true)) == values(add(bias, matmul(a3, bt, false, true))));
    CHECK(values(addmm(full3, a3, b)) == values(add(full3, matmul(a3, b))));
    CHECK(addmm(bias, a, b).dtype() == dt);
    // the input is read, never written
    const std::vector<double> before = values(bias);
    (void)addmm(bias, a, b);
    CHECK(values(bias) == before);
  }
}

TEST_CASE("addmm refuses what it cannot compute, naming the shapes and dtypes") {
  CHECK_THROWS_WITH_AS(addmm(ones({4}), ones({3, 4}), ones({4, 5})),
                       "addmm: input of shape [4] does not broadcast to the product's shape [3, 5] ([3, 4] x [4, 5])",
                       Error);
  CHECK_THROWS_WITH_AS(addmm(ones({2, 3, 5}), ones({3, 4}), ones({4, 5})),
                       doctest::Contains("addmm: input of shape [2, 3, 5] does not broadcast"), Error);
  CHECK_THROWS_WITH_AS(addmm(ones({5}), ones({3, 4}), ones({3, 5})), "addmm: inner dimensions differ: [3, 4] x [3, 5]",
                       Error);
  CHECK_THROWS_WITH_AS(addmm(ones({5}), ones({2, 3, 4}), ones({2, 4, 5})),
                       doctest::Contains("addmm: expects a matrix product"), Error);
  CHECK_THROWS_WITH_AS(addmm(ones({5}, kFloat64), ones({3, 4}), ones({4, 5})),
                       "addmm: input and both operands must have the same dtype, got float64 [5] + float32 [3, 4] x "
                       "float32 [4, 5] (convert with .to())",
                       Error);
  CHECK_THROWS_WITH_AS(addmm(ones({5}, kInt64), ones({3, 4}, kInt64), ones({4, 5}, kInt64)),
                       "addmm: expected a floating tensor (float32, float64), got int64", Error);
  CHECK_THROWS_AS(addmm(Tensor(), ones({3, 4}), ones({4, 5})), Error);
}

TEST_CASE("gradcheck: addmm with every form of input, in every layout") {
  const Tensor a = sample({3, 4}, 21), at = sample({4, 3}, 22), b = sample({4, 2}, 23), bt = sample({2, 4}, 24);
  for (const Shape& s : std::vector<Shape>{{3, 2}, {2}, {1, 2}, {3, 1}, {}}) {
    CAPTURE(s);
    const Tensor input = sample(s, 25);
    expect_gradcheck([](const V& v) { return addmm(v[0], v[1], v[2]); }, {input, a, b});
    expect_gradcheck([](const V& v) { return addmm(v[0], v[1], v[2], false, true); }, {input, a, bt});
    expect_gradcheck([](const V& v) { return addmm(v[0], v[1], v[2], true, false); }, {input, at, b});
    expect_gradcheck([](const V& v) { return addmm(v[0], v[1], v[2], true, true); }, {input, at, bt});
  }
  // folded leading dims, as linear uses it
  expect_gradcheck([](const V& v) { return addmm(v[0], v[1], v[2], false, true); },
                   {sample({2}, 26), sample({2, 3, 4}, 27), bt});
}

TEST_CASE("addmm with a zero-size dimension: the broadcast input, zero gradients, no crash") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    Tensor input = full({2}, 1.5, dt), a = ones({3, 0}, dt), b = ones({0, 2}, dt);
    for (Tensor* t : {&input, &a, &b}) t->requires_grad_();
    Tensor c = addmm(input, a, b);  // K = 0: an empty product, so the output is the input broadcast
    CHECK(values(c) == D(6, 1.5));
    sum(c).backward();
    CHECK(values(input.grad()) == D{3, 3});
    CHECK(a.grad().shape() == Shape{3, 0});
    CHECK(b.grad().shape() == Shape{0, 2});
    CHECK(addmm(zeros({2}, dt), ones({0, 4}, dt), ones({4, 2}, dt)).shape() == Shape{0, 2});  // M = 0
  }
}
