// unroll/layers/rnn.hpp: multi-layer, optionally bidirectional RNN / LSTM / GRU (PyTorch's nn.RNN, nn.LSTM,
// nn.GRU), and RecurrentNetwork, which builds the same thing from any cell.
//
//   layers::LSTM lstm({.input_size = 8, .hidden_size = 16, .num_layers = 2, .bidirectional = true});
//   auto [y, state] = lstm(x);               // x: [T, N, I] -> y: [T, N, 2H]; state.h, state.c: [4, N, H]
//   auto [y2, s2] = lstm(x, state, lengths); // ragged batch (lengths: [N]), carried state
//
// With LSTMOptions::proj_size = P, h and y are P wide per direction: y [T, N, D*P], state.h [L*D, N, P],
// state.c [L*D, N, H].
//
// Parameter names are PyTorch's: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, with suffix
// _reverse for the backward direction (and weight_hr_l{k} with proj_size), so state dicts move between
// unroll and PyTorch unchanged.
#pragma once

#include <functional>
#include <memory>

#include "unroll/layers/gru_cell.hpp"
#include "unroll/layers/lstm_cell.hpp"
#include "unroll/layers/rnn_cell.hpp"
#include "unroll/layers/sequence.hpp"

namespace unroll::layers {

// How RecurrentNetwork stacks its cells.
struct RecurrentOptions {
  int64_t num_layers = 1;
  bool bidirectional = false;
  double dropout = 0;        // on the outputs of every layer but the last, in training only
  bool batch_first = false;  // x and y are [N, T, *] instead of [T, N, *] (the state stays [L*D, N, H])
  // Inside the recurrence of every layer and direction (UnrollOptions, unroller.hpp): variational dropout
  // (one mask per sequence and layer, reused at every step; training only) on the layer's input and on
  // the h its cell reads, and zoneout of h and c (training: random per step; eval: the expectation).
  double input_dropout = 0;      // in [0, 1)
  double recurrent_dropout = 0;  // in [0, 1)
  double zoneout = 0;            // in [0, 1]
  double zoneout_cell = 0;       // in [0, 1]; cells with a cell state c only
};

// Stacked (and optionally bidirectional) network of cells made by `make_cell(layer_input_size, layer,
// reverse)`. The recurrence is the generic unroller; the structure is Stacked / Bidirectional /
// Unidirectional. Each cell's parameter `p` is registered as `p_l{layer}` (+ `_reverse`).
class RecurrentNetwork : public SequenceLayer {
 public:
  using CellFactory = std::function<std::shared_ptr<Cell>(int64_t input_size, int64_t layer, bool reverse)>;
  RecurrentNetwork(int64_t input_size, const RecurrentOptions& options, const CellFactory& make_cell);

  int64_t output_size() const override { return stack_->output_size(); }
  int64_t state_slots() const override { return stack_->state_slots(); }
  // x: [T, N, I] ([N, T, I] if batch_first); state components [L*D, N, H]; lengths [N] or undefined.
  SequenceOutput forward(const Tensor& x, const State& state, const Tensor& lengths) override;
  void train(bool on = true) override;
  bool stochastic() const override { return stack_->stochastic(); }
  std::string describe() const override;

  // The cell of `layer` in direction `reverse` (for inspection and custom initialization).
  Cell& cell(int64_t layer, bool reverse = false);

 protected:
  int64_t input_size_;
  RecurrentOptions options_;
  std::string name_ = "RecurrentNetwork";
  int64_t hidden_size_ = 0;     // for describe(); 0: the first cell's output size
  std::string describe_extra_;  // appended to describe() by subclasses (e.g. ", proj_size=2")

 private:
  std::vector<std::shared_ptr<Cell>> cells_;  // layer-major: l0, l0_reverse, l1, ...
  std::shared_ptr<Stacked> stack_;
};

struct RNNOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  Nonlinearity nonlinearity = Nonlinearity::Tanh;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0;
  bool bidirectional = false;
  // Variational dropout and zoneout inside the recurrence (RecurrentOptions; docs/layers.md)
  double input_dropout = 0;
  double recurrent_dropout = 0;
  double zoneout = 0;
};

struct LSTMOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0;
  bool bidirectional = false;
  double forget_bias = 0;  // added to every forget-gate bias at init (PyTorch: 0)
  // Variational dropout and zoneout inside the recurrence (RecurrentOptions; docs/layers.md)
  double input_dropout = 0;
  double recurrent_dropout = 0;
  double zoneout = 0;
  double zoneout_cell = 0;  // zoneout of the cell state c
  // PyTorch's proj_size: h = W_hr (o * tanh(c)), h and the output per direction are P wide, c stays H;
  // adds weight_hr_l{k}[_reverse] [P, H]. 0 = off; 0 <= P < H.
  int64_t proj_size = 0;
};

struct GRUOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0;
  bool bidirectional = false;
  // Variational dropout and zoneout inside the recurrence (RecurrentOptions; docs/layers.md)
  double input_dropout = 0;
  double recurrent_dropout = 0;
  double zoneout = 0;
};

class RNN : public RecurrentNetwork {
 public:
  explicit RNN(const RNNOptions& options);
};

class LSTM : public RecurrentNetwork {
 public:
  explicit LSTM(const LSTMOptions& options);
};

class GRU : public RecurrentNetwork {
 public:
  explicit GRU(const GRUOptions& options);
};

}  // namespace unroll::layers
