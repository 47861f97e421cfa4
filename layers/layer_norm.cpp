#include "unroll/layers/layer_norm.hpp"

#include "unroll/framework/detail/check.hpp"
#include "unroll/layers/init.hpp"

namespace unroll::layers {

using detail::check;

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  bool positive = options.normalized_shape.size() >= 1;
  for (int64_t d : options.normalized_shape) positive = positive && d > 0;
  check(positive, "LayerNorm: normalized_shape must have at least one dim, all positive, got {}",
        options.normalized_shape);
  check(options.eps >= 0, "LayerNorm: eps must not be negative, got {}", options.eps);
  if (options.elementwise_affine) {
    weight = register_parameter("weight", empty(options.normalized_shape));
    bias = register_parameter("bias", empty(options.normalized_shape));
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (!weight.defined()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& x) {
  detail::check_defined("LayerNorm", x);
  const Shape& d = options_.normalized_shape;
  bool fits = x.dim() >= d.size();
  for (int i = 0; fits && i < d.size(); ++i) fits = x.shape()[x.dim() - d.size() + i] == d[i];
  check(fits, "LayerNorm: input of shape {} does not end in normalized_shape {}", x.shape(), d);
  return layer_norm(x, d, weight, bias, options_.eps);  // x: [..., D...] -> [..., D...]
}

std::string LayerNorm::describe() const {
  return fmt::format("LayerNorm(normalized_shape={}, eps={}, elementwise_affine={})", options_.normalized_shape,
                     options_.eps, options_.elementwise_affine);
}

}  // namespace unroll::layers
