// unroll/layers/peephole_lstm_cell.hpp: LSTM with peephole connections (Gers & Schmidhuber 2000): the
// gates also look at the cell state, so they can time their opening by what the memory holds.
//
//   [a_i, a_f, a_g, a_o] = x W_ih^T + b_ih + h W_hh^T + b_hh
//   i = sigmoid(a_i + w_ci * c),   f = sigmoid(a_f + w_cf * c)     (c = previous cell state)
//   c' = f * c + i * tanh(a_g)
//   o = sigmoid(a_o + w_co * c')                                  (the output gate sees the new state)
//   h' = o * tanh(c')
//
// Parameters: LSTMCell's four, plus the diagonal peephole weights weight_ci, weight_cf, weight_co: [H].
#pragma once

#include "unroll/layers/lstm_cell.hpp"

namespace unroll::layers {

class PeepholeLSTMCell : public Cell {
 public:
  explicit PeepholeLSTMCell(const LSTMCellOptions& options);

  int64_t input_size() const override { return options_.input_size; }
  int64_t output_size() const override { return options_.hidden_size; }
  Tensor project_input(const Tensor& x) override;  // [..., I] -> [..., 4H]
  State step(const Tensor& projected_x, const State& state) override;
  State initial_state(int64_t batch) const override;
  std::string describe() const override;

  Tensor weight_ih, weight_hh, bias_ih, bias_hh, weight_ci, weight_cf, weight_co;

 private:
  LSTMCellOptions options_;
};

}  // namespace unroll::layers
