#include "unroll/layers/irnn.hpp"

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::layers {

IRNNCell::IRNNCell(const IRNNCellOptions& options)
    : RNNCell({.input_size = options.input_size,
               .hidden_size = options.hidden_size,
               .bias = true,
               .nonlinearity = Nonlinearity::ReLU}),
      irnn_options_(options) {
  NoGradGuard no_grad;
  const int64_t H = options.hidden_size;
  real* w_hh = weight_hh.data();
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < H; ++j) w_hh[i * H + j] = i == j ? options.recurrent_scale : 0;
  const Tensor w_ih = normal(weight_ih.shape(), 0, options.input_std);
  std::copy(w_ih.data(), w_ih.data() + w_ih.numel(), weight_ih.data());
  for (Tensor* b : {&bias_ih, &bias_hh}) std::fill(b->data(), b->data() + b->numel(), real(0));
}

std::string IRNNCell::describe() const {
  return fmt::format("IRNNCell(input_size={}, hidden_size={}, recurrent_scale={})", irnn_options_.input_size,
                     irnn_options_.hidden_size, irnn_options_.recurrent_scale);
}

}  // namespace unroll::layers
