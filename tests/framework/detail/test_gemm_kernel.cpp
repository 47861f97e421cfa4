// framework/detail/gemm_kernel.cpp (float32: unroll's packed kernel, on every instruction set this machine
// runs) and detail::gemm on double (OpenBLAS's dgemm, what float64 matmul runs on) against a plain triple
// loop in long double, over shapes that hit every edge (ragged panels, several K slices, M and N blocks),
// all transpose pairs, padded leading dimensions, alpha and beta; and products split between threads
// against the same product on one thread, bit for bit.
#include <doctest/doctest.h>
#include <unroll/framework/detail/blas.hpp>
#include <unroll/framework/detail/gemm_kernel.hpp>
#include <unroll/framework/detail/thread_pool.hpp>
#include <unroll/framework/error.hpp>
#include <unroll/framework/threads.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using unroll::detail::GemmIsa;
using unroll::detail::packed_gemm;

namespace {
// Runs the enclosed code on one instruction set's kernel, then puts the previous one back.
struct IsaScope {
  GemmIsa saved = unroll::detail::gemm_isa();
  explicit IsaScope(GemmIsa isa) { unroll::detail::set_gemm_isa(isa); }
  ~IsaScope() { unroll::detail::set_gemm_isa(saved); }
};

// The thread count and the splitting threshold for the enclosed code.
struct ThreadScope {
  int saved_threads = unroll::get_num_threads();
  int64_t saved_work = unroll::detail::parallel_gemm_work();
  ThreadScope(int threads, int64_t work) {
    unroll::set_num_threads(threads);
    unroll::detail::set_parallel_gemm_work(work);
  }
  ~ThreadScope() {
    unroll::set_num_threads(saved_threads);
    unroll::detail::set_parallel_gemm_work(saved_work);
  }
};

template <class T>
struct Case {
  bool ta, tb;
  int64_t m, n, k;
  T alpha, beta;
};

// The two products under test, with the same signature: C = alpha op(A) op(B) + beta C.
void float_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  packed_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void double_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                 const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  unroll::detail::gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Error tolerance relative to sum |a||b| (a few units in the last place of T).
template <class T>
constexpr double kTolerance = std::is_same_v<T, float> ? 1e-6 : 1e-14;

// Elements of op(X)[rows, cols] stored row-major with row stride ld (ld >= stored width; padding is junk).
template <class T>
T op_at(const std::vector<T>& x, int64_t ld, bool t, int64_t i, int64_t j) {
  return t ? x[j * ld + i] : x[i * ld + j];
}

// Max |C - reference| / (|alpha| * sum_k |a||b| + |beta * c0| + tiny): a relative error per element that
// is fair to sums with cancellation.
// B's rows are ldb apart when given (>= its width), else padded by one.
template <class T, class Gemm>
double check_case(const Case<T>& cs, std::mt19937& rng, Gemm gemm, int64_t ldb_given = 0) {
  std::uniform_real_distribution<T> dist(-1, 1);
  const int64_t a_rows = cs.ta ? cs.k : cs.m, a_cols = cs.ta ? cs.m : cs.k;
  const int64_t b_rows = cs.tb ? cs.n : cs.k, b_cols = cs.tb ? cs.k : cs.n;
  const int64_t lda = a_cols + 3, ldb = ldb_given > 0 ? ldb_given : b_cols + 1, ldc = cs.n + 2;  // padded rows
  std::vector<T> a(static_cast<size_t>(a_rows * lda)), b(static_cast<size_t>(b_rows * ldb)),
      c(static_cast<size_t>(cs.m * ldc));
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);
  for (auto& x : c) x = dist(rng);
  if (cs.beta == T(0)) std::fill(c.begin(), c.end(), std::numeric_limits<T>::quiet_NaN());
  const std::vector<T> c0 = c;
  gemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda, b.data(), ldb, cs.beta, c.data(), ldc);
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
        const long double prod = static_cast<long double>(op_at(a, lda, cs.ta, i, p)) * op_at(b, ldb, cs.tb, p, j);
        sum += prod;
        scale += std::fabs(prod);
      }
      // beta = 0: C held NaN, which must be neither read nor counted (0 * NaN would make the error NaN)
      const long double beta_c0 = cs.beta != T(0) ? static_cast<long double>(cs.beta) * c0[at] : 0.0L;
      const long double expected = cs.alpha * sum + beta_c0;
      const long double denom = std::fabs(cs.alpha) * scale + std::fabs(beta_c0) + 1e-30L;
      const double error = static_cast<double>(std::fabs(c[at] - expected) / denom);
      worst = std::isfinite(error) ? std::max(worst, error) : INFINITY;  // NaN or Inf anywhere fails
    }
  }
  return worst;
}

// Every transpose pair over a grid of sizes, alpha and beta taking turns; returns the number of cases.
template <class T, class Gemm>
int check_edges(Gemm gemm, std::mt19937& rng) {
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
            const T beta = (cases % 3 == 0) ? T(0) : (cases % 3 == 1) ? T(1) : T(-0.5);
            const T alpha = (cases % 2 == 0) ? T(1) : T(0.75);
            const Case<T> cs{ta, tb, m, n, k, alpha, beta};
            CAPTURE(ta);
            CAPTURE(tb);
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            CAPTURE(beta);
            CHECK(check_case(cs, rng, gemm) < kTolerance<T>);
            ++cases;
          }
  return cases;
}
}  // namespace

TEST_CASE("this machine runs the generic kernel and, on x86-64 with AVX2 / AVX-512, the matching ones") {
  const std::vector<GemmIsa> isas = unroll::detail::available_gemm_isas();
  REQUIRE(!isas.empty());
  CHECK(isas.back() == GemmIsa::generic);
  MESSAGE("kernels this machine runs (best first): ", [&] {
    std::string names;
    for (GemmIsa isa : isas) names += std::string(unroll::detail::isa_name(isa)) + " ";
    return names;
  }());
#if defined(__x86_64__) && defined(__GNUC__)
  const auto has = [&](GemmIsa isa) { return std::find(isas.begin(), isas.end(), isa) != isas.end(); };
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) CHECK(has(GemmIsa::avx2));
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) CHECK(has(GemmIsa::avx512));
  if (!__builtin_cpu_supports("avx512f")) CHECK(!has(GemmIsa::avx512));
#endif
}

TEST_CASE("UNROLL_ISA chooses the kernel at start-up; set_gemm_isa refuses one the machine cannot run") {
  // ctest runs this program once per kernel with UNROLL_ISA set (tests/CMakeLists.txt)
  const char* forced = std::getenv("UNROLL_ISA");
  const std::vector<GemmIsa> isas = unroll::detail::available_gemm_isas();
  if (forced) {
    bool known = false;
    for (GemmIsa isa : isas)
      if (std::strcmp(forced, unroll::detail::isa_name(isa)) == 0) {
        known = true;
        CHECK(unroll::detail::gemm_isa() == isa);
      }
    if (!known) CHECK(unroll::detail::gemm_isa() == isas.front());  // unavailable: the best one, with a warning
  } else {
    CHECK(unroll::detail::gemm_isa() == isas.front());
  }
  for (GemmIsa isa : {GemmIsa::avx512, GemmIsa::avx2, GemmIsa::generic})
    if (std::find(isas.begin(), isas.end(), isa) == isas.end()) CHECK_THROWS(unroll::detail::set_gemm_isa(isa));
}

TEST_CASE("packed_gemm (float32) matches a long-double triple loop on every edge, on every kernel") {
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    IsaScope scope(isa);
    std::mt19937 rng(42);
    CHECK(check_edges<float>(float_kernel, rng) > 500);
  }
}

TEST_CASE("gemm on double (OpenBLAS dgemm, float64 matmul) matches a long-double triple loop on every edge") {
  std::mt19937 rng(42);
  CHECK(check_edges<double>(double_gemm, rng) > 500);
}

TEST_CASE("packed_gemm crosses the N block (NC) and the in-place-B row limit (128); dgemm on the same shapes") {
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    IsaScope scope(isa);
    std::mt19937 rng(7);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        CHECK(check_case<float>({ta, tb, 3, 4100, 20, 1, 0}, rng, float_kernel) < kTolerance<float>);
        CHECK(check_case<float>({ta, tb, 64, 40, 30, 1, 1}, rng, float_kernel) < kTolerance<float>);
        CHECK(check_case<float>({ta, tb, 65, 40, 30, 1, 1}, rng, float_kernel) < kTolerance<float>);
        CHECK(check_case<float>({ta, tb, 128, 40, 30, 1, 1}, rng, float_kernel) < kTolerance<float>);
        CHECK(check_case<float>({ta, tb, 129, 40, 30, 1, 1}, rng, float_kernel) < kTolerance<float>);
        CHECK(check_case<float>({ta, tb, 100, 1030, 300, 1, 1}, rng, float_kernel) < kTolerance<float>);
      }
  }
  std::mt19937 rng(7);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CHECK(check_case<double>({ta, tb, 3, 4100, 20, 1, 0}, rng, double_gemm) < kTolerance<double>);
      CHECK(check_case<double>({ta, tb, 65, 40, 30, 1, 1}, rng, double_gemm) < kTolerance<double>);
    }
}

TEST_CASE("packed_gemm copies B's panels where its rows are 4 KB apart, and cuts weight_rows' k at 4096") {
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    IsaScope scope(isa);
    std::mt19937 rng(13);
    // B read in place (short A, op(B) = B) with rows 1024 floats apart: more than 32 rows of A copy each
    // panel first (full panels and a ragged last one, two K slices); 32 rows read it in place.
    for (float beta : {0.0f, 1.0f}) {
      CAPTURE(beta);
      for (int64_t m : {33, 40, 64, 32}) {
        CAPTURE(m);
        CHECK(check_case<float>({false, false, m, 70, 300, 1, beta}, rng, float_kernel, 1024) < kTolerance<float>);
        CHECK(check_case<float>({true, false, m, 70, 300, 0.75f, beta}, rng, float_kernel, 2048) < kTolerance<float>);
      }
    }
    // A B^T with short A (the weight_rows path) and k beyond one 4096 slice; rows 4 KB apart as well.
    CHECK(check_case<float>({false, true, 20, 13, 4100, 1, -0.5f}, rng, float_kernel) < kTolerance<float>);
    CHECK(check_case<float>({false, true, 40, 9, 4097, 1, 0}, rng, float_kernel, 5120) < kTolerance<float>);
  }
}

TEST_CASE("a transposed A gives the same bits read in place or packed (rows 4 KB apart or not)") {
  // The packed path reads op(A) = A^T in place where the kernel's TransposedA allows it: AVX-512 always,
  // AVX2 unless A's rows are a multiple of 4 KB apart (then it packs), generic never. The same A stored
  // with rows 1024 and 1027 floats apart therefore takes both ways on AVX2; on every kernel the results
  // must agree to the bit (one multiply-add chain per element either way) and match the reference.
  const int64_t m = 150, n = 70, k = 600;  // crosses MC (144), KC (256), KC_AT (512); ragged rows and panel
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> values(static_cast<size_t>(k * m)), b(static_cast<size_t>(k * n)), c0(static_cast<size_t>(m * n));
  for (auto* v : {&values, &b, &c0})
    for (float& x : *v) x = dist(rng);
  const auto a_with_stride = [&](int64_t lda) {  // A [k, m] with row stride lda, the padding NaN
    std::vector<float> a(static_cast<size_t>(k * lda), std::numeric_limits<float>::quiet_NaN());
    for (int64_t p = 0; p < k; ++p)
      for (int64_t i = 0; i < m; ++i) a[p * lda + i] = values[p * m + i];
    return a;
  };
  const std::vector<float> a_4k = a_with_stride(1024), a_odd = a_with_stride(1027);
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    IsaScope scope(isa);
    for (float beta : {0.0f, -0.5f}) {
      CAPTURE(beta);
      std::vector<float> c_4k = c0, c_odd = c0;
      packed_gemm(true, false, m, n, k, 0.75f, a_4k.data(), 1024, b.data(), n, beta, c_4k.data(), n);
      packed_gemm(true, false, m, n, k, 0.75f, a_odd.data(), 1027, b.data(), n, beta, c_odd.data(), n);
      CHECK(std::memcmp(c_4k.data(), c_odd.data(), c_4k.size() * sizeof(float)) == 0);
      double worst = 0;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double sum = 0, scale = 0;
          for (int64_t p = 0; p < k; ++p) {
            sum += double(values[p * m + i]) * b[p * n + j];
            scale += std::abs(double(values[p * m + i]) * b[p * n + j]);
          }
          const double want = 0.75 * sum + beta * double(c0[i * n + j]);
          worst = std::max(worst,
                           std::abs(c_odd[i * n + j] - want) / (0.75 * scale + std::abs(beta * c0[i * n + j]) + 1e-30));
        }
      CHECK(worst < kTolerance<float>);
    }
  }
}

TEST_CASE("A read in place (op(B) of <= 512 columns) gives the bits of A packed (wider op(B))") {
  // The packed path reads a non-transposed A in place when op(B) has few columns and packs it otherwise.
  // Each element of C depends only on its row of A and column of op(B), so the first columns of a product
  // with 600 columns (A packed) must equal, bit for bit, the product with only those columns (A in place).
  // alpha = beta = 1: a column in a ragged last tile is stored by the scalar update (alpha * value + beta * c,
  // each product rounded), a full tile's by one multiply-add (alpha * acc + beta * c): with alpha = 0.75 the
  // two differ in the last bit on AVX2 whichever way A is read; with alpha = 1 both are acc + c.
  // One thread: split between two, the wide product's halves would have <= 512 columns and read A in place.
  const ThreadScope one_thread(1, unroll::detail::parallel_gemm_work());
  const int64_t m = 150, k = 300, wide = 600;  // crosses MC and KC; ragged rows
  std::mt19937 rng(22);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(wide * k)), c0(static_cast<size_t>(m * wide));
  for (auto* v : {&a, &b, &c0})
    for (float& x : *v) x = dist(rng);
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    IsaScope scope(isa);
    for (bool tb : {false, true})
      for (int64_t n : {int64_t{10}, int64_t{70}, int64_t{512}}) {  // one narrow panel; ragged; the limit
        CAPTURE(tb);
        CAPTURE(n);
        // op(B) [k, wide]: B [k, wide] (ldb = wide) or B [wide, k] (ldb = k); its first n columns are the
        // same memory with the same leading dimension.
        const int64_t ldb = tb ? k : wide;
        std::vector<float> c_wide = c0, c_narrow = c0;  // both [m, wide]; the narrow one uses n columns
        packed_gemm(false, tb, m, wide, k, 1.0f, a.data(), k, b.data(), ldb, 1.0f, c_wide.data(), wide);
        packed_gemm(false, tb, m, n, k, 1.0f, a.data(), k, b.data(), ldb, 1.0f, c_narrow.data(), wide);
        bool same = true;
        for (int64_t i = 0; i < m; ++i)
          same = same && std::memcmp(&c_wide[i * wide], &c_narrow[i * wide], n * sizeof(float)) == 0;
        CHECK(same);
        CHECK(check_case<float>({false, tb, m, n, k, 0.75f, -0.5f}, rng, float_kernel) < kTolerance<float>);
      }
  }
}

TEST_CASE("a product split between threads is right, and bit-identical to the same product on one thread") {
  // Splitting every product (threshold 0) on 2 and 3 threads cuts C at every kind of boundary: rows of the
  // packed path, columns of the short-A paths (dot, weight_rows), ragged last parts.
  struct Shape {
    bool ta, tb;
    int64_t m, n, k;
  };
  const Shape shapes[] = {{false, true, 1, 301, 200},  {false, true, 8, 300, 130},  {false, true, 32, 517, 70},
                          {false, true, 64, 260, 300}, {false, false, 20, 333, 90}, {true, false, 301, 70, 260},
                          {false, true, 150, 97, 40},  {true, true, 77, 203, 33},   {false, false, 2, 1000, 9}};
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    IsaScope scope(isa);
    for (const Shape& s : shapes) {
      const std::string isa_label = unroll::detail::isa_name(isa);
      CAPTURE(isa_label);
      CAPTURE(s.ta);
      CAPTURE(s.tb);
      CAPTURE(s.m);
      CAPTURE(s.n);
      CAPTURE(s.k);
      const int64_t lda = (s.ta ? s.m : s.k) + 1, ldb = (s.tb ? s.k : s.n) + 2, ldc = s.n + 3;
      std::vector<float> a(static_cast<size_t>((s.ta ? s.k : s.m) * lda)),
          b(static_cast<size_t>((s.tb ? s.n : s.k) * ldb));
      for (auto& x : a) x = dist(rng);
      for (auto& x : b) x = dist(rng);
      std::vector<float> c0(static_cast<size_t>(s.m * ldc));
      for (auto& x : c0) x = dist(rng);
      std::vector<float> one = c0;
      {
        ThreadScope threads(1, 0);
        packed_gemm(s.ta, s.tb, s.m, s.n, s.k, 0.75f, a.data(), lda, b.data(), ldb, -0.5f, one.data(), ldc);
      }
      for (int t : {2, 3}) {
        CAPTURE(t);
        std::vector<float> many = c0;
        ThreadScope threads(t, 0);
        const int64_t jobs = unroll::detail::pool_jobs();
        packed_gemm(s.ta, s.tb, s.m, s.n, s.k, 0.75f, a.data(), lda, b.data(), ldb, -0.5f, many.data(), ldc);
        CHECK(unroll::detail::pool_jobs() == jobs + 1);  // it was split
        CHECK(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0);
      }
      ThreadScope threads(2, 0);
      CHECK(check_case<float>({s.ta, s.tb, s.m, s.n, s.k, 0.75f, -0.5f}, rng, float_kernel) < kTolerance<float>);
    }
  }
}

TEST_CASE("under BatchSliceScope, a slice of a batch's rows computes them to the bit as the whole batch does") {
  // A B^T as an RNN step (A = the batch's h, B a weight) and as an input projection over T = 5 steps: a
  // batch of 16 in slices of 8 (dot path at k >= 128 without the scope, where the whole takes weight_rows),
  // 7 in slices of 3 and 4 (weight_rows; dot for 2 rows), 80 in slices of 40 (packed against weight_rows).
  struct Split {
    int64_t whole, first, rows, k;
  };
  const Split splits[] = {{16, 8, 8, 256}, {16, 0, 8, 64}, {7, 0, 3, 300}, {7, 3, 4, 130}, {80, 40, 40, 200},
                          {5 * 16, 5 * 8, 5 * 8, 256}};
  const int64_t n = 96;
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> dist(-1, 1);
  ThreadScope threads(1, unroll::detail::kParallelGemmWork);
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    IsaScope scope(isa);
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    bool some_slice_differs_without_scope = false;
    for (const Split& s : splits) {
      CAPTURE(s.whole);
      CAPTURE(s.rows);
      CAPTURE(s.k);
      std::vector<float> a(static_cast<size_t>(s.whole * s.k)), b(static_cast<size_t>(n * s.k)),
          whole(static_cast<size_t>(s.whole * n)), slice(static_cast<size_t>(s.rows * n));
      for (auto& x : a) x = dist(rng);
      for (auto& x : b) x = dist(rng);
      packed_gemm(false, true, s.whole, n, s.k, 1, a.data(), s.k, b.data(), s.k, 0, whole.data(), n);
      const float* rows_of_whole = whole.data() + s.first * n;
      const size_t bytes = slice.size() * sizeof(float);
      packed_gemm(false, true, s.rows, n, s.k, 1, a.data() + s.first * s.k, s.k, b.data(), s.k, 0, slice.data(), n);
      if (std::memcmp(slice.data(), rows_of_whole, bytes) != 0) some_slice_differs_without_scope = true;
      {
        const unroll::detail::BatchSliceScope as_whole(s.whole, s.rows);
        packed_gemm(false, true, s.rows, n, s.k, 1, a.data() + s.first * s.k, s.k, b.data(), s.k, 0, slice.data(), n);
      }
      CHECK(std::memcmp(slice.data(), rows_of_whole, bytes) == 0);
    }
    // the scope is what makes them equal: some slices computed without it take another path
    if (isa != GemmIsa::generic) CHECK(some_slice_differs_without_scope);
  }
  CHECK_THROWS_AS(unroll::detail::BatchSliceScope(4, 5), unroll::Error);
}

TEST_CASE("under PackedWeightsScope, a few rows times a weight's transpose run on one packed copy, to the bit") {
  // h W^T for 1 .. 8 rows of h as slices of a batch of 16 (so that they take weight_rows, not the dot path),
  // which uses the packed copy up to half a register's rows (8 on AVX-512, 4 on AVX2, 2 on SSE2); W a block
  // of a larger weight buffer (row stride > k), ragged n, k up to 300 (more than the packed path's KC)
  const int64_t n = 100, ldb = 310;
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> weight(static_cast<size_t>(n * ldb));
  for (auto& x : weight) x = dist(rng);
  ThreadScope threads(1, unroll::detail::kParallelGemmWork);
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    IsaScope scope(isa);
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    for (int64_t k : {int64_t{64}, int64_t{300}})
      for (int64_t m = 1; m <= 8; ++m) {
        CAPTURE(k);
        CAPTURE(m);
        std::vector<float> a(static_cast<size_t>(m * k)), plain(static_cast<size_t>(m * n)), packed(plain.size());
        for (auto& x : a) x = dist(rng);
        const unroll::detail::BatchSliceScope slice_of_16(16, m);
        packed_gemm(false, true, m, n, k, 0.5f, a.data(), k, weight.data() + 3, ldb, 0, plain.data(), n);
        const unroll::detail::PackedWeightsScope::Weight w{weight.data(), static_cast<int64_t>(weight.size())};
        const unroll::detail::PackedWeightsScope weights(&w, 1);
        for (int repeat = 0; repeat < 2; ++repeat) {  // packs at the first product, reuses at the second
          std::fill(packed.begin(), packed.end(), std::numeric_limits<float>::quiet_NaN());
          packed_gemm(false, true, m, n, k, 0.5f, a.data(), k, weight.data() + 3, ldb, 0, packed.data(), n);
          CHECK(std::memcmp(plain.data(), packed.data(), plain.size() * sizeof(float)) == 0);
        }
        if (m <= 4 && isa != GemmIsa::generic) {  // the product did pack W^T (in the kernel's panels, NR wide)
          const unroll::detail::GemmIsaKernel* kernel =
              isa == GemmIsa::avx512 ? unroll::detail::gemm_kernel_avx512()
              : isa == GemmIsa::avx2 ? unroll::detail::gemm_kernel_avx2()
                                     : unroll::detail::gemm_kernel_generic();
          const int64_t floats = (n + kernel->nr - 1) / kernel->nr * kernel->nr * k;
          bool fresh = true;
          CHECK(unroll::detail::packed_weight(weight.data() + 3, ldb, true, n, k, kernel->nr, floats, &fresh) != nullptr);
          CHECK_FALSE(fresh);
        }
      }
  }
}

TEST_CASE("under PackedWeightsScope, the packed path reads B from one packed copy, to the bit, on 1 and 2 threads") {
  // Products that take the packed path with B inside a weight of the scope (backward()'s dh = dG W at every
  // step), split between threads by columns (m < n) and by rows: a non-transposed B that the path would read
  // in place (up to kInPlaceRows rows of A; 4 KB rows, copied panel by panel without the scope, or not) is
  // read from the copy. A B the path packs anyway (more rows of A, or transposed) is not copied.
  struct Shape {
    bool tb;
    int64_t m, n, k, ldb;
    bool copied;
  };
  const Shape shapes[] = {{false, 20, 100, 300, 1024, true}, {false, 64, 70, 600, 1024, true},
                          {false, 128, 90, 260, 100, true},  {false, 129, 90, 260, 100, false},
                          {false, 200, 37, 70, 40, false},   {true, 65, 97, 300, 310, false},
                          {true, 150, 33, 64, 70, false}};
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    IsaScope scope(isa);
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    for (const Shape& s : shapes) {
      CAPTURE(s.tb);
      CAPTURE(s.m);
      CAPTURE(s.n);
      CAPTURE(s.k);
      const int64_t b_rows = s.tb ? s.n : s.k;
      std::vector<float> weight(static_cast<size_t>(b_rows * s.ldb + 5)), a(static_cast<size_t>(s.m * s.k)),
          c0(static_cast<size_t>(s.m * s.n));
      for (auto* v : {&weight, &a, &c0})
        for (auto& x : *v) x = dist(rng);
      const float* b = weight.data() + 5;  // B a block of a larger buffer
      const auto product = [&](int threads) {
        const ThreadScope split(threads, 0);  // 0: split every product on 2 threads
        std::vector<float> c = c0;
        packed_gemm(false, s.tb, s.m, s.n, s.k, 0.75f, a.data(), s.k, b, s.ldb, -0.5f, c.data(), s.n);
        return c;
      };
      const std::vector<float> plain = product(1);
      const unroll::detail::PackedWeightsScope::Weight w{weight.data(), static_cast<int64_t>(weight.size())};
      const unroll::detail::PackedWeightsScope weights(&w, 1);
      for (int threads : {1, 2, 1}) {  // packs at the first product, reuses it after
        CAPTURE(threads);
        CHECK(std::memcmp(plain.data(), product(threads).data(), plain.size() * sizeof(float)) == 0);
      }
      // Whether the products read a copy: changing the weight while the scope lives (which the scope's contract
      // forbids) makes no difference when they do.
      for (auto& x : weight) x = -x;
      CAPTURE(s.copied);
      CHECK((std::memcmp(plain.data(), product(2).data(), plain.size() * sizeof(float)) == 0) == s.copied);
    }
  }
}

TEST_CASE("packed_weight covers only the weights of the innermost scope, and packs each B once") {
  using unroll::detail::packed_weight;
  std::vector<float> w(64 * 40), other(64 * 40);
  bool fresh = false;
  CHECK(packed_weight(w.data(), 40, true, 64, 40, 32, 64 * 40, &fresh) == nullptr);  // no scope
  const unroll::detail::PackedWeightsScope::Weight entry{w.data(), static_cast<int64_t>(w.size())};
  {
    const unroll::detail::PackedWeightsScope scope(&entry, 1);
    float* first = packed_weight(w.data(), 40, true, 64, 40, 32, 64 * 40, &fresh);
    REQUIRE(first != nullptr);
    CHECK(fresh);
    CHECK(packed_weight(w.data(), 40, true, 64, 40, 32, 64 * 40, &fresh) == first);
    CHECK_FALSE(fresh);
    CHECK(packed_weight(w.data(), 40, true, 32, 40, 32, 32 * 40, &fresh) != first);  // another block: its own copy
    CHECK(fresh);
    CHECK(packed_weight(w.data() + 40, 40, true, 64, 40, 32, 64 * 40, &fresh) == nullptr);  // runs past the weight
    CHECK(packed_weight(other.data(), 40, true, 64, 40, 32, 64 * 40, &fresh) == nullptr);   // not one of them
    // B = w read as [64, 40] without transposing (op(B) = B, n = 40, k = 64): another copy
    float* untransposed = packed_weight(w.data(), 40, false, 40, 64, 32, 64 * 64, &fresh);
    CHECK(untransposed != nullptr);
    CHECK(untransposed != first);
    CHECK(fresh);
    CHECK(packed_weight(w.data() + 1, 40, false, 40, 64, 32, 64 * 64, &fresh) == nullptr);  // runs past the weight
    {
      const unroll::detail::PackedWeightsScope inner(nullptr, 0);  // an inner scope without weights
      CHECK(packed_weight(w.data(), 40, true, 64, 40, 32, 64 * 40, &fresh) == nullptr);
    }
    CHECK(packed_weight(w.data(), 40, true, 64, 40, 32, 64 * 40, &fresh) == first);
  }
  CHECK(packed_weight(w.data(), 40, true, 64, 40, 32, 64 * 40, &fresh) == nullptr);
}

TEST_CASE("a step's product (short A) is split from kParallelGemmWork, one batched over time steps from 8x that") {
  using unroll::detail::kParallelGemmWork;
  using unroll::detail::kSplitBatchedFactor;
  using unroll::detail::kSplitShortRows;
  ThreadScope threads(2, kParallelGemmWork);
  const auto split = [](int64_t m, int64_t n, int64_t k) {
    std::vector<float> a(static_cast<size_t>(m * k), 0.5f), b(static_cast<size_t>(k * n), 0.25f),
        c(static_cast<size_t>(m * n));
    const int64_t jobs = unroll::detail::pool_jobs();
    packed_gemm(false, false, m, n, k, 1, a.data(), k, b.data(), n, 0, c.data(), n);
    CHECK(c.front() == doctest::Approx(0.125 * static_cast<double>(k)));
    return unroll::detail::pool_jobs() > jobs;
  };
  const int64_t k = 256;
  CHECK(split(kSplitShortRows, kParallelGemmWork / (kSplitShortRows * k), k));            // exactly the threshold
  CHECK_FALSE(split(kSplitShortRows, kParallelGemmWork / (kSplitShortRows * k) - 1, k));  // just below
  const int64_t tall = 2 * kSplitShortRows;
  CHECK_FALSE(split(tall, kParallelGemmWork / (tall * k), k));  // batched: not yet
  CHECK_FALSE(split(tall, kSplitBatchedFactor * kParallelGemmWork / (tall * k) - 1, k));
  CHECK(split(tall, kSplitBatchedFactor * kParallelGemmWork / (tall * k), k));
}

TEST_CASE("the bit-identity check can fail: a different summation order changes the bits") {
  // The same dot product summed forwards and backwards: if rounding never differed, the bitwise comparison
  // above would prove nothing about the order of the sums.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> x(1000), y(1000);
  for (auto& v : x) v = dist(rng);
  for (auto& v : y) v = dist(rng);
  float forwards = 0, backwards = 0;
  for (size_t i = 0; i < x.size(); ++i) forwards += x[i] * y[i];
  for (size_t i = x.size(); i-- > 0;) backwards += x[i] * y[i];
  CHECK(std::memcmp(&forwards, &backwards, sizeof(float)) != 0);
}

TEST_CASE("the check can fail: a result off by more than a few units in the last place is caught") {
  // (for beta = 0 too, where C starts as NaN: an earlier version of check_case computed NaN errors there,
  // which std::max ignored, so a third of the cases checked nothing)
  std::mt19937 rng(1);
  const auto off_by = [](double relative) {
    return [relative](bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                      const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
      double_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) c[i * ldc + j] *= 1 + relative;
    };
  };
  for (double beta : {0.0, 1.0}) {
    CAPTURE(beta);
    CHECK(check_case<double>({false, false, 5, 7, 9, 1, beta}, rng, off_by(0)) < kTolerance<double>);
    CHECK(check_case<double>({false, false, 5, 7, 9, 1, beta}, rng, off_by(1e-12)) > kTolerance<double>);
    CHECK(check_case<double>({false, false, 5, 7, 9, 1, beta}, rng, off_by(1e-5)) > kTolerance<float>);
  }
}

TEST_CASE("packed_gemm with k = 0 scales C by beta, and beta = 0 ignores NaN in C") {
  std::vector<float> c = {1, 2, 3, 4};
  const float unused = 0;
  packed_gemm(false, false, 2, 2, 0, 1, &unused, 1, &unused, 2, 0.5f, c.data(), 2);
  CHECK(c == std::vector<float>{0.5, 1, 1.5, 2});
  std::fill(c.begin(), c.end(), std::numeric_limits<float>::quiet_NaN());
  packed_gemm(false, false, 2, 2, 0, 1, &unused, 1, &unused, 2, 0.0f, c.data(), 2);
  CHECK(c == std::vector<float>{0, 0, 0, 0});
  // m = 0 or n = 0: nothing to do, nothing touched.
  packed_gemm(false, false, 0, 2, 3, 1, nullptr, 3, nullptr, 2, 0, nullptr, 2);
  unroll::detail::gemm(false, false, 0, 2, 3, 1.0, nullptr, 3, nullptr, 2, 0.0, nullptr, 2);
}

TEST_CASE("packed_gemm agrees with OpenBLAS on an RNN step shape, on every kernel") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1, 1);
  const int64_t m = 16, n = 256, k = 64;
  std::vector<float> a(m * k), b(n * k), ours(m * n), theirs(m * n);
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);
  unroll::detail::blas_gemm(false, true, m, n, k, 1, a.data(), k, b.data(), k, 0, theirs.data(), n);
  for (GemmIsa isa : unroll::detail::available_gemm_isas()) {
    const std::string isa_label = unroll::detail::isa_name(isa);
    CAPTURE(isa_label);
    IsaScope scope(isa);
    packed_gemm(false, true, m, n, k, 1, a.data(), k, b.data(), k, 0, ours.data(), n);
    double worst = 0;
    for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::fabs(double(ours[i]) - theirs[i]));
    CHECK(worst < 1e-4);
  }
}
