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

template <class T, class Arch>
struct Fused {
  using V = xsimd::batch<T, Arch>;
  static constexpr int64_t W = static_cast<int64_t>(V::size);
  static_assert(kFusedBlock % W == 0);

  // ---- one block: n elements (columns c .. c + n of row r) of every slot ---------------------------
  // A block of whole batches reads its inputs in place and writes each output that an operation makes
  // straight to its place in out (when out is not null); a ragged block works in `values`, padded to whole
  // batches with zeros. On return value[k] points at slot k's n values. (Copying every input into the
  // buffers and every output out of them cost 1.06x the time of the LSTM chain on [32, 256].)
  //
  // Saved slots (run.saved_index): with `reuse_saved` (backward) they are read from run.saved like inputs,
  // and so is every slot an operation makes that is an output, from out (the recorded result; not copied
  // again into saved); otherwise, when run.saved is set, computed straight into it (whole blocks) or copied
  // there.
  static void forward_block(const FusedRun& run, int64_t r, int64_t c, int64_t n, void* const* out, bool reuse_saved) {
    const bool whole = n % W == 0;
    const int64_t nv = (n + W - 1) / W * W;
    T* values = static_cast<T*>(run.values);
    const T** value = reinterpret_cast<const T**>(run.value);
    const int64_t numel = run.rows * run.cols;
    for (int64_t k = 0; k < run.num_slots; ++k) {
      const FusedInstruction& ins = run.code[k];
      T* y = values + k * kFusedBlock;
      T* saved = run.saved != nullptr && run.saved_index[k] >= 0
                     ? static_cast<T*>(run.saved) + run.saved_index[k] * numel + r * run.cols + c
                     : nullptr;
      if (reuse_saved && out != nullptr && run.output_of_slot[k] >= 0)
        saved = static_cast<T*>(out[run.output_of_slot[k]]) + r * run.cols + c;
      if (ins.code == FusedCode::input || (saved != nullptr && reuse_saved)) {
        const T* src = saved != nullptr ? saved
                                        : static_cast<const T*>(run.in[ins.input]) + r * run.in_row[ins.input] +
                                              ins.piece * run.cols + c;
        if (whole) {
          value[k] = src;
        } else {
          std::memcpy(y, src, static_cast<size_t>(n) * sizeof(T));
          for (int64_t q = n; q < nv; ++q) y[q] = T(0);
          value[k] = y;
        }
        continue;
      }
      if (whole && saved != nullptr)
        y = saved;
      else if (whole && out != nullptr && run.output_of_slot[k] >= 0)
        y = static_cast<T*>(out[run.output_of_slot[k]]) + r * run.cols + c;
      value[k] = y;
      const T* a = value[ins.a];
      const T* b = ins.b >= 0 ? value[ins.b] : nullptr;
      const V kv(static_cast<T>(ins.constant));
      switch (ins.code) {
        case FusedCode::add:
          forward_binary<AddOp>(a, b, y, nv);
          break;
        case FusedCode::sub:
          forward_binary<SubOp>(a, b, y, nv);
          break;
        case FusedCode::mul:
          forward_binary<MulOp>(a, b, y, nv);
          break;
        case FusedCode::neg:
          forward_unary<NegOp>(a, kv, y, nv);
          break;
        case FusedCode::add_scalar:
          forward_unary<AddScalarOp>(a, kv, y, nv);
          break;
        case FusedCode::mul_scalar:
          forward_unary<MulScalarOp>(a, kv, y, nv);
          break;
        case FusedCode::scalar_sub:
          forward_unary<ScalarSubOp>(a, kv, y, nv);
          break;
        case FusedCode::sigmoid:
          forward_unary<SigmoidOp>(a, kv, y, nv);
          break;
        case FusedCode::tanh:
          forward_unary<TanhOp>(a, kv, y, nv);
          break;
        case FusedCode::relu:
          forward_unary<ReluOp>(a, kv, y, nv);
          break;
        case FusedCode::exp:
          forward_unary<ExpOp>(a, kv, y, nv);
          break;
        case FusedCode::input:
          break;
      }
      if (saved != nullptr && y != saved) std::memcpy(saved, y, static_cast<size_t>(n) * sizeof(T));
    }
  }

  // grads (slot k's block at grads + k * kFusedBlock) holds the gradients of the slots marked in `written`
  // (the outputs', on entry); the rest are not initialized. On return, every input slot's gradient is there
  // if `written` says so, else it is zero. Instructions run in reverse, so a slot's gradient is complete
  // before its own op reads it; an op whose slot no gradient reached passes nothing on. The first part of a
  // slot's gradient is stored, later ones added: nothing is zeroed (zeroing every slot's block per block
  // of a 64-wide row was 6-9% of lstm 1x64 training).
  static void backward_block(const FusedRun& run, int64_t n) {
    const int64_t nv = (n + W - 1) / W * W;
    T* grads = static_cast<T*>(run.grads);
    unsigned char* written = run.written;
    const T* const* value = reinterpret_cast<const T* const*>(run.value);
    for (int64_t k = run.num_slots; k-- > 0;) {
      const FusedInstruction& ins = run.code[k];
      if (ins.code == FusedCode::input || !written[k]) continue;
      const T* g = grads + k * kFusedBlock;
      const T* y = value[k];
      const T* a = value[ins.a];
      T* ga = grads + ins.a * kFusedBlock;
      const V kv(static_cast<T>(ins.constant));
      if (is_binary(ins.code)) {
        const T* b = value[ins.b];
        T* gb = grads + ins.b * kFusedBlock;
        switch (ins.code) {
          case FusedCode::add:
            backward_binary<AddOp>(g, a, b, y, ga, gb, written[ins.a], written[ins.b], nv);
            break;
          case FusedCode::sub:
            backward_binary<SubOp>(g, a, b, y, ga, gb, written[ins.a], written[ins.b], nv);
            break;
          default:
            backward_binary<MulOp>(g, a, b, y, ga, gb, written[ins.a], written[ins.b], nv);
            break;
        }
        written[ins.a] = written[ins.b] = 1;
        continue;
      }
      const bool add_to = written[ins.a];
      switch (ins.code) {
        case FusedCode::neg:
          backward_unary<NegOp>(g, a, y, kv, ga, add_to, nv);
          break;
        case FusedCode::add_scalar:
          backward_unary<AddScalarOp>(g, a, y, kv, ga, add_to, nv);
          break;
        case FusedCode::mul_scalar:
          backward_unary<MulScalarOp>(g, a, y, kv, ga, add_to, nv);
          break;
        case FusedCode::scalar_sub:
          backward_unary<ScalarSubOp>(g, a, y, kv, ga, add_to, nv);
          break;
        case FusedCode::sigmoid:
          backward_unary<SigmoidOp>(g, a, y, kv, ga, add_to, nv);
          break;
        case FusedCode::tanh:
          backward_unary<TanhOp>(g, a, y, kv, ga, add_to, nv);
          break;
        case FusedCode::relu:
          backward_unary<ReluOp>(g, a, y, kv, ga, add_to, nv);
          break;
        case FusedCode::exp:
          backward_unary<ExpOp>(g, a, y, kv, ga, add_to, nv);
          break;
        default:
          break;
      }
      written[ins.a] = 1;
    }
  }

  template <class Op>
  static void forward_binary(const T* a, const T* b, T* y, int64_t nv) {
    for (int64_t i = 0; i < nv; i += W)
      Op::forward(V::load_unaligned(a + i), V::load_unaligned(b + i)).store_unaligned(y + i);
  }
  template <class Op>
  static void forward_unary(const T* a, V k, T* y, int64_t nv) {
    for (int64_t i = 0; i < nv; i += W) Op::forward(V::load_unaligned(a + i), k).store_unaligned(y + i);
  }
  template <class Op>
  static void backward_binary(const T* g, const T* a, const T* b, const T* y, T* ga, T* gb, bool add_a, bool add_b,
                              int64_t nv) {
    for (int64_t i = 0; i < nv; i += W) {
      V da, db;
      Op::backward(V::load_aligned(g + i), V::load_unaligned(a + i), V::load_unaligned(b + i), V::load_unaligned(y + i),
                   da, db);
      if (ga == gb) {  // a op a: both parts go to one slot
        const V both = da + db;
        (add_a ? V::load_aligned(ga + i) + both : both).store_aligned(ga + i);
      } else {
        (add_a ? V::load_aligned(ga + i) + da : da).store_aligned(ga + i);
        (add_b ? V::load_aligned(gb + i) + db : db).store_aligned(gb + i);
      }
    }
  }
  template <class Op>
  static void backward_unary(const T* g, const T* a, const T* y, V k, T* ga, bool add, int64_t nv) {
    for (int64_t i = 0; i < nv; i += W) {
      const V da = Op::backward(V::load_aligned(g + i), V::load_unaligned(a + i), V::load_unaligned(y + i), k);
      (add ? V::load_aligned(ga + i) + da : da).store_aligned(ga + i);
    }
  }

  // ---- whole calls ---------------------------------------------------------------------------------
  static void forward(const FusedRun& run) {
    const T** value = reinterpret_cast<const T**>(run.value);
    for (int64_t r = 0; r < run.rows; ++r)
      for (int64_t c = 0; c < run.cols; c += kFusedBlock) {
        const int64_t n = run.cols - c < kFusedBlock ? run.cols - c : kFusedBlock;
        forward_block(run, r, c, n, run.out, false);
        for (int64_t j = 0; j < run.num_outputs; ++j) {  // the outputs not written in place
          T* to = static_cast<T*>(run.out[j]) + r * run.cols + c;
          const T* from = value[run.outputs[j]];
          if (from != to) std::memcpy(to, from, static_cast<size_t>(n) * sizeof(T));
        }
      }
  }

  // Recomputes each block's values (the saved ones read back), seeds the outputs' gradients, runs the reverse sweep,
  // and writes every wanted input piece's gradient (each element of an input belongs to exactly one piece: written
  // once).
  static void backward(const FusedRun& run) {
    const T* grad_out = static_cast<const T*>(run.grad_out);
    T* grads = static_cast<T*>(run.grads);
    const int64_t numel = run.rows * run.cols;
    for (int64_t r = 0; r < run.rows; ++r)
      for (int64_t c = 0; c < run.cols; c += kFusedBlock) {
        const int64_t n = run.cols - c < kFusedBlock ? run.cols - c : kFusedBlock;
        forward_block(run, r, c, n, run.out, true);
        const int64_t nv = (n + W - 1) / W * W;
        for (int64_t k = 0; k < run.num_slots; ++k) run.written[k] = 0;
        for (int64_t j = 0; j < run.num_outputs; ++j) {  // seeds; an output listed twice gets both gradients
          const int slot = run.outputs[j];
          T* seed = grads + slot * kFusedBlock;
          const T* src = grad_out + j * numel + r * run.cols + c;
          if (run.written[slot]) {
            for (int64_t q = 0; q < n; ++q) seed[q] += src[q];
          } else {
            std::memcpy(seed, src, static_cast<size_t>(n) * sizeof(T));
            for (int64_t q = n; q < nv; ++q) seed[q] = T(0);
            run.written[slot] = 1;
          }
        }
        backward_block(run, n);
        for (int64_t k = 0; k < run.num_slots && run.code[k].code == FusedCode::input; ++k) {
          const FusedInstruction& ins = run.code[k];
          if (run.grad_in[ins.input] == nullptr) continue;
          T* to = static_cast<T*>(run.grad_in[ins.input]) + r * run.in_row[ins.input] + ins.piece * run.cols + c;
          if (run.written[k])
            std::memcpy(to, grads + k * kFusedBlock, static_cast<size_t>(n) * sizeof(T));
          else  // no output depends on this piece
            std::memset(to, 0, static_cast<size_t>(n) * sizeof(T));
        }
      }
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
