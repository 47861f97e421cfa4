// unroll/layers/embedding.hpp: a lookup table of learned vectors, PyTorch's nn.Embedding.
//
//   indices: any shape of ids in [0, V) -> [indices..., D]      (V = num_embeddings, D = embedding_dim)
//
// Parameter: weight [V, D], initialized N(0, 1) as in PyTorch. With a padding_idx, that row starts at zero
// and never receives a gradient, so it stays whatever it is (zero unless loaded otherwise): the layer's
// output at padding positions is that row, and no optimizer step moves it.
#pragma once

#include <cstdint>
#include <string>

#include "unroll/framework/ops.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

struct EmbeddingOptions {
  int64_t num_embeddings = 0;  // V: vocabulary size
  int64_t embedding_dim = 0;   // D: size of each vector
  int64_t padding_idx = -1;    // a row in [0, V) that is zeroed and gets no gradient; -1: none
};

class Embedding : public UnaryModule {
 public:
  explicit Embedding(const EmbeddingOptions& options);

  // indices: any shape (integral values in [0, V)) -> [indices..., D]
  Tensor forward(const Tensor& indices) override;
  // Draws new N(0, 1) values and zeroes the padding row (PyTorch's reset_parameters).
  void reset_parameters(Generator& gen = default_generator());
  std::string describe() const override;  // "Embedding(num_embeddings=10, embedding_dim=3, padding_idx=0)"
  const EmbeddingOptions& options() const { return options_; }

  Tensor weight;  // [V, D]

 private:
  EmbeddingOptions options_;
};

}  // namespace unroll::layers
