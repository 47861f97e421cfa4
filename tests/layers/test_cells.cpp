// Tests for layers/cells.cpp and the variant cells (peephole, coupled, IRNN, Jordan): equations checked
// by hand, and gradcheck of a few unrolled steps (in float64: the cells converted with .to(kFloat64)).
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

namespace {
// A float64 leaf with values U[-scale, scale) that requires grad.
Tensor sample(const Shape& s, uint64_t seed, double scale = 1) {
  Generator gen(seed);
  Tensor t = uniform(s, -scale, scale, kFloat64, gen);
  t.requires_grad_();
  return t;
}

// gradcheck of 3 unrolled steps of `cell` (converted to float64) w.r.t. the inputs, the initial state and
// every parameter
void check_cell_gradients(Cell& cell, bool has_c) {
  cell.to(kFloat64);
  const int64_t N = 2, T = 3;
  const Tensor x = sample({T, N, cell.input_size()}, 1);
  const State zero = cell.initial_state(N);
  REQUIRE(zero.h.dtype() == kFloat64);  // the initial state follows the parameters' dtype
  const Tensor h0 = sample(zero.h.shape(), 2, 0.5), c0 = sample(zero.h.shape(), 3, 0.5);
  std::vector<Tensor> inputs = {x, h0, c0};
  for (const Tensor& p : cell.parameters()) inputs.push_back(p);
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        State s{in[1], has_c ? in[2] : Tensor()};
        std::vector<Tensor> outs;
        for (const Tensor& x_t : unbind(in[0], 0)) {
          s = cell(x_t, s);
          outs.push_back(cell.output(s));
        }
        Tensor y = stack(outs, 0);
        return has_c ? concat({reshape(y, {-1}), reshape(s.c, {-1})}, 0) : reshape(y, {-1});
      },
      inputs);
  CHECK_MESSAGE(r.ok, cell.describe() << ": " << r.message);
}

real sig(real v) { return 1 / (1 + std::exp(-v)); }
}  // namespace

TEST_CASE("parameter names and shapes follow PyTorch") {
  LSTMCell lstm({.input_size = 3, .hidden_size = 5});
  const auto named = lstm.named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "weight_ih");
  CHECK(named[0].second.shape() == Shape{20, 3});
  CHECK(named[1].first == "weight_hh");
  CHECK(named[1].second.shape() == Shape{20, 5});
  CHECK(named[2].first == "bias_ih");
  CHECK(named[3].first == "bias_hh");
  GRUCell gru({.input_size = 3, .hidden_size = 5, .bias = false});
  CHECK(gru.parameters().size() == 2);
  CHECK(gru.weight_ih.shape() == Shape{15, 3});
  RNNCell rnn({.input_size = 3, .hidden_size = 5});
  CHECK(rnn.weight_hh.shape() == Shape{5, 5});
  // PyTorch's default init: U(-1/sqrt(H), 1/sqrt(H))
  const real bound = 1 / std::sqrt(real(5));
  for (const Tensor& p : lstm.parameters())
    for (real v : p.to_vector()) CHECK((v >= -bound && v <= bound));
}

TEST_CASE("LSTMCell computes PyTorch's equations (gate order i, f, g, o)") {
  LSTMCell cell({.input_size = 1, .hidden_size = 1});
  // weights chosen so every gate is distinguishable: pre-activations i=0.1x, f=0.2x, g=0.3x, o=0.4x + ...
  std::map<std::string, Tensor> w = {{"weight_ih", tensor({0.1, 0.2, 0.3, 0.4}).reshape({4, 1})},
                                     {"weight_hh", tensor({0.5, 0.6, 0.7, 0.8}).reshape({4, 1})},
                                     {"bias_ih", tensor({0.01, 0.02, 0.03, 0.04})},
                                     {"bias_hh", zeros({4})}};
  cell.load_state_dict(w);
  const real x = 2, h = -1, c = 0.5;
  const State s = cell(tensor({x}).reshape({1, 1}), {tensor({h}).reshape({1, 1}), tensor({c}).reshape({1, 1})});
  const real i = sig(0.1 * x + 0.5 * h + 0.01), f = sig(0.2 * x + 0.6 * h + 0.02);
  const real g = std::tanh(0.3 * x + 0.7 * h + 0.03), o = sig(0.4 * x + 0.8 * h + 0.04);
  const real c_next = f * c + i * g;
  CHECK(s.c.item() == doctest::Approx(c_next));
  CHECK(s.h.item() == doctest::Approx(o * std::tanh(c_next)));
}

TEST_CASE("GRUCell applies the reset gate after the recurrent product (gate order r, z, n)") {
  GRUCell cell({.input_size = 1, .hidden_size = 1});
  cell.load_state_dict({{"weight_ih", tensor({0.1, 0.2, 0.3}).reshape({3, 1})},
                        {"weight_hh", tensor({0.4, 0.5, 0.6}).reshape({3, 1})},
                        {"bias_ih", tensor({0.01, 0.02, 0.03})},
                        {"bias_hh", tensor({0.04, 0.05, 0.06})}});
  const real x = 1.5, h = 0.7;
  const State s = cell(tensor({x}).reshape({1, 1}), {tensor({h}).reshape({1, 1}), Tensor()});
  const real r = sig(0.1 * x + 0.01 + 0.4 * h + 0.04), z = sig(0.2 * x + 0.02 + 0.5 * h + 0.05);
  const real n = std::tanh(0.3 * x + 0.03 + r * (0.6 * h + 0.06));
  CHECK(s.h.item() == doctest::Approx((1 - z) * n + z * h));
}

TEST_CASE("gradcheck: every cell and variant over three unrolled steps") {
  RNNCell rnn_tanh({.input_size = 3, .hidden_size = 4});
  check_cell_gradients(rnn_tanh, false);
  RNNCell rnn_relu({.input_size = 3, .hidden_size = 4, .nonlinearity = Nonlinearity::ReLU});
  check_cell_gradients(rnn_relu, false);
  LSTMCell lstm({.input_size = 3, .hidden_size = 4});
  check_cell_gradients(lstm, true);
  LSTMCell lstm_nobias({.input_size = 3, .hidden_size = 4, .bias = false});
  check_cell_gradients(lstm_nobias, true);
  GRUCell gru({.input_size = 3, .hidden_size = 4});
  check_cell_gradients(gru, false);
  PeepholeLSTMCell peephole({.input_size = 3, .hidden_size = 4});
  check_cell_gradients(peephole, true);
  CoupledLSTMCell coupled({.input_size = 3, .hidden_size = 4, .forget_bias = 1});
  check_cell_gradients(coupled, true);
  IRNNCell irnn({.input_size = 3, .hidden_size = 4, .input_std = 0.5});
  // relu has a kink at 0: IRNN's zero biases keep pre-activations away from it only by chance, so
  // shift the biases off zero for the check
  {
    NoGradGuard g;
    for (int64_t i = 0; i < 4; ++i) irnn.bias_ih.data()[i] = real(0.3) + real(0.1) * i;
  }
  check_cell_gradients(irnn, false);
  JordanCell jordan({.input_size = 3, .hidden_size = 5, .output_size = 2});
  check_cell_gradients(jordan, false);
}

TEST_CASE("variants: forget bias, IRNN initialization, peephole and coupled equations") {
  LSTMCell biased({.input_size = 2, .hidden_size = 3, .forget_bias = 1});
  const real bound = 1 / std::sqrt(real(3));
  for (int64_t j = 3; j < 6; ++j) CHECK(biased.bias_ih.data()[j] >= 1 - bound);  // block f shifted by +1
  CHECK_THROWS_WITH_AS(LSTMCell({.input_size = 2, .hidden_size = 3, .bias = false, .forget_bias = 1}),
                       "LSTMCell: forget_bias 1 needs bias = true", Error);

  IRNNCell irnn({.input_size = 2, .hidden_size = 3});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) CHECK(irnn.weight_hh.at({i, j}) == (i == j ? 1 : 0));
  for (real b : irnn.bias_hh.to_vector()) CHECK(b == 0);
  // identity recurrence + relu: with zero input a positive state is carried forward unchanged
  const State carried = irnn.step(zeros({1, 3}), {tensor({{0.5, 1.0, 2.0}}), Tensor()});
  CHECK(carried.h.to_vector() == std::vector<real>{0.5, 1, 2});

  PeepholeLSTMCell peephole({.input_size = 1, .hidden_size = 1});
  peephole.load_state_dict({{"weight_ih", tensor({0.1, 0.2, 0.3, 0.4}).reshape({4, 1})},
                            {"weight_hh", zeros({4, 1})},
                            {"bias_ih", zeros({4})},
                            {"bias_hh", zeros({4})},
                            {"weight_ci", tensor({0.5})},
                            {"weight_cf", tensor({-0.5})},
                            {"weight_co", tensor({0.25})}});
  const real x = 1, c = 2;
  const State p = peephole(tensor({x}).reshape({1, 1}), {zeros({1, 1}), tensor({c}).reshape({1, 1})});
  const real i = sig(0.1 * x + 0.5 * c), f = sig(0.2 * x - 0.5 * c), c_next = f * c + i * std::tanh(0.3 * x);
  CHECK(p.c.item() == doctest::Approx(c_next));
  CHECK(p.h.item() == doctest::Approx(sig(0.4 * x + 0.25 * c_next) * std::tanh(c_next)));

  CoupledLSTMCell coupled({.input_size = 1, .hidden_size = 1});
  coupled.load_state_dict({{"weight_ih", tensor({0.3, 0.6, 0.9}).reshape({3, 1})},
                           {"weight_hh", zeros({3, 1})},
                           {"bias_ih", zeros({3})},
                           {"bias_hh", zeros({3})}});
  const State q = coupled(tensor({x}).reshape({1, 1}), {zeros({1, 1}), tensor({c}).reshape({1, 1})});
  const real fc = sig(0.3 * x), gc = std::tanh(0.6 * x), cc = fc * c + (1 - fc) * gc;
  CHECK(q.c.item() == doctest::Approx(cc));
  CHECK(q.h.item() == doctest::Approx(sig(0.9 * x) * std::tanh(cc)));
}

TEST_CASE("Jordan network feeds back its output") {
  JordanCell jordan({.input_size = 2, .hidden_size = 3, .output_size = 2});
  CHECK(jordan.output_size() == 2);
  const State s0 = jordan.initial_state(4);
  CHECK(s0.h.shape() == Shape{4, 2});
  const Tensor x = ones({4, 2});
  const State s1 = jordan(x, s0), s2 = jordan(x, s1);
  CHECK(s1.h.shape() == Shape{4, 2});
  CHECK(s1.h.to_vector() != s2.h.to_vector());  // same input, different feedback -> different output
  CHECK_THROWS_WITH_AS(jordan(x, {zeros({4, 3}), Tensor()}),
                       "JordanCell: state (the previous output) must be [N, 2], got [4, 3]", Error);
}

TEST_CASE("cells reject wrong shapes with clear messages") {
  LSTMCell cell({.input_size = 3, .hidden_size = 4});
  CHECK_THROWS_WITH_AS(cell(ones({2, 5})), "linear: input [2, 5] does not end in in_features = 3 (weight [16, 3])",
                       Error);
  CHECK_THROWS_WITH_AS(cell(ones({2, 3}), {zeros({3, 4}), zeros({3, 4})}),
                       "LSTMCell: state h must be [2, 4], got [3, 4]", Error);
  CHECK_THROWS_WITH_AS(cell(ones({2, 3}), {zeros({2, 4}), Tensor()}),
                       "LSTMCell: state c must be [2, 4] like h, got undefined", Error);
  CHECK_THROWS_WITH_AS(RNNCell({.input_size = 0, .hidden_size = 4}),
                       "RNNCell: input_size and hidden_size must be positive, got 0 and 4", Error);
}

// Regressions found by tests/fuzz/fuzz_ops.cpp (cell_more): each crashed or hit undefined behaviour before.
TEST_CASE("fuzz regressions: absurd sizes and mis-shaped steps are refused with Error") {
  const int64_t huge = int64_t{1} << 62;  // 3H and 4H overflowed int64 (UBSan: signed integer overflow)
  CHECK_THROWS_AS(LSTMCell({.input_size = 2, .hidden_size = huge}), Error);
  CHECK_THROWS_AS(GRUCell({.input_size = 2, .hidden_size = huge}), Error);
  CHECK_THROWS_AS(RNNCell({.input_size = huge, .hidden_size = 2}), Error);
  CHECK_THROWS_AS(PeepholeLSTMCell({.input_size = 2, .hidden_size = huge}), Error);
  CHECK_THROWS_AS(CoupledLSTMCell({.input_size = 2, .hidden_size = huge}), Error);
  // proj_size is LSTMCell's: the peephole cell failed at its first step, the coupled one ignored it
  CHECK_THROWS_WITH_AS(PeepholeLSTMCell({.input_size = 2, .hidden_size = 4, .proj_size = 2}),
                       "PeepholeLSTMCell: proj_size is not supported (LSTMCell and LSTM have it), got 2", Error);
  CHECK_THROWS_WITH_AS(CoupledLSTMCell({.input_size = 2, .hidden_size = 4, .proj_size = 2}),
                       "CoupledLSTMCell: proj_size is not supported (LSTMCell and LSTM have it), got 2", Error);
  CHECK_THROWS_AS(JordanCell({.input_size = 2, .hidden_size = huge, .output_size = 2}), Error);

  // A rank-3 projected input broadcast into [1, N, 4H]; chunk() along axis 1 then gave N < 4 pieces and
  // step() read past the end of the gate list.
  PeepholeLSTMCell peephole({.input_size = 2, .hidden_size = 2});
  CoupledLSTMCell coupled({.input_size = 2, .hidden_size = 2});
  const State state{zeros({2, 2}), zeros({2, 2})};
  CHECK_THROWS_AS(peephole.step(zeros({1, 1, 8}), state), Error);
  CHECK_THROWS_AS(coupled.step(zeros({1, 1, 6}), state), Error);
  CHECK_THROWS_AS(peephole.step(zeros({2, 8}), State{zeros({2, 2}), Tensor()}), Error);
  CHECK_THROWS_AS(coupled.step(zeros({2, 6}), State{zeros({1, 2}), zeros({1, 2})}), Error);
  CHECK_NOTHROW(peephole.step(zeros({2, 8}), state));
  CHECK_NOTHROW(coupled.step(zeros({2, 6}), state));

  // JordanCell broadcast a one-row input against a state of another batch size.
  JordanCell jordan({.input_size = 2, .hidden_size = 3, .output_size = 2});
  CHECK_THROWS_AS(jordan.step(zeros({1, 3}), State{zeros({3, 2}), Tensor()}), Error);
  CHECK_THROWS_AS(jordan.step(zeros({1, 5}), State{zeros({1, 2}), Tensor()}), Error);
  CHECK_NOTHROW(jordan.step(zeros({1, 3}), State{zeros({1, 2}), Tensor()}));
}
