#include "unroll/framework/floating_point.hpp"

#include "unroll/framework/detail/denormals.hpp"

namespace unroll {

bool set_flush_denormal(bool on) {
#ifdef UNROLL_HAS_MXCSR
  const unsigned bits = detail::kFlushToZero | detail::kDenormalsAreZero;
  _mm_setcsr(on ? (_mm_getcsr() | bits) : (_mm_getcsr() & ~bits));
  return true;
#else
  (void)on;
  return false;
#endif
}

}  // namespace unroll
