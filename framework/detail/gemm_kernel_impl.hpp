// Internal: the body of unroll's own GEMM, a template over one instruction set. Included only by
// gemm_kernel_avx512.cpp, gemm_kernel_avx2.cpp and gemm_kernel_generic.cpp, each compiled with its own flags.
//
// Everything here has internal linkage (an unnamed namespace), and the code calls no standard-library
// template: a function compiled with AVX-512 flags must never be the copy the linker keeps for the
// baseline translation units. Scratch memory comes from gemm_scratch() in gemm_kernel.cpp for that reason.
//
// The structure of Goto & van de Geijn, "Anatomy of high-performance matrix multiplication" (2008), as in
// OpenBLAS and BLIS:
//
//   for each NC-wide column block of op(B)                      (fits the L3 cache)
//     for each KC-deep slice of the shared dimension
//       pack op(B)[slice, block] into NR-wide column panels     (one panel fits L1)
//       for each MC-tall row block of op(A)                     (fits L2)
//         pack op(A)[block, slice] into MR-tall row panels
//         for every (row panel, column panel): the MR x NR micro-kernel, acc += a_col * b_row per k
//
// Packing makes every operand layout (transposed or not, any leading dimension) look the same to the
// micro-kernel, and pads edge panels with zeros so the kernel never branches on size. Two paths for an RNN
// step's h W^T (A short, B a weight used transposed) avoid packing the weight at every step: `dot` and
// `weight_rows` (GemmPath in gemm_kernel.hpp).
//
// Every element of C is the same sequence of operations whichever block of C it lies in (a fused
// multiply-add chain over each KC slice of k, added to C slice by slice; KC_AT for a transposed A read in
// place, which depends on A's layout and not on C's size), so splitting C between threads at multiples of
// MR rows and NR columns changes no bit of the result; nor does reading A in place rather than packed.
#pragma once

#include <xsimd/xsimd.hpp>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include <cstdint>
#include <cstring>
#include <utility>

#include "unroll/framework/detail/gemm_kernel.hpp"

namespace unroll::detail {
namespace {

inline int64_t lo(int64_t a, int64_t b) { return a < b ? a : b; }

// Rows of a float matrix a multiple of 4 KB apart: the same column of every row falls in one L1 set.
inline bool rows_4k_apart(int64_t ld) { return ld % (4096 / int64_t{sizeof(float)}) == 0; }

// Tuning: a struct naming the instruction set and the block sizes, e.g.
//   struct Avx2Tuning {
//     using arch = xsimd::fma3<xsimd::avx2>;
//     static constexpr int MR = 6, NV = 2;       // packed micro-tile: MR rows x NV registers
//     static constexpr int WR1 = 6, WR2 = 6;     // weight_rows micro-tile rows for 1 and 2 registers
//     static constexpr int64_t KC = 256, MC = 96, NC = 4096;
//     static constexpr int64_t KC_AT = 256;  // k slice for a transposed A read in place (packed_path)
//     static constexpr TransposedA transposed_a = TransposedA::in_place_unless_4k;  // (below)
//   };
//
// How the packed path reads a transposed A (op(A) = A^T, the weight gradients dY^T X): a column of op(A) is
// MR contiguous floats of a row of A, which the micro-kernel can broadcast from in place (TileLayout::
// a_columns) instead of copying the block into panels first. One thread, GFLOP/s in place against packed,
// median of 5-7 alternated runs (2026-12-03, AMD EPYC): AVX-512 10000 x 200 x 400 (the PTB head's dW) 1.07x,
// 256 x 64 x 800 (lstm 1x64 dW) 1.23x, 1024 x 256 x 1120 (2x256 dW) 1.07x, 4096 x 1024 x 2240 (1x1024 dW)
// 1.04x, 1024 x 128 x 1120 1.12x, 256 x 32 x 800 1.45x; AVX2 1.07x, 1.17x, 1.33x at strides that are not a
// multiple of 4 KB, but 0.75x and 0.69x at 1024 and 4096 floats (the rows then share one set of the L1 cache);
// SSE2 (generic) 0.94-0.99x.
enum class TransposedA { packed, in_place_unless_4k, in_place };

template <class Tuning>
struct Gemm {
  using batch = xsimd::batch<float, typename Tuning::arch>;
  static constexpr int64_t W = static_cast<int64_t>(batch::size);  // floats per register
  static constexpr int MR = Tuning::MR;                             // rows of C per packed micro-tile
  static constexpr int NV = Tuning::NV;                             // registers per packed micro-tile row
  static constexpr int64_t NR = NV * W;                             // columns of C per packed micro-tile
  // KC x NR of B stays in L1 across the MR-row sweep, MC x KC of A in L2, KC x NC of B in L3.
  static constexpr int64_t KC = Tuning::KC, MC = Tuning::MC, NC = Tuning::NC;
  static_assert(MC % MR == 0 && NC % NR == 0);
  // Up to kShortRows rows of op(A) (gemm_kernel.hpp), A B^T takes the weight_rows path. Up to kInPlaceRows
  // (gemm_kernel.hpp), a non-transposed B is read in place instead of packed (packed_path below).

  // ---- packing ---------------------------------------------------------------------------------------

  // op(A)[i0 : i0 + mc, p0 : p0 + kc] -> panels of MR rows; within a panel, column p is MR contiguous values.
  static void pack_a(const float* a, int64_t lda, bool ta, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                     float* out) {
    for (int64_t ip = 0; ip < mc; ip += MR) {
      const int64_t rows = lo(MR, mc - ip);
      float* panel = out + ip * kc;
      if (!ta) {
        for (int64_t r = 0; r < rows; ++r) {
          const float* src = a + (i0 + ip + r) * lda + p0;  // a contiguous row of A
          for (int64_t p = 0; p < kc; ++p) panel[p * MR + r] = src[p];
        }
      } else {  // (only where transposed_a_in_place() says no)
        for (int64_t p = 0; p < kc; ++p) {
          const float* src = a + (p0 + p) * lda + i0 + ip;  // a row of A is a column of op(A)
          for (int64_t r = 0; r < rows; ++r) panel[p * MR + r] = src[r];
        }
      }
      for (int64_t r = rows; r < MR; ++r)
        for (int64_t p = 0; p < kc; ++p) panel[p * MR + r] = 0;
    }
  }

  // One full N-wide panel of a transposed B: src holds N rows of B (row stride ldb), each kc long;
  // panel[p * N + c] = src[c * ldb + p]. With AVX this runs as 8 x 8 register transposes.
  template <int64_t N>
  static void pack_transposed_panel(const float* src, int64_t ldb, int64_t kc, float* panel) {
    int64_t p = 0;
#if defined(__AVX__)
    static_assert(N % 8 == 0);
    for (; p + 8 <= kc; p += 8) {
      for (int64_t c0 = 0; c0 < N; c0 += 8) {
        __m256 r[8], t[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + (c0 + i) * ldb + p);
        // r[i] = row c0+i of B at columns p..p+7; transpose to t[q] = column p+q over rows c0..c0+7.
        for (int i = 0; i < 8; i += 2) {
          t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
          t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
          r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
          r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
          r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
          r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
        }
        for (int i = 0; i < 4; ++i) {
          t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
          t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
        }
        // t[q] = column p + q of B's rows c0 .. c0 + 7, which is row p + q of op(B).
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(panel + (p + i) * N + c0, t[i]);
      }
    }
#endif
    for (; p < kc; ++p)
      for (int64_t c = 0; c < N; ++c) panel[p * N + c] = src[c * ldb + p];
  }

  // op(B)[p0 : p0 + kc, j0 : j0 + nc] -> panels of N columns; within a panel, row p is N contiguous values.
  template <int64_t N>
  static void pack_b(const float* b, int64_t ldb, bool tb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                     float* out) {
    for (int64_t jp = 0; jp < nc; jp += N) {
      const int64_t cols = lo(N, nc - jp);
      float* panel = out + jp * kc;
      if (!tb) {
        for (int64_t p = 0; p < kc; ++p) {
          const float* src = b + (p0 + p) * ldb + j0 + jp;
          std::memcpy(panel + p * N, src, static_cast<size_t>(cols) * sizeof(float));
          for (int64_t c = cols; c < N; ++c) panel[p * N + c] = 0;
        }
      } else if (cols == N) {
        pack_transposed_panel<N>(b + (j0 + jp) * ldb + p0, ldb, kc, panel);
      } else {
        for (int64_t c = 0; c < cols; ++c) {
          const float* src = b + (j0 + jp + c) * ldb + p0;  // a row of B is a column of op(B)
          for (int64_t p = 0; p < kc; ++p) panel[p * N + c] = src[p];
        }
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t c = cols; c < N; ++c) panel[p * N + c] = 0;
      }
    }
  }

  // ---- the micro-kernel ------------------------------------------------------------------------------

  // An R x (V registers) tile of C (R < the tile's full height only for the last rows, which then cost no
  // wasted multiplies) = alpha * (A rows x B panel) + beta * C. beta == 0 never reads C (as in BLAS, so NaN
  // garbage in C does not leak through). B rows are ldb_panel apart: the panel width for a packed panel,
  // ldb when B is read in place. Four ways to read A and write C:
  //   packed_a:    A is a packed panel (column p = MR contiguous values); the tile is C[r, j] (row stride ldc).
  //   a_columns:   A is op(A) = A^T read in place: column p of the tile's rows is a[p * lda .. + R]; the tile
  //                is written as packed_a's. Same multiply-add chain per element as packed_a: same bits.
  //   a_rows:      A is R rows read in place (row stride lda); the tile is written as packed_a's (same bits).
  //   weight_rows: A is R rows of a weight read in place (row stride lda), for C^T = W A^T (below); the
  //                tile is C^T, so it is written transposed: tile[r][j] goes to C[j, r].
  enum class TileLayout { packed_a, a_columns, a_rows, weight_rows };

  template <int R, int V, TileLayout L>
  static void micro_kernel(int64_t kc, const float* __restrict a, int64_t lda, const float* __restrict b,
                           int64_t ldb_panel, float alpha, float beta, float* __restrict c, int64_t ldc,
                           int64_t cols) {
    constexpr int64_t N = V * W;
    batch acc[R][V];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = batch(float(0));
    for (int64_t p = 0; p < kc; ++p) {
      batch bv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) bv[v] = batch::load_unaligned(b + p * ldb_panel + v * W);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const batch ar(L == TileLayout::packed_a    ? a[p * MR + r]
                       : L == TileLayout::a_columns ? a[p * lda + r]
                                                    : a[r * lda + p]);  // a_rows, weight_rows
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[r][v] = xsimd::fma(ar, bv[v], acc[r][v]);
      }
    }
    if (L != TileLayout::weight_rows && cols == N) {  // full rows of C: vector stores
      const batch va(alpha), vb(beta);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        float* row = c + r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) {
          if (beta == float(0))
            (va * acc[r][v]).store_unaligned(row + v * W);
          else
            xsimd::fma(va, acc[r][v], vb * batch::load_unaligned(row + v * W)).store_unaligned(row + v * W);
        }
      }
      return;
    }
    cols = lo(cols, N);  // (always true; tells the compiler that no unwritten tile entry is read)
#if defined(__AVX512F__)
    if constexpr (L == TileLayout::weight_rows && W == 16 && R <= 16) {
      // The transposed tile through a 16 x 16 register transpose and one masked store per row of C, instead of
      // R x 16 scalar writes per register. Each element gets the scalar path's operations (alpha * value, then
      // + beta * C as a separate product and sum), so the results are the same. rnn_bench against the scalar
      // writes, alternated, median of 3: lstm 1x64 (16 x 256 x 64 steps) inference 1.08x, training 1.05x;
      // gru 2x256 1.01-1.03x; lstm 2x256, bidirectional and 1x1024 0.98-1.02x (noise).
      const __mmask16 mask = static_cast<__mmask16>((1u << R) - 1);
      const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
      for (int v = 0; v < V; ++v) {
        __m512 rows[16];
        for (int r = 0; r < 16; ++r) rows[r] = r < R ? static_cast<__m512>(acc[r][v]) : _mm512_setzero_ps();
        transpose16(rows);  // rows[j]: row v * W + j of C, its R columns of this tile
        const int64_t rows_here = lo(cols - v * W, W);
        for (int64_t j = 0; j < rows_here; ++j) {
          float* out = c + (v * W + j) * ldc;
          __m512 value = _mm512_mul_ps(va, rows[j]);
          if (beta != float(0)) value = _mm512_add_ps(value, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mask, out)));
          _mm512_mask_storeu_ps(out, mask, value);
        }
      }
      return;
    }
#endif
    alignas(64) float tile[R][N];  // ragged last columns, or a transposed tile: element by element
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) acc[r][v].store_aligned(&tile[r][v * W]);
    if (L != TileLayout::weight_rows) {
      for (int r = 0; r < R; ++r)
        for (int64_t j = 0; j < cols; ++j) update(c[r * ldc + j], tile[r][j], alpha, beta);
    } else {  // C[j, r]: r innermost, so each row of C is written contiguously
      for (int64_t j = 0; j < cols; ++j)
        for (int r = 0; r < R; ++r) update(c[j * ldc + r], tile[r][j], alpha, beta);
    }
  }

#if defined(__AVX512F__)
  // r[i] = row i of a 16 x 16 block -> r[j] = column j (unpack, shuffle within 128-bit lanes, then two
  // rounds of 128-bit lane shuffles).
  static void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int h = 0; h < 16; h += 8)
      for (int i = 0; i < 4; ++i) {
        t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
        t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
      }
    for (int i = 0; i < 8; ++i) {
      r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
      r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
  }
#endif

  static void update(float& out, float value, float alpha, float beta) {
    out = beta == float(0) ? alpha * value : alpha * value + beta * out;
  }

  using MicroKernel = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float, float, float*, int64_t,
                               int64_t);

  // micro_kernel<rows, V, L> for rows = 1 .. sizeof...(Rs), by a table lookup.
  template <int V, TileLayout L, int... Rs>
  static MicroKernel pick(int64_t rows, std::integer_sequence<int, Rs...>) {
    static constexpr MicroKernel table[] = {&micro_kernel<Rs + 1, V, L>...};
    return table[rows - 1];
  }
  template <int V, TileLayout L, int Rows>
  static MicroKernel micro_kernel_for(int64_t rows) {
    return pick<V, L>(rows, std::make_integer_sequence<int, Rows>{});
  }

  // The packed path's micro-kernel for a tile of `rows` rows reading A as `layout` says, one register wide
  // for a narrow last panel.
  static MicroKernel tile_kernel(TileLayout layout, bool narrow, int64_t rows) {
    switch (layout) {
      case TileLayout::a_rows:
        return narrow ? micro_kernel_for<1, TileLayout::a_rows, MR>(rows)
                      : micro_kernel_for<NV, TileLayout::a_rows, MR>(rows);
      case TileLayout::a_columns:
        return narrow ? micro_kernel_for<1, TileLayout::a_columns, MR>(rows)
                      : micro_kernel_for<NV, TileLayout::a_columns, MR>(rows);
      default:
        return narrow ? micro_kernel_for<1, TileLayout::packed_a, MR>(rows)
                      : micro_kernel_for<NV, TileLayout::packed_a, MR>(rows);
    }
  }

  // ---- A B^T for short A, without packing ----------------------------------------------------------
  // C = alpha * A B^T + beta * C with A [m, k] and B [n, k] both read in place: every output is the dot
  // product of two contiguous rows. A block is DA rows of A x DB rows of B = W dot products, one SIMD
  // accumulator each, reduced together by one haddp. B's DB rows stay in L1 while the loop sweeps A's rows.
  static constexpr int64_t DB = W >= 4 ? 4 : W;
  static constexpr int64_t DA = W / DB;
  static_assert(DA >= 1 && DA * DB == W);

  static void dot_gemm(const GemmArgs& g) {
    const int64_t m = g.m, n = g.n, k = g.k;
    const int64_t k_vec = k / W * W;
    for (int64_t j0 = 0; j0 < n; j0 += DB) {
      const float* b_row[DB];  // rows past the end repeat the last one; their results are not stored
      for (int64_t q = 0; q < DB; ++q) b_row[q] = g.b + lo(j0 + q, n - 1) * g.ldb;
      for (int64_t i0 = 0; i0 < m; i0 += DA) {
        const float* a_row[DA];
        for (int64_t r = 0; r < DA; ++r) a_row[r] = g.a + lo(i0 + r, m - 1) * g.lda;
        batch acc[W];  // acc[r * DB + q]: A row r . B row q
        for (auto& x : acc) x = batch(float(0));
        for (int64_t p = 0; p < k_vec; p += W) {
          batch av[DA];
          for (int64_t r = 0; r < DA; ++r) av[r] = batch::load_unaligned(a_row[r] + p);
#pragma GCC unroll 4
          for (int64_t q = 0; q < DB; ++q) {
            const batch bv = batch::load_unaligned(b_row[q] + p);
            for (int64_t r = 0; r < DA; ++r) acc[r * DB + q] = xsimd::fma(av[r], bv, acc[r * DB + q]);
          }
        }
        alignas(64) float sums[W];
        if constexpr (W == 16) {  // xsimd 8.1's AVX-512 haddp returns lanes 2-5 and 10-13 permuted
          for (int64_t i = 0; i < W; ++i) sums[i] = xsimd::hadd(acc[i]);
        } else {
          xsimd::haddp(acc).store_aligned(sums);
        }
        for (int64_t p = k_vec; p < k; ++p)
          for (int64_t r = 0; r < DA; ++r)
            for (int64_t q = 0; q < DB; ++q) sums[r * DB + q] += a_row[r][p] * b_row[q][p];
        const int64_t rows = lo(DA, m - i0), cols = lo(DB, n - j0);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t q = 0; q < cols; ++q) update(g.c[(i0 + r) * g.ldc + j0 + q], sums[r * DB + q], g.alpha, g.beta);
      }
    }
  }

  // ---- A B^T for short A, computed as C^T = B A^T ------------------------------------------------
  // An RNN step's h W^T has a short A (the batch) and a weight B whose transpose the packed path would have
  // to pack at every step. Computed as C^T = B A^T instead, the weight is the kernel's row operand: each
  // broadcast reads W[row, p] in place, so W is never copied; only the short A is packed (as op(B) = A^T,
  // in panels of V registers, V the fewest that hold A's rows, at most 2), and the tile is written
  // transposed into C. The loop keeps a few rows of W in L1 while it sweeps A's (at most a few) panels.
  //
  // k is cut into slices of at most kWeightRowsK, not KC: every slice writes the whole of C transposed,
  // element by element (reading it back from the second slice on), which costs more than the longer
  // packed A^T (at most 4096 x 64 floats = 1 MB, in L2) saves. Interleaved A/B against KC = 256 slices,
  // GFLOP/s ratio, median of 60 pairs: 64 x 4096 x 1024 (the 1 x 1024 LSTM's step) 1.33x on AVX-512,
  // 1.42x on AVX2; 32 x 1024 x 512 1.12x / 1.08x; 64 x 1024 x 4096 at 4096 against 1024: 1.02x.
  static constexpr int64_t kWeightRowsK = 4096;

  template <int V, int Rows>
  static void weight_rows_gemm(const GemmArgs& g) {
    constexpr int64_t N = V * W;
    const int64_t m_panels = (g.m + N - 1) / N * N;
    float* packed = gemm_scratch(1, lo(kWeightRowsK, g.k) * m_panels);
    for (int64_t p0 = 0; p0 < g.k; p0 += kWeightRowsK) {
      const int64_t kc = lo(kWeightRowsK, g.k - p0);
      const float slice_beta = p0 == 0 ? g.beta : float(1);
      pack_b<N>(g.a, g.lda, true, p0, kc, 0, g.m, packed);  // op = A^T: [kc, m] in panels of N rows of A
      for (int64_t ip = 0; ip < g.n; ip += Rows) {          // Rows rows of B = Rows columns of C
        const MicroKernel kernel = micro_kernel_for<V, TileLayout::weight_rows, Rows>(lo(Rows, g.n - ip));
        for (int64_t jp = 0; jp < g.m; jp += N)  // N rows of A = N rows of C
          kernel(kc, g.b + ip * g.ldb + p0, g.ldb, packed + jp * kc, N, g.alpha, slice_beta, g.c + jp * g.ldc + ip,
                 g.ldc, lo(N, g.m - jp));
      }
    }
  }

  // ---- the packed path ---------------------------------------------------------------------------
  // A not transposed is read in place (TileLayout::a_rows: R row streams) when op(B) has at most this many
  // columns: packing A is then a whole pass over it for few uses of each element. One thread, GFLOP/s in
  // place against packed, median of 3-5 alternated runs (2026-12-03, AMD EPYC), A B^T: AVX-512 800 x 10 x 64
  // (a 10-class head over T*N rows) 2.01x, 800 x 32 x 64 1.72x, 800 x 64 x 64 1.36x, 800 x 128 x 64 1.16x,
  // 800 x 256 x 256 1.09x, 3000 x 512 x 512 1.10x; AVX2 1.71x, 1.19x, 1.04x, 1.03x (10, 64, 256, 512 columns);
  // SSE2 1.39x, 1.09x, 1.02x, 1.04x. Wider: 1120 x 1024 x 1024 0.98x, 64 x 1024 x 4096 0.98x (AVX-512).
  static constexpr int64_t kARowsInPlaceCols = 512;

  // op(A) = A^T read in place rather than packed (TransposedA above).
  static bool transposed_a_in_place(const GemmArgs& g) {
    if (!g.ta || Tuning::transposed_a == TransposedA::packed) return false;
    return Tuning::transposed_a == TransposedA::in_place || !rows_4k_apart(g.lda);
  }

  static void packed_path(const GemmArgs& g) {
    const int64_t m = g.m, n = g.n, k = g.k;
    const int64_t nc_max = lo(NC, (n + NR - 1) / NR * NR);
    const int64_t mc_max = lo(MC, (m + MR - 1) / MR * MR);
    const TileLayout a_layout = transposed_a_in_place(g)                ? TileLayout::a_columns
                                : !g.ta && n <= kARowsInPlaceCols ? TileLayout::a_rows
                                                                  : TileLayout::packed_a;
    // Slices of k: KC, or Tuning::KC_AT for a transposed A read in place (no packed A block to keep in L2;
    // fewer slices, fewer passes over a C too large for L2). AVX-512, one thread, KC_AT = 512 against 256,
    // median of 3-7 alternated runs: 10000 x 200 x 400 (the PTB head's dW) 1.09x, 4096 x 1024 x 2240 1.07x,
    // 1024 x 256 x 1120 1.03x; 1024 made the last two slower (0.91x, 0.85x). AVX2: 0.96-1.01x (KC_AT = KC).
    const int64_t kc_step = a_layout == TileLayout::a_columns ? Tuning::KC_AT : KC;
    const int64_t kc_max = lo(kc_step, k);

    // When op(B) = B and A is short, packing B would cost about as much as the product (each B element is
    // used only m times), so the kernel reads full panels of B in place; only a ragged last panel is packed.
    // Up to 128 rows rather than 64: one thread, GFLOP/s in place against packed (best of 7, 2026-12-03), on
    // AVX-512: 96 x 1024 x 4096 (the 1 x 1024 LSTM's dh at batch 96) 1.82x, 72 x 1024 x 4096 2.02x, 80 x 4096
    // x 1024 1.82x, 128 x 256 x 1024 1.17x, 128 x 512 x 512 1.15x, 128 x 10000 x 200 1.13x, 96 x 1024 x 1024
    // 0.98x; on AVX2 1.06-1.25x on five of them; from 192 rows packing wins (157 against 144 GFLOP/s).
    // B packed once for many products (GemmArgs::packed_b): every panel comes from there.
    const bool b_prepacked = g.packed_b != nullptr;
    const bool b_in_place = !b_prepacked && !g.tb && m <= kInPlaceRows;
    // ... except where B's rows are a multiple of 4 KB apart: then every row of a panel falls in the same
    // set of the L1 cache, which cannot keep the panel between the micro-tiles that reuse it. With more
    // than 32 rows of A (6 tiles reuse each panel) copying one panel at a time into L1 pays. Interleaved
    // A/B, GFLOP/s ratio copy / in place, median of 60 pairs: 64 x 1024 x 4096 (the 1 x 1024 LSTM's dh)
    // 1.17x on AVX-512, 1.20x on AVX2; 64 x 2048 x 1024 1.15x; at 32 x 1024 x 4096 0.91x, and at row
    // strides that are not multiples of 4 KB 0.79x (32 x 256 x 1024).
    const bool copy_panels = b_in_place && m > 32 && rows_4k_apart(g.ldb);
    float* packed_b = gemm_scratch(1, kc_max * nc_max);
    float* packed_a = a_layout == TileLayout::packed_a ? gemm_scratch(0, kc_max * mc_max) : nullptr;
    for (int64_t j0 = 0; j0 < n; j0 += NC) {
      const int64_t nc = lo(NC, n - j0);
      for (int64_t p0 = 0; p0 < k; p0 += kc_step) {
        const int64_t kc = lo(kc_step, k - p0);
        // The first slice applies the caller's beta; later slices add to what the earlier ones wrote.
        const float slice_beta = p0 == 0 ? g.beta : float(1);
        const int64_t full_cols = nc / NR * NR;
        if (b_in_place) {
          if (full_cols < nc)
            pack_b<NR>(g.b, g.ldb, false, p0, kc, j0 + full_cols, nc - full_cols, packed_b + full_cols * kc);
        } else if (!b_prepacked) {
          pack_b<NR>(g.b, g.ldb, g.tb, p0, kc, j0, nc, packed_b);
        }
        for (int64_t i0 = 0; i0 < m; i0 += MC) {
          const int64_t mc = lo(MC, m - i0);
          if (a_layout == TileLayout::packed_a) pack_a(g.a, g.lda, g.ta, i0, mc, p0, kc, packed_a);
          for (int64_t jp = 0; jp < nc; jp += NR) {
            const bool direct = b_in_place && jp < full_cols;
            const float* b_panel = b_prepacked ? g.packed_b + (j0 + jp) * k + p0 * NR
                                   : direct    ? g.b + p0 * g.ldb + j0 + jp
                                               : packed_b + jp * kc;
            int64_t ldb_panel = direct ? g.ldb : NR;
            if (direct && copy_panels) {  // this one panel packed, just before the micro-tiles use it
              pack_b<NR>(g.b, g.ldb, false, p0, kc, j0 + jp, NR, packed_b + jp * kc);
              b_panel = packed_b + jp * kc;
              ldb_panel = NR;
            }
            const int64_t cols = lo(NR, nc - jp);
            // A ragged last panel of at most one register's columns runs a one-register tile: the same
            // multiply-add chain per element, half the multiplies of a padded NV-register tile. AVX-512, one
            // thread, GFLOP/s against the padded tile, median of 7 alternated: 10000 x 200 x 400 (the PTB
            // head's dW, a last panel of 8 columns) 1.036x, 400 x 10000 x 200 (16) 1.014x.
            const bool narrow = NV > 1 && cols <= W;
            for (int64_t ip = 0; ip < mc; ip += MR) {
              const int64_t rows = lo(MR, mc - ip);
              const float* a_tile = a_layout == TileLayout::a_rows      ? g.a + (i0 + ip) * g.lda + p0
                                    : a_layout == TileLayout::a_columns ? g.a + p0 * g.lda + i0 + ip
                                                                        : packed_a + ip * kc;
              const int64_t lda_tile = a_layout == TileLayout::packed_a ? MR : g.lda;
              tile_kernel(a_layout, narrow, rows)(kc, a_tile, lda_tile, b_panel, ldb_panel, g.alpha, slice_beta,
                                                  g.c + (i0 + ip) * g.ldc + j0 + jp, g.ldc, cols);
            }
          }
        }
      }
    }
  }

  // ---- the entry points (GemmIsaKernel) -----------------------------------------------------------
  static GemmPath choose(const GemmArgs& g) {
    // A B^T with a few rows of A (batch-1 inference, sampling): the dot-product path is 1.6-3x faster at
    // k >= 128 (AVX2, 1 x 1024 x 256: 3.8 vs 11.9 GFLOP/s; 8 x 1024 x 256: 37.5 vs 47.3); packing wins from
    // about 8 rows on, and at small k.
    if (g.tb && !g.ta && (g.m <= kDotRows || (g.m <= kDotRowsLongK && g.k >= 128))) return GemmPath::dot;
    if (g.tb && !g.ta && g.m <= kShortRows) return GemmPath::weight_rows;
    return GemmPath::packed;
  }

  // ---- weight_rows on a weight packed once per sequence (PackedWeightsScope) --------------------------
  // C = alpha * A W^T with A at most W / 2 rows and beta = 0: the packed micro-kernel over the whole of k (one
  // slice, as weight_rows' k <= kWeightRowsK) on W^T packed once. Per element: the fused multiply-add chain
  // of weight_rows (a * w = w * a), then alpha * acc: the same bits. rnn_bench lstm 1x64 N8 T50 --no-grad,
  // one thread, against weight_rows (3 alternated runs, 2026-12-03): 1.31x (1.58M against 1.21M tokens/s);
  // lstm 1x64 N16 on two threads (slices of 8): 1.13x over the library before the slices (median of 5).
  static bool runs_on_packed_weight(const GemmArgs& g) {
    return 2 * g.m <= W && g.beta == float(0) && g.k <= kWeightRowsK;  // (weight_rows: A B^T, so !ta, tb)
  }

  static bool packed_weight_gemm(const GemmArgs& g) {
    const int64_t panels = (g.n + NR - 1) / NR;
    bool fresh = false;
    float* weight = packed_weight(g.b, g.ldb, true, g.n, g.k, NR, panels * NR * g.k, &fresh);
    if (weight == nullptr) return false;
    if (fresh) pack_weight(g, weight);  // op(B) = W^T
    // A (at most W / 2 rows) read in place, as the packed path does for few columns (a_rows)
    for (int64_t jp = 0; jp < g.n; jp += NR)
      for (int64_t ip = 0; ip < g.m; ip += MR)
        micro_kernel_for<NV, TileLayout::a_rows, MR>(lo(MR, g.m - ip))(
            g.k, g.a + ip * g.lda, g.lda, weight + jp * g.k, NR, g.alpha, float(0), g.c + ip * g.ldc + jp, g.ldc,
            lo(NR, g.n - jp));
    return true;
  }

  // op(B) whole, in panels of NR columns each all of k (GemmArgs::packed_b).
  static void pack_weight(const GemmArgs& g, float* out) { pack_b<NR>(g.b, g.ldb, g.tb, 0, g.k, 0, g.n, out); }

  static void run(GemmPath path, const GemmArgs& g) {
    switch (path) {
      case GemmPath::dot:
        return dot_gemm(g);
      case GemmPath::weight_rows:
        if (runs_on_packed_weight(g) && packed_weight_gemm(g)) return;
        if (g.m <= W) return weight_rows_gemm<1, Tuning::WR1>(g);
        return weight_rows_gemm<2, Tuning::WR2>(g);
      case GemmPath::packed:
        return packed_path(g);
    }
  }

  static constexpr GemmIsaKernel kernel(GemmIsa isa) { return {isa, MR, NR, &choose, &run, &pack_weight}; }
};

}  // namespace
}  // namespace unroll::detail
