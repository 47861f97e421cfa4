// The fused-program interpreter (fused_kernel.hpp) for the target's baseline, compiled without any
// instruction-set flag (CMakeLists.txt): SSE2 on x86-64, NEON on AArch64. Null where xsimd knows no vector
// unit at all (ops/fused.cpp then says so).
#include "unroll/framework/detail/fused_kernel.hpp"

#include <xsimd/xsimd.hpp>

#if !defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#include "unroll/framework/detail/fused_kernel_impl.hpp"

namespace unroll::detail {
namespace {
constexpr FusedIsaKernel kGeneric = fused_kernel_for<xsimd::default_arch>(GemmIsa::generic);
}  // namespace
const FusedIsaKernel* fused_kernel_generic() { return &kGeneric; }
}  // namespace unroll::detail
#else
namespace unroll::detail {
const FusedIsaKernel* fused_kernel_generic() { return nullptr; }
}  // namespace unroll::detail
#endif
