// unroll's GEMM kernel for AVX2 + FMA: 8 floats per register, 16 vector registers. Compiled with -mavx2
// -mfma (CMakeLists.txt) and only ever run when the CPU has them (gemm_kernel.cpp); empty when the build
// cannot target AVX2.
#include "unroll/framework/detail/gemm_kernel.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include "unroll/framework/detail/gemm_kernel_impl.hpp"

namespace unroll::detail {
namespace {
// The packed micro-tile is 6 x 16: 12 accumulators + 2 B registers + 1 broadcast = 15 of the 16 registers.
struct Avx2Tuning {
  using arch = xsimd::fma3<xsimd::avx2>;
  static constexpr int MR = 6, NV = 2;
  static constexpr int WR1 = 6, WR2 = 6;
  static constexpr int64_t KC = 256, MC = 96, NC = 4096;
  static constexpr int64_t KC_AT = 256;  // (gemm_kernel_impl.hpp, packed_path)
  static constexpr TransposedA transposed_a = TransposedA::in_place_unless_4k;  // (gemm_kernel_impl.hpp)
};
constexpr GemmIsaKernel kAvx2 = Gemm<Avx2Tuning>::kernel(GemmIsa::avx2);
}  // namespace

const GemmIsaKernel* gemm_kernel_avx2() { return &kAvx2; }
}  // namespace unroll::detail
#else
namespace unroll::detail {
const GemmIsaKernel* gemm_kernel_avx2() { return nullptr; }
}  // namespace unroll::detail
#endif
