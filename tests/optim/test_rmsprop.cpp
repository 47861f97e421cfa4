// optim::RMSprop: the update equations by hand (plain, centered, momentum, weight decay), skipping, errors.
#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;
using unroll_test::check_close;
using unroll_test::param;
using unroll_test::set_grad;

namespace {

double rmsprop_reference(double p, const std::vector<double>& grads, double lr, double alpha, double eps, double wd,
                         double mu, bool centered) {
  double v = 0, a = 0, b = 0;
  for (double g : grads) {
    g += wd * p;
    v = alpha * v + (1 - alpha) * g * g;
    double d;
    if (centered) {
      a = alpha * a + (1 - alpha) * g;
      d = std::sqrt(v - a * a) + eps;
    } else {
      d = std::sqrt(v) + eps;
    }
    if (mu > 0) {
      b = mu * b + g / d;
      p -= lr * b;
    } else {
      p -= lr * g / d;
    }
  }
  return p;
}

}  // namespace

TEST_CASE("RMSprop: defaults are PyTorch's") {
  Tensor p = param({1});
  optim::RMSprop opt({p});
  CHECK(opt.lr() == 1e-2);
  CHECK(opt.options().alpha == 0.99);
  CHECK(opt.options().eps == 1e-8);
  CHECK(opt.options().momentum == 0);
  CHECK_FALSE(opt.options().centered);
}

TEST_CASE("RMSprop: first plain step is lr g / (sqrt((1 - alpha) g^2) + eps)") {
  Tensor p = param({1, 1});
  optim::RMSprop opt({p}, {.lr = 0.01});
  set_grad(p, {2, -0.5});
  opt.step();
  check_close(p, {1 - 0.01 / std::sqrt(0.01), 1 + 0.01 / std::sqrt(0.01)}, 1e-5);
  check_close(opt.state(0).buffers.at("square_avg"), {0.04, 0.0025}, 1e-6);
}

TEST_CASE("RMSprop: plain, centered, momentum and weight decay follow the equations") {
  const std::vector<double> grads = {0.5, -1.5, 2.0, 0.1, -0.3, 0.8};
  struct Config {
    double mu, wd;
    bool centered;
  };
  for (const Config c : {Config{0, 0, false}, Config{0.9, 0, false}, Config{0, 0, true}, Config{0.5, 0.1, true},
                         Config{0.3, 0.2, false}}) {
    CAPTURE(c.mu);
    CAPTURE(c.wd);
    CAPTURE(c.centered);
    Tensor p = param({0.7});
    optim::RMSprop opt(
        {p}, {.lr = 0.02, .alpha = 0.9, .eps = 1e-6, .weight_decay = c.wd, .momentum = c.mu, .centered = c.centered});
    for (double g : grads) {
      set_grad(p, {static_cast<real>(g)});
      opt.step();
    }
    check_close(p, {rmsprop_reference(0.7, grads, 0.02, 0.9, 1e-6, c.wd, c.mu, c.centered)}, 1e-5);
    CHECK(opt.state(0).step == 6);
    CHECK(opt.state(0).buffers.count("grad_avg") == (c.centered ? 1u : 0u));
    CHECK(opt.state(0).buffers.count("momentum_buffer") == (c.mu > 0 ? 1u : 0u));
  }
}

TEST_CASE("RMSprop: skips parameters without a gradient") {
  Tensor a = param({1}), b = param({2});
  optim::RMSprop opt({a, b});
  set_grad(b, {1});
  opt.step();
  check_close(a, {1});
  CHECK_FALSE(opt.state(0).initialized);
  CHECK(opt.state(1).step == 1);
}

TEST_CASE("RMSprop: argument errors") {
  Tensor p = param({1});
  CHECK_THROWS_WITH_AS(optim::RMSprop({p}, {.lr = -1}), doctest::Contains("RMSprop: invalid learning rate"), Error);
  CHECK_THROWS_WITH_AS(optim::RMSprop({p}, {.alpha = -0.5}), doctest::Contains("alpha"), Error);
  CHECK_THROWS_WITH_AS(optim::RMSprop({p}, {.eps = -1}), doctest::Contains("epsilon"), Error);
  CHECK_THROWS_WITH_AS(optim::RMSprop({p}, {.momentum = -1}), doctest::Contains("momentum"), Error);
  CHECK_THROWS_WITH_AS(optim::RMSprop({p}, {.weight_decay = -1}), doctest::Contains("weight_decay"), Error);
}
