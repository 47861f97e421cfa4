// Tests for layers/sequence.cpp: Unidirectional, Bidirectional and Stacked around any sequence layer.
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

#include <algorithm>
#include <mutex>
#include <optional>

using namespace unroll;
using namespace unroll::layers;

namespace {
class SumCell : public Cell {  // h' = h + x, I = H = 1
 public:
  int64_t input_size() const override { return 1; }
  int64_t output_size() const override { return 1; }
  State step(const Tensor& x, const State& s) override { return {add(s.h, x), Tensor()}; }
  State initial_state(int64_t batch) const override { return {zeros({batch, 1}), Tensor()}; }
  std::string describe() const override { return "SumCell"; }
};
std::shared_ptr<SequenceLayer> sum_layer() { return std::make_shared<Unidirectional>(std::make_shared<SumCell>()); }
}  // namespace

namespace {
// A causal layer that remembers the length of every stretch it was called on (from any thread).
class RecordingLayer : public SequenceLayer {
 public:
  explicit RecordingLayer(bool causal, bool rows_independent = false)
      : inner_(sum_layer()), causal_(causal), rows_independent_(rows_independent) {}
  int64_t output_size() const override { return 1; }
  int64_t state_slots() const override { return 1; }
  SequenceOutput forward(const Tensor& x, const State& state, const Tensor& lengths) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      calls.push_back(x.size(0));
      batches.push_back(x.size(1));
    }
    return inner_->forward(x, state, lengths);
  }
  bool causal() const override { return causal_; }
  bool rows_independent() const override { return rows_independent_; }
  std::string describe() const override { return "RecordingLayer"; }
  std::vector<int64_t> calls;    // steps of each call
  std::vector<int64_t> batches;  // batch rows of each call

 private:
  std::shared_ptr<SequenceLayer> inner_;
  bool causal_, rows_independent_;
  std::mutex mutex_;
};

// SumCell that remembers the batch rows of every step (from any thread).
class RecordingCell : public SumCell {
 public:
  State step(const Tensor& x, const State& s) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      rows.push_back(x.size(0));
    }
    return SumCell::step(x, s);
  }
  std::vector<int64_t> rows;

 private:
  std::mutex mutex_;
};

struct Threads {
  int saved = get_num_threads();
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(saved); }
};
}  // namespace

TEST_CASE("Stacked runs causal layers as a wavefront in inference on two threads, with the same results") {
  // running sums of running sums: layer 2 of x = 1, 2, ..., 25 (one sequence), from states 1 and 2
  const int64_t T = 25;
  std::vector<real> steps(T);
  for (int64_t t = 0; t < T; ++t) steps[t] = static_cast<real>(t + 1);
  const Tensor x = tensor(steps, {T, 1, 1});
  const State start{tensor(std::vector<real>{1, 2}, {2, 1, 1}), Tensor()};
  std::vector<real> expected(T);
  real first = 1, second = 2;
  for (int64_t t = 0; t < T; ++t) expected[t] = second += first += steps[t];
  auto run = [&](bool causal, bool grad) {
    auto lower = std::make_shared<RecordingLayer>(causal), upper = std::make_shared<RecordingLayer>(causal);
    Stacked stack({lower, upper});
    std::optional<NoGradGuard> no_grad;
    if (!grad) no_grad.emplace();
    const auto [y, state] = stack(x, start);
    CHECK(y.to_vector() == expected);
    CHECK(state.h.to_vector() == std::vector<real>{first, second});
    return std::pair{lower->calls, upper->calls};
  };
  Threads two(2);
  // 10 stretches of 3 steps wanted; each stretch's projection (3 rows: 1 sequence x 3 steps, 1 for the last)
  // would take another kernel path than the whole sequence's 25 rows, so the stretches grow until they and
  // the last one are in the whole's class of rows (detail::gemm_rows_class): 13 and 12
  const std::vector<int64_t> stretches{13, 12};
  CHECK(run(true, false) == std::pair{stretches, stretches});
  CHECK(run(false, false) == std::pair{std::vector<int64_t>{T}, std::vector<int64_t>{T}});  // not causal
  CHECK(run(true, true) == std::pair{std::vector<int64_t>{T}, std::vector<int64_t>{T}});  // recording a graph
  {
    Threads one(1);
    CHECK(run(true, false) == std::pair{std::vector<int64_t>{T}, std::vector<int64_t>{T}});
  }
}

TEST_CASE("Stacked and Unidirectional run slices of the batch on two threads in inference, with the same results") {
  // running sums of running sums over 3 steps of 9 sequences of lengths 1 .. 3, from given states
  const int64_t T = 3, N = 9;
  std::vector<real> steps(T * N), first_states(2 * N);
  for (size_t i = 0; i < steps.size(); ++i) steps[i] = static_cast<real>(i + 1);
  for (size_t i = 0; i < first_states.size(); ++i) first_states[i] = static_cast<real>(100 * i);
  const Tensor x = tensor(steps, {T, N, 1}), lengths = tensor({1, 2, 3, 3, 2, 1, 3, 3, 2});
  const State start{tensor(first_states, {2, N, 1}), Tensor()};
  struct Seen {
    std::vector<real> output, state;
    std::vector<int64_t> lower_batches, upper_batches;
  };
  auto run = [&](bool rows_independent, bool grad, const Tensor& lens) {
    auto lower = std::make_shared<RecordingLayer>(true, rows_independent);
    auto upper = std::make_shared<RecordingLayer>(true, rows_independent);
    Stacked stack({lower, upper});
    std::optional<NoGradGuard> no_grad;
    if (!grad) no_grad.emplace();
    const auto [y, state] = stack(x, start, lens);
    std::sort(lower->batches.begin(), lower->batches.end());
    std::sort(upper->batches.begin(), upper->batches.end());
    return Seen{y.to_vector(), state.h.to_vector(), lower->batches, upper->batches};
  };
  for (const Tensor& lens : {Tensor(), lengths}) {
    CAPTURE(lens.defined());
    Seen one;
    {
      Threads single(1);
      one = run(true, false, lens);
      CHECK(one.lower_batches == std::vector<int64_t>{N});
    }
    Threads two(2);
    const Seen sliced = run(true, false, lens);
    CHECK(sliced.lower_batches == std::vector<int64_t>{4, 5});  // 9 rows: slices of 4 and 5
    CHECK(sliced.upper_batches == std::vector<int64_t>{4, 5});
    CHECK(sliced.output == one.output);
    CHECK(sliced.state == one.state);
    // rows not declared independent (causal only: a wavefront without lengths), or a graph recorded: whole
    for (const auto& [rows, grad] : {std::pair{false, false}, std::pair{true, true}}) {
      const Seen whole = run(rows, grad, lens);
      CHECK(std::all_of(whole.lower_batches.begin(), whole.lower_batches.end(), [](int64_t n) { return n == N; }));
      CHECK(whole.output == one.output);
    }
  }
  // Unidirectional on its own: its cell sees steps of 4 and 5 rows (3 steps each), and the same sums
  auto cell = std::make_shared<RecordingCell>();
  Unidirectional layer(cell);
  const State start_one{narrow(start.h, 0, 0, 1), Tensor()};
  NoGradGuard no_grad;
  SequenceOutput sliced, whole;
  {
    Threads two(2);
    sliced = layer(x, start_one, lengths);
  }
  std::vector<int64_t> rows = cell->rows;
  std::sort(rows.begin(), rows.end());
  CHECK(rows == std::vector<int64_t>{4, 4, 4, 5, 5, 5});
  {
    Threads single(1);
    whole = layer(x, start_one, lengths);
  }
  CHECK(sliced.output.to_vector() == whole.output.to_vector());
  CHECK(sliced.state.h.to_vector() == whole.state.h.to_vector());
  // batches too small to pay for a second thread stay whole: 7 rows (slices of at least 4)
  cell->rows.clear();
  {
    Threads two(2);
    layer(narrow(x, 1, 0, 7));
  }
  CHECK(cell->rows == std::vector<int64_t>{7, 7, 7});
}

TEST_CASE("Bidirectional: the backward direction starts at each sequence's true end") {
  Bidirectional bi(sum_layer(), sum_layer());
  const Tensor x = tensor({1.0, 10.0, 2.0, 20.0, 3.0, 30.0}).reshape({3, 2, 1});  // seq 0: 1 2 (3 is padding)
  const auto [y, state] = bi(x, {}, tensor({2, 3}));
  CHECK(y.shape() == Shape{3, 2, 2});
  // forward running sums | backward sums from the end: seq 0 = [1|3, 3|2, 0|0]; seq 1 = [10|60, 30|50, 60|30]
  CHECK(y.to_vector() == std::vector<real>{1, 3, 10, 60, 3, 2, 30, 50, 0, 0, 60, 30});
  CHECK(state.h.shape() == Shape{2, 2, 1});
  CHECK(state.h.to_vector() == std::vector<real>{3, 60, 3, 60});  // [forward; backward] final states
}

TEST_CASE("Stacked: layers in order, state slots concatenated, dropout only in training") {
  Stacked stack({sum_layer(), sum_layer()}, 0.5);
  const Tensor x = tensor({1.0, 2.0, 3.0}).reshape({3, 1, 1});
  stack.eval();
  const auto [y, state] = stack(x);
  CHECK(y.to_vector() == std::vector<real>{1, 4, 10});  // sums of sums
  CHECK(state.h.to_vector() == std::vector<real>{6, 10});
  CHECK(stack.state_slots() == 2);
  // carried state goes to the right layer
  const auto next = stack(tensor({0.0}).reshape({1, 1, 1}), state);
  CHECK(next.state.h.to_vector() == std::vector<real>{6, 16});
  stack.train();
  manual_seed(3);
  const Tensor dropped = stack(ones({50, 1, 1})).output;
  CHECK(dropped.to_vector() != stack.layer(0)(ones({50, 1, 1})).output.to_vector());
  CHECK_THROWS_WITH_AS(stack(x, {zeros({3, 1, 1}), Tensor()}),
                       "Stacked: state tensors must be [2, 1, H] (slots, batch, hidden), got [3, 1, 1]", Error);
}

TEST_CASE("wrappers compose any cell into a deep bidirectional network, differentiably") {
  auto bi_gru = [] {
    return std::make_shared<Bidirectional>(
        std::make_shared<Unidirectional>(std::make_shared<GRUCell>(GRUCellOptions{.input_size = 2, .hidden_size = 2})),
        std::make_shared<Unidirectional>(std::make_shared<GRUCell>(GRUCellOptions{.input_size = 2, .hidden_size = 2})));
  };
  auto upper = std::make_shared<Bidirectional>(
      std::make_shared<Unidirectional>(std::make_shared<JordanCell>(JordanCellOptions{4, 3, 2})),
      std::make_shared<Unidirectional>(std::make_shared<JordanCell>(JordanCellOptions{4, 3, 2})));
  Stacked net({bi_gru(), upper});
  CHECK(net.named_parameters().front().first == "0.forward.cell.weight_ih");
  net.to(kFloat64);  // gradcheck works in float64
  Generator gen(1);
  Tensor x = uniform({3, 2, 2}, -1, 1, kFloat64, gen);
  x.requires_grad_();
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : net.parameters()) inputs.push_back(p);
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        const auto out = net(in[0], {}, tensor({3, 2}));
        return concat({reshape(out.output, {-1}), reshape(out.state.h, {-1})}, 0);
      },
      inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("Unidirectional forwards variational dropout and zoneout, in training only for the random parts") {
  auto cell = std::make_shared<LSTMCell>(LSTMCellOptions{.input_size = 3, .hidden_size = 4});
  Unidirectional plain(cell);
  Unidirectional noisy(cell, {.input_dropout = 0.5, .recurrent_dropout = 0.5});
  Unidirectional frozen(cell, {.zoneout = 1, .zoneout_cell = 1});
  CHECK(!plain.stochastic());
  CHECK(noisy.stochastic());
  CHECK(!frozen.stochastic());  // z = 1 draws nothing
  const Tensor x = randn({4, 2, 3});
  const auto reference = plain(x);
  CHECK(noisy(x).output.to_vector() != reference.output.to_vector());
  noisy.eval();
  CHECK(!noisy.stochastic());
  CHECK(noisy(x).output.to_vector() == reference.output.to_vector());
  const State s0{randn({1, 2, 4}), randn({1, 2, 4})};
  const auto kept = frozen(x, s0);
  CHECK(kept.state.h.to_vector() == s0.h.to_vector());
  CHECK(kept.state.c.to_vector() == s0.c.to_vector());
  CHECK_THROWS_WITH_AS(Unidirectional(cell, {.recurrent_dropout = 1}),
                       "Unidirectional: recurrent_dropout 1 is outside [0, 1)", Error);
}

TEST_CASE("Bidirectional with random masks: reproducible from manual_seed, each direction its own masks") {
  auto make = [] {
    auto cell = std::make_shared<LSTMCell>(LSTMCellOptions{.input_size = 3, .hidden_size = 4});
    return std::make_shared<Unidirectional>(cell, UnrollOptions{.input_dropout = 0.5, .zoneout = 0.3});
  };
  manual_seed(30);
  Bidirectional bi(make(), make());
  CHECK(bi.stochastic());
  Stacked stack({std::make_shared<Bidirectional>(make(), make())});
  CHECK(stack.stochastic());
  const Tensor x = randn({6, 3, 3});
  const Tensor lengths = tensor({6, 2, 5});
  manual_seed(31);
  const auto a = bi(x, {}, lengths);
  manual_seed(31);
  const auto b = bi(x, {}, lengths);
  CHECK(a.output.to_vector() == b.output.to_vector());
  CHECK(a.state.c.to_vector() == b.state.c.to_vector());
  const auto c = bi(x, {}, lengths);  // the caller's generator moved on
  CHECK(c.output.to_vector() != a.output.to_vector());
  sum(a.output).backward();  // differentiable through both directions' masks
  bi.eval();
  CHECK(!bi.stochastic());
  CHECK(bi(x, {}, lengths).output.to_vector() == bi(x, {}, lengths).output.to_vector());
}
