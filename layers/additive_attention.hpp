// unroll/layers/additive_attention.hpp: additive (Bahdanau) attention for RNN encoder-decoders.
//
// Shape legend: S = source steps, N = batch, Q = query size, K = key size, A = attention (hidden) size,
// V = value size.
//
//   score(q, k_s) = v^T tanh(W_q q + b_q + W_k k_s)         (Bahdanau, Cho and Bengio 2015, eq. 6 / A.1.2)
//   weights = masked softmax of the scores over s,  context = sum_s weights_s values_s   (attention.hpp)
//
// Parameters (as three nn.Linear(..., bias=False), so a PyTorch module written with these attribute names
// loads with load_state_dict):
//   query_proj.weight [A, Q]   W_q
//   query_proj.bias   [A]      b_q, only with options.bias (one bias is enough: a bias on W_k k_s as well
//                              would only add to it)
//   key_proj.weight   [A, K]   W_k
//   v.weight          [1, A]   v
// each initialized as nn.Linear's weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
//
// A decoder calls attention at every output step with the same keys; W_k k_s does not depend on the step, so
// project it once per sequence and call forward_projected at each step:
//
//   Tensor projected = attention.project_keys(encoder_outputs);            // [S, N, A], once
//   for (...) auto [context, weights] = attention.forward_projected(h, projected, encoder_outputs, mask);
#pragma once

#include <cstdint>
#include <string>

#include "unroll/layers/attention.hpp"
#include "unroll/layers/linear.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

struct AdditiveAttentionOptions {
  int64_t query_size = 0;   // Q: size of the query (the decoder's state)
  int64_t key_size = 0;     // K: size of each key (the encoder's output)
  int64_t hidden_size = 0;  // A: size of the space the two are added in (v's length)
  bool bias = false;        // true: W_q q gets a bias b_q (query_proj.bias)
};

class AdditiveAttention : public Module {
 public:
  explicit AdditiveAttention(const AdditiveAttentionOptions& options);

  // query [N, Q]; keys [S, N, K] time-major like the RNN layers' outputs; values [S, N, V] (undefined = the
  // keys); mask [S, N] bool, true = a real step (as pad_sequence's mask), or undefined (all real).
  // -> {context [N, V], weights [N, S]}; masked steps get weight 0.
  AttentionOutput forward(const Tensor& query, const Tensor& keys, const Tensor& values = Tensor(),
                          const Tensor& mask = Tensor());
  AttentionOutput operator()(const Tensor& query, const Tensor& keys, const Tensor& values = Tensor(),
                             const Tensor& mask = Tensor()) {
    return forward(query, keys, values, mask);
  }
  // keys [S, N, K] -> W_k keys [S, N, A]: the part of the score that does not depend on the query.
  Tensor project_keys(const Tensor& keys);
  // forward with the keys already projected: projected_keys [S, N, A] from project_keys; values [S, N, V]
  // (required: the projected keys are not values); mask as in forward. forward(q, k, v, m) is
  // forward_projected(q, project_keys(k), v or k, m).
  AttentionOutput forward_projected(const Tensor& query, const Tensor& projected_keys, const Tensor& values,
                                    const Tensor& mask = Tensor());

  std::string describe() const override;  // "AdditiveAttention(query_size=8, key_size=6, hidden_size=5, bias=false)"
  const AdditiveAttentionOptions& options() const { return options_; }

  Linear query_proj;  // W_q: Q -> A (bias b_q with options.bias)
  Linear key_proj;    // W_k: K -> A, no bias
  Linear v;           // v: A -> 1, no bias

 private:
  AdditiveAttentionOptions options_;
};

}  // namespace unroll::layers
