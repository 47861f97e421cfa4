#include "unroll/layers/coupled_lstm_cell.hpp"

#include <cmath>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::layers {

CoupledLSTMCell::CoupledLSTMCell(const LSTMCellOptions& options) : options_(options) {
  detail::check(options.input_size > 0 && options.hidden_size > 0,
                "CoupledLSTMCell: input_size and hidden_size must be positive, got {} and {}", options.input_size,
                options.hidden_size);
  // 3H must not overflow int64 before empty() refuses the shape as too large.
  detail::check(options.input_size <= kMaxTensorBytes && options.hidden_size <= kMaxTensorBytes,
                "CoupledLSTMCell: input_size {} or hidden_size {} is too large (over {})", options.input_size,
                options.hidden_size, kMaxTensorBytes);
  const int64_t H = options.hidden_size, I = options.input_size;
  const real bound = static_cast<real>(1 / std::sqrt(static_cast<double>(H)));
  weight_ih = register_parameter("weight_ih", uniform({3 * H, I}, -bound, bound));
  weight_hh = register_parameter("weight_hh", uniform({3 * H, H}, -bound, bound));
  if (options.bias) {
    Tensor b_ih = uniform({3 * H}, -bound, bound);
    for (int64_t j = 0; j < H; ++j) b_ih.data()[j] += options.forget_bias;  // block f of [f, g, o]
    bias_ih = register_parameter("bias_ih", b_ih);
    bias_hh = register_parameter("bias_hh", uniform({3 * H}, -bound, bound));
  }
}

Tensor CoupledLSTMCell::project_input(const Tensor& x) { return linear(x, weight_ih, bias_ih); }

State CoupledLSTMCell::step(const Tensor& projected_x, const State& state) {
  // projected_x: [N, 3H], h and c: [N, H]. Checked here because chunk() below needs exactly 3 gate blocks.
  const int64_t H = options_.hidden_size;
  detail::check_defined("CoupledLSTMCell", projected_x);
  const auto shape_of = [](const Tensor& t) {
    return t.defined() ? unroll::to_string(t.shape()) : std::string("undefined");
  };
  if (!(projected_x.dim() == 2 && projected_x.size(1) == 3 * H && state.h.defined() && state.h.dim() == 2 &&
        state.h.size(0) == projected_x.size(0) && state.h.size(1) == H && state.c.defined() &&
        state.c.shape() == state.h.shape())) [[unlikely]]  // every step: no string unless failing
    detail::fail("CoupledLSTMCell: expects a projected input [N, {}] and a state h, c of [N, {}], got {}, {} and {}",
                 3 * H, H, projected_x.shape(), shape_of(state.h), shape_of(state.c));
  // a: [N, 3H] -> a_f, a_g, a_o: [N, H]
  const std::vector<Tensor> a = chunk(add(projected_x, linear(state.h, weight_hh, bias_hh)), 3, 1);
  const Tensor forget_gate = sigmoid(a[0]);
  const Tensor candidate = tanh(a[1]);
  // c' = f c + (1 - f) g  =  g + f (c - g)
  const Tensor c = add(candidate, mul(forget_gate, sub(state.c, candidate)));
  return {mul(sigmoid(a[2]), tanh(c)), c};
}

State CoupledLSTMCell::initial_state(int64_t batch) const {
  return {zeros({batch, options_.hidden_size}), zeros({batch, options_.hidden_size})};
}

std::string CoupledLSTMCell::describe() const {
  return fmt::format("CoupledLSTMCell(input_size={}, hidden_size={}, bias={})", options_.input_size,
                     options_.hidden_size, options_.bias);
}

}  // namespace unroll::layers
