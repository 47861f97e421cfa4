// Graph export to Graphviz dot. See graph_export.hpp for what is drawn.
#include "unroll/framework/graph_export.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"

namespace unroll {

namespace {

// A label for a dot string literal: quotes and backslashes escaped, '\n' as dot's line break.
std::string escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (ch == '\n')
      out += "\\n";
    else
      out += ch;
  }
  return out;
}

// One vertex of the drawing: a tensor produced by an op (drawn as that op) or a leaf tensor.
struct Vertex {
  const TensorImpl* tensor;
  int id;
};

}  // namespace

std::string to_dot(const Tensor& root, const TensorNames& names) {
  detail::check(root.defined(), "to_dot: the root tensor is undefined");
  std::unordered_map<const TensorImpl*, std::string> name_of;
  for (const auto& [name, t] : names)
    if (t.defined()) name_of.emplace(t.impl(), name);

  // Depth-first walk from the root with an explicit stack: every tensor reached gets an id in discovery
  // order. An op output and its Node are one vertex (each Node records exactly one output).
  std::unordered_map<const TensorImpl*, int> id;
  std::vector<Vertex> vertices;
  std::vector<const TensorImpl*> stack = {root.impl()};
  id.emplace(root.impl(), 0);
  vertices.push_back({root.impl(), 0});
  while (!stack.empty()) {
    const TensorImpl* t = stack.back();
    stack.pop_back();
    if (!t->grad_fn) continue;
    // push in reverse so the first input is visited (and numbered) first
    const auto& inputs = t->grad_fn->inputs;
    for (auto it = inputs.rbegin(); it != inputs.rend(); ++it) {
      const TensorImpl* in = it->get();
      if (!in || id.count(in)) continue;
      const int k = static_cast<int>(vertices.size());
      id.emplace(in, k);
      vertices.push_back({in, k});
      stack.push_back(in);
    }
  }

  std::string out = "digraph unroll {\n";
  out += "  rankdir=LR;\n";  // data flows left to right; the steps stack top to bottom
  out += "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [arrowsize=0.6];\n";

  // op vertices by time step (-1: outside the unroller's loop); leaves at top level
  std::map<int64_t, std::vector<const Vertex*>> by_step;
  std::string leaves;
  for (const Vertex& v : vertices) {
    const TensorImpl* t = v.tensor;
    const std::string shape = to_string(t->shape);
    if (t->grad_fn) {
      by_step[t->grad_fn->time_step].push_back(&v);
      continue;
    }
    const auto named = name_of.find(t);
    std::string label;
    if (named != name_of.end())
      label = named->second + "\n" + shape;
    else
      label = (t->requires_grad ? "leaf\n" : "constant\n") + shape;
    leaves += "  n" + std::to_string(v.id) + " [shape=box, style=filled, fillcolor=\"" +
              (t->requires_grad ? "#cfe2f3" : "#eeeeee") + "\", label=\"" + escape(label) + "\"];\n";
  }
  out += leaves;
  for (const auto& [step, ops] : by_step) {
    const std::string indent = step < 0 ? "  " : "    ";
    if (step >= 0)
      out += "  subgraph cluster_t" + std::to_string(step) + " {\n    label=\"t = " + std::to_string(step) +
             "\";\n    labelloc=t;\n    style=rounded;\n    color=\"#999999\";\n";
    for (const Vertex* v : ops) {
      const Node& node = *v->tensor->grad_fn;
      std::string label = std::string(node.name) + "\n" + to_string(v->tensor->shape);
      if (node.released) label += "\n(freed)";
      out += indent + "n" + std::to_string(v->id) + " [shape=ellipse, label=\"" + escape(label) + "\"" +
             (v->id == 0 ? ", peripheries=2" : "") + "];\n";
    }
    if (step >= 0) out += "  }\n";
  }

  // edges input -> op, one per input slot; dashed where no gradient flows
  for (const Vertex& v : vertices) {
    if (!v.tensor->grad_fn) continue;
    for (const auto& in : v.tensor->grad_fn->inputs) {
      if (!in) continue;
      out += "  n" + std::to_string(id.at(in.get())) + " -> n" + std::to_string(v.id) +
             (in->requires_grad ? ";\n" : " [style=dashed];\n");
    }
  }
  out += "}\n";
  return out;
}

void write_dot(const Tensor& root, const std::string& path, const TensorNames& names) {
  const std::string text = to_dot(root, names);
  namespace fs = std::filesystem;
  const fs::path target(path);
  fs::path temp = target;
  temp += ".tmp-" + std::to_string(static_cast<long>(::getpid()));
  {
    std::ofstream file(temp, std::ios::binary);
    if (file) file << text;
    if (!file || !file.flush()) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      throw IoError("write_dot: cannot write '" + path + "'");
    }
  }
  std::error_code error;
  fs::rename(temp, target, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw IoError("write_dot: cannot write '" + path + "': " + error.message());
  }
}

}  // namespace unroll
