// Internal: unroll's own packed GEMM kernel (framework/detail/gemm_kernel.cpp), same contract as gemm().
#pragma once

#include <cstdint>

namespace unroll::detail {

// C[M, N] = alpha * op(A) * op(B) + beta * C, all row-major; op(X) = X or X^T by flag; lda/ldb/ldc are
// the row strides as stored. beta = 0 never reads C. Single-threaded; safe to call from several threads.
void packed_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace unroll::detail

namespace unroll::detail {

// C[M, N] = alpha * A B^T + beta * C with A [M, K] and B [N, K] row-major, read in place (no packing):
// every output is one dot product of two contiguous rows. packed_gemm uses it for short A times B^T.
void dot_gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
              float beta, float* c, int64_t ldc);

}  // namespace unroll::detail
