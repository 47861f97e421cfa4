// The fused-program interpreter (fused_kernel.hpp) for AVX2 + FMA: 8 floats per register. Compiled with
// -mavx2 -mfma (CMakeLists.txt) and only ever run when the CPU has them; empty when the build cannot target
// AVX2.
#include "unroll/framework/detail/fused_kernel.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include "unroll/framework/detail/fused_kernel_impl.hpp"

namespace unroll::detail {
namespace {
constexpr FusedIsaKernel kAvx2 = fused_kernel_for<xsimd::fma3<xsimd::avx2>>(GemmIsa::avx2);
}  // namespace
const FusedIsaKernel* fused_kernel_avx2() { return &kAvx2; }
}  // namespace unroll::detail
#else
namespace unroll::detail {
const FusedIsaKernel* fused_kernel_avx2() { return nullptr; }
}  // namespace unroll::detail
#endif
