// unroll/framework/autograd.hpp: graph nodes, the backward engine, and grad mode.
//
// Every op that sees an input requiring grad records one Node on its output: the op's inputs and a
// backward function written right below the op's forward (see ops/*.cpp). backward() sorts the graph
// once, iteratively, and calls each node's backward in reverse topological order; the engine (not the
// op) checks the shape of every gradient and sums gradients that reach the same tensor.
#pragma once

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll {

// ---- grad mode (thread-local) ---------------------------------------------------------------------
bool is_grad_enabled();
void set_grad_enabled(bool on);

// While alive, ops on this thread record no graph (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// What a node's backward function sees.
class BackwardContext {
 public:
  BackwardContext(struct Node& node, const TensorImpl& output, const Tensor& grad_output)
      : node_(node), output_(output), grad_output_(grad_output) {}

  const Tensor& grad_output() const { return grad_output_; }  // dL/d(output), same shape as output
  const TensorImpl& output() const { return output_; }        // the op's forward result
  const TensorImpl& input(int i) const;                       // the op's i-th input (its value)
  size_t num_inputs() const;
  bool needs_grad(int i) const;                               // skip work for inputs without grad
  // Hand dL/d(input i) to the engine; it must have the input's shape (an Error names the op if not).
  void add_grad(int i, Tensor grad);
  // Hand over the gradient of a slice of input i: `piece` is dL/d(input_i[..., start : start + len, ...])
  // along `axis`. The engine adds it into that region of the input's gradient, so splitting a tensor into
  // T pieces (unbind over time) costs O(size) in backward, not O(T * size).
  void add_grad_narrow(int i, int axis, int64_t start, const Tensor& piece);
  // Hand over the gradient of input i = B in C = A op(B), A: [M, K] (not transposed), dC: [M, N]:
  // dB = A^T dC (or dC^T A when transpose_b). The engine collects every such product for B during the
  // pass and computes their sum as ONE matrix product over the stacked rows when B is reached, so a
  // recurrent weight used at T steps costs one [T*N]-deep GEMM instead of T shallow ones.
  void add_matmul_grad(int i, Tensor a, Tensor grad_c, bool transpose_b);

 private:
  struct Node& node_;
  const TensorImpl& output_;
  const Tensor& grad_output_;
};

using BackwardFn = std::function<void(BackwardContext&)>;

struct Node {
  const char* name = "";
  int64_t time_step = -1;  // the unroller's step when the op was recorded (-1: outside any loop)
  std::vector<std::shared_ptr<TensorImpl>> inputs;
  BackwardFn backward;
  bool released = false;  // saved values freed by a backward pass without retain_graph
  // The in-place clock (detail::inplace_clock) when the node was recorded. Before running the node's
  // backward, the engine checks that no input and not the output was modified in place since (their
  // Storage::modified_at is not later), and throws Error naming the op, the tensor and the in-place op
  // otherwise: the values the backward would read are gone. As PyTorch's version check, but on every input
  // and the output rather than only those the formula reads (a backward cannot say which it reads).
  uint64_t recorded_at = 0;

  Node();
  ~Node();  // frees long chains iteratively, so dropping a 10,000-step graph cannot overflow the stack
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
};

// While alive, nodes recorded on this thread are tagged with time step `t` (the unroller sets it, so graph
// exports can group an unrolled network by step). Nested scopes restore the outer step.
class TimeStepScope {
 public:
  explicit TimeStepScope(int64_t t);
  ~TimeStepScope();
  TimeStepScope(const TimeStepScope&) = delete;
  TimeStepScope& operator=(const TimeStepScope&) = delete;

 private:
  int64_t previous_;
};

// Number of Nodes alive on all threads: tests use it to prove graphs are freed.
int64_t live_node_count();

// True when an op on these inputs must record a node: grad mode is on and some input requires grad.
bool should_record(std::initializer_list<const Tensor*> inputs);
bool should_record(const std::vector<Tensor>& inputs);

// Attach history to `output` (called by ops right after computing it; a no-op if nothing needs grad).
void record(Tensor& output, const char* name, std::vector<Tensor> inputs, BackwardFn backward);

// Run backward from several roots at once (each with its seed), as torch.autograd.backward does.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds, bool retain_graph = false);

}  // namespace unroll
