// Unidirectional, Bidirectional and Stacked: structure only. Each knows nothing about the layers inside.
#include "unroll/layers/sequence.hpp"

#include <optional>

#include "unroll/framework/detail/blas.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/gemm_kernel.hpp"
#include "unroll/framework/detail/thread_pool.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::layers {

using detail::check;

namespace {
// Entries [first, first + count) along `dim` of every state component ([S, N, H] layout: dim 0 the slots,
// dim 1 the batch).
State narrow_state(const State& s, int64_t dim, int64_t first, int64_t count) {
  State part;
  if (s.h.defined()) part.h = narrow(s.h, dim, first, count);
  if (s.c.defined()) part.c = narrow(s.c, dim, first, count);
  return part;
}
State take_slots(const State& s, int64_t first, int64_t count) { return narrow_state(s, 0, first, count); }

// The parts' components joined along `dim` (0: the slots of layers one after another; 1: slices of a batch).
State concat_states(const std::vector<State>& parts, int64_t dim = 0) {
  std::vector<Tensor> hs, cs;
  for (const State& p : parts) {
    hs.push_back(p.h);
    if (p.c.defined()) cs.push_back(p.c);
  }
  State out;
  out.h = concat(hs, dim);
  if (!cs.empty()) {
    check(cs.size() == hs.size(), "concat_states: some layers carry a cell state c and others do not");
    out.c = concat(cs, dim);
  }
  return out;
}

// Whether a layer's pieces may run on the pool's threads: float32 with unroll's kernel (float64 products, and
// every product with UNROLL_GEMM=openblas, go to OpenBLAS, whose own threads and thread setting are global).
bool may_run_on_threads(const Tensor& x) {
  return x.dtype() == kFloat32 && detail::gemm_backend() != detail::GemmBackend::openblas;
}

// ... and in inference, with a second thread free and nothing random (the slices and the wavefront).
bool inference_on_threads(const SequenceLayer& layer, const Tensor& x) {
  return !is_grad_enabled() && may_run_on_threads(x) && detail::parallel_width() >= 2 && !layer.stochastic();
}

void check_state(const char* op, const State& s, int64_t slots, int64_t batch) {
  for (const Tensor* t : {&s.h, &s.c})
    if (t->defined())
      check(t->dim() == 3 && t->size(0) == slots && t->size(1) == batch,
            "{}: state tensors must be [{}, {}, H] (slots, batch, hidden), got {}", op, slots, batch, t->shape());
}

// ---- Inference by slices of the batch --------------------------------------------------------------
// A layer whose batch rows are independent runs in inference as one slice of the batch per thread, each
// slice over the whole sequence: the threads never wait for each other between steps (the wavefront joins
// once per stretch of time, a product split between threads once per step). Each slice's products take the
// path the whole batch's would (detail::BatchSliceScope) and compute each row the same way, so the results
// are those of one thread to the bit (test_threads).
//
// Rows per slice at least. Small slices pay the per-step costs that do not shrink with the rows (op
// dispatch, the weight_rows kernel's sweep over the weight) on both threads: bench/rnn_bench --no-grad, 2
// threads against 1, median of 3 (2026-12-03): lstm 1x64 T50 N 4 (slices of 2) 0.87x, N 8 1.10x, N 12
// 1.20x, N 16 1.06x, N 32 1.65x; lstm 2x256 T35 N 8 1.81x. Against the previous library (the wavefront, a
// product split per step), 3 alternated runs: lstm 2x256 N32 1.30x, gru 1.18x, rnn 1.26x, bidirectional lstm
// 1.03x, lstm 1x1024 N64 1.09x, lstm 1x64 N16 1.06x (1.13x once slices of 8 rows ran on packed weights,
// detail::PackedWeightsScope).
constexpr int64_t kMinRowsPerSlice = 4;

bool runs_by_rows(const SequenceLayer& layer, const Tensor& x, const Tensor& lengths) {
  // Inference only: a recorded graph would sum the weight gradients of the slices, not bit-identical to one
  // thread's. lengths of the wrong form are left for the layer to refuse.
  const int64_t N = x.size(1);
  return N >= 2 * kMinRowsPerSlice && (!lengths.defined() || (lengths.dim() == 1 && lengths.size(0) == N)) &&
         layer.rows_independent() && inference_on_threads(layer, x);
}

// run(x, state, lengths) on consecutive slices of the batch, one per thread; outputs and final states joined
// along the batch. x: [T, N, I]; state components [S, N, H]; lengths [N] or undefined.
template <class Run>
SequenceOutput forward_by_rows(const Tensor& x, const State& state, const Tensor& lengths, Run run) {
  const int64_t N = x.size(1);
  const int64_t slices = std::min<int64_t>(detail::parallel_width(), N / kMinRowsPerSlice);
  std::vector<SequenceOutput> parts(static_cast<size_t>(slices));
  auto work = [&](int64_t j) {
    const int64_t first = N * j / slices, rows = N * (j + 1) / slices - first;
    const detail::BatchSliceScope as_whole_batch(N, rows);
    parts[j] = run(narrow(x, 1, first, rows), narrow_state(state, 1, first, rows),
                   lengths.defined() ? narrow(lengths, 0, first, rows) : Tensor());
  };
  detail::run_independent(slices, work);
  std::vector<Tensor> outputs;
  std::vector<State> states;
  for (SequenceOutput& part : parts) {
    outputs.push_back(std::move(part.output));
    states.push_back(std::move(part.state));
  }
  return {concat(outputs, 1), concat_states(states, 1)};
}
}  // namespace

// ---- Unidirectional --------------------------------------------------------------------------------
Unidirectional::Unidirectional(std::shared_ptr<Cell> cell, const UnrollOptions& options)
    : cell_(std::move(cell)), options_(options) {
  check(cell_ != nullptr, "Unidirectional: cell is null");
  check_unroll_options("Unidirectional", options);
  register_module("cell", *cell_);
}

bool Unidirectional::stochastic() const {
  const UnrollOptions& o = options_;
  const bool zoneout = (o.zoneout > 0 && o.zoneout < 1) || (o.zoneout_cell > 0 && o.zoneout_cell < 1);
  return is_training() && (o.input_dropout > 0 || o.recurrent_dropout > 0 || zoneout);
}

SequenceOutput Unidirectional::forward(const Tensor& x, const State& state, const Tensor& lengths) {
  detail::check_defined("Unidirectional", x);
  check(x.dim() == 3, "Unidirectional: input must be [T, N, I], got {}", x.shape());
  State initial;
  if (state.h.defined()) {
    check_state("Unidirectional", state, 1, x.size(1));
    initial.h = reshape(state.h, {state.h.size(1), state.h.size(2)});  // [1, N, H] -> [N, H]
    if (state.c.defined()) initial.c = reshape(state.c, {state.c.size(1), state.c.size(2)});
  }
  if (runs_by_rows(*this, x, lengths))
    return forward_by_rows(x, state, lengths, [this](const Tensor& xs, const State& ss, const Tensor& ls) {
      return forward(xs, ss, ls);  // one slice: one thread (parallel_width() is 1 inside a task)
    });
  UnrollOptions options = options_;
  options.training = is_training();
  // The cell's weights do not change during the steps: products on them with a few rows of A (the
  // recurrence of a small batch, or of a slice of one) pack each weight once (detail::PackedWeightsScope).
  std::vector<detail::PackedWeightsScope::Weight> weights;
  for (const Tensor& p : cell_->parameters())
    if (p.dtype() == kFloat32) weights.push_back({p.data<float>(), p.numel()});
  const detail::PackedWeightsScope packed_weights(weights.data(), static_cast<int64_t>(weights.size()));
  SequenceOutput result = unroll_cell(*cell_, x, initial, lengths, options);
  result.state.h = unsqueeze(result.state.h, 0);  // back to [1, N, H]
  if (result.state.c.defined()) result.state.c = unsqueeze(result.state.c, 0);
  return result;
}

// ---- Bidirectional ---------------------------------------------------------------------------------
Bidirectional::Bidirectional(std::shared_ptr<SequenceLayer> forward_layer,
                             std::shared_ptr<SequenceLayer> backward_layer)
    : forward_(std::move(forward_layer)), backward_(std::move(backward_layer)) {
  check(forward_ && backward_, "Bidirectional: both directions need a layer");
  register_module("forward", *forward_);
  register_module("backward", *backward_);
}

int64_t Bidirectional::output_size() const { return forward_->output_size() + backward_->output_size(); }
int64_t Bidirectional::state_slots() const { return forward_->state_slots() + backward_->state_slots(); }

SequenceOutput Bidirectional::forward(const Tensor& x, const State& state, const Tensor& lengths) {
  detail::check_defined("Bidirectional", x);
  check(x.dim() == 3, "Bidirectional: input must be [T, N, I], got {}", x.shape());
  const int64_t forward_slots = forward_->state_slots(), backward_slots = backward_->state_slots();
  State forward_state, backward_state;
  if (state.h.defined()) {
    check_state("Bidirectional", state, forward_slots + backward_slots, x.size(1));
    forward_state = take_slots(state, 0, forward_slots);
    backward_state = take_slots(state, forward_slots, backward_slots);
  }
  // Directions that draw random masks each run from their own generator state, seeded here from this
  // thread's generator: the same masks on whichever thread runs them, and run_pair (which re-runs a pair
  // that touched the default generator) need not run them twice.
  const bool own_generators = stochastic();
  const uint64_t seed_ahead = own_generators ? default_generator().next_u64() : 0;
  const uint64_t seed_behind = own_generators ? default_generator().next_u64() : 0;
  struct GeneratorScope {  // this thread's default generator seeded with `seed` until the scope ends
    std::optional<Generator> saved;
    GeneratorScope(bool on, uint64_t seed) {
      if (!on) return;
      saved = default_generator();
      default_generator().seed(seed);
    }
    ~GeneratorScope() {
      if (saved) default_generator() = *saved;
    }
  };
  SequenceOutput ahead, behind;
  auto run_ahead = [&](int64_t) {
    GeneratorScope scope(own_generators, seed_ahead);
    ahead = forward_->forward(x, forward_state, lengths);
  };
  auto run_behind = [&](int64_t) {
    GeneratorScope scope(own_generators, seed_behind);
    // the backward direction reads every sequence from its own last real step to its first
    behind = backward_->forward(reverse_sequences(x, lengths), backward_state, lengths);
  };
  // The two directions are independent: on two threads when there are two (the same nodes and values as one
  // after the other, see run_pair), in training and inference (see may_run_on_threads). Training with the
  // directions paired: bench/rnn_bench lstm 2 32 35 128 256 1 ran at 12833 tokens/s against 11732 one after
  // the other (median of 3 alternated, idle machine, 2026-12-02), once a graph recorded on a worker thread
  // could return its buffers to that thread (framework/tensor.cpp; before that it was 4x slower).
  if (may_run_on_threads(x)) {
    detail::run_pair(run_ahead, run_behind);
  } else {
    run_ahead(0);
    run_behind(0);
  }
  return {concat({ahead.output, reverse_sequences(behind.output, lengths)}, 2),
          concat_states({ahead.state, behind.state})};
}

// ---- Stacked ---------------------------------------------------------------------------------------
Stacked::Stacked(std::vector<std::shared_ptr<SequenceLayer>> layers, double dropout)
    : layers_(std::move(layers)), dropout_(dropout) {
  check(!layers_.empty(), "Stacked: needs at least one layer");
  check(dropout >= 0 && dropout < 1, "Stacked: dropout {} is outside [0, 1)", dropout);
  for (size_t i = 0; i < layers_.size(); ++i) {
    check(layers_[i] != nullptr, "Stacked: layer {} is null", i);
    register_module(std::to_string(i), *layers_[i]);
  }
}

int64_t Stacked::state_slots() const {
  int64_t slots = 0;
  for (const auto& layer : layers_) slots += layer->state_slots();
  return slots;
}

bool Stacked::stochastic() const {
  if (is_training() && dropout_ > 0) return true;
  for (const auto& layer : layers_)
    if (layer->stochastic()) return true;
  return false;
}

std::string Stacked::describe() const {
  return fmt::format("Stacked(layers={}, dropout={})", layers_.size(), dropout_);
}

bool Stacked::causal() const {
  for (const auto& layer : layers_)
    if (!layer->causal()) return false;
  return true;
}

bool Stacked::rows_independent() const {
  for (const auto& layer : layers_)
    if (!layer->rows_independent()) return false;
  return true;
}

SequenceOutput Stacked::forward(const Tensor& x, const State& state, const Tensor& lengths) {
  detail::check_defined("Stacked", x);
  check(x.dim() == 3, "Stacked: input must be [T, N, I], got {}", x.shape());
  if (state.h.defined()) check_state("Stacked", state, state_slots(), x.size(1));
  if (runs_by_rows(*this, x, lengths))
    return forward_by_rows(x, state, lengths, [this](const Tensor& xs, const State& ss, const Tensor& ls) {
      return forward_layers(xs, ss, ls);
    });
  if (runs_as_wavefront(x, lengths)) return forward_wavefront(x, state);
  return forward_layers(x, state, lengths);
}

// The layers one after the other.
SequenceOutput Stacked::forward_layers(const Tensor& x, const State& state, const Tensor& lengths) {
  Tensor input = x;
  std::vector<State> finals;
  int64_t first_slot = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const int64_t slots = layers_[i]->state_slots();
    SequenceOutput out =
        layers_[i]->forward(input, state.h.defined() ? take_slots(state, first_slot, slots) : State(), lengths);
    first_slot += slots;
    finals.push_back(std::move(out.state));
    const bool last = i + 1 == layers_.size();
    input = (!last && dropout_ > 0) ? dropout(out.output, dropout_, is_training()) : out.output;
  }
  return {input, concat_states(finals)};
}

// ---- Stacked as a wavefront ------------------------------------------------------------------------
// Stretches of time the sequence is cut into: each layer's step-by-step recurrence runs on one thread
// without waiting for the other within a stretch, and the stages (stretches + layers - 1 of them) are
// joined once each. Fewer stretches waste more at the start and end (the pipeline runs half empty for one
// stretch of each), more pay more joins and smaller input projections. Measured (bench/rnn_bench --no-grad,
// 2 threads, 3 alternated runs, 2026-12-03): lstm 2x64 N16 T50: 10 stretches 1.27x one layer after the
// other, 17 1.16x, 50 (one step each) 0.98x; lstm 2x256 N32 T35: 4 stretches 1.08x, 8 1.15x, 12 1.14x,
// 35 1.17x; gru 2x256: 8 1.20x, 18 1.24x.
constexpr int64_t kWavefrontStretches = 10;

namespace {
// Steps per stretch for T steps of N sequences: T / kWavefrontStretches, or more where needed for each
// stretch's input projection (stretch * N rows, N for the last stretch's remainder too) to take the kernel
// path of the whole sequence's (T * N rows; detail::gemm_rows_class): then every row of it is computed as in
// one call on the whole sequence, to the bit. 0 when only one stretch would do.
int64_t wavefront_stretch(int64_t T, int64_t N) {
  const int whole = detail::gemm_rows_class(T * N);
  for (int64_t stretch = (T + kWavefrontStretches - 1) / kWavefrontStretches; stretch < T; ++stretch) {
    const int64_t last = T - (T - 1) / stretch * stretch;  // steps of the last stretch
    if (detail::gemm_rows_class(stretch * N) == whole && detail::gemm_rows_class(last * N) == whole) return stretch;
  }
  return 0;
}
}  // namespace

bool Stacked::runs_as_wavefront(const Tensor& x, const Tensor& lengths) const {
  // Inference only: a recorded graph would get one input-projection node per stretch, and the weight
  // gradient summed over those is not bit-identical to the one-call graph of one thread. Per-sequence
  // lengths are not cut into stretches (one layer after the other then).
  return layers_.size() >= 2 && !lengths.defined() && x.size(0) >= 2 && inference_on_threads(*this, x) &&
         causal() && wavefront_stretch(x.size(0), x.size(1)) > 0;
}

SequenceOutput Stacked::forward_wavefront(const Tensor& x, const State& state) {
  const int64_t T = x.size(0), L = static_cast<int64_t>(layers_.size());
  const int64_t stretch = wavefront_stretch(T, x.size(1));
  const int64_t K = (T + stretch - 1) / stretch;  // stretches
  std::vector<State> states(L);                    // each layer's state after the stretches it has done
  for (int64_t i = 0, first_slot = 0; i < L; ++i) {
    const int64_t slots = layers_[i]->state_slots();
    if (state.h.defined()) states[i] = take_slots(state, first_slot, slots);
    first_slot += slots;
  }
  std::vector<std::vector<Tensor>> outputs(L, std::vector<Tensor>(K));  // [layer][stretch]: [len, N, O]
  // Stage s: layer i works on stretch s - i (those of the layers for which it exists), all at once.
  for (int64_t s = 0; s < K + L - 1; ++s) {
    const int64_t first = std::max<int64_t>(0, s - K + 1), last = std::min(L - 1, s);
    auto work = [&](int64_t j) {
      const int64_t i = first + j, k = s - i;
      const Tensor input = i == 0 ? narrow(x, 0, k * stretch, std::min(stretch, T - k * stretch)) : outputs[i - 1][k];
      SequenceOutput out = layers_[i]->forward(input, states[i], Tensor());
      states[i] = std::move(out.state);
      outputs[i][k] = (i + 1 < L && dropout_ > 0) ? dropout(out.output, dropout_, is_training()) : out.output;
    };
    detail::run_independent(last - first + 1, work);
  }
  return {concat(outputs[L - 1], 0), concat_states(states)};
}

}  // namespace unroll::layers
