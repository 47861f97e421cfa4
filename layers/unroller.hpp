// unroll/layers/unroller.hpp: the one place the recurrence over time is written.
#pragma once

#include "unroll/layers/cell.hpp"

namespace unroll::layers {

struct SequenceOutput {
  Tensor output;  // [T, N, O]
  State state;    // the final state
};

struct UnrollOptions {
  // 0: keep every step's activations for backward. k > 0: run the sequence in segments of k steps under
  // gradient checkpointing (framework/gradient_checkpoint.hpp): backward recomputes one segment at a
  // time, so T steps keep O(T/k + k) steps of activations instead of O(T). Gradients are the same up to
  // floating-point summation order.
  int64_t checkpoint_every = 0;
};

// Runs `cell` over x: [T, N, I], starting from `initial` (cell-level, components [N, H]; an empty State
// means cell.initial_state). Returns every step's output stacked to [T, N, O] and the final state.
//
// lengths (optional, [N] integral values in [0, T]): sequence n only has lengths[n] real steps. Padded steps
// leave the state unchanged and output zeros, so the final state is the one after each sequence's last real
// step (PyTorch's packed-sequence semantics). Without lengths every sequence has T steps.
//
// The graph this records is the unrolled network; backward() over it is backpropagation through time.
SequenceOutput unroll_cell(Cell& cell, const Tensor& x, const State& initial = {}, const Tensor& lengths = {},
                           const UnrollOptions& options = {});

// Reverses each sequence within its own length: out[t, n] = x[lengths[n] - 1 - t, n] for t < lengths[n],
// padding left in place. With undefined lengths, flips the whole time axis. Differentiable; x: [T, N, *].
Tensor reverse_sequences(const Tensor& x, const Tensor& lengths);

}  // namespace unroll::layers
