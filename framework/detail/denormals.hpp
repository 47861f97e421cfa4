// Internal: an RAII scope that flushes denormals to zero on this thread and restores the previous mode.
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define UNROLL_HAS_MXCSR 1
#endif

namespace unroll::detail {

#ifdef UNROLL_HAS_MXCSR
inline constexpr unsigned kFlushToZero = 0x8000;     // MXCSR.FTZ: denormal results become 0
inline constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR.DAZ: denormal inputs read as 0

class FlushDenormalsScope {
 public:
  FlushDenormalsScope() : saved_(_mm_getcsr()) {
    const unsigned wanted = saved_ | kFlushToZero | kDenormalsAreZero;
    if (wanted != saved_) _mm_setcsr(wanted);
  }
  ~FlushDenormalsScope() {
    if (_mm_getcsr() != saved_) _mm_setcsr(saved_);
  }
  FlushDenormalsScope(const FlushDenormalsScope&) = delete;
  FlushDenormalsScope& operator=(const FlushDenormalsScope&) = delete;

 private:
  unsigned saved_;
};
#else
class FlushDenormalsScope {};
#endif

}  // namespace unroll::detail
