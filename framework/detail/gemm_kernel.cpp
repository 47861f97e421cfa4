// unroll's own GEMM: which instruction set runs, and how a large product is split between threads. The
// kernel itself is gemm_kernel_impl.hpp, compiled once per instruction set (gemm_kernel_<isa>.cpp).
//
// Why an own kernel: Debian's OpenBLAS 0.3.21 picks its kernels by CPU model; on CPUs newer than it knows
// it falls back to generic SSE3 kernels (about 25 GFLOP/s on an RNN's shapes), and the environment of
// these machines may pin it to its Haswell kernels. This kernel runs on what the CPU offers, chosen here
// at start-up. blas.cpp decides between it and OpenBLAS; tests/framework/detail/test_gemm_kernel.cpp checks
// every instruction set this machine can run against a long-double reference.
#include "unroll/framework/detail/gemm_kernel.hpp"

#include <xsimd/xsimd.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/denormals.hpp"
#include "unroll/framework/detail/thread_pool.hpp"
#include "unroll/framework/tensor.hpp"

namespace unroll::detail {

namespace {

const GemmIsaKernel* kernel_of(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::avx512:
      return gemm_kernel_avx512();
    case GemmIsa::avx2:
      return gemm_kernel_avx2();
    case GemmIsa::generic:
      return gemm_kernel_generic();
  }
  return nullptr;
}

// Whether this CPU and operating system run the instruction set: xsimd's CPUID detection, and on GCC and
// Clang also the compiler's own, which checks that the operating system saves the AVX / AVX-512
// registers (xsimd 8 reads CPUID only) and knows AVX-512 VL, which the AVX-512 kernel is compiled with.
bool cpu_runs(GemmIsa isa) {
  if (isa == GemmIsa::generic) return true;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  const auto cpu = xsimd::available_architectures();
  if (isa == GemmIsa::avx512)
    return cpu.avx512f && cpu.avx512cd && cpu.avx512dq && cpu.avx512bw && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  return cpu.fma3_avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool available(GemmIsa isa) { return kernel_of(isa) != nullptr && cpu_runs(isa); }

// The best available kernel, or the one UNROLL_ISA names.
const GemmIsaKernel* initial_kernel() {
  const GemmIsa best = available_gemm_isas().front();
  const char* env = std::getenv("UNROLL_ISA");
  if (!env || !*env) return kernel_of(best);
  for (GemmIsa isa : {GemmIsa::avx512, GemmIsa::avx2, GemmIsa::generic}) {
    if (std::strcmp(env, isa_name(isa)) != 0) continue;
    if (available(isa)) return kernel_of(isa);
    std::fprintf(stderr, "unroll: UNROLL_ISA=%s is not available on this machine or build; using %s\n", env,
                 isa_name(best));
    return kernel_of(best);
  }
  std::fprintf(stderr, "unroll: ignoring UNROLL_ISA=%s (expected avx512, avx2 or generic); using %s\n", env,
               isa_name(best));
  return kernel_of(best);
}

// The kernel in use; a function-local static, so a product run while another library loads (a static
// initializer) still finds it set.
std::atomic<const GemmIsaKernel*>& current_kernel() {
  static std::atomic<const GemmIsaKernel*> kernel{initial_kernel()};
  return kernel;
}

// One part of a product split between threads: rows [begin, end) of C (split_rows) or columns.
GemmArgs part_of(const GemmArgs& g, bool split_rows, int64_t begin, int64_t end) {
  GemmArgs part = g;
  if (split_rows) {
    part.m = end - begin;
    part.a = g.ta ? g.a + begin : g.a + begin * g.lda;
    part.c = g.c + begin * g.ldc;
  } else {
    part.n = end - begin;
    part.b = g.tb ? g.b + begin * g.ldb : g.b + begin;
    part.c = g.c + begin;
    if (g.packed_b) part.packed_b = g.packed_b + begin * g.k;  // begin: a multiple of the panel width
  }
  return part;
}

// The product on `width` threads: C split into equal blocks of whole micro-tiles along its longer side
// (rows for the packed path when M >= N; columns otherwise, which is what the paths for short A need).
void run_split(const GemmIsaKernel& kernel, GemmPath path, const GemmArgs& g, int width) {
  const bool split_rows = path == GemmPath::packed && g.m >= g.n;
  const int64_t extent = split_rows ? g.m : g.n;
  const int64_t quantum = split_rows ? kernel.mr : kernel.nr;
  const int64_t tiles = (extent + quantum - 1) / quantum;
  const int64_t parts = tiles < width ? tiles : width;
  if (parts < 2) return kernel.run(path, g);
  const int64_t chunk = (tiles + parts - 1) / parts * quantum;
  auto task = [&](int64_t i) {
    FlushDenormalsScope flush_denormals;  // on a worker too
    const int64_t begin = i * chunk, end = begin + chunk < extent ? begin + chunk : extent;
    if (begin < end) kernel.run(path, part_of(g, split_rows, begin, end));
  };
  parallel_for(parts, task);
}

std::atomic<int64_t> g_parallel_work{kParallelGemmWork};

struct Scratch {
  std::vector<float, xsimd::aligned_allocator<float, 64>> buffer[2];
};

}  // namespace

const char* isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::avx512:
      return "avx512";
    case GemmIsa::avx2:
      return "avx2";
    case GemmIsa::generic:
      return "generic";
  }
  return "?";
}

std::vector<GemmIsa> available_gemm_isas() {
  std::vector<GemmIsa> out;
  for (GemmIsa isa : {GemmIsa::avx512, GemmIsa::avx2, GemmIsa::generic})
    if (available(isa)) out.push_back(isa);
  return out;
}

GemmIsa gemm_isa() { return current_kernel().load(std::memory_order_relaxed)->isa; }

void set_gemm_isa(GemmIsa isa) {
  check(available(isa), "set_gemm_isa: the {} kernel is not available on this machine or build", isa_name(isa));
  current_kernel().store(kernel_of(isa), std::memory_order_relaxed);
}

int64_t parallel_gemm_work() { return g_parallel_work.load(std::memory_order_relaxed); }
void set_parallel_gemm_work(int64_t multiply_adds) { g_parallel_work.store(multiply_adds, std::memory_order_relaxed); }

namespace {
struct BatchSlice {
  int64_t whole = 1, part = 1;
};
thread_local BatchSlice t_batch_slice;
}  // namespace

BatchSliceScope::BatchSliceScope(int64_t whole, int64_t part)
    : saved_whole_(t_batch_slice.whole), saved_part_(t_batch_slice.part) {
  check(whole >= part && part >= 1, "BatchSliceScope: a slice of {} rows out of {}", part, whole);
  t_batch_slice = {whole, part};
}
BatchSliceScope::~BatchSliceScope() { t_batch_slice = {saved_whole_, saved_part_}; }

struct PackedWeightsScope::Packs {
  struct Packed {
    const float* b;
    int64_t ldb;
    bool transposed;
    int64_t n, k, panel_width;
    // From the thread's tensor buffer cache (a block of the same size comes back at the next step), 64-byte
    // aligned, not zeroed (the packing writes all of it). A first version that took fresh pages from the
    // system at every pass doubled the page faults of lstm 2x256 training (perf stat, 21672 -> 41113 per run).
    std::unique_ptr<Storage> values;
    float* data() const { return static_cast<float*>(values->data); }
  };
  std::vector<Weight> weights;
  std::vector<Packed> packed;  // a few entries: the weights of one cell
};

namespace {
thread_local PackedWeightsScope::Packs* t_packs = nullptr;
}  // namespace

PackedWeightsScope::PackedWeightsScope(const Weight* weights, int64_t n)
    : packs_(new Packs{std::vector<Weight>(weights, weights + n), {}}), saved_(t_packs) {
  t_packs = packs_;
}
PackedWeightsScope::~PackedWeightsScope() {
  t_packs = saved_;
  delete packs_;
}

float* packed_weight(const float* b, int64_t ldb, bool transposed, int64_t n, int64_t k, int64_t panel_width,
                     int64_t floats, bool* fresh) {
  PackedWeightsScope::Packs* packs = t_packs;
  if (packs == nullptr) return nullptr;
  for (auto& p : packs->packed)
    if (p.b == b && p.ldb == ldb && p.transposed == transposed && p.n == n && p.k == k &&
        p.panel_width == panel_width) {
      *fresh = false;
      return p.data();
    }
  const float* last = transposed ? b + (n - 1) * ldb + k : b + (k - 1) * ldb + n;  // one past B's last element
  for (const auto& w : packs->weights)
    if (b >= w.data && last <= w.data + w.count) {
      packs->packed.push_back({b, ldb, transposed, n, k, panel_width,
                               std::make_unique<Storage>(floats * int64_t{sizeof(float)})});
      *fresh = true;
      return packs->packed.back().data();
    }
  return nullptr;
}

float* gemm_scratch(int which, int64_t count) {
  thread_local Scratch scratch;  // one per thread: the engine is used from several threads at once
  auto& buffer = scratch.buffer[which];
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

void packed_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // no products: C = beta * C
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == float(0) ? float(0) : beta * c[i * ldc + j];
    return;
  }
  FlushDenormalsScope flush_denormals;  // denormal products would run ~100x slower
  GemmArgs g{transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  const GemmIsaKernel& kernel = *current_kernel().load(std::memory_order_relaxed);
  GemmArgs as_whole = g;  // the path the whole batch would take (BatchSliceScope)
  as_whole.m = m * t_batch_slice.whole / t_batch_slice.part;
  const GemmPath path = kernel.choose(as_whole);
  // B packed once for the scope (PackedWeightsScope); here, so that the threads below share the copy
  if (path == GemmPath::packed && !transpose_b && m <= kInPlaceRows && t_packs != nullptr) {
    bool fresh = false;
    const int64_t panels = (n + kernel.nr - 1) / kernel.nr;
    if (float* packed = packed_weight(b, ldb, transpose_b, n, k, kernel.nr, panels * kernel.nr * k, &fresh)) {
      if (fresh) kernel.pack_weight(g, packed);
      g.packed_b = packed;
    }
  }
  const int64_t split_from = m <= kSplitShortRows ? parallel_gemm_work() : parallel_gemm_work() * kSplitBatchedFactor;
  const int width = m * n * k >= split_from ? parallel_width() : 1;
  if (width < 2) return kernel.run(path, g);
  run_split(kernel, path, g, width);
}

}  // namespace unroll::detail
