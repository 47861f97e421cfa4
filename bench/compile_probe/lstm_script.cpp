// A typical small model script: an embedding, a 2-layer LSTM and a linear head, one training step.
// bench/compile_time.sh times how long this file takes to compile (-O2): users iterate on files like it.
#include <unroll/unroll.hpp>

using namespace unroll;

int main() {
  const int64_t T = 10, N = 4, V = 50, E = 8, H = 16;
  layers::Embedding embed({.num_embeddings = V, .embedding_dim = E});
  layers::LSTM lstm({.input_size = E, .hidden_size = H, .num_layers = 2});
  layers::Linear head({.in_features = H, .out_features = V});
  Tensor tokens = empty({T, N}, kInt64), targets = empty({T * N}, kInt64);  // token ids
  for (int64_t i = 0; i < T * N; ++i) tokens.data<int64_t>()[i] = targets.data<int64_t>()[i] = i % V;
  auto [y, state] = lstm(embed(tokens));  // [T, N, H]
  Tensor loss = cross_entropy(reshape(head(y), {T * N, V}), targets);
  loss.backward();
  return lstm.parameters()[0].grad().defined() ? 0 : 1;
}
