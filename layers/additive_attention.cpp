// AdditiveAttention: score(q, k_s) = v^T tanh(W_q q + b_q + W_k k_s), written as ops (no gradient code).
// Shape legend as in the header: S = steps, N = batch, Q, K, A, V = query, key, attention and value sizes.
#include "unroll/layers/additive_attention.hpp"

#include "unroll/framework/detail/check.hpp"

namespace unroll::layers {

using unroll::detail::check;

namespace {
AdditiveAttentionOptions checked(const AdditiveAttentionOptions& o) {
  check(o.query_size > 0 && o.key_size > 0 && o.hidden_size > 0,
        "AdditiveAttention: query_size ({}), key_size ({}) and hidden_size ({}) must be positive", o.query_size,
        o.key_size, o.hidden_size);
  return o;
}
}  // namespace

AdditiveAttention::AdditiveAttention(const AdditiveAttentionOptions& options)
    : query_proj(
          {.in_features = checked(options).query_size, .out_features = options.hidden_size, .bias = options.bias}),
      key_proj({.in_features = options.key_size, .out_features = options.hidden_size, .bias = false}),
      v({.in_features = options.hidden_size, .out_features = 1, .bias = false}),
      options_(options) {
  register_module("query_proj", query_proj);
  register_module("key_proj", key_proj);
  register_module("v", v);
}

Tensor AdditiveAttention::project_keys(const Tensor& keys) {
  unroll::detail::check_defined("AdditiveAttention", keys);
  check(keys.dim() == 3 && keys.shape()[2] == options_.key_size,
        "AdditiveAttention: keys must be [S, N, K] = [S, N, {}] (time-major), got {}", options_.key_size, keys.shape());
  return key_proj(keys);  // [S, N, K] -> [S, N, A]
}

AttentionOutput AdditiveAttention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                           const Tensor& mask) {
  detail::check_attention_inputs("AdditiveAttention", query, options_.query_size, keys, options_.key_size, values,
                                 mask);
  return forward_projected(query, project_keys(keys), values.defined() ? values : keys, mask);
}

AttentionOutput AdditiveAttention::forward_projected(const Tensor& query, const Tensor& projected_keys,
                                                     const Tensor& values, const Tensor& mask) {
  unroll::detail::check_defined("AdditiveAttention", query, projected_keys, values);
  detail::check_attention_inputs("AdditiveAttention", query, options_.query_size, projected_keys, options_.hidden_size,
                                 values, mask);
  const Tensor q = unsqueeze(query_proj(query), 0);      // [N, Q] -> [1, N, A]
  const Tensor features = tanh(add(projected_keys, q));  // [S, N, A]
  const Tensor scores = squeeze(v(features), -1);        // [S, N, 1] -> [S, N]
  return attend(scores, values, mask, "AdditiveAttention");
}

std::string AdditiveAttention::describe() const {
  return fmt::format("AdditiveAttention(query_size={}, key_size={}, hidden_size={}, bias={})", options_.query_size,
                     options_.key_size, options_.hidden_size, options_.bias);
}

}  // namespace unroll::layers
