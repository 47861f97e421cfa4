// unroll's GEMM kernel for the target's baseline: compiled without any instruction-set flag (CMakeLists.txt
// even removes the library's own -mavx2 from this file), so it runs on every CPU of the target: SSE2 on
// x86-64 (4 floats per register, 16 registers), NEON on AArch64. Where xsimd knows no vector unit at all,
// a plain loop (slow, but correct).
#include "unroll/framework/detail/gemm_kernel.hpp"

#include <xsimd/xsimd.hpp>

#if !defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#include "unroll/framework/detail/gemm_kernel_impl.hpp"

namespace unroll::detail {
namespace {
// 6 x 2 registers: 12 accumulators + 2 B registers + 1 broadcast = 15 of SSE2's 16 registers.
struct GenericTuning {
  using arch = xsimd::default_arch;
  static constexpr int MR = 6, NV = 2;
  static constexpr int WR1 = 6, WR2 = 6;
  static constexpr int64_t KC = 256, MC = 96, NC = 4096;
  static constexpr int64_t KC_AT = 256;  // (gemm_kernel_impl.hpp, packed_path)
  static constexpr TransposedA transposed_a = TransposedA::packed;  // (gemm_kernel_impl.hpp)
};
constexpr GemmIsaKernel kGeneric = Gemm<GenericTuning>::kernel(GemmIsa::generic);
}  // namespace

const GemmIsaKernel* gemm_kernel_generic() { return &kGeneric; }
}  // namespace unroll::detail
#else
namespace unroll::detail {
namespace {
GemmPath choose_plain(const GemmArgs&) { return GemmPath::packed; }
// C = alpha * op(A) op(B) + beta * C, one element at a time, in the same order for every element.
void run_plain(GemmPath, const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < g.k; ++p)
        sum += (g.ta ? g.a[p * g.lda + i] : g.a[i * g.lda + p]) * (g.tb ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j]);
      float& out = g.c[i * g.ldc + j];
      out = g.beta == 0 ? g.alpha * sum : g.alpha * sum + g.beta * out;
    }
}
constexpr GemmIsaKernel kPlain = {GemmIsa::generic, 1, 1, &choose_plain, &run_plain};
}  // namespace

const GemmIsaKernel* gemm_kernel_generic() { return &kPlain; }
}  // namespace unroll::detail
#endif
