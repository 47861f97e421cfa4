// scaled_dot_product_attention, a composite of matmul, masked_fill / add, softmax and dropout (no backward of
// its own). Shape legend: B... = batch dims (possibly none), L = queries, S = keys, E = query/key size,
// Ev = value size.
#include <cmath>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal, Generator& gen) {
  detail::check_defined("scaled_dot_product_attention", query, key, value);
  const Shape &q = query.shape(), &k = key.shape(), &v = value.shape();
  const int rank = q.size();
  check(rank >= 2 && k.size() == rank && v.size() == rank,
        "scaled_dot_product_attention: query, key and value must have one rank >= 2 ([B..., L, E], [B..., S, E], "
        "[B..., S, Ev]), got {}, {} and {}",
        q, k, v);
  bool same_batch = true;
  for (int i = 0; i + 2 < rank; ++i) same_batch = same_batch && q[i] == k[i] && q[i] == v[i];
  check(same_batch && q[rank - 1] == k[rank - 1] && k[rank - 2] == v[rank - 2],
        "scaled_dot_product_attention: shapes do not fit [B..., L, E], [B..., S, E], [B..., S, Ev]: query {}, key {}, "
        "value {}",
        q, k, v);
  check(query.dtype() == key.dtype() && query.dtype() == value.dtype() && query.is_floating_point(),
        "scaled_dot_product_attention: query, key and value must be floating tensors of one dtype, got {}, {} and {}",
        name(query.dtype()), name(key.dtype()), name(value.dtype()));
  check(!(is_causal && attn_mask.defined()),
        "scaled_dot_product_attention: pass either attn_mask (shape {}) or is_causal, not both",
        attn_mask.defined() ? attn_mask.shape() : Shape{});
  check(dropout_p >= 0 && dropout_p < 1, "scaled_dot_product_attention: dropout_p must be in [0, 1), got {}",
        dropout_p);
  const int64_t e = q[rank - 1], l = q[rank - 2], s = k[rank - 2];
  // scores: [B..., L, S] = query key^T / sqrt(E)
  Tensor scores = matmul(query, key, false, true);
  if (e > 0) scores = mul(scores, detail::wrapped_scalar(1 / std::sqrt(static_cast<double>(e))));
  if (is_causal) {
    // query i attends to keys 0..i: mask out j > i
    Tensor later = empty({l, s}, kBool);
    bool* p = later.data<bool>();
    for (int64_t i = 0; i < l; ++i)
      for (int64_t j = 0; j < s; ++j) p[i * s + j] = j > i;
    scores = masked_fill(scores, later, -INFINITY);
  } else if (attn_mask.defined()) {
    // broadcasts to the scores: no more dims, and each trailing dim equal or 1
    const Shape& m = attn_mask.shape();
    const Shape& sc = scores.shape();
    bool fits = m.size() <= sc.size();
    for (int i = 1; fits && i <= m.size(); ++i) fits = m[m.size() - i] == 1 || m[m.size() - i] == sc[sc.size() - i];
    check(fits,
          "scaled_dot_product_attention: attn_mask of shape {} does not broadcast to the scores' shape {} ([B..., L, S])",
          attn_mask.shape(), scores.shape());
    if (attn_mask.dtype() == kBool)  // true = take part
      scores = masked_fill(scores, logical_not(attn_mask), -INFINITY);
    else if (attn_mask.is_floating_point())  // added to the scores
      scores = add(scores, to(attn_mask, scores.dtype()));
    else
      detail::fail("scaled_dot_product_attention: attn_mask must be bool or floating, got {} (shape {})",
                   name(attn_mask.dtype()), attn_mask.shape());
  }
  Tensor weights = softmax(scores, -1);  // [B..., L, S]
  if (dropout_p > 0) weights = dropout(weights, dropout_p, true, gen);
  return matmul(weights, value);  // [B..., L, Ev]
}

}  // namespace unroll
