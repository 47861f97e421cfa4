// unroll/layers/gru_cell.hpp: gated recurrent unit, PyTorch's nn.GRUCell.
//
//   [r_x, z_x, n_x] = x W_ih^T + b_ih,   [r_h, z_h, n_h] = h W_hh^T + b_hh   (gate order r, z, n)
//   r = sigmoid(r_x + r_h),  z = sigmoid(z_x + z_h)
//   n = tanh(n_x + r * n_h)            (the reset gate applies after the recurrent product, as in PyTorch)
//   h' = (1 - z) * n + z * h
//
// Parameters: weight_ih [3H, I], weight_hh [3H, H], bias_ih [3H], bias_hh [3H], U(-1/sqrt(H), 1/sqrt(H)).
#pragma once

#include "unroll/layers/cell.hpp"

namespace unroll::layers {

struct GRUCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool bias = true;
};

class GRUCell : public Cell {
 public:
  explicit GRUCell(const GRUCellOptions& options);

  int64_t input_size() const override { return options_.input_size; }
  int64_t output_size() const override { return options_.hidden_size; }
  Tensor project_input(const Tensor& x) override;  // [..., I] -> [..., 3H]
  State step(const Tensor& projected_x, const State& state) override;
  State initial_state(int64_t batch) const override;
  std::string describe() const override;

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 private:
  GRUCellOptions options_;
};

}  // namespace unroll::layers
