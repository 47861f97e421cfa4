// Reductions and the softmax family.
// Per-axis loops view a tensor as [outer, size, inner] around the reduced axis (detail::AxisView).
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
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

// ---- max / argmax ----------------------------------------------------------------------------------
namespace {
// Position (along the axis) of the first maximum of every (outer, inner) line; NaN counts as the maximum,
// as in PyTorch.
template <class T>
std::vector<int64_t> argmax_lines(const Tensor& x, const AxisView& v, const char* op) {
  check(v.size > 0, "{}: cannot reduce over an empty axis of shape {}", op, x.shape());
  std::vector<int64_t> best(v.outer * v.inner, 0);
  const T* p = x.impl()->data<T>();
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t k = 0; k < v.inner; ++k) {
      int64_t arg = 0;
      T top = p[o * v.size * v.inner + k];
      for (int64_t i = 1; i < v.size; ++i) {
        const T value = p[(o * v.size + i) * v.inner + k];
        bool better = value > top;
        if constexpr (std::is_floating_point_v<T>) better = better || (std::isnan(value) && !std::isnan(top));
        if (better) top = value, arg = i;
      }
      best[o * v.inner + k] = arg;
    }
  return best;
}
}  // namespace

Tensor max(const Tensor& x, int axis_arg, bool keepdim) {
  detail::check_defined("max", x);
  const int axis = detail::normalize_axis("max", axis_arg, x.dim(), x.shape());
  const AxisView v = around(x.shape(), axis);
  Tensor out = empty(without_axis(x.shape(), axis, keepdim), x.dtype());
  auto arg = std::make_shared<std::vector<int64_t>>();
  visit_dtype(x.dtype(), [&]<class T>() {
    *arg = argmax_lines<T>(x, v, "max");
    const T* px = x.impl()->data<T>();
    T* po = out.impl()->data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t k = 0; k < v.inner; ++k)
        po[o * v.inner + k] = px[(o * v.size + (*arg)[o * v.inner + k]) * v.inner + k];
  });
  if (should_record({&x}))
    record(out, "max", {x}, [v, arg](BackwardContext& c) {
      // only the selected (first) maximum of each line receives the gradient
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
  return out;
}

Tensor max(const Tensor& x) {
  detail::check_defined("max", x);
  check(x.numel() > 0, "max: cannot reduce an empty tensor of shape {}", x.shape());
  return max(reshape(x, {x.numel()}), 0, false);
}

Tensor argmax(const Tensor& x, int axis_arg, bool keepdim) {
  detail::check_defined("argmax", x);
  const int axis = detail::normalize_axis("argmax", axis_arg, x.dim(), x.shape());
  const AxisView v = around(x.shape(), axis);
  const std::vector<int64_t> arg =
      detail::visit_numeric("argmax", x.dtype(), [&]<class T>() { return argmax_lines<T>(x, v, "argmax"); });
  Tensor out = empty(without_axis(x.shape(), axis, keepdim), kInt64);
  std::copy(arg.begin(), arg.end(), out.data<int64_t>());
  return out;
}

// ---- softmax family --------------------------------------------------------------------------------
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

template <class T>
void log_softmax_forward(const T* px, T* po, const AxisView& v) {
  for (int64_t o = 0; o < v.outer; ++o) {
    if (v.inner == 1) {
      log_softmax_row(px + o * v.size, po + o * v.size, v.size);
      continue;
    }
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
  for (int64_t o = 0; o < v.outer; ++o) {
    if (v.inner == 1) {
      log_softmax_row_backward(g + o * v.size, y + o * v.size, dx + o * v.size, v.size);
      continue;
    }
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
