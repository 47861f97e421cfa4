// unroll/layers/coupled_lstm_cell.hpp: LSTM with coupled input and forget gates ("CIFG", Greff et al. 2017):
// the cell writes exactly as much as it forgets, i = 1 - f, saving one gate.
//
//   [a_f, a_g, a_o] = x W_ih^T + b_ih + h W_hh^T + b_hh        (gate order f, g, o)
//   f = sigmoid(a_f),  g = tanh(a_g),  o = sigmoid(a_o)
//   c' = f * c + (1 - f) * g
//   h' = o * tanh(c')
//
// Parameters: weight_ih [3H, I], weight_hh [3H, H], bias_ih [3H], bias_hh [3H], U(-1/sqrt(H), 1/sqrt(H));
// forget_bias is added to the f block of bias_ih.
#pragma once

#include "unroll/layers/lstm_cell.hpp"

namespace unroll::layers {

class CoupledLSTMCell : public Cell {
 public:
  explicit CoupledLSTMCell(const LSTMCellOptions& options);

  int64_t input_size() const override { return options_.input_size; }
  int64_t output_size() const override { return options_.hidden_size; }
  Tensor project_input(const Tensor& x) override;  // [..., I] -> [..., 3H]
  State step(const Tensor& projected_x, const State& state) override;
  State initial_state(int64_t batch) const override;
  std::string describe() const override;

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 private:
  LSTMCellOptions options_;
};

}  // namespace unroll::layers
