// RecurrentNetwork and the RNN / LSTM / GRU built on it.
#include "unroll/layers/rnn.hpp"

#include <utility>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::layers {

using detail::check;

RecurrentNetwork::RecurrentNetwork(int64_t input_size, const RecurrentOptions& options, const CellFactory& make_cell)
    : input_size_(input_size), options_(options) {
  check(input_size > 0, "RecurrentNetwork: input_size must be positive, got {}", input_size);
  check(options.num_layers >= 1, "RecurrentNetwork: num_layers must be at least 1, got {}", options.num_layers);
  check(options.dropout >= 0 && options.dropout < 1, "RecurrentNetwork: dropout {} is outside [0, 1)", options.dropout);
  const UnrollOptions recurrence{.input_dropout = options.input_dropout,
                                 .recurrent_dropout = options.recurrent_dropout,
                                 .zoneout = options.zoneout,
                                 .zoneout_cell = options.zoneout_cell};
  check_unroll_options("RecurrentNetwork", recurrence);
  std::vector<std::shared_ptr<SequenceLayer>> layers;
  int64_t layer_input = input_size;
  for (int64_t layer = 0; layer < options.num_layers; ++layer) {
    std::vector<std::shared_ptr<SequenceLayer>> directions;
    for (bool reverse : {false, true}) {
      if (reverse && !options.bidirectional) break;
      std::shared_ptr<Cell> cell = make_cell(layer_input, layer, reverse);
      check(cell != nullptr && cell->input_size() == layer_input,
            "RecurrentNetwork: the cell for layer {} must take inputs of size {}", layer, layer_input);
      // PyTorch's flat names: weight_ih_l0, ..., weight_ih_l0_reverse
      const std::string suffix = "_l" + std::to_string(layer) + (reverse ? "_reverse" : "");
      for (const auto& [name, p] : cell->named_parameters()) register_parameter(name + suffix, p);
      cells_.push_back(cell);
      directions.push_back(std::make_shared<Unidirectional>(cell, recurrence));
    }
    layers.push_back(options.bidirectional ? std::make_shared<Bidirectional>(directions[0], directions[1])
                                           : directions[0]);
    layer_input = layers.back()->output_size();
  }
  stack_ = std::make_shared<Stacked>(std::move(layers), options.dropout);
}

SequenceOutput RecurrentNetwork::forward(const Tensor& x, const State& state, const Tensor& lengths) {
  detail::check_defined(name_.c_str(), x);
  check(x.dim() == 3 && x.size(2) == input_size_, "{}: input must be [{}, {}] with feature size {}, got {}", name_,
        options_.batch_first ? "N, T" : "T, N", input_size_, input_size_, x.shape());
  const int64_t batch = options_.batch_first ? x.size(0) : x.size(1);
  for (const Tensor* t : {&state.h, &state.c})
    if (t->defined())
      check(t->dim() == 3 && t->size(0) == state_slots() && t->size(1) == batch,
            "{}: initial state must be [{}, {}, H] (num_layers * num_directions, batch, hidden), got {}", name_,
            state_slots(), batch, t->shape());
  if (lengths.defined() && lengths.dtype() != kInt64) [[unlikely]]  // (check() would read an undefined tensor)
    detail::fail("{}: lengths must be an int64 tensor, got {} (shape {}); convert with .to(kInt64)", name_,
                 unroll::name(lengths.dtype()), lengths.shape());
  if (!options_.batch_first) return stack_->forward(x, state, lengths);
  SequenceOutput out = stack_->forward(transpose(x, 0, 1), state, lengths);  // [N, T, I] -> [T, N, I]
  out.output = transpose(out.output, 0, 1);
  return out;
}

void RecurrentNetwork::train(bool on) {
  Module::train(on);
  stack_->train(on);
}

Cell& RecurrentNetwork::cell(int64_t layer, bool reverse) {
  const int64_t directions = options_.bidirectional ? 2 : 1;
  check(layer >= 0 && layer < options_.num_layers && (!reverse || options_.bidirectional), "{}: no cell for layer {}{}",
        name_, layer, reverse ? " (reverse)" : "");
  return *cells_[layer * directions + (reverse ? 1 : 0)];
}

std::string RecurrentNetwork::describe() const {
  std::string extra = describe_extra_;  // the recurrence's regularization, when set
  for (const auto& [name, value] :
       {std::pair{"input_dropout", options_.input_dropout}, std::pair{"recurrent_dropout", options_.recurrent_dropout},
        std::pair{"zoneout", options_.zoneout}, std::pair{"zoneout_cell", options_.zoneout_cell}})
    if (value != 0) extra += fmt::format(", {}={}", name, value);
  const int64_t hidden_size = hidden_size_ > 0 ? hidden_size_ : cells_.front()->output_size();  // num_layers >= 1
  return fmt::format("{}(input_size={}, hidden_size={}, num_layers={}, bidirectional={}, batch_first={}, dropout={}{})",
                     name_, input_size_, hidden_size, options_.num_layers, options_.bidirectional, options_.batch_first,
                     options_.dropout, extra);
}

namespace {
template <class Options>
RecurrentOptions structure(const Options& o, double zoneout_cell = 0) {
  return {.num_layers = o.num_layers,
          .bidirectional = o.bidirectional,
          .dropout = o.dropout,
          .batch_first = o.batch_first,
          .input_dropout = o.input_dropout,
          .recurrent_dropout = o.recurrent_dropout,
          .zoneout = o.zoneout,
          .zoneout_cell = zoneout_cell};
}

// nn.LSTM's argument checks (and messages), before any cell is built.
const LSTMOptions& checked(const LSTMOptions& o) {
  check(o.proj_size >= 0, "LSTM: proj_size should be a positive integer or zero to disable projections, got {}",
        o.proj_size);
  check(o.proj_size == 0 || o.proj_size < o.hidden_size, "LSTM: proj_size {} has to be smaller than hidden_size {}",
        o.proj_size, o.hidden_size);  // (hidden_size itself is checked by the cell)
  return o;
}
}  // namespace

RNN::RNN(const RNNOptions& o)
    : RecurrentNetwork(o.input_size, structure(o), [o](int64_t input_size, int64_t, bool) {
        return std::make_shared<RNNCell>(RNNCellOptions{
            .input_size = input_size, .hidden_size = o.hidden_size, .bias = o.bias, .nonlinearity = o.nonlinearity});
      }) {
  name_ = o.nonlinearity == Nonlinearity::Tanh ? "RNN" : "RNN[relu]";
}

LSTM::LSTM(const LSTMOptions& o)
    : RecurrentNetwork(o.input_size, structure(checked(o), o.zoneout_cell), [o](int64_t input_size, int64_t, bool) {
        return std::make_shared<LSTMCell>(LSTMCellOptions{.input_size = input_size,
                                                          .hidden_size = o.hidden_size,
                                                          .bias = o.bias,
                                                          .forget_bias = o.forget_bias,
                                                          .proj_size = o.proj_size});
      }) {
  name_ = "LSTM";
  hidden_size_ = o.hidden_size;
  if (o.proj_size > 0) describe_extra_ = fmt::format(", proj_size={}", o.proj_size);
}

GRU::GRU(const GRUOptions& o)
    : RecurrentNetwork(o.input_size, structure(o), [o](int64_t input_size, int64_t, bool) {
        return std::make_shared<GRUCell>(
            GRUCellOptions{.input_size = input_size, .hidden_size = o.hidden_size, .bias = o.bias});
      }) {
  name_ = "GRU";
}

}  // namespace unroll::layers
