// unroll/layers/lstm_cell.hpp: long short-term memory cell, PyTorch's nn.LSTMCell.
//
//   [i, f, g, o] = x W_ih^T + b_ih + h W_hh^T + b_hh      (gate order i, f, g, o: each [N, H])
//   i, f, o = sigmoid(.),  g = tanh(.)
//   c' = f * c + i * g
//   h' = o * tanh(c')
//
// Parameters: weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H], U(-1/sqrt(H), 1/sqrt(H)).
//
// proj_size P > 0 (PyTorch's nn.LSTM proj_size, Sak et al. 2014): h' = (o * tanh(c')) W_hr^T with
// weight_hr [P, H] (also U(-1/sqrt(H), 1/sqrt(H))), so h is [N, P] while c stays [N, H]; weight_hh is then
// [4H, P] and output_size() is P. 0 < P < H.
//
// forget_bias is added to the forget-gate block of bias_ih at initialization (0 = PyTorch's init; the
// tutorials use 1 so the cell remembers by default, after Gers et al. and Jozefowicz et al.).
#pragma once

#include "unroll/layers/cell.hpp"

namespace unroll::layers {

struct LSTMCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool bias = true;
  double forget_bias = 0;  // added to the forget gate's bias at init (needs bias = true)
  int64_t proj_size = 0;   // P: project h to [N, P] with weight_hr [P, H]; 0 = no projection
};

class LSTMCell : public Cell {
 public:
  explicit LSTMCell(const LSTMCellOptions& options);

  int64_t input_size() const override { return options_.input_size; }
  // P with a projection, else H
  int64_t output_size() const override { return options_.proj_size > 0 ? options_.proj_size : options_.hidden_size; }
  Tensor project_input(const Tensor& x) override;  // [..., I] -> [..., 4H]
  State step(const Tensor& projected_x, const State& state) override;
  State initial_state(int64_t batch) const override;  // h [N, P or H], c [N, H] zeros
  std::string describe() const override;

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
  Tensor weight_hr;  // [P, H], only with proj_size > 0

 private:
  LSTMCellOptions options_;
};

}  // namespace unroll::layers
