// Tests for layers/unroller.cpp: the loop over time, ragged batches, per-sequence reversal.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <unroll/unroll.hpp>
#include <utility>

using namespace unroll;
using namespace unroll::layers;

namespace {
// A user's cell, written as a user would: running sum of inputs, h' = h + x (I = H = 1).
class SumCell : public Cell {
 public:
  int64_t input_size() const override { return 1; }
  int64_t output_size() const override { return 1; }
  State step(const Tensor& x, const State& s) override { return {add(s.h, x), Tensor()}; }
  State initial_state(int64_t batch) const override { return {zeros({batch, 1}), Tensor()}; }
  std::string describe() const override { return "SumCell"; }
};

Tensor column(std::initializer_list<real> values, int64_t T, int64_t N) { return tensor(values).reshape({T, N, 1}); }
}  // namespace

TEST_CASE("unroll_cell runs any cell over time") {
  SumCell cell;
  // x: [T=3, N=2, 1]; sequence 0 = 1, 2, 3; sequence 1 = 10, 20, 30
  const auto [y, state] = unroll_cell(cell, column({1, 10, 2, 20, 3, 30}, 3, 2));
  CHECK(y.to_vector() == std::vector<real>{1, 10, 3, 30, 6, 60});
  CHECK(state.h.to_vector() == std::vector<real>{6, 60});
  const auto carried = unroll_cell(cell, column({1, 1}, 1, 2), state);  // carried state
  CHECK(carried.state.h.to_vector() == std::vector<real>{7, 61});
}

TEST_CASE("ragged batch: padded steps keep the state and output zeros") {
  SumCell cell;
  const Tensor x = column({1, 10, 2, 20, 3, 30}, 3, 2);
  const auto [y, state] = unroll_cell(cell, x, {}, tensor({2, 3}));
  CHECK(y.to_vector() == std::vector<real>{1, 10, 3, 30, 0, 60});  // t = 2 is padding for sequence 0
  CHECK(state.h.to_vector() == std::vector<real>{3, 60});          // taken at the true last step
  const auto empty_seq = unroll_cell(cell, x, {}, tensor({0, 3}));
  CHECK(empty_seq.state.h.to_vector() == std::vector<real>{0, 60});
}

TEST_CASE("gradients never flow through padded steps") {
  SumCell cell;
  Tensor x = column({1, 10, 2, 20, 3, 30}, 3, 2);
  x.requires_grad_();
  const auto [y, state] = unroll_cell(cell, x, {}, tensor({2, 3}));
  sum(state.h).backward();
  CHECK(x.grad().to_vector() == std::vector<real>{1, 1, 1, 1, 0, 1});
}

TEST_CASE("reverse_sequences reverses each sequence within its length") {
  const Tensor x = column({1, 10, 2, 20, 3, 30}, 3, 2);
  CHECK(reverse_sequences(x, tensor({2, 3})).to_vector() == std::vector<real>{2, 30, 1, 20, 3, 10});
  CHECK(reverse_sequences(x, Tensor()).to_vector() == std::vector<real>{3, 30, 2, 20, 1, 10});
  Tensor y = x.detach().to(kFloat64);  // gradcheck works in float64
  y.requires_grad_();
  const GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& in) {
        return reverse_sequences(in[0], tensor({2, 3}));
      },
      {y});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("unroller input and length errors") {
  SumCell cell;
  CHECK_THROWS_WITH_AS(unroll_cell(cell, ones({3, 2})), "unroll: input must be [T, N, 1] for SumCell, got [3, 2]",
                       Error);
  CHECK_THROWS_WITH_AS(unroll_cell(cell, ones({3, 2, 1}), {}, tensor({1, 4})),
                       "unroll: length 4 of sequence 1 is not in [0, 3]", Error);
  CHECK_THROWS_WITH_AS(unroll_cell(cell, ones({3, 2, 1}), {}, tensor({1})),
                       "unroll: lengths must be [2] (one per sequence), got [1]", Error);
}

TEST_CASE("lengths must be int64: floating or bool lengths are refused whatever they hold") {
  SumCell cell;
  const Tensor x = ones({3, 1, 1});
  // before lengths were int64, each one was cast from float (undefined behaviour for NaN and 1e30); now a
  // floating tensor is refused for its dtype, even when its values are whole numbers
  for (const Tensor& bad :
       {tensor({2.0}), tensor({std::numeric_limits<double>::quiet_NaN()}), tensor({1e30}), tensor({2.0}, kFloat64)}) {
    const std::string dtype = name(bad.dtype());
    CAPTURE(dtype);
    CHECK_THROWS_WITH_AS(
        unroll_cell(cell, x, {}, bad),
        ("unroll: lengths must be an int64 tensor, got " + dtype + " (shape [1]); convert with .to(kInt64)").c_str(),
        Error);
    CHECK_THROWS_WITH_AS(
        reverse_sequences(x, bad),
        ("reverse_sequences: lengths must be an int64 tensor, got " + dtype + " (shape [1]); convert with .to(kInt64)")
            .c_str(),
        Error);
  }
  CHECK_THROWS_WITH_AS(unroll_cell(cell, x, {}, tensor({true})),
                       "unroll: lengths must be an int64 tensor, got bool (shape [1]); convert with .to(kInt64)",
                       Error);
  // int64 lengths outside [0, T], the extremes included
  for (const int64_t bad :
       {int64_t{-1}, int64_t{4}, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(unroll_cell(cell, x, {}, tensor({bad})),
                         ("unroll: length " + std::to_string(bad) + " of sequence 0 is not in [0, 3]").c_str(), Error);
    CHECK_THROWS_WITH_AS(
        reverse_sequences(x, tensor({bad})),
        ("reverse_sequences: length " + std::to_string(bad) + " of sequence 0 is not in [0, 3]").c_str(), Error);
  }
  // the control: the same values as int64 work, and converting a float tensor with .to(kInt64) is the fix
  CHECK(unroll_cell(cell, x, {}, tensor({2})).state.h.item() == 2);
  CHECK(unroll_cell(cell, x, {}, tensor({2.0}).to(kInt64)).state.h.item() == 2);
  CHECK(unroll_cell(cell, x, {}, tensor({0})).state.h.item() == 0);
  CHECK(unroll_cell(cell, x, {}, tensor({3})).state.h.item() == 3);
}

TEST_CASE("backward after the cell of checkpointed segments was destroyed throws, no use-after-free") {
  Tensor x = ones({6, 2, 3});
  x.requires_grad_();
  auto cell = std::make_unique<LSTMCell>(LSTMCellOptions{.input_size = 3, .hidden_size = 4});
  const auto [y, state] = unroll_cell(*cell, x, {}, {}, {.checkpoint_every = 2});
  Tensor loss = sum(y);
  cell.reset();  // the graph still holds the segments that would replay through the cell
  CHECK_THROWS_WITH_AS(loss.backward(), "unroll: the cell of a checkpointed segment was destroyed before backward",
                       Error);
  // A cell alive at backward works as before.
  LSTMCell alive({.input_size = 3, .hidden_size = 4});
  sum(unroll_cell(alive, x, {}, {}, {.checkpoint_every = 2}).output).backward();
  CHECK(alive.weight_hh.grad().defined());
}

TEST_CASE("BPTT over 10,000 steps of an LSTM cell") {
  LSTMCell cell({.input_size = 2, .hidden_size = 3});
  Generator gen(0);
  const auto [y, state] = unroll_cell(cell, uniform({10000, 1, 2}, -1, 1, gen));
  sum(state.h).backward();
  CHECK(cell.weight_hh.grad().defined());
  for (real g : cell.weight_hh.grad().to_vector()) CHECK(std::isfinite(g));
}

// Regression found by tests/fuzz/fuzz_ops.cpp (unroll_cell_any): an initial state with more rows than x has
// sequences made the padding mask read lengths[] past its end (a cell that broadcasts, like JordanCell,
// accepted the state). The unroller now checks every initial state component is [N, H].
TEST_CASE("an initial state whose batch differs from x is refused, with or without lengths") {
  JordanCell jordan({.input_size = 2, .hidden_size = 3, .output_size = 2});
  GRUCell gru({.input_size = 2, .hidden_size = 2});
  const Tensor x = zeros({3, 1, 2});  // T = 3, N = 1
  const Tensor lengths = tensor({2});
  CHECK_THROWS_AS(unroll_cell(jordan, x, State{zeros({3, 2}), Tensor()}, lengths), Error);
  CHECK_THROWS_AS(unroll_cell(gru, x, State{zeros({4, 2}), Tensor()}, lengths), Error);
  CHECK_THROWS_AS(unroll_cell(gru, x, State{zeros({2}), Tensor()}), Error);
  CHECK_THROWS_AS(unroll_cell(gru, Tensor()), Error);
  CHECK_THROWS_AS(reverse_sequences(Tensor(), lengths), Error);
  CHECK_NOTHROW(unroll_cell(jordan, x, State{zeros({1, 2}), Tensor()}, lengths));
}

// ---- variational dropout and zoneout (UnrollOptions) -----------------------------------------------
namespace {
// h' = h + x over W units (I = H = W): shows exactly what the step read and what it carried.
class AddCell : public Cell {
 public:
  explicit AddCell(int64_t width) : width_(width) {}
  int64_t input_size() const override { return width_; }
  int64_t output_size() const override { return width_; }
  State step(const Tensor& x, const State& s) override { return {add(s.h, x), Tensor()}; }
  State initial_state(int64_t batch) const override { return {zeros({batch, width_}), Tensor()}; }
  std::string describe() const override { return "AddCell"; }

 private:
  int64_t width_;
};

std::vector<real> step_values(const Tensor& y, int64_t t) { return narrow(y, 0, t, 1).to_vector(); }  // y[t]
}  // namespace

TEST_CASE("variational input dropout: one mask per sequence, the same at every step, scaled 1/(1-p)") {
  AddCell cell(16);
  manual_seed(1);
  // x = ones from h0 = 0: y[t] = (t + 1) * mask, mask in {0, 2} per (sequence, unit)
  const auto [y, state] = unroll_cell(cell, ones({4, 8, 16}), {}, {}, {.input_dropout = 0.5});
  const std::vector<real> mask = step_values(y, 0);
  int64_t zeros_seen = 0, kept = 0;
  for (real m : mask) {
    CHECK((m == 0 || m == 2));
    zeros_seen += m == 0;
    kept += m == 2;
  }
  CHECK(zeros_seen > 20);  // 128 draws with p = 1/2
  CHECK(kept > 20);
  for (int64_t t = 1; t < 4; ++t) {
    const std::vector<real> yt = step_values(y, t);
    for (size_t k = 0; k < mask.size(); ++k) CHECK(yt[k] == real(t + 1) * mask[k]);
  }
  // the sequences of the batch have different masks
  const Tensor first = narrow(y, 0, 0, 1);  // [1, 8, 16]
  CHECK(narrow(first, 1, 0, 1).to_vector() != narrow(first, 1, 1, 1).to_vector());
}

TEST_CASE("variational recurrent dropout: the step reads h under one fixed mask, the carried h is unmasked") {
  AddCell cell(16);
  manual_seed(2);
  // h0 = 1, x = 0: h_t = h_{t-1} * m, so y[t] = m^(t+1) only if the same mask m is used at every step
  const auto [y, state] =
      unroll_cell(cell, zeros({4, 8, 16}), {ones({8, 16}), Tensor()}, {}, {.recurrent_dropout = 0.5});
  const std::vector<real> m = step_values(y, 0);
  int64_t dropped = 0;
  for (real v : m) {
    CHECK((v == 0 || v == 2));
    dropped += v == 0;
  }
  CHECK(dropped > 20);
  CHECK(dropped < 108);
  for (int64_t t = 1; t < 4; ++t) {
    const std::vector<real> yt = step_values(y, t);
    for (size_t k = 0; k < m.size(); ++k) CHECK(yt[k] == std::pow(m[k], real(t + 1)));
  }
  CHECK(state.h.to_vector() == step_values(y, 3));  // the final state is the last output, not re-masked
}

TEST_CASE("dropout options do nothing at eval; eval is deterministic; training is reproducible by seed") {
  LSTMCell cell({.input_size = 3, .hidden_size = 4});
  Generator gen(3);
  const Tensor x = uniform({5, 2, 3}, -1, 1, gen);
  const UnrollOptions noisy{.input_dropout = 0.3, .recurrent_dropout = 0.4, .training = false};
  const auto plain = unroll_cell(cell, x);
  const auto eval1 = unroll_cell(cell, x, {}, {}, noisy);
  const auto eval2 = unroll_cell(cell, x, {}, {}, noisy);
  CHECK(eval1.output.to_vector() == plain.output.to_vector());
  CHECK(eval2.output.to_vector() == plain.output.to_vector());
  UnrollOptions training = noisy;
  training.training = true;
  manual_seed(4);
  const auto a = unroll_cell(cell, x, {}, {}, training);
  manual_seed(4);
  const auto b = unroll_cell(cell, x, {}, {}, training);
  CHECK(a.output.to_vector() == b.output.to_vector());
  CHECK(a.output.to_vector() != plain.output.to_vector());
  const auto c = unroll_cell(cell, x, {}, {}, training);  // the generator moved on: new masks
  CHECK(c.output.to_vector() != a.output.to_vector());
}

TEST_CASE("zoneout: z = 0 is the plain recurrence, z = 1 keeps the initial state, eval takes the expectation") {
  LSTMCell lstm({.input_size = 3, .hidden_size = 4});
  Generator gen(5);
  const Tensor x = uniform({5, 2, 3}, -1, 1, gen);
  const State s0{uniform({2, 4}, -1, 1, gen), uniform({2, 4}, -1, 1, gen)};
  const auto plain = unroll_cell(lstm, x, s0);
  const auto zero = unroll_cell(lstm, x, s0, {}, {.zoneout = 0, .zoneout_cell = 0});
  CHECK(zero.output.to_vector() == plain.output.to_vector());
  for (bool training : {true, false}) {
    CAPTURE(training);
    const auto frozen = unroll_cell(lstm, x, s0, {}, {.zoneout = 1, .zoneout_cell = 1, .training = training});
    CHECK(frozen.state.h.to_vector() == s0.h.to_vector());
    CHECK(frozen.state.c.to_vector() == s0.c.to_vector());
    for (int64_t t = 0; t < 5; ++t) CHECK(step_values(frozen.output, t) == s0.h.to_vector());
    // only c frozen: h still moves
    const auto c_frozen = unroll_cell(lstm, x, s0, {}, {.zoneout_cell = 1, .training = training});
    CHECK(c_frozen.state.c.to_vector() == s0.c.to_vector());
    CHECK(c_frozen.state.h.to_vector() != s0.h.to_vector());
  }
  // eval: h_t = z h_{t-1} + (1 - z)(h_{t-1} + x_t) = h_{t-1} + (1 - z) x_t for the adding cell
  AddCell cell(2);
  const Tensor ones_x = ones({3, 1, 2});
  const auto expected = unroll_cell(cell, ones_x, {}, {}, {.zoneout = 0.25, .training = false});
  const std::vector<real> want = {0.75, 0.75, 1.5, 1.5, 2.25, 2.25};
  const std::vector<real> got = expected.output.to_vector();
  for (size_t k = 0; k < want.size(); ++k) CHECK(got[k] == doctest::Approx(want[k]).epsilon(1e-6));
}

TEST_CASE("zoneout in training: per step and unit, either the previous value or the new one") {
  AddCell cell(32);
  manual_seed(6);
  // x = ones: each step each unit either stays (zoned out) or adds 1
  const auto [y, state] = unroll_cell(cell, ones({6, 4, 32}), {}, {}, {.zoneout = 0.5});
  std::vector<real> previous(4 * 32, 0);
  int64_t kept = 0, updated = 0;
  std::vector<std::vector<bool>> kept_at(6);
  for (int64_t t = 0; t < 6; ++t) {
    const std::vector<real> yt = step_values(y, t);
    for (size_t k = 0; k < yt.size(); ++k) {
      const real d = yt[k] - previous[k];
      CHECK((d == 0 || d == 1));
      kept += d == 0;
      updated += d == 1;
      kept_at[t].push_back(d == 0);
    }
    previous = yt;
  }
  CHECK(kept > 200);  // 768 draws with z = 1/2
  CHECK(updated > 200);
  CHECK(kept_at[0] != kept_at[1]);  // a fresh mask at every step (unlike variational dropout)
}

TEST_CASE("variational dropout and zoneout: gradcheck (float64, fixed seed), ragged batch, checkpointing agrees") {
  LSTMCell cell({.input_size = 3, .hidden_size = 3});
  cell.to(kFloat64);
  Generator gen(7);
  Tensor x = uniform({4, 2, 3}, -1, 1, kFloat64, gen).requires_grad_();
  Tensor h0 = uniform({2, 3}, -0.5, 0.5, kFloat64, gen).requires_grad_();
  Tensor c0 = uniform({2, 3}, -0.5, 0.5, kFloat64, gen).requires_grad_();
  std::vector<Tensor> inputs = {x, h0, c0};
  for (const Tensor& p : cell.parameters()) inputs.push_back(p);
  const Tensor lengths = tensor({4, 3});
  for (bool training : {true, false}) {
    CAPTURE(training);
    const UnrollOptions options{
        .input_dropout = 0.3, .recurrent_dropout = 0.3, .zoneout = 0.3, .zoneout_cell = 0.4, .training = training};
    const GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& in) {
          manual_seed(11);  // the same masks at every evaluation
          const auto out = unroll_cell(cell, in[0], {in[1], in[2]}, lengths, options);
          return concat({reshape(out.output, {-1}), reshape(out.state.h, {-1}), reshape(out.state.c, {-1})}, 0);
        },
        inputs);
    CHECK_MESSAGE(r.ok, r.message);
  }
  // checkpointed segments replay the same masks: the same values and gradients as the plain unroll
  const UnrollOptions options{.input_dropout = 0.3, .recurrent_dropout = 0.3, .zoneout = 0.3, .zoneout_cell = 0.4};
  UnrollOptions checkpointed = options;
  checkpointed.checkpoint_every = 2;
  std::vector<std::vector<double>> grads[2];
  std::vector<double> outputs[2];
  for (int run = 0; run < 2; ++run) {
    for (Tensor& t : inputs) t.zero_grad();
    manual_seed(12);
    const auto out = unroll_cell(cell, x, {h0, c0}, lengths, run == 0 ? options : checkpointed);
    add(sum(mul(out.output, out.output)), sum(out.state.c)).backward();
    outputs[run] = out.output.to_vector<double>();
    for (const Tensor& t : inputs) grads[run].push_back(t.grad().to_vector<double>());
  }
  CHECK(outputs[0] == outputs[1]);
  for (size_t i = 0; i < grads[0].size(); ++i)
    for (size_t k = 0; k < grads[0][i].size(); ++k)
      CHECK(grads[1][i][k] == doctest::Approx(grads[0][i][k]).epsilon(1e-12));
}

TEST_CASE("dropout and zoneout rates outside their ranges are refused") {
  AddCell cell(2);
  const Tensor x = ones({2, 1, 2});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double p : {-0.1, 1.0, 1.5, nan}) {
    CAPTURE(p);
    CHECK_THROWS_AS(unroll_cell(cell, x, {}, {}, {.input_dropout = p}), Error);
    CHECK_THROWS_AS(unroll_cell(cell, x, {}, {}, {.recurrent_dropout = p}), Error);
  }
  CHECK_THROWS_WITH_AS(unroll_cell(cell, x, {}, {}, {.input_dropout = 1}), "unroll: input_dropout 1 is outside [0, 1)",
                       Error);
  CHECK_THROWS_WITH_AS(unroll_cell(cell, x, {}, {}, {.recurrent_dropout = -0.5}),
                       "unroll: recurrent_dropout -0.5 is outside [0, 1)", Error);
  CHECK_THROWS_WITH_AS(unroll_cell(cell, x, {}, {}, {.zoneout = 1.5}), "unroll: zoneout 1.5 is outside [0, 1]", Error);
  CHECK_THROWS_WITH_AS(unroll_cell(cell, x, {}, {}, {.zoneout_cell = -1}), "unroll: zoneout_cell -1 is outside [0, 1]",
                       Error);
  CHECK_THROWS_AS(unroll_cell(cell, x, {}, {}, {.zoneout = nan}), Error);
  CHECK_THROWS_WITH_AS(unroll_cell(cell, x, {}, {}, {.zoneout_cell = 0.5}),
                       "unroll: zoneout_cell 0.5 needs a cell state c, and AddCell has none", Error);
  // the limits themselves are accepted
  CHECK_NOTHROW(unroll_cell(cell, x, {}, {}, {.input_dropout = 0, .recurrent_dropout = 0.999, .zoneout = 1}));
}
