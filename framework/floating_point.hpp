// unroll/framework/floating_point.hpp: how the CPU treats denormal (subnormal) numbers.
//
// Values below ~1.2e-38 (float) are denormal; x86 CPUs compute with them up to ~100x slower. They show
// up exactly where recurrent nets are weak: gradients that vanish over many time steps. unroll's
// backward pass and its GEMM kernel therefore always run with denormals flushed to zero (and restore
// the caller's setting when they return). For the rest of your program, opt in per thread:
//
//   unroll::set_flush_denormal(true);   // as torch.set_flush_denormal(True)
#pragma once

namespace unroll {

// Flush denormal inputs and results to zero on the calling thread (x86 FTZ + DAZ). Returns false (and
// changes nothing) where the CPU has no such mode, as PyTorch does.
bool set_flush_denormal(bool on);

}  // namespace unroll
