// Tests for layers/embedding.cpp: N(0, 1) init, lookups of any index shape, padding_idx (zero row that
// never receives a gradient), errors, and a gradient check.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

namespace {

using V = std::vector<real>;

V row(const Tensor& weight, int64_t r) {
  const int64_t d = weight.size(1);
  return V(weight.data() + r * d, weight.data() + (r + 1) * d);
}

}  // namespace

TEST_CASE("Embedding: weight [V, D] drawn from N(0, 1)") {
  manual_seed(5);
  Embedding emb({.num_embeddings = 1000, .embedding_dim = 64});
  CHECK(emb.weight.shape() == Shape{1000, 64});
  CHECK(emb.named_parameters().size() == 1);
  CHECK(emb.named_parameters()[0].first == "weight");
  CHECK(emb.weight.requires_grad());
  double sum = 0, sum2 = 0;
  for (real v : emb.weight.to_vector()) {
    sum += v;
    sum2 += v * v;
  }
  const double n = emb.weight.numel();
  CHECK(std::abs(sum / n) < 0.03);  // std of the mean ~0.004
  CHECK(sum2 / n == doctest::Approx(1).epsilon(0.05));
  CHECK(emb.describe() == "Embedding(num_embeddings=1000, embedding_dim=64)");
}

TEST_CASE("Embedding looks up rows for indices of any shape") {
  Embedding emb({.num_embeddings = 4, .embedding_dim = 3});
  const Tensor w = emb.weight;
  const Tensor ids = tensor({{3, 0, 3}, {1, 2, 0}});  // [N, T]
  const Tensor out = emb(ids);
  CHECK(out.shape() == Shape{2, 3, 3});
  const V values = out.to_vector();
  const int ids_flat[] = {3, 0, 3, 1, 2, 0};
  for (int k = 0; k < 6; ++k) CHECK(V(values.begin() + 3 * k, values.begin() + 3 * k + 3) == row(w, ids_flat[k]));
  CHECK(emb(tensor({2})).shape() == Shape{1, 3});
  CHECK(emb(scalar(1)).shape() == Shape{3});
  CHECK(emb(scalar(1)).to_vector() == row(w, 1));
}

TEST_CASE("Embedding padding_idx: the row starts at zero and never receives a gradient") {
  manual_seed(2);
  Embedding emb({.num_embeddings = 5, .embedding_dim = 3, .padding_idx = 1});
  CHECK(emb.describe() == "Embedding(num_embeddings=5, embedding_dim=3, padding_idx=1)");
  CHECK(row(emb.weight, 1) == V{0, 0, 0});
  CHECK(row(emb.weight, 0) != V{0, 0, 0});

  const Tensor ids = tensor({{1, 0, 1}, {4, 1, 0}});
  const Tensor out = emb(ids);
  CHECK(out.shape() == Shape{2, 3, 3});
  const V values = out.to_vector();
  CHECK(V(values.begin(), values.begin() + 3) == V{0, 0, 0});

  // the same lookup without padding_idx, on the same weights, gives the same values and gradients
  Embedding plain({.num_embeddings = 5, .embedding_dim = 3});
  plain.load_state_dict(emb.state_dict());
  const Tensor seed = reshape(arange(1.0, 19.0, 1.0), {2, 3, 3});  // 1 ... 18
  out.backward(seed);
  const Tensor plain_out = plain(ids);
  CHECK(plain_out.to_vector() == out.to_vector());
  plain_out.backward(seed);
  const Tensor g = emb.weight.grad(), pg = plain.weight.grad();
  CHECK(row(g, 1) == V{0, 0, 0});   // padding: nothing, although it was looked up three times
  CHECK(row(pg, 1) != V{0, 0, 0});  // (without padding_idx it would get the sum)
  CHECK(row(g, 0) == row(pg, 0));   // other rows: the usual scatter-add
  CHECK(row(g, 0) == V{4 + 16, 5 + 17, 6 + 18});
  CHECK(row(g, 4) == V{10, 11, 12});
  CHECK(row(g, 2) == V{0, 0, 0});  // never looked up

  // a row that is not zero (loaded) is returned as is, still without gradient (PyTorch semantics)
  {
    NoGradGuard no_grad;
    emb.weight.data()[3 * 1 + 2] = 7;
  }
  emb.zero_grad();
  const Tensor out2 = emb(tensor({1}));
  CHECK(out2.to_vector() == V{0, 0, 7});
  out2.sum().backward();
  CHECK(row(emb.weight.grad(), 1) == V{0, 0, 0});

  // without grad mode the lookup is plain
  NoGradGuard no_grad;
  CHECK(emb(tensor({1, 0})).shape() == Shape{2, 3});
}

TEST_CASE("Embedding errors") {
  Embedding emb({.num_embeddings = 4, .embedding_dim = 2});
  CHECK_THROWS_WITH_AS(emb(tensor({4})),
                       "embedding: index 4 is out of range for a vocabulary of 4 rows (index shape [1], weight shape "
                       "[4, 2])",
                       Error);
  CHECK_THROWS_WITH_AS(emb(tensor({-1})), doctest::Contains("embedding: index -1 is out of range"), Error);
  // indices are int64: floating (or bool) ids are refused, even when they hold whole numbers
  CHECK_THROWS_WITH_AS(
      emb(tensor({0.5})),
      "embedding: indices must be an int64 tensor, got float32 (index shape [1], weight shape [4, 2]); "
      "convert with .to(kInt64)",
      Error);
  CHECK_THROWS_WITH_AS(emb(tensor({{1.0, 2.0}}, kFloat64)),
                       doctest::Contains("embedding: indices must be an int64 tensor, got float64 (index shape [1, 2]"),
                       Error);
  CHECK_THROWS_WITH_AS(emb(tensor({true})), doctest::Contains("indices must be an int64 tensor, got bool"), Error);
  Embedding padded({.num_embeddings = 4, .embedding_dim = 2, .padding_idx = 0});
  CHECK_THROWS_WITH_AS(padded(tensor({1.0})), doctest::Contains("indices must be an int64 tensor, got float32"), Error);
  CHECK(emb(tensor({1.0}).to(kInt64)).to_vector() == row(emb.weight, 1));  // the fix the message names
  CHECK_THROWS_WITH_AS(Embedding({.num_embeddings = 4, .embedding_dim = 2, .padding_idx = 4}),
                       "Embedding: padding_idx 4 must be -1 (none) or in [0, 4)", Error);
  CHECK_THROWS_WITH_AS(Embedding({.num_embeddings = -1, .embedding_dim = 2}),
                       "Embedding: num_embeddings (-1) and embedding_dim (2) must not be negative", Error);
}

TEST_CASE("Embedding gradients match finite differences (in float64)") {
  manual_seed(4);
  Embedding emb({.num_embeddings = 6, .embedding_dim = 3});
  emb.to(kFloat64);
  const Tensor ids = tensor({{5, 0, 2}, {0, 0, 3}});
  const GradcheckResult r = gradcheck([&](const std::vector<Tensor>&) { return tanh(emb(ids)); }, {emb.weight});
  CHECK_MESSAGE(r.ok, r.message);
  // with padding_idx and indices that avoid it: the ordinary gradient
  Embedding padded({.num_embeddings = 6, .embedding_dim = 3, .padding_idx = 1});
  padded.to(kFloat64);
  CHECK(tanh(padded(ids)).dtype() == kFloat64);
  const GradcheckResult r2 = gradcheck([&](const std::vector<Tensor>&) { return tanh(padded(ids)); }, {padded.weight});
  CHECK_MESSAGE(r2.ok, r2.message);
}
