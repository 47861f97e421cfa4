// unroll/layers/rnn_cell.hpp: Elman RNN cell, PyTorch's nn.RNNCell.
//
//   h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh),   act = tanh or relu
//
// Parameters (PyTorch names and shapes): weight_ih [H, I], weight_hh [H, H], bias_ih [H], bias_hh [H];
// all initialized U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch.
#pragma once

#include "unroll/layers/cell.hpp"

namespace unroll::layers {

enum class Nonlinearity { Tanh, ReLU };

struct RNNCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool bias = true;  // false: no bias_ih / bias_hh
  Nonlinearity nonlinearity = Nonlinearity::Tanh;
};

class RNNCell : public Cell {
 public:
  explicit RNNCell(const RNNCellOptions& options);

  int64_t input_size() const override { return options_.input_size; }
  int64_t output_size() const override { return options_.hidden_size; }
  Tensor project_input(const Tensor& x) override;  // [..., I] -> x W_ih^T + b_ih: [..., H]
  State step(const Tensor& projected_x, const State& state) override;
  State initial_state(int64_t batch) const override;
  std::string describe() const override;

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // bias_* undefined when options.bias is false

 protected:
  RNNCellOptions options_;
};

}  // namespace unroll::layers
