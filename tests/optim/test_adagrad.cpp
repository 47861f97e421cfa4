// optim::Adagrad: the update equations by hand (lr decay, weight decay, initial accumulator), errors.
#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;
using unroll_test::check_close;
using unroll_test::param;
using unroll_test::set_grad;

TEST_CASE("Adagrad: defaults are PyTorch's; state exists from construction") {
  Tensor p = param({1, 2});
  optim::Adagrad opt({p}, {.initial_accumulator_value = 0.25});
  CHECK(opt.lr() == 1e-2);
  CHECK(opt.options().lr_decay == 0);
  CHECK(opt.options().eps == 1e-10);
  CHECK(opt.state(0).initialized);
  CHECK(opt.state(0).step == 0);
  check_close(opt.state(0).buffers.at("sum"), {0.25, 0.25});
}

TEST_CASE("Adagrad: lr_t = lr / (1 + (t - 1) lr_decay); s += g^2; p -= lr_t g / (sqrt(s) + eps)") {
  const std::vector<double> grads = {0.5, -1.5, 2.0, 0.1};
  Tensor p = param({0.7});
  const double lr = 0.1, lr_decay = 0.2, wd = 0.05, init = 0.3, eps = 1e-6;
  optim::Adagrad opt(
      {p}, {.lr = lr, .lr_decay = lr_decay, .weight_decay = wd, .initial_accumulator_value = init, .eps = eps});
  double want = 0.7, s = init;
  for (size_t t = 1; t <= grads.size(); ++t) {
    set_grad(p, {static_cast<real>(grads[t - 1])});
    opt.step();
    const double g = grads[t - 1] + wd * want;
    s += g * g;
    want -= lr / (1 + (t - 1) * lr_decay) * g / (std::sqrt(s) + eps);
  }
  check_close(p, {want}, 1e-5);
  CHECK(opt.state(0).step == 4);
}

TEST_CASE("Adagrad: skipped parameters keep step 0") {
  Tensor a = param({1}), b = param({2});
  optim::Adagrad opt({a, b}, {.lr = 0.1});
  set_grad(a, {1});
  opt.step();
  CHECK(opt.state(0).step == 1);
  CHECK(opt.state(1).step == 0);
  check_close(b, {2});
  check_close(a, {0.9}, 1e-6);
}

TEST_CASE("Adagrad: argument errors") {
  Tensor p = param({1});
  CHECK_THROWS_WITH_AS(optim::Adagrad({p}, {.lr = -1}), doctest::Contains("Adagrad: invalid learning rate"), Error);
  CHECK_THROWS_WITH_AS(optim::Adagrad({p}, {.lr_decay = -1}), doctest::Contains("lr_decay"), Error);
  CHECK_THROWS_WITH_AS(optim::Adagrad({p}, {.weight_decay = -1}), doctest::Contains("weight_decay"), Error);
  CHECK_THROWS_WITH_AS(optim::Adagrad({p}, {.initial_accumulator_value = -1}), doctest::Contains("initial_accumulator"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::Adagrad({p}, {.eps = -1}), doctest::Contains("epsilon"), Error);
}
