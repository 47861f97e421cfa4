// unroll/framework/ops.hpp: the differentiable ops.
//
// Every op is a free function in namespace unroll with PyTorch's name and semantics. Binary elementwise
// ops broadcast by NumPy rules and promote their operands to a common dtype by PyTorch's rules
// (int64 + float32 -> float32, float32 + float64 -> float64; a C++ number never widens a float tensor).
// Axes may be negative (counted from the end). Index arguments are int64 tensors (class ids, token ids,
// positions, lengths); masks and conditions are bool tensors. Each op throws unroll::Error naming itself
// and the shapes (or dtypes) on bad input. docs/ops.md lists every op with the dtypes it accepts. Ops
// marked (composite) are built from other ops and have no backward of their own; the rest are the
// primitives listed in docs/architecture.md. Gradients flow only through floating tensors.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll {

// ---- elementwise: arithmetic (broadcasting, type promotion) ----------------------------------------
Tensor add(const Tensor& a, const Tensor& b);  // bool + bool is logical or, as PyTorch
Tensor sub(const Tensor& a, const Tensor& b);  // not on two bools (use logical_xor)
Tensor mul(const Tensor& a, const Tensor& b);  // bool * bool is logical and
Tensor div(const Tensor& a, const Tensor& b);  // true division: integer operands give the default dtype
Tensor neg(const Tensor& x);
Tensor pow(const Tensor& x, Scalar exponent);            // int64 x with an integer exponent >= 0 stays int64
Tensor pow(const Tensor& base, const Tensor& exponent);  // (composite) exp(exponent * log(base)), base > 0

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator/(Scalar a, const Tensor& b);

// ---- elementwise: functions ----------------------------------------------------------------------
// exp, log, sqrt, tanh, sigmoid of an int64 or bool tensor compute in the default dtype, as PyTorch.
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);  // (composite) pow(x, 0.5)
Tensor abs(const Tensor& x);   // gradient sign(x), 0 at 0 (as PyTorch)
// Gradient passes where min <= x <= max. int64 x with integer bounds stays int64; floating bounds make it
// the default dtype (as PyTorch).
Tensor clamp(const Tensor& x, Scalar min, Scalar max);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor clone(const Tensor& x);  // a copy with its own buffer; gradient is the identity
// log1p, expm1, sin, cos: like exp (an int64 or bool x computes in the default dtype). log1p(x) = log(1 + x)
// and expm1(x) = exp(x) - 1, accurate where x is near 0.
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
// Rounding, with a zero gradient (as PyTorch: the result requires grad when x does, its gradient is 0).
// sign: -1, 0 or 1 in x's dtype (0 for NaN, as PyTorch's CPU kernel; bool x gives a copy); floor, ceil and round (half to
// even, as torch.round) keep x's dtype and are the identity on int64; bool x is refused, as PyTorch.
Tensor sign(const Tensor& x);
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);
// Elementwise maximum / minimum of a and b (broadcasting, type promotion; NaN wins). Where a == b the
// gradient is split evenly between them, as PyTorch.
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// x's values converted to `dtype` (x.to(dtype)); x itself when it has that dtype already. Gradients flow
// between floating dtypes and come back converted to x's dtype.
Tensor to(const Tensor& x, DType dtype);

// where(condition, a, b): a where the bool condition is true, else b (all three broadcast together; a and
// b promote to a common dtype).
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, Scalar b);
Tensor where(const Tensor& condition, Scalar a, const Tensor& b);
// (composite) x with `value` where the bool mask is true (mask broadcasts to x); keeps x's dtype.
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);

// ---- comparisons and logic: bool results, never differentiable ------------------------------------
// eq/ne/lt/le/gt/ge compare after promoting both sides to a common dtype (broadcasting).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, Scalar b);
Tensor gt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, Scalar b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, Scalar b);
Tensor operator!=(const Tensor& a, Scalar b);
Tensor operator<(const Tensor& a, Scalar b);
Tensor operator<=(const Tensor& a, Scalar b);
Tensor operator>(const Tensor& a, Scalar b);
Tensor operator>=(const Tensor& a, Scalar b);
// Any dtype; nonzero counts as true.
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);

// ---- activations (ops/activation.cpp; floating x only, as PyTorch) ---------------------------------
// softplus(x) = log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's linear branch).
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
// gelu(x) = x Phi(x) with Phi the standard normal CDF; approximate = "tanh" uses
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as torch's approximate='tanh'.
Tensor gelu(const Tensor& x, std::string_view approximate = "none");
// elu(x) = x for x > 0, alpha (exp(x) - 1) otherwise.
Tensor elu(const Tensor& x, double alpha = 1);
// (composite) leaky_relu(x) = x for x > 0, negative_slope x otherwise (gradient negative_slope at 0).
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// (composite) silu(x) = x sigmoid(x) (swish).
Tensor silu(const Tensor& x);

// ---- linear algebra ------------------------------------------------------------------------------
// Matrix product. a: [M, K] (or [K, M] with transpose_a), b: [K, N] (or [N, K] with transpose_b).
// Also a: [..., M, K] x b: [K, N] (leading dims folded into M), and batched a: [B..., M, K] x
// b: [B..., K, N] with equal batch dims. Transposes are BLAS flags, never copies. Both operands float32
// (unroll's own kernel) or both float64 (OpenBLAS's dgemm), as PyTorch does not promote here either.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// input + op(a) op(b) (torch.addmm with beta = alpha = 1): a [..., M, K] x b [K, N] as matmul (or 2-D operands with
// transposes), input broadcastable to the product's shape (a bias [N], or [..., M, N]); one dtype for all three.
// The GEMM adds the product to the broadcast input.
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// (composite) x: [..., I], weight: [O, I], bias: [O] or undefined -> [..., O]   (torch.nn.functional.linear)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// (composite) Einstein summation, as torch.einsum: "ij,jk->ik", "bij,bjk->bik", "ii->i", "...ij,...jk",
// implicit outputs ("ij,jk" is "ij,jk->ik"), repeated subscripts (diagonals), broadcasting of size-1 dims
// and of "...". Operands share one floating dtype (as torch, no promotion). Each two-operand contraction is one
// matmul (the operands permuted and reshaped to [batch, M, K] x [batch, K, N]); more operands contract left
// to right.
Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands);

// ---- shape -----------------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);                     // one dim may be -1; shares x's buffer
Tensor flatten(const Tensor& x, int start_axis = 0, int end_axis = -1);  // (composite)
Tensor unsqueeze(const Tensor& x, int axis);                             // (composite)
Tensor squeeze(const Tensor& x, int axis);                               // (composite) removes a size-1 axis
Tensor permute(const Tensor& x, const std::vector<int>& axes);
Tensor transpose(const Tensor& x, int axis0, int axis1);  // (composite) permute swapping two axes
// Elements [start, start + length) along `axis`  (torch.narrow).
Tensor narrow(const Tensor& x, int axis, int64_t start, int64_t length);
// (composite) elements start, start+step, ... < end along `axis`; negative start/end count from the end
// and are clamped like Python slices (x[..., start:end:step]).
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end, int64_t step = 1);
Tensor concat(const std::vector<Tensor>& xs, int axis);                        // promotes to a common dtype (torch.cat)
Tensor stack(const std::vector<Tensor>& xs, int axis = 0);                     // (composite)
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int axis = 0);  // (composite) last may be smaller
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis = 0);  // (composite)
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int axis = 0);                     // (composite)
std::vector<Tensor> unbind(const Tensor& x, int axis = 0);                                    // (composite)
Tensor flip(const Tensor& x, int axis);
// Broadcast x to `shape` (NumPy rules; torch.expand, but a copy).
Tensor expand(const Tensor& x, const Shape& shape);
// (composite) x tiled repeats[i] times along axis i (torch.Tensor.repeat): x: [d_0, ..., d_{r-1}] with
// repeats of length >= r (x is first viewed with leading 1s) -> [repeats[i] * d_i].
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats);
// (composite) Constant padding, as torch.nn.functional.pad(x, pads, value=value): pads = {left, right} for
// the last axis, then {left, right} for the one before, ...; negative pads remove elements. `value` is
// converted to x's dtype.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, Scalar value = 0);

// ---- indexing (int64 indices) ---------------------------------------------------------------------
// Entries of x at positions `index` (1-D int64) along `axis`.
Tensor index_select(const Tensor& x, int axis, const Tensor& index);
// (composite) weight: [V, D], indices: int64 of any shape, ids in [0, V) -> [indices..., D].
Tensor embedding(const Tensor& weight, const Tensor& indices);
// out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (torch.gather); index: int64 with x's rank.
Tensor gather(const Tensor& x, int axis, const Tensor& index);
// Out-of-place torch.scatter: a copy of x with out[i][index[i][j][k]][k] = src[i][j][k] for axis 1. index:
// int64 with x's rank, each dim <= src's and (but along axis) <= x's; src has x's dtype. Where two entries
// of index name the same position, the last one written wins (PyTorch leaves it unspecified). Gradient: to x
// except at the written positions; to src, gathered back from them.
Tensor scatter(const Tensor& x, int axis, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, int axis, const Tensor& index, Scalar value);  // value converted to x's dtype
// torch.scatter_add: the same, but out[i][index[i][j][k]][k] += src[i][j][k] (repeated positions add up).
Tensor scatter_add(const Tensor& x, int axis, const Tensor& index, const Tensor& src);
// torch.index_add: x: [A..., n, B...], index: [k] int64 in [0, n), source: [A..., k, B...] of x's dtype ->
// a copy of x with out[..., index[j], ...] += alpha * source[..., j, ...].
Tensor index_add(const Tensor& x, int axis, const Tensor& index, const Tensor& source, Scalar alpha = 1);
// indices: int64 of any shape, values in [0, num_classes) -> int64 [indices..., num_classes] of 0s and 1s
// (torch.nn.functional.one_hot; num_classes = -1 takes max(indices) + 1). Not differentiable.
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);

// ---- reductions ------------------------------------------------------------------------------------
// sum of bool or int64 is int64 (a bool sum counts); of a floating tensor, its dtype.
Tensor sum(const Tensor& x);  // over all elements -> rank 0
Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim = false);
Tensor mean(const Tensor& x);  // (composite) floating tensors only, as PyTorch
Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim = false);  // (composite)
// What max, min, sort and topk along an axis return, as PyTorch's (values, indices) named tuples:
//   auto [values, indices] = max(x, 1);
struct ValuesIndices {
  Tensor values;   // x's dtype; differentiable
  Tensor indices;  // int64 positions along the axis
};
// Over all elements -> rank 0 of x's dtype; NaN wins. The gradient is split evenly between tied maxima
// (minima), as PyTorch's max() / min().
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
// Along one axis (torch.max(x, dim) / torch.min(x, dim)): the first maximum (minimum) of each line and its
// position; a NaN counts as both. The gradient goes to that position only.
ValuesIndices max(const Tensor& x, int axis, bool keepdim = false);
ValuesIndices min(const Tensor& x, int axis, bool keepdim = false);
Tensor argmax(const Tensor& x, int axis, bool keepdim = false);  // int64 positions; not differentiable
Tensor argmin(const Tensor& x, int axis, bool keepdim = false);  // int64 positions; not differentiable
Tensor log_softmax(const Tensor& x, int axis);                   // floating
Tensor softmax(const Tensor& x, int axis);                       // (composite) exp(log_softmax(x))
// (composite) log(sum(exp(x))) over `axes` (all when empty), computed as m + log(sum(exp(x - m))) with m the
// maximum (0 where it is infinite), so it never overflows. int64/bool x computes in the default dtype.
Tensor logsumexp(const Tensor& x, const std::vector<int>& axes, bool keepdim = false);
// Running sum along `axis` (torch.cumsum): same shape; bool and int64 give int64, floating dtypes their own.
Tensor cumsum(const Tensor& x, int axis);
// (composite) Variance over `axes` (all when empty) with Bessel's correction when unbiased (divides by n - 1;
// NaN for one element, as PyTorch), by n otherwise. Floating x.
Tensor var(const Tensor& x, const std::vector<int>& axes = {}, bool unbiased = true, bool keepdim = false);
// sqrt(var(x, axes, unbiased, keepdim)). Its gradient is 0 where the standard deviation is 0 (as PyTorch;
// the composite sqrt(var) would give NaN there). Spell it unroll::std(x) (as torch::std in libtorch): after
// `using namespace unroll` a bare std(x) is ambiguous with the namespace std.
Tensor std(const Tensor& x, const std::vector<int>& axes = {}, bool unbiased = true, bool keepdim = false);
// Vector p-norm over `axes` (all when empty), p = 1, 2 or INFINITY (torch.norm / torch.linalg.vector_norm).
// Floating x. Gradients as PyTorch: sign(x) for p = 1; x / norm for p = 2, 0 where the norm is 0; for inf,
// sign(x) split evenly between the elements of largest magnitude.
Tensor norm(const Tensor& x, double p = 2, const std::vector<int>& axes = {}, bool keepdim = false);

// ---- sorting (ops/sort.cpp) -------------------------------------------------------------------------
// Sorted along `axis`, ascending unless descending, stable (equal elements keep their order, as
// torch.sort(stable=True)); NaN sorts as the largest value. values: x's dtype, x's shape (gradient: back to
// the positions the values came from); indices: int64, where each came from.
ValuesIndices sort(const Tensor& x, int axis = -1, bool descending = false);
Tensor argsort(const Tensor& x, int axis = -1, bool descending = false);  // sort(...).indices
// The k largest (smallest unless largest) entries along `axis`: [..., k, ...] values and int64 indices, in
// sorted order (ties: the lower index first; NaN is the largest). sorted = false is accepted for PyTorch's
// signature; the entries come sorted anyway. int64 and floating x.
ValuesIndices topk(const Tensor& x, int64_t k, int axis = -1, bool largest = true, bool sorted = true);

// ---- normalization (ops/normalization.cpp) ------------------------------------------------------------
// torch.nn.functional.layer_norm: x: [..., *normalized_shape] normalized over its last
// normalized_shape.size() axes, (x - mean) / sqrt(var + eps) with the biased variance, then * weight +
// bias (each of normalized_shape, or undefined). Floating x.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// ---- losses ----------------------------------------------------------------------------------------
enum class Reduction { Mean, Sum, None };
constexpr int64_t kNoIgnoreIndex = -100;  // PyTorch's default ignore_index

struct CrossEntropyOptions {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = kNoIgnoreIndex;  // targets equal to this contribute nothing (and are not counted)
};

// (composite) log_probs: [N, C], targets: [N] int64 class ids -> mean/sum of -log_probs[n, target[n]].
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, CrossEntropyOptions options = {});
// (composite) nll_loss(log_softmax(logits, 1), targets). logits: [N, C], targets: [N] int64.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, CrossEntropyOptions options = {});
// (composite) mean/sum of (input - target)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// (composite) numerically stable BCE on logits: max(x,0) - x*y + log(1 + exp(-|x|)).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction = Reduction::Mean);

// ---- random ----------------------------------------------------------------------------------------
// A seedable source of randomness (mt19937_64). Every random function takes one; without it they use the
// calling thread's default generator, which manual_seed() reseeds. The same seed gives the same numbers
// on every run and platform built with the same standard library.
class Generator {
 public:
  explicit Generator(uint64_t seed = 5489);
  Generator(const Generator& other);  // copies the state: both then produce the same numbers
  Generator& operator=(const Generator& other);
  ~Generator();
  void seed(uint64_t seed);
  float uniform(float low, float high);         // one sample in [low, high), rounded to float
  float normal();                               // one sample from N(0, 1), rounded to float
  double uniform_f64(double low, double high);  // the same draws in double precision
  double normal_f64();
  uint64_t next_u64();
  uint64_t below(uint64_t n);  // uniform integer in [0, n)

 private:
  struct Engine;  // std::mt19937_64, kept out of this header so it stays light
  std::unique_ptr<Engine> engine_;
};

Generator& default_generator();   // this thread's
void manual_seed(uint64_t seed);  // reseed this thread's default generator

// Floating dtypes (the default unless given). A float32 tensor and a float64 one drawn with the same seed
// hold the same samples, rounded.
Tensor rand(const Shape& shape, Generator& gen = default_generator());  // U[0, 1)
Tensor rand(const Shape& shape, DType dtype, Generator& gen = default_generator());
Tensor randn(const Shape& shape, Generator& gen = default_generator());  // N(0, 1)
Tensor randn(const Shape& shape, DType dtype, Generator& gen = default_generator());
Tensor uniform(const Shape& shape, double low, double high, Generator& gen = default_generator());
Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator& gen = default_generator());
Tensor normal(const Shape& shape, double mean, double std, Generator& gen = default_generator());
Tensor normal(const Shape& shape, double mean, double std, DType dtype, Generator& gen = default_generator());
// int64 values uniform in [low, high) (torch.randint).
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen = default_generator());
// (composite) In training, zeroes each element with probability p and scales the rest by 1/(1-p);
// identity when !training or p == 0. Floating x.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

// ---- attention (ops/attention.cpp) ------------------------------------------------------------------
// (composite) softmax(query key^T / sqrt(E) + mask) value, as torch.nn.functional.scaled_dot_product_attention:
// query: [B..., L, E], key: [B..., S, E], value: [B..., S, Ev] (the same batch dims B..., possibly none) ->
// [B..., L, Ev]. attn_mask (optional) broadcasts to [B..., L, S]: a bool mask says which keys each query
// may attend to (true = take part, as PyTorch's), a floating mask is added to the scores. is_causal masks
// key positions after the query's (query i attends to keys 0..i; needs no attn_mask). A query whose keys
// are all masked gets NaN, as in PyTorch. dropout_p > 0 drops attention weights (scaling the rest by
// 1/(1-p)) with `gen`: pass 0 outside training. Floating q, k, v of one dtype.
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0, bool is_causal = false,
                                    Generator& gen = default_generator());

}  // namespace unroll
