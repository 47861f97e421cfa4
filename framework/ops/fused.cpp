// fused::Program (framework/fused.hpp): a chain of element-wise ops built once as a list of instructions,
// then run by the interpreter of framework/detail/fused_kernel_impl.hpp (one build per instruction set, as
// the GEMM kernel): every instruction runs over one block of kFusedBlock elements before the next block, so
// a chain of ten ops reads its inputs and writes its outputs once instead of making ten tensors. This file
// builds programs, checks and converts inputs, and records the graph node.
#include <xsimd/xsimd.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/dispatch.hpp"
#include "unroll/framework/detail/fused_kernel.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/detail/thread_pool.hpp"
#include "unroll/framework/fused.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::fused {

using detail::check;
using detail::visit_floating;

namespace {
using Code = detail::FusedCode;
using Instruction = detail::FusedInstruction;

const char* code_name(Code c) {
  switch (c) {
    case Code::input:
      return "input";
    case Code::add:
      return "add";
    case Code::sub:
      return "sub";
    case Code::mul:
      return "mul";
    case Code::neg:
      return "neg";
    case Code::add_scalar:
      return "add_scalar";
    case Code::mul_scalar:
      return "mul_scalar";
    case Code::scalar_sub:
      return "scalar_sub";
    case Code::sigmoid:
      return "sigmoid";
    case Code::tanh:
      return "tanh";
    case Code::relu:
      return "relu";
    case Code::exp:
      return "exp";
  }
  return "?";
}
bool is_binary(Code c) { return c == Code::add || c == Code::sub || c == Code::mul; }
}  // namespace

struct ProgramImpl {
  std::string name;
  std::vector<int64_t> pieces;
  std::vector<Instruction> code;    // the first sum(pieces) are the inputs' pieces, in order
  std::vector<int> outputs;         // slots
  std::vector<int> output_of_slot;  // per slot: the first output it is, if an operation makes it; else -1
  std::vector<int> saved_index;     // per slot: its row in the values kept for backward, or -1
  int64_t num_saved = 0;
  uint64_t id = 0;
};

// ---- building ---------------------------------------------------------------------------------------
namespace {
thread_local ProgramImpl* building = nullptr;
std::atomic<uint64_t> next_program_id{1};

Value emit(const char* op, Instruction ins, std::initializer_list<Value> operands) {
  check(building != nullptr, "fused::{}: a fused::Value is used outside the body of a fused::Program", op);
  for (const Value& v : operands)
    check(v.program == building->id && v.slot >= 0 && v.slot < static_cast<int>(building->code.size()),
          "fused::{}: in program \"{}\", an operand is not a value of this program (made by another program, or "
          "default-constructed)",
          op, building->name);
  building->code.push_back(ins);
  return Value{static_cast<int>(building->code.size()) - 1, building->id};
}
Value binary(const char* op, Code code, Value a, Value b) {
  return emit(op, {code, a.slot, b.slot, 0, -1, -1}, {a, b});
}
Value unary(const char* op, Code code, Value a, double k = 0) { return emit(op, {code, a.slot, -1, k, -1, -1}, {a}); }
}  // namespace

Value operator+(Value a, Value b) { return binary("add", Code::add, a, b); }
Value operator-(Value a, Value b) { return binary("sub", Code::sub, a, b); }
Value operator*(Value a, Value b) { return binary("mul", Code::mul, a, b); }
Value operator-(Value a) { return unary("neg", Code::neg, a); }
Value operator+(Value a, double b) { return unary("add", Code::add_scalar, a, b); }
Value operator+(double a, Value b) { return unary("add", Code::add_scalar, b, a); }
Value operator-(Value a, double b) { return unary("sub", Code::add_scalar, a, -b); }
Value operator-(double a, Value b) { return unary("sub", Code::scalar_sub, b, a); }
Value operator*(Value a, double b) { return unary("mul", Code::mul_scalar, a, b); }
Value operator*(double a, Value b) { return unary("mul", Code::mul_scalar, b, a); }
Value sigmoid(Value a) { return unary("sigmoid", Code::sigmoid, a); }
Value tanh(Value a) { return unary("tanh", Code::tanh, a); }
Value relu(Value a) { return unary("relu", Code::relu, a); }
Value exp(Value a) { return unary("exp", Code::exp, a); }

Program::Program(std::string name, std::vector<int64_t> pieces, const Body& body) {
  check(building == nullptr, "fused::Program \"{}\": made inside the body of program \"{}\"", name,
        building ? building->name : "");
  check(!pieces.empty(), "fused::Program \"{}\": needs at least one input", name);
  for (size_t i = 0; i < pieces.size(); ++i)
    check(pieces[i] >= 1, "fused::Program \"{}\": input {} is cut into {} pieces (must be >= 1)", name, i, pieces[i]);
  auto impl = std::make_shared<ProgramImpl>();
  impl->name = std::move(name);
  impl->pieces = std::move(pieces);
  impl->id = next_program_id++;
  Inputs in(impl->pieces.size());
  for (size_t i = 0; i < impl->pieces.size(); ++i)
    for (int64_t j = 0; j < impl->pieces[i]; ++j) {
      impl->code.push_back({Code::input, -1, -1, 0, static_cast<int>(i), static_cast<int>(j)});
      in[i].push_back(Value{static_cast<int>(impl->code.size()) - 1, impl->id});
    }
  Values out;
  building = impl.get();
  try {
    out = body(in);
  } catch (...) {
    building = nullptr;
    throw;
  }
  building = nullptr;
  check(!out.empty(), "fused::Program \"{}\": the body returned no outputs", impl->name);
  for (const Value& v : out) {
    check(v.program == impl->id && v.slot >= 0 && v.slot < static_cast<int>(impl->code.size()),
          "fused::Program \"{}\": an output is not a value of this program", impl->name);
    impl->outputs.push_back(v.slot);
  }
  impl->output_of_slot.assign(impl->code.size(), -1);
  for (size_t j = 0; j < impl->outputs.size(); ++j) {
    const int slot = impl->outputs[j];
    if (impl->code[slot].code != Code::input && impl->output_of_slot[slot] < 0)
      impl->output_of_slot[slot] = static_cast<int>(j);
  }
  // Transcendentals are kept for backward, which never recomputes them (outputs it reads from the result).
  impl->saved_index.assign(impl->code.size(), -1);
  for (size_t k = 0; k < impl->code.size(); ++k) {
    const Code c = impl->code[k].code;
    if ((c == Code::sigmoid || c == Code::tanh || c == Code::exp) && impl->output_of_slot[k] < 0)
      impl->saved_index[k] = static_cast<int>(impl->num_saved++);
  }
  impl_ = std::move(impl);
}

const std::string& Program::name() const { return impl_->name; }
size_t Program::num_inputs() const { return impl_->pieces.size(); }
size_t Program::num_outputs() const { return impl_->outputs.size(); }

std::string Program::describe() const {
  std::string s = fmt::format("fused::Program \"{}\"\n", impl_->name);
  for (size_t k = 0; k < impl_->code.size(); ++k) {
    const Instruction& ins = impl_->code[k];
    if (ins.code == Code::input)
      s += fmt::format("  %{} = input {} piece {}\n", k, ins.input, ins.piece);
    else if (is_binary(ins.code))
      s += fmt::format("  %{} = {}(%{}, %{})\n", k, code_name(ins.code), ins.a, ins.b);
    else if (ins.code == Code::add_scalar || ins.code == Code::mul_scalar || ins.code == Code::scalar_sub)
      s += fmt::format("  %{} = {}(%{}, {})\n", k, code_name(ins.code), ins.a, ins.constant);
    else
      s += fmt::format("  %{} = {}(%{})\n", k, code_name(ins.code), ins.a);
  }
  std::string outs;
  for (int o : impl_->outputs) outs += fmt::format("{}%{}", outs.empty() ? "" : ", ", o);
  return s + "  outputs " + outs + "\n";
}

// ---- running ----------------------------------------------------------------------------------------
namespace {
using detail::kFusedBlock;

// The interpreter for the instruction set the matrix kernel uses (gemm_isa(): the CPU's best, or UNROLL_ISA);
// null where the build has none (a target without a vector unit xsimd knows: Program runs unfused()).
const detail::FusedIsaKernel* find_kernel() {
  const detail::GemmIsa isa = detail::gemm_isa();
  const detail::FusedIsaKernel* k = isa == detail::GemmIsa::avx512 ? detail::fused_kernel_avx512()
                                    : isa == detail::GemmIsa::avx2 ? detail::fused_kernel_avx2()
                                                                   : nullptr;
  return k != nullptr ? k : detail::fused_kernel_generic();
}
const detail::FusedIsaKernel& kernel() { return *find_kernel(); }

// This thread's scratch for a program of `slots` instructions (the block buffers of values and gradients,
// and the per-slot pointers, strides and flags), grown as needed and kept: a call allocates none.
template <class T>
detail::FusedScratch thread_scratch(size_t slots) {
  thread_local std::vector<T, xsimd::aligned_allocator<T, 64>> buffers[2];  // 64: an AVX-512 register
  thread_local std::vector<const void*> value;
  thread_local std::vector<int64_t> ld;
  thread_local std::vector<unsigned char> written;
  if (value.size() < slots) {
    for (auto& b : buffers) b.resize(slots * kFusedBlock);
    value.resize(slots);
    ld.resize(slots);
    written.resize(slots);
  }
  return {buffers[0].data(), buffers[1].data(), value.data(), ld.data(), written.data()};
}

// From this many elements per value (rows * cols) a call's blocks are split between the pool's threads.
// Each element is computed by the same operations whichever thread runs it, so the results do not depend
// on the thread count. Measured with bench/rnn_bench on two threads, split against not split (median of 5
// alternated pairs; docs/performance.md, "Fused chains on both threads"): at 8,192 elements lstm 2x256 N32
// training 1.04x, N128 H64 1.04x, N256 H32 1.04x; at 65,536 (lstm 1x1024) 1.04x; at 4,096 N32 H128 1.09x
// but N64 H64 0.89x. The chain alone (bench/fused_bench [32, 256] and [64, 1024]) trains slower on two
// threads, 0.81-0.82x: there every buffer it writes is hot in the caller's cache, which a model's split
// products do not leave it.
constexpr int64_t kParallelFusedElements = int64_t{1} << 13;

// Runs a kernel entry (forward or backward for T) over all of the run's blocks: on this thread, or for a
// large call in one part per thread of the pool, each part with its own thread's scratch.
template <class T, class Entry>
void run_blocks(const detail::FusedRun& run, Entry entry) {
  const int64_t parts = run.rows * run.cols >= kParallelFusedElements ? detail::parallel_width() : 1;
  auto part = [&](int64_t i) { entry(run, thread_scratch<T>(static_cast<size_t>(run.num_slots)), i, parts); };
  if (parts < 2) {
    part(0);
    return;
  }
  detail::parallel_for(parts, part);
}

// Checks the inputs against the program and returns E, the shape of every value.
Shape element_shape(const ProgramImpl& p, const std::vector<Tensor>& inputs) {
  check(inputs.size() == p.pieces.size(), "fused program \"{}\": expected {} inputs, got {}", p.name, p.pieces.size(),
        inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    check(inputs[i].defined(), "fused program \"{}\": input {} is an undefined tensor", p.name, i);
  const Shape& first = inputs[0].shape();
  Shape e = first;
  if (p.pieces[0] > 1) {
    check(first.size() >= 1 && first.back() % p.pieces[0] == 0,
          "fused program \"{}\": input 0 of shape {} cannot be cut into {} equal pieces along its last axis", p.name,
          first, p.pieces[0]);
    e[e.size() - 1] = first.back() / p.pieces[0];
  }
  for (size_t i = 1; i < inputs.size(); ++i) {
    Shape expected = e;
    if (p.pieces[i] > 1) {
      check(e.size() >= 1, "fused program \"{}\": input {} is cut into {} pieces, but the values are rank-0", p.name, i,
            p.pieces[i]);
      expected[e.size() - 1] = e.back() * p.pieces[i];
    }
    check(inputs[i].shape() == expected,
          "fused program \"{}\": input {} has shape {}, expected {} (input 0 of shape {} gives values of shape {}; "
          "input {} is cut into {} pieces along its last axis)",
          p.name, i, inputs[i].shape(), expected, first, e, i, p.pieces[i]);
  }
  return e;
}

DType common_dtype(const std::vector<Tensor>& inputs) {
  const DType dt = detail::result_type(inputs);
  return is_floating_point(dt) ? dt : get_default_dtype();
}

// Where the values lie: every value is [rows, cols] (cols = E.back(), rows the rest); piece j of input i at
// row r starts at input i's data + r * in_row[i] + j * cols. Fills the run's shape fields and in_row.
void set_layout(const ProgramImpl& p, const Shape& e, detail::FusedRun& run, std::vector<int64_t>& in_row) {
  run.cols = e.size() == 0 ? 1 : e.back();
  run.rows = run.cols == 0 ? 0 : e.numel() / run.cols;
  in_row.clear();
  for (int64_t pieces : p.pieces) in_row.push_back(run.cols * pieces);
  // With no input cut into pieces every value is contiguous: one long row makes whole blocks.
  if (std::all_of(p.pieces.begin(), p.pieces.end(), [](int64_t n) { return n == 1; })) {
    run.cols = e.numel();
    run.rows = run.cols == 0 ? 0 : 1;
    std::fill(in_row.begin(), in_row.end(), run.cols);
  }
  run.in_row = in_row.data();
  run.code = p.code.data();
  run.num_slots = static_cast<int64_t>(p.code.size());
  run.outputs = p.outputs.data();
  run.output_of_slot = p.output_of_slot.data();
  run.saved_index = p.saved_index.data();
  run.num_outputs = static_cast<int64_t>(p.outputs.size());
}

std::vector<Tensor> converted(const std::vector<Tensor>& inputs, DType dt) {
  std::vector<Tensor> out;
  out.reserve(inputs.size());
  for (const Tensor& t : inputs) out.push_back(t.dtype() == dt ? t : detail::cast(t, dt));
  return out;
}
}  // namespace

std::vector<Tensor> Program::unfused(const std::vector<Tensor>& inputs) const {
  const ProgramImpl& p = *impl_;
  const Shape e = element_shape(p, inputs);
  const DType dt = common_dtype(inputs);
  std::vector<Tensor> slot(p.code.size());
  for (size_t k = 0; k < p.code.size(); ++k) {
    const Instruction& ins = p.code[k];
    const auto a = [&] { return slot[static_cast<size_t>(ins.a)]; };
    const auto b = [&] { return slot[static_cast<size_t>(ins.b)]; };
    switch (ins.code) {
      case Code::input: {
        const Tensor& x = inputs[static_cast<size_t>(ins.input)];
        const Tensor whole = x.dtype() == dt ? x : x.to(dt);
        slot[k] = p.pieces[static_cast<size_t>(ins.input)] == 1
                      ? whole
                      : narrow(whole, static_cast<int>(whole.dim()) - 1, ins.piece * e.back(), e.back());  // chunk j of the last axis
        break;
      }
      case Code::add:
        slot[k] = a() + b();
        break;
      case Code::sub:
        slot[k] = a() - b();
        break;
      case Code::mul:
        slot[k] = a() * b();
        break;
      case Code::neg:
        slot[k] = -a();
        break;
      case Code::add_scalar:
        slot[k] = a() + ins.constant;
        break;
      case Code::mul_scalar:
        slot[k] = a() * ins.constant;
        break;
      case Code::scalar_sub:
        slot[k] = ins.constant - a();
        break;
      case Code::sigmoid:
        slot[k] = sigmoid(a());
        break;
      case Code::tanh:
        slot[k] = tanh(a());
        break;
      case Code::relu:
        slot[k] = relu(a());
        break;
      case Code::exp:
        slot[k] = exp(a());
        break;
    }
  }
  std::vector<Tensor> out;  // each a tensor of its own, as operator()'s (an input or its piece is copied)
  for (int o : p.outputs) {
    const Tensor& value = slot[static_cast<size_t>(o)];
    out.push_back(p.code[static_cast<size_t>(o)].code == Code::input ? clone(value) : value);
  }
  return out;
}

std::vector<Tensor> Program::operator()(const std::vector<Tensor>& inputs) const {
  if (find_kernel() == nullptr) [[unlikely]]
    return unfused(inputs);
  const ProgramImpl& p = *impl_;
  const Shape e = element_shape(p, inputs);
  const DType dt = common_dtype(inputs);
  const int64_t numel = e.numel();
  const size_t n_out = p.outputs.size();
  const bool recording = should_record(inputs);
  // Recorded: all outputs in one tensor [n_out * numel] (one node; the outputs are slices of it).
  Tensor packed;
  std::vector<Tensor> outputs;
  if (recording)  // one output: it is the recorded result itself
    packed = n_out == 1 ? empty(e, dt) : empty(Shape{static_cast<int64_t>(n_out) * numel}, dt);
  else
    for (size_t j = 0; j < n_out; ++j) outputs.push_back(empty(e, dt));
  const std::vector<Tensor> values = converted(inputs, dt);
  detail::FusedRun run;
  std::vector<int64_t> in_row;
  set_layout(p, e, run, in_row);
  std::vector<const void*> in(values.size());
  for (size_t i = 0; i < values.size(); ++i) in[i] = values[i].impl()->storage->data;
  std::vector<void*> dst(n_out);
  const size_t elem = dt == kFloat64 ? sizeof(double) : sizeof(float);
  for (size_t j = 0; j < n_out; ++j)
    dst[j] = recording ? static_cast<char*>(packed.impl()->storage->data) + j * numel * elem
                       : outputs[j].impl()->storage->data;
  run.in = in.data();
  run.out = dst.data();
  Tensor saved;  // the transcendentals' values, for backward
  if (recording && p.num_saved > 0) {
    saved = empty(Shape{p.num_saved * numel}, dt);
    run.saved = saved.impl()->storage->data;
  }
  visit_floating(p.name.c_str(), dt,
                 [&]<class T>() { run_blocks<T>(run, kernel().forward[std::is_same_v<T, double>]); });
  if (!recording) return outputs;

  record(packed, p.name.c_str(), inputs, [impl = impl_, e, saved](BackwardContext& ctx) {
    const ProgramImpl& p = *impl;
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < p.pieces.size(); ++i) inputs.push_back(detail::as_tensor(ctx.input(static_cast<int>(i))));
    const DType dt = ctx.grad_output().dtype();
    const std::vector<Tensor> values = converted(inputs, dt);
    std::vector<Tensor> grads(p.pieces.size());
    for (size_t i = 0; i < grads.size(); ++i)
      if (ctx.needs_grad(static_cast<int>(i))) grads[i] = empty(inputs[i].shape(), dt);
    detail::FusedRun run;
    std::vector<int64_t> in_row;
    set_layout(p, e, run, in_row);
    std::vector<const void*> in(values.size());
    std::vector<void*> grad_in(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      in[i] = values[i].impl()->storage->data;
      grad_in[i] = grads[i].defined() ? grads[i].impl()->storage->data : nullptr;
    }
    run.in = in.data();
    Tensor saved_values = saved;  // in the gradient's dtype, as every value here
    if (saved_values.defined() && saved_values.dtype() != dt) saved_values = detail::cast(saved_values, dt);
    if (saved_values.defined()) run.saved = saved_values.impl()->storage->data;
    run.grad_out = ctx.grad_output().impl()->storage->data;
    std::vector<void*> result(p.outputs.size());  // the recorded result, read instead of recomputed
    if (ctx.output().dtype == dt) {
      const size_t elem = dt == kFloat64 ? sizeof(double) : sizeof(float);
      for (size_t j = 0; j < result.size(); ++j)
        result[j] = static_cast<char*>(ctx.output().storage->data) + j * e.numel() * elem;
      run.out = result.data();
    }
    run.grad_in = grad_in.data();
    visit_floating(p.name.c_str(), dt,
                   [&]<class T>() { run_blocks<T>(run, kernel().backward[std::is_same_v<T, double>]); });
    for (size_t i = 0; i < grads.size(); ++i)
      if (grads[i].defined()) ctx.add_grad(static_cast<int>(i), grads[i]);
  });
  if (n_out == 1) return {packed};
  std::vector<Tensor> out;
  for (size_t j = 0; j < n_out; ++j)
    out.push_back(narrow(packed, 0, static_cast<int64_t>(j) * numel, numel).reshape(e));
  return out;
}

}  // namespace unroll::fused
