// The generic unroller and the per-sequence reversal used by Bidirectional.
#include "unroll/layers/unroller.hpp"

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::layers {

using detail::check;

namespace {
// lengths as integers, validated against x: [T, N, *]
std::vector<int64_t> read_lengths(const char* op, const Tensor& lengths, int64_t T, int64_t N) {
  check(lengths.dim() == 1 && lengths.size(0) == N, "{}: lengths must be [{}] (one per sequence), got {}", op, N,
        lengths.shape());
  std::vector<int64_t> out(N);
  for (int64_t n = 0; n < N; ++n) {
    const real v = lengths.data()[n];
    out[n] = static_cast<int64_t>(v);
    check(static_cast<real>(out[n]) == v && out[n] >= 0 && out[n] <= T,
          "{}: length {} of sequence {} is not an integer in [0, {}]", op, v, n, T);
  }
  return out;
}
}  // namespace

SequenceOutput unroll_cell(Cell& cell, const Tensor& x, const State& initial, const Tensor& lengths) {
  check(x.dim() == 3 && x.size(2) == cell.input_size(), "unroll: input must be [T, N, {}] for {}, got {}",
        cell.input_size(), cell.describe(), x.shape());
  const int64_t T = x.size(0), N = x.size(1);
  State state = initial.h.defined() ? initial : cell.initial_state(N);
  std::vector<int64_t> length;
  if (lengths.defined()) length = read_lengths("unroll", lengths, T, N);

  // The input projection of every time step at once ([T, N, I] -> [T, N, G]), then one slice per step.
  const std::vector<Tensor> steps = unbind(cell.project_input(x), 0);
  std::vector<Tensor> outputs;
  outputs.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    TimeStepScope scope(t);  // tags this step's nodes for graph export
    State next = cell.step(steps[t], state);
    int64_t active = N;
    if (!length.empty()) {
      active = 0;
      for (int64_t n = 0; n < N; ++n) active += length[n] > t;
    }
    if (active == N) {  // every sequence is still running: no masking needed
      state = std::move(next);
      outputs.push_back(cell.output(state));
      continue;
    }
    // mask: [N, 1], 1 where step t is real. Padded steps keep the old state and output zeros.
    Tensor mask = empty({N, 1});
    for (int64_t n = 0; n < N; ++n) mask.data()[n] = length[n] > t ? 1 : 0;
    state.h = where(mask, next.h, state.h);
    if (next.c.defined()) state.c = where(mask, next.c, state.c);
    outputs.push_back(mul(cell.output(next), mask));
  }
  if (T == 0) return {zeros({0, N, cell.output_size()}), state};
  return {stack(outputs, 0), state};
}

Tensor reverse_sequences(const Tensor& x, const Tensor& lengths) {
  check(x.dim() >= 2, "reverse_sequences: x must be [T, N, ...], got {}", x.shape());
  if (!lengths.defined()) return flip(x, 0);
  const int64_t T = x.size(0), N = x.size(1);
  const std::vector<int64_t> length = read_lengths("reverse_sequences", lengths, T, N);
  // index[t, n, ...] = source time step for out[t, n, ...]
  Tensor index = empty(x.shape());
  const int64_t inner = x.numel() / std::max<int64_t>(T * N, 1);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      const real source = static_cast<real>(t < length[n] ? length[n] - 1 - t : t);
      real* row = index.data() + (t * N + n) * inner;
      for (int64_t k = 0; k < inner; ++k) row[k] = source;
    }
  return gather(x, 0, index);
}

}  // namespace unroll::layers
