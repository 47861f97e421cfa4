// Tests for layers/rnn.cpp: the RNN / LSTM / GRU modules' API, names, options and errors. Numerical
// agreement with PyTorch is in test_rnn_vs_torch.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

TEST_CASE("the documented API: stacked bidirectional LSTM, ragged batch, carried state") {
  LSTM lstm({.input_size = 8, .hidden_size = 16, .num_layers = 2, .bidirectional = true});
  const Tensor x = randn({35, 4, 8});  // [T, N, I]
  auto [y, state] = lstm(x);
  CHECK(y.shape() == Shape{35, 4, 32});
  CHECK(state.h.shape() == Shape{4, 4, 16});
  CHECK(state.c.shape() == Shape{4, 4, 16});
  const Tensor lengths = tensor({35, 20, 7, 1});
  auto [y2, s2] = lstm(x, state, lengths);
  CHECK(y2.at({34, 1, 0}) == 0);  // padding is zero in the output
  CHECK(s2.h.shape() == Shape{4, 4, 16});
}

TEST_CASE("parameter names and order are PyTorch's") {
  GRU gru({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
  std::vector<std::string> names;
  for (const auto& [name, _] : gru.named_parameters()) names.push_back(name);
  const std::vector<std::string> expected = {
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  CHECK(names == expected);
  CHECK(gru.named_parameters()[8].second.shape() == Shape{12, 8});  // layer 1 reads both directions
  RNN rnn({.input_size = 3, .hidden_size = 4, .bias = false});
  CHECK(rnn.parameters().size() == 2);
}

TEST_CASE("batch_first only changes the layout of x and y") {
  manual_seed(1);
  GRU a({.input_size = 3, .hidden_size = 4, .num_layers = 2});
  manual_seed(1);
  GRU b({.input_size = 3, .hidden_size = 4, .num_layers = 2, .batch_first = true});
  const Tensor x = randn({5, 2, 3});
  const auto ya = a(x);
  const auto yb = b(transpose(x, 0, 1));
  CHECK(transpose(yb.output, 0, 1).to_vector() == ya.output.to_vector());
  CHECK(yb.state.h.shape() == Shape{2, 2, 4});  // the state stays [L*D, N, H]
  CHECK(yb.state.h.to_vector() == ya.state.h.to_vector());
}

TEST_CASE("dropout between layers applies in training only; forget_bias reaches every layer") {
  LSTM lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2, .dropout = 0.5, .forget_bias = 1});
  const Tensor x = randn({4, 2, 3});
  lstm.eval();
  const Tensor y1 = lstm(x).output, y2 = lstm(x).output;
  CHECK(y1.to_vector() == y2.to_vector());
  lstm.train();
  CHECK(lstm(x).output.to_vector() != y1.to_vector());
  for (int64_t layer = 0; layer < 2; ++layer) {
    const Tensor b = dynamic_cast<LSTMCell&>(lstm.cell(layer)).bias_ih;
    for (int64_t j = 4; j < 8; ++j) CHECK(b.data()[j] > 0.4);  // U(-0.5, 0.5) + 1
  }
}

TEST_CASE("printing and errors") {
  LSTM lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2});
  const std::string tree = lstm.to_string();
  CHECK(tree.find("LSTM(input_size=3, hidden_size=4, num_layers=2, bidirectional=false") == 0);
  CHECK(tree.find("weight_hh_l1: [16, 4]") != std::string::npos);
  CHECK(tree.find("[304 parameters]") != std::string::npos);  // 2 * (16*3|16*4 + 16*4 + 32)
  CHECK_THROWS_WITH_AS(lstm(ones({5, 2, 4})), "LSTM: input must be [T, N, 3] with feature size 3, got [5, 2, 4]",
                       Error);
  CHECK_THROWS_WITH_AS(
      lstm(ones({5, 2, 3}), {zeros({1, 2, 4}), zeros({1, 2, 4})}),
      "LSTM: initial state must be [2, 2, H] (num_layers * num_directions, batch, hidden), got [1, 2, 4]", Error);
  CHECK_THROWS_WITH_AS(LSTM({.input_size = 3, .hidden_size = 4, .num_layers = 0}),
                       "RecurrentNetwork: num_layers must be at least 1, got 0", Error);
  CHECK_THROWS_WITH_AS(lstm(ones({5, 2, 3}), {}, tensor({5, 6})), "unroll: length 6 of sequence 1 is not in [0, 5]",
                       Error);
}

TEST_CASE("RNN / LSTM / GRU lengths must be int64: a float lengths tensor is refused, naming the op and the dtype") {
  RNN rnn({.input_size = 3, .hidden_size = 4});
  LSTM lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2, .batch_first = true});
  GRU gru({.input_size = 3, .hidden_size = 4, .bidirectional = true});
  const Tensor x = randn({5, 2, 3});
  const Tensor float_lengths = tensor({5.0, 3.0});  // whole numbers, but float32
  const std::string message = ": lengths must be an int64 tensor, got float32 (shape [2]); convert with .to(kInt64)";
  const Tensor x_bf = transpose(x, 0, 1);  // [N, T, I] for the batch_first LSTM
  CHECK_THROWS_WITH_AS(rnn(x, {}, float_lengths), ("RNN" + message).c_str(), Error);
  CHECK_THROWS_WITH_AS(lstm(x_bf, {}, float_lengths), ("LSTM" + message).c_str(), Error);
  CHECK_THROWS_WITH_AS(gru(x, {}, float_lengths), ("GRU" + message).c_str(), Error);
  CHECK_THROWS_WITH_AS(lstm(x_bf, {}, float_lengths.to(kFloat64)), doctest::Contains("got float64"), Error);
  // the same values as int64 work, in every layout
  const Tensor lengths = float_lengths.to(kInt64);
  CHECK(rnn(x, {}, lengths).output.shape() == Shape{5, 2, 4});
  CHECK(lstm(x_bf, {}, lengths).output.shape() == Shape{2, 5, 4});
  const auto [y, state] = gru(x, {}, lengths);
  CHECK(y.shape() == Shape{5, 2, 8});
  CHECK(y.at({4, 1, 0}) == 0);  // sequence 1 has 3 steps: step 4 is padding
}

TEST_CASE("an LSTM converted to float64 computes in float64, close to its float32 self") {
  manual_seed(6);
  LSTM lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
  const Tensor x = randn({6, 3, 3});
  const Tensor lengths = tensor({6, 2, 4});
  const auto [y32, s32] = lstm(x, {}, lengths);
  lstm.to(kFloat64);
  const auto [y64, s64] = lstm(x.to(kFloat64), {}, lengths);
  CHECK(y64.dtype() == kFloat64);
  CHECK(s64.h.dtype() == kFloat64);
  CHECK(s64.c.dtype() == kFloat64);
  const std::vector<double> a = y64.to_vector<double>(), b = y32.to(kFloat64).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  CHECK(worst < 1e-5);
  CHECK(worst > 0);  // float32 rounding shows: the two runs really used different dtypes
}

TEST_CASE("gradcheck (float64) of a bidirectional LSTM over a ragged batch, w.r.t. input, state and weights") {
  manual_seed(8);
  LSTM lstm({.input_size = 2, .hidden_size = 2, .bidirectional = true});
  lstm.to(kFloat64);
  Generator gen(9);
  Tensor x = uniform({3, 2, 2}, -1, 1, kFloat64, gen), h0 = uniform({2, 2, 2}, -0.5, 0.5, kFloat64, gen),
         c0 = uniform({2, 2, 2}, -0.5, 0.5, kFloat64, gen);
  std::vector<Tensor> inputs = {x.requires_grad_(), h0.requires_grad_(), c0.requires_grad_()};
  for (const Tensor& p : lstm.parameters()) inputs.push_back(p);
  const Tensor lengths = tensor({3, 2});
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        const auto out = lstm(in[0], {in[1], in[2]}, lengths);
        return concat({reshape(out.output, {-1}), reshape(out.state.h, {-1}), reshape(out.state.c, {-1})}, 0);
      },
      inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("RNN / LSTM / GRU options reach the recurrence: variational dropout and zoneout") {
  manual_seed(40);
  LSTM lstm({.input_size = 3,
             .hidden_size = 4,
             .num_layers = 2,
             .bidirectional = true,
             .input_dropout = 0.3,
             .recurrent_dropout = 0.3,
             .zoneout = 0.1,
             .zoneout_cell = 0.2});
  CHECK(lstm.to_string().find("dropout=0, input_dropout=0.3, recurrent_dropout=0.3, zoneout=0.1, zoneout_cell=0.2)") !=
        std::string::npos);
  CHECK(lstm.stochastic());
  const Tensor x = randn({5, 2, 3});
  manual_seed(41);
  const Tensor y1 = lstm(x).output;
  manual_seed(41);
  CHECK(lstm(x).output.to_vector() == y1.to_vector());  // reproducible
  CHECK(lstm(x).output.to_vector() != y1.to_vector());  // fresh masks
  lstm.eval();
  CHECK(!lstm.stochastic());
  const Tensor e1 = lstm(x).output;
  CHECK(lstm(x).output.to_vector() == e1.to_vector());  // eval: deterministic (zoneout's expectation)
  // zoneout 1 on h (and c for LSTM) keeps every layer's initial state
  GRU gru({.input_size = 3, .hidden_size = 4, .num_layers = 2, .zoneout = 1});
  RNN rnn({.input_size = 3, .hidden_size = 4, .bidirectional = true, .zoneout = 1});
  LSTM frozen({.input_size = 3, .hidden_size = 4, .num_layers = 2, .zoneout = 1, .zoneout_cell = 1});
  const Tensor h0 = randn({2, 2, 4}), c0 = randn({2, 2, 4});
  CHECK(gru(x, {h0, Tensor()}).state.h.to_vector() == h0.to_vector());
  CHECK(rnn(x, {h0, Tensor()}).state.h.to_vector() == h0.to_vector());
  const auto s = frozen(x, {h0, c0}).state;
  CHECK(s.h.to_vector() == h0.to_vector());
  CHECK(s.c.to_vector() == c0.to_vector());
  // input dropout with an RNN: training and eval differ, eval equals a network without the option
  RNN with({.input_size = 3, .hidden_size = 4, .input_dropout = 0.5});
  RNN without({.input_size = 3, .hidden_size = 4});
  without.load_state_dict(with.state_dict());
  CHECK(with(x).output.to_vector() != without(x).output.to_vector());
  with.eval();
  CHECK(with(x).output.to_vector() == without(x).output.to_vector());
  CHECK_THROWS_WITH_AS(LSTM({.input_size = 3, .hidden_size = 4, .input_dropout = 1}),
                       "RecurrentNetwork: input_dropout 1 is outside [0, 1)", Error);
  CHECK_THROWS_WITH_AS(GRU({.input_size = 3, .hidden_size = 4, .recurrent_dropout = -0.1}),
                       "RecurrentNetwork: recurrent_dropout -0.1 is outside [0, 1)", Error);
  CHECK_THROWS_WITH_AS(RNN({.input_size = 3, .hidden_size = 4, .zoneout = 2}),
                       "RecurrentNetwork: zoneout 2 is outside [0, 1]", Error);
}

TEST_CASE("gradcheck (float64, fixed seed) of a 2-layer LSTM with variational dropout and zoneout") {
  manual_seed(42);
  LSTM lstm({.input_size = 2,
             .hidden_size = 2,
             .num_layers = 2,
             .bidirectional = true,
             .input_dropout = 0.25,
             .recurrent_dropout = 0.25,
             .zoneout = 0.2,
             .zoneout_cell = 0.3});
  lstm.to(kFloat64);
  Generator gen(43);
  Tensor x = uniform({3, 2, 2}, -1, 1, kFloat64, gen).requires_grad_();
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : lstm.parameters()) inputs.push_back(p);
  const Tensor lengths = tensor({3, 2});
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        manual_seed(44);  // the same masks at every evaluation
        const auto out = lstm(in[0], {}, lengths);
        return concat({reshape(out.output, {-1}), reshape(out.state.h, {-1}), reshape(out.state.c, {-1})}, 0);
      },
      inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("LSTM proj_size: shapes, PyTorch's parameter names and order, errors") {
  LSTM lstm({.input_size = 3, .hidden_size = 5, .num_layers = 2, .bidirectional = true, .proj_size = 2});
  std::vector<std::string> names;
  for (const auto& [n, p] : lstm.named_parameters()) names.push_back(n);
  const std::vector<std::string> expected = {
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",           "bias_hh_l0",
      "weight_hr_l0",         "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
      "bias_hh_l0_reverse",   "weight_hr_l0_reverse", "weight_ih_l1",         "weight_hh_l1",
      "bias_ih_l1",           "bias_hh_l1",           "weight_hr_l1",         "weight_ih_l1_reverse",
      "weight_hh_l1_reverse", "bias_ih_l1_reverse",   "bias_hh_l1_reverse",   "weight_hr_l1_reverse"};
  CHECK(names == expected);
  const auto params = lstm.named_parameters();
  auto shape_of = [&](const std::string& n) {
    for (const auto& [name, p] : params)
      if (name == n) return p.shape();
    return Shape{};
  };
  CHECK(shape_of("weight_hh_l0") == Shape{20, 2});
  CHECK(shape_of("weight_hr_l0") == Shape{2, 5});
  CHECK(shape_of("weight_ih_l1") == Shape{20, 4});  // layer 1 reads 2 directions * proj_size
  const auto [y, state] = lstm(randn({6, 3, 3}), {}, tensor({6, 4, 1}));
  CHECK(y.shape() == Shape{6, 3, 4});
  CHECK(state.h.shape() == Shape{4, 3, 2});
  CHECK(state.c.shape() == Shape{4, 3, 5});
  CHECK(lstm.output_size() == 4);
  CHECK(lstm.to_string().find("LSTM(input_size=3, hidden_size=5, num_layers=2, bidirectional=true, batch_first=false, "
                              "dropout=0, proj_size=2)") == 0);
  CHECK_THROWS_WITH_AS(lstm(randn({6, 3, 3}), {zeros({4, 3, 5}), zeros({4, 3, 5})}),
                       doctest::Contains("LSTMCell: state h must be [3, 2], got [3, 5]"), Error);
  CHECK_THROWS_WITH_AS(LSTM({.input_size = 3, .hidden_size = 4, .proj_size = 4}),
                       "LSTM: proj_size 4 has to be smaller than hidden_size 4", Error);
  CHECK_THROWS_WITH_AS(LSTM({.input_size = 3, .hidden_size = 4, .proj_size = -1}),
                       "LSTM: proj_size should be a positive integer or zero to disable projections, got -1", Error);
  // without a projection a bad hidden_size is reported as such, not as a proj_size problem
  CHECK_THROWS_WITH_AS(LSTM({.input_size = 3, .hidden_size = 0}),
                       doctest::Contains("input_size and hidden_size must be positive, got 3 and 0"), Error);
  CHECK_THROWS_WITH_AS(LSTMCell({.input_size = 3, .hidden_size = 4, .proj_size = 5}),
                       "LSTMCell: proj_size 5 has to be smaller than hidden_size 4", Error);
  // the cell on its own: h [N, P], c [N, H]
  LSTMCell cell({.input_size = 3, .hidden_size = 4, .proj_size = 3});
  const State s = cell(randn({2, 3}));
  CHECK(s.h.shape() == Shape{2, 3});
  CHECK(s.c.shape() == Shape{2, 4});
  CHECK(cell.describe() == "LSTMCell(input_size=3, hidden_size=4, bias=true, forget_bias=0, proj_size=3)");
  CHECK_THROWS_WITH_AS(cell(randn({2, 3}), {zeros({2, 3}), zeros({2, 3})}),
                       "LSTMCell: state c must be [2, 4] (hidden_size; h is [N, proj_size]), got [2, 3]", Error);
}

TEST_CASE("gradcheck (float64) of a projected bidirectional LSTM over a ragged batch") {
  manual_seed(45);
  LSTM lstm({.input_size = 2, .hidden_size = 3, .num_layers = 2, .bidirectional = true, .proj_size = 2});
  lstm.to(kFloat64);
  Generator gen(46);
  Tensor x = uniform({3, 2, 2}, -1, 1, kFloat64, gen).requires_grad_();
  Tensor h0 = uniform({4, 2, 2}, -0.5, 0.5, kFloat64, gen).requires_grad_();
  Tensor c0 = uniform({4, 2, 3}, -0.5, 0.5, kFloat64, gen).requires_grad_();
  std::vector<Tensor> inputs = {x, h0, c0};
  for (const Tensor& p : lstm.parameters()) inputs.push_back(p);
  const Tensor lengths = tensor({3, 1});
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        const auto out = lstm(in[0], {in[1], in[2]}, lengths);
        return concat({reshape(out.output, {-1}), reshape(out.state.h, {-1}), reshape(out.state.c, {-1})}, 0);
      },
      inputs);
  CHECK_MESSAGE(r.ok, r.message);
}
