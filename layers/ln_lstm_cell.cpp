// LayerNormLSTMCell: the equations of ln_lstm_cell.hpp written with framework ops (layer_norm, linear,
// sigmoid, tanh); autograd differentiates them.
#include "unroll/layers/ln_lstm_cell.hpp"

#include "unroll/framework/ops.hpp"
#include "unroll/layers/detail/cell_checks.hpp"

namespace unroll::layers {

LayerNormLSTMCell::LayerNormLSTMCell(const LayerNormLSTMCellOptions& options) : options_(options) {
  detail::check_sizes("LayerNormLSTMCell", options.input_size, options.hidden_size);
  detail::check(options.bias || options.forget_bias == 0, "LayerNormLSTMCell: forget_bias {} needs bias = true",
                options.forget_bias);
  detail::check(options.eps > 0, "LayerNormLSTMCell: eps must be positive, got {}", options.eps);
  const int64_t H = options.hidden_size, I = options.input_size;
  weight_ih = register_parameter("weight_ih", detail::recurrent_init({4 * H, I}, H));
  weight_hh = register_parameter("weight_hh", detail::recurrent_init({4 * H, H}, H));
  if (options.bias) {
    Tensor b = zeros({4 * H});
    detail::add_to_block(b, H, H, options.forget_bias);  // block f of [i, f, g, o]
    bias = register_parameter("bias", b);
  }
  ln_ih_weight = register_parameter("ln_ih_weight", ones({4 * H}));
  ln_hh_weight = register_parameter("ln_hh_weight", ones({4 * H}));
  ln_c_weight = register_parameter("ln_c_weight", ones({H}));
  ln_c_bias = register_parameter("ln_c_bias", zeros({H}));
}

Tensor LayerNormLSTMCell::project_input(const Tensor& x) {
  // [..., I] -> [..., 4H]: every time step's normalized input contribution in one GEMM and one layer_norm
  const Tensor normalized =
      layer_norm(linear(x, weight_ih), {4 * options_.hidden_size}, ln_ih_weight, Tensor(), options_.eps);
  return bias.defined() ? add(normalized, bias) : normalized;
}

State LayerNormLSTMCell::step(const Tensor& projected_x, const State& state) {
  const int64_t H = options_.hidden_size;
  detail::check_step("LayerNormLSTMCell", projected_x, 4 * H, state.h, H);
  detail::check_cell_state("LayerNormLSTMCell", state.h, state.c);
  // a: [N, 4H] = (LN(x W_ih^T) + b) + LN(h W_hh^T)
  const Tensor recurrent =
      layer_norm(matmul(state.h, weight_hh, false, true), {4 * H}, ln_hh_weight, Tensor(), options_.eps);
  const std::vector<Tensor> a = chunk(add(projected_x, recurrent), 4, 1);             // a_i, a_f, a_g, a_o: [N, H]
  const Tensor c = add(mul(sigmoid(a[1]), state.c), mul(sigmoid(a[0]), tanh(a[2])));  // c' = f c + i g
  const Tensor h = mul(sigmoid(a[3]), tanh(layer_norm(c, {H}, ln_c_weight, ln_c_bias, options_.eps)));
  return {h, c};
}

State LayerNormLSTMCell::initial_state(int64_t batch) const {
  return {zeros({batch, options_.hidden_size}, weight_hh.dtype()),
          zeros({batch, options_.hidden_size}, weight_hh.dtype())};
}

std::string LayerNormLSTMCell::describe() const {
  return fmt::format("LayerNormLSTMCell(input_size={}, hidden_size={}, bias={}, forget_bias={}, eps={})",
                     options_.input_size, options_.hidden_size, options_.bias, options_.forget_bias, options_.eps);
}

}  // namespace unroll::layers
