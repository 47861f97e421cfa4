// Tests for framework/anomaly.hpp: DetectAnomalyGuard finds the first op whose output (forward) or
// gradient (backward) holds NaN or Inf, and names the op and the time step.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor leaf(std::initializer_list<real> values) { return unroll_test::values_leaf(values); }
constexpr real kInf = std::numeric_limits<real>::infinity();
}  // namespace

TEST_CASE("anomaly mode is off by default, per thread, and the guard restores it") {
  CHECK_FALSE(is_anomaly_enabled());
  {
    DetectAnomalyGuard on;
    CHECK(is_anomaly_enabled());
    bool other_thread = true;
    std::thread([&] { other_thread = is_anomaly_enabled(); }).join();
    CHECK_FALSE(other_thread);
    {
      DetectAnomalyGuard off(false);
      CHECK_FALSE(is_anomaly_enabled());
    }
    CHECK(is_anomaly_enabled());
  }
  CHECK_FALSE(is_anomaly_enabled());
  set_detect_anomaly(true);
  CHECK(is_anomaly_enabled());
  set_detect_anomaly(false);
}

TEST_CASE("off, NaN flows through silently (the default)") {
  Tensor x = leaf({1, -1, 4});
  Tensor y = log(x);
  CHECK(std::isnan(y.to_vector()[1]));
  sum(y).backward();
  CHECK(x.grad().defined());
}

TEST_CASE("forward: the first recorded op producing NaN or Inf throws, naming the op and its inputs") {
  DetectAnomalyGuard anomaly;
  Tensor x = leaf({1, -1, 4});
  CHECK_THROWS_WITH_AS(
      log(x), "anomaly: op 'log' produced NaN in its output of shape [3] (element 1); its inputs were finite", Error);
  CHECK_THROWS_WITH_AS(
      exp(x * 100), doctest::Contains("anomaly: op 'exp' produced Inf in its output of shape [3] (element 0)"), Error);
  CHECK_THROWS_WITH_AS(div(x, zeros({3})), doctest::Contains("op 'div' produced Inf"), Error);
  // an input that is already non-finite is reported as such
  Tensor bad = tensor({1.0f, kInf});
  CHECK_THROWS_WITH_AS(x.reshape({3, 1}) * bad,
                       "anomaly: op 'mul' produced Inf in its output of shape [3, 2] (element 1); its input 1 (shape "
                       "[2]) already held Inf at element 1",
                       Error);
  // finite results pass
  CHECK_NOTHROW(sum(tanh(x) * 2).backward());
  CHECK(x.grad().defined());
}

TEST_CASE("float64 is checked like float32, in both directions; an int64 operand holds no anomaly") {
  DetectAnomalyGuard anomaly;
  Tensor x = tensor({1.0, -1.0}, kFloat64);
  x.requires_grad_();
  CHECK_THROWS_WITH_AS(
      log(x), "anomaly: op 'log' produced NaN in its output of shape [2] (element 1); its inputs were finite", Error);
  // 1e300 is finite in float64 (it would be Inf in float32); squaring it is not
  Tensor big = tensor({1e300, 1.0}, kFloat64);
  big.requires_grad_();
  CHECK_NOTHROW(big * 2);
  CHECK_THROWS_WITH_AS(
      big * big, doctest::Contains("anomaly: op 'mul' produced Inf in its output of shape [2] (element 0)"), Error);
  // mixing in int64 values (which are always finite) does not confuse the report
  CHECK_THROWS_WITH_AS(big * tensor({0, 1}) / tensor({0, 1}),
                       "anomaly: op 'div' produced NaN in its output of shape [2] (element 0); its inputs were finite",
                       Error);
  Tensor z = tensor({0.0, 4.0}, kFloat64);
  z.requires_grad_();
  Tensor y = sqrt(z);
  CHECK_THROWS_WITH_AS(sum(y).backward(),
                       doctest::Contains("anomaly: backward of op 'pow' produced Inf in the gradient"), Error);
}

TEST_CASE("forward checking covers recorded ops only") {
  DetectAnomalyGuard anomaly;
  const Tensor x = tensor({-1});  // requires no grad: nothing is recorded
  CHECK_NOTHROW(log(x));
  Tensor w = leaf({-1});
  NoGradGuard no_grad;
  CHECK_NOTHROW(log(w));
}

TEST_CASE("forward: inside a recurrent layer the message names the time step") {
  // h_{t+1} = relu(x_t + 1e10 h_t): h is 1, 1e10, 1e20, 1e30, then 1e40 overflows float at step 4
  layers::RNNCell cell({.input_size = 1, .hidden_size = 1, .nonlinearity = layers::Nonlinearity::ReLU});
  {
    NoGradGuard no_grad;
    cell.weight_ih.data()[0] = 1;
    cell.weight_hh.data()[0] = 1e10;
    cell.bias_ih.data()[0] = 0;
    cell.bias_hh.data()[0] = 0;
  }
  const Tensor x = ones({8, 1, 1});
  {
    DetectAnomalyGuard anomaly;
    CHECK_THROWS_WITH_AS(layers::unroll_cell(cell, x),
                         "anomaly: op 'matmul' at time step 4 produced Inf in its output of shape [1, 1] (element 0); "
                         "its inputs were finite",
                         Error);
  }
  auto [y, state] = layers::unroll_cell(cell, x);  // off: runs to the end with Inf in it
  CHECK(std::isinf(state.h.item()));
  // a TimeStepScope of one's own loop works the same way
  DetectAnomalyGuard anomaly;
  Tensor w = leaf({0.5});
  TimeStepScope step(17);
  CHECK_THROWS_WITH_AS(log(w - 1), doctest::Contains("op 'log' at time step 17 produced NaN"), Error);
}

TEST_CASE("backward: the first gradient holding NaN or Inf throws, naming the op, the step and the input") {
  DetectAnomalyGuard anomaly;
  SUBCASE("sqrt at 0: finite forward, infinite gradient") {
    Tensor x = leaf({0, 4});
    Tensor y;
    {
      TimeStepScope step(17);
      y = sqrt(x);  // pow(x, 0.5)
    }
    CHECK_THROWS_WITH_AS(sum(y).backward(),
                         "anomaly: backward of op 'pow' at time step 17 produced Inf in the gradient of input 0 (shape "
                         "[2], element 0)",
                         Error);
  }
  SUBCASE("tanh at saturation times an infinite incoming gradient: NaN") {
    Tensor x = leaf({20, 0});
    Tensor y = tanh(x);  // exactly 1 in float
    CHECK_THROWS_WITH_AS(
        y.backward(tensor({kInf, 1.0f})),
        "anomaly: backward of op 'tanh' produced NaN in the gradient of input 0 (shape [2], element 0)", Error);
  }
  SUBCASE("a weight gradient (matmul's deferred product) that overflows") {
    Tensor w = leaf({1e-20f, 1e-20f, 1e-20f, 1e-20f}).reshape({2, 2}).detach();
    w.requires_grad_();
    const Tensor x = full({2, 2}, 1e30f);
    Tensor y = matmul(x, w);  // 2e10: finite
    CHECK_THROWS_WITH_AS(y.backward(full({2, 2}, 1e30f)),
                         "anomaly: backward of op 'matmul' produced Inf in the gradient of input 1 (shape [2, 2], "
                         "element 0)",
                         Error);
  }
  SUBCASE("narrow's gradient slices are checked too") {
    Tensor x = leaf({1, 2, 3});
    Tensor piece = narrow(x, 0, 1, 2);
    CHECK_THROWS_WITH_AS(
        piece.backward(tensor({1.0f, -kInf})),
        "anomaly: backward of op 'narrow' produced -Inf in the gradient of input 0 (shape [2], element 1)", Error);
  }
}

TEST_CASE("after backward threw, the next backward gives the right gradients") {
  Tensor w = leaf({2, 3});
  {
    DetectAnomalyGuard anomaly;
    // the engine runs the mul's backward (w's gradient in flight is then 5) before the pow's, whose infinite
    // gradient stops the pass
    Tensor y = sum(sqrt(w - 2)) + sum(w * 5);
    CHECK_THROWS_AS(y.backward(), Error);
  }
  CHECK_FALSE(w.grad().defined());
  sum(w * 5).backward();
  CHECK(w.grad().to_vector() == std::vector<real>{5, 5});
}

TEST_CASE("anomaly mode gives the same gradients as normal mode for an LSTM") {
  manual_seed(1);
  layers::LSTM lstm({.input_size = 3, .hidden_size = 5, .num_layers = 2});
  const Tensor x = randn({6, 2, 3});
  const auto run = [&] {
    for (Tensor& p : lstm.parameters()) p.zero_grad();
    auto [y, state] = lstm(x);
    sum(y * y).backward();
    std::vector<std::vector<real>> grads;
    for (const Tensor& p : lstm.parameters()) grads.push_back(p.grad().to_vector());
    return grads;
  };
  const auto plain = run();
  std::vector<std::vector<real>> checked;
  {
    DetectAnomalyGuard anomaly;
    checked = run();
  }
  REQUIRE(plain.size() == checked.size());
  for (size_t i = 0; i < plain.size(); ++i)
    for (size_t k = 0; k < plain[i].size(); ++k) CHECK(checked[i][k] == doctest::Approx(plain[i][k]).epsilon(1e-5));
}
