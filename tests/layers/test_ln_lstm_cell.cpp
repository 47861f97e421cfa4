// Tests for layers/ln_lstm_cell.cpp: the layer-normalized LSTM cell (Ba et al. 2016) against a PyTorch
// reference of the same equations (tests/gen_rnn_fixtures.py -> tests/fixtures/ln_lstm_reference.txt),
// through the generic unroller, Stacked and Bidirectional, and gradient-checked in float64.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "support/fixtures.hpp"

using namespace unroll;
using namespace unroll::layers;

namespace {

constexpr double kTolerance = 1e-4;  // |a - b| <= 1e-4 * max(1, |b|), as test_rnn_vs_torch
double g_worst = 0;                  // largest relative error seen against the reference

Tensor to_tensor(const unroll_test::FixtureTensor& ft) {
  std::vector<real> values(ft.values.begin(), ft.values.end());
  return tensor(values, Shape(ft.shape.begin(), ft.shape.end()));
}

void check_close(const std::string& where, const Tensor& got, const unroll_test::FixtureTensor& expected) {
  REQUIRE_MESSAGE(got.defined(), where << " is undefined");
  REQUIRE_MESSAGE(got.shape() == Shape(expected.shape.begin(), expected.shape.end()),
                  where << ": shape " << to_string(got.shape()));
  const std::vector<real> values = got.to_vector();
  int bad = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double err = std::abs(values[i] - expected.values[i]) / std::max(1.0, std::abs(expected.values[i]));
    g_worst = std::max(g_worst, err);
    if (!(err <= kTolerance)) ++bad;  // NaN counts as bad
  }
  CHECK_MESSAGE(bad == 0, where << ": " << bad << " of " << values.size() << " values differ from the reference");
}

std::shared_ptr<Cell> make_ln_cell(int64_t input_size, int64_t hidden_size) {
  return std::make_shared<LayerNormLSTMCell>(
      LayerNormLSTMCellOptions{.input_size = input_size, .hidden_size = hidden_size});
}

}  // namespace

TEST_CASE("LayerNormLSTMCell: parameters, initialization, description") {
  LayerNormLSTMCell cell({.input_size = 3, .hidden_size = 4, .forget_bias = 1});
  std::vector<std::string> names;
  for (const auto& [n, p] : cell.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"weight_ih", "weight_hh", "bias", "ln_ih_weight", "ln_hh_weight",
                                          "ln_c_weight", "ln_c_bias"});
  CHECK(cell.weight_ih.shape() == Shape{16, 3});
  CHECK(cell.weight_hh.shape() == Shape{16, 4});
  CHECK(cell.ln_c_weight.shape() == Shape{4});
  // bias: zeros with forget_bias on the f block [4, 8); gains ones, ln_c_bias zeros
  std::vector<real> expected_bias(16, 0);
  std::fill(expected_bias.begin() + 4, expected_bias.begin() + 8, real(1));
  CHECK(cell.bias.to_vector() == expected_bias);
  CHECK(cell.ln_ih_weight.to_vector() == std::vector<real>(16, 1));
  CHECK(cell.ln_hh_weight.to_vector() == std::vector<real>(16, 1));
  CHECK(cell.ln_c_weight.to_vector() == std::vector<real>(4, 1));
  CHECK(cell.ln_c_bias.to_vector() == std::vector<real>(4, 0));
  CHECK(cell.describe() == "LayerNormLSTMCell(input_size=3, hidden_size=4, bias=true, forget_bias=1, eps=1e-05)");
  LayerNormLSTMCell nobias({.input_size = 3, .hidden_size = 4, .bias = false});
  CHECK(!nobias.bias.defined());
  CHECK(nobias.parameters().size() == 6);
}

TEST_CASE("LayerNormLSTMCell: one step normalizes the pre-activations and the cell state") {
  // With zero weights both gate normalizations see constant rows, which normalize to 0: every gate
  // pre-activation is the bias. bias = 0 gives i = f = o = 1/2 and g = 0, so c' = c / 2 and
  // h' = tanh(LN(c')) / 2.
  LayerNormLSTMCell cell({.input_size = 2, .hidden_size = 3});
  {
    NoGradGuard guard;
    cell.weight_ih.zero_();
    cell.weight_hh.zero_();
  }
  const Tensor c = tensor({1.0, 2.0, 6.0}).reshape({1, 3});
  const State next = cell(tensor({0.5, -1.0}).reshape({1, 2}), {zeros({1, 3}), c});
  CHECK(next.c.to_vector() == std::vector<real>{0.5, 1, 3});
  const Tensor expected_h = tanh(layer_norm(next.c, {3})) * 0.5;
  const std::vector<real> got = next.h.to_vector(), want = expected_h.to_vector();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  // the normalized c: mean 0, so the h values of the units below and above c's mean have opposite signs
  CHECK(got[0] < 0);
  CHECK(got[2] > 0);
}

TEST_CASE("LayerNormLSTMCell in RecurrentNetwork agrees with the PyTorch reference (outputs, states, gradients)") {
  const auto cases = unroll_test::load_fixtures(UNROLL_FIXTURES_DIR "/ln_lstm_reference.txt");
  REQUIRE(cases.size() == 3);
  int ran = 0;
  for (const auto& [name, c] : cases) {
    INFO("case " << name);
    const bool bidirectional = name.find("_bi_") != std::string::npos;
    const int64_t layers = name.find("_L2_") != std::string::npos ? 2 : 1;
    const bool ragged = name.find("ragged") != std::string::npos;
    const int64_t I = c.at("x").shape.at(2), H = c.at("h0").shape.at(2);
    RecurrentNetwork net(I, {.num_layers = layers, .bidirectional = bidirectional},
                         [H](int64_t input_size, int64_t, bool) { return make_ln_cell(input_size, H); });
    std::map<std::string, Tensor> state_dict;
    size_t listed = 0;
    for (const auto& [role, t] : c.tensors)
      if (role.rfind("param.", 0) == 0) {
        state_dict[role.substr(6)] = to_tensor(t);
        ++listed;
      }
    CHECK(listed == net.parameters().size());
    net.load_state_dict(state_dict);  // throws on any name or shape mismatch
    Tensor x = to_tensor(c.at("x")).requires_grad_(), h0 = to_tensor(c.at("h0")).requires_grad_(),
           c0 = to_tensor(c.at("c0")).requires_grad_();
    std::vector<int64_t> lengths;
    for (double v : c.at("lengths").values) lengths.push_back(static_cast<int64_t>(v));
    const auto out = net(x, {h0, c0}, ragged ? tensor(lengths, {static_cast<int64_t>(lengths.size())}) : Tensor());
    Tensor loss =
        add(add(sum(mul(out.output, to_tensor(c.at("w_out")))), sum(mul(out.state.h, to_tensor(c.at("w_h"))))),
            sum(mul(out.state.c, to_tensor(c.at("w_c")))));
    loss.backward();
    check_close(name + " output", out.output, c.at("output"));
    check_close(name + " h_n", out.state.h, c.at("h_n"));
    check_close(name + " c_n", out.state.c, c.at("c_n"));
    check_close(name + " grad_x", x.grad(), c.at("grad_x"));
    check_close(name + " grad_h0", h0.grad(), c.at("grad_h0"));
    check_close(name + " grad_c0", c0.grad(), c.at("grad_c0"));
    for (const auto& [pname, p] : net.named_parameters())
      check_close(name + " grad." + pname, p.grad(), c.at("grad." + pname));
    ++ran;
  }
  CHECK(ran == 3);
  MESSAGE("largest relative error against the reference: " << g_worst << ", tolerance " << kTolerance);
}

TEST_CASE("gradcheck (float64): LayerNormLSTMCell unrolled in Stacked(Bidirectional, Unidirectional), ragged") {
  manual_seed(21);
  auto forward_cell = make_ln_cell(2, 3), backward_cell = make_ln_cell(2, 3),
       top_cell = make_ln_cell(6, 3);  // Stacked concatenates states: one H
  Stacked net({std::make_shared<Bidirectional>(std::make_shared<Unidirectional>(forward_cell),
                                               std::make_shared<Unidirectional>(backward_cell)),
               std::make_shared<Unidirectional>(top_cell)});
  net.to(kFloat64);
  Generator gen(22);
  // non-trivial gains and biases, so their gradients are checked away from the initialization
  {
    NoGradGuard guard;
    for (Tensor& p : net.parameters()) p.copy_(add(p, uniform(p.shape(), -0.3, 0.3, kFloat64, gen)));
  }
  Tensor x = uniform({3, 2, 2}, -1, 1, kFloat64, gen).requires_grad_();
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : net.parameters()) inputs.push_back(p);
  const Tensor lengths = tensor({3, 2});
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        const auto out = net(in[0], {}, lengths);
        return concat({reshape(out.output, {-1}), reshape(out.state.h, {-1}), reshape(out.state.c, {-1})}, 0);
      },
      inputs);
  CHECK_MESSAGE(r.ok, r.message);
  CHECK(net.state_slots() == 3);
}

TEST_CASE("LayerNormLSTMCell errors name the cell and the shapes") {
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message([] { LayerNormLSTMCell c({.input_size = 0, .hidden_size = 4}); }).find("LayerNormLSTMCell") !=
        std::string::npos);
  CHECK(message([] {
          LayerNormLSTMCell c({.input_size = 3, .hidden_size = 4, .bias = false, .forget_bias = 1});
        }).find("forget_bias 1 needs bias = true") != std::string::npos);
  CHECK(message([] {
          LayerNormLSTMCell c({.input_size = 3, .hidden_size = 4, .eps = 0});
        }).find("eps must be positive") != std::string::npos);
  LayerNormLSTMCell cell({.input_size = 3, .hidden_size = 4});
  CHECK(message([&] {
          cell.step(zeros({2, 15}), cell.initial_state(2));
        }).find("projected input must be [N, 16]") != std::string::npos);
  CHECK(message([&] {
          cell.step(zeros({2, 16}), {zeros({2, 4}), zeros({2, 3})});
        }).find("state c must be") != std::string::npos);
  CHECK(message([&] { unroll_cell(cell, zeros({5, 2, 2})); }).find("input must be [T, N, 3]") != std::string::npos);
}
