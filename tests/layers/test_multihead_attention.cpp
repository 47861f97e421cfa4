// layers::MultiheadAttention: parameters (PyTorch's names, shapes and order), errors, agreement with
// torch.nn.MultiheadAttention (fixtures from tests/gen_attention_fixtures.py, cases mha_*: time-major and
// batch_first, key_padding_mask bool and float, attn_mask bool 2-D and float 3-D, kdim/vdim, no bias, weights
// per head, self-attention, unbatched), and gradcheck in float64.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

#include "layers/attention_fixtures.hpp"
#include "support/gradcheck_helpers.hpp"

using namespace unroll;
using namespace unroll::layers;

namespace {
std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, p] : m.named_parameters()) out.push_back(name + " " + to_string(p.shape()));
  return out;
}
}  // namespace

TEST_CASE("MultiheadAttention: parameter names, shapes, order and initial values as PyTorch's") {
  MultiheadAttention mha({.embed_dim = 8, .num_heads = 2});
  CHECK(names_of(mha) == std::vector<std::string>{"in_proj_weight [24, 8]", "in_proj_bias [24]",
                                                  "out_proj.weight [8, 8]", "out_proj.bias [8]"});
  CHECK(mha.head_dim() == 4);
  // xavier_uniform_ on [3E, E]: bound sqrt(6 / (E + 3E)); biases start at zero
  const double bound = std::sqrt(6.0 / 32);
  CHECK(max(abs(mha.in_proj_weight)).item() <= bound);
  CHECK(max(abs(mha.in_proj_weight)).item() > bound / 2);
  CHECK(mha.in_proj_bias.to_vector() == std::vector<float>(24, 0.0f));
  CHECK(mha.out_proj.bias.to_vector() == std::vector<float>(8, 0.0f));
  CHECK(mha.describe() ==
        "MultiheadAttention(embed_dim=8, num_heads=2, dropout=0, bias=true, kdim=8, vdim=8, batch_first=false)");

  MultiheadAttention kv({.embed_dim = 6, .num_heads = 3, .bias = false, .kdim = 4, .vdim = 5});
  CHECK(names_of(kv) == std::vector<std::string>{"q_proj_weight [6, 6]", "k_proj_weight [6, 4]", "v_proj_weight [6, 5]",
                                                 "out_proj.weight [6, 6]"});
  CHECK_FALSE(kv.in_proj_weight.defined());
  CHECK_FALSE(kv.in_proj_bias.defined());
}

TEST_CASE("MultiheadAttention: shapes of outputs and weights") {
  MultiheadAttention mha({.embed_dim = 8, .num_heads = 2});
  const Tensor q = randn({3, 2, 8}), kv = randn({5, 2, 8});
  auto [out, w] = mha(q, kv, kv);
  CHECK(out.shape() == Shape{3, 2, 8});
  CHECK(w.shape() == Shape{2, 3, 5});
  // each query's weights sum to 1 over the keys
  for (float total : sum(w, {2}).to_vector()) CHECK(total == doctest::Approx(1).epsilon(1e-5));
  auto per_head = mha(q, kv, kv, Tensor(), true, Tensor(), false);
  CHECK(per_head.weights.shape() == Shape{2, 2, 3, 5});
  // need_weights = false: the same output, no weights
  auto no_weights = mha(q, kv, kv, Tensor(), false);
  CHECK_FALSE(no_weights.weights.defined());
  CHECK(max(abs(no_weights.output - out)).item() == 0);

  MultiheadAttention bf({.embed_dim = 8, .num_heads = 4, .batch_first = true});
  auto [out_bf, w_bf] = bf(randn({2, 3, 8}), randn({2, 5, 8}), randn({2, 5, 8}));
  CHECK(out_bf.shape() == Shape{2, 3, 8});
  CHECK(w_bf.shape() == Shape{2, 3, 5});

  // a padded key gets weight 0 for every query
  Tensor pad = zeros({2, 5}, kBool);
  pad = scatter(pad, 1, tensor({{4}, {1}}), true);
  auto masked = mha(q, kv, kv, pad);
  const Tensor w0 = masked.weights;  // [N, L, S]
  CHECK(max(abs(narrow(narrow(w0, 0, 0, 1), 2, 4, 1))).item() == 0);
  CHECK(max(abs(narrow(narrow(w0, 0, 1, 1), 2, 1, 1))).item() == 0);
  CHECK(min(narrow(narrow(w0, 0, 0, 1), 2, 0, 4)).item() > 0);
}

TEST_CASE("MultiheadAttention: self-attention's fused input projection agrees with three separate ones") {
  MultiheadAttention mha({.embed_dim = 6, .num_heads = 3});
  mha.to(kFloat64);
  const Tensor x = randn({4, 2, 6}, kFloat64);
  auto fused = mha(x, x, x);           // query, key and value are one tensor: one [3E, E] product
  auto separate = mha(x, x * 1.0, x);  // a different key tensor: three [E, E] products
  CHECK(max(abs(fused.output - separate.output)).item<double>() < 1e-14);
  CHECK(max(abs(fused.weights - separate.weights)).item<double>() < 1e-14);
  Tensor xg = x.detach().requires_grad_();
  unroll_test::expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        auto r = mha(in[0], in[0], in[0]);
        return concat({reshape(r.output, {-1}), reshape(r.weights, {-1})}, 0);
      },
      {xg, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight});
}

TEST_CASE("MultiheadAttention: dropout on the weights in training only") {
  manual_seed(7);
  MultiheadAttention mha({.embed_dim = 4, .num_heads = 2, .dropout = 0.5});
  const Tensor x = randn({6, 3, 4});
  auto train_out = mha(x, x, x);
  // in training some weights are dropped (exact zeros) and the kept ones are scaled by 2
  const std::vector<float> w = mha(x, x, x, Tensor(), true, Tensor(), false).weights.to_vector();
  CHECK(std::count(w.begin(), w.end(), 0.0f) > 0);
  mha.eval();
  auto a = mha(x, x, x), b = mha(x, x, x);
  CHECK(max(abs(a.output - b.output)).item() == 0);
  CHECK(max(abs(a.output - train_out.output)).item() > 0);
  for (float total : sum(a.weights, {2}).to_vector()) CHECK(total == doctest::Approx(1).epsilon(1e-5));
}

TEST_CASE("MultiheadAttention: errors name the module and the shapes") {
  CHECK_THROWS_WITH_AS(MultiheadAttention({.embed_dim = 10, .num_heads = 3}),
                       "MultiheadAttention: embed_dim (10) must be divisible by num_heads (3)", Error);
  CHECK_THROWS_WITH_AS(MultiheadAttention({.embed_dim = 0, .num_heads = 1}),
                       doctest::Contains("MultiheadAttention: embed_dim (0) and num_heads (1) must be positive"),
                       Error);
  MultiheadAttention mha({.embed_dim = 8, .num_heads = 2});
  const Tensor q = randn({3, 2, 8}), kv = randn({5, 2, 8});
  CHECK_THROWS_WITH_AS(mha(randn({3, 2, 6}), kv, kv),
                       doctest::Contains("MultiheadAttention: query must end in embed_dim = 8, got [3, 2, 6]"), Error);
  CHECK_THROWS_WITH_AS(mha(q, randn({5, 2, 7}), kv), doctest::Contains("key must end in kdim = 8"), Error);
  CHECK_THROWS_WITH_AS(mha(q, randn({5, 3, 8}), randn({5, 3, 8})), doctest::Contains("one batch size"), Error);
  CHECK_THROWS_WITH_AS(mha(q, kv, randn({4, 2, 8})), doctest::Contains("one batch size"), Error);
  CHECK_THROWS_WITH_AS(mha(q, kv, kv, zeros({5, 2}, kBool)),
                       doctest::Contains("key_padding_mask must be bool or floating [2, 5] ([N, S], true = ignore), "
                                         "got bool [5, 2]"),
                       Error);
  CHECK_THROWS_WITH_AS(mha(q, kv, kv, zeros({2, 5}, kInt64)), doctest::Contains("got int64 [2, 5]"), Error);
  CHECK_THROWS_WITH_AS(mha(q, kv, kv, Tensor(), true, zeros({5, 3}, kBool)),
                       doctest::Contains("attn_mask must be bool or floating [L, S] = [3, 5] or [N*H, L, S] = [4, 3, "
                                         "5]"),
                       Error);
  CHECK_THROWS_WITH_AS(mha(q, randn({5, 8}), randn({5, 8})), doctest::Contains("must all be batched"), Error);
  CHECK_THROWS_WITH_AS(mha(q.to(kFloat64), kv, kv), doctest::Contains("the parameters' dtype float32"), Error);
}

TEST_CASE("MultiheadAttention agrees with torch.nn.MultiheadAttention (outputs, weights, gradients)") {
  const auto names = attention_test::cases_with_prefix("mha_");
  REQUIRE(names.size() == 12);
  for (const std::string& name : names) {
    const unroll_test::Case& c = attention_test::fixtures().at(name);
    for (DType dtype : {kFloat32, kFloat64}) {
      MultiheadAttention mha({.embed_dim = attention_test::opt(c, "embed_dim"),
                              .num_heads = attention_test::opt(c, "num_heads"),
                              .bias = attention_test::opt(c, "bias") != 0,
                              .kdim = attention_test::opt(c, "kdim"),
                              .vdim = attention_test::opt(c, "vdim"),
                              .batch_first = attention_test::opt(c, "batch_first") != 0});
      attention_test::load_parameters(mha, c, dtype);
      const bool self_attn = attention_test::opt(c, "self_attn") != 0;
      std::vector<std::string> inputs =
          self_attn ? std::vector<std::string>{"x"} : std::vector<std::string>{"query", "key", "value"};
      std::map<std::string, Tensor> in;
      for (const std::string& i : inputs) in[i] = attention_test::input(c, i, dtype);
      const Tensor& q = self_attn ? in["x"] : in["query"];
      const Tensor& k = self_attn ? in["x"] : in["key"];
      const Tensor& v = self_attn ? in["x"] : in["value"];
      auto [out, w] = mha(q, k, v, attention_test::mask(c, "key_padding", dtype), true,
                          attention_test::mask(c, "attn", dtype), attention_test::opt(c, "average") != 0);
      attention_test::weighted_loss(c, {{"output", out}, {"weights", w}}, dtype).backward();
      attention_test::check_close(name + " output", out, c.at("out.output"), dtype, "outputs");
      attention_test::check_close(name + " weights", w, c.at("out.weights"), dtype, "outputs");
      for (const std::string& i : inputs)
        attention_test::check_close(name + " grad " + i, in[i].grad(), c.at("grad_in." + i), dtype, "input gradients");
      attention_test::check_param_grads(mha, c, dtype);
    }
  }
  attention_test::report_worst("MultiheadAttention");
}

TEST_CASE("MultiheadAttention: gradcheck in float64 (inputs and every parameter, with masks)") {
  for (bool batch_first : {false, true}) {
    MultiheadAttention mha({.embed_dim = 4, .num_heads = 2, .kdim = 3, .vdim = 5, .batch_first = batch_first});
    mha.to(kFloat64);
    Generator gen(3);
    const Tensor query = randn({2, 2, 4}, kFloat64, gen).requires_grad_();
    const Tensor key = randn(batch_first ? Shape{2, 3, 3} : Shape{3, 2, 3}, kFloat64, gen).requires_grad_();
    const Tensor value = randn(batch_first ? Shape{2, 3, 5} : Shape{3, 2, 5}, kFloat64, gen).requires_grad_();
    Tensor pad = zeros({2, 3}, kBool);
    pad = scatter(pad, 1, tensor({{2}, {0}}), true);   // batch 0 ignores key 2, batch 1 key 0
    const Tensor attn = randn({2, 3}, kFloat64, gen);  // float mask, added
    std::vector<Tensor> inputs{query, key, value};
    for (const Tensor& p : mha.parameters()) inputs.push_back(p);
    unroll_test::expect_gradcheck(
        [&](const std::vector<Tensor>& in) {
          auto r = mha(in[0], in[1], in[2], pad, true, attn);
          return concat({reshape(r.output, {-1}), reshape(r.weights, {-1})}, 0);
        },
        inputs);
  }
}
