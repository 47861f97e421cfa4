// framework/detail/gemm_kernel.cpp: the packed kernel against a plain triple loop in long double, over
// shapes that hit every edge (ragged panels, several K slices, M and N blocks), all transpose pairs,
// padded leading dimensions, alpha and beta. Built for float and for double (test_gemm_kernel_f64).
#include <doctest/doctest.h>
#include <unroll/framework/detail/blas.hpp>
#include <unroll/framework/detail/gemm_kernel.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using unroll::real;
using unroll::detail::packed_gemm;

namespace {
struct Case {
  bool ta, tb;
  int64_t m, n, k;
  real alpha, beta;
};

// Elements of op(X)[rows, cols] stored row-major with row stride ld (ld >= stored width; padding is junk).
real op_at(const std::vector<real>& x, int64_t ld, bool t, int64_t i, int64_t j) { return t ? x[j * ld + i] : x[i * ld + j]; }

// Max |C - reference| / (|alpha| * sum_k |a||b| + |beta * c0| + tiny): a relative error per element that
// is fair to sums with cancellation.
double check_case(const Case& cs, std::mt19937& rng) {
  std::uniform_real_distribution<real> dist(-1, 1);
  const int64_t a_rows = cs.ta ? cs.k : cs.m, a_cols = cs.ta ? cs.m : cs.k;
  const int64_t b_rows = cs.tb ? cs.n : cs.k, b_cols = cs.tb ? cs.k : cs.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 1, ldc = cs.n + 2;  // padded rows
  std::vector<real> a(static_cast<size_t>(a_rows * lda)), b(static_cast<size_t>(b_rows * ldb)),
      c(static_cast<size_t>(cs.m * ldc));
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);
  for (auto& x : c) x = dist(rng);
  if (cs.beta == real(0)) std::fill(c.begin(), c.end(), std::numeric_limits<real>::quiet_NaN());
  const std::vector<real> c0 = c;
  packed_gemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda, b.data(), ldb, cs.beta, c.data(), ldc);
  double worst = 0;
  for (int64_t i = 0; i < cs.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= cs.n) {  // padding between rows must be untouched
        CHECK(((std::isnan(c[at]) && std::isnan(c0[at])) || c[at] == c0[at]));
        continue;
      }
      long double sum = 0, scale = 0;
      for (int64_t p = 0; p < cs.k; ++p) {
        const long double prod =
            static_cast<long double>(op_at(a, lda, cs.ta, i, p)) * op_at(b, ldb, cs.tb, p, j);
        sum += prod;
        scale += std::fabs(prod);
      }
      long double expected = cs.alpha * sum;
      if (cs.beta != real(0)) expected += static_cast<long double>(cs.beta) * c0[at];
      const long double denom = std::fabs(cs.alpha) * scale + std::fabs(cs.beta * c0[at]) + 1e-30L;
      worst = std::max(worst, static_cast<double>(std::fabs(c[at] - expected) / denom));
      if (!std::isfinite(c[at])) worst = INFINITY;
    }
  }
  return worst;
}
}  // namespace

TEST_CASE("packed_gemm matches a long-double triple loop on every edge") {
  std::mt19937 rng(42);
  const double tolerance = std::is_same_v<real, float> ? 1e-6 : 1e-14;  // relative to sum |a||b|
  const int64_t sizes_m[] = {1, 5, 6, 7, 17, 64, 65, 97, 200};
  const int64_t sizes_n[] = {1, 7, 15, 16, 17, 33, 64, 70};
  const int64_t sizes_k[] = {1, 3, 8, 9, 255, 256, 257, 600};
  int cases = 0;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t m : sizes_m)
        for (int64_t n : sizes_n)
          for (int64_t k : sizes_k) {
            if ((m * n * k) % 3 != 0 && m > 7 && n > 7 && k > 9) continue;  // thin out the big ones
            const real beta = (cases % 3 == 0) ? real(0) : (cases % 3 == 1) ? real(1) : real(-0.5);
            const real alpha = (cases % 2 == 0) ? real(1) : real(0.75);
            const Case cs{ta, tb, m, n, k, alpha, beta};
            CAPTURE(ta);
            CAPTURE(tb);
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            CAPTURE(beta);
            CHECK(check_case(cs, rng) < tolerance);
            ++cases;
          }
  CHECK(cases > 500);
}

TEST_CASE("packed_gemm crosses the N block (NC) and the in-place-B row limit") {
  std::mt19937 rng(7);
  const double tolerance = std::is_same_v<real, float> ? 1e-6 : 1e-14;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CHECK(check_case({ta, tb, 3, 4100, 20, 1, 0}, rng) < tolerance);
      CHECK(check_case({ta, tb, 64, 40, 30, 1, 1}, rng) < tolerance);
      CHECK(check_case({ta, tb, 65, 40, 30, 1, 1}, rng) < tolerance);
    }
}

TEST_CASE("packed_gemm with k = 0 scales C by beta, and beta = 0 ignores NaN in C") {
  std::vector<real> c = {1, 2, 3, 4};
  const real unused = 0;
  packed_gemm(false, false, 2, 2, 0, 1, &unused, 1, &unused, 2, real(0.5), c.data(), 2);
  CHECK(c == std::vector<real>{0.5, 1, 1.5, 2});
  std::fill(c.begin(), c.end(), std::numeric_limits<real>::quiet_NaN());
  packed_gemm(false, false, 2, 2, 0, 1, &unused, 1, &unused, 2, real(0), c.data(), 2);
  CHECK(c == std::vector<real>{0, 0, 0, 0});
  // m = 0 or n = 0: nothing to do, nothing touched.
  packed_gemm(false, false, 0, 2, 3, 1, nullptr, 3, nullptr, 2, 0, nullptr, 2);
}

TEST_CASE("packed_gemm agrees with OpenBLAS on an RNN step shape") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<real> dist(-1, 1);
  const int64_t m = 16, n = 256, k = 64;
  std::vector<real> a(m * k), b(n * k), ours(m * n), theirs(m * n);
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);
  packed_gemm(false, true, m, n, k, 1, a.data(), k, b.data(), k, 0, ours.data(), n);
  unroll::detail::blas_gemm(false, true, m, n, k, 1, a.data(), k, b.data(), k, 0, theirs.data(), n);
  double worst = 0;
  for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::fabs(double(ours[i]) - theirs[i]));
  CHECK(worst < (std::is_same_v<real, float> ? 1e-4 : 1e-12));
}
