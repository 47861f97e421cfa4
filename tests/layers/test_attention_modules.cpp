// layers::AdditiveAttention and layers::MultiplicativeAttention (and attend() of layers/attention.hpp):
// parameters, masking, errors, agreement with the formulas written in plain torch ops (fixtures from
// tests/gen_attention_fixtures.py, cases additive*, dot*, general*), and gradcheck in float64.
// (tests/framework/ops/test_attention.cpp tests the op scaled_dot_product_attention.)
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

// mask [S, N] bool from lengths: step s of sequence n is real when s < lengths[n]
Tensor steps_mask(int64_t steps, const std::vector<int64_t>& lengths) {
  const Tensor s = reshape(arange(steps), {steps, 1});
  return lt(s, reshape(tensor(lengths, {static_cast<int64_t>(lengths.size())}), {1, -1}));
}
}  // namespace

TEST_CASE("AdditiveAttention: parameters, shapes, masking") {
  AdditiveAttention att({.query_size = 6, .key_size = 4, .hidden_size = 5});
  CHECK(names_of(att) ==
        std::vector<std::string>{"query_proj.weight [5, 6]", "key_proj.weight [5, 4]", "v.weight [1, 5]"});
  CHECK(att.describe() == "AdditiveAttention(query_size=6, key_size=4, hidden_size=5, bias=false)");
  AdditiveAttention with_bias({.query_size = 6, .key_size = 4, .hidden_size = 5, .bias = true});
  CHECK(names_of(with_bias) == std::vector<std::string>{"query_proj.weight [5, 6]", "query_proj.bias [5]",
                                                        "key_proj.weight [5, 4]", "v.weight [1, 5]"});

  const Tensor query = randn({3, 6}), keys = randn({7, 3, 4}), values = randn({7, 3, 2});
  const Tensor mask = steps_mask(7, {7, 2, 5});
  auto [context, weights] = att(query, keys, values, mask);
  CHECK(context.shape() == Shape{3, 2});
  CHECK(weights.shape() == Shape{3, 7});
  const std::vector<float> w = weights.to_vector();
  for (int64_t n = 0; n < 3; ++n) {
    const int64_t len = std::vector<int64_t>{7, 2, 5}[n];
    double total = 0;
    for (int64_t s = 0; s < 7; ++s) {
      if (s >= len) CHECK(w[n * 7 + s] == 0.0f);  // masked steps: exactly 0
      if (s < len) CHECK(w[n * 7 + s] > 0.0f);
      total += w[n * 7 + s];
    }
    CHECK(total == doctest::Approx(1).epsilon(1e-5));
  }
  // values undefined = the keys
  auto own = att(query, keys);
  CHECK(own.context.shape() == Shape{3, 4});
  // projecting the keys once gives the same result
  const Tensor projected = att.project_keys(keys);
  CHECK(projected.shape() == Shape{7, 3, 5});
  auto again = att.forward_projected(query, projected, values, mask);
  CHECK(max(abs(again.context - context)).item() == 0);
  CHECK(max(abs(again.weights - weights)).item() == 0);
}

TEST_CASE("MultiplicativeAttention: dot and general, parameters and shapes") {
  MultiplicativeAttention dot({.query_size = 4});
  CHECK(dot.named_parameters().empty());
  CHECK(dot.options().key_size == 4);
  CHECK(dot.describe() == "MultiplicativeAttention(query_size=4, key_size=4, score=dot)");
  MultiplicativeAttention general({.query_size = 6, .key_size = 4, .score = MultiplicativeScore::General});
  CHECK(names_of(general) == std::vector<std::string>{"key_proj.weight [6, 4]"});
  CHECK(general.describe() == "MultiplicativeAttention(query_size=6, key_size=4, score=general)");

  // dot by hand: one sequence, two steps, keys e1 and e2; the query (2, 0, 0, 0) scores 2 and 0
  const Tensor keys = tensor({1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f}).reshape({2, 1, 4});
  const Tensor query = tensor({2.0f, 0.0f, 0.0f, 0.0f}).reshape({1, 4});
  auto [context, weights] = dot(query, keys);
  const double e2 = std::exp(2.0);
  CHECK(weights.to_vector()[0] == doctest::Approx(e2 / (e2 + 1)).epsilon(1e-6));
  CHECK(weights.to_vector()[1] == doctest::Approx(1 / (e2 + 1)).epsilon(1e-6));
  CHECK(context.to_vector()[0] == doctest::Approx(e2 / (e2 + 1)).epsilon(1e-6));
  // masking the first step leaves all the weight on the second
  auto masked = dot(query, keys, Tensor(), tensor({false, true}).reshape({2, 1}));
  CHECK(masked.weights.to_vector() == std::vector<float>{0.0f, 1.0f});
}

TEST_CASE("attend: a sequence with no real step gets zero weights and context, and no NaN gradient") {
  Tensor scores = tensor({0.5, -1.0, 2.0, 0.3}, kFloat64).reshape({2, 2}).requires_grad_();
  Tensor values = tensor({1.0, 2.0, 3.0, 4.0}, kFloat64).reshape({2, 2, 1}).requires_grad_();
  const Tensor mask = tensor({true, false, false, false}).reshape({2, 2});  // sequence 1 has no real step
  auto [context, weights] = attend(scores, values, mask);
  CHECK(weights.to_vector<double>() == std::vector<double>{1, 0, 0, 0});
  CHECK(context.to_vector<double>() == std::vector<double>{1, 0});
  sum(context).backward();
  for (double g : scores.grad().to_vector<double>()) CHECK(g == 0);
  CHECK(values.grad().to_vector<double>() == std::vector<double>{1, 0, 0, 0});
}

TEST_CASE("RNN attentions: errors name the module and the shapes") {
  CHECK_THROWS_WITH_AS(MultiplicativeAttention({.query_size = 4, .key_size = 3}),
                       "MultiplicativeAttention: score dot needs key_size == query_size, got query_size 4 and key_size "
                       "3 (use score General for different sizes)",
                       Error);
  CHECK_THROWS_WITH_AS(AdditiveAttention({.query_size = 4, .key_size = 3}),
                       doctest::Contains("AdditiveAttention: query_size (4), key_size (3) and hidden_size (0) must be "
                                         "positive"),
                       Error);
  MultiplicativeAttention dot({.query_size = 4});
  CHECK_THROWS_WITH_AS(dot(randn({2, 4}), randn({5, 2, 3})),
                       "MultiplicativeAttention: score dot needs query and keys of one size, got query [2, 4] and keys "
                       "[5, 2, 3]",
                       Error);
  AdditiveAttention att({.query_size = 6, .key_size = 4, .hidden_size = 5});
  const Tensor query = randn({3, 6}), keys = randn({7, 3, 4});
  CHECK_THROWS_WITH_AS(att(randn({3, 5}), keys),
                       "AdditiveAttention: query must be [N, Q] = [N, 6], got [3, 5] (keys [7, 3, 4])", Error);
  CHECK_THROWS_WITH_AS(att(query, randn({3, 7, 4})),
                       "AdditiveAttention: keys must be [S, N, K] = [S, 3, 4] (time-major), got [3, 7, 4] (query [3, "
                       "6])",
                       Error);
  CHECK_THROWS_WITH_AS(att(query, keys, randn({6, 3, 2})),
                       "AdditiveAttention: values must be [S, N, V] = [7, 3, V] like the keys [7, 3, 4], got [6, 3, 2]",
                       Error);
  CHECK_THROWS_WITH_AS(att(query, keys, Tensor(), zeros({3, 7}, kBool)),
                       "AdditiveAttention: mask must be a bool tensor [S, N] = [7, 3] (true = a real step), got bool "
                       "[3, 7]",
                       Error);
  CHECK_THROWS_WITH_AS(att(query, keys, Tensor(), ones({7, 3})), doctest::Contains("got float32 [7, 3]"), Error);
  CHECK_THROWS_WITH_AS(att.forward_projected(query, randn({7, 3, 4}), keys),
                       doctest::Contains("AdditiveAttention: keys must be [S, N, K] = [S, 3, 5]"), Error);
}

TEST_CASE("RNN attentions agree with their formulas in torch (outputs and gradients, float32 and float64)") {
  std::vector<std::string> names;
  for (const char* prefix : {"additive", "dot", "general"})
    for (const std::string& n : attention_test::cases_with_prefix(prefix)) names.push_back(n);
  REQUIRE(names.size() == 7);
  for (const std::string& name : names) {
    const unroll_test::Case& c = attention_test::fixtures().at(name);
    for (DType dtype : {kFloat32, kFloat64}) {
      const int64_t kind = attention_test::opt(c, "kind");
      const int64_t q_size = attention_test::opt(c, "query_size"), k_size = attention_test::opt(c, "key_size");
      std::unique_ptr<Module> module;
      std::function<AttentionOutput(const Tensor&, const Tensor&, const Tensor&, const Tensor&)> run;
      if (kind == 0) {
        auto m = std::make_unique<AdditiveAttention>(
            AdditiveAttentionOptions{.query_size = q_size,
                                     .key_size = k_size,
                                     .hidden_size = attention_test::opt(c, "hidden_size"),
                                     .bias = attention_test::opt(c, "bias") != 0});
        run = [p = m.get()](const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
          return p->forward(q, k, v, mask);
        };
        module = std::move(m);
      } else {
        auto m = std::make_unique<MultiplicativeAttention>(MultiplicativeAttentionOptions{
            .query_size = q_size,
            .key_size = k_size,
            .score = kind == 1 ? MultiplicativeScore::Dot : MultiplicativeScore::General});
        run = [p = m.get()](const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
          return p->forward(q, k, v, mask);
        };
        module = std::move(m);
      }
      attention_test::load_parameters(*module, c, dtype);
      const bool separate = attention_test::opt(c, "values") != 0;
      const Tensor query = attention_test::input(c, "query", dtype), keys = attention_test::input(c, "keys", dtype);
      const Tensor values = separate ? attention_test::input(c, "values", dtype) : Tensor();
      auto [context, weights] = run(query, keys, values, attention_test::mask(c, "steps", dtype));
      attention_test::weighted_loss(c, {{"context", context}, {"weights", weights}}, dtype).backward();
      attention_test::check_close(name + " context", context, c.at("out.context"), dtype, "outputs");
      attention_test::check_close(name + " weights", weights, c.at("out.weights"), dtype, "outputs");
      attention_test::check_close(name + " grad query", query.grad(), c.at("grad_in.query"), dtype, "input gradients");
      attention_test::check_close(name + " grad keys", keys.grad(), c.at("grad_in.keys"), dtype, "input gradients");
      if (separate)
        attention_test::check_close(name + " grad values", values.grad(), c.at("grad_in.values"), dtype,
                                    "input gradients");
      attention_test::check_param_grads(*module, c, dtype);
    }
  }
  attention_test::report_worst("RNN attentions");
}

TEST_CASE("RNN attentions: gradcheck in float64 (query, keys, values and every parameter, with a mask)") {
  Generator gen(11);
  const Tensor query = randn({2, 3}, kFloat64, gen).requires_grad_();
  const Tensor keys = randn({4, 2, 3}, kFloat64, gen).requires_grad_();
  const Tensor values = randn({4, 2, 2}, kFloat64, gen).requires_grad_();
  const Tensor mask = steps_mask(4, {4, 2});
  auto flat = [](const AttentionOutput& r) { return concat({reshape(r.context, {-1}), reshape(r.weights, {-1})}, 0); };

  AdditiveAttention additive({.query_size = 3, .key_size = 3, .hidden_size = 4, .bias = true});
  additive.to(kFloat64);
  std::vector<Tensor> inputs{query, keys, values};
  for (const Tensor& p : additive.parameters()) inputs.push_back(p);
  unroll_test::expect_gradcheck(
      [&](const std::vector<Tensor>& in) { return flat(additive(in[0], in[1], in[2], mask)); }, inputs);
  // the precomputed-keys path
  unroll_test::expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return flat(additive.forward_projected(in[0], additive.project_keys(in[1]), in[2], mask));
      },
      inputs);

  for (MultiplicativeScore score : {MultiplicativeScore::Dot, MultiplicativeScore::General}) {
    MultiplicativeAttention mult({.query_size = 3, .score = score});
    mult.to(kFloat64);
    std::vector<Tensor> in_m{query, keys, values};
    for (const Tensor& p : mult.parameters()) in_m.push_back(p);
    unroll_test::expect_gradcheck([&](const std::vector<Tensor>& in) { return flat(mult(in[0], in[1], in[2], mask)); },
                                  in_m);
    // values = keys
    unroll_test::expect_gradcheck([&](const std::vector<Tensor>& in) { return flat(mult(in[0], in[1])); }, in_m);
  }
}
