// tests/layers/attention_fixtures.hpp: reading tests/fixtures/attention_reference.txt (written by
// tests/gen_attention_fixtures.py) for test_layer_norm.cpp, test_multihead_attention.cpp and
// test_attention_modules.cpp. Roles: opt.<option> (int64 scalars), param.<state_dict key> (in state_dict order),
// in.<input>, mask.<mask>, w.<output> (loss weights), out.<output>, grad.<param>, grad_in.<input>.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "support/fixtures.hpp"

namespace attention_test {

inline const char* const kFixturePath = UNROLL_FIXTURES_DIR "/attention_reference.txt";

// Relative tolerance |a - b| <= tol * max(1, |b|): float32 runs see the same float32-representable inputs as
// torch, which computed in float64; float64 runs should agree to rounding.
inline double tolerance(unroll::DType dtype) { return dtype == unroll::kFloat32 ? 1e-4 : 1e-10; }

inline const unroll_test::Fixtures& fixtures() {
  static const unroll_test::Fixtures f = unroll_test::load_fixtures(kFixturePath);
  return f;
}

// Names of the cases whose name starts with `prefix`, sorted.
inline std::vector<std::string> cases_with_prefix(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& [name, c] : fixtures())
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

// The parameters' state_dict keys of a case in the file's (PyTorch's state_dict) order.
inline std::vector<std::string> param_order(const std::string& case_name) {
  static const std::map<std::string, std::vector<std::string>> order = unroll_test::load_param_order(kFixturePath);
  return order.at(case_name);
}

inline int64_t opt(const unroll_test::Case& c, const std::string& name) { return c.at("opt." + name).int_values.at(0); }

// A fixture tensor as an unroll tensor: bool and int64 keep their dtype, floating ones take `dtype`.
inline unroll::Tensor to_tensor(const unroll_test::FixtureTensor& ft, unroll::DType dtype) {
  const unroll::Shape shape(ft.shape.begin(), ft.shape.end());
  if (ft.dtype == "int64") return unroll::tensor(ft.int_values, shape);
  const unroll::Tensor values = unroll::tensor(ft.values, shape, dtype);
  return ft.dtype == "bool" ? unroll::ne(values, 0) : values;
}

inline unroll::Tensor input(const unroll_test::Case& c, const std::string& name, unroll::DType dtype) {
  return to_tensor(c.at("in." + name), dtype).requires_grad_();
}

inline unroll::Tensor mask(const unroll_test::Case& c, const std::string& name, unroll::DType dtype) {
  return c.has("mask." + name) ? to_tensor(c.at("mask." + name), dtype) : unroll::Tensor();
}

// Converts `module` to dtype, checks its parameter names and order against PyTorch's state_dict, loads them.
inline void load_parameters(unroll::layers::Module& module, const unroll_test::Case& c, unroll::DType dtype) {
  module.to(dtype);
  std::vector<std::string> names;
  for (const auto& [name, p] : module.named_parameters()) names.push_back(name);
  CHECK_MESSAGE(names == param_order(c.name), c.name << ": parameter names differ from PyTorch's state_dict");
  std::map<std::string, unroll::Tensor> state;
  for (const std::string& name : param_order(c.name)) state[name] = to_tensor(c.at("param." + name), dtype);
  module.load_state_dict(state);
}

// loss = sum over the case's outputs of sum(output * w.<output>)
inline unroll::Tensor weighted_loss(const unroll_test::Case& c, const std::map<std::string, unroll::Tensor>& outputs,
                                    unroll::DType dtype) {
  unroll::Tensor loss = unroll::zeros({}, dtype);
  for (const auto& [name, value] : outputs) loss = loss + unroll::sum(value * to_tensor(c.at("w." + name), dtype));
  return loss;
}

// The largest error seen per (test, kind), reported at the end of each test to show the margin.
inline std::map<std::string, double>& worst() {
  static std::map<std::string, double> w;
  return w;
}

// CHECKs |actual - expected| <= tol * max(1, |expected|) elementwise (and equal shapes); records the worst.
inline void check_close(const std::string& what, const unroll::Tensor& actual,
                        const unroll_test::FixtureTensor& expected, unroll::DType dtype, const std::string& kind) {
  REQUIRE_MESSAGE(actual.defined(), what << " is undefined");
  const unroll::Shape shape(expected.shape.begin(), expected.shape.end());
  REQUIRE_MESSAGE(actual.shape() == shape,
                  what << ": shape " << unroll::to_string(actual.shape()) << ", torch " << unroll::to_string(shape));
  const std::vector<double> a = unroll::to(actual, unroll::kFloat64).to_vector<double>();
  double err = 0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::abs(a[i] - expected.values[i]) / std::max(1.0, std::abs(expected.values[i]));
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  const std::string key = kind + (dtype == unroll::kFloat32 ? " float32" : " float64");
  worst()[key] = std::max(worst()[key], err);
  CHECK_MESSAGE(err <= tolerance(dtype),
                what << " (" << unroll::name(dtype) << "): element " << at << " is " << (a.empty() ? 0 : a[at])
                     << ", torch " << (a.empty() ? 0 : expected.values[at]) << " (relative error " << err << ")");
}

// Checks every grad.<param> of the case against the module's gradients.
inline void check_param_grads(unroll::layers::Module& module, const unroll_test::Case& c, unroll::DType dtype) {
  for (const auto& [name, p] : module.named_parameters())
    check_close(c.name + " grad." + name, p.grad(), c.at("grad." + name), dtype, "parameter gradients");
}

inline void report_worst(const std::string& test) {
  for (const auto& [kind, err] : worst()) MESSAGE(test << ": largest relative error vs torch, " << kind << ": " << err);
  worst().clear();
}

}  // namespace attention_test
