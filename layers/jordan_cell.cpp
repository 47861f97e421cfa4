#include "unroll/layers/jordan_cell.hpp"

#include <cmath>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::layers {

JordanCell::JordanCell(const JordanCellOptions& options) : options_(options) {
  detail::check(options.input_size > 0 && options.hidden_size > 0 && options.output_size > 0,
                "JordanCell: input_size, hidden_size and output_size must be positive, got {}, {} and {}",
                options.input_size, options.hidden_size, options.output_size);
  const int64_t I = options.input_size, H = options.hidden_size, O = options.output_size;
  const float bound = static_cast<float>(1 / std::sqrt(static_cast<double>(H)));
  weight_ih = register_parameter("weight_ih", uniform({H, I}, -bound, bound));
  bias_ih = register_parameter("bias_ih", uniform({H}, -bound, bound));
  weight_yh = register_parameter("weight_yh", uniform({H, O}, -bound, bound));
  weight_hy = register_parameter("weight_hy", uniform({O, H}, -bound, bound));
  bias_hy = register_parameter("bias_hy", uniform({O}, -bound, bound));
}

Tensor JordanCell::project_input(const Tensor& x) { return linear(x, weight_ih, bias_ih); }

State JordanCell::step(const Tensor& projected_x, const State& state) {
  detail::check_defined("JordanCell", projected_x);
  detail::check(projected_x.dim() == 2 && projected_x.size(1) == options_.hidden_size,
                "JordanCell: projected input must be [N, {}], got {}", options_.hidden_size, projected_x.shape());
  // Runs at every time step: the message (a string built from the shape) only on failure.
  if (!(state.h.defined() && state.h.dim() == 2 && state.h.size(1) == options_.output_size)) [[unlikely]]
    detail::fail("JordanCell: state (the previous output) must be [N, {}], got {}", options_.output_size,
                 state.h.defined() ? unroll::to_string(state.h.shape()) : std::string("undefined"));
  detail::check(state.h.size(0) == projected_x.size(0), "JordanCell: state {} and input {} differ in batch size N",
                state.h.shape(), projected_x.shape());
  const Tensor hidden = tanh(add(projected_x, linear(state.h, weight_yh)));  // [N, H]
  return {tanh(linear(hidden, weight_hy, bias_hy)), Tensor()};               // y': [N, O]
}

State JordanCell::initial_state(int64_t batch) const {
  return {zeros({batch, options_.output_size}, weight_hy.dtype()), Tensor()};
}

std::string JordanCell::describe() const {
  return fmt::format("JordanCell(input_size={}, hidden_size={}, output_size={})", options_.input_size,
                     options_.hidden_size, options_.output_size);
}

}  // namespace unroll::layers
