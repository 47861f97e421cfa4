// Tests for layers/linear.cpp: parameters and names, PyTorch's default initialization, values for 1-D,
// 2-D and 3-D inputs, bias = false, error messages, and a gradient check through the module.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

namespace {

using V = std::vector<real>;

void set(Tensor t, const V& values) {
  REQUIRE(static_cast<int64_t>(values.size()) == t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = values[i];
}

}  // namespace

TEST_CASE("Linear registers weight [O, I] and bias [O] under PyTorch's names") {
  Linear fc({.in_features = 8, .out_features = 4});
  CHECK(fc.weight.shape() == Shape{4, 8});
  CHECK(fc.bias.shape() == Shape{4});
  const auto named = fc.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(named[0].second.impl() == fc.weight.impl());
  CHECK(fc.weight.requires_grad());
  CHECK(fc.num_parameters() == 36);
  CHECK(fc.describe() == "Linear(in_features=8, out_features=4, bias=true)");

  Linear nobias({.in_features = 3, .out_features = 2, .bias = false});
  CHECK_FALSE(nobias.bias.defined());
  CHECK(nobias.parameters().size() == 1);
  CHECK(nobias.describe() == "Linear(in_features=3, out_features=2, bias=false)");
}

TEST_CASE("Linear default init is U(-1/sqrt(in), 1/sqrt(in)) for weight and bias") {
  manual_seed(3);
  Linear fc({.in_features = 100, .out_features = 300});
  const double bound = 1 / std::sqrt(100.0);
  double sum = 0, sum2 = 0, max_abs = 0;
  for (real v : fc.weight.to_vector()) {
    sum += v;
    sum2 += v * v;
    max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
  }
  const double n = fc.weight.numel();
  CHECK(max_abs <= bound);
  CHECK(max_abs > 0.98 * bound);
  CHECK(std::abs(sum / n) < 0.005);                                     // mean 0 (std of the mean ~0.001)
  CHECK(sum2 / n == doctest::Approx(bound * bound / 3).epsilon(0.05));  // variance b^2 / 3
  for (real v : fc.bias.to_vector()) CHECK(std::abs(v) <= bound);
  // seeded: the same numbers again; reset_parameters draws new ones
  manual_seed(3);
  Linear again({.in_features = 100, .out_features = 300});
  CHECK(again.weight.to_vector() == fc.weight.to_vector());
  CHECK(again.bias.to_vector() == fc.bias.to_vector());
  Generator gen(11);
  again.reset_parameters(gen);
  CHECK(again.weight.to_vector() != fc.weight.to_vector());
  CHECK(again.weight.impl() == again.named_parameters()[0].second.impl());  // in place
}

TEST_CASE("Linear computes x W^T + b for any leading dims") {
  Linear fc({.in_features = 3, .out_features = 2});
  set(fc.weight, {1, 2, 3, -1, 0, 1});
  set(fc.bias, {0.5, -0.5});
  CHECK(fc(tensor({1.0, 1.0, 1.0})).to_vector() == V{6.5, -0.5});   // [I] -> [O]
  const Tensor y = fc(tensor({{1.0, 0.0, 0.0}, {0.0, 1.0, 2.0}}));  // [N, I] -> [N, O]
  CHECK(y.shape() == Shape{2, 2});
  CHECK(y.to_vector() == V{1.5, -1.5, 8.5, 1.5});
  const Tensor z = fc(reshape(arange(0.0, 12.0, 1.0), {2, 2, 3}));  // [T, N, I] -> [T, N, O]
  CHECK(z.shape() == Shape{2, 2, 2});
  CHECK(z.to_vector() == V{8.5, 1.5, 26.5, 1.5, 44.5, 1.5, 62.5, 1.5});

  Linear nobias({.in_features = 3, .out_features = 2, .bias = false});
  set(nobias.weight, {1, 2, 3, -1, 0, 1});
  CHECK(nobias(tensor({1.0, 1.0, 1.0})).to_vector() == V{6, 0});
}

TEST_CASE("Linear errors") {
  Linear fc({.in_features = 3, .out_features = 2});
  CHECK_THROWS_WITH_AS(fc(zeros({4, 5})), "Linear: input of shape [4, 5] does not end in in_features = 3", Error);
  CHECK_THROWS_WITH_AS(fc(scalar(1.0)), "Linear: input of shape [] does not end in in_features = 3", Error);
  CHECK_THROWS_WITH_AS(Linear({.in_features = -1, .out_features = 2}),
                       "Linear: in_features (-1) and out_features (2) must not be negative", Error);
}

TEST_CASE("Linear gradients match finite differences (in float64)") {
  manual_seed(1);
  Linear fc({.in_features = 4, .out_features = 3});
  fc.to(kFloat64);
  Tensor x = randn({2, 5, 4}, kFloat64);
  x.requires_grad_();
  const GradcheckResult r =
      gradcheck([&](const std::vector<Tensor>& in) { return tanh(fc(in[0])); }, {x, fc.weight, fc.bias});
  CHECK_MESSAGE(r.ok, r.message);

  Linear nobias({.in_features = 4, .out_features = 2, .bias = false});
  nobias.to(kFloat64);
  const GradcheckResult r2 =
      gradcheck([&](const std::vector<Tensor>& in) { return nobias(in[0]); }, {x, nobias.weight});
  CHECK_MESSAGE(r2.ok, r2.message);
}

TEST_CASE("Linear bias gradient is the row sum of the output gradient") {
  Linear fc({.in_features = 2, .out_features = 2});
  fc(tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}})).sum().backward();
  CHECK(fc.bias.grad().to_vector() == V{3, 3});
  CHECK(fc.weight.grad().to_vector() == V{9, 12, 9, 12});
}
