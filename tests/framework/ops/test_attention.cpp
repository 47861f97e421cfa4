// Tests for framework/ops/attention.cpp: scaled_dot_product_attention against its definition, masks (bool:
// true takes part; floating: added), the causal flag, dropout (seeded, scaled, off at p = 0), errors and
// gradients.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor sample(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  Tensor t = uniform(s, -1, 1, kFloat64, gen);
  t.requires_grad_();
  return t;
}
double distance(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item<double>(); }
// The definition, written out with ops: softmax(q k^T / sqrt(E) + additive mask) v.
Tensor reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& additive = Tensor()) {
  Tensor scores = matmul(q, transpose(k, -1, -2)) / std::sqrt(static_cast<double>(q.size(-1)));
  if (additive.defined()) scores = scores + additive;
  return matmul(softmax(scores, -1), v);
}
using unroll_test::expect_gradcheck;
using V = std::vector<Tensor>;
}  // namespace

TEST_CASE("scaled_dot_product_attention matches softmax(q k^T / sqrt(E)) v, with and without batch dims") {
  const Tensor q = sample({3, 4}, 1), k = sample({5, 4}, 2), v = sample({5, 2}, 3);
  const Tensor out = scaled_dot_product_attention(q, k, v);
  CHECK(out.shape() == Shape{3, 2});
  CHECK(distance(out, reference(q, k, v)) < 1e-12);
  const Tensor qb = sample({2, 2, 3, 4}, 4), kb = sample({2, 2, 5, 4}, 5), vb = sample({2, 2, 5, 6}, 6);
  CHECK(scaled_dot_product_attention(qb, kb, vb).shape() == Shape{2, 2, 3, 6});
  CHECK(distance(scaled_dot_product_attention(qb, kb, vb), reference(qb, kb, vb)) < 1e-12);
  CHECK(scaled_dot_product_attention(q.to(kFloat32), k.to(kFloat32), v.to(kFloat32)).dtype() == kFloat32);
}

TEST_CASE("masks: bool (true = take part), floating (added), causal") {
  const Tensor q = sample({2, 3, 4}, 7), k = sample({2, 5, 4}, 8), v = sample({2, 5, 2}, 9);
  const Tensor allowed = tensor({{true, false, true, true, false},
                                 {true, true, false, false, true},
                                 {false, false, false, true, true}});  // [L, S], broadcast over the batch
  const Tensor additive = where(allowed, 0.0, scalar(-INFINITY, kFloat64));
  CHECK(distance(scaled_dot_product_attention(q, k, v, allowed), reference(q, k, v, additive)) < 1e-12);
  const Tensor bias = sample({3, 5}, 10).detach();
  CHECK(distance(scaled_dot_product_attention(q, k, v, bias), reference(q, k, v, bias)) < 1e-12);
  // causal: query i sees keys 0..i, the same as the lower-triangular bool mask
  const Tensor kc = sample({2, 3, 4}, 11), vc = sample({2, 3, 2}, 12);
  const Tensor lower = tensor({{true, false, false}, {true, true, false}, {true, true, true}});
  CHECK(distance(scaled_dot_product_attention(q, kc, vc, Tensor(), 0, true),
                 scaled_dot_product_attention(q, kc, vc, lower)) < 1e-15);
  // the first query attends to the first key only
  const Tensor first = scaled_dot_product_attention(q, kc, vc, Tensor(), 0, true);
  CHECK(distance(narrow(first, 1, 0, 1), narrow(vc, 1, 0, 1)) < 1e-15);
  // a query with every key masked gets NaN, as in PyTorch
  const Tensor none = zeros({3, 5}, kBool);
  CHECK(std::isnan(scaled_dot_product_attention(q, k, v, none).at<double>({0, 0, 0})));
}

TEST_CASE("dropout on the attention weights: seeded, scaled by 1 / (1 - p), none at p = 0") {
  const Tensor q = sample({4, 8}, 13), k = sample({6, 8}, 14), v = ones({6, 1}, kFloat64);
  // v = 1: without dropout every output is 1 (the weights sum to 1); with it, each output is a sum of
  // kept weights / (1 - p)
  CHECK(distance(scaled_dot_product_attention(q, k, v, Tensor(), 0), ones({4, 1}, kFloat64)) < 1e-12);
  Generator g1(42), g2(42);
  const Tensor a = scaled_dot_product_attention(q, k, v, Tensor(), 0.5, false, g1);
  const Tensor b = scaled_dot_product_attention(q, k, v, Tensor(), 0.5, false, g2);
  CHECK(distance(a, b) == 0);  // same seed, same mask
  CHECK(distance(a, ones({4, 1}, kFloat64)) > 1e-3);
  for (double value : a.to_vector<double>()) CHECK((value >= 0 && value <= 2 + 1e-12));
}

TEST_CASE("scaled_dot_product_attention refuses what does not fit, naming the shapes") {
  const Tensor q = zeros({2, 3, 4}), k = zeros({2, 5, 4}), v = zeros({2, 5, 6});
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, zeros({2, 5, 3}), v),
                       "scaled_dot_product_attention: shapes do not fit [B..., L, E], [B..., S, E], [B..., S, Ev]: query "
                       "[2, 3, 4], key [2, 5, 3], value [2, 5, 6]",
                       Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(zeros({4}), zeros({4}), zeros({4})),
                       doctest::Contains("scaled_dot_product_attention: query, key and value must have one rank >= 2"),
                       Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v.to(kFloat64)),
                       "scaled_dot_product_attention: query, key and value must be floating tensors of one dtype, got "
                       "float32, float32 and float64",
                       Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, zeros({3, 4}, kBool)),
                       "scaled_dot_product_attention: attn_mask of shape [3, 4] does not broadcast to the scores' shape "
                       "[2, 3, 5] ([B..., L, S])",
                       Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, zeros({3, 5}, kInt64)),
                       "scaled_dot_product_attention: attn_mask must be bool or floating, got int64 (shape [3, 5])", Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, zeros({3, 5}, kBool), 0, true),
                       "scaled_dot_product_attention: pass either attn_mask (shape [3, 5]) or is_causal, not both", Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, v, Tensor(), 1.0),
                       "scaled_dot_product_attention: dropout_p must be in [0, 1), got 1", Error);
}

TEST_CASE("scaled_dot_product_attention gradients, with a mask and causal") {
  const Tensor q = sample({2, 3, 4}, 15), k = sample({2, 3, 4}, 16), v = sample({2, 3, 2}, 17);
  const Tensor mask = tensor({{true, false, true}, {true, true, false}, {false, true, true}});
  expect_gradcheck([](const V& t) { return scaled_dot_product_attention(t[0], t[1], t[2]); }, {q, k, v});
  expect_gradcheck([mask](const V& t) { return scaled_dot_product_attention(t[0], t[1], t[2], mask); }, {q, k, v});
  expect_gradcheck([](const V& t) { return scaled_dot_product_attention(t[0], t[1], t[2], Tensor(), 0, true); },
                   {q, k, v});
  const Tensor bias = sample({3, 3}, 18);  // a learned additive mask receives its gradient too
  expect_gradcheck([](const V& t) { return scaled_dot_product_attention(t[0], t[1], t[2], t[3]); }, {q, k, v, bias});
}
