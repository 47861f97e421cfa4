// bench/gemm_bench.cpp: GFLOP/s of unroll's packed kernel against OpenBLAS on the shapes RNN training uses.
//
//   ./build/bench/gemm_bench            # one line per shape: ours, OpenBLAS, ratio (median of 5 runs each)
//
// Both run single-threaded unless OPENBLAS_NUM_THREADS says otherwise for OpenBLAS (its threads are used
// above UNROLL_BLAS_THREAD_THRESHOLD multiply-adds, see framework/detail/blas.cpp). Each measurement
// repeats the product for >= 0.2 s; the two sides alternate, so load on the machine hits both alike.
#include <unroll/framework/detail/blas.hpp>
#include <unroll/framework/detail/gemm_kernel.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using real = float;  // the kernel under test is float32

namespace {
struct Shape {
  const char* what;
  bool ta, tb;
  int64_t m, n, k;
};

template <class F>
double gflops(const Shape& s, F&& gemm_fn) {
  using clock = std::chrono::steady_clock;
  int64_t reps = 0;
  const auto start = clock::now();
  double elapsed = 0;
  do {
    gemm_fn();
    ++reps;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < 0.2);
  return 2.0 * static_cast<double>(s.m * s.n * s.k) * static_cast<double>(reps) / elapsed * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main() {
  // forward h W^T, backward dY W (dX) and dY^T X (dW), for the configurations of bench/compare.
  const std::vector<Shape> shapes = {
      {"lstm 1x64 N16: step  h W_hh^T", false, true, 16, 256, 64},
      {"lstm 1x64 N16: dW_hh over T=50", true, false, 256, 64, 800},
      {"lstm 2x256 N32: step h W_hh^T", false, true, 32, 1024, 256},
      {"lstm 2x256 N32: step dh = dG W_hh", false, false, 32, 256, 1024},
      {"lstm 2x256 N32: projection [T*N,I]", false, true, 1120, 1024, 256},
      {"lstm 2x256 N32: dW over T=35", true, false, 1024, 256, 1120},
      {"lstm 1x1024 N64: step h W_hh^T", false, true, 64, 4096, 1024},
      {"lstm 1x1024 N64: dW_hh over T=35", true, false, 4096, 1024, 2240},
      {"ptb head [400,200] x [200,10000]", false, true, 400, 10000, 200},
      {"ptb head dW [10000,400]^T..", true, false, 10000, 200, 400},
  };
  std::mt19937 rng(0);
  std::uniform_real_distribution<real> dist(-1, 1);
  std::printf("%-38s %10s %10s %7s\n", "shape (m x n x k)", "unroll", "OpenBLAS", "ratio");
  for (const Shape& s : shapes) {
    std::vector<real> a(static_cast<size_t>(s.m * s.k)), b(static_cast<size_t>(s.k * s.n)),
        c(static_cast<size_t>(s.m * s.n));
    for (auto& x : a) x = dist(rng);
    for (auto& x : b) x = dist(rng);
    const int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    std::vector<double> ours, theirs;
    for (int run = 0; run < 5; ++run) {
      ours.push_back(gflops(s, [&] {
        unroll::detail::packed_gemm(s.ta, s.tb, s.m, s.n, s.k, 1, a.data(), lda, b.data(), ldb, 0, c.data(), s.n);
      }));
      theirs.push_back(gflops(s, [&] {
        unroll::detail::blas_gemm(s.ta, s.tb, s.m, s.n, s.k, 1, a.data(), lda, b.data(), ldb, 0, c.data(), s.n);
      }));
    }
    const double o = median(ours), t = median(theirs);
    std::printf("%-38s %10.1f %10.1f %7.2f   (%lld x %lld x %lld)\n", s.what, o, t, o / t, static_cast<long long>(s.m),
                static_cast<long long>(s.n), static_cast<long long>(s.k));
  }
  return 0;
}
