// Reductions and the softmax family.
// Per-axis loops view a tensor as [outer, size, inner] around the reduced axis (detail::AxisView).
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/detail/thread_pool.hpp"
#include "unroll/framework/detail/xtensor.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::around;
using detail::AxisView;
using detail::check;

namespace {

Shape without_axis(Shape s, int axis, bool keepdim) {
  if (keepdim)
    s[axis] = 1;
  else
    s.erase(axis);
  return s;
}
}  // namespace

// ---- sum / mean ------------------------------------------------------------------------------------
Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  detail::check_defined("sum", x);
  // Reduced axes become 1 in `kept`; an empty axis list reduces everything (as torch.sum(x, dim=[])).
  Shape kept = x.shape();
  std::vector<bool> reduced(x.dim(), axes.empty());
  for (int a : axes) {
    const int axis = detail::normalize_axis("sum", a, x.dim(), x.shape());
    check(!reduced[axis], "sum: axis {} appears twice for shape {}", a, x.shape());
    reduced[axis] = true;
  }
  Shape out_shape;
  for (int i = 0; i < x.dim(); ++i) {
    if (reduced[i]) kept[i] = 1;
    if (!reduced[i] || keepdim) out_shape.push_back(kept[i]);
  }
  // bool and int64 sum to int64 (PyTorch widens integer sums), floating dtypes to themselves
  const Tensor values = detail::cast(x, x.is_floating_point() ? x.dtype() : kInt64);
  Tensor out = x.shape() != kept           ? detail::unbroadcast(values, kept)
               : values.impl() == x.impl() ? clone(values.detach())
                                           : values;
  out.impl()->shape = out_shape;  // a fresh tensor in the same element order: dropping size-1 axes is free
  if (should_record({&x}))
    record(out, "sum", {x}, [kept](BackwardContext& c) {
      // every input element contributed once: broadcast the gradient back
      c.add_grad(0, expand(reshape(c.grad_output(), kept), c.input(0).shape));
    });
  return out;
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  detail::check_defined("mean", x);
  check(x.is_floating_point(),
        "mean: could not infer the output dtype: expected a floating tensor, got {} (shape {}); "
        "convert first, e.g. x.to(kFloat32)",
        name(x.dtype()), x.shape());
  const Tensor total = sum(x, axes, keepdim);
  const int64_t count = total.numel() ? x.numel() / total.numel() : 0;
  return div(total, detail::wrapped_scalar(count));
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

// ---- max / min / argmax / argmin --------------------------------------------------------------------
namespace {
// True when `value` beats `top` for a maximum (kMax) or a minimum: strictly larger (smaller), or a NaN over
// a number (NaN counts as both the maximum and the minimum, as in PyTorch).
template <bool kMax, class T>
bool beats(T value, T top) {
  bool better = kMax ? value > top : value < top;
  if constexpr (std::is_floating_point_v<T>) better = better || (std::isnan(value) && !std::isnan(top));
  return better;
}

// Position (along the axis) of the first maximum (kMax) or minimum of every (outer, inner) line. xt::argmax
// and xt::argmin do not fit: they compare with < and skip NaN, which PyTorch returns.
template <bool kMax, class T>
std::vector<int64_t> extreme_lines(const Tensor& x, const AxisView& v, const char* op) {
  check(v.size > 0 || v.outer * v.inner == 0, "{}: cannot reduce over an empty axis of shape {}", op, x.shape());
  std::vector<int64_t> best(v.outer * v.inner, 0);
  const T* p = x.impl()->data<T>();
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t k = 0; k < v.inner; ++k) {
      int64_t arg = 0;
      T top = p[o * v.size * v.inner + k];
      for (int64_t i = 1; i < v.size; ++i) {
        const T value = p[(o * v.size + i) * v.inner + k];
        if (beats<kMax>(value, top)) top = value, arg = i;
      }
      best[o * v.inner + k] = arg;
    }
  return best;
}

// max / min along an axis: values, indices, and a backward that routes each line's gradient to the
// selected position.
template <bool kMax>
ValuesIndices extreme_along(const char* op, const Tensor& x, int axis_arg, bool keepdim) {
  detail::check_defined(op, x);
  const int axis = detail::normalize_axis(op, axis_arg, x.dim(), x.shape());
  const AxisView v = around(x.shape(), axis);
  const Shape out_shape = without_axis(x.shape(), axis, keepdim);
  Tensor values = empty(out_shape, x.dtype()), indices = empty(out_shape, kInt64);
  auto arg = std::make_shared<std::vector<int64_t>>();
  visit_dtype(x.dtype(), [&]<class T>() {
    *arg = extreme_lines<kMax, T>(x, v, op);
    const T* px = x.impl()->data<T>();
    T* po = values.impl()->data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t k = 0; k < v.inner; ++k)
        po[o * v.inner + k] = px[(o * v.size + (*arg)[o * v.inner + k]) * v.inner + k];
  });
  std::copy(arg->begin(), arg->end(), indices.data<int64_t>());
  if (should_record({&x}))
    record(values, op, {x}, [v, arg](BackwardContext& c) {
      // only the selected (first) extremum of each line receives the gradient
      const Tensor& go = c.grad_output();
      Tensor g = zeros(c.input(0).shape, go.dtype());
      detail::visit_floating("max backward", go.dtype(), [&]<class T>() {
        const T* pgo = go.impl()->data<T>();
        T* pg = g.impl()->data<T>();
        for (int64_t o = 0; o < v.outer; ++o)
          for (int64_t k = 0; k < v.inner; ++k)
            pg[(o * v.size + (*arg)[o * v.inner + k]) * v.inner + k] = pgo[o * v.inner + k];
      });
      c.add_grad(0, std::move(g));
    });
  return {values, indices};
}

// max / min over all elements. A primitive rather than max(reshape(x), 0): PyTorch splits the gradient
// evenly between tied extrema here (evenly_distribute_backward), where the axis form picks one.
template <bool kMax>
Tensor extreme_all(const char* op, const Tensor& x) {
  detail::check_defined(op, x);
  check(x.numel() > 0, "{}: cannot reduce an empty tensor of shape {}", op, x.shape());
  Tensor out = empty({}, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* p = x.impl()->data<T>();
    T top = p[0];
    for (int64_t i = 1, n = x.numel(); i < n; ++i)
      if (beats<kMax>(p[i], top)) top = p[i];
    out.impl()->data<T>()[0] = top;
  });
  if (should_record({&x}))
    record(out, op, {x}, [](BackwardContext& c) {
      // dx_i = g / count for every x_i equal to the result (NaN: every NaN), 0 elsewhere
      const Tensor& go = c.grad_output();
      Tensor g = zeros(c.input(0).shape, go.dtype());
      detail::visit_floating("max backward", go.dtype(), [&]<class T>() {
        Tensor hold_x, hold_y;
        const T* px = detail::values_as<T>(detail::as_tensor(c.input(0)), hold_x);
        const T y = detail::values_as<T>(detail::as_tensor(c.output()), hold_y)[0];
        const int64_t n = g.numel();
        const auto tied = [y](T v) { return v == y || (std::isnan(v) && std::isnan(y)); };
        int64_t count = 0;
        for (int64_t i = 0; i < n; ++i) count += tied(px[i]);
        const T share = go.impl()->data<T>()[0] / static_cast<T>(count);
        T* pg = g.impl()->data<T>();
        for (int64_t i = 0; i < n; ++i) pg[i] = tied(px[i]) ? share : T(0);
      });
      c.add_grad(0, std::move(g));
    });
  return out;
}

template <bool kMax>
Tensor arg_extreme(const char* op, const Tensor& x, int axis_arg, bool keepdim) {
  detail::check_defined(op, x);
  const int axis = detail::normalize_axis(op, axis_arg, x.dim(), x.shape());
  const AxisView v = around(x.shape(), axis);
  const std::vector<int64_t> arg =
      detail::visit_numeric(op, x.dtype(), [&]<class T>() { return extreme_lines<kMax, T>(x, v, op); });
  Tensor out = empty(without_axis(x.shape(), axis, keepdim), kInt64);
  std::copy(arg.begin(), arg.end(), out.data<int64_t>());
  return out;
}
}  // namespace

ValuesIndices max(const Tensor& x, int axis, bool keepdim) { return extreme_along<true>("max", x, axis, keepdim); }
ValuesIndices min(const Tensor& x, int axis, bool keepdim) { return extreme_along<false>("min", x, axis, keepdim); }
Tensor max(const Tensor& x) { return extreme_all<true>("max", x); }
Tensor min(const Tensor& x) { return extreme_all<false>("min", x); }
Tensor argmax(const Tensor& x, int axis, bool keepdim) { return arg_extreme<true>("argmax", x, axis, keepdim); }
Tensor argmin(const Tensor& x, int axis, bool keepdim) { return arg_extreme<false>("argmin", x, axis, keepdim); }

// ---- reductions over several axes: logsumexp, var, std, norm ---------------------------------------
namespace {
// The axes a reduction over `axes` (all when empty) removes, validated; `kept` is x's shape with them set
// to 1 (the keepdim shape), `count` the number of elements reduced into each output element.
struct Reduced {
  std::vector<int> axes;  // normalized, ascending
  Shape kept, out;        // keepdim shape, result shape
  int64_t count = 1;
};
Reduced reduced(const char* op, const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  Reduced r;
  std::vector<bool> on(x.dim(), axes.empty());
  for (int a : axes) {
    const int axis = detail::normalize_axis(op, a, x.dim(), x.shape());
    check(!on[axis], "{}: axis {} appears twice for shape {}", op, a, x.shape());
    on[axis] = true;
  }
  r.kept = x.shape();
  for (int i = 0; i < x.dim(); ++i) {
    if (on[i]) {
      r.axes.push_back(i);
      r.count *= x.shape()[i];
      r.kept[i] = 1;
    }
    if (!on[i] || keepdim) r.out.push_back(r.kept[i]);
  }
  return r;
}

// The largest element over r.axes, keepdim shape, NaN winning; no gradient (callers hold it constant).
Tensor amax_kept(const Tensor& x, const Reduced& r) {
  NoGradGuard no_grad;
  Tensor m = x.detach();
  for (int a : r.axes) m = max(m, a, true).values;
  return m;
}

void check_floating(const char* op, const Tensor& x) {
  check(x.is_floating_point(), "{}: expected a floating tensor (float32, float64), got {} of shape {}", op,
        name(x.dtype()), x.shape());
}
}  // namespace

// Composite: the max is a constant shift (its gradient would cancel), so the gradient is exp(x - lse).
Tensor logsumexp(const Tensor& x_in, const std::vector<int>& axes, bool keepdim) {
  detail::check_defined("logsumexp", x_in);
  const Tensor x = x_in.is_floating_point() ? x_in : detail::cast(x_in, get_default_dtype());
  const Reduced r = reduced("logsumexp", x, axes, keepdim);
  if (r.count == 0) return log(sum(exp(x), axes, keepdim));  // an empty sum: -inf, as PyTorch
  // m: [kept], 0 where infinite (an infinite shift would turn inf - inf into NaN)
  const Tensor top = amax_kept(x, r);
  const Tensor m = where(eq(abs(top), INFINITY), 0.0, top);
  const Tensor lse = add(log(sum(exp(sub(x, m)), r.axes, true)), m);
  return keepdim ? lse : reshape(lse, r.out);
}

Tensor var(const Tensor& x, const std::vector<int>& axes, bool unbiased, bool keepdim) {
  detail::check_defined("var", x);
  check_floating("var", x);
  const Reduced r = reduced("var", x, axes, keepdim);
  // sum((x - mean)^2) / max(n - correction, 0), two passes (as PyTorch; the one-pass formula cancels)
  const Tensor d = sub(x, mean(x, r.axes, true));
  const int64_t divisor = std::max<int64_t>(r.count - (unbiased ? 1 : 0), 0);
  return div(sum(mul(d, d), r.axes, keepdim), detail::wrapped_scalar(divisor));
}

// A primitive for the gradient where the spread is 0: 0 (as PyTorch), where sqrt(var(x)) gives NaN.
Tensor std(const Tensor& x, const std::vector<int>& axes, bool unbiased, bool keepdim) {
  detail::check_defined("std", x);
  check_floating("std", x);
  const Reduced r = reduced("std", x, axes, keepdim);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = sqrt(var(x, r.axes, unbiased, keepdim));
  }
  if (should_record({&x}))
    record(out, "std", {x}, [r, unbiased](BackwardContext& c) {
      // d std / dx = (x - mean) / (divisor * std), 0 where std == 0
      const Tensor xv = detail::as_tensor(c.input(0));
      const Tensor s = reshape(detail::as_tensor(c.output()), r.kept);
      const Tensor g = reshape(c.grad_output(), r.kept);
      const int64_t divisor = std::max<int64_t>(r.count - (unbiased ? 1 : 0), 0);
      const Tensor scale = where(eq(s, 0), 0.0, div(g, mul(s, detail::wrapped_scalar(divisor))));
      c.add_grad(0, mul(sub(xv, mean(xv, r.axes, true)), scale));
    });
  return out;
}

// A primitive for PyTorch's gradients at the kinks: 0 at a zero 2-norm (sqrt(sum(x^2)) gives NaN there)
// and, for p = inf, the gradient split between tied largest magnitudes (max sends it to one).
Tensor norm(const Tensor& x, double p, const std::vector<int>& axes, bool keepdim) {
  detail::check_defined("norm", x);
  check_floating("norm", x);
  check(p == 1 || p == 2 || p == INFINITY, "norm: p must be 1, 2 or INFINITY, got {} (tensor of shape {})", p,
        x.shape());
  const Reduced r = reduced("norm", x, axes, keepdim);
  Tensor out;
  {
    NoGradGuard no_grad;
    if (p == 1)
      out = sum(abs(x), r.axes, keepdim);
    else if (p == 2)
      out = sqrt(sum(mul(x, x), r.axes, keepdim));
    else if (r.count == 0)
      out = zeros(r.out, x.dtype());  // the largest of no magnitudes: 0, as PyTorch
    else
      out = reshape(amax_kept(abs(x), r), r.out);
  }
  if (should_record({&x}))
    record(out, "norm", {x}, [r, p](BackwardContext& c) {
      const Tensor xv = detail::as_tensor(c.input(0));
      const Tensor n = reshape(detail::as_tensor(c.output()), r.kept);
      const Tensor g = reshape(c.grad_output(), r.kept);
      if (p == 1) {  // d|x|_1 = sign(x)
        c.add_grad(0, mul(sign(xv), g));
      } else if (p == 2) {  // d|x|_2 = x / |x|_2, 0 where the norm is 0
        c.add_grad(0, mul(xv, where(eq(n, 0), 0.0, div(g, n))));
      } else {  // sign(x) on the elements of largest magnitude, shared between them
        const Tensor top = eq(abs(xv), n);
        const Tensor count = sum(top, r.axes, true);
        c.add_grad(0, mul(mul(sign(xv), top), div(g, count)));
      }
    });
  return out;
}

// ---- cumsum ------------------------------------------------------------------------------------------
// A primitive: its gradient, a reversed running sum, is one more cumsum (a composite would need a
// triangular matrix). The forward is xt::cumsum over [outer, size, inner], accumulating floating values in
// double as PyTorch's CPU kernel does.
Tensor cumsum(const Tensor& x_in, int axis_arg) {
  detail::check_defined("cumsum", x_in);
  const bool rank0 = x_in.dim() == 0;  // as PyTorch, axis 0 or -1 of a rank-0 tensor is the tensor
  const Tensor x = detail::cast(rank0 ? reshape(x_in.detach(), {1}) : x_in.detach(),
                                x_in.is_floating_point() ? x_in.dtype() : kInt64);
  const int axis = detail::normalize_axis("cumsum", axis_arg, rank0 ? 1 : x.dim(), x.shape());
  const AxisView v = around(x.shape(), axis);
  Tensor out = empty(x.shape(), x.dtype());
  detail::visit_numeric("cumsum", x.dtype(), [&]<class T>() {
    // int64 sums wrap around as PyTorch's do: accumulated as uint64 (int64 overflow is undefined behaviour;
    // UBSan in fuzz_ops found it)
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
    auto dst = detail::view3<T>(out, v.outer, v.size, v.inner);
    xt::noalias(dst) = xt::cumsum<Acc>(detail::view3<T>(x, v.outer, v.size, v.inner), 1);
  });
  if (rank0) out = reshape(out, {});
  if (should_record({&x_in}))
    record(out, "cumsum", {x_in}, [axis, rank0](BackwardContext& c) {
      // dx_i = sum over j >= i of g_j: the running sum of the reversed gradient, reversed back
      const Tensor g = rank0 ? reshape(c.grad_output(), {1}) : c.grad_output();
      c.add_grad(0, reshape(flip(cumsum(flip(g, axis), axis), axis), c.input(0).shape));
    });
  return out;
}

// ---- softmax family --------------------------------------------------------------------------------
// Hand-written with xsimd rather than composed of xt::amax, xt::exp, xt::sum: that composition took 10-13x the
// time of these rows over [32, 10000] float32 (it makes a pass and a temporary per step and runs on one
// thread), and it adds the exponentials in float where these rows add block totals in double (the results
// differed by up to 4e-6) (bench/xtensor_vs_loops, 2026-12-02).
namespace {
// Contiguous rows (softmax over the last axis, e.g. logits [T*N, V]) run on SIMD registers; other axes
// take the strided scalar loop. Sums of exponentials are added up in blocks, each block total in double.
template <class T>
void log_softmax_row(const T* x, T* out, int64_t n) {
  using batch = xsimd::batch<T>;
  constexpr int64_t kLanes = static_cast<int64_t>(batch::size);
  int64_t k = 0;
  T top = -std::numeric_limits<T>::infinity();
  if (n >= kLanes) {
    batch vtop(top);
    for (; k + kLanes <= n; k += kLanes) vtop = xsimd::max(vtop, batch::load_unaligned(x + k));
    alignas(64) T lanes[kLanes];  // xsimd 8 has no horizontal max
    vtop.store_aligned(lanes);
    for (const T lane : lanes) top = std::max(top, lane);
  }
  for (; k < n; ++k) top = std::max(top, x[k]);
  const batch vtop(top);
  double total = 0;
  k = 0;
  while (k + kLanes <= n) {
    batch block(T(0));
    for (int64_t end = std::min(n - n % kLanes, k + 32 * kLanes); k < end; k += kLanes)
      block += xsimd::exp(batch::load_unaligned(x + k) - vtop);
    total += static_cast<double>(xsimd::hadd(block));
  }
  for (; k < n; ++k) total += std::exp(static_cast<double>(x[k] - top));
  const T log_norm = top + static_cast<T>(std::log(total));
  const batch vnorm(log_norm);
  for (k = 0; k + kLanes <= n; k += kLanes) (batch::load_unaligned(x + k) - vnorm).store_unaligned(out + k);
  for (; k < n; ++k) out[k] = x[k] - log_norm;
}

// Backward of one contiguous row: dx = g - exp(y) * sum(g), where y is the log_softmax output.
template <class T>
void log_softmax_row_backward(const T* g, const T* y, T* dx, int64_t n) {
  using batch = xsimd::batch<T>;
  constexpr int64_t kLanes = static_cast<int64_t>(batch::size);
  int64_t k = 0;
  batch vsum(T(0));
  for (; k + kLanes <= n; k += kLanes) vsum += batch::load_unaligned(g + k);
  T g_sum = xsimd::hadd(vsum);
  for (; k < n; ++k) g_sum += g[k];
  const batch vg(g_sum);
  for (k = 0; k + kLanes <= n; k += kLanes)
    (batch::load_unaligned(g + k) - xsimd::exp(batch::load_unaligned(y + k)) * vg).store_unaligned(dx + k);
  for (; k < n; ++k) dx[k] = g[k] - std::exp(y[k]) * g_sum;
}

// Over this many elements, rows of a softmax over the last axis (a large output head: [T*N, V]) are split
// between threads. Each row is computed whole by one thread, so the result does not depend on the thread
// count. Measured (docs/performance.md, "Threads"): two threads win from about 64K elements on.
constexpr int64_t kParallelSoftmaxElements = int64_t{1} << 16;

// row(o) for o in [0, rows), on several threads when the tensor is large.
template <class Row>
void for_each_row(int64_t rows, int64_t size, Row row) {
  const int width = rows * size >= kParallelSoftmaxElements ? detail::parallel_width() : 1;
  if (width < 2 || rows < 2) {
    for (int64_t o = 0; o < rows; ++o) row(o);
    return;
  }
  const int64_t parts = std::min<int64_t>(width, rows), chunk = (rows + parts - 1) / parts;
  auto task = [&](int64_t i) {
    for (int64_t o = i * chunk; o < std::min(rows, (i + 1) * chunk); ++o) row(o);
  };
  detail::parallel_for(parts, task);
}

template <class T>
void log_softmax_forward(const T* px, T* po, const AxisView& v) {
  if (v.inner == 1)
    return for_each_row(v.outer, v.size,
                        [&](int64_t o) { log_softmax_row(px + o * v.size, po + o * v.size, v.size); });
  for (int64_t o = 0; o < v.outer; ++o) {
    for (int64_t k = 0; k < v.inner; ++k) {
      const int64_t base = o * v.size * v.inner + k;
      T top = -std::numeric_limits<T>::infinity();
      for (int64_t i = 0; i < v.size; ++i) top = std::max(top, px[base + i * v.inner]);
      double total = 0;
      for (int64_t i = 0; i < v.size; ++i) total += std::exp(static_cast<double>(px[base + i * v.inner] - top));
      const T log_norm = top + static_cast<T>(std::log(total));
      for (int64_t i = 0; i < v.size; ++i) po[base + i * v.inner] = px[base + i * v.inner] - log_norm;
    }
  }
}

// dx_i = g_i - softmax_i * sum_j g_j, with softmax = exp(output)
template <class T>
void log_softmax_backward(const T* g, const T* y, T* dx, const AxisView& v) {
  if (v.inner == 1)
    return for_each_row(v.outer, v.size, [&](int64_t o) {
      log_softmax_row_backward(g + o * v.size, y + o * v.size, dx + o * v.size, v.size);
    });
  for (int64_t o = 0; o < v.outer; ++o) {
    for (int64_t k = 0; k < v.inner; ++k) {
      const int64_t base = o * v.size * v.inner + k;
      T g_sum = 0;
      for (int64_t i = 0; i < v.size; ++i) g_sum += g[base + i * v.inner];
      for (int64_t i = 0; i < v.size; ++i) {
        const int64_t at = base + i * v.inner;
        dx[at] = g[at] - std::exp(y[at]) * g_sum;
      }
    }
  }
}
}  // namespace

// log_softmax is a primitive for numerical stability: x - max - log(sum(exp(x - max))) never overflows.
Tensor log_softmax(const Tensor& x, int axis_arg) {
  detail::check_defined("log_softmax", x);
  const int axis = detail::normalize_axis("log_softmax", axis_arg, x.dim(), x.shape());
  const AxisView v = around(x.shape(), axis);
  Tensor out = empty(x.shape(), x.dtype());
  detail::visit_floating("log_softmax", x.dtype(),
                         [&]<class T>() { log_softmax_forward(x.impl()->data<T>(), out.impl()->data<T>(), v); });
  if (should_record({&x}))
    record(out, "log_softmax", {x}, [v](BackwardContext& c) {
      const Tensor& g = c.grad_output();
      Tensor dx = empty(c.input(0).shape, g.dtype());
      detail::visit_floating("log_softmax backward", g.dtype(), [&]<class T>() {
        Tensor hold;
        const T* y = c.output().dtype == g.dtype() ? c.output().data<T>()
                                                   : detail::values_as<T>(detail::as_tensor(c.output()), hold);
        log_softmax_backward(g.impl()->data<T>(), y, dx.impl()->data<T>(), v);
      });
      c.add_grad(0, std::move(dx));
    });
  return out;
}

Tensor softmax(const Tensor& x, int axis) {
  detail::check_defined("softmax", x);
  return exp(log_softmax(x, axis));
}

}  // namespace unroll
