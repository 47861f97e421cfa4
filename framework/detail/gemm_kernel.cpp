// unroll's own GEMM: packed, cache-blocked, on xsimd registers (the structure of Goto & van de Geijn,
// "Anatomy of high-performance matrix multiplication", 2008, as in OpenBLAS and BLIS).
//
// Why it exists: Debian's OpenBLAS 0.3.21 picks its kernels by CPU model, and on CPUs newer than it knows
// (this project's 2-vCPU Xeon, family 6 model 207) it falls back to its generic Prescott (SSE3) kernels:
// about 25 GFLOP/s on the per-step shapes of an RNN. This file is compiled with the project's SIMD flags
// (AVX2 + FMA when the build machine has them), so it uses what the CPU actually offers. blas.cpp decides
// which of the two runs; tests/framework/detail/test_gemm_kernel.cpp checks it against a reference.
//
//   for each NC-wide column block of op(B)                      (fits the L3 cache)
//     for each KC-deep slice of the shared dimension
//       pack op(B)[slice, block] into NR-wide column panels     (one panel fits L1)
//       for each MC-tall row block of op(A)                     (fits L2)
//         pack op(A)[block, slice] into MR-tall row panels
//         for every (row panel, column panel): the MR x NR micro-kernel, acc += a_col * b_row per k
//
// Packing makes every operand layout (transposed or not, any leading dimension) look the same to the
// micro-kernel, and pads edge panels with zeros so the kernel never branches on size.
#include "unroll/framework/detail/gemm_kernel.hpp"

#include "unroll/framework/detail/denormals.hpp"

#include <xsimd/xsimd.hpp>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <vector>

namespace unroll::detail {

namespace {

using batch = xsimd::batch<float>;
constexpr int64_t W = static_cast<int64_t>(batch::size);  // lanes per register: 8 floats with AVX2
constexpr int64_t MR = 6;                                 // rows of C per micro-kernel
constexpr int64_t NR = 2 * W;                             // columns of C per micro-kernel: two registers
// 6 x 2 accumulators + 2 B registers + 1 broadcast = 15 of AVX2's 16 vector registers.

// Block sizes in elements. KC x NR of B (16 KiB for float) stays in L1 across the MR-row sweep,
// MC x KC of A (96 KiB) in L2, KC x NC of B (4 MiB) in L3.
constexpr int64_t KC = 256;
constexpr int64_t MC = 96;  // a multiple of MR
constexpr int64_t NC = 4096;
// Up to this many rows of op(A), a non-transposed B is read in place instead of packed.
constexpr int64_t kBInPlaceMaxRows = 64;

// Scratch for the packed operands, one per thread (the engine is used from several threads at once).
struct PackBuffers {
  std::vector<float, xsimd::aligned_allocator<float>> a, b;
};
PackBuffers& pack_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// Element (i, j) of op(X) where X is row-major with row stride ld.
inline float at(const float* x, int64_t ld, bool transposed, int64_t i, int64_t j) {
  return transposed ? x[j * ld + i] : x[i * ld + j];
}

// op(A)[i0 : i0 + mc, p0 : p0 + kc] -> panels of MR rows; within a panel, column p is MR contiguous values.
void pack_a(const float* a, int64_t lda, bool ta, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* out) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int64_t rows = std::min(MR, mc - ip);
    float* panel = out + ip * kc;
    if (!ta) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* src = a + (i0 + ip + r) * lda + p0;  // a contiguous row of A
        for (int64_t p = 0; p < kc; ++p) panel[p * MR + r] = src[p];
      }
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = a + (p0 + p) * lda + i0 + ip;  // a row of A is a column of op(A)
        for (int64_t r = 0; r < rows; ++r) panel[p * MR + r] = src[r];
      }
    }
    for (int64_t r = rows; r < MR; ++r)
      for (int64_t p = 0; p < kc; ++p) panel[p * MR + r] = 0;
  }
}

// One full panel of a transposed B: src holds NR rows of B (row stride ldb), each kc long; panel[p * NR + c]
// = src[c * ldb + p]. With AVX (float) this runs as 8 x 8 register transposes, otherwise as a scalar loop.
void pack_transposed_panel(const float* src, int64_t ldb, int64_t kc, float* panel) {
  int64_t p = 0;
#if defined(__AVX__)
  static_assert(NR % 8 == 0);
  for (; p + 8 <= kc; p += 8) {
    for (int64_t c0 = 0; c0 < NR; c0 += 8) {
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
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(panel + (p + i) * NR + c0, t[i]);
    }
  }
#endif
  for (; p < kc; ++p)
    for (int64_t c = 0; c < NR; ++c) panel[p * NR + c] = src[c * ldb + p];
}

// op(B)[p0 : p0 + kc, j0 : j0 + nc] -> panels of NR columns; within a panel, row p is NR contiguous values.
void pack_b(const float* b, int64_t ldb, bool tb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = std::min(NR, nc - jp);
    float* panel = out + jp * kc;
    if (!tb) {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + j0 + jp;
        std::memcpy(panel + p * NR, src, static_cast<size_t>(cols) * sizeof(float));
        std::fill(panel + p * NR + cols, panel + (p + 1) * NR, float(0));
      }
    } else if (cols == NR) {
      pack_transposed_panel(b + (j0 + jp) * ldb + p0, ldb, kc, panel);
    } else {
      for (int64_t c = 0; c < cols; ++c) {
        const float* src = b + (j0 + jp + c) * ldb + p0;  // a row of B is a column of op(B)
        for (int64_t p = 0; p < kc; ++p) panel[p * NR + c] = src[p];
      }
      for (int64_t p = 0; p < kc; ++p) std::fill(panel + p * NR + cols, panel + (p + 1) * NR, float(0));
    }
  }
}

// The micro-kernel: an R x NR tile of C (R <= MR; R < MR only for the last rows, which then cost no wasted
// multiplies) = alpha * (A rows x B panel) + beta * C. beta == 0 never reads C (as in BLAS, so NaN
// garbage in C does not leak through). B rows are ldb_panel apart: NR for a packed panel, ldb when B is
// read in place. Two ways to read A and write C:
//   packed_a:    A is a packed panel (column p = MR contiguous values); the tile is C[r, j] (row stride ldc).
//   weight_rows: A is R rows of a weight read in place (row stride lda), for C^T = W A^T (below); the tile
//                is C^T, so it is written transposed: tile[r][j] goes to C[j, r].
enum class TileLayout { packed_a, weight_rows };

template <int R, TileLayout L>
void micro_kernel(int64_t kc, const float* __restrict a, int64_t lda, const float* __restrict b, int64_t ldb_panel,
                  float alpha, float beta, float* __restrict c, int64_t ldc, int64_t cols) {
  batch acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = batch(float(0));
  for (int64_t p = 0; p < kc; ++p) {
    const batch b0 = batch::load_unaligned(b + p * ldb_panel);
    const batch b1 = batch::load_unaligned(b + p * ldb_panel + W);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const batch ar(L == TileLayout::packed_a ? a[p * MR + r] : a[r * lda + p]);
      acc[r][0] = xsimd::fma(ar, b0, acc[r][0]);
      acc[r][1] = xsimd::fma(ar, b1, acc[r][1]);
    }
  }
  if (L == TileLayout::packed_a && cols == NR) {  // full rows of C: vector stores
    const batch va(alpha), vb(beta);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      float* row = c + r * ldc;
      if (beta == float(0)) {
        (va * acc[r][0]).store_unaligned(row);
        (va * acc[r][1]).store_unaligned(row + W);
      } else {
        xsimd::fma(va, acc[r][0], vb * batch::load_unaligned(row)).store_unaligned(row);
        xsimd::fma(va, acc[r][1], vb * batch::load_unaligned(row + W)).store_unaligned(row + W);
      }
    }
    return;
  }
  alignas(64) float tile[R][NR];  // ragged last columns, or a transposed tile: element by element
  for (int r = 0; r < R; ++r) {
    acc[r][0].store_aligned(&tile[r][0]);
    acc[r][1].store_aligned(&tile[r][W]);
  }
  const auto update = [&](float& out, float value) {
    out = beta == float(0) ? alpha * value : alpha * value + beta * out;
  };
  if (L == TileLayout::packed_a) {
    for (int r = 0; r < R; ++r)
      for (int64_t j = 0; j < cols; ++j) update(c[r * ldc + j], tile[r][j]);
  } else {  // C[j, r]: r innermost, so each row of C is written contiguously
    for (int64_t j = 0; j < cols; ++j)
      for (int r = 0; r < R; ++r) update(c[j * ldc + r], tile[r][j]);
  }
}

template <TileLayout L>
void run_micro_kernel(int64_t rows, int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb_panel,
                      float alpha, float beta, float* c, int64_t ldc, int64_t cols) {
  static_assert(MR == 6);
  switch (rows) {
    case 6:
      return micro_kernel<6, L>(kc, a, lda, b, ldb_panel, alpha, beta, c, ldc, cols);
    case 5:
      return micro_kernel<5, L>(kc, a, lda, b, ldb_panel, alpha, beta, c, ldc, cols);
    case 4:
      return micro_kernel<4, L>(kc, a, lda, b, ldb_panel, alpha, beta, c, ldc, cols);
    case 3:
      return micro_kernel<3, L>(kc, a, lda, b, ldb_panel, alpha, beta, c, ldc, cols);
    case 2:
      return micro_kernel<2, L>(kc, a, lda, b, ldb_panel, alpha, beta, c, ldc, cols);
    default:
      return micro_kernel<1, L>(kc, a, lda, b, ldb_panel, alpha, beta, c, ldc, cols);
  }
}

// ---- A B^T for short A, computed as C^T = B A^T ----------------------------------------------------
// An RNN step's h W^T has a short A (the batch) and a weight B whose transpose the main path would have
// to pack at every step. Computed as C^T = B A^T instead, the weight is the kernel's row operand: each
// broadcast reads W[row, p] in place, so W is never copied; only the short A is packed (as op(B) =
// A^T), and the tile is written transposed into C. The loop keeps MR rows of W in L1 while it sweeps
// the (at most a few) column panels of A.
// C[m, n] = alpha * A B^T + beta * C, A [m, k], B [n, k], m small (the packed A^T fits one buffer).
void weight_rows_gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                      int64_t ldb, float beta, float* c, int64_t ldc) {
  PackBuffers& buffers = pack_buffers();
  const int64_t m_panels = (m + NR - 1) / NR * NR;
  buffers.b.resize(static_cast<size_t>(std::min(KC, k) * m_panels));
  for (int64_t p0 = 0; p0 < k; p0 += KC) {
    const int64_t kc = std::min(KC, k - p0);
    const float slice_beta = p0 == 0 ? beta : float(1);
    pack_b(a, lda, true, p0, kc, 0, m, buffers.b.data());  // op = A^T: [kc, m] in panels of NR rows of A
    for (int64_t ip = 0; ip < n; ip += MR) {               // MR rows of B = MR columns of C
      for (int64_t jp = 0; jp < m; jp += NR)               // NR rows of A = NR rows of C
        run_micro_kernel<TileLayout::weight_rows>(std::min(MR, n - ip), kc, b + ip * ldb + p0, ldb,
                                                  buffers.b.data() + jp * kc, NR, alpha, slice_beta, c + jp * ldc + ip,
                                                  ldc, std::min(NR, m - jp));
    }
  }
}

constexpr int64_t DB = 4;
constexpr int64_t DA = W / DB;
static_assert(DA >= 1 && DA * DB == W);

}  // namespace

// ---- A B^T for short A, without packing -----------------------------------------------------------
// C = alpha * A B^T + beta * C with A [m, k] and B [n, k] both read in place: every output is the dot
// product of two contiguous rows. An RNN step's h W^T is this shape (m = batch rows, B = the weight),
// and packing B^T there would transpose the whole weight on every call.
// A block is DA rows of A x DB rows of B = W dot products, one SIMD accumulator each, reduced together
// by one haddp. B's DB rows stay in L1 while the loop sweeps the rows of A.
void dot_gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
              float beta, float* c, int64_t ldc) {
  const int64_t k_vec = k / W * W;
  for (int64_t j0 = 0; j0 < n; j0 += DB) {
    const float* b_row[DB];  // rows past the end repeat the last one; their results are not stored
    for (int64_t q = 0; q < DB; ++q) b_row[q] = b + std::min(j0 + q, n - 1) * ldb;
    for (int64_t i0 = 0; i0 < m; i0 += DA) {
      const float* a_row[DA];
      for (int64_t r = 0; r < DA; ++r) a_row[r] = a + std::min(i0 + r, m - 1) * lda;
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
      xsimd::haddp(acc).store_aligned(sums);
      for (int64_t p = k_vec; p < k; ++p)
        for (int64_t r = 0; r < DA; ++r)
          for (int64_t q = 0; q < DB; ++q) sums[r * DB + q] += a_row[r][p] * b_row[q][p];
      const int64_t rows = std::min(DA, m - i0), cols = std::min(DB, n - j0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t q = 0; q < cols; ++q) {
          float& out = c[(i0 + r) * ldc + j0 + q];
          out = beta == float(0) ? alpha * sums[r * DB + q] : alpha * sums[r * DB + q] + beta * out;
        }
    }
  }
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
  // A B^T with a few rows of A (batch-1 inference, sampling): the dot-product path is 1.6-3x faster at
  // k >= 128 (bench: 1 x 1024 x 256: 3.8 vs 11.9 GFLOP/s; 8 x 1024 x 256: 37.5 vs 47.3); packing wins
  // from about 8 rows on, and at small k.
  if (transpose_b && !transpose_a && (m <= 2 || (m <= 8 && k >= 128)))
    return dot_gemm(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (transpose_b && !transpose_a && m <= kBInPlaceMaxRows)
    return weight_rows_gemm(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  PackBuffers& buffers = pack_buffers();
  const int64_t nc_max = std::min(NC, (n + NR - 1) / NR * NR);
  const int64_t mc_max = std::min(MC, (m + MR - 1) / MR * MR);
  const int64_t kc_max = std::min(KC, k);
  buffers.b.resize(static_cast<size_t>(kc_max * nc_max));
  buffers.a.resize(static_cast<size_t>(kc_max * mc_max));

  // When op(B) = B and A is short, packing B would cost about as much as the product (each B element is
  // used only m times), so the kernel reads full panels of B in place; only a ragged last panel is packed.
  const bool b_in_place = !transpose_b && m <= kBInPlaceMaxRows;
  for (int64_t j0 = 0; j0 < n; j0 += NC) {
    const int64_t nc = std::min(NC, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += KC) {
      const int64_t kc = std::min(KC, k - p0);
      // The first slice applies the caller's beta; later slices add to what the earlier ones wrote.
      const float slice_beta = p0 == 0 ? beta : float(1);
      const int64_t full_cols = nc / NR * NR;
      if (b_in_place) {
        if (full_cols < nc)
          pack_b(b, ldb, false, p0, kc, j0 + full_cols, nc - full_cols, buffers.b.data() + full_cols * kc);
      } else {
        pack_b(b, ldb, transpose_b, p0, kc, j0, nc, buffers.b.data());
      }
      for (int64_t i0 = 0; i0 < m; i0 += MC) {
        const int64_t mc = std::min(MC, m - i0);
        pack_a(a, lda, transpose_a, i0, mc, p0, kc, buffers.a.data());
        for (int64_t jp = 0; jp < nc; jp += NR) {
          const bool direct = b_in_place && jp < full_cols;
          const float* b_panel = direct ? b + p0 * ldb + j0 + jp : buffers.b.data() + jp * kc;
          const int64_t ldb_panel = direct ? ldb : NR;
          for (int64_t ip = 0; ip < mc; ip += MR) {
            run_micro_kernel<TileLayout::packed_a>(std::min(MR, mc - ip), kc, buffers.a.data() + ip * kc, MR, b_panel,
                                                   ldb_panel, alpha, slice_beta, c + (i0 + ip) * ldc + j0 + jp, ldc,
                                                   std::min(NR, nc - jp));
          }
        }
      }
    }
  }
}

}  // namespace unroll::detail
