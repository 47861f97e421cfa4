// unroll/layers/jordan_cell.hpp: Jordan network (Jordan 1986): the previous *output* y, not the hidden
// layer, is fed back. The state the unroller carries is y itself.
//
//   a = tanh(x W_ih^T + b_ih + y W_yh^T)       hidden layer, [N, H]
//   y' = tanh(a W_hy^T + b_hy)                 output, [N, O]  (also the next step's feedback)
//
// Parameters: weight_ih [H, I], bias_ih [H], weight_yh [H, O], weight_hy [O, H], bias_hy [O], all
// U(-1/sqrt(H), 1/sqrt(H)).
#pragma once

#include "unroll/layers/cell.hpp"

namespace unroll::layers {

struct JordanCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;  // H, the hidden layer inside one step
  int64_t output_size = 0;  // O, what is emitted and fed back
};

class JordanCell : public Cell {
 public:
  explicit JordanCell(const JordanCellOptions& options);

  int64_t input_size() const override { return options_.input_size; }
  int64_t output_size() const override { return options_.output_size; }
  Tensor project_input(const Tensor& x) override;  // [..., I] -> x W_ih^T + b_ih: [..., H]
  State step(const Tensor& projected_x, const State& state) override;  // state.h is the previous output y
  State initial_state(int64_t batch) const override;                   // y = 0
  std::string describe() const override;

  Tensor weight_ih, bias_ih, weight_yh, weight_hy, bias_hy;

 private:
  JordanCellOptions options_;
};

}  // namespace unroll::layers
