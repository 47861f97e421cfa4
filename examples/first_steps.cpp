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

#include "common/nan_guard.hpp"

using namespace unroll;

int main(int argc, char** argv) {
  int steps = 500;
  float lr = 0.1f;
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") {
      std::printf("usage: first_steps [--steps N (500)] [--lr X (0.1)] [--seed S (0)]\n");
      return 0;
    } else if (arg == "--steps" && i + 1 < argc) {
      steps = std::atoi(argv[++i]);
    } else if (arg == "--lr" && i + 1 < argc) {
      lr = static_cast<float>(std::atof(argv[++i]));
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "first_steps: unknown argument '%s' (try --help)\n", arg.c_str());
      return 2;
    }
  }
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

  for (int step = 0; step <= steps; ++step) {
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
      std::printf("step %4d  loss %.6f\n", step, loss_value);
    }
  }
  return 0;
}
