#include "unroll/layers/coupled_lstm_cell.hpp"

#include "unroll/framework/ops.hpp"
#include "unroll/layers/detail/cell_checks.hpp"

namespace unroll::layers {

CoupledLSTMCell::CoupledLSTMCell(const LSTMCellOptions& options) : options_(options) {
  detail::check_sizes("CoupledLSTMCell", options.input_size, options.hidden_size);
  detail::check(options.proj_size == 0, "CoupledLSTMCell: proj_size is not supported (LSTMCell and LSTM have it), got {}",
                options.proj_size);
  const int64_t H = options.hidden_size, I = options.input_size;
  weight_ih = register_parameter("weight_ih", detail::recurrent_init({3 * H, I}, H));
  weight_hh = register_parameter("weight_hh", detail::recurrent_init({3 * H, H}, H));
  if (options.bias) {
    Tensor b_ih = detail::recurrent_init({3 * H}, H);
    detail::add_to_block(b_ih, 0, H, options.forget_bias);  // block f of [f, g, o]
    bias_ih = register_parameter("bias_ih", b_ih);
    bias_hh = register_parameter("bias_hh", detail::recurrent_init({3 * H}, H));
  }
}

Tensor CoupledLSTMCell::project_input(const Tensor& x) { return linear(x, weight_ih, bias_ih); }

State CoupledLSTMCell::step(const Tensor& projected_x, const State& state) {
  // projected_x: [N, 3H], h and c: [N, H]. Checked here because chunk() below needs exactly 3 gate blocks.
  const int64_t H = options_.hidden_size;
  detail::check_step("CoupledLSTMCell", projected_x, 3 * H, state.h, H);
  detail::check_cell_state("CoupledLSTMCell", state.h, state.c);
  // a: [N, 3H] -> a_f, a_g, a_o: [N, H]
  const std::vector<Tensor> a = chunk(add(projected_x, linear(state.h, weight_hh, bias_hh)), 3, 1);
  const Tensor forget_gate = sigmoid(a[0]);
  const Tensor candidate = tanh(a[1]);
  // c' = f c + (1 - f) g  =  g + f (c - g)
  const Tensor c = add(candidate, mul(forget_gate, sub(state.c, candidate)));
  return {mul(sigmoid(a[2]), tanh(c)), c};
}

State CoupledLSTMCell::initial_state(int64_t batch) const {
  return {zeros({batch, options_.hidden_size}, weight_hh.dtype()),
          zeros({batch, options_.hidden_size}, weight_hh.dtype())};
}

std::string CoupledLSTMCell::describe() const {
  return fmt::format("CoupledLSTMCell(input_size={}, hidden_size={}, bias={})", options_.input_size,
                     options_.hidden_size, options_.bias);
}

}  // namespace unroll::layers
