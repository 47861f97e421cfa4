#include "unroll/layers/linear.hpp"

#include <cmath>

#include "unroll/framework/detail/check.hpp"
#include "unroll/layers/init.hpp"

namespace unroll::layers {

using detail::check;

Linear::Linear(const LinearOptions& options) : options_(options) {
  check(options.in_features >= 0 && options.out_features >= 0,
        "Linear: in_features ({}) and out_features ({}) must not be negative", options.in_features,
        options.out_features);
  weight = register_parameter("weight", empty({options.out_features, options.in_features}));
  if (options.bias) bias = register_parameter("bias", empty({options.out_features}));
  reset_parameters();
}

void Linear::reset_parameters(Generator& gen) {
  // weight: kaiming_uniform_(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias: the same bound
  init::kaiming_uniform_(weight, std::sqrt(5.0), "fan_in", "leaky_relu", gen);
  if (bias.defined()) {
    const double bound = options_.in_features > 0 ? 1 / std::sqrt(static_cast<double>(options_.in_features)) : 0;
    init::uniform_(bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x) {
  detail::check_defined("Linear", x);
  check(x.dim() >= 1 && x.shape().back() == options_.in_features,
        "Linear: input of shape {} does not end in in_features = {}", x.shape(), options_.in_features);
  return linear(x, weight, bias);  // x: [..., I], weight: [O, I] -> [..., O]
}

std::string Linear::describe() const {
  return fmt::format("Linear(in_features={}, out_features={}, bias={})", options_.in_features, options_.out_features,
                     options_.bias);
}

}  // namespace unroll::layers
