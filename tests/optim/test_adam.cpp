// optim::Adam and optim::AdamW: the update equations by hand, AMSGrad, decoupled decay, skipping, errors.
#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;
using unroll_test::check_close;
using unroll_test::param;
using unroll_test::set_grad;

namespace {

// The Adam equations in double for one scalar parameter and a sequence of gradients.
double adam_reference(double p, const std::vector<double>& grads, double lr, double b1, double b2, double eps,
                      double wd, bool amsgrad, bool decoupled) {
  double m = 0, v = 0, v_max = 0;
  for (size_t t = 1; t <= grads.size(); ++t) {
    double g = grads[t - 1];
    if (decoupled)
      p *= 1 - lr * wd;
    else
      g += wd * p;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    v_max = std::max(v_max, v);
    const double denom = std::sqrt(amsgrad ? v_max : v) / std::sqrt(1 - std::pow(b2, t)) + eps;
    p -= lr / (1 - std::pow(b1, t)) * m / denom;
  }
  return p;
}

}  // namespace

TEST_CASE("Adam: defaults are PyTorch's") {
  Tensor p = param({1});
  optim::Adam adam({p});
  CHECK(adam.lr() == 1e-3);
  CHECK(adam.options().betas[0] == 0.9);
  CHECK(adam.options().betas[1] == 0.999);
  CHECK(adam.options().eps == 1e-8);
  CHECK(adam.options().weight_decay == 0);
  CHECK_FALSE(adam.options().amsgrad);
  optim::AdamW adamw({p});
  CHECK(adamw.options().weight_decay == 1e-2);
  CHECK(adamw.name() == "AdamW");
}

TEST_CASE("Adam: the first step moves every element by about lr against its gradient's sign") {
  Tensor p = param({1, 1, 1});
  optim::Adam opt({p}, {.lr = 0.01});
  set_grad(p, {3, -0.001, 100});
  opt.step();
  check_close(p, {0.99, 1.01, 0.99}, 1e-5);
  CHECK(opt.state(0).step == 1);
  check_close(opt.state(0).buffers.at("exp_avg"), {0.3, -0.0001, 10}, 1e-6);
  CHECK(opt.state(0).buffers.count("max_exp_avg_sq") == 0);
}

TEST_CASE("Adam / AdamW / AMSGrad follow the equations over several steps") {
  const std::vector<double> grads = {0.5, -1.5, 2.0, 0.1, -0.3};
  struct Config {
    bool adamw, amsgrad;
    double wd;
  };
  for (const Config c : {Config{false, false, 0}, Config{false, true, 0}, Config{false, false, 0.1},
                         Config{true, false, 0.1}, Config{true, true, 0.2}}) {
    CAPTURE(c.adamw);
    CAPTURE(c.amsgrad);
    CAPTURE(c.wd);
    Tensor p = param({0.7});
    std::unique_ptr<optim::Optimizer> opt;
    if (c.adamw)
      opt = std::make_unique<optim::AdamW>(
          std::vector<Tensor>{p},
          optim::AdamWOptions{
              .lr = 0.05, .betas = {0.8, 0.95}, .eps = 1e-6, .weight_decay = c.wd, .amsgrad = c.amsgrad});
    else
      opt = std::make_unique<optim::Adam>(
          std::vector<Tensor>{p},
          optim::AdamOptions{
              .lr = 0.05, .betas = {0.8, 0.95}, .eps = 1e-6, .weight_decay = c.wd, .amsgrad = c.amsgrad});
    for (double g : grads) {
      set_grad(p, {static_cast<real>(g)});
      opt->step();
    }
    check_close(p, {adam_reference(0.7, grads, 0.05, 0.8, 0.95, 1e-6, c.wd, c.amsgrad, c.adamw)}, 1e-5);
    if (c.amsgrad) {
      const real v = opt->state(0).buffers.at("exp_avg_sq").item();
      const real v_max = opt->state(0).buffers.at("max_exp_avg_sq").item();
      CHECK(v_max >= v);
    }
  }
}

TEST_CASE("AdamW: decay is decoupled from the gradient; Adam's weight decay goes through it") {
  Tensor a = param({2}), b = param({2});
  optim::AdamW adamw({a}, {.lr = 0.1, .weight_decay = 0.5});
  optim::Adam adam({b}, {.lr = 0.1, .weight_decay = 0.5});
  set_grad(a, {0});
  set_grad(b, {0});
  adamw.step();  // m = 0: only p (1 - lr wd) = 2 * 0.95
  adam.step();   // g = wd p = 1: p - lr (about 1)
  check_close(a, {1.9});
  check_close(b, {1.9}, 1e-6);
  set_grad(a, {0});
  adamw.step();
  check_close(a, {1.9 * 0.95});
}

TEST_CASE("Adam: each parameter counts its own steps; skipped ones keep no state") {
  Tensor a = param({1}), b = param({1});
  optim::Adam opt({a, b}, {.lr = 0.1});
  set_grad(a, {1});
  opt.step();
  CHECK(opt.state(0).step == 1);
  CHECK_FALSE(opt.state(1).initialized);
  check_close(b, {1});
  set_grad(b, {1});
  opt.step();  // a's gradient is still there: a steps again
  CHECK(opt.state(0).step == 2);
  CHECK(opt.state(1).step == 1);
  check_close(b, {0.9}, 1e-6);  // a first step for b: bias corrections of t = 1
}

TEST_CASE("Adam: maximize ascends") {
  Tensor p = param({1});
  optim::Adam opt({p}, {.lr = 0.1, .maximize = true});
  set_grad(p, {1});
  opt.step();
  check_close(p, {1.1}, 1e-6);
}

TEST_CASE("Adam / AdamW: argument errors") {
  Tensor p = param({1});
  CHECK_THROWS_WITH_AS(optim::Adam({p}, {.lr = -1}), doctest::Contains("Adam: invalid learning rate"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, {.betas = {1.0, 0.9}}), doctest::Contains("beta parameter at index 0"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, {.betas = {0.9, -0.1}}), doctest::Contains("beta parameter at index 1"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, {.eps = -1}), doctest::Contains("epsilon"), Error);
  CHECK_THROWS_WITH_AS(optim::AdamW({p}, {.weight_decay = -1}), doctest::Contains("AdamW: invalid weight_decay"),
                       Error);
  optim::Adam ok({p});
  CHECK_THROWS_AS(ok.set_lr(-0.1), Error);
}
