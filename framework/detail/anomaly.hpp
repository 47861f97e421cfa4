// Internal (not installed): the hooks the engine calls while anomaly mode is on (framework/anomaly.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll::detail {

// This thread's anomaly flag. constinit: reading it needs no initialization guard, so the hooks cost one
// thread-local bool test when the mode is off.
extern thread_local constinit bool t_anomaly_enabled;

// Throws Error when `output` (just computed by op `op`, recorded at `time_step`, -1 outside loops) holds a
// NaN or Inf; the message says whether `inputs` were already non-finite.
void anomaly_check_output(const Tensor& output, const char* op, int64_t time_step, const std::vector<Tensor>& inputs);

// Throws Error when `grad`, handed by the backward of `op` for its input `input`, holds a NaN or Inf.
void anomaly_check_gradient(const Tensor& grad, const char* op, int64_t time_step, int input);

}  // namespace unroll::detail
