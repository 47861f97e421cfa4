// unroll/layers/irnn.hpp: IRNN (Le, Jaitly & Hinton 2015): a ReLU RNN whose recurrent weight starts as
// the identity and whose biases start at zero, so at initialization the state is copied forward
// unchanged and gradients neither vanish nor explode through time. Input weights start N(0, input_std^2).
//
//   h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh),   W_hh = scale * I at init
#pragma once

#include "unroll/layers/rnn_cell.hpp"

namespace unroll::layers {

struct IRNNCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  double recurrent_scale = 1;  // W_hh = recurrent_scale * I (the paper also tries 0.01 for some tasks)
  double input_std = 0.001;    // W_ih ~ N(0, input_std^2)
};

// An RNNCell (ReLU, with biases) with the IRNN initialization; everything else is RNNCell's.
class IRNNCell : public RNNCell {
 public:
  explicit IRNNCell(const IRNNCellOptions& options);
  std::string describe() const override;

 private:
  IRNNCellOptions irnn_options_;
};

}  // namespace unroll::layers
