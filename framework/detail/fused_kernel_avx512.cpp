// The fused-program interpreter (fused_kernel.hpp) for AVX-512 (F, BW, DQ, VL): 16 floats per register.
// Compiled with the GEMM kernel's AVX-512 flags (CMakeLists.txt) and only ever run when the CPU has them;
// empty when the build cannot target AVX-512.
#include "unroll/framework/detail/fused_kernel.hpp"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
// GCC 12's AVX-512 intrinsics (in xsimd's exp) start from `__m512 __Y = __Y;`, which -Wmaybe-uninitialized
// reports wherever they are inlined: a false positive inside the compiler's header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "unroll/framework/detail/fused_kernel_impl.hpp"

namespace unroll::detail {
namespace {
constexpr FusedIsaKernel kAvx512 = fused_kernel_for<xsimd::avx512bw>(GemmIsa::avx512);
}  // namespace
const FusedIsaKernel* fused_kernel_avx512() { return &kAvx512; }
}  // namespace unroll::detail
#else
namespace unroll::detail {
const FusedIsaKernel* fused_kernel_avx512() { return nullptr; }
}  // namespace unroll::detail
#endif
