// Internal: the fused-program interpreter (fused_kernel.hpp), a template over one instruction set. Included
// only by fused_kernel_avx512.cpp, fused_kernel_avx2.cpp and fused_kernel_generic.cpp, each compiled with its
// own flags. As gemm_kernel_impl.hpp: everything has internal linkage and no standard-library template is
// called, so no function compiled for AVX-512 can become the copy the linker keeps for the baseline.
//
// Each operation is one struct holding its forward and its backward side by side, written once for xsimd
// batches. Unary: y = forward(a, k) (k: the instruction's constant, for the scalar forms), and backward
// gives this op's part of dL/da from g = dL/dy, a, y and k. Binary: y = forward(a, b); backward sets da and
// db, its parts of dL/da and dL/db. The interpreter adds the parts up. The formulas are those of the plain ops of the
// same names (framework/ops/elementwise.cpp).
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <cstring>

#include "unroll/framework/detail/fused_kernel.hpp"

namespace unroll::detail {
namespace {

struct AddOp {
  template <class V>
  static V forward(V a, V b) {
    return a + b;
  }
  template <class V>
  static void backward(V g, V, V, V, V& da, V& db) {
    da = g, db = g;
  }
};
struct SubOp {
  template <class V>
  static V forward(V a, V b) {
    return a - b;
  }
  template <class V>
  static void backward(V g, V, V, V, V& da, V& db) {
    da = g, db = -g;
  }
};
struct MulOp {
  template <class V>
  static V forward(V a, V b) {
    return a * b;
  }
  template <class V>
  static void backward(V g, V a, V b, V, V& da, V& db) {
    da = g * b, db = g * a;
  }
};
struct NegOp {
  template <class V>
  static V forward(V a, V) {
    return -a;
  }
  template <class V>
  static V backward(V g, V, V, V) {
    return -g;
  }
};
struct AddScalarOp {  // a + k
  template <class V>
  static V forward(V a, V k) {
    return a + k;
  }
  template <class V>
  static V backward(V g, V, V, V) {
    return g;
  }
};
struct MulScalarOp {  // a * k
  template <class V>
  static V forward(V a, V k) {
    return a * k;
  }
  template <class V>
  static V backward(V g, V, V, V k) {
    return g * k;
  }
};
struct ScalarSubOp {  // k - a
  template <class V>
  static V forward(V a, V k) {
    return k - a;
  }
  template <class V>
  static V backward(V g, V, V, V) {
    return -g;
  }
};
struct SigmoidOp {  // as unroll::sigmoid: 1 / (1 + exp(-a)); dy/da = y (1 - y)
  template <class V>
  static V forward(V a, V) {
    return V(1) / (V(1) + xsimd::exp(-a));
  }
  template <class V>
  static V backward(V g, V, V y, V) {
    return g * y * (V(1) - y);
  }
};
struct TanhOp {  // dy/da = 1 - y^2
  template <class V>
  static V forward(V a, V) {
    return xsimd::tanh(a);
  }
  template <class V>
  static V backward(V g, V, V y, V) {
    return g * (V(1) - y * y);
  }
};
struct ReluOp {  // as unroll::relu: a < 0 ? 0 : a (NaN and -0 pass through); gradient 0 where a <= 0
  template <class V>
  static V forward(V a, V) {
    return xsimd::select(a < V(0), V(0), a);
  }
  template <class V>
  static V backward(V g, V a, V, V) {
    return xsimd::select(a <= V(0), V(0), g);
  }
};
struct ExpOp {  // dy/da = y
  template <class V>
  static V forward(V a, V) {
    return xsimd::exp(a);
  }
  template <class V>
  static V backward(V g, V, V y, V) {
    return g * y;
  }
};

inline bool is_binary(FusedCode c) { return c == FusedCode::add || c == FusedCode::sub || c == FusedCode::mul; }
// forward_block and backward_block each map a code to its operation with their own switch. One mapping
// (a with_op(code, generic lambda) that both call) measured 0.90-0.92x on bench/fused_bench [32, 256]
// inference (1.35-1.38x against 1.49-1.50x, also with always_inline): kept as two switches.

template <class T, class Arch>
struct Fused {
  using V = xsimd::batch<T, Arch>;
  static constexpr int64_t W = static_cast<int64_t>(V::size);
  static_assert(kFusedBlock % W == 0);

  // ---- one block: rows r .. r + rb of the [rows, cols] values, columns c .. c + n -------------------
  // A block is at most kFusedBlock elements: one row's columns in slices of kFusedBlock, or, when a row is
  // shorter and a whole number of batches, several rows (an LSTM 1x64's [16, 64] in 4 blocks of 4 rows
  // instead of 16 of one: the interpreter's per-instruction cost is paid per block). Slot k's block starts
  // at value[k] with rows ld[k] elements apart: in place in an input, an output or the saved values, or in
  // the buffers (row length n).
  //
  // A block of whole batches reads its inputs in place and writes each output that an operation makes
  // straight to its place in out (when out is not null); a ragged block (always one row) works in the
  // buffers, padded to whole batches with zeros. (Copying every input into the buffers and every output
  // out of them cost 1.06x the time of the LSTM chain on [32, 256].)
  //
  // Saved slots (run.saved_index): with `reuse_saved` (backward) they are read from run.saved like inputs,
  // and so is every slot an operation makes that is an output, from out (the recorded result; not copied
  // again into saved); otherwise, when run.saved is set, computed straight into it (whole blocks) or copied
  // there.
  static void forward_block(const FusedRun& run, const FusedScratch& s, int64_t r, int64_t rb, int64_t c, int64_t n,
                            void* const* out, bool reuse_saved) {
    const bool whole = n % W == 0;
    const int64_t nv = (n + W - 1) / W * W;
    T* values = static_cast<T*>(s.values);
    const T** value = reinterpret_cast<const T**>(s.value);
    int64_t* ld = s.ld;
    const int64_t numel = run.rows * run.cols;
    for (int64_t k = 0; k < run.num_slots; ++k) {
      const FusedInstruction& ins = run.code[k];
      T* y = values + k * kFusedBlock;
      int64_t ldy = nv;
      T* saved = run.saved != nullptr && run.saved_index[k] >= 0
                     ? static_cast<T*>(run.saved) + run.saved_index[k] * numel + r * run.cols + c
                     : nullptr;
      if (reuse_saved && out != nullptr && run.output_of_slot[k] >= 0)
        saved = static_cast<T*>(out[run.output_of_slot[k]]) + r * run.cols + c;
      if (ins.code == FusedCode::input || (saved != nullptr && reuse_saved)) {
        const bool from_input = saved == nullptr || !reuse_saved;
        const T* src =
            from_input ? static_cast<const T*>(run.in[ins.input]) + r * run.in_row[ins.input] + ins.piece * run.cols + c
                       : saved;
        const int64_t lds = from_input ? run.in_row[ins.input] : run.cols;
        if (whole) {
          value[k] = src;
          ld[k] = lds;
        } else {  // one row
          std::memcpy(y, src, static_cast<size_t>(n) * sizeof(T));
          for (int64_t q = n; q < nv; ++q) y[q] = T(0);
          value[k] = y;
          ld[k] = nv;
        }
        continue;
      }
      if (whole && saved != nullptr) {
        y = saved;
        ldy = run.cols;
      } else if (whole && out != nullptr && run.output_of_slot[k] >= 0) {
        y = static_cast<T*>(out[run.output_of_slot[k]]) + r * run.cols + c;
        ldy = run.cols;
      }
      value[k] = y;
      ld[k] = ldy;
      const Operand a{value[ins.a], ld[ins.a]};
      const Operand b{ins.b >= 0 ? value[ins.b] : nullptr, ins.b >= 0 ? ld[ins.b] : 0};
      const V kv(static_cast<T>(ins.constant));
      const Shape2 sh{rb, nv};
      switch (ins.code) {
        case FusedCode::add:
          forward_binary<AddOp>(a, b, y, ldy, sh);
          break;
        case FusedCode::sub:
          forward_binary<SubOp>(a, b, y, ldy, sh);
          break;
        case FusedCode::mul:
          forward_binary<MulOp>(a, b, y, ldy, sh);
          break;
        case FusedCode::neg:
          forward_unary<NegOp>(a, kv, y, ldy, sh);
          break;
        case FusedCode::add_scalar:
          forward_unary<AddScalarOp>(a, kv, y, ldy, sh);
          break;
        case FusedCode::mul_scalar:
          forward_unary<MulScalarOp>(a, kv, y, ldy, sh);
          break;
        case FusedCode::scalar_sub:
          forward_unary<ScalarSubOp>(a, kv, y, ldy, sh);
          break;
        case FusedCode::sigmoid:
          forward_unary<SigmoidOp>(a, kv, y, ldy, sh);
          break;
        case FusedCode::tanh:
          forward_unary<TanhOp>(a, kv, y, ldy, sh);
          break;
        case FusedCode::relu:
          forward_unary<ReluOp>(a, kv, y, ldy, sh);
          break;
        case FusedCode::exp:
          forward_unary<ExpOp>(a, kv, y, ldy, sh);
          break;
        case FusedCode::input:
          break;
      }
      if (saved != nullptr && y != saved)
        for (int64_t q = 0; q < rb; ++q)
          std::memcpy(saved + q * run.cols, y + q * ldy, static_cast<size_t>(n) * sizeof(T));
    }
  }

  // grads (slot k's block at grads + k * kFusedBlock, rows nv apart) holds the gradients of the slots
  // marked in `written` (the outputs', on entry); the rest are not initialized. On return, every input
  // slot's gradient is there if `written` says so, else it is zero. Instructions run in reverse, so a slot's
  // gradient is complete before its own op reads it; an op whose slot no gradient reached passes nothing
  // on. The first part of a slot's gradient is stored, later ones added: nothing is zeroed (zeroing every
  // slot's block per block of a 64-wide row was 6-9% of lstm 1x64 training).
  static void backward_block(const FusedRun& run, const FusedScratch& s, int64_t rb, int64_t n) {
    const int64_t nv = (n + W - 1) / W * W;
    T* grads = static_cast<T*>(s.grads);
    unsigned char* written = s.written;
    const T* const* value = reinterpret_cast<const T* const*>(s.value);
    const int64_t* ld = s.ld;
    const Shape2 sh{rb, nv};
    for (int64_t k = run.num_slots; k-- > 0;) {
      const FusedInstruction& ins = run.code[k];
      if (ins.code == FusedCode::input || !written[k]) continue;
      const T* g = grads + k * kFusedBlock;
      const Operand y{value[k], ld[k]};
      const Operand a{value[ins.a], ld[ins.a]};
      T* ga = grads + ins.a * kFusedBlock;
      const V kv(static_cast<T>(ins.constant));
      if (is_binary(ins.code)) {
        const Operand b{value[ins.b], ld[ins.b]};
        T* gb = grads + ins.b * kFusedBlock;
        const bool add_a = written[ins.a], add_b = written[ins.b];
        switch (ins.code) {
          case FusedCode::add:
            backward_binary<AddOp>(g, a, b, y, ga, gb, add_a, add_b, sh);
            break;
          case FusedCode::sub:
            backward_binary<SubOp>(g, a, b, y, ga, gb, add_a, add_b, sh);
            break;
          default:
            backward_binary<MulOp>(g, a, b, y, ga, gb, add_a, add_b, sh);
            break;
        }
        written[ins.a] = written[ins.b] = 1;
        continue;
      }
      const bool add_to = written[ins.a];
      switch (ins.code) {
        case FusedCode::neg:
          backward_unary<NegOp>(g, a, y, kv, ga, add_to, sh);
          break;
        case FusedCode::add_scalar:
          backward_unary<AddScalarOp>(g, a, y, kv, ga, add_to, sh);
          break;
        case FusedCode::mul_scalar:
          backward_unary<MulScalarOp>(g, a, y, kv, ga, add_to, sh);
          break;
        case FusedCode::scalar_sub:
          backward_unary<ScalarSubOp>(g, a, y, kv, ga, add_to, sh);
          break;
        case FusedCode::sigmoid:
          backward_unary<SigmoidOp>(g, a, y, kv, ga, add_to, sh);
          break;
        case FusedCode::tanh:
          backward_unary<TanhOp>(g, a, y, kv, ga, add_to, sh);
          break;
        case FusedCode::relu:
          backward_unary<ReluOp>(g, a, y, kv, ga, add_to, sh);
          break;
        case FusedCode::exp:
          backward_unary<ExpOp>(g, a, y, kv, ga, add_to, sh);
          break;
        default:
          break;
      }
      written[ins.a] = 1;
    }
  }

  struct Operand {  // a slot's block: rows ld elements apart
    const T* p;
    int64_t ld;
  };
  struct Shape2 {  // rows of a block, and elements per row (whole batches)
    int64_t rows, nv;
  };

  template <class Op>
  static void forward_binary(Operand a, Operand b, T* y, int64_t ldy, Shape2 sh) {
    for (int64_t q = 0; q < sh.rows; ++q)
      for (int64_t i = 0; i < sh.nv; i += W)
        Op::forward(V::load_unaligned(a.p + q * a.ld + i), V::load_unaligned(b.p + q * b.ld + i))
            .store_unaligned(y + q * ldy + i);
  }
  template <class Op>
  static void forward_unary(Operand a, V k, T* y, int64_t ldy, Shape2 sh) {
    for (int64_t q = 0; q < sh.rows; ++q)
      for (int64_t i = 0; i < sh.nv; i += W)
        Op::forward(V::load_unaligned(a.p + q * a.ld + i), k).store_unaligned(y + q * ldy + i);
  }
  // Gradient buffers (g, ga, gb) are the block's own: rows nv apart, aligned.
  template <class Op>
  static void backward_binary(const T* g, Operand a, Operand b, Operand y, T* ga, T* gb, bool add_a, bool add_b,
                              Shape2 sh) {
    for (int64_t q = 0; q < sh.rows; ++q)
      for (int64_t i = 0; i < sh.nv; i += W) {
        const int64_t at = q * sh.nv + i;
        V da, db;
        Op::backward(V::load_aligned(g + at), V::load_unaligned(a.p + q * a.ld + i),
                     V::load_unaligned(b.p + q * b.ld + i), V::load_unaligned(y.p + q * y.ld + i), da, db);
        if (ga == gb) {  // a op a: both parts go to one slot
          const V both = da + db;
          (add_a ? V::load_aligned(ga + at) + both : both).store_aligned(ga + at);
        } else {
          (add_a ? V::load_aligned(ga + at) + da : da).store_aligned(ga + at);
          (add_b ? V::load_aligned(gb + at) + db : db).store_aligned(gb + at);
        }
      }
  }
  template <class Op>
  static void backward_unary(const T* g, Operand a, Operand y, V k, T* ga, bool add, Shape2 sh) {
    for (int64_t q = 0; q < sh.rows; ++q)
      for (int64_t i = 0; i < sh.nv; i += W) {
        const int64_t at = q * sh.nv + i;
        const V da = Op::backward(V::load_aligned(g + at), V::load_unaligned(a.p + q * a.ld + i),
                                  V::load_unaligned(y.p + q * y.ld + i), k);
        (add ? V::load_aligned(ga + at) + da : da).store_aligned(ga + at);
      }
  }

  // ---- whole calls ---------------------------------------------------------------------------------
  // Calls f(r, rb, c, n) for every block (see forward_block) of part `part` of `parts`: blocks are numbered
  // row of blocks by row of blocks, and part i takes numbers [i * B / parts, (i + 1) * B / parts).
  template <class F>
  static void for_each_block(const FusedRun& run, int64_t part, int64_t parts, F&& f) {
    const int64_t rows_per_block =
        run.cols % W == 0 && run.cols > 0 && run.cols < kFusedBlock ? kFusedBlock / run.cols : 1;
    const int64_t per_row = (run.cols + kFusedBlock - 1) / kFusedBlock;  // blocks across one row of blocks
    const int64_t blocks = (run.rows + rows_per_block - 1) / rows_per_block * per_row;
    const int64_t first = part * blocks / parts, last = (part + 1) * blocks / parts;
    for (int64_t b = first; b < last; ++b) {
      const int64_t r = b / per_row * rows_per_block, c = b % per_row * kFusedBlock;
      f(r, run.rows - r < rows_per_block ? run.rows - r : rows_per_block, c,
        run.cols - c < kFusedBlock ? run.cols - c : kFusedBlock);
    }
  }

  static void forward(const FusedRun& run, const FusedScratch& s, int64_t part, int64_t parts) {
    const T** value = reinterpret_cast<const T**>(s.value);
    for_each_block(run, part, parts, [&](int64_t r, int64_t rb, int64_t c, int64_t n) {
      forward_block(run, s, r, rb, c, n, run.out, false);
      for (int64_t j = 0; j < run.num_outputs; ++j) {  // the outputs not written in place
        T* to = static_cast<T*>(run.out[j]) + r * run.cols + c;
        const T* from = value[run.outputs[j]];
        if (from == to) continue;
        for (int64_t q = 0; q < rb; ++q)
          std::memcpy(to + q * run.cols, from + q * s.ld[run.outputs[j]], static_cast<size_t>(n) * sizeof(T));
      }
    });
  }

  // Recomputes each block's values (the saved ones read back), seeds the outputs' gradients, runs the reverse
  // sweep, and writes every wanted input piece's gradient (each element of an input belongs to exactly one
  // piece: written once).
  static void backward(const FusedRun& run, const FusedScratch& s, int64_t part, int64_t parts) {
    const T* grad_out = static_cast<const T*>(run.grad_out);
    T* grads = static_cast<T*>(s.grads);
    const int64_t numel = run.rows * run.cols;
    for_each_block(run, part, parts, [&](int64_t r, int64_t rb, int64_t c, int64_t n) {
      forward_block(run, s, r, rb, c, n, run.out, true);
      const int64_t nv = (n + W - 1) / W * W;
      for (int64_t k = 0; k < run.num_slots; ++k) s.written[k] = 0;
      for (int64_t j = 0; j < run.num_outputs; ++j) {  // seeds; an output listed twice gets both gradients
        const int slot = run.outputs[j];
        T* seed = grads + slot * kFusedBlock;
        const bool add = s.written[slot];
        for (int64_t q = 0; q < rb; ++q) {
          const T* src = grad_out + j * numel + (r + q) * run.cols + c;
          T* row = seed + q * nv;
          if (add) {
            for (int64_t i = 0; i < n; ++i) row[i] += src[i];
          } else {
            std::memcpy(row, src, static_cast<size_t>(n) * sizeof(T));
            for (int64_t i = n; i < nv; ++i) row[i] = T(0);
          }
        }
        s.written[slot] = 1;
      }
      backward_block(run, s, rb, n);
      for (int64_t k = 0; k < run.num_slots && run.code[k].code == FusedCode::input; ++k) {
        const FusedInstruction& ins = run.code[k];
        if (run.grad_in[ins.input] == nullptr) continue;
        for (int64_t q = 0; q < rb; ++q) {
          T* to = static_cast<T*>(run.grad_in[ins.input]) + (r + q) * run.in_row[ins.input] + ins.piece * run.cols + c;
          if (s.written[k])
            std::memcpy(to, grads + k * kFusedBlock + q * nv, static_cast<size_t>(n) * sizeof(T));
          else  // no output depends on this piece
            std::memset(to, 0, static_cast<size_t>(n) * sizeof(T));
        }
      }
    });
  }
};

template <class Arch>
constexpr FusedIsaKernel fused_kernel_for(GemmIsa isa) {
  return {isa,
          {&Fused<float, Arch>::forward, &Fused<double, Arch>::forward},
          {&Fused<float, Arch>::backward, &Fused<double, Arch>::backward}};
}

}  // namespace
}  // namespace unroll::detail
