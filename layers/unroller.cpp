// The generic unroller and the per-sequence reversal used by Bidirectional.
#include "unroll/layers/unroller.hpp"

#include <cmath>
#include <memory>
#include <utility>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/gradient_checkpoint.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::layers {

using detail::check;

namespace {
// lengths (int64), validated against x: [T, N, *]
std::vector<int64_t> read_lengths(const char* op, const Tensor& lengths, int64_t T, int64_t N) {
  check(lengths.dim() == 1 && lengths.size(0) == N, "{}: lengths must be [{}] (one per sequence), got {}", op, N,
        lengths.shape());
  check(lengths.dtype() == kInt64, "{}: lengths must be an int64 tensor, got {} (shape {}); convert with .to(kInt64)",
        op, name(lengths.dtype()), lengths.shape());
  std::vector<int64_t> out = lengths.to_vector<int64_t>();
  for (int64_t n = 0; n < N; ++n)
    check(out[n] >= 0 && out[n] <= T, "{}: length {} of sequence {} is not in [0, {}]", op, out[n], n, T);
  return out;
}
}  // namespace

namespace {
struct Steps {
  std::vector<Tensor> outputs;  // one [N, O] per step
  State state;
};

// The regularization run_steps applies around each step (UnrollOptions); inactive by default, and then
// the loop is the plain one.
struct StepNoise {
  Tensor h_mask;  // [N, H] variational mask (values 0 or 1 / (1 - p)) on the h step() reads, or undefined
  double zoneout = 0, zoneout_cell = 0;
  bool training = false;
  bool active() const { return h_mask.defined() || zoneout > 0 || zoneout_cell > 0; }
};

// Zoneout of one state component ([N, H]): keep `previous` with probability z per unit (training, a fresh
// mask every call) or take the expectation z * previous + (1 - z) * next (eval).
Tensor zone_out(const Tensor& previous, const Tensor& next, double z, bool training) {
  if (z == 0) return next;
  if (z == 1) return previous;
  if (!training) return previous * z + next * (1 - z);
  return where(lt(rand(next.shape(), next.dtype()), z), previous, next);  // keep: [N, H] bool, P(true) = z
}

// Steps [t0, t0 + inputs.size()) of the recurrence from `state`; inputs are the projected step inputs.
// Padded steps (t >= length[n]) keep sequence n's state and output zeros.
Steps run_steps(Cell& cell, const std::vector<int64_t>& length, int64_t t0, State state,
                const std::vector<Tensor>& inputs, const StepNoise& noise) {
  const int64_t N = state.h.size(0);
  Steps result;
  result.outputs.reserve(inputs.size());
  const bool noisy = noise.active();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t t = t0 + static_cast<int64_t>(i);
    TimeStepScope scope(t);  // tags this step's nodes for graph export
    State next;
    if (!noisy) [[likely]] {
      next = cell.step(inputs[i], state);
    } else {
      State seen = state;  // what the step reads: h under the per-sequence recurrent mask
      if (noise.h_mask.defined()) seen.h = mul(state.h, noise.h_mask);
      next = cell.step(inputs[i], seen);
      next.h = zone_out(state.h, next.h, noise.zoneout, noise.training);
      if (noise.zoneout_cell > 0) next.c = zone_out(state.c, next.c, noise.zoneout_cell, noise.training);
    }
    int64_t active = N;
    if (!length.empty()) {
      active = 0;
      for (int64_t n = 0; n < N; ++n) active += length[n] > t;
    }
    if (active == N) {  // every sequence is still running: no masking needed
      state = std::move(next);
      result.outputs.push_back(cell.output(state));
      continue;
    }
    // mask: [N, 1], true where step t is real
    Tensor mask = empty({N, 1}, kBool);
    for (int64_t n = 0; n < N; ++n) mask.data<bool>()[n] = length[n] > t;
    state.h = where(mask, next.h, state.h);
    if (next.c.defined()) state.c = where(mask, next.c, state.c);
    result.outputs.push_back(mul(cell.output(next), mask));
  }
  result.state = std::move(state);
  return result;
}
}  // namespace

void check_unroll_options(const char* where, const UnrollOptions& options) {
  check(options.checkpoint_every >= 0, "{}: checkpoint_every must be >= 0, got {}", where, options.checkpoint_every);
  for (const auto& [name, p] :
       {std::pair{"input_dropout", options.input_dropout}, std::pair{"recurrent_dropout", options.recurrent_dropout}})
    check(p >= 0 && p < 1, "{}: {} {} is outside [0, 1)", where, name, p);
  for (const auto& [name, z] : {std::pair{"zoneout", options.zoneout}, std::pair{"zoneout_cell", options.zoneout_cell}})
    check(z >= 0 && z <= 1, "{}: {} {} is outside [0, 1]", where, name, z);
}

SequenceOutput unroll_cell(Cell& cell, const Tensor& x, const State& initial, const Tensor& lengths,
                           const UnrollOptions& options) {
  detail::check_defined("unroll", x);
  // describe() builds a string: only on failure (this runs at every forward).
  if (!(x.dim() == 3 && x.size(2) == cell.input_size())) [[unlikely]]
    detail::fail("unroll: input must be [T, N, {}] for {}, got {}", cell.input_size(), cell.describe(), x.shape());
  check_unroll_options("unroll", options);
  const int64_t T = x.size(0), N = x.size(1);
  const State start = initial.h.defined() ? initial : cell.initial_state(N);
  // The masking of padded steps below indexes the state by batch row: every component must be [N, H].
  for (const Tensor* s : {&start.h, &start.c})
    if (s->defined())
      check(s->dim() == 2 && s->size(0) == N,
            "unroll: initial state components must be [{}, H] (one row per sequence of x {}), got {}", N, x.shape(),
            s->shape());
  std::vector<int64_t> length;
  if (lengths.defined()) length = read_lengths("unroll", lengths, T, N);
  if (options.zoneout_cell > 0 && !start.c.defined()) [[unlikely]]
    detail::fail("unroll: zoneout_cell {} needs a cell state c, and {} has none", options.zoneout_cell,
                 cell.describe());
  if (T == 0) return {zeros({0, N, cell.output_size()}, start.h.dtype()), start};

  // Variational masks: one per sequence, drawn once, the same at every step (dropout of a ones tensor is a
  // mask of 0 and 1 / (1 - p)).
  StepNoise noise{.h_mask = Tensor(),
                  .zoneout = options.zoneout,
                  .zoneout_cell = options.zoneout_cell,
                  .training = options.training};
  Tensor input = x;
  if (options.training && options.input_dropout > 0)  // [T, N, I] * [N, I]
    input = mul(x, dropout(ones({N, x.size(2)}, x.dtype()), options.input_dropout, true));
  if (options.training && options.recurrent_dropout > 0)
    noise.h_mask = dropout(ones(start.h.shape(), start.h.dtype()), options.recurrent_dropout, true);  // [N, H]

  // The input projection of every time step at once: [T, N, I] -> [T, N, G], one GEMM instead of T.
  const Tensor projected = cell.project_input(input);
  if (options.checkpoint_every == 0 || options.checkpoint_every >= T) {
    Steps all = run_steps(cell, length, 0, start, unbind(projected, 0), noise);
    return {stack(all.outputs, 0), all.state};
  }

  // Segments of k steps; each keeps only its inputs (state and projected slice) for backward.
  const int64_t k = options.checkpoint_every;
  const bool has_c = start.c.defined();
  State state = start;
  std::vector<Tensor> segment_outputs;
  for (int64_t t0 = 0; t0 < T; t0 += k) {
    const int64_t len = std::min(k, T - t0);
    std::vector<Tensor> inputs = {state.h};
    if (has_c) inputs.push_back(state.c);
    inputs.push_back(narrow(projected, 0, t0, len));  // [len, N, G]
    // Backward replays the segment through the cell, possibly after the user destroyed it: the closure
    // holds the cell's lifetime token and refuses to run once the cell is gone (instead of use-after-free).
    Cell* cell_ptr = &cell;
    std::weak_ptr<const bool> cell_alive = cell.lifetime_token();
    const std::vector<Tensor> out = checkpoint(
        [cell_ptr, cell_alive, length, t0, has_c, noise](const std::vector<Tensor>& in) {
          check(!cell_alive.expired(), "unroll: the cell of a checkpointed segment was destroyed before backward");
          Steps seg = run_steps(*cell_ptr, length, t0, {in[0], has_c ? in[1] : Tensor()}, unbind(in.back(), 0), noise);
          std::vector<Tensor> result = {stack(seg.outputs, 0), seg.state.h};
          if (has_c) result.push_back(seg.state.c);
          return result;
        },
        inputs);
    segment_outputs.push_back(out[0]);
    state = {out[1], has_c ? out[2] : Tensor()};
  }
  return {concat(segment_outputs, 0), state};
}

Tensor reverse_sequences(const Tensor& x, const Tensor& lengths) {
  detail::check_defined("reverse_sequences", x);
  check(x.dim() >= 2, "reverse_sequences: x must be [T, N, ...], got {}", x.shape());
  if (!lengths.defined()) return flip(x, 0);
  const int64_t T = x.size(0), N = x.size(1);
  const std::vector<int64_t> length = read_lengths("reverse_sequences", lengths, T, N);
  // index[t, n, ...] = source time step for out[t, n, ...]
  Tensor index = empty(x.shape(), kInt64);
  const int64_t inner = x.numel() / std::max<int64_t>(T * N, 1);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      const int64_t source = t < length[n] ? length[n] - 1 - t : t;
      int64_t* row = index.data<int64_t>() + (t * N + n) * inner;
      for (int64_t k = 0; k < inner; ++k) row[k] = source;
    }
  return gather(x, 0, index);
}

}  // namespace unroll::layers
