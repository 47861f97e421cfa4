// unroll/framework/fused.hpp: a chain of element-wise ops run as ONE op.
//
// An RNN step is mostly element-wise work on small tensors: an LSTM cell is an add, four activations and
// five products or sums, each its own op with its own output buffer, its own pass over memory and its own
// graph node. A fused::Program writes such a chain once, with the same operations (+, -, *, sigmoid, tanh,
// relu, exp); calling it runs the whole chain in one pass over blocks of elements that stay in L1, with no
// intermediate tensors, and records one graph node. Its backward reruns the cheap operations block by block,
// reads the values of the transcendental ones (sigmoid, tanh, exp) kept from the forward pass, and applies
// each operation's derivative in reverse. The LSTM and GRU cells use it (layers/cells.cpp).
//
//   // inputs: projected x [N, 4H] and h W_hh^T [N, 4H], each cut into the four gates; c [N, H]
//   static const fused::Program lstm("lstm_cell", {4, 4, 1}, [](const fused::Inputs& in) -> fused::Values {
//     const auto& x = in[0];
//     const auto& hw = in[1];
//     const fused::Value c = in[2][0];
//     const fused::Value i = sigmoid(x[0] + hw[0]), f = sigmoid(x[1] + hw[1]);
//     const fused::Value g = tanh(x[2] + hw[2]), o = sigmoid(x[3] + hw[3]);
//     const fused::Value c_next = f * c + i * g;
//     return {o * tanh(c_next), c_next};
//   });
//   std::vector<Tensor> h_and_c = lstm({projected_x, hw, c});  // two [N, H] tensors
//
// Shapes: every value of the program has one element shape E. An input used whole (1 piece) has shape E;
// an input cut into p pieces has E's shape with the last axis p times longer, and piece j is its j-th
// block of E.back() columns (torch.chunk(x, p, -1)[j]): the gates of a [N, 4H] tensor need no copy.
// Outputs have shape E. No broadcasting. Inputs are converted to their common dtype (result_type; the
// default dtype when none is floating), which the outputs have; gradients flow to every floating input.
//
// The body runs once, when the Program is made; a Program is immutable and may be called from any thread.
// A call of at least 8,192 elements per value is split between unroll's threads (framework/threads.hpp);
// every element is computed the same way whichever thread runs it, so the results do not depend on the
// thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll::fused {

// A value inside the Program being built: one piece of an input, or an operation on other values. Values
// exist only while a Program's body runs; they are handles (a slot number), cheap to copy.
struct Value {
  int slot = -1;
  uint64_t program = 0;  // which Program under construction made it (values cannot cross programs)
};

Value operator+(Value a, Value b);
Value operator-(Value a, Value b);
Value operator*(Value a, Value b);
Value operator-(Value a);
Value operator+(Value a, double b);
Value operator+(double a, Value b);
Value operator-(Value a, double b);
Value operator-(double a, Value b);
Value operator*(Value a, double b);
Value operator*(double a, Value b);
Value sigmoid(Value a);
Value tanh(Value a);
Value relu(Value a);  // as unroll::relu: gradient 0 at 0, NaN passes through
Value exp(Value a);

using Inputs = std::vector<std::vector<Value>>;  // in[i][j]: piece j of input i
using Values = std::vector<Value>;
using Body = std::function<Values(const Inputs&)>;

class Program {
 public:
  // name: how errors and graph exports call the op. pieces[i]: how many equal pieces input i's last axis
  // is cut into (1: used whole). body: the chain, from the inputs' pieces to the outputs (at least one).
  Program(std::string name, std::vector<int64_t> pieces, const Body& body);

  // Runs the chain. Throws unroll::Error naming the program and the shapes when the inputs do not fit.
  // On a build whose target has no vector unit that xsimd knows (there is no interpreter), runs unfused().
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs) const;

  // The same chain as the plain ops it stands for, one op (and one graph node) per instruction: the same
  // equations, values within rounding of operator()'s, gradients through each op's own rule. The reference
  // for tests, and what operator() falls back to without an interpreter.
  std::vector<Tensor> unfused(const std::vector<Tensor>& inputs) const;

  const std::string& name() const;
  size_t num_inputs() const;
  size_t num_outputs() const;
  std::string describe() const;  // one line per instruction, e.g. "%4 = sigmoid(%0)"

 private:
  std::shared_ptr<const struct ProgramImpl> impl_;
};

}  // namespace unroll::fused
