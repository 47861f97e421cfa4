// op_overhead: cost of the engine's bookkeeping per op, forward + backward.
//
// A chain of 999 small ops on [4, 4] tensors (add, mul, tanh in turn) is built and backpropagated;
// the median over repeats of (time / 1,000) is printed as `us_per_op=<X>` on the last line. At this size
// the arithmetic is a few nanoseconds, so the figure is almost entirely allocation and graph overhead.
//
//   ./build/bench/op_overhead [repeats (default 200)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <unroll/unroll.hpp>

using namespace unroll;

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 200;
  constexpr int kOps = 999;  // 333 rounds of add, mul, tanh
  Generator gen(0);
  Tensor w = uniform({4, 4}, -0.5, 0.5, gen);
  w.requires_grad_();
  const Tensor bias = uniform({4, 4}, -0.1, 0.1, gen);

  std::vector<double> us_per_op;
  for (int r = 0; r < repeats + 10; ++r) {  // the first 10 warm caches and the allocator
    const auto start = std::chrono::steady_clock::now();
    Tensor h = w;
    for (int i = 0; i < kOps; i += 3) {  // h: [4, 4]
      h = add(h, bias);  // 1 op
      h = mul(h, w);     // 1 op
      h = tanh(h);       // 1 op
    }
    sum(h).backward();
    w.zero_grad();
    const auto stop = std::chrono::steady_clock::now();
    if (r >= 10) us_per_op.push_back(std::chrono::duration<double, std::micro>(stop - start).count() / kOps);
  }
  std::sort(us_per_op.begin(), us_per_op.end());
  std::printf("ops per chain: %d ([4, 4] add/mul/tanh), repeats: %d\n", kOps, repeats);
  std::printf("min %.3f us, median %.3f us, p90 %.3f us per op (forward + backward)\n", us_per_op.front(),
              us_per_op[us_per_op.size() / 2], us_per_op[us_per_op.size() * 9 / 10]);
  std::printf("us_per_op=%.3f\n", us_per_op[us_per_op.size() / 2]);
  return 0;
}
