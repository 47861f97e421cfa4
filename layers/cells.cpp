// RNNCell, LSTMCell and GRUCell: PyTorch's equations written with framework ops only. There is no
// backward here: autograd differentiates these ops, and the unroller repeats them over time.
#include <cmath>

#include "unroll/framework/fused.hpp"
#include "unroll/framework/ops.hpp"
#include "unroll/layers/detail/cell_checks.hpp"
#include "unroll/layers/gru_cell.hpp"
#include "unroll/layers/lstm_cell.hpp"
#include "unroll/layers/rnn_cell.hpp"

namespace unroll::layers {

using detail::check;
using detail::check_cell_state;
using detail::check_sizes;
using detail::check_step;
using detail::fail;
using detail::recurrent_init;

// ---- RNNCell ---------------------------------------------------------------------------------------
RNNCell::RNNCell(const RNNCellOptions& options) : options_(options) {
  check_sizes("RNNCell", options.input_size, options.hidden_size);
  const int64_t H = options.hidden_size, I = options.input_size;
  weight_ih = register_parameter("weight_ih", recurrent_init({H, I}, H));
  weight_hh = register_parameter("weight_hh", recurrent_init({H, H}, H));
  if (options.bias) {
    bias_ih = register_parameter("bias_ih", recurrent_init({H}, H));
    bias_hh = register_parameter("bias_hh", recurrent_init({H}, H));
  }
}

namespace {
// b_hh does not depend on the state, so it joins b_ih in the projection of all steps at once: one
// broadcast add over [T, N, G] instead of one per step, and one bias-gradient sum instead of T. The
// values are PyTorch's (x W_ih^T + b_ih) + (h W_hh^T + b_hh), regrouped.
Tensor state_free_bias(const Tensor& bias_ih, const Tensor& bias_hh) {
  return bias_ih.defined() ? add(bias_ih, bias_hh) : Tensor();
}

// The LSTM and GRU cells' element-wise part, after their matrix products, as one fused op
// (framework/fused.hpp): the same equations, run in one pass over memory with one graph node instead of one
// op per line.
using fused::Value;

// LSTM: inputs x W_ih^T + b and h W_hh^T, [N, 4H] each, cut into the gates i, f, g, o; c [N, H].
// Outputs h' = o tanh(c') and c' = f c + i g, [N, H] each.
const fused::Program& lstm_pointwise() {
  static const fused::Program program("lstm_cell", {4, 4, 1}, [](const fused::Inputs& in) -> fused::Values {
    const auto& x = in[0];
    const auto& hw = in[1];
    const Value input_gate = sigmoid(x[0] + hw[0]), forget_gate = sigmoid(x[1] + hw[1]);
    const Value candidate = tanh(x[2] + hw[2]), output_gate = sigmoid(x[3] + hw[3]);
    const Value c = forget_gate * in[2][0] + input_gate * candidate;
    return {output_gate * tanh(c), c};
  });
  return program;
}

// GRU: inputs x W_ih^T + b_ih and h W_hh^T + b_hh, [N, 3H] each, cut into r, z, n; h [N, H]. Output h'.
const fused::Program& gru_pointwise() {
  static const fused::Program program("gru_cell", {3, 3, 1}, [](const fused::Inputs& in) -> fused::Values {
    const auto& x = in[0];
    const auto& hw = in[1];
    const Value reset = sigmoid(x[0] + hw[0]), update = sigmoid(x[1] + hw[1]);
    const Value candidate = tanh(x[2] + reset * hw[2]);    // n = tanh(n_x + r * n_h)
    return {candidate + update * (in[2][0] - candidate)};  // h' = (1 - z) n + z h  =  n + z (h - n)
  });
  return program;
}
}  // namespace

Tensor RNNCell::project_input(const Tensor& x) {  // [..., H] = x W_ih^T + b_ih + b_hh
  return linear(x, weight_ih, state_free_bias(bias_ih, bias_hh));
}

State RNNCell::step(const Tensor& projected_x, const State& state) {
  check_step("RNNCell", projected_x, options_.hidden_size, state.h, options_.hidden_size);
  // pre: [N, H] = (x W_ih^T + b_ih + b_hh) + h W_hh^T. Two plain ops: as a fused program, tanh(a + b), this step
  // measured 0.94-0.98x (rnn 2x256, rnn_bench, alternated), where one add and one tanh leave nothing to save.
  const Tensor pre = add(projected_x, matmul(state.h, weight_hh, false, true));  // biases are in projected_x
  return {options_.nonlinearity == Nonlinearity::Tanh ? tanh(pre) : relu(pre), Tensor()};
}

State RNNCell::initial_state(int64_t batch) const {
  return {zeros({batch, options_.hidden_size}, weight_hh.dtype()), Tensor()};
}

std::string RNNCell::describe() const {
  return fmt::format("RNNCell(input_size={}, hidden_size={}, nonlinearity={}, bias={})", options_.input_size,
                     options_.hidden_size, options_.nonlinearity == Nonlinearity::Tanh ? "tanh" : "relu",
                     options_.bias);
}

// ---- LSTMCell --------------------------------------------------------------------------------------
LSTMCell::LSTMCell(const LSTMCellOptions& options) : options_(options) {
  check_sizes("LSTMCell", options.input_size, options.hidden_size);
  check(options.bias || options.forget_bias == 0, "LSTMCell: forget_bias {} needs bias = true", options.forget_bias);
  // PyTorch's messages (nn.LSTM): proj_size must be >= 0 and below hidden_size
  check(options.proj_size >= 0,
        "LSTMCell: proj_size should be a positive integer or zero to disable projections, got {}", options.proj_size);
  check(options.proj_size == 0 || options.proj_size < options.hidden_size,
        "LSTMCell: proj_size {} has to be smaller than hidden_size {}", options.proj_size, options.hidden_size);
  const int64_t H = options.hidden_size, I = options.input_size, P = output_size();
  weight_ih = register_parameter("weight_ih", recurrent_init({4 * H, I}, H));
  weight_hh = register_parameter("weight_hh", recurrent_init({4 * H, P}, H));
  if (options.bias) {
    Tensor b_ih = recurrent_init({4 * H}, H);
    detail::add_to_block(b_ih, H, H, options.forget_bias);  // block f of [i, f, g, o]
    bias_ih = register_parameter("bias_ih", b_ih);
    bias_hh = register_parameter("bias_hh", recurrent_init({4 * H}, H));
  }
  if (options.proj_size > 0)
    weight_hr = register_parameter("weight_hr", recurrent_init({P, H}, H));  // after the biases, as PyTorch
}

Tensor LSTMCell::project_input(const Tensor& x) {  // [..., 4H] = x W_ih^T + b_ih + b_hh
  return linear(x, weight_ih, state_free_bias(bias_ih, bias_hh));
}

State LSTMCell::step(const Tensor& projected_x, const State& state) {
  const int64_t H = options_.hidden_size;
  check_step("LSTMCell", projected_x, 4 * H, state.h, output_size());
  if (options_.proj_size == 0) {
    check_cell_state("LSTMCell", state.h, state.c);
  } else if (!(state.c.defined() && state.c.dim() == 2 && state.c.size(0) == state.h.size(0) && state.c.size(1) == H))
      [[unlikely]] {
    fail("LSTMCell: state c must be [{}, {}] (hidden_size; h is [N, proj_size]), got {}", state.h.size(0), H,
         detail::shape_or_undefined(state.c));
  }
  // gates (x W_ih^T + b_ih + b_hh) + h W_hh^T: [N, 4H], one GEMM for all four; the biases are in projected_x
  const Tensor hw = matmul(state.h, weight_hh, false, true);
  std::vector<Tensor> hc = lstm_pointwise()({projected_x, hw, state.c});              // h', c': [N, H] each
  if (options_.proj_size > 0) return {matmul(hc[0], weight_hr, false, true), hc[1]};  // [N, H] W_hr^T -> [N, P]
  return {hc[0], hc[1]};
}

State LSTMCell::initial_state(int64_t batch) const {
  return {zeros({batch, output_size()}, weight_hh.dtype()), zeros({batch, options_.hidden_size}, weight_hh.dtype())};
}

std::string LSTMCell::describe() const {
  const std::string proj = options_.proj_size > 0 ? fmt::format(", proj_size={}", options_.proj_size) : "";
  return fmt::format("LSTMCell(input_size={}, hidden_size={}, bias={}, forget_bias={}{})", options_.input_size,
                     options_.hidden_size, options_.bias, options_.forget_bias, proj);
}

// ---- GRUCell ---------------------------------------------------------------------------------------
GRUCell::GRUCell(const GRUCellOptions& options) : options_(options) {
  check_sizes("GRUCell", options.input_size, options.hidden_size);
  const int64_t H = options.hidden_size, I = options.input_size;
  weight_ih = register_parameter("weight_ih", recurrent_init({3 * H, I}, H));
  weight_hh = register_parameter("weight_hh", recurrent_init({3 * H, H}, H));
  if (options.bias) {
    bias_ih = register_parameter("bias_ih", recurrent_init({3 * H}, H));
    bias_hh = register_parameter("bias_hh", recurrent_init({3 * H}, H));
  }
}

Tensor GRUCell::project_input(const Tensor& x) { return linear(x, weight_ih, bias_ih); }  // [..., 3H]

State GRUCell::step(const Tensor& projected_x, const State& state) {
  const int64_t H = options_.hidden_size;
  check_step("GRUCell", projected_x, 3 * H, state.h, H);
  // [N, 3H] each: x W_ih^T + b_ih (projected_x) and h W_hh^T + b_hh, both cut into r, z, n by the program
  const Tensor hw = linear(state.h, weight_hh, bias_hh);
  return {gru_pointwise()({projected_x, hw, state.h})[0], Tensor()};
}

State GRUCell::initial_state(int64_t batch) const {
  return {zeros({batch, options_.hidden_size}, weight_hh.dtype()), Tensor()};
}

std::string GRUCell::describe() const {
  return fmt::format("GRUCell(input_size={}, hidden_size={}, bias={})", options_.input_size, options_.hidden_size,
                     options_.bias);
}

}  // namespace unroll::layers
