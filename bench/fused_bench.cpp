// fused_bench: the LSTM cell's element-wise chain as one fused::Program against the same chain in plain ops
// (add, chunk, sigmoid x 3, tanh x 2, mul x 3, add), inference and forward + backward, on [N, H].
//
// The two sides alternate every ~50 ms inside one process (this VM's speed drifts by up to 1.8x between runs
// seconds apart; interleaving this finely keeps both sides under the same conditions), and the median of
// the per-pair ratios is printed. The interpreter runs on the instruction set UNROLL_ISA names (default:
// the best the CPU has), so `UNROLL_ISA=avx2 fused_bench` against `fused_bench` gives what AVX-512 adds.
//
// Fused against plain runs on one thread. A second pair of figures times the fused chain on two threads
// against one (calls of at least kParallelFusedElements = 8,192 elements per value are split between
// threads, framework/ops/fused.cpp).
//
//   ./build/bench/fused_bench [N H [pairs]]     (default 32 256 40)
//   last lines: fused_speedup_inference=<plain time / fused time> fused_speedup_train=<...>
//               two_threads_speedup_inference=<fused time on 1 thread / on 2> two_threads_speedup_train=<...>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <unroll/unroll.hpp>
#include <vector>

using namespace unroll;

namespace {
const fused::Program& lstm_chain() {
  static const fused::Program program("lstm_chain", {4, 4, 1}, [](const fused::Inputs& in) -> fused::Values {
    const fused::Value i = sigmoid(in[0][0] + in[1][0]), f = sigmoid(in[0][1] + in[1][1]);
    const fused::Value g = tanh(in[0][2] + in[1][2]), o = sigmoid(in[0][3] + in[1][3]);
    const fused::Value c = f * in[2][0] + i * g;
    return {o * tanh(c), c};
  });
  return program;
}

std::vector<Tensor> plain_chain(const Tensor& x, const Tensor& hw, const Tensor& c) {
  const std::vector<Tensor> g = chunk(add(x, hw), 4, 1);
  const Tensor c_next = add(mul(sigmoid(g[1]), c), mul(sigmoid(g[0]), tanh(g[2])));
  return {mul(sigmoid(g[3]), tanh(c_next)), c_next};
}

// Seconds per call of f, timing enough calls to fill ~50 ms.
double seconds_per_call(const std::function<void()>& f, int calls) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / calls;
}

// Median over `pairs` of the time of `slow` / the time of `fast`, the two alternating; before_fast and
// before_slow (untimed) run before each side's turn.
double median_ratio(
    const std::function<void()>& fast, const std::function<void()>& slow, int pairs,
    const std::function<void()>& before_fast = [] {}, const std::function<void()>& before_slow = [] {}) {
  before_slow();
  const double one = seconds_per_call(slow, 3);
  const int calls = std::max(1, static_cast<int>(0.05 / std::max(one, 1e-9)));
  std::vector<double> ratios;
  for (int p = 0; p < pairs; ++p) {
    before_fast();
    const double fast_s = seconds_per_call(fast, calls);
    before_slow();
    const double slow_s = seconds_per_call(slow, calls);
    ratios.push_back(slow_s / fast_s);
  }
  std::sort(ratios.begin(), ratios.end());
  return ratios[ratios.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 2 ? std::atoll(argv[1]) : 32, h = argc > 2 ? std::atoll(argv[2]) : 256;
  const int pairs = argc > 3 ? std::atoi(argv[3]) : 40;
  if (n < 1 || h < 1 || pairs < 1) {
    std::fprintf(stderr, "usage: fused_bench [N H [pairs]]  (positive sizes)\n");
    return 2;
  }
  const int threads = get_num_threads();
  set_num_threads(1);
  Generator gen(0);
  const Tensor x = uniform({n, 4 * h}, -2, 2, gen).requires_grad_();
  const Tensor hw = uniform({n, 4 * h}, -2, 2, gen).requires_grad_();
  const Tensor c = uniform({n, h}, -2, 2, gen).requires_grad_();
  const Tensor w = uniform({n, h}, -1, 1, gen);  // weights the loss puts on h'

  double inference = 0;
  {
    NoGradGuard no_grad;
    inference = median_ratio([&] { lstm_chain()({x, hw, c}); }, [&] { plain_chain(x, hw, c); }, pairs);
  }
  const auto train = [&](bool fused) {
    const std::vector<Tensor> out = fused ? lstm_chain()({x, hw, c}) : plain_chain(x, hw, c);
    sum(add(mul(out[0], w), out[1])).backward();
  };
  const double training = median_ratio([&] { train(true); }, [&] { train(false); }, pairs);
  std::printf("LSTM chain on [%lld, %lld], median of %d alternating pairs of ~50 ms\n", static_cast<long long>(n),
              static_cast<long long>(h), pairs);
  std::printf("fused_speedup_inference=%.3f fused_speedup_train=%.3f\n", inference, training);

  // The fused chain on two threads against one (the thread count changes between turns: changing it
  // restarts the pool's workers).
  const auto two = [] { set_num_threads(2); };
  const auto one = [] { set_num_threads(1); };
  const auto infer_fused = [&] {
    NoGradGuard no_grad;
    lstm_chain()({x, hw, c});
  };
  const auto train_fused = [&] { train(true); };
  const double threads_inference = median_ratio(infer_fused, infer_fused, pairs, two, one);
  const double threads_training = median_ratio(train_fused, train_fused, pairs, two, one);
  set_num_threads(threads);
  std::printf("two_threads_speedup_inference=%.3f two_threads_speedup_train=%.3f\n", threads_inference,
              threads_training);
  return 0;
}
