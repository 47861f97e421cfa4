// Cross-check of layers::RNN / LSTM / GRU against PyTorch's nn.RNN / nn.LSTM / nn.GRU.
//
// tests/gen_rnn_fixtures.py writes tests/fixtures/rnn_reference.txt: 105 configs (every mode x num_layers
// {1,2,3} x bidirectional x batch_first x {equal, ragged} lengths, plus four without biases and five LSTMs
// with proj_size = 2 (1 and 2 layers, uni- and bidirectional, ragged, batch_first)), each with the
// module's parameters under their PyTorch state_dict names, an input, an initial state, torch's outputs,
// final state and the gradients of loss = sum(output * w_out) + sum(h_n * w_h) (+ sum(c_n * w_c)) with
// respect to the input, the initial state and every parameter.
//
// Here each config builds the same unroll layer, loads the parameters with load_state_dict (so the names
// must match PyTorch's exactly), runs forward with the same state (and lengths for ragged configs; torch
// used pack_padded_sequence(enforce_sorted=false) / pad_packed_sequence(total_length=T)), computes the same
// loss, runs backward and compares every tensor to |a - b| <= 1e-4 * max(1, |b|).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "unroll/framework/ops.hpp"
#include "unroll/layers/rnn.hpp"

using namespace unroll;

namespace {

constexpr double kTolerance = 1e-4;
constexpr size_t kExpectedConfigs = 105;
const char* const kFixturePath = UNROLL_FIXTURES_DIR "/rnn_reference.txt";

// The largest relative error seen, overall and per kind of tensor (reported at the end, to show the margin).
std::map<std::string, std::pair<double, std::string>> g_worst;  // kind -> (error, where)

const unroll_test::Fixtures& fixtures() {
  static const unroll_test::Fixtures f = unroll_test::load_fixtures(kFixturePath);
  return f;
}

// Case name -> parameter names in PyTorch's state_dict order (unroll_test::load_param_order).
const std::map<std::string, std::vector<std::string>>& param_order() {
  static const std::map<std::string, std::vector<std::string>> order = unroll_test::load_param_order(kFixturePath);
  return order;
}

// What a case name (<mode>_L<layers>_<uni|bi>_<tm|bf>_<equal|ragged>[_nobias|_proj<P>]) says.
struct Config {
  std::string mode;  // rnn_tanh, rnn_relu, lstm, gru
  int64_t layers = 0;
  bool bidirectional = false;
  bool batch_first = false;
  bool ragged = false;
  bool bias = true;
  int64_t proj_size = 0;  // lstm only
};

bool parse_config(const std::string& name, Config& c) {
  std::vector<std::string> parts;
  std::stringstream ss(name);
  for (std::string p; std::getline(ss, p, '_');) parts.push_back(p);
  size_t i = 0;
  if (parts.size() < 5) return false;
  if (parts[0] == "rnn") {
    if (parts.size() < 6 || (parts[1] != "tanh" && parts[1] != "relu")) return false;
    c.mode = "rnn_" + parts[1];
    i = 2;
  } else if (parts[0] == "lstm" || parts[0] == "gru") {
    c.mode = parts[0];
    i = 1;
  } else {
    return false;
  }
  if (parts.size() != i + 4 && parts.size() != i + 5) return false;
  if (parts[i].size() != 2 || parts[i][0] != 'L' || parts[i][1] < '1' || parts[i][1] > '9') return false;
  c.layers = parts[i][1] - '0';
  if (parts[i + 1] != "uni" && parts[i + 1] != "bi") return false;
  c.bidirectional = parts[i + 1] == "bi";
  if (parts[i + 2] != "tm" && parts[i + 2] != "bf") return false;
  c.batch_first = parts[i + 2] == "bf";
  if (parts[i + 3] != "equal" && parts[i + 3] != "ragged") return false;
  c.ragged = parts[i + 3] == "ragged";
  if (parts.size() == i + 5) {
    const std::string& extra = parts[i + 4];
    if (extra == "nobias") {
      c.bias = false;
    } else if (c.mode == "lstm" && extra.size() == 5 && extra.rfind("proj", 0) == 0 && extra[4] >= '1' &&
               extra[4] <= '9') {
      c.proj_size = extra[4] - '0';
    } else {
      return false;
    }
  }
  return true;
}

std::unique_ptr<layers::RecurrentNetwork> make_layer(const Config& c, int64_t input_size, int64_t hidden_size) {
  if (c.mode == "lstm") {
    layers::LSTMOptions o;
    o.input_size = input_size;
    o.hidden_size = hidden_size;
    o.num_layers = c.layers;
    o.bias = c.bias;
    o.batch_first = c.batch_first;
    o.bidirectional = c.bidirectional;
    o.proj_size = c.proj_size;
    return std::make_unique<layers::LSTM>(o);
  }
  if (c.mode == "gru") {
    layers::GRUOptions o;
    o.input_size = input_size;
    o.hidden_size = hidden_size;
    o.num_layers = c.layers;
    o.bias = c.bias;
    o.batch_first = c.batch_first;
    o.bidirectional = c.bidirectional;
    return std::make_unique<layers::GRU>(o);
  }
  layers::RNNOptions o;
  o.input_size = input_size;
  o.hidden_size = hidden_size;
  o.num_layers = c.layers;
  o.nonlinearity = c.mode == "rnn_relu" ? layers::Nonlinearity::ReLU : layers::Nonlinearity::Tanh;
  o.bias = c.bias;
  o.batch_first = c.batch_first;
  o.bidirectional = c.bidirectional;
  return std::make_unique<layers::RNN>(o);
}

Shape to_shape(const std::vector<int64_t>& dims) { return Shape(dims.begin(), dims.end()); }

Tensor to_tensor(const unroll_test::FixtureTensor& ft) {
  std::vector<real> values(ft.values.begin(), ft.values.end());
  return tensor(values, to_shape(ft.shape));
}

// Sequence lengths (whole numbers in the fixture) as the int64 tensor the layers take.
Tensor to_lengths(const unroll_test::FixtureTensor& ft) {
  std::vector<int64_t> values;
  for (double v : ft.values) {
    REQUIRE(v == static_cast<double>(static_cast<int64_t>(v)));
    values.push_back(static_cast<int64_t>(v));
  }
  return tensor(values, to_shape(ft.shape));
}

std::string kind_of(const std::string& role) {
  if (role.rfind("grad.", 0) == 0) return "parameter gradients";
  if (role.rfind("grad_", 0) == 0) return "input/state gradients";
  return "outputs and final states";
}

// Describes every way `got` differs from `expected`; empty when they agree.
std::string compare(const std::string& where, const std::string& role, const Tensor& got,
                    const unroll_test::FixtureTensor& expected) {
  std::ostringstream problems;
  problems.precision(9);
  if (!got.defined()) {
    problems << " undefined (torch has shape " << to_string(to_shape(expected.shape)) << ")";
    return problems.str();
  }
  if (got.shape() != to_shape(expected.shape)) {
    problems << " shape " << to_string(got.shape()) << ", torch " << to_string(to_shape(expected.shape));
    return problems.str();
  }
  const std::vector<real> values = got.to_vector();
  // the projected LSTMs are reported on their own, to show their margin too
  auto& worst_kind = g_worst[kind_of(role) + (where.find("_proj") != std::string::npos ? " (proj_size cases)" : "")];
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double a = values[i], b = expected.values[i];
    const double err = std::abs(a - b) / std::max(1.0, std::abs(b));
    if (err > worst_kind.first) worst_kind = {err, where + " " + role};
    if (!(err <= kTolerance)) {  // also catches NaN
      if (bad < 4) problems << "\n    [" << i << "]: got " << a << ", torch " << b;
      ++bad;
      worst = std::max(worst, std::isnan(err) ? INFINITY : err);
    }
  }
  if (bad > 0)
    problems << "\n    " << bad << " of " << values.size() << " values differ (worst relative error " << worst << ")";
  return problems.str();
}

void check_tensor(const std::string& where, const std::string& role, const Tensor& got,
                  const unroll_test::FixtureTensor& expected) {
  const std::string problems = compare(where, role, got, expected);
  CHECK_MESSAGE(problems.empty(), where << " " << role << " disagrees with torch:" << problems);
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Runs one config; returns true if it got as far as comparing results.
bool run_config(const std::string& name, const unroll_test::Case& c) {
  Config cfg;
  if (!parse_config(name, cfg)) {
    FAIL_CHECK("cannot parse fixture case name '" << name << "'");
    return false;
  }
  const auto& x_fix = c.at("x");
  const auto& h0_fix = c.at("h0");
  const int64_t input_size = x_fix.shape.at(2);
  const bool lstm = cfg.mode == "lstm";
  const int64_t hidden_size = (lstm ? c.at("c0") : h0_fix).shape.at(2);  // h0 is proj_size wide with a projection

  std::unique_ptr<layers::RecurrentNetwork> layer;
  try {
    layer = make_layer(cfg, input_size, hidden_size);
  } catch (const std::exception& e) {
    FAIL_CHECK(name << ": constructing the layer threw: " << std::string(e.what()));
    return false;
  }

  // Parameter names and order: unroll's named_parameters() vs PyTorch's state_dict().
  const std::vector<std::string>& torch_names = param_order().at(name);
  std::vector<std::string> names;
  for (const auto& [n, p] : layer->named_parameters()) names.push_back(n);
  CHECK_MESSAGE(names == torch_names, name << ": named_parameters() are [" << join(names)
                                           << "], torch's state_dict is [" << join(torch_names) << "]");

  try {
    std::map<std::string, Tensor> state;
    for (const auto& n : torch_names) state[n] = to_tensor(c.at("param." + n));
    layer->load_state_dict(state);
  } catch (const std::exception& e) {
    FAIL_CHECK(name << ": load_state_dict with torch's state_dict threw: " << std::string(e.what()));
    return false;
  }

  Tensor x = to_tensor(x_fix), h0 = to_tensor(h0_fix), c0;
  x.requires_grad_();
  h0.requires_grad_();
  if (lstm) {
    c0 = to_tensor(c.at("c0"));
    c0.requires_grad_();
  }
  const Tensor lengths = cfg.ragged ? to_lengths(c.at("lengths")) : Tensor();

  layers::SequenceOutput out;
  try {
    out = layer->forward(x, layers::State{h0, c0}, lengths);
    Tensor loss = add(sum(mul(out.output, to_tensor(c.at("w_out")))), sum(mul(out.state.h, to_tensor(c.at("w_h")))));
    if (lstm) loss = add(loss, sum(mul(out.state.c, to_tensor(c.at("w_c")))));
    loss.backward();
  } catch (const std::exception& e) {
    FAIL_CHECK(name << ": forward/backward threw: " << std::string(e.what()));
    return false;
  }

  check_tensor(name, "output", out.output, c.at("output"));
  check_tensor(name, "h_n", out.state.h, c.at("h_n"));
  if (lstm) check_tensor(name, "c_n", out.state.c, c.at("c_n"));
  check_tensor(name, "grad_x", x.grad(), c.at("grad_x"));
  check_tensor(name, "grad_h0", h0.grad(), c.at("grad_h0"));
  if (lstm) check_tensor(name, "grad_c0", c0.grad(), c.at("grad_c0"));
  std::map<std::string, Tensor> params;
  for (const auto& [n, p] : layer->named_parameters()) params[n] = p;
  for (const auto& n : torch_names) {
    auto it = params.find(n);
    if (it == params.end()) continue;  // reported by the names check above
    check_tensor(name, "grad." + n, it->second.grad(), c.at("grad." + n));
  }
  return true;
}

}  // namespace

TEST_CASE("rnn fixture file: 105 configs, every case name parses, parameters listed in every case") {
  const auto& cases = fixtures();
  CHECK(cases.size() == kExpectedConfigs);
  for (const auto& [name, c] : cases) {
    Config cfg;
    CHECK_MESSAGE(parse_config(name, cfg), "cannot parse fixture case name '" << name << "'");
    CHECK_MESSAGE(!param_order().at(name).empty(), name << " lists no parameters");
    if (cfg.proj_size > 0) {  // the projection's weights are in the file, after each layer's biases
      const auto& order = param_order().at(name);
      CHECK_MESSAGE(std::find(order.begin(), order.end(), "weight_hr_l0") != order.end(),
                    name << " has no weight_hr_l0");
    }
  }
  size_t projected = 0;
  for (const auto& [name, c] : cases) projected += name.find("_proj") != std::string::npos;
  CHECK(projected == 5);
}

TEST_CASE("RNN / LSTM / GRU agree with PyTorch: outputs, final states and all gradients") {
  const auto& cases = fixtures();
  std::map<std::string, const unroll_test::Case*> sorted;  // stable report order
  for (const auto& [name, c] : cases) sorted[name] = &c;
  size_t ran = 0;
  for (const auto& [name, c] : sorted) {
    INFO("config " << name);
    if (run_config(name, *c)) ++ran;
  }
  CHECK_MESSAGE(ran == kExpectedConfigs, ran << " of " << kExpectedConfigs << " configs ran to the comparison");
  for (const auto& [kind, worst] : g_worst)
    MESSAGE("largest relative error in " << kind << ": " << worst.first << " (" << worst.second << "), tolerance "
                                         << kTolerance);
}
