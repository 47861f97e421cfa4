// MultiheadAttention written as ops (no gradient code). Shape legend as in the header: L = queries, S = keys,
// N = batch, E = embed_dim, H = num_heads, D = E / H.
#include "unroll/layers/multihead_attention.hpp"

#include <cmath>
#include <vector>

#include "unroll/framework/detail/check.hpp"
#include "unroll/layers/init.hpp"

namespace unroll::layers {

using detail::check;

namespace {

MultiheadAttentionOptions checked(MultiheadAttentionOptions o) {
  check(o.embed_dim > 0 && o.num_heads > 0, "MultiheadAttention: embed_dim ({}) and num_heads ({}) must be positive",
        o.embed_dim, o.num_heads);
  check(o.embed_dim % o.num_heads == 0, "MultiheadAttention: embed_dim ({}) must be divisible by num_heads ({})",
        o.embed_dim, o.num_heads);
  check(o.kdim >= 0 && o.vdim >= 0, "MultiheadAttention: kdim ({}) and vdim ({}) must not be negative", o.kdim, o.vdim);
  check(o.dropout >= 0 && o.dropout < 1, "MultiheadAttention: dropout must be in [0, 1), got {}", o.dropout);
  if (o.kdim == 0) o.kdim = o.embed_dim;
  if (o.vdim == 0) o.vdim = o.embed_dim;
  return o;
}

// x: [T, N, E] (time-major) or [N, T, E] (batch_first) -> [N, H, T, D], one matrix per batch entry and head
Tensor split_heads(const Tensor& x, int64_t heads, bool batch_first) {
  const Shape& s = x.shape();
  const int64_t d = s[2] / heads;
  if (batch_first) return permute(reshape(x, {s[0], s[1], heads, d}), {0, 2, 1, 3});
  return permute(reshape(x, {s[0], s[1], heads, d}), {1, 2, 0, 3});
}

// Applies one mask to scores [N, H, L, S]: a bool mask (true = masked) sets -inf, a floating one is added.
Tensor apply_mask(const Tensor& scores, const Tensor& mask) {
  if (mask.dtype() == kBool) return masked_fill(scores, mask, -INFINITY);
  return add(scores, to(mask, scores.dtype()));
}

}  // namespace

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& options)
    : out_proj({.in_features = checked(options).embed_dim, .out_features = options.embed_dim, .bias = options.bias}),
      options_(checked(options)) {
  const int64_t e = options_.embed_dim;
  // registration order = PyTorch's state_dict order: the input projections, in_proj_bias, then out_proj.*
  if (options_.kdim == e && options_.vdim == e) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * e, e}));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", empty({e, e}));
    k_proj_weight = register_parameter("k_proj_weight", empty({e, options_.kdim}));
    v_proj_weight = register_parameter("v_proj_weight", empty({e, options_.vdim}));
  }
  if (options_.bias) in_proj_bias = register_parameter("in_proj_bias", empty({3 * e}));
  register_module("out_proj", out_proj);
  reset_parameters();
}

void MultiheadAttention::reset_parameters(Generator& gen) {
  if (in_proj_weight.defined()) {
    init::xavier_uniform_(in_proj_weight, 1, gen);
  } else {
    init::xavier_uniform_(q_proj_weight, 1, gen);
    init::xavier_uniform_(k_proj_weight, 1, gen);
    init::xavier_uniform_(v_proj_weight, 1, gen);
  }
  out_proj.reset_parameters(gen);
  if (in_proj_bias.defined()) {
    init::zeros_(in_proj_bias);
    init::zeros_(out_proj.bias);
  }
}

MultiheadAttentionOutput MultiheadAttention::forward(const Tensor& query_in, const Tensor& key_in,
                                                     const Tensor& value_in, const Tensor& key_padding_mask_in,
                                                     bool need_weights, const Tensor& attn_mask_in,
                                                     bool average_attn_weights) {
  detail::check_defined("MultiheadAttention", query_in, key_in, value_in);
  const int64_t e = options_.embed_dim, h = options_.num_heads, d = head_dim();
  const bool batched = query_in.dim() == 3;
  check((batched || query_in.dim() == 2) && key_in.dim() == query_in.dim() && value_in.dim() == query_in.dim(),
        "MultiheadAttention: query, key and value must all be batched ([L, N, E], [S, N, kdim], [S, N, vdim]) or "
        "all unbatched ([L, E], [S, kdim], [S, vdim]), got query {}, key {}, value {}",
        query_in.shape(), key_in.shape(), value_in.shape());
  // Unbatched inputs get a batch axis of 1 (at 1: the layout is then time-major whatever batch_first says).
  const bool batch_first = batched && options_.batch_first;
  const Tensor query = batched ? query_in : unsqueeze(query_in, 1);
  const Tensor key = batched ? key_in : unsqueeze(key_in, 1);
  const Tensor value = batched ? value_in : unsqueeze(value_in, 1);
  const int t_axis = batch_first ? 1 : 0, n_axis = batch_first ? 0 : 1;
  const int64_t l = query.shape()[t_axis], n = query.shape()[n_axis], s = key.shape()[t_axis];
  check(query.shape()[2] == e, "MultiheadAttention: query must end in embed_dim = {}, got {} (key {}, value {})", e,
        query_in.shape(), key_in.shape(), value_in.shape());
  check(key.shape()[2] == options_.kdim && value.shape()[2] == options_.vdim,
        "MultiheadAttention: key must end in kdim = {} and value in vdim = {}, got key {} and value {}", options_.kdim,
        options_.vdim, key_in.shape(), value_in.shape());
  check(key.shape()[n_axis] == n && value.shape()[n_axis] == n && value.shape()[t_axis] == s,
        "MultiheadAttention: query {}, key {} and value {} must have one batch size, and key and value one length "
        "({})",
        query_in.shape(), key_in.shape(), value_in.shape(), batch_first ? "[N, L|S, *]" : "[L|S, N, *]");
  const DType dtype = out_proj.weight.dtype();
  check(query.dtype() == dtype && key.dtype() == dtype && value.dtype() == dtype,
        "MultiheadAttention: query, key and value must have the parameters' dtype {}, got {}, {} and {}", name(dtype),
        name(query.dtype()), name(key.dtype()), name(value.dtype()));

  // Masks, in the scores' layout [N, H, L, S]
  Tensor key_padding_mask, attn_mask;
  if (key_padding_mask_in.defined()) {
    const Shape expected = batched ? Shape{n, s} : Shape{s};
    check(key_padding_mask_in.shape() == expected &&
              (key_padding_mask_in.dtype() == kBool || key_padding_mask_in.is_floating_point()),
          "MultiheadAttention: key_padding_mask must be bool or floating {} ([N, S], true = ignore), got {} {}",
          expected, name(key_padding_mask_in.dtype()), key_padding_mask_in.shape());
    key_padding_mask = reshape(key_padding_mask_in, {n, 1, 1, s});
  }
  if (attn_mask_in.defined()) {
    const Shape& m = attn_mask_in.shape();
    const bool two_d = m == Shape{l, s}, three_d = m == Shape{n * h, l, s};
    check((two_d || three_d) && (attn_mask_in.dtype() == kBool || attn_mask_in.is_floating_point()),
          "MultiheadAttention: attn_mask must be bool or floating [L, S] = {} or [N*H, L, S] = {} (true = may not "
          "attend), got {} {}",
          Shape{l, s}, Shape{n * h, l, s}, name(attn_mask_in.dtype()), m);
    attn_mask = three_d ? reshape(attn_mask_in, {n, h, l, s}) : attn_mask_in;
  }

  // Input projections: [L|S, N, *] -> [L|S, N, E] (or batch-first), then split into heads [N, H, L|S, D].
  // q is divided by sqrt(D) before the product, as PyTorch does.
  const double sqrt_d = std::sqrt(static_cast<double>(d));
  Tensor q, k, v;
  if (in_proj_weight.defined() && query_in.impl() == key_in.impl() && key_in.impl() == value_in.impl()) {
    // self-attention: one product with all of in_proj_weight, [L, N, E] x [3E, E]^T -> [L, N, 3E], as PyTorch
    const std::vector<Tensor> qkv = chunk(linear(query, in_proj_weight, in_proj_bias), 3, -1);
    q = split_heads(qkv[0] / sqrt_d, h, batch_first);  // [N, H, L, D]
    k = split_heads(qkv[1], h, batch_first);           // [N, H, S, D]
    v = split_heads(qkv[2], h, batch_first);           // [N, H, S, D]
  } else {
    Tensor w_q = q_proj_weight, w_k = k_proj_weight, w_v = v_proj_weight, b_q, b_k, b_v;
    if (in_proj_weight.defined()) {
      w_q = narrow(in_proj_weight, 0, 0, e);  // [E, E] each
      w_k = narrow(in_proj_weight, 0, e, e);
      w_v = narrow(in_proj_weight, 0, 2 * e, e);
    }
    if (in_proj_bias.defined()) {
      b_q = narrow(in_proj_bias, 0, 0, e);  // [E] each
      b_k = narrow(in_proj_bias, 0, e, e);
      b_v = narrow(in_proj_bias, 0, 2 * e, e);
    }
    q = split_heads(linear(query, w_q, b_q) / sqrt_d, h, batch_first);  // [N, H, L, D]
    k = split_heads(linear(key, w_k, b_k), h, batch_first);             // [N, H, S, D]
    v = split_heads(linear(value, w_v, b_v), h, batch_first);           // [N, H, S, D]
  }

  Tensor scores = matmul(q, k, false, true);  // [N, H, L, D] x [N, H, S, D]^T -> [N, H, L, S]
  if (attn_mask.defined()) scores = apply_mask(scores, attn_mask);
  if (key_padding_mask.defined()) scores = apply_mask(scores, key_padding_mask);
  Tensor weights = softmax(scores, -1);  // [N, H, L, S]
  if (options_.dropout > 0) weights = dropout(weights, options_.dropout, is_training());
  const Tensor heads = matmul(weights, v);  // [N, H, L, D]
  // concatenate the heads: [N, H, L, D] -> [L, N, E] (or [N, L, E])
  const Tensor merged =
      batch_first ? reshape(permute(heads, {0, 2, 1, 3}), {n, l, e}) : reshape(permute(heads, {2, 0, 1, 3}), {l, n, e});
  Tensor output = out_proj(merged);
  if (!batched) output = squeeze(output, 1);  // [L, E]

  MultiheadAttentionOutput result{output, Tensor()};
  if (need_weights) {
    Tensor w = average_attn_weights ? mean(weights, {1}) : weights;  // [N, L, S] or [N, H, L, S]
    result.weights = batched ? w : squeeze(w, 0);
  }
  return result;
}

std::string MultiheadAttention::describe() const {
  return fmt::format(
      "MultiheadAttention(embed_dim={}, num_heads={}, dropout={}, bias={}, kdim={}, vdim={}, "
      "batch_first={})",
      options_.embed_dim, options_.num_heads, options_.dropout, options_.bias, options_.kdim, options_.vdim,
      options_.batch_first);
}

}  // namespace unroll::layers
