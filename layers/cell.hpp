// unroll/layers/cell.hpp: the recurrent cell interface. A cell maps (x_t, state) -> next state; the
// unroller (unroller.hpp) owns the loop over time. Built-in and user cells are treated identically.
//
// Shape legend: T = time steps, N = batch, I = input size, H = hidden size, G = projected input size.
#pragma once

#include <memory>

#include "unroll/framework/tensor.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

// A recurrent state. Cells use what they need: h always, c for LSTM-like cells. At cell level each
// component is [N, H]; at sequence-layer level it is [layers * directions, N, H] (PyTorch's layout).
struct State {
  Tensor h;
  Tensor c;
};

class Cell : public Module {
 public:
  virtual int64_t input_size() const = 0;
  virtual int64_t output_size() const = 0;  // size of output(state), what the layer emits per step

  // x: [..., I] -> [..., G]: the part of a step that does not depend on the state, each time step on its
  // own. The unroller calls it once on the sequence it is given ([T, N, I]: one big GEMM instead of T small
  // ones) and hands step() one time slice at a time; in inference, Stacked may give a layer stretches of
  // the sequence one after another (its wavefront), so it must not mix time steps. The default is the
  // identity (G = I).
  virtual Tensor project_input(const Tensor& x) { return x; }
  // One time step: projected input [N, G] and state (components [N, H]) -> next state. Each batch row on its
  // own: in inference on two or more threads, Unidirectional may run slices of the batch on different threads.
  virtual State step(const Tensor& projected_x, const State& state) = 0;
  // The state at t = 0 when none is given: zeros in the parameters' dtype (so the cell keeps working after
  // module.to(kFloat64): matmul takes both operands in one dtype).
  virtual State initial_state(int64_t batch) const = 0;
  // What the sequence layer outputs at each step: h by default.
  virtual Tensor output(const State& state) const { return state.h; }

  // One step from a raw input, like PyTorch's nn.LSTMCell: x [N, I] -> next state.
  State operator()(const Tensor& x, const State& state) { return step(project_input(x), state); }
  State operator()(const Tensor& x) { return (*this)(x, initial_state(x.size(0))); }

  // Expires when this cell is destroyed. A closure that outlives the forward pass (the recomputation of a
  // checkpointed segment, unroller.cpp) checks it before touching the cell. Every cell object gets its
  // own token: cells are non-copyable (Module), and a derived class that defines a copy constructor
  // default-constructs Cell, hence a fresh token.
  std::weak_ptr<const bool> lifetime_token() const { return alive_; }

 private:
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
};

}  // namespace unroll::layers
