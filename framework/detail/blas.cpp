// Direct cblas calls. Kept in its own file: xtensor-blas ships CBLAS declarations that clash with the
// system <cblas.h> in one translation unit, and this way no other file pays for either.
#include "unroll/framework/detail/blas.hpp"

#include <cblas.h>

namespace unroll::detail {

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, real alpha, const real* a, int64_t lda,
          const real* b, int64_t ldb, real beta, real* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const auto ta = transpose_a ? CblasTrans : CblasNoTrans;
  const auto tb = transpose_b ? CblasTrans : CblasNoTrans;
#ifdef UNROLL_DOUBLE
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

}  // namespace unroll::detail
