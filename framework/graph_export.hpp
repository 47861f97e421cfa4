// unroll/framework/graph_export.hpp: the recorded graph behind a tensor as Graphviz dot text.
//
//   const auto [y, state] = layers::unroll_cell(cell, x);
//   Tensor loss = sum(y);
//   write_dot(loss, "rnn.dot", cell.named_parameters());   // before backward(), which frees the graph
//   // then: dot -Tsvg rnn.dot -o rnn.svg
//
// What is drawn:
//   - one ellipse per recorded op (Node): its name and output shape; the root gets a double outline;
//   - one box per leaf tensor: parameters (leaves that require grad) filled blue and labelled with their
//     name when `names` has them, other leaves (inputs, constants) grey with dashed edges (no gradient);
//   - one edge input -> op per input slot (x * x draws two edges);
//   - ops recorded inside the unroller's step t (Node::time_step, set by TimeStepScope) grouped into
//     `subgraph cluster_t<t>` labelled "t = <t>"; ops outside any step and all leaves stay at top level,
//     so a weight shared by every step is one box with an edge into each step's cluster.
// Output is deterministic: node ids follow a depth-first walk from the root, clusters are ordered by t.
// The walk uses an explicit stack, so a graph 10,000 steps deep exports without deep recursion.
// A graph already consumed by backward() (without retain_graph) has dropped its inputs: its ops are drawn
// without edges and labelled "(freed)". Export before calling backward().
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll {

// Names for leaf tensors, e.g. module.named_parameters(); leaves not listed are labelled by kind and shape.
using TensorNames = std::vector<std::pair<std::string, Tensor>>;

// The graph that produced `root` (a leaf is a one-node graph). Throws unroll::Error if root is undefined.
std::string to_dot(const Tensor& root, const TensorNames& names = {});

// Writes to_dot(root, names) to `path` (through a temporary file renamed into place, so readers never
// see half a file). Throws unroll::IoError naming the path when it cannot be written.
void write_dot(const Tensor& root, const std::string& path, const TensorNames& names = {});

}  // namespace unroll
