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

  // Regularization of the recurrence (all off by default; with all four at 0 the loop is the plain one).
  // Variational dropout (Gal & Ghahramani 2016; DyNet's set_dropout): one Bernoulli mask per sequence,
  // drawn once per call and reused at every step, zeroing a unit with probability p and scaling the rest
  // by 1 / (1 - p). In training only; p in [0, 1).
  double input_dropout = 0;      // mask [N, I] on every x_t (before project_input)
  double recurrent_dropout = 0;  // mask [N, H] on the state h that step() reads (the carried h is not masked)
  // Zoneout (Krueger et al. 2016): at every step and unit, keep the previous value with probability z
  // instead of the new one. In training a fresh Bernoulli mask per step; at eval the expectation
  // z * previous + (1 - z) * new. z in [0, 1] (1 keeps the initial state). zoneout acts on h (the state the
  // cell carries as h, which for a projected LSTM is the projection), zoneout_cell on c (needs a cell with
  // a cell state); Krueger et al. use e.g. 0.05 on h and 0.5 on c.
  double zoneout = 0;
  double zoneout_cell = 0;
  // Training mode: masks are drawn only when true. Sequence layers set it from Module::is_training().
  bool training = true;
};

// Runs `cell` over x: [T, N, I], starting from `initial` (cell-level, components [N, H]; an empty State
// means cell.initial_state). Returns every step's output stacked to [T, N, O] and the final state.
//
// lengths (optional, [N] integral values in [0, T]): sequence n only has lengths[n] real steps. Padded steps
// leave the state unchanged and output zeros, so the final state is the one after each sequence's last real
// step (PyTorch's packed-sequence semantics). Without lengths every sequence has T steps.
//
// Random masks (options.input_dropout, recurrent_dropout, zoneout in training) come from this thread's
// default generator (manual_seed makes them reproducible; checkpointed segments replay the same masks).
//
// The graph this records is the unrolled network; backward() over it is backpropagation through time.
// Throws unless options are valid: checkpoint_every >= 0, dropout rates in [0, 1), zoneout rates in [0, 1].
// `where` names the caller in the message. unroll_cell checks them too; layers call this at construction.
void check_unroll_options(const char* where, const UnrollOptions& options);

SequenceOutput unroll_cell(Cell& cell, const Tensor& x, const State& initial = {}, const Tensor& lengths = {},
                           const UnrollOptions& options = {});

// Reverses each sequence within its own length: out[t, n] = x[lengths[n] - 1 - t, n] for t < lengths[n],
// padding left in place. With undefined lengths, flips the whole time axis. Differentiable; x: [T, N, *].
Tensor reverse_sequences(const Tensor& x, const Tensor& lengths);

}  // namespace unroll::layers
