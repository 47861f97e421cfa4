#include "unroll/data/padding.hpp"

#include <algorithm>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::data {

namespace {

// Checks the sequences as pad_sequence needs them (named `op` in errors); returns T, the longest length.
int64_t check_sequences(const char* op, const std::vector<Tensor>& sequences) {
  detail::check(!sequences.empty(), "{}: received an empty list of sequences", op);
  int64_t T = 0;
  for (size_t n = 0; n < sequences.size(); ++n) {
    const Tensor& s = sequences[n];
    if (!s.defined()) detail::fail("{}: sequence {} is an undefined tensor", op, n);
    if (s.dim() == 0) detail::fail("{}: sequence {} has rank 0, expected [L, *]", op, n);
    const Tensor& first = sequences[0];
    if (s.dtype() != first.dtype())
      detail::fail("{}: sequence {} is {} but sequence 0 is {}", op, n, name(s.dtype()), name(first.dtype()));
    const Shape tail(s.shape().begin() + 1, s.shape().end()),
        first_tail(first.shape().begin() + 1, first.shape().end());
    if (tail != first_tail)
      detail::fail("{}: sequence {} has shape {} but sequence 0 has {}: the axes after the first must agree", op, n,
                   s.shape(), first.shape());
    T = std::max(T, s.size(0));
  }
  return T;
}

Tensor pad_checked(const std::vector<Tensor>& sequences, int64_t T, const PadOptions& options) {
  std::vector<Tensor> columns;
  columns.reserve(sequences.size());
  for (const Tensor& s : sequences) {
    // pad's list runs from the last axis to the first: {0, 0} for each trailing axis, then {0, T - L} for time.
    std::vector<int64_t> pads(2 * static_cast<size_t>(s.dim()), 0);
    pads.back() = T - s.size(0);
    columns.push_back(pads.back() == 0 ? s : pad(s, pads, options.padding_value));  // [T, *]
  }
  return stack(columns, options.batch_first ? 0 : 1);  // [T, N, *] or [N, T, *]
}

}  // namespace

Tensor pad_sequence(const std::vector<Tensor>& sequences, const PadOptions& options) {
  const int64_t T = check_sequences("pad_sequence", sequences);
  return pad_checked(sequences, T, options);
}

PaddedBatch pad_batch(const std::vector<Tensor>& sequences, const PadOptions& options) {
  const int64_t T = check_sequences("pad_batch", sequences);
  std::vector<int64_t> lengths;
  lengths.reserve(sequences.size());
  for (const Tensor& s : sequences) lengths.push_back(s.size(0));
  PaddedBatch b;
  b.padded = pad_checked(sequences, T, options);
  b.lengths = tensor(lengths, {static_cast<int64_t>(lengths.size())});
  b.mask = length_mask(b.lengths, T, options.batch_first);
  return b;
}

Tensor length_mask(const Tensor& lengths, int64_t T, bool batch_first) {
  detail::check_defined("length_mask", lengths);
  detail::check(lengths.dtype() == kInt64 && lengths.dim() == 1, "length_mask: lengths must be int64 [N], got {} {}",
                name(lengths.dtype()), lengths.shape());
  const int64_t N = lengths.size(0);
  const int64_t* length = lengths.data<int64_t>();
  std::vector<bool> mask(static_cast<size_t>(T * N), false);
  for (int64_t n = 0; n < N; ++n) {
    if (length[n] < 0 || length[n] > T)
      detail::fail("length_mask: lengths[{}] = {} is outside [0, {}]", n, length[n], T);
    for (int64_t t = 0; t < length[n]; ++t) mask[static_cast<size_t>(batch_first ? n * T + t : t * N + n)] = true;
  }
  return batch_first ? tensor(mask, {N, T}) : tensor(mask, {T, N});
}

}  // namespace unroll::data
