// Tests for layers/activation.hpp: Tanh, ReLU and Sigmoid modules match their ops, have no parameters,
// and differentiate.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

TEST_CASE("activation modules compute their op elementwise, any shape") {
  const Tensor x = tensor({{-2.0, -0.5, 0.0}, {0.5, 1.0, 3.0}});
  Tanh th;
  ReLU rl;
  Sigmoid sg;
  const auto xs = x.to_vector();
  const auto t = th(x).to_vector(), r = rl(x).to_vector(), s = sg(x).to_vector();
  for (size_t i = 0; i < xs.size(); ++i) {
    CHECK(t[i] == doctest::Approx(std::tanh(xs[i])));
    CHECK(r[i] == (xs[i] > 0 ? xs[i] : 0));
    CHECK(s[i] == doctest::Approx(1 / (1 + std::exp(-xs[i]))));
  }
  CHECK(th(x).shape() == x.shape());
  CHECK(rl(reshape(x, {3, 2, 1})).shape() == Shape{3, 2, 1});
  CHECK(sg(scalar(0.0)).item() == doctest::Approx(0.5));
}

TEST_CASE("activation modules have no parameters and describe themselves") {
  Tanh th;
  ReLU rl;
  Sigmoid sg;
  CHECK(th.parameters().empty());
  CHECK(rl.num_parameters() == 0);
  CHECK(sg.state_dict().empty());
  CHECK(th.describe() == "Tanh()");
  CHECK(rl.describe() == "ReLU()");
  CHECK(sg.describe() == "Sigmoid()");
}

TEST_CASE("activation modules pass gradients") {
  Tensor x = tensor({-1.0, 0.5, 2.0});
  x.requires_grad_();
  ReLU rl;
  Sigmoid sg;
  Tanh th;
  (rl(x).sum() + sg(x).sum() + th(x).sum()).backward();
  const auto g = x.grad().to_vector();
  const real xs[] = {-1, 0.5, 2};
  for (int i = 0; i < 3; ++i) {
    const double s = 1 / (1 + std::exp(-xs[i])), t = std::tanh(xs[i]);
    CHECK(g[i] == doctest::Approx((xs[i] > 0 ? 1 : 0) + s * (1 - s) + (1 - t * t)));
  }
}
