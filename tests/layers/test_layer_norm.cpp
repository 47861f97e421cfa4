// layers::LayerNorm: options, parameters, errors, agreement with torch.nn.LayerNorm (fixtures from
// tests/gen_attention_fixtures.py, cases layer_norm_*), and gradcheck in float64.
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

#include "layers/attention_fixtures.hpp"
#include "support/gradcheck_helpers.hpp"

using namespace unroll;
using namespace unroll::layers;

TEST_CASE("LayerNorm: parameters, initial values and description as PyTorch's") {
  LayerNorm norm({.normalized_shape = {3, 4}});
  const auto params = norm.named_parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].first == "weight");
  CHECK(params[1].first == "bias");
  CHECK(norm.weight.shape() == Shape{3, 4});
  CHECK(norm.bias.shape() == Shape{3, 4});
  CHECK(norm.weight.to_vector() == std::vector<float>(12, 1.0f));
  CHECK(norm.bias.to_vector() == std::vector<float>(12, 0.0f));
  CHECK(norm.describe() == "LayerNorm(normalized_shape=[3, 4], eps=1e-05, elementwise_affine=true)");

  LayerNorm plain({.normalized_shape = {5}, .eps = 1e-3, .elementwise_affine = false});
  CHECK(plain.named_parameters().empty());
  CHECK_FALSE(plain.weight.defined());
  // without affine parameters the output has zero mean and (biased) variance 1 / (1 + eps / var) per row
  Tensor x = tensor({1.0, 2.0, 4.0, 8.0, 16.0, -1.0, 0.0, 1.0, 0.0, 0.0}, kFloat64).reshape({2, 5});
  Tensor y = plain(x);
  CHECK(y.shape() == Shape{2, 5});
  const std::vector<double> m = mean(y, {1}).to_vector<double>();
  CHECK(m[0] == doctest::Approx(0).epsilon(1e-12));
  CHECK(m[1] == doctest::Approx(0).epsilon(1e-12));
  const double var0 = var(x, {1}, false).to_vector<double>()[0];
  CHECK(var(y, {1}, false).to_vector<double>()[0] == doctest::Approx(var0 / (var0 + 1e-3)).epsilon(1e-12));
}

TEST_CASE("LayerNorm: errors name the module and the shapes") {
  CHECK_THROWS_WITH_AS(LayerNorm({.normalized_shape = {}}),
                       doctest::Contains("LayerNorm: normalized_shape must have at least one dim"), Error);
  CHECK_THROWS_WITH_AS(LayerNorm({.normalized_shape = {4, 0}}), doctest::Contains("[4, 0]"), Error);
  LayerNorm norm({.normalized_shape = {4}});
  CHECK_THROWS_WITH_AS(norm(zeros({2, 3})), "LayerNorm: input of shape [2, 3] does not end in normalized_shape [4]",
                       Error);
  CHECK_THROWS_WITH_AS(norm(Tensor()), doctest::Contains("LayerNorm"), Error);
}

TEST_CASE("LayerNorm agrees with torch.nn.LayerNorm (outputs and gradients, float32 and float64)") {
  const auto names = attention_test::cases_with_prefix("layer_norm_");
  REQUIRE(names.size() == 4);
  for (const std::string& name : names) {
    const unroll_test::Case& c = attention_test::fixtures().at(name);
    for (DType dtype : {kFloat32, kFloat64}) {
      const Tensor x = attention_test::input(c, "x", dtype);
      const int64_t nd = attention_test::opt(c, "nd");
      const Shape normalized(x.shape().begin() + (x.dim() - nd), x.shape().end());
      LayerNorm norm({.normalized_shape = normalized,
                      .eps = attention_test::opt(c, "eps_e9") * 1e-9,
                      .elementwise_affine = attention_test::opt(c, "affine") != 0});
      attention_test::load_parameters(norm, c, dtype);
      const Tensor y = norm(x);
      attention_test::weighted_loss(c, {{"y", y}}, dtype).backward();
      attention_test::check_close(name + " y", y, c.at("out.y"), dtype, "outputs");
      attention_test::check_close(name + " grad x", x.grad(), c.at("grad_in.x"), dtype, "input gradients");
      attention_test::check_param_grads(norm, c, dtype);
    }
  }
  attention_test::report_worst("LayerNorm");
}

TEST_CASE("LayerNorm: gradcheck in float64 (input, weight, bias)") {
  LayerNorm norm({.normalized_shape = {2, 3}});
  norm.to(kFloat64);
  {
    NoGradGuard no_grad;
    norm.weight.copy_(tensor({0.5, -1.5, 2.0, 0.7, 1.1, -0.3}, kFloat64).reshape({2, 3}));
    norm.bias.copy_(tensor({0.1, 0.2, -0.3, 0.4, 0.0, 0.6}, kFloat64).reshape({2, 3}));
  }
  const Tensor x = unroll_test::distinct_leaf({4, 2, 3});
  unroll_test::expect_gradcheck([&](const std::vector<Tensor>& in) { return norm(in[0]); },
                                {x, norm.weight, norm.bias});
}
