// Internal: the interpreter that runs a fused::Program (framework/fused.hpp), built once per instruction set.
//
// fused_kernel_impl.hpp is the interpreter, a template over one instruction set; fused_kernel_avx512.cpp,
// fused_kernel_avx2.cpp and fused_kernel_generic.cpp instantiate it, each compiled with its own flags as the
// GEMM kernel's files are (CMakeLists.txt). ops/fused.cpp (baseline) builds programs, checks inputs,
// allocates, records the graph node, and calls the kernel of the instruction set gemm_isa() names (the same
// start-up choice and UNROLL_ISA override as the matrix kernel). The AVX-512 build ran the LSTM cell's chain
// on [32, 256] in 0.51-0.57x the time of the AVX2 one (transcendentals on 16 lanes instead of 8).
#pragma once

#include <cstdint>

#include "unroll/framework/detail/gemm_kernel.hpp"

namespace unroll::detail {

enum class FusedCode : uint8_t {
  input,
  add,
  sub,
  mul,
  neg,
  add_scalar,
  mul_scalar,
  scalar_sub,
  sigmoid,
  tanh,
  relu,
  exp
};

// Slot k of a program is what instruction k computes: an input's piece, or code applied to slots a (and b),
// with `constant` the k of the scalar forms (a + k, a * k, k - a).
struct FusedInstruction {
  FusedCode code = FusedCode::input;
  int a = -1, b = -1;
  double constant = 0;
  int input = -1, piece = -1;  // FusedCode::input: which input, which piece of its last axis
};

// Elements of each value per block: the interpreter runs every instruction over one block before the next
// block, so a block of every slot (and, in backward, of every gradient) stays in L1.
inline constexpr int64_t kFusedBlock = 256;

// One call of a program on float or double data (T below). Every value is [rows, cols]; piece j of input i
// is at in[i] + r * in_row[i] + j * cols + c. All pointers are T*, passed untyped.
struct FusedRun {
  const FusedInstruction* code = nullptr;  // the first instructions are the inputs' pieces
  int64_t num_slots = 0;
  const int* outputs = nullptr;         // output j is slot outputs[j]
  const int* output_of_slot = nullptr;  // per slot: the first output it is, if an operation makes it; else -1
  int64_t num_outputs = 0;
  int64_t rows = 0, cols = 0;
  const void* const* in = nullptr;
  const int64_t* in_row = nullptr;
  // out[j] is output j, [rows, cols]: forward writes it; backward (if not null) reads the values there
  void* const* out = nullptr;
  // backward: grad_out holds every output's gradient, output j at j * rows * cols; grad_in[i] receives input
  // i's gradient in the input's own layout (null: not wanted)
  const void* grad_out = nullptr;
  void* const* grad_in = nullptr;
  // The values of the slots that saved_index marks (>= 0: the slot's row in saved, [*, rows * cols]):
  // forward writes them there when saved is not null; backward reads them instead of computing them again.
  // The transcendental ones (sigmoid, tanh, exp) that are not outputs are saved (backward reads outputs from
  // out): recomputing them made the backward of the LSTM chain cost more than the unfused ops' backward
  // (lstm 1x64 training 0.92x).
  const int* saved_index = nullptr;
  void* saved = nullptr;
};

// One thread's working memory for a call: num_slots * kFusedBlock elements each (64-byte aligned) for the
// values and gradients of one block, and per slot a pointer, a stride and a flag.
struct FusedScratch {
  void* values = nullptr;
  void* grads = nullptr;
  const void** value = nullptr;
  int64_t* ld = nullptr;
  unsigned char* written = nullptr;
};

// [0]: float, [1]: double. Each call runs part `part` of `parts`: the run's blocks (in the order the
// interpreter walks them) cut into `parts` consecutive ranges as equal as whole blocks allow. Every element
// is computed by the same operations whichever part it falls in, so the parts may run on different threads,
// each with its own scratch, and the results do not depend on how many parts there are.
struct FusedIsaKernel {
  GemmIsa isa;
  void (*forward[2])(const FusedRun&, const FusedScratch&, int64_t part, int64_t parts);
  void (*backward[2])(const FusedRun&, const FusedScratch&, int64_t part, int64_t parts);
};

// Null when the build has no such kernel (the file compiled without the instruction set's flags).
const FusedIsaKernel* fused_kernel_avx512();
const FusedIsaKernel* fused_kernel_avx2();
const FusedIsaKernel* fused_kernel_generic();

}  // namespace unroll::detail
