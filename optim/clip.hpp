// unroll/optim/clip.hpp: gradient clipping (PyTorch's torch.nn.utils.clip_grad_norm_ / clip_grad_value_).
//
//   loss.backward();
//   const double norm = optim::clip_grad_norm(model.parameters(), 1.0);  // before optimizer.step()
//
// Both modify the parameters' gradients in place and skip parameters whose gradient is undefined.
#pragma once

#include <limits>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll::optim {

// norm_type for the maximum norm: clip_grad_norm(params, 1.0, optim::kInfNorm)
inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Scales all gradients together, as if concatenated into one vector, so that their norm_type-norm is at
// most max_norm: every gradient is multiplied by max_norm / (total_norm + 1e-6) when that is below 1.
// Returns the total norm before clipping (0 when no parameter has a gradient). norm_type is any p > 0 or
// kInfNorm (the largest |g|). As in PyTorch, a non-finite total norm turns the gradients into NaN.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2);

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value(const std::vector<Tensor>& params, double clip_value);

}  // namespace unroll::optim
