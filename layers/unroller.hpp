// unroll/layers/unroller.hpp: the one place the recurrence over time is written.
#pragma once

#include "unroll/layers/cell.hpp"

namespace unroll::layers {

struct SequenceOutput {
  Tensor output;  // [T, N, O]
  State state;    // the final state
};

// Runs `cell` over x: [T, N, I], starting from `initial` (cell-level, components [N, H]; an empty State
// means cell.initial_state). Returns every step's output stacked to [T, N, O] and the final state.
//
// lengths (optional, [N] integral values in [0, T]): sequence n only has lengths[n] real steps. Padded steps
// leave the state unchanged and output zeros, so the final state is the one after each sequence's last real
// step (PyTorch's packed-sequence semantics). Without lengths every sequence has T steps.
//
// The graph this records is the unrolled network; backward() over it is backpropagation through time.
SequenceOutput unroll_cell(Cell& cell, const Tensor& x, const State& initial = {}, const Tensor& lengths = {});

// Reverses each sequence within its own length: out[t, n] = x[lengths[n] - 1 - t, n] for t < lengths[n],
// padding left in place. With undefined lengths, flips the whole time axis. Differentiable; x: [T, N, *].
Tensor reverse_sequences(const Tensor& x, const Tensor& lengths);

}  // namespace unroll::layers
