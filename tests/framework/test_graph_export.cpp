// Tests for framework/graph_export.cpp: dot text of recorded graphs, clusters per unrolled step, deep graphs.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
int64_t count(const std::string& text, const std::string& what) {
  int64_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}
}  // namespace

TEST_CASE("to_dot: ops, leaves, names and one edge per input slot") {
  Tensor w = tensor({1.0, 2.0, 3.0});
  w.requires_grad_();
  const Tensor c = tensor({4.0, 5.0, 6.0});   // a constant: no gradient flows into it
  const Tensor y = sum(tanh(mul(w, w) + c));  // mul uses w twice: two edges
  const std::string dot = to_dot(y, {{"w", w}});
  CHECK(dot.rfind("digraph unroll {", 0) == 0);
  CHECK(dot.find("label=\"mul\\n[3]\"") != std::string::npos);
  CHECK(dot.find("label=\"add\\n[3]\"") != std::string::npos);
  CHECK(dot.find("label=\"tanh\\n[3]\"") != std::string::npos);
  CHECK(dot.find("label=\"sum\\n[]\"") != std::string::npos);
  CHECK(dot.find("label=\"w\\n[3]\"") != std::string::npos);         // named parameter
  CHECK(dot.find("label=\"constant\\n[3]\"") != std::string::npos);  // the unnamed constant
  CHECK(count(dot, "peripheries=2") == 1);                           // the root
  CHECK(count(dot, " -> ") == 2 + 2 + 1 + 1);                        // mul(w, w), add(., c), tanh, sum
  CHECK(count(dot, "[style=dashed]") == 1);                          // c -> add
  CHECK(count(dot, "subgraph") == 0);                                // nothing ran inside the unroller
  // unnamed leaves that require grad are labelled as such
  CHECK(to_dot(y).find("label=\"leaf\\n[3]\"") != std::string::npos);
}

TEST_CASE("to_dot: a leaf alone, an undefined tensor, deterministic text") {
  Tensor a = ones({2, 2});
  CHECK(count(to_dot(a), " -> ") == 0);
  CHECK(to_dot(a).find("constant\\n[2, 2]") != std::string::npos);
  CHECK_THROWS_AS(to_dot(Tensor()), Error);
  a.requires_grad_();
  const Tensor y = sum(a * 2.0f);
  CHECK(to_dot(y) == to_dot(y));
}

TEST_CASE("to_dot: a 3-step unrolled RNNCell is grouped into one cluster per step") {
  manual_seed(0);
  layers::RNNCell cell({.input_size = 2, .hidden_size = 3});
  const Tensor x = randn({3, 1, 2});  // [T, N, I]
  const auto out = layers::unroll_cell(cell, x);
  const Tensor loss = sum(out.output);
  const std::string dot = to_dot(loss, cell.named_parameters());
  for (int t = 0; t < 3; ++t) CHECK(dot.find("subgraph cluster_t" + std::to_string(t) + " {") != std::string::npos);
  CHECK(dot.find("cluster_t3") == std::string::npos);
  CHECK(count(dot, "subgraph cluster_t") == 3);
  // each step: linear(h, W_hh, b_hh) + add + tanh; per-step ops sit inside their cluster
  CHECK(count(dot, "label=\"tanh\\n[1, 3]\"") == 3);
  for (const char* name : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"})
    CHECK(count(dot, std::string("label=\"") + name + "\\n") == 1);  // shared weights: one box each
  // the edges are exactly the recorded input slots
  int64_t slots = 0;
  {
    std::vector<const TensorImpl*> stack = {loss.impl()};
    std::vector<const TensorImpl*> seen = {loss.impl()};
    while (!stack.empty()) {
      const TensorImpl* t = stack.back();
      stack.pop_back();
      if (!t->grad_fn) continue;
      for (const auto& in : t->grad_fn->inputs) {
        if (!in) continue;
        ++slots;
        if (std::find(seen.begin(), seen.end(), in.get()) == seen.end()) {
          seen.push_back(in.get());
          stack.push_back(in.get());
        }
      }
    }
  }
  CHECK(slots > 0);
  CHECK(count(dot, " -> ") == slots);
  // after backward (no retain_graph) the ops are drawn as freed, without edges
  loss.backward();
  const std::string freed = to_dot(loss);
  CHECK(count(freed, " -> ") == 0);
  CHECK(freed.find("(freed)") != std::string::npos);
}

TEST_CASE("to_dot: a 10,000-step graph exports without deep recursion") {
  Tensor w = scalar(0.5f);
  w.requires_grad_();
  Tensor h = scalar(1.0f);
  for (int t = 0; t < 10000; ++t) {
    TimeStepScope scope(t);
    h = tanh(w * h + 0.1f);  // mul, add, tanh per step
  }
  const std::string dot = to_dot(h);
  CHECK(count(dot, "subgraph cluster_t") == 10000);
  CHECK(count(dot, "shape=ellipse") == 30000);
  CHECK(dot.find("cluster_t9999 {") != std::string::npos);
}

TEST_CASE("write_dot writes the file and names the path on failure") {
  Tensor w = tensor({1.0, 2.0});
  w.requires_grad_();
  const Tensor y = sum(w * w);
  const auto dir = std::filesystem::temp_directory_path() / "unroll_test_graph_export";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "g.dot").string();
  write_dot(y, path, {{"w", w}});
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == to_dot(y, {{"w", w}}));
  std::filesystem::remove_all(dir);

  const std::string bad = "/nonexistent_dir_for_unroll/g.dot";
  try {
    write_dot(y, bad);
    FAIL("write_dot should throw");
  } catch (const IoError& e) {
    CHECK(std::string(e.what()).find(bad) != std::string::npos);
  }
}
