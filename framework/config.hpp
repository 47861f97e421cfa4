// unroll/framework/config.hpp: the scalar type and build-wide switches.
#pragma once

namespace unroll {

// Every tensor holds `real`. The default build is float32 (PyTorch's default dtype); the library is also
// built with UNROLL_DOUBLE defined (target unroll::unroll_f64) so finite-difference gradient checks run in
// double precision and are never flaky.
#ifdef UNROLL_DOUBLE
using real = double;
#else
using real = float;
#endif

}  // namespace unroll
