// A typical small model script: an LSTM written with unroll's ops, one training step.
// bench/compile_time.sh times how long this file takes to compile (-O2): users iterate on files like it.
#include <unroll/unroll.hpp>

using namespace unroll;

int main() {
  const int64_t T = 10, N = 4, I = 8, H = 16;
  Generator gen(0);
  Tensor w_ih = uniform({4 * H, I}, -0.25, 0.25, gen), w_hh = uniform({4 * H, H}, -0.25, 0.25, gen);
  Tensor b = zeros({4 * H});
  for (Tensor* p : {&w_ih, &w_hh, &b}) p->requires_grad_();
  const Tensor x = randn({T, N, I}, gen);
  Tensor h = zeros({N, H}), c = zeros({N, H});
  for (const Tensor& x_t : unbind(x, 0)) {
    const auto gates = chunk(linear(x_t, w_ih, b) + matmul(h, w_hh, false, true), 4, 1);  // i, f, g, o
    c = sigmoid(gates[1]) * c + sigmoid(gates[0]) * tanh(gates[2]);
    h = sigmoid(gates[3]) * tanh(c);
  }
  mean(h * h).backward();
  return w_hh.grad().defined() ? 0 : 1;
}
