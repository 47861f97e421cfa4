// unroll/layers/ln_lstm_cell.hpp: layer-normalized LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization",
// section 3.1 and eq. 20-22): the input and recurrent pre-activations are normalized separately over all
// four gates together (4H values per example), and the cell state is normalized before its tanh.
//
//   [a_i, a_f, a_g, a_o] = LN(x W_ih^T; g_ih) + LN(h W_hh^T; g_hh) + b      (each LN over the 4H values)
//   i, f, o = sigmoid(a_i, a_f, a_o),   g = tanh(a_g)
//   c' = f * c + i * g                                                         (carried unnormalized)
//   h' = o * tanh(LN(c'; g_c, b_c))                                            (LN over the H values)
//
// LN(v; gain, shift) = (v - mean(v)) / sqrt(var(v) + eps) * gain + shift, per example (layer_norm). The
// two gate normalizations have gains but no shifts of their own: their shifts would only add to b. This is
// the paper's formulation (also PyTorch's fastrnns LayerNormLSTMCell's gate normalization, which however
// carries the normalized c'; here c' is carried as in the paper). Shape legend: N = batch, I = input size,
// H = hidden size.
//
// Parameters: weight_ih [4H, I], weight_hh [4H, H] ~ U(-1/sqrt(H), 1/sqrt(H)); bias [4H] (zeros, plus
// forget_bias on the f block; absent with bias = false); ln_ih_weight, ln_hh_weight [4H] (ones);
// ln_c_weight [H] (ones), ln_c_bias [H] (zeros).
#pragma once

#include "unroll/layers/cell.hpp"

namespace unroll::layers {

struct LayerNormLSTMCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool bias = true;        // the gate bias b [4H]
  double forget_bias = 0;  // initial value of b's forget-gate block (needs bias = true; 1 is common)
  double eps = 1e-5;       // added to the variance in every normalization, > 0
};

class LayerNormLSTMCell : public Cell {
 public:
  explicit LayerNormLSTMCell(const LayerNormLSTMCellOptions& options);

  int64_t input_size() const override { return options_.input_size; }
  int64_t output_size() const override { return options_.hidden_size; }
  // x: [..., I] -> LN(x W_ih^T; g_ih) + b: [..., 4H] (state-free, so computed for all steps at once)
  Tensor project_input(const Tensor& x) override;
  // projected_x: [N, 4H], h, c: [N, H] -> h', c': [N, H]
  State step(const Tensor& projected_x, const State& state) override;
  State initial_state(int64_t batch) const override;  // h, c zeros
  std::string describe() const override;

  Tensor weight_ih, weight_hh, bias, ln_ih_weight, ln_hh_weight, ln_c_weight, ln_c_bias;

 private:
  LayerNormLSTMCellOptions options_;
};

}  // namespace unroll::layers
