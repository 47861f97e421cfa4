#include "unroll/optim/clip.hpp"

#include <algorithm>
#include <cmath>

#include <xsimd/xsimd.hpp>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/dispatch.hpp"

namespace unroll::optim {

using detail::check;

namespace {
// sum of v[k]^2 in double, vectorized: blocks of 256 squares are summed in SIMD lanes of T (32 terms
// per lane for float), then each block total is added in double. A plain double loop is one long
// dependency chain of additions, several times slower on a 4.6M-parameter model.
template <class T>
double sum_of_squares(const T* v, int64_t n) {
  using batch = xsimd::batch<T>;
  constexpr int64_t W = static_cast<int64_t>(batch::size), kBlock = 256;
  double total = 0;
  int64_t k = 0;
  for (; k + kBlock <= n; k += kBlock) {
    batch acc0(T(0)), acc1(T(0));
    for (int64_t j = k; j < k + kBlock; j += 2 * W) {
      const batch a = batch::load_unaligned(v + j), b = batch::load_unaligned(v + j + W);
      acc0 = xsimd::fma(a, a, acc0);
      acc1 = xsimd::fma(b, b, acc1);
    }
    total += static_cast<double>(xsimd::hadd(acc0 + acc1));
  }
  for (; k < n; ++k) total += static_cast<double>(v[k]) * static_cast<double>(v[k]);
  return total;
}
}  // namespace

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  check(max_norm >= 0, "clip_grad_norm: max_norm must be >= 0, got {}", max_norm);
  check(norm_type > 0, "clip_grad_norm: norm_type must be > 0 or kInfNorm, got {}", norm_type);
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0;

  // total = (sum over all elements of |g|^p)^(1/p), or max |g| for p = inf; accumulated in double
  double total = 0;
  const bool inf = std::isinf(norm_type);
  for (const Tensor& g : grads) {
    detail::visit_floating("clip_grad_norm", g.dtype(), [&]<class T>() {
      const T* v = g.data<T>();
      const int64_t n = g.numel();
      if (inf) {
        for (int64_t k = 0; k < n; ++k) {
          const double a = std::abs(static_cast<double>(v[k]));
          if (a > total || std::isnan(a)) total = a;  // a NaN stays (max propagates NaN, as torch.max)
        }
      } else if (norm_type == 2) {
        total += sum_of_squares(v, n);
      } else if (norm_type == 1) {
        for (int64_t k = 0; k < n; ++k) total += std::abs(static_cast<double>(v[k]));
      } else {
        for (int64_t k = 0; k < n; ++k) total += std::pow(std::abs(static_cast<double>(v[k])), norm_type);
      }
    });
  }
  if (!inf) total = norm_type == 2 ? std::sqrt(total) : norm_type == 1 ? total : std::pow(total, 1 / norm_type);

  // clip_coef = max_norm / (total + 1e-6), clamped to at most 1 (PyTorch multiplies unconditionally; a
  // factor of exactly 1 changes nothing, so it is skipped; NaN still spreads as in PyTorch)
  const double clip_coef = max_norm / (total + 1e-6);
  if (!(clip_coef >= 1)) {
    NoGradGuard no_grad;
    for (Tensor& g : grads) {
      detail::visit_floating("clip_grad_norm", g.dtype(), [&]<class T>() {
        const T factor = static_cast<T>(clip_coef);
        T* v = g.data<T>();
        const int64_t n = g.numel();
        for (int64_t k = 0; k < n; ++k) v[k] *= factor;
      });
    }
  }
  return total;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip_value) {
  check(clip_value >= 0, "clip_grad_value: clip_value must be >= 0, got {}", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    Tensor g = p.grad();
    detail::visit_floating("clip_grad_value", g.dtype(), [&]<class T>() {
      const T hi = static_cast<T>(clip_value), lo = -hi;
      T* v = g.data<T>();
      const int64_t n = g.numel();
      for (int64_t k = 0; k < n; ++k) v[k] = std::min(std::max(v[k], lo), hi);  // NaN stays NaN
    });
  }
}

}  // namespace unroll::optim
