#include "unroll/layers/irnn.hpp"

#include <cstring>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"
#include "unroll/layers/init.hpp"

namespace unroll::layers {

IRNNCell::IRNNCell(const IRNNCellOptions& options)
    : RNNCell({.input_size = options.input_size,
               .hidden_size = options.hidden_size,
               .bias = true,
               .nonlinearity = Nonlinearity::ReLU}),
      irnn_options_(options) {
  // W_hh = recurrent_scale * I, W_ih ~ N(0, input_std^2), biases 0
  init::eye_(weight_hh);
  init::constant_(bias_ih, 0);  // (before the scale: a scalar times the identity, written in place below)
  {
    NoGradGuard no_grad;
    const Tensor scaled = weight_hh * options.recurrent_scale;
    std::memcpy(weight_hh.data_ptr(), scaled.data_ptr(), static_cast<size_t>(scaled.numel() * scaled.element_size()));
  }
  const Tensor w_ih = normal(weight_ih.shape(), 0, options.input_std, weight_ih.dtype());
  std::memcpy(weight_ih.data_ptr(), w_ih.data_ptr(), static_cast<size_t>(w_ih.numel() * w_ih.element_size()));
  init::zeros_(bias_hh);
}

std::string IRNNCell::describe() const {
  return fmt::format("IRNNCell(input_size={}, hidden_size={}, recurrent_scale={})", irnn_options_.input_size,
                     irnn_options_.hidden_size, irnn_options_.recurrent_scale);
}

}  // namespace unroll::layers
