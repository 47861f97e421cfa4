#include "unroll/layers/embedding.hpp"

#include <cstring>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"
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
    const int64_t row_bytes = options_.embedding_dim * weight.element_size();
    std::memset(static_cast<char*>(weight.data_ptr()) + options_.padding_idx * row_bytes, 0, row_bytes);
  }
}

Tensor Embedding::forward(const Tensor& indices) {
  check(indices.defined(), "Embedding: indices are undefined");
  Tensor rows = embedding(weight, indices);  // [indices..., D]
  if (options_.padding_idx < 0 || !rows.requires_grad()) return rows;
  // PyTorch semantics with ops only: keep the looked-up values everywhere, but at padding positions take
  // them from a detached copy, so the padding row receives no gradient. where() routes the gradient only
  // to the branch it selected.
  const Tensor not_padding = unsqueeze(ne(indices, options_.padding_idx), -1);  // [indices..., 1] bool
  return where(not_padding, rows, rows.detach());                               // [indices..., D]
}

std::string Embedding::describe() const {
  std::string out =
      fmt::format("Embedding(num_embeddings={}, embedding_dim={}", options_.num_embeddings, options_.embedding_dim);
  if (options_.padding_idx >= 0) out += fmt::format(", padding_idx={}", options_.padding_idx);
  return out + ")";
}

}  // namespace unroll::layers
