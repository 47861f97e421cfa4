// Direct cblas calls, and the choice between OpenBLAS and unroll's own kernel (gemm_kernel.cpp). Kept in
// its own file: xtensor-blas ships CBLAS declarations that clash with the system <cblas.h> in one
// translation unit, and this way no other file pays for either. xt::linalg::dot is not used: it allocates its
// result at every call and rejects column blocks, and on one thread it took 1.5-2.0x the time of unroll::matmul
// for [32,256] x [256,1024] (with OpenBLAS as this environment sets it, OPENBLAS_CORETYPE=Haswell, and with
// OpenBLAS's own CPU detection); for [1120,256] x [256,1024] 1.45-1.9x, or 0.85x with OpenBLAS's own detection,
// which UNROLL_GEMM=openblas gives without the copy (bench/xtensor_vs_loops, 2026-12-02).
#include "unroll/framework/detail/blas.hpp"

#include <cblas.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "unroll/framework/detail/gemm_kernel.hpp"

namespace unroll::detail {

namespace {
// OpenBLAS threads pay off only for large products: on small ones (the per-step GEMMs of a small RNN)
// its threads spend more time spinning and yielding than computing. Products below this many
// multiply-adds run on one thread; larger ones on all of OpenBLAS's threads (OPENBLAS_NUM_THREADS).
int64_t threaded_work_threshold() {
  const char* env = std::getenv("UNROLL_BLAS_THREAD_THRESHOLD");
  return env ? std::atoll(env) : int64_t{4} << 20;
}
const int64_t kThreadedWork = threaded_work_threshold();
const int kMaxThreads = openblas_get_num_threads();
std::atomic<int> g_current_threads{-1};

void use_threads(int64_t work) {
  const int wanted = work >= kThreadedWork ? kMaxThreads : 1;
  if (g_current_threads.load(std::memory_order_relaxed) != wanted) {
    openblas_set_num_threads(wanted);
    g_current_threads.store(wanted, std::memory_order_relaxed);
  }
}

GemmBackend read_backend() {
  const char* env = std::getenv("UNROLL_GEMM");
  if (env && std::strcmp(env, "openblas") == 0) return GemmBackend::openblas;
  if (env && std::strcmp(env, "unroll") == 0) return GemmBackend::unroll;
  return GemmBackend::automatic;
}
const GemmBackend kBackend = read_backend();
}  // namespace

GemmBackend gemm_backend() { return kBackend; }

void blas_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
               int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  use_threads(m * n * k);
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

void blas_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
               int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  use_threads(m * n * k);
  cblas_dgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (kBackend == GemmBackend::openblas)
    blas_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    packed_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  blas_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace unroll::detail
