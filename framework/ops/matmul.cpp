// Matrix products. All transposes are passed to BLAS as flags; nothing is copied.
#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/blas.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;

namespace {

// The problem matmul solves, read off the shapes: `batch` independent products of op(A)[M, K] x op(B)[K, N].
struct GemmShape {
  int64_t batch, m, n, k;
  int64_t a_rows, a_cols, b_rows, b_cols;  // stored (untransposed) matrix sizes
  bool batched_b;                          // B has one matrix per batch (else shared)
  Shape out;
};

GemmShape plan(const char* op, const Shape& a, const Shape& b, bool ta, bool tb) {
  check(a.size() >= 2 && b.size() >= 2,
        "{}: expects tensors of rank >= 2, got {} x {} (reshape vectors to [1, K] or [K, 1])", op, a, b);
  GemmShape g{};
  g.a_rows = a[a.size() - 2];
  g.a_cols = a.back();
  g.b_rows = b[b.size() - 2];
  g.b_cols = b.back();
  const int64_t a_inner = ta ? g.a_rows : g.a_cols, b_inner = tb ? g.b_cols : g.b_rows;
  check(a_inner == b_inner, "{}: inner dimensions differ: {}{} x {}{}", op, a, ta ? "^T" : "", b, tb ? "^T" : "");
  g.k = a_inner;
  g.n = tb ? g.b_rows : g.b_cols;
  if (b.size() == 2 && !ta) {
    // [..., M, K] x [K, N]: fold every leading dim of A into M (one big GEMM)
    g.batch = 1;
    g.m = Shape(a.begin(), a.end() - 1).numel();  // not numel / K: K may be 0
    g.batched_b = false;
    g.out = a;
    g.out[g.out.size() - 1] = g.n;
    g.a_rows = g.m;
    return g;
  }
  check(a.size() == b.size(), "{}: batched operands need the same rank, got {} x {}", op, a, b);
  for (int i = 0; i + 2 < a.size(); ++i) check(a[i] == b[i], "{}: batch dimensions differ: {} x {}", op, a, b);
  g.m = ta ? g.a_cols : g.a_rows;
  g.batch = Shape(a.begin(), a.end() - 2).numel();  // not a division: M or K may be 0
  g.batched_b = true;
  g.out = a;
  g.out[g.out.size() - 2] = g.m;
  g.out[g.out.size() - 1] = g.n;
  return g;
}

// C (+)= op(A) op(B) for every batch entry. Strides between batch entries come from the stored sizes.
template <class T>
void batched_gemm(const GemmShape& g, bool ta, bool tb, const T* a, const T* b, T beta, T* c) {
  const int64_t a_step = g.a_rows * g.a_cols, b_step = g.batched_b ? g.b_rows * g.b_cols : 0, c_step = g.m * g.n;
  for (int64_t i = 0; i < g.batch; ++i)
    detail::gemm(ta, tb, g.m, g.n, g.k, 1, a + i * a_step, g.a_cols, b + i * b_step, g.b_cols, beta, c + i * c_step,
                 g.n);
}

// C = A'B' with A' = op(A), B' = op(B):  dA' = dC B'^T,  dB' = A'^T dC. All three in T (matmul has no
// promotion: the output, its gradient and both inputs share one dtype). A and B are the node's inputs ia and
// ia + 1 (matmul: 0 and 1; addmm: 1 and 2).
template <class T>
void matmul_backward(BackwardContext& c, const GemmShape& g, bool ta, bool tb, int ia = 0) {
  const int ib = ia + 1;
  const T* dc = c.grad_output().impl()->data<T>();
  const T* a = c.input(ia).data<T>();
  const T* b = c.input(ib).data<T>();
  const DType dt = dtype_of<T>();
  if (c.needs_grad(ia)) {
    Tensor da = g.n == 0 ? zeros(c.input(ia).shape, dt) : empty(c.input(ia).shape, dt);  // N = 0: dA sums nothing
    const int64_t a_step = g.a_rows * g.a_cols, b_step = g.batched_b ? g.b_rows * g.b_cols : 0, c_step = g.m * g.n;
    for (int64_t i = 0; g.n > 0 && i < g.batch; ++i) {
      T* dai = da.impl()->data<T>() + i * a_step;
      const T *bi = b + i * b_step, *dci = dc + i * c_step;
      if (!ta)  // dA[M, K] = dC[M, N] op(B)^T
        detail::gemm(false, !tb, g.m, g.k, g.n, 1, dci, g.n, bi, g.b_cols, 0, dai, g.a_cols);
      else  // dA[K, M] = op(B) dC^T
        detail::gemm(tb, true, g.k, g.m, g.n, 1, bi, g.b_cols, dci, g.n, 0, dai, g.a_cols);
    }
    c.add_grad(ia, std::move(da));
  }
  if (c.needs_grad(ib) && g.batch == 1 && !ta && g.m > 0 && g.k > 0 && g.n > 0) {
    // B is one matrix (typically a weight shared by every time step): hand the engine A and dC so it
    // can sum all of B's products as one GEMM over the stacked rows once B's gradient is complete
    c.add_matmul_grad(ib, detail::as_tensor(c.input(ia)), c.grad_output(), tb);
  } else if (c.needs_grad(ib)) {
    Tensor db = g.m == 0 ? zeros(c.input(ib).shape, dt) : empty(c.input(ib).shape, dt);  // M = 0: dB sums nothing
    const int64_t a_step = g.a_rows * g.a_cols, b_step = g.b_rows * g.b_cols, c_step = g.m * g.n;
    for (int64_t i = 0; g.m > 0 && i < g.batch; ++i) {
      // a shared B (batched_b false, batch 1 after folding) gets the whole [batch*M] product at once
      const T *ai = a + i * a_step, *dci = dc + i * c_step;
      T* dbi = db.impl()->data<T>() + (g.batched_b ? i * b_step : 0);
      if (!tb)  // dB[K, N] = op(A)^T dC
        detail::gemm(!ta, false, g.k, g.n, g.m, 1, ai, g.a_cols, dci, g.n, 0, dbi, g.b_cols);
      else  // dB[N, K] = dC^T op(A)
        detail::gemm(true, ta, g.n, g.k, g.m, 1, dci, g.n, ai, g.a_cols, 0, dbi, g.b_cols);
    }
    c.add_grad(ib, std::move(db));
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  detail::check_defined("matmul", a, b);
  const GemmShape g = plan("matmul", a.shape(), b.shape(), transpose_a, transpose_b);
  check(a.dtype() == b.dtype(),
        "matmul: both operands must have the same dtype, got {} {} x {} {} (convert one with "
        ".to())",
        name(a.dtype()), a.shape(), name(b.dtype()), b.shape());
  const DType dt = a.dtype();
  Tensor out = g.k == 0 ? zeros(g.out, dt) : empty(g.out, dt);  // an empty sum is 0 (and BLAS rejects k = 0)
  detail::visit_floating("matmul", dt, [&]<class T>() {
    if (g.k > 0)
      batched_gemm<T>(g, transpose_a, transpose_b, a.impl()->data<T>(), b.impl()->data<T>(), 0, out.impl()->data<T>());
  });
  if (should_record({&a, &b}))
    record(out, "matmul", {a, b}, [g, ta = transpose_a, tb = transpose_b](BackwardContext& c) {
      detail::visit_floating("matmul backward", c.grad_output().dtype(),
                             [&]<class T>() { matmul_backward<T>(c, g, ta, tb); });
    });
  return out;
}

// out = input + op(A) op(B) (torch.addmm with beta = alpha = 1). For K beyond the kernel's K slice the sum is
// grouped (input + first slice) + next slices: the last bits may differ from add(input, matmul(a, b)), as
// torch.addmm's do. Not used by linear or the cells: on bench/rnn_bench 2x256 inference (alternated with a build
// using add(matmul), medians of 7-11 runs) it gained nothing beyond the noise for the LSTM's projections (0.95x
// to 1.05x in three runs) and cost the GRU, whose step is linear(h, W_hh, b_hh), 0.87x-0.97x: for a short A the
// kernel writes C transposed, element by element, and reading C there (beta = 1) costs more than the add saves.
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  detail::check_defined("addmm", input, a, b);
  const GemmShape g = plan("addmm", a.shape(), b.shape(), transpose_a, transpose_b);
  check(g.batch == 1,
        "addmm: expects a matrix product ([..., M, K] x [K, N], or [M, K] x [K, N] with transposes), got {}{} x {}{}",
        a.shape(), transpose_a ? "^T" : "", b.shape(), transpose_b ? "^T" : "");
  check(a.dtype() == b.dtype() && input.dtype() == a.dtype(),
        "addmm: input and both operands must have the same dtype, got {} {} + {} {} x {} {} (convert with .to())",
        name(input.dtype()), input.shape(), name(a.dtype()), a.shape(), name(b.dtype()), b.shape());
  const Shape& is = input.shape();
  bool broadcasts = is.size() <= g.out.size();  // NumPy rules, aligned at the last axis, toward the product's shape
  for (int i = 1; broadcasts && i <= is.size(); ++i)
    broadcasts = is[is.size() - i] == 1 || is[is.size() - i] == g.out[g.out.size() - i];
  check(broadcasts, "addmm: input of shape {} does not broadcast to the product's shape {} ({} x {})", is, g.out,
        a.shape(), b.shape());
  // out = input broadcast to the product's shape (a new tensor, not recorded: addmm's node covers it); the GEMM
  // adds the product to it (beta = 1)
  Tensor out = [&] {
    NoGradGuard not_recorded;
    return expand(input, g.out);
  }();
  detail::visit_floating("addmm", a.dtype(), [&]<class T>() {
    if (g.k > 0 && g.m > 0 && g.n > 0)
      batched_gemm<T>(g, transpose_a, transpose_b, a.impl()->data<T>(), b.impl()->data<T>(), 1, out.impl()->data<T>());
  });
  if (should_record({&input, &a, &b}))
    record(out, "addmm", {input, a, b}, [g, ta = transpose_a, tb = transpose_b](BackwardContext& c) {
      if (c.needs_grad(0)) c.add_grad(0, detail::unbroadcast(c.grad_output(), c.input(0).shape));
      detail::visit_floating("addmm backward", c.grad_output().dtype(),
                             [&]<class T>() { matmul_backward<T>(c, g, ta, tb, 1); });
    });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_defined("linear", x, weight);  // bias may be undefined (no bias)
  check(weight.dim() == 2, "linear: weight must be [out_features, in_features], got {}", weight.shape());
  check(x.dim() >= 1 && x.shape().back() == weight.size(1),
        "linear: input {} does not end in in_features = {} (weight {})", x.shape(), weight.size(1), weight.shape());
  check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)), "linear: bias must be [{}], got {}",
        weight.size(0), bias.defined() ? bias.shape() : Shape{});
  Tensor y = x.dim() == 1 ? reshape(matmul(reshape(x, {1, x.size(0)}), weight, false, true), {weight.size(0)})
                          : matmul(x, weight, false, true);  // x W^T
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace unroll
