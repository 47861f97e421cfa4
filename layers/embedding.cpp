#include "unroll/layers/embedding.hpp"

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/layers/init.hpp"

namespace unroll::layers {

using detail::check;

Embedding::Embedding(const EmbeddingOptions& options) : options_(options) {
  check(options.num_embeddings >= 0 && options.embedding_dim >= 0,
        "Embedding: num_embeddings ({}) and embedding_dim ({}) must not be negative", options.num_embeddings,
        options.embedding_dim);
  check(options.padding_idx >= -1 && options.padding_idx < options.num_embeddings,
        "Embedding: padding_idx {} must be -1 (none) or in [0, {})", options.padding_idx, options.num_embeddings);
  weight = register_parameter("weight", empty({options.num_embeddings, options.embedding_dim}));
  reset_parameters();
}

void Embedding::reset_parameters(Generator& gen) {
  init::normal_(weight, 0, 1, gen);
  if (options_.padding_idx >= 0) {
    NoGradGuard no_grad;
    real* row = weight.data() + options_.padding_idx * options_.embedding_dim;
    for (int64_t j = 0; j < options_.embedding_dim; ++j) row[j] = 0;
  }
}

Tensor Embedding::forward(const Tensor& indices) {
  check(indices.defined(), "Embedding: indices are undefined");
  Tensor rows = embedding(weight, indices);  // [indices..., D]
  if (options_.padding_idx < 0 || !rows.requires_grad()) return rows;
  // PyTorch semantics with ops only: keep the looked-up values everywhere, but at padding positions take
  // them from a detached copy, so the padding row receives no gradient. where() routes the gradient only
  // to the branch it selected.
  Shape mask_shape = indices.shape();
  mask_shape.push_back(1);
  Tensor not_padding = empty(mask_shape);  // [indices..., 1]: 1 where the id is not padding_idx
  const real pad = static_cast<real>(options_.padding_idx);
  for (int64_t i = 0, n = indices.numel(); i < n; ++i) not_padding.data()[i] = indices.data()[i] == pad ? 0 : 1;
  return where(not_padding, rows, rows.detach());  // [indices..., D]
}

std::string Embedding::describe() const {
  std::string out =
      fmt::format("Embedding(num_embeddings={}, embedding_dim={}", options_.num_embeddings, options_.embedding_dim);
  if (options_.padding_idx >= 0) out += fmt::format(", padding_idx={}", options_.padding_idx);
  return out + ")";
}

}  // namespace unroll::layers
