// unroll/data/padding.hpp: sequences of different lengths -> one padded batch, as
// torch.nn.utils.rnn.pad_sequence.
//
//   std::vector<Tensor> seqs = {tensor({4, 5, 6}), tensor({7})};     // int64 ids, lengths 3 and 1
//   Tensor x = data::pad_sequence(seqs);                            // int64 [T=3, N=2]: {{4, 7}, {5, 0}, {6, 0}}
//   data::PaddedBatch b = data::pad_batch(seqs);                    // the same, plus
//   b.lengths;                                                      // int64 [2] = {3, 1}
//   b.mask;                                                         // bool [3, 2]: {{1, 1}, {1, 0}, {1, 0}}
//   lstm(embed(b.padded), {}, b.lengths);                           // padded steps skipped (layers/rnn.hpp)
//
// Shapes: T = the longest length, N = the number of sequences, [*] = the trailing axes every sequence shares.
// Sequence n is sequences[n]: [L_n, *] (any dtype, the same for all); padded[t, n] = sequences[n][t] for
// t < L_n and padding_value after it. `lengths` is the format the recurrent layers and unroll_cell take
// (int64 [N], values in [0, T]); `mask` is true at real steps.
//
// The padded tensor is built from ops (pad, stack), so gradients flow back to floating sequences that
// require them, as in PyTorch.
#pragma once

#include <vector>

#include "unroll/framework/dtype.hpp"
#include "unroll/framework/tensor.hpp"

namespace unroll::data {

struct PadOptions {
  bool batch_first = false;  // false: [T, N, *] (PyTorch's default); true: [N, T, *]
  Scalar padding_value = 0;  // converted to the sequences' dtype (e.g. the <pad> id, -100 for ignored targets)
};

// sequences: N tensors [L_n, *] of one dtype, N >= 1 -> [T, N, *] ([N, T, *] with batch_first).
// unroll::Error "pad_sequence: ..." for an empty list, an undefined or rank-0 tensor, or sequences whose
// trailing shapes or dtypes differ (the message names the sequence and both shapes or dtypes).
Tensor pad_sequence(const std::vector<Tensor>& sequences, const PadOptions& options = {});

// A padded batch with what a recurrent layer and a masked loss need.
struct PaddedBatch {
  Tensor padded;   // [T, N, *] ([N, T, *] with batch_first), as pad_sequence
  Tensor lengths;  // int64 [N]: L_n
  Tensor mask;     // bool [T, N] ([N, T] with batch_first): true at t < L_n
};

// pad_sequence plus the lengths and the mask; the same errors (named "pad_batch").
PaddedBatch pad_batch(const std::vector<Tensor>& sequences, const PadOptions& options = {});

// The mask of `lengths` (int64 [N], values >= 0): bool [T, N] true at t < lengths[n] ([N, T] with
// batch_first). T must be >= every length (unroll::Error otherwise).
Tensor length_mask(const Tensor& lengths, int64_t T, bool batch_first = false);

}  // namespace unroll::data
