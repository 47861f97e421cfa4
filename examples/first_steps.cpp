// first_steps: the smallest complete training program in unroll.
//
// A two-layer network y = W2 tanh(W1 x + b1) + b2 learns y = sin(3x) on [-1, 1] by plain gradient descent.
// Everything is an op on Tensors; backward() fills .grad() of every weight, and we step against it.
//
//   ./build/examples/first_steps [--steps N] [--lr X] [--seed S]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unroll/unroll.hpp>

#include "common/cli.hpp"
#include "common/nan_guard.hpp"

using namespace unroll;

int run_first_steps(int argc, char** argv) {
  examples::Cli cli("first_steps", "first_steps: a two-layer network learns sin(3x) by plain gradient descent");
  int64_t steps = 500;
  double rate = 0.1;
  uint64_t seed = 0;
  cli.count("--steps", steps, "gradient-descent steps", 1, 100000000);
  cli.number("--lr", rate, "learning rate", examples::positive);
  cli.seed("--seed", seed, "random seed for the initial weights");
  cli.parse(argc, argv);  // --help lists the flags; a bad value: a one-line message and exit code 2
  const float lr = static_cast<float>(rate);
  Generator gen(seed);

  // data: 64 points x in [-1, 1], targets sin(3x)      x, y: [64, 1] float32 (the default dtype)
  const Tensor x = reshape(arange(-1.0, 1.0, 2.0 / 64), {64, 1});
  const Tensor y = tensor(
      [&] {
        std::vector<float> v;
        for (float xi : x.to_vector<float>()) v.push_back(std::sin(3 * xi));
        return v;
      }(),
      {64, 1});

  // parameters: hidden width 32
  Tensor w1 = uniform({32, 1}, -1, 1, gen), b1 = zeros({32});
  Tensor w2 = uniform({1, 32}, -0.2, 0.2, gen), b2 = zeros({1});
  std::vector<Tensor> params = {w1, b1, w2, b2};
  for (Tensor& p : params) p.requires_grad_();

  for (int64_t step = 0; step <= steps; ++step) {
    const Tensor hidden = tanh(linear(x, w1, b1));     // [64, 32]
    const Tensor prediction = linear(hidden, w2, b2);  // [64, 1]
    const Tensor loss = mse_loss(prediction, y);
    for (Tensor& p : params) p.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;  // the update itself is not part of any graph
      for (Tensor& p : params) {
        float* value = p.data<float>();
        const float* grad = p.grad().data<float>();
        for (int64_t i = 0; i < p.numel(); ++i) value[i] -= lr * grad[i];
      }
    }
    if (step % 50 == 0) {  // the loss is read only here: a diverged run stops at the next print
      const double loss_value = loss.item();
      examples::stop_if_not_finite(loss_value, step);
      std::printf("step %4lld  loss %.6f\n", static_cast<long long>(step), loss_value);
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_example("first_steps", [&] { return run_first_steps(argc, argv); });
}
