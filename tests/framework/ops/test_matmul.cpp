// Tests for framework/ops/matmul.cpp (built against unroll_f64).
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
Tensor sample(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  Tensor t = uniform(s, -1, 1, gen);
  t.requires_grad_();
  return t;
}
void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& in) {
  const GradcheckResult r = gradcheck(fn, in);
  CHECK_MESSAGE(r.ok, r.message);
}
using V = std::vector<Tensor>;
}  // namespace

TEST_CASE("matmul values, with transposes as flags") {
  const Tensor a = tensor({{1, 2}, {3, 4}, {5, 6}});  // [3, 2]
  const Tensor b = tensor({{1, 0, 2}, {0, 1, 3}});    // [2, 3]
  CHECK(matmul(a, b).to_vector() == std::vector<real>{1, 2, 8, 3, 4, 18, 5, 6, 28});
  CHECK(matmul(b, a).to_vector() == std::vector<real>{11, 14, 18, 22});
  CHECK(matmul(a, a, true, false).to_vector() == std::vector<real>{35, 44, 44, 56});  // a^T a
  CHECK(matmul(a, a, false, true).shape() == Shape{3, 3});                           // a a^T
  CHECK(matmul(b, a, true, true).to_vector() == matmul(a, b).reshape({3, 3}).transpose(0, 1).to_vector());
}

TEST_CASE("matmul shape errors name the shapes") {
  CHECK_THROWS_WITH_AS(matmul(ones({4, 7}), ones({8, 3})), "matmul: inner dimensions differ: [4, 7] x [8, 3]", Error);
  CHECK_THROWS_WITH_AS(matmul(ones({4, 7}), ones({8, 7}), false, false),
                       "matmul: inner dimensions differ: [4, 7] x [8, 7]", Error);
  CHECK_THROWS_WITH_AS(matmul(ones({4}), ones({4, 3})), doctest::Contains("matmul: expects tensors of rank >= 2"), Error);
  CHECK_THROWS_WITH_AS(matmul(ones({2, 4, 3}), ones({5, 3, 2})), "matmul: batch dimensions differ: [2, 4, 3] x [5, 3, 2]",
                       Error);
  CHECK_THROWS_WITH_AS(linear(ones({2, 5}), ones({3, 4})), doctest::Contains("linear: input [2, 5] does not end in"),
                       Error);
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
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1], true, true); }, {sample({2, 4, 3}, 9), sample({2, 2, 4}, 10)});
  expect_gradcheck([](const V& v) { return linear(v[0], v[1], v[2]); }, {sample({2, 3, 4}, 11), bt, sample({2}, 12)});
  expect_gradcheck([](const V& v) { return linear(v[0], v[1]); }, {sample({4}, 13), bt});
}
