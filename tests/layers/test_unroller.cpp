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
