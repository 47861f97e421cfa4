// unroll/layers/sequence.hpp: sequence layers and the generic wrappers that build deep and
// bidirectional networks out of any of them.
//
// A sequence layer maps x: [T, N, I] and a state whose components are [S, N, H] (S = state_slots()) to
// outputs [T, N, O] and the final state in the same layout. Wrappers compose layers without knowing
// what is inside, so a user's own cell becomes a stacked bidirectional network the same way LSTM does.
#pragma once

#include <memory>
#include <vector>

#include "unroll/layers/cell.hpp"
#include "unroll/layers/unroller.hpp"

namespace unroll::layers {

class SequenceLayer : public Module {
 public:
  virtual int64_t output_size() const = 0;
  virtual int64_t state_slots() const = 0;  // how many [N, H] entries its state stacks along dim 0
  // x: [T, N, I]; state: empty (zeros) or components [S, N, H]; lengths: undefined or [N].
  virtual SequenceOutput forward(const Tensor& x, const State& state, const Tensor& lengths) = 0;
  SequenceOutput operator()(const Tensor& x, const State& state = {}, const Tensor& lengths = {}) {
    return forward(x, state, lengths);
  }
  // True when forward() draws from the default random generator in the current mode (dropout masks in
  // training). Bidirectional then runs each direction from its own generator state, seeded from the
  // caller's, so the two can run on two threads with results that depend only on manual_seed.
  virtual bool stochastic() const { return false; }
  // True when output step t depends on input steps <= t only and forward() may be called on consecutive
  // stretches of time, each from the state the previous one returned, with the results of one call on the
  // whole sequence. Stacked then runs its layers as a wavefront in inference (see Stacked). A user's layer
  // that overrides this promises exactly that.
  virtual bool causal() const { return false; }
  // True when each batch row's outputs and final state depend on that row's input, initial state and length
  // only, so that forward() on a slice of the batch gives those rows of forward() on the whole batch, to
  // the bit. Unidirectional and Stacked then run slices of the batch on the pool's threads in inference
  // (see Stacked). A user's layer that overrides this promises exactly that.
  virtual bool rows_independent() const { return false; }
};

// One cell run forward over time (unroll_cell with `options`; options.training follows train()/eval(),
// so variational dropout and zoneout (UnrollOptions) apply as in training mode only). State slots: 1.
// Causal and rows_independent(): the cell must treat time steps (project_input) and batch rows on their
// own, as every built-in cell does.
class Unidirectional : public SequenceLayer {
 public:
  explicit Unidirectional(std::shared_ptr<Cell> cell, const UnrollOptions& options = {});
  int64_t output_size() const override { return cell_->output_size(); }
  int64_t state_slots() const override { return 1; }
  SequenceOutput forward(const Tensor& x, const State& state, const Tensor& lengths) override;
  bool stochastic() const override;
  bool causal() const override { return true; }
  bool rows_independent() const override { return true; }
  std::string describe() const override { return "Unidirectional"; }
  Cell& cell() { return *cell_; }
  const UnrollOptions& options() const { return options_; }

 private:
  std::shared_ptr<Cell> cell_;
  UnrollOptions options_;
};

// Runs `forward_layer` on x and `backward_layer` on each sequence reversed within its length, reverses the
// latter's outputs back, and concatenates both along features: [T, N, O_f + O_b]. The state stacks the
// forward layer's slots, then the backward layer's.
class Bidirectional : public SequenceLayer {
 public:
  Bidirectional(std::shared_ptr<SequenceLayer> forward_layer, std::shared_ptr<SequenceLayer> backward_layer);
  int64_t output_size() const override;
  int64_t state_slots() const override;
  SequenceOutput forward(const Tensor& x, const State& state, const Tensor& lengths) override;
  bool stochastic() const override { return forward_->stochastic() || backward_->stochastic(); }
  bool rows_independent() const override { return forward_->rows_independent() && backward_->rows_independent(); }
  std::string describe() const override { return "Bidirectional"; }

 private:
  std::shared_ptr<SequenceLayer> forward_, backward_;
};

// Layers applied one after another, with dropout (training only) on the outputs between them. The state
// stacks every layer's slots in order.
//
// In inference (no grad mode, nothing random) on two or more threads, when every layer is rows_independent(),
// each thread runs the whole stack on its own slice of the batch; else, when every layer is causal(), the
// layers run as a wavefront over stretches of time: layer i works on stretch k while layer i + 1 works on
// stretch k - 1, each on its own thread. Either way the results are those of one layer after the other on
// one thread, to the bit.
class Stacked : public SequenceLayer {
 public:
  explicit Stacked(std::vector<std::shared_ptr<SequenceLayer>> layers, double dropout = 0);
  int64_t output_size() const override { return layers_.back()->output_size(); }
  int64_t state_slots() const override;
  SequenceOutput forward(const Tensor& x, const State& state, const Tensor& lengths) override;
  bool stochastic() const override;
  bool causal() const override;
  bool rows_independent() const override;
  std::string describe() const override;
  size_t size() const { return layers_.size(); }
  SequenceLayer& layer(size_t i) { return *layers_[i]; }

 private:
  SequenceOutput forward_layers(const Tensor& x, const State& state, const Tensor& lengths);
  bool runs_as_wavefront(const Tensor& x, const Tensor& lengths) const;
  SequenceOutput forward_wavefront(const Tensor& x, const State& state);

  std::vector<std::shared_ptr<SequenceLayer>> layers_;
  double dropout_;
};

}  // namespace unroll::layers
