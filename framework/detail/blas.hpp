// Internal: the library's only BLAS entry point (row-major GEMM with transpose flags).
#pragma once

#include <cstdint>

namespace unroll::detail {

// C[M, N] = alpha * op(A) * op(B) + beta * C, all row-major; op(X) = X or X^T by flag.
// lda/ldb/ldc are row strides of A, B, C as stored. beta = 1 accumulates into C.
// float: unroll's own packed kernel (gemm_kernel.hpp) or OpenBLAS, see gemm_backend(). double: OpenBLAS's
// dgemm (float64 is for checking and for users who need it; its speed is OpenBLAS's).
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// The same product through OpenBLAS's cblas_sgemm / cblas_dgemm (its threads for large products only).
void blas_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
               int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void blas_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
               int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// Which implementation gemm() uses, from the environment variable UNROLL_GEMM read once at start-up:
// "openblas" forces OpenBLAS, "unroll" forces the own kernel, unset or "auto" picks per product.
enum class GemmBackend { automatic, openblas, unroll };
GemmBackend gemm_backend();

}  // namespace unroll::detail
