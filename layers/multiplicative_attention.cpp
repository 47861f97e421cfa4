// MultiplicativeAttention: score(q, k_s) = q . k_s or q^T W k_s, written as ops (no gradient code).
// Shape legend as in the header: S = steps, N = batch, Q, K, V = query, key and value sizes.
#include "unroll/layers/multiplicative_attention.hpp"

#include "unroll/framework/detail/check.hpp"

namespace unroll::layers {

using unroll::detail::check;

MultiplicativeAttention::MultiplicativeAttention(const MultiplicativeAttentionOptions& options) : options_(options) {
  if (options_.key_size == 0) options_.key_size = options_.query_size;
  const bool dot = options_.score == MultiplicativeScore::Dot;
  check(options_.query_size > 0 && options_.key_size > 0,
        "MultiplicativeAttention: query_size ({}) and key_size ({}) must be positive", options_.query_size,
        options_.key_size);
  check(!dot || options_.key_size == options_.query_size,
        "MultiplicativeAttention: score dot needs key_size == query_size, got query_size {} and key_size {} "
        "(use score General for different sizes)",
        options_.query_size, options_.key_size);
  if (!dot) {
    key_proj = std::make_unique<Linear>(
        LinearOptions{.in_features = options_.key_size, .out_features = options_.query_size, .bias = false});
    register_module("key_proj", *key_proj);
  }
}

AttentionOutput MultiplicativeAttention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                                 const Tensor& mask) {
  unroll::detail::check_defined("MultiplicativeAttention", query, keys);
  if (options_.score == MultiplicativeScore::Dot && query.dim() == 2 && keys.dim() == 3)
    check(query.shape()[1] == keys.shape()[2],
          "MultiplicativeAttention: score dot needs query and keys of one size, got query {} and keys {}",
          query.shape(), keys.shape());
  detail::check_attention_inputs("MultiplicativeAttention", query, options_.query_size, keys, options_.key_size, values,
                                 mask);
  // q W: [N, Q] x [Q, K] -> [N, K], so that score = (q W) . k_s
  const Tensor q = key_proj ? matmul(query, key_proj->weight) : query;
  const Tensor scores = sum(mul(keys, unsqueeze(q, 0)), {-1});  // [S, N, K] * [1, N, K] summed over K -> [S, N]
  return attend(scores, values.defined() ? values : keys, mask, "MultiplicativeAttention");
}

std::string MultiplicativeAttention::describe() const {
  return fmt::format("MultiplicativeAttention(query_size={}, key_size={}, score={})", options_.query_size,
                     options_.key_size, options_.score == MultiplicativeScore::Dot ? "dot" : "general");
}

}  // namespace unroll::layers
