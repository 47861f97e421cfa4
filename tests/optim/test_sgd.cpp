// optim::SGD: the update equations by hand, skipping, handles, graph-freedom, errors.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;
using unroll_test::check_close;
using unroll_test::param;
using unroll_test::set_grad;

TEST_CASE("SGD: plain step is p - lr g") {
  Tensor p = param({1, 2});
  optim::SGD opt({p}, {.lr = 0.1});
  set_grad(p, {0.5, -1});
  opt.step();
  check_close(p, {1 - 0.05, 2 + 0.1});
  CHECK(opt.state(0).step == 1);
  CHECK(opt.state(0).buffers.empty());
}

TEST_CASE("SGD: momentum buffer starts at the gradient, then b = mu b + (1 - dampening) g") {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  set_grad(p, {2});
  opt.step();  // b = 2 (no dampening on the first step, as PyTorch)
  check_close(p, {1 - 0.2});
  check_close(opt.state(0).buffers.at("momentum_buffer"), {2});
  set_grad(p, {1});
  opt.step();  // b = 0.9 * 2 + 0.5 * 1 = 2.3
  check_close(opt.state(0).buffers.at("momentum_buffer"), {2.3});
  check_close(p, {0.8 - 0.23});
}

TEST_CASE("SGD: nesterov uses g + mu b; weight decay adds lambda p to g") {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.5, .weight_decay = 0.1, .nesterov = true});
  set_grad(p, {1});
  opt.step();  // g = 1 + 0.1 * 1 = 1.1; b = 1.1; step = 1.1 + 0.5 * 1.1 = 1.65
  check_close(p, {1 - 0.165});
  set_grad(p, {0});
  opt.step();  // g = 0.0835; b = 0.55 + 0.0835 = 0.6335; step = 0.0835 + 0.31675 = 0.40025
  check_close(p, {0.835 - 0.040025});
}

TEST_CASE("SGD: maximize ascends") {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 0.1, .maximize = true});
  set_grad(p, {1});
  opt.step();
  check_close(p, {1.1});
}

TEST_CASE("SGD: parameters without a gradient are skipped and get no state") {
  Tensor a = param({1}), b = param({5});
  optim::SGD opt({a, b}, {.lr = 0.1, .momentum = 0.9});
  set_grad(a, {1});
  opt.step();
  check_close(a, {0.9});
  check_close(b, {5});
  CHECK(opt.state(0).initialized);
  CHECK_FALSE(opt.state(1).initialized);
  CHECK(opt.state(1).buffers.empty());
}

TEST_CASE("SGD: updates in place, keeps handles valid, records no graph") {
  Tensor p = param({1, 2, 3});
  const real* before = p.data();
  optim::SGD opt({p}, {.lr = 0.5});
  set_grad(p, {1, 1, 1});
  const int64_t nodes = live_node_count();
  opt.step();
  CHECK(p.data() == before);
  CHECK(p.is_leaf());
  CHECK(p.requires_grad());
  CHECK(live_node_count() == nodes);
  check_close(p, {0.5, 1.5, 2.5});
}

TEST_CASE("SGD: zero_grad drops the gradients; a step then changes nothing") {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  set_grad(p, {1});
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
  opt.step();
  check_close(p, {1});
}

TEST_CASE("SGD: lr is readable and settable") {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 0.1});
  CHECK(opt.lr() == 0.1);
  opt.set_lr(0.5);
  CHECK(opt.lr() == 0.5);
  CHECK(opt.options().lr == 0.5);
  set_grad(p, {1});
  opt.step();
  check_close(p, {0.5});
  CHECK_THROWS_AS(opt.set_lr(-1), Error);
}

TEST_CASE("SGD: works on a module's parameters") {
  layers::Linear linear({.in_features = 3, .out_features = 2});
  optim::SGD opt(linear.parameters(), {.lr = 0.1});
  const std::vector<real> w0 = linear.weight.to_vector();
  const Tensor x = ones({4, 3});
  sum(linear(x)).backward();
  opt.step();
  const std::vector<real> w1 = linear.weight.to_vector();
  for (size_t i = 0; i < w0.size(); ++i) CHECK(w1[i] == doctest::Approx(w0[i] - 0.1 * 4).epsilon(1e-5));
}

TEST_CASE("SGD: argument errors") {
  Tensor p = param({1});
  CHECK_THROWS_WITH_AS(optim::SGD({p}, {}), doctest::Contains("lr is required"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p}, {.lr = 0.1, .nesterov = true}), doctest::Contains("nesterov"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                       doctest::Contains("dampening == 0"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p}, {.lr = 0.1, .momentum = -1}), doctest::Contains("momentum"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p}, {.lr = 0.1, .weight_decay = -1}), doctest::Contains("weight_decay"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({}, {.lr = 0.1}), doctest::Contains("empty parameter list"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p, p}, {.lr = 0.1}), doctest::Contains("more than once"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({Tensor()}, {.lr = 0.1}), doctest::Contains("undefined"), Error);
  const Tensor not_leaf = mul(p, p);
  CHECK_THROWS_WITH_AS(optim::SGD({not_leaf}, {.lr = 0.1}), doctest::Contains("not a leaf"), Error);
}
