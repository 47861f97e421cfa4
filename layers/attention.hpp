// unroll/layers/attention.hpp: what the RNN-style attention modules (AdditiveAttention, MultiplicativeAttention)
// share: their result type and the masked softmax over time steps that turns scores into weights and a context.
//
// Shape legend: S = source steps (keys), N = batch, Q = query size, K = key size, V = value size.
//
// A decoder step asks: given my query q [N, Q] and the encoder's outputs (keys [S, N, K], time-major like the
// RNN layers' outputs, and values [S, N, V], usually the same tensor), which steps should I read? A module
// computes one score per step, scores [S, N]; attend() turns them into weights (a softmax over the steps,
// masked steps getting weight 0) and the context, the weighted sum of the values:
//
//   weights[n, s] = exp(scores[s, n]) / sum over real steps s' of exp(scores[s', n])   (0 where masked)
//   context[n]    = sum_s weights[n, s] values[s, n]
#pragma once

#include "unroll/framework/ops.hpp"

namespace unroll::layers {

// What an attention module returns for one query per sequence.
struct AttentionOutput {
  Tensor context;  // [N, V]: the weighted sum of the values
  Tensor weights;  // [N, S]: the attention weights, each row sums to 1 over the real steps (0 on masked ones)
};

// scores [S, N] (floating), values [S, N, V] of the scores' dtype, mask [S, N] bool with true = a real step
// (as pad_sequence's mask) or undefined (every step real) -> {context [N, V], weights [N, S]}.
// Masked steps get weight exactly 0 and no gradient. A sequence with no real step at all gets all-zero weights
// and a zero context (not NaN). Composite of masked_fill, softmax, mul and sum: no backward of its own.
// `who` names the caller in error messages ("AdditiveAttention: ...").
AttentionOutput attend(const Tensor& scores, const Tensor& values, const Tensor& mask = Tensor(),
                       const char* who = "attend");

namespace detail {
// Checks the arguments of an RNN attention's forward for module `who`: query [N, query_size], keys
// [S, N, key_size], values [S, N, V] or undefined, mask [S, N] bool or undefined, all floating tensors of one
// dtype (the mask excepted). Throws unroll::Error naming `who` and the shapes.
void check_attention_inputs(const char* who, const Tensor& query, int64_t query_size, const Tensor& keys,
                            int64_t key_size, const Tensor& values, const Tensor& mask);
}  // namespace detail

}  // namespace unroll::layers
