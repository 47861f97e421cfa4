// Internal: the library's only BLAS entry point (row-major GEMM with transpose flags).
#pragma once

#include <cstdint>

#include "unroll/framework/config.hpp"

namespace unroll::detail {

// C[M, N] = alpha * op(A) * op(B) + beta * C, all row-major; op(X) = X or X^T by flag.
// lda/ldb/ldc are row strides of A, B, C as stored. beta = 1 accumulates into C.
// Runs unroll's own packed kernel (gemm_kernel.hpp) or OpenBLAS, see gemm_backend().
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, real alpha, const real* a, int64_t lda,
          const real* b, int64_t ldb, real beta, real* c, int64_t ldc);

// The same product through OpenBLAS's cblas_sgemm / cblas_dgemm (its threads for large products only).
void blas_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, real alpha, const real* a,
               int64_t lda, const real* b, int64_t ldb, real beta, real* c, int64_t ldc);

// Which implementation gemm() uses, from the environment variable UNROLL_GEMM read once at start-up:
// "openblas" forces OpenBLAS, "unroll" forces the own kernel, unset or "auto" picks per product.
enum class GemmBackend { automatic, openblas, unroll };
GemmBackend gemm_backend();

}  // namespace unroll::detail
