// Reductions and the softmax family.
// Per-axis loops view a tensor as [outer, size, inner] around the reduced axis (detail::AxisView).
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <limits>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;
using detail::AxisView;
using detail::around;

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
  Tensor out = x.shape() == kept ? detail::map(x, [](real v) { return v; }) : detail::unbroadcast(x, kept);
  out = Tensor(out.impl_ptr());  // fresh handle
  out.impl()->shape = out_shape;  // same element order: dropping size-1 axes is free
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
  const Tensor total = sum(x, axes, keepdim);
  const int64_t count = total.numel() ? x.numel() / total.numel() : 0;
  return div(total, scalar(static_cast<real>(count)));
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

// ---- max / argmax ----------------------------------------------------------------------------------
namespace {
// Position (along the axis) of the first maximum of every (outer, inner) line.
std::vector<int64_t> argmax_lines(const Tensor& x, const AxisView& v, const char* op) {
  check(v.size > 0, "{}: cannot reduce over an empty axis of shape {}", op, x.shape());
  std::vector<int64_t> best(v.outer * v.inner, 0);
  const real* p = x.data();
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t k = 0; k < v.inner; ++k) {
      int64_t arg = 0;
      real top = p[o * v.size * v.inner + k];
      for (int64_t i = 1; i < v.size; ++i) {
        const real value = p[(o * v.size + i) * v.inner + k];
        if (value > top || (std::isnan(value) && !std::isnan(top))) top = value, arg = i;
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
  auto arg = std::make_shared<std::vector<int64_t>>(argmax_lines(x, v, "max"));
  Tensor out = empty(without_axis(x.shape(), axis, keepdim));
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t k = 0; k < v.inner; ++k)
      out.data()[o * v.inner + k] = x.data()[(o * v.size + (*arg)[o * v.inner + k]) * v.inner + k];
  if (should_record({&x}))
    record(out, "max", {x}, [v, arg](BackwardContext& c) {
      // only the selected (first) maximum of each line receives the gradient
      Tensor g = zeros(c.input(0).shape);
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t k = 0; k < v.inner; ++k)
          g.data()[(o * v.size + (*arg)[o * v.inner + k]) * v.inner + k] = c.grad_output().data()[o * v.inner + k];
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
  const std::vector<int64_t> arg = argmax_lines(x, v, "argmax");
  Tensor out = empty(without_axis(x.shape(), axis, keepdim));
  for (size_t i = 0; i < arg.size(); ++i) out.data()[i] = static_cast<real>(arg[i]);
  return out;
}

// ---- softmax family --------------------------------------------------------------------------------
namespace {
using batch = xsimd::batch<real>;
constexpr int64_t kLanes = static_cast<int64_t>(batch::size);

// Contiguous rows (softmax over the last axis, e.g. logits [T*N, V]) run on SIMD registers; other axes
// take the strided scalar loop. Sums of exponentials are added up in blocks, each block total in double.
void log_softmax_row(const real* x, real* out, int64_t n) {
  int64_t k = 0;
  real top = -std::numeric_limits<real>::infinity();
  if (n >= kLanes) {
    batch vtop(top);
    for (; k + kLanes <= n; k += kLanes) vtop = xsimd::max(vtop, batch::load_unaligned(x + k));
    alignas(64) real lanes[kLanes];  // xsimd 8 has no horizontal max
    vtop.store_aligned(lanes);
    for (const real lane : lanes) top = std::max(top, lane);
  }
  for (; k < n; ++k) top = std::max(top, x[k]);
  const batch vtop(top);
  double total = 0;
  k = 0;
  while (k + kLanes <= n) {
    batch block(real(0));
    for (int64_t end = std::min(n - n % kLanes, k + 32 * kLanes); k < end; k += kLanes)
      block += xsimd::exp(batch::load_unaligned(x + k) - vtop);
    total += static_cast<double>(xsimd::hadd(block));
  }
  for (; k < n; ++k) total += std::exp(static_cast<double>(x[k] - top));
  const real log_norm = top + static_cast<real>(std::log(total));
  const batch vnorm(log_norm);
  for (k = 0; k + kLanes <= n; k += kLanes) (batch::load_unaligned(x + k) - vnorm).store_unaligned(out + k);
  for (; k < n; ++k) out[k] = x[k] - log_norm;
}

// Backward of one contiguous row: dx = g - exp(y) * sum(g), where y is the log_softmax output.
void log_softmax_row_backward(const real* g, const real* y, real* dx, int64_t n) {
  int64_t k = 0;
  batch vsum(real(0));
  for (; k + kLanes <= n; k += kLanes) vsum += batch::load_unaligned(g + k);
  real g_sum = xsimd::hadd(vsum);
  for (; k < n; ++k) g_sum += g[k];
  const batch vg(g_sum);
  for (k = 0; k + kLanes <= n; k += kLanes)
    (batch::load_unaligned(g + k) - xsimd::exp(batch::load_unaligned(y + k)) * vg).store_unaligned(dx + k);
  for (; k < n; ++k) dx[k] = g[k] - std::exp(y[k]) * g_sum;
}
}  // namespace

// log_softmax is a primitive for numerical stability: x - max - log(sum(exp(x - max))) never overflows.
Tensor log_softmax(const Tensor& x, int axis_arg) {
  detail::check_defined("log_softmax", x);
  const int axis = detail::normalize_axis("log_softmax", axis_arg, x.dim(), x.shape());
  const AxisView v = around(x.shape(), axis);
  Tensor out = empty(x.shape());
  const real* px = x.data();
  real* po = out.data();
  for (int64_t o = 0; o < v.outer; ++o) {
    if (v.inner == 1) {
      log_softmax_row(px + o * v.size, po + o * v.size, v.size);
      continue;
    }
    for (int64_t k = 0; k < v.inner; ++k) {
      const int64_t base = o * v.size * v.inner + k;
      real top = -std::numeric_limits<real>::infinity();
      for (int64_t i = 0; i < v.size; ++i) top = std::max(top, px[base + i * v.inner]);
      double total = 0;
      for (int64_t i = 0; i < v.size; ++i) total += std::exp(static_cast<double>(px[base + i * v.inner] - top));
      const real log_norm = top + static_cast<real>(std::log(total));
      for (int64_t i = 0; i < v.size; ++i) po[base + i * v.inner] = px[base + i * v.inner] - log_norm;
    }
  }
  if (should_record({&x}))
    record(out, "log_softmax", {x}, [v](BackwardContext& c) {
      // dx_i = g_i - softmax_i * sum_j g_j, with softmax = exp(output)
      Tensor dx = empty(c.input(0).shape);
      const real* g = c.grad_output().data();
      const real* y = c.output().data();
      for (int64_t o = 0; o < v.outer; ++o) {
        if (v.inner == 1) {
          log_softmax_row_backward(g + o * v.size, y + o * v.size, dx.data() + o * v.size, v.size);
          continue;
        }
        for (int64_t k = 0; k < v.inner; ++k) {
          const int64_t base = o * v.size * v.inner + k;
          real g_sum = 0;
          for (int64_t i = 0; i < v.size; ++i) g_sum += g[base + i * v.inner];
          for (int64_t i = 0; i < v.size; ++i) {
            const int64_t at = base + i * v.inner;
            dx.data()[at] = g[at] - std::exp(y[at]) * g_sum;
          }
        }
      }
      c.add_grad(0, std::move(dx));
    });
  return out;
}

Tensor softmax(const Tensor& x, int axis) {
  detail::check_defined("softmax", x);
  return exp(log_softmax(x, axis));
}

}  // namespace unroll
