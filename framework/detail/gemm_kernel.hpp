// Internal: unroll's own packed GEMM kernel, built once per instruction set and chosen at run time.
//
// gemm_kernel_impl.hpp is the kernel, a template over one instruction set; gemm_kernel_avx512.cpp,
// gemm_kernel_avx2.cpp and gemm_kernel_generic.cpp instantiate it, each compiled with its own flags
// (CMakeLists.txt), and gemm_kernel.cpp (compiled for the baseline) picks one at start-up from the CPU
// (xsimd's detection), or from UNROLL_ISA, and splits large products between the worker threads.
#pragma once

#include <cstdint>
#include <vector>

namespace unroll::detail {

// C[M, N] = alpha * op(A) * op(B) + beta * C, all row-major; op(X) = X or X^T by flag; lda/ldb/ldc are
// the row strides as stored. beta = 0 never reads C. Runs on the instruction set gemm_isa() names; a
// large product (below) is split between the threads of the pool (thread_pool.hpp) by blocks of C, so the
// result is bit-identical whatever the thread count. Safe to call from several threads at once.
void packed_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Products with at least this many multiply-adds (M * N * K) are split between threads. Measured with
// bench/gemm_bench --sweep (docs/performance.md, "Threads"): from 2M on, two threads finish a product
// faster than one on every RNN shape; at 0.5M the hand-off costs about what the second core saves.
inline constexpr int64_t kParallelGemmWork = int64_t{2} << 20;

// ... that holds for an RNN step's products (M = the batch, at most kSplitShortRows): each thread computes
// the same block of C at every step from the same block of the weight, which stays in that core's cache.
// A product with more rows is one batched over the time steps (the input projection, dX, a weight's
// gradient): it reads activations the calling thread has just written and writes an output it reads next,
// and the worker's half of them has to move between the cores. Those are split from kSplitBatchedFactor
// times the threshold (16M). rnn_bench, --split-work against the default, 5-7 alternated runs: lstm 1 x 64
// (whose products batched over T = 50 have 6.5M-13M multiply-adds) 1.085x training, 1.043x inference without
// splitting them, while not splitting the 2 x 256 models' step products (2.1M-8.4M) loses (rnn 0.73x
// inference, gru 0.87x, lstm 0.93x; training 0.89-0.96x).
inline constexpr int64_t kSplitShortRows = 64;
inline constexpr int64_t kSplitBatchedFactor = 8;

// The threshold in use for short products (kParallelGemmWork unless a benchmark or test changed it; 0 splits
// every product, batched ones included).
int64_t parallel_gemm_work();
void set_parallel_gemm_work(int64_t multiply_adds);

// The kernels choose their path (GemmPath below) from the rows of op(A) only through this class: at most
// kDotRows, at most kDotRowsLongK (the dot path from k >= 128), at most kShortRows (weight_rows), more
// (packed). Products whose row counts fall in one class take the same path for the same k, n and transposes,
// and every path computes a row of C the same way whatever rows surround it.
inline constexpr int64_t kDotRows = 2, kDotRowsLongK = 8, kShortRows = 64;

// Up to this many rows of A, the packed path reads a non-transposed B in place rather than packing it: each
// element of B is used only m times (measurements in gemm_kernel_impl.hpp).
inline constexpr int64_t kInPlaceRows = 128;
inline int gemm_rows_class(int64_t m) { return m <= kDotRows ? 0 : m <= kDotRowsLongK ? 1 : m <= kShortRows ? 2 : 3; }

// A slice of a batch computes its products as the whole batch would: while a scope is alive on a thread,
// packed_gemm there chooses the path (GemmPath below) of a product of m rows as for one of m * whole / part
// rows (an RNN step's m = the batch, an input projection's T * the batch). Every path computes a row of C the
// same way whatever rows surround it, so a layer that runs slices of a batch on different threads
// (layers/sequence.cpp) gets exactly those rows of the whole batch's results: without it, a batch of 16 in
// slices of 8 would take the dot path for k >= 128 where the whole batch takes weight_rows.
class BatchSliceScope {
 public:
  BatchSliceScope(int64_t whole, int64_t part);
  ~BatchSliceScope();
  BatchSliceScope(const BatchSliceScope&) = delete;
  BatchSliceScope& operator=(const BatchSliceScope&) = delete;

 private:
  int64_t saved_whole_, saved_part_;
};

// Weights packed once and reused by every product that reads them. While a scope is alive on a thread, a
// product started there whose B lies inside one of the scope's weights may run on a copy of op(B) packed at
// its first use, in the packed path's panels (NR columns, each all of k), instead of reading or packing B
// again:
//   - an RNN step's h W^T with at most half a register's worth of rows of A (8 on AVX-512, 4 on AVX2) and
//     beta = 0: weight_rows would fill at most half of each register's lanes with such an A, so it runs the
//     packed micro-kernel (MR rows of A by NR columns of W^T) on the copy. Unidirectional holds a scope with
//     its cell's parameters around the steps of a sequence.
//   - a product that takes the packed path (GemmPath below) with a non-transposed B that it would read in
//     place (at most kInPlaceRows rows of A): it reads the copy, in order, instead of rows ldb apart (a 4 KB
//     stride falls in one set of the L1 cache, and the hardware prefetcher does not cross 4 KB pages).
//     backward() holds a scope with the leaves of the graph (the parameters): an RNN's dh = dG W_hh at every
//     step then reads one copy of W_hh. (A product with more rows packs B once for all of them anyway: the
//     copy would only add an allocation.)
// Each element is the same chain of fused multiply-adds over k with the same final scaling, so the results
// are those without the scope to the bit (test_gemm_kernel). The weights must not change while the scope is
// alive.
class PackedWeightsScope {
 public:
  struct Weight {
    const float* data;
    int64_t count;  // floats
  };
  PackedWeightsScope(const Weight* weights, int64_t n);
  ~PackedWeightsScope();
  PackedWeightsScope(const PackedWeightsScope&) = delete;
  PackedWeightsScope& operator=(const PackedWeightsScope&) = delete;
  struct Packs;  // the weights and their packed copies (defined in gemm_kernel.cpp)

 private:
  Packs* packs_;
  Packs* saved_;
};

// The packed copy (`floats` long, 64-byte aligned) of op(B) [k, n], B stored as [n, k] when transposed and
// [k, n] otherwise with row stride ldb, in panels `panel_width` wide, when the innermost PackedWeightsScope on
// this thread covers B; null otherwise. *fresh is true when the caller has to fill it.
float* packed_weight(const float* b, int64_t ldb, bool transposed, int64_t n, int64_t k, int64_t panel_width,
                     int64_t floats, bool* fresh);

// The instruction sets the kernel is built for. avx512: AVX-512 F/BW/DQ/VL with 16 floats per register;
// avx2: AVX2 + FMA, 8 floats; generic: whatever the compiler's baseline for the target is (SSE2 on x86-64,
// NEON on AArch64, plain C++ elsewhere).
enum class GemmIsa { generic, avx2, avx512 };
const char* isa_name(GemmIsa isa);

// The instruction sets this build has kernels for AND this CPU (and operating system) can run, best first;
// generic is always there.
std::vector<GemmIsa> available_gemm_isas();

// The kernel packed_gemm runs: the best available one, unless the environment variable UNROLL_ISA
// (avx512 | avx2 | generic, read once at start-up) named another available one. An unknown or unavailable
// name is ignored with a warning on stderr (a library cannot refuse to load).
GemmIsa gemm_isa();

// Switches the kernel for this process (tests and benchmarks). Throws Error when isa is not available.
// Not to be called while products are running on other threads.
void set_gemm_isa(GemmIsa isa);

// ---- the interface between the dispatcher and the per-ISA kernels (gemm_kernel_impl.hpp) -----------

// One product, as packed_gemm's arguments.
struct GemmArgs {
  bool ta, tb;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
  // op(B) packed whole for the packed path (panels of NR columns, each all of k, as GemmIsaKernel::pack_weight
  // writes them), from a PackedWeightsScope; null: the path reads or packs B itself.
  const float* packed_b = nullptr;
};

// How a product is computed. Chosen once for the whole product, before it is split between threads, so
// each part runs the same arithmetic as the whole would have.
//   dot:         every C element one dot product of two rows read in place (A B^T, very short A)
//   weight_rows: A B^T for short A as C^T = B A^T, the weight B read in place (an RNN step's h W^T)
//   packed:      both operands packed into panels (Goto & van de Geijn)
enum class GemmPath : uint8_t { dot, weight_rows, packed };

// One instruction set's kernel.
struct GemmIsaKernel {
  GemmIsa isa;
  int64_t mr, nr;  // the packed path's micro-tile: C is split between threads at multiples of these
  GemmPath (*choose)(const GemmArgs& args);
  void (*run)(GemmPath path, const GemmArgs& args);  // single-threaded; k > 0, m > 0, n > 0
  void (*pack_weight)(const GemmArgs& args, float* out);  // op(B) into GemmArgs::packed_b's layout
};

// The kernels of this build: null when the build (compiler or target) has no such kernel.
const GemmIsaKernel* gemm_kernel_avx512();
const GemmIsaKernel* gemm_kernel_avx2();
const GemmIsaKernel* gemm_kernel_generic();

// This thread's scratch buffer number `which` (0: packed A, 1: packed B), at least `count` floats, 64-byte
// aligned. Lives in gemm_kernel.cpp, so no standard-library template is instantiated with an ISA's flags.
float* gemm_scratch(int which, int64_t count);

}  // namespace unroll::detail
