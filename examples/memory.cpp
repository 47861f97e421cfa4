// memory: the smallest recurrent network, worked by hand and then run by unroll.
//
// Two inputs, two hidden units, two outputs; every weight is 1, there are no biases and every activation
// is linear (the identity), so each number can be checked by hand. The hidden units' values are stored in a
// "memory" (the hidden state) and fed back at the next step. Starting from memory [0, 0]:
//
//   step  input   hidden a_t = x_t W_xh^T + a_{t-1} W_hh^T   output y_t = a_t W_hy^T   memory after
//     1   [1, 1]  1+1 + 0+0 = [2, 2]                         2+2   = [4, 4]            [2, 2]
//     2   [1, 1]  1+1 + 2+2 = [6, 6]                         6+6   = [12, 12]          [6, 6]
//     3   [2, 2]  2+2 + 6+6 = [16, 16]                       16+16 = [32, 32]          [16, 16]
//
// Same input [1, 1] at steps 1 and 2, different outputs: the memory differs. Reversing the sequence changes
// every output, so the network sees order. A Jordan network feeds back the *output* instead of the hidden
// units; with the same weights it gives yet other numbers.
//
// The cell below is a user's layers::Cell; layers::unroll_cell runs it over the sequence (the same loop
// every built-in RNN uses), so the recorded graph is the unrolled network.
//
//   ./build/examples/memory [--inputs "1,1;1,1;2,2"] [--check]
//
// Shape legend: T = time steps, N = batch (1 here), I = inputs (2), H = hidden units (2), O = outputs (2).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "common/cli.hpp"

using namespace unroll;
using namespace unroll::layers;

// A linear RNN cell with an output layer. Elman: the state is the hidden layer a. Jordan: the state is the
// previous output y. Either way the cell maps (x_t, state) -> next state, and output(state) is y_t.
class MemoryCell : public Cell {
 public:
  MemoryCell(int64_t inputs, int64_t hidden, int64_t outputs, bool jordan)
      : inputs_(inputs), hidden_(hidden), outputs_(outputs), jordan_(jordan) {
    weight_xh = register_parameter("weight_xh", ones({hidden, inputs}));                     // [H, I]
    weight_hh = register_parameter("weight_hh", ones({hidden, jordan ? outputs : hidden}));  // [H, H] or [H, O]
    weight_hy = register_parameter("weight_hy", ones({outputs, hidden}));                    // [O, H]
  }

  int64_t input_size() const override { return inputs_; }
  int64_t output_size() const override { return outputs_; }

  // x: [..., I] -> x W_xh^T: [..., H], for all time steps at once (it does not depend on the memory)
  Tensor project_input(const Tensor& x) override { return matmul(x, weight_xh, false, true); }

  State step(const Tensor& projected_x, const State& memory) override {
    // a_t = x_t W_xh^T + memory W_hh^T   [N, H]   (linear activation: nothing else)
    const Tensor a = add(projected_x, matmul(memory.h, weight_hh, false, true));
    if (!jordan_) return {a, Tensor()};                    // Elman: remember the hidden units
    return {matmul(a, weight_hy, false, true), Tensor()};  // Jordan: remember the output y_t  [N, O]
  }

  // y_t = a_t W_hy^T   [N, O]   (Jordan: the state already is y_t)
  Tensor output(const State& state) const override {
    return jordan_ ? state.h : matmul(state.h, weight_hy, false, true);
  }

  State initial_state(int64_t batch) const override {  // memory starts at 0
    return {zeros({batch, jordan_ ? outputs_ : hidden_}), Tensor()};
  }
  std::string describe() const override { return jordan_ ? "MemoryCell(Jordan)" : "MemoryCell(Elman)"; }

  Tensor weight_xh, weight_hh, weight_hy;

 private:
  int64_t inputs_, hidden_, outputs_;
  bool jordan_;
};

// "1,1;1,1;2,2" -> [T, 1, 2]
Tensor parse_sequence(const std::string& text) {
  std::vector<float> values;  // a float32 tensor [T, 1, 2]
  int64_t steps = 0;
  std::stringstream rows(text);
  for (std::string row; std::getline(rows, row, ';'); ++steps) {
    std::stringstream cols(row);
    int64_t count = 0;
    for (std::string v; std::getline(cols, v, ','); ++count) {
      char* end = nullptr;
      const float value = std::strtof(v.c_str(), &end);
      if (v.empty() || *end || !std::isfinite(value))
        throw examples::UsageError("--inputs: '" + v + "' in step '" + row + "' is not a finite number");
      values.push_back(value);
    }
    if (count != 2) throw examples::UsageError("--inputs: each step needs 2 numbers, got '" + row + "'");
  }
  if (steps == 0) throw examples::UsageError("--inputs: no step");
  return tensor(values, {steps, 1, 2});
}

std::string pair(float a, float b) {  // "[a, b]"
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "[%g, %g]", static_cast<double>(a), static_cast<double>(b));
  return buffer;
}
std::string row(const Tensor& t, int64_t step) { return pair(t.at({step, 0, 0}), t.at({step, 0, 1})); }  // [T, 1, 2]
std::string row(const Tensor& t) { return pair(t.at({0, 0}), t.at({0, 1})); }                            // [1, 2]

// Runs the cell one step at a time (to show the memory), then through unroll_cell; returns outputs [T, 1, O].
Tensor run(MemoryCell& cell, const Tensor& x, const char* title) {
  std::printf("\n%s\n  step  input      memory before  output\n", title);
  State memory = cell.initial_state(1);
  const std::vector<Tensor> steps = unbind(x, 0);  // T tensors [1, 2]
  for (size_t t = 0; t < steps.size(); ++t) {
    const State next = cell(steps[t], memory);  // one step by hand: (x_t, memory) -> new memory
    const Tensor y = cell.output(next);
    std::printf("  %4zu  %-9s  %-13s  %s\n", t + 1, row(steps[t]).c_str(), row(memory.h).c_str(), row(y).c_str());
    memory = next;
  }
  // The same loop, written once in the library: unroll_cell over x [T, 1, I] -> outputs [T, 1, O].
  return unroll_cell(cell, x).output;
}

// Every element of y equals the expected value exactly (small integers: float32 holds them exactly).
bool equal(const Tensor& y, const std::vector<float>& expected) {
  return sum(ne(y, tensor(expected, y.shape()))).item<int64_t>() == 0;  // ne: bool; sum of bool: int64 count
}

int run_memory(int argc, char** argv) {
  examples::Cli cli("memory", "memory: the hand-worked linear RNN with all weights 1 (Elman and Jordan)");
  std::string inputs = "1,1;1,1;2,2";
  cli.text("--inputs", inputs, "input sequence, steps separated by ';'");
  uint64_t seed = 0;
  cli.seed("--seed", seed, "unused: nothing here is random");
  bool check = false;
  cli.flag("--check", check, "exit 1 unless the seeds' numbers come out (default inputs only)");
  cli.parse(argc, argv);

  const Tensor x = parse_sequence(inputs);  // [T, 1, 2]
  MemoryCell elman(2, 2, 2, /*jordan=*/false), jordan(2, 2, 2, /*jordan=*/true);
  std::printf("%s", elman.to_string().c_str());

  const Tensor y = run(elman, x, "Elman network (memory = hidden units), inputs in order:");
  const Tensor x_reversed = flip(x, 0);
  const Tensor y_reversed = run(elman, x_reversed, "Elman network, the same inputs reversed:");
  const Tensor y_jordan = run(jordan, x, "Jordan network (memory = previous output), inputs in order:");

  std::printf("\nunroll_cell outputs [T, N, O]:\n  in order ");
  for (int64_t t = 0; t < y.size(0); ++t) std::printf(" %s", row(y, t).c_str());
  std::printf("\n  reversed ");
  for (int64_t t = 0; t < y.size(0); ++t) std::printf(" %s", row(y_reversed, t).c_str());
  std::printf("\n  Jordan   ");
  for (int64_t t = 0; t < y.size(0); ++t) std::printf(" %s", row(y_jordan, t).c_str());
  std::printf("\n");

  // The graph is the unrolled network: d(y_T[0]) / d(weight_hh) sums the contributions of every step.
  const Tensor last = sum(narrow(unroll_cell(elman, x).output, 0, x.size(0) - 1, 1));
  last.backward();
  std::printf("\nd(sum of the last outputs)/d weight_hh = %s\n", elman.weight_hh.grad().to_string().c_str());

  if (check) {
    const bool ok = equal(y, {4, 4, 12, 12, 32, 32}) && equal(y_reversed, {8, 8, 20, 20, 44, 44}) &&
                    equal(y_jordan, {4, 4, 20, 20, 88, 88});
    std::printf(
        "check: outputs [4,4] [12,12] [32,32]; reversed [8,8] [20,20] [44,44]; Jordan [4,4] [20,20] "
        "[88,88]: %s\n",
        ok ? "ok" : "FAILED");
    if (inputs != "1,1;1,1;2,2") std::printf("check: needs the default --inputs\n");
    return ok ? 0 : 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_example("memory", [&] { return run_memory(argc, argv); });
}
