// unroll/layers/multiplicative_attention.hpp: multiplicative (Luong) attention for RNN encoder-decoders.
//
// Shape legend: S = source steps, N = batch, Q = query size, K = key size, V = value size.
//
//   score "dot":     score(q, k_s) = q . k_s              (needs Q == K; no parameters)
//   score "general": score(q, k_s) = q . (W k_s) = q^T W k_s     W: [Q, K]
//   weights = masked softmax of the scores over s,  context = sum_s weights_s values_s   (attention.hpp)
//   (Luong, Pham and Manning 2015, section 3.1.)
//
// Parameters ("general" only): key_proj.weight [Q, K] = W, laid out as nn.Linear(K, Q, bias=False).weight
// (a PyTorch module computing q . key_proj(k_s) loads with load_state_dict) and initialized like it,
// U(-1/sqrt(K), 1/sqrt(K)). The product is computed as (q W) . k_s, which costs O(N Q K + S N K) per call
// instead of projecting every key, so nothing needs to be precomputed per sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "unroll/layers/attention.hpp"
#include "unroll/layers/linear.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

enum class MultiplicativeScore {
  Dot,      // q . k_s
  General,  // q^T W k_s
};

struct MultiplicativeAttentionOptions {
  int64_t query_size = 0;                                // Q: size of the query (the decoder's state)
  int64_t key_size = 0;                                  // K: size of each key; 0 = query_size
  MultiplicativeScore score = MultiplicativeScore::Dot;  // Dot needs key_size == query_size
};

class MultiplicativeAttention : public Module {
 public:
  explicit MultiplicativeAttention(const MultiplicativeAttentionOptions& options);

  // query [N, Q]; keys [S, N, K] time-major like the RNN layers' outputs; values [S, N, V] (undefined = the
  // keys); mask [S, N] bool, true = a real step (as pad_sequence's mask), or undefined (all real).
  // -> {context [N, V], weights [N, S]}; masked steps get weight 0.
  AttentionOutput forward(const Tensor& query, const Tensor& keys, const Tensor& values = Tensor(),
                          const Tensor& mask = Tensor());
  AttentionOutput operator()(const Tensor& query, const Tensor& keys, const Tensor& values = Tensor(),
                             const Tensor& mask = Tensor()) {
    return forward(query, keys, values, mask);
  }

  // "MultiplicativeAttention(query_size=8, key_size=8, score=dot)"
  std::string describe() const override;
  const MultiplicativeAttentionOptions& options() const { return options_; }

  // W: K -> Q without bias, for score General; null for Dot.
  std::unique_ptr<Linear> key_proj;

 private:
  MultiplicativeAttentionOptions options_;
};

}  // namespace unroll::layers
