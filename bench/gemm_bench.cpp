// bench/gemm_bench.cpp: GFLOP/s of unroll's matrix kernels on the shapes RNN training uses, as a percentage
// of the peak this program measures on the same core, and against OpenBLAS.
//
//   ./build/bench/gemm_bench [--isa all|avx512|avx2|generic] [--threads 1,2] [--no-openblas] [--runs 5]
//   ./build/bench/gemm_bench --sweep      # 1 against 2 threads on growing products: the split threshold
//
// Peak: a loop of independent fused multiply-adds (16 chains on zmm, 12 on ymm; 12 of mul + add on xmm for the
// generic kernel, which has no FMA), the most one core can do with that register width. Each figure is the
// median of RUNS measurements of >= 0.2 s; kernels and OpenBLAS alternate within a shape, so load on the
// machine hits all alike. The percentage is of the peak of the kernel's register width times the thread
// count. OpenBLAS runs single-threaded unless OPENBLAS_NUM_THREADS says otherwise (its threads are used above
// UNROLL_BLAS_THREAD_THRESHOLD multiply-adds, see framework/detail/blas.cpp).
#include <unroll/framework/detail/blas.hpp>
#include <unroll/framework/detail/gemm_kernel.hpp>
#include <unroll/unroll.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using unroll::detail::GemmIsa;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Calls f() for >= 0.2 s; returns calls per second.
template <class F>
double rate(F&& f) {
  int64_t reps = 0;
  const auto start = clock_type::now();
  double elapsed = 0;
  do {
    f();
    ++reps;
    elapsed = seconds_since(start);
  } while (elapsed < 0.2);
  return static_cast<double>(reps) / elapsed;
}

// ---- peak: independent multiply-add chains, GFLOP/s of one core -----------------------------------------
// Independent chains per loop: enough to cover the FMA latency on two ports (4 cycles x 2), few enough to
// stay in registers: 16 of AVX-512's 32 zmm; 12 of the 16 ymm / xmm (16 there left no room for the two
// constants and spilled to memory: 68 instead of ~108 GFLOP/s on ymm).
constexpr int kChainsZmm = 16, kChains = 12;
constexpr int64_t kPeakIters = 1 << 16;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) float fma_zmm() {
  __m512 acc[kChainsZmm];
  for (int j = 0; j < kChainsZmm; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < kPeakIters; ++i)
    for (int j = 0; j < kChainsZmm; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  for (int j = 1; j < kChainsZmm; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  return _mm512_reduce_add_ps(acc[0]);
}
__attribute__((target("avx2,fma"))) float fma_ymm() {
  __m256 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_ps(static_cast<float>(j) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < kPeakIters; ++i)
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  alignas(32) float out[8];
  _mm256_store_ps(out, acc[0]);
  return out[0] + out[7];
}
float mul_add_xmm() {
  __m128 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm_set1_ps(static_cast<float>(j) * 1e-3f);
  const __m128 a = _mm_set1_ps(0.9999f), b = _mm_set1_ps(1e-7f);
  for (int64_t i = 0; i < kPeakIters; ++i)
    for (int j = 0; j < kChains; ++j) acc[j] = _mm_add_ps(_mm_mul_ps(acc[j], a), b);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm_add_ps(acc[0], acc[j]);
  alignas(16) float out[4];
  _mm_store_ps(out, acc[0]);
  return out[0] + out[3];
}
#endif

// One core's peak for the kernel's register width, GFLOP/s (median of `runs`); 0 where not measurable.
double peak_gflops(GemmIsa isa, int runs) {
#if defined(__x86_64__)
  int lanes = 4, chains = kChains;
  float (*loop)() = &mul_add_xmm;
  if (isa == GemmIsa::avx512) lanes = 16, chains = kChainsZmm, loop = &fma_zmm;
  if (isa == GemmIsa::avx2) lanes = 8, loop = &fma_ymm;
  volatile float sink = 0;
  std::vector<double> samples;
  for (int r = 0; r < runs; ++r) samples.push_back(rate([&] { sink = sink + loop(); }));
  return median(samples) * static_cast<double>(kPeakIters * chains * lanes * 2) * 1e-9;
#else
  (void)isa;
  (void)runs;
  return 0;
#endif
}

// ---- products ---------------------------------------------------------------------------------------
struct Shape {
  const char* what;
  bool ta, tb;
  int64_t m, n, k;
  // B is a parameter that the library packs once for many products (a PackedWeightsScope: backward() has one
  // over the leaves, so every step's dh = dG W_hh reads one packed copy of W_hh); measured the same way
  bool b_packed_once = false;
};

struct Operands {
  std::vector<float> a, b, c;
  int64_t lda, ldb;
  explicit Operands(const Shape& s) {
    std::mt19937 rng(0);
    std::uniform_real_distribution<float> dist(-1, 1);
    a.resize(static_cast<size_t>(s.m * s.k));
    b.resize(static_cast<size_t>(s.k * s.n));
    c.resize(static_cast<size_t>(s.m * s.n));
    for (auto& x : a) x = dist(rng);
    for (auto& x : b) x = dist(rng);
    lda = s.ta ? s.m : s.k;
    ldb = s.tb ? s.k : s.n;
  }
};

double gflop(const Shape& s) { return 2.0 * static_cast<double>(s.m * s.n * s.k) * 1e-9; }

void ours(const Shape& s, Operands& o) {
  unroll::detail::packed_gemm(s.ta, s.tb, s.m, s.n, s.k, 1, o.a.data(), o.lda, o.b.data(), o.ldb, 0, o.c.data(), s.n);
}
void theirs(const Shape& s, Operands& o) {
  unroll::detail::blas_gemm(s.ta, s.tb, s.m, s.n, s.k, 1, o.a.data(), o.lda, o.b.data(), o.ldb, 0, o.c.data(), s.n);
}

std::vector<int> parse_list(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p;) {
    out.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return out;
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: gemm_bench [--isa all|avx512|avx2|generic] [--threads 1,2] [--no-openblas] [--runs R] "
               "[--sweep]\n");
  std::exit(2);
}

// The shapes of bench/compare's models: forward h W^T, backward dG W (dh) and dG^T X (dW).
const std::vector<Shape> kShapes = {
    {"lstm 1x64 N16: step h W_hh^T", false, true, 16, 256, 64},
    {"lstm 1x64 N16: dW_hh over T=50", true, false, 256, 64, 800},
    {"lstm 2x256 N32: step h W_hh^T", false, true, 32, 1024, 256},
    {"lstm 2x256 N32: step dh = dG W_hh", false, false, 32, 256, 1024},
    {"  the same, W_hh packed once (backward)", false, false, 32, 256, 1024, true},
    {"lstm 2x256 N32: projection [T*N,I]", false, true, 1120, 1024, 256},
    {"lstm 2x256 N32: dW over T=35", true, false, 1024, 256, 1120},
    {"lstm 1x1024 N64: step h W_hh^T", false, true, 64, 4096, 1024},
    {"lstm 1x1024 N64: step dh = dG W_hh", false, false, 64, 1024, 4096},
    {"  the same, W_hh packed once (backward)", false, false, 64, 1024, 4096, true},
    {"lstm 1x1024 N64: dW_hh over T=35", true, false, 4096, 1024, 2240},
    {"ptb head [400,200] x [200,10000]", false, true, 400, 10000, 200},
    {"ptb head dW [10000,400]^T..", true, false, 10000, 200, 400},
};

// 1 against 2 threads on products of growing size, each split whatever its size (threshold 0). "hot": the
// products back to back, the worker spinning; "cold": 0.5 ms of other work on the caller before each
// product, so the worker has gone to sleep and must be woken.
void sweep(int runs) {
  struct Family {
    const char* what;
    bool ta, tb;
  };
  const Family families[] = {{"h W^T (weight_rows), m=32", false, true},
                             {"dG W (packed, B in place), m=32", false, false},
                             {"X^T dG (packed), weight gradient", true, false}};
  std::printf("# split threshold: ms per product on 1 thread, and 2 threads' speed-up (hot / cold worker)\n");
  std::printf("%-36s %12s %10s %9s %9s\n", "product (m x n x k)", "madds", "1 thr ms", "2 hot", "2 cold");
  unroll::detail::set_parallel_gemm_work(0);
  for (const Family& f : families) {
    for (int64_t madds : {int64_t{1} << 18, int64_t{1} << 19, int64_t{1} << 20, int64_t{1} << 21, int64_t{1} << 22,
                          int64_t{1} << 23, int64_t{1} << 24}) {
      Shape s{f.what, f.ta, f.tb, 32, 0, 0};
      if (f.ta) {  // [4H, H] over T*N = 4H rows: m = 4h, n = h, k = 4h -> 16 h^3
        int64_t h = 8;
        while (16 * h * h * h < madds) h += 8;
        s.m = 4 * h, s.n = h, s.k = 4 * h;
      } else {  // m = 32, n = 4k or k = 4n: 128 x^2
        int64_t x = 8;
        while (32 * 4 * x * x < madds) x += 8;
        s.n = f.tb ? 4 * x : x, s.k = f.tb ? x : 4 * x;
      }
      Operands o(s);
      std::vector<double> one, hot, cold;
      for (int r = 0; r < runs; ++r) {
        unroll::set_num_threads(1);
        one.push_back(rate([&] { ours(s, o); }));
        unroll::set_num_threads(2);
        hot.push_back(rate([&] { ours(s, o); }));
        double busy = 0;  // seconds spent on the "other work"
        const auto start = clock_type::now();
        int64_t reps = 0;
        do {
          const auto idle = clock_type::now();
          while (seconds_since(idle) < 5e-4) {
          }
          busy += seconds_since(idle);
          ours(s, o);
          ++reps;
        } while (seconds_since(start) < 0.4);
        cold.push_back(static_cast<double>(reps) / (seconds_since(start) - busy));
      }
      char name[96];
      std::snprintf(name, sizeof(name), "%s (%lld x %lld x %lld)", f.what, static_cast<long long>(s.m),
                    static_cast<long long>(s.n), static_cast<long long>(s.k));
      std::printf("%-60s %6.2fM %8.3f %8.2fx %8.2fx\n", name, static_cast<double>(s.m * s.n * s.k) / (1 << 20),
                  1e3 / median(one), median(hot) / median(one), median(cold) / median(one));
    }
  }
  std::printf("\n# log_softmax over the last axis of [rows, 10000]: ms on 1 thread, 2 threads' speed-up (hot)\n");
  for (int64_t rows : {1, 2, 4, 8, 16, 64, 400}) {
    const unroll::Tensor x = unroll::randn({rows, 10000});
    std::vector<double> one, two;
    for (int r = 0; r < runs; ++r) {
      unroll::set_num_threads(1);
      one.push_back(rate([&] { (void)unroll::log_softmax(x, 1); }));
      unroll::set_num_threads(2);
      two.push_back(rate([&] { (void)unroll::log_softmax(x, 1); }));
    }
    std::printf("[%lld, 10000] (%lldK elements) %8.3f ms %8.2fx\n", static_cast<long long>(rows),
                static_cast<long long>(rows * 10000 / 1000), 1e3 / median(one), median(two) / median(one));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<GemmIsa> isas = unroll::detail::available_gemm_isas();
  std::vector<int> threads = {1};
  bool openblas = true, do_sweep = false;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--isa" && i + 1 < argc) {
      const std::string name = argv[++i];
      if (name != "all") {
        std::vector<GemmIsa> chosen;
        for (GemmIsa isa : isas)
          if (name == unroll::detail::isa_name(isa)) chosen.push_back(isa);
        if (chosen.empty()) {
          std::fprintf(stderr, "gemm_bench: kernel %s is not available here\n", name.c_str());
          return 2;
        }
        isas = chosen;
      }
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = parse_list(argv[++i]);
    } else if (arg == "--no-openblas") {
      openblas = false;
    } else if (arg == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--sweep") {
      do_sweep = true;
    } else {
      usage();
    }
  }
  if (do_sweep) {
    sweep(runs);
    return 0;
  }

  std::printf("# peak of one core (multiply-add chains), GFLOP/s:");
  std::vector<double> peak;
  for (GemmIsa isa : isas) {
    peak.push_back(peak_gflops(isa, runs));
    std::printf(" %s %.1f", unroll::detail::isa_name(isa), peak.back());
  }
  std::printf("\n# GFLOP/s (%% of the peak of the kernel's registers x threads); median of %d runs\n", runs);
  std::printf("%-38s", "shape (m x n x k)");
  for (GemmIsa isa : isas)
    for (int t : threads) std::printf(" %9s/%-2d %5s", unroll::detail::isa_name(isa), t, "");
  if (openblas) std::printf(" %10s %6s", "OpenBLAS", "best/OB");
  std::printf("\n");
  for (const Shape& s : kShapes) {
    Operands o(s);
    const unroll::detail::PackedWeightsScope::Weight b_weight{o.b.data(), static_cast<int64_t>(o.b.size())};
    const unroll::detail::PackedWeightsScope packed_once(&b_weight, s.b_packed_once ? 1 : 0);
    std::vector<std::vector<double>> samples(isas.size() * threads.size());
    std::vector<double> blas;
    for (int r = 0; r < runs; ++r) {
      for (size_t i = 0; i < isas.size(); ++i) {
        unroll::detail::set_gemm_isa(isas[i]);
        for (size_t j = 0; j < threads.size(); ++j) {
          unroll::set_num_threads(threads[j]);
          samples[i * threads.size() + j].push_back(rate([&] { ours(s, o); }) * gflop(s));
        }
      }
      unroll::set_num_threads(1);
      if (openblas) blas.push_back(rate([&] { theirs(s, o); }) * gflop(s));
    }
    std::printf("%-38s", s.what);
    double best = 0;
    for (size_t i = 0; i < isas.size(); ++i)
      for (size_t j = 0; j < threads.size(); ++j) {
        const double g = median(samples[i * threads.size() + j]);
        best = std::max(best, threads[j] == 1 ? g : 0.0);
        const double pct = peak[i] > 0 ? 100 * g / (peak[i] * threads[j]) : 0;
        std::printf(" %9.1f (%3.0f%%)", g, pct);
      }
    if (openblas) {
      const double b = median(blas);
      std::printf(" %10.1f %6.2f", b, best / b);
    }
    std::printf("   (%lld x %lld x %lld)\n", static_cast<long long>(s.m), static_cast<long long>(s.n),
                static_cast<long long>(s.k));
  }
  return 0;
}
