// unroll/layers/multihead_attention.hpp: multi-head attention, PyTorch's nn.MultiheadAttention.
//
// Shape legend: L = target (query) length, S = source (key) length, N = batch, E = embed_dim, H = num_heads,
// D = E / H (head size), kdim / vdim = key / value sizes (E unless given).
//
//   q = query W_q^T + b_q,  k = key W_k^T + b_k,  v = value W_v^T + b_v                 [L|S, N, E]
//   per head h (columns h*D .. h*D + D of q, k, v):
//     weights_h = softmax(q_h k_h^T / sqrt(D) + masks)   [N, L, S]   (dropout on them in training)
//     out_h     = weights_h v_h                          [N, L, D]
//   output = concat_h(out_h) W_o^T + b_o                 [L, N, E]
//
// Parameters (PyTorch's names, shapes, order and initialization, so a PyTorch state_dict loads):
//   in_proj_weight [3E, E]   rows [W_q; W_k; W_v], xavier_uniform_      (when kdim == vdim == E)
//   q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim], each xavier_uniform_
//                            (instead of in_proj_weight when kdim or vdim differs from E)
//   in_proj_bias [3E]        [b_q; b_k; b_v], zeros (only with bias)
//   out_proj.weight [E, E]   W_o, nn.Linear's initialization
//   out_proj.bias [E]        b_o, zeros (only with bias)
// Built from ops (linear, narrow, reshape, permute, matmul, masked_fill, softmax, dropout, mean): no
// gradient code. When query, key and value are one tensor (self-attention) the three input projections are one
// product with in_proj_weight, as in PyTorch. PyTorch's add_bias_kv and add_zero_attn are not provided.
#pragma once

#include <cstdint>
#include <string>

#include "unroll/framework/ops.hpp"
#include "unroll/layers/linear.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

struct MultiheadAttentionOptions {
  int64_t embed_dim = 0;     // E: size of the queries and of the output
  int64_t num_heads = 1;     // H: must divide E
  double dropout = 0;        // dropout probability on the attention weights, in training only
  bool bias = true;          // false: no in_proj_bias and no out_proj.bias
  int64_t kdim = 0;          // size of the keys; 0 = E
  int64_t vdim = 0;          // size of the values; 0 = E
  bool batch_first = false;  // true: query, key, value and output are [N, L|S, *] instead of [L|S, N, *]
};

struct MultiheadAttentionOutput {
  Tensor output;   // [L, N, E] ([N, L, E] with batch_first; [L, E] for unbatched inputs)
  Tensor weights;  // averaged over heads [N, L, S], or per head [N, H, L, S] ([L, S] / [H, L, S] unbatched);
                   // undefined unless need_weights
};

class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& options);

  // query [L, N, E], key [S, N, kdim], value [S, N, vdim] ([N, L, E] ... with batch_first), or unbatched
  // [L, E], [S, kdim], [S, vdim].
  // key_padding_mask [N, S] ([S] unbatched): bool, true = ignore this key (PyTorch's convention), or floating,
  //   added to the scores.
  // attn_mask [L, S] or [N*H, L, S] (row n*H + h for batch n, head h): bool, true = this query may NOT attend
  //   to this key (PyTorch's convention), or floating, added to the scores.
  // A query whose keys are all masked gets NaN, as in PyTorch.
  // need_weights: also return the attention weights, averaged over the heads unless average_attn_weights is
  // false. The weights returned are those the values were multiplied by (after dropout in training).
  MultiheadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                   const Tensor& attn_mask = Tensor(), bool average_attn_weights = true);
  MultiheadAttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                      const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                      const Tensor& attn_mask = Tensor(), bool average_attn_weights = true) {
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights);
  }

  // Draws new initial values as PyTorch's _reset_parameters: xavier_uniform_ on the input projections, zero
  // biases, nn.Linear's initialization for out_proj.weight.
  void reset_parameters(Generator& gen = default_generator());
  // "MultiheadAttention(embed_dim=8, num_heads=2, dropout=0, bias=true, kdim=8, vdim=8, batch_first=false)"
  std::string describe() const override;
  const MultiheadAttentionOptions& options() const { return options_; }
  int64_t head_dim() const { return options_.embed_dim / options_.num_heads; }  // D

  Tensor in_proj_weight;  // [3E, E]; undefined when kdim or vdim differs from E
  Tensor q_proj_weight;   // [E, E]; defined only when kdim or vdim differs from E
  Tensor k_proj_weight;   // [E, kdim]; ditto
  Tensor v_proj_weight;   // [E, vdim]; ditto
  Tensor in_proj_bias;    // [3E]; undefined without bias
  Linear out_proj;        // E -> E

 private:
  MultiheadAttentionOptions options_;
};

}  // namespace unroll::layers
