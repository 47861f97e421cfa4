// unroll's GEMM kernel for AVX-512 (F, BW, DQ, VL): 16 floats per register, 32 vector registers. Compiled
// with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma (CMakeLists.txt) and only ever run when the
// CPU has them (gemm_kernel.cpp); empty when the build cannot target AVX-512.
#include "unroll/framework/detail/gemm_kernel.hpp"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
// GCC 12's _mm512_shuffle_f32x4 and _mm512_unpack*_ps (in xsimd's haddp and the transposed store) start
// from `__m512 __Y = __Y;`, which -Wmaybe-uninitialized / -Wuninitialized report wherever they are inlined:
// a false positive inside the compiler's header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "unroll/framework/detail/gemm_kernel_impl.hpp"

namespace unroll::detail {
namespace {
// The packed micro-tile is 12 x 32: 24 accumulators + 2 B registers of the 32, A broadcast from memory by
// the fused multiply-adds themselves. Block sizes measured with bench/gemm_bench (docs/performance.md).
struct Avx512Tuning {
  using arch = xsimd::avx512bw;
  static constexpr int MR = 12, NV = 2;
  static constexpr int WR1 = 12, WR2 = 12;
  static constexpr int64_t KC = 256, MC = 144, NC = 4096;
  static constexpr int64_t KC_AT = 512;  // (gemm_kernel_impl.hpp, packed_path)
  static constexpr TransposedA transposed_a = TransposedA::in_place;  // (gemm_kernel_impl.hpp)
};
constexpr GemmIsaKernel kAvx512 = Gemm<Avx512Tuning>::kernel(GemmIsa::avx512);
}  // namespace

const GemmIsaKernel* gemm_kernel_avx512() { return &kAvx512; }
}  // namespace unroll::detail
#else
namespace unroll::detail {
const GemmIsaKernel* gemm_kernel_avx512() { return nullptr; }
}  // namespace unroll::detail
#endif
