#include "unroll/layers/peephole_lstm_cell.hpp"

#include "unroll/framework/ops.hpp"
#include "unroll/layers/detail/cell_checks.hpp"

namespace unroll::layers {

PeepholeLSTMCell::PeepholeLSTMCell(const LSTMCellOptions& options) : options_(options) {
  detail::check_sizes("PeepholeLSTMCell", options.input_size, options.hidden_size);
  detail::check(options.proj_size == 0, "PeepholeLSTMCell: proj_size is not supported (LSTMCell and LSTM have it), got {}",
                options.proj_size);
  // the standard LSTM parameters, initialized exactly as LSTMCell does (incl. forget_bias)
  LSTMCell base(options);
  const int64_t H = options.hidden_size;
  weight_ih = register_parameter("weight_ih", base.weight_ih.detach());
  weight_hh = register_parameter("weight_hh", base.weight_hh.detach());
  if (options.bias) {
    bias_ih = register_parameter("bias_ih", base.bias_ih.detach());
    bias_hh = register_parameter("bias_hh", base.bias_hh.detach());
  }
  weight_ci = register_parameter("weight_ci", detail::recurrent_init({H}, H));
  weight_cf = register_parameter("weight_cf", detail::recurrent_init({H}, H));
  weight_co = register_parameter("weight_co", detail::recurrent_init({H}, H));
}

Tensor PeepholeLSTMCell::project_input(const Tensor& x) { return linear(x, weight_ih, bias_ih); }

State PeepholeLSTMCell::step(const Tensor& projected_x, const State& state) {
  // projected_x: [N, 4H], h and c: [N, H]. Checked here because chunk() below needs exactly 4 gate blocks.
  const int64_t H = options_.hidden_size;
  detail::check_step("PeepholeLSTMCell", projected_x, 4 * H, state.h, H);
  detail::check_cell_state("PeepholeLSTMCell", state.h, state.c);
  // a: [N, 4H] -> a_i, a_f, a_g, a_o: [N, H]
  const std::vector<Tensor> a = chunk(add(projected_x, linear(state.h, weight_hh, bias_hh)), 4, 1);
  const Tensor input_gate = sigmoid(add(a[0], mul(weight_ci, state.c)));
  const Tensor forget_gate = sigmoid(add(a[1], mul(weight_cf, state.c)));
  const Tensor c = add(mul(forget_gate, state.c), mul(input_gate, tanh(a[2])));
  const Tensor output_gate = sigmoid(add(a[3], mul(weight_co, c)));
  return {mul(output_gate, tanh(c)), c};
}

State PeepholeLSTMCell::initial_state(int64_t batch) const {
  return {zeros({batch, options_.hidden_size}, weight_hh.dtype()),
          zeros({batch, options_.hidden_size}, weight_hh.dtype())};
}

std::string PeepholeLSTMCell::describe() const {
  return fmt::format("PeepholeLSTMCell(input_size={}, hidden_size={}, bias={})", options_.input_size,
                     options_.hidden_size, options_.bias);
}

}  // namespace unroll::layers
