#include "unroll/optim/clip.hpp"

#include <algorithm>
#include <cmath>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"

namespace unroll::optim {

using detail::check;

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
    const real* v = g.data();
    const int64_t n = g.numel();
    if (inf) {
      for (int64_t k = 0; k < n; ++k) {
        const double a = std::abs(static_cast<double>(v[k]));
        if (a > total || std::isnan(a)) total = a;  // a NaN stays (max propagates NaN, as torch.max)
      }
    } else if (norm_type == 2) {
      for (int64_t k = 0; k < n; ++k) total += static_cast<double>(v[k]) * static_cast<double>(v[k]);
    } else if (norm_type == 1) {
      for (int64_t k = 0; k < n; ++k) total += std::abs(static_cast<double>(v[k]));
    } else {
      for (int64_t k = 0; k < n; ++k) total += std::pow(std::abs(static_cast<double>(v[k])), norm_type);
    }
  }
  if (!inf) total = norm_type == 2 ? std::sqrt(total) : norm_type == 1 ? total : std::pow(total, 1 / norm_type);

  // clip_coef = max_norm / (total + 1e-6), clamped to at most 1 (PyTorch multiplies unconditionally; a
  // factor of exactly 1 changes nothing, so it is skipped; NaN still spreads as in PyTorch)
  const double clip_coef = max_norm / (total + 1e-6);
  if (!(clip_coef >= 1)) {
    NoGradGuard no_grad;
    const real factor = static_cast<real>(clip_coef);
    for (Tensor& g : grads) {
      real* v = g.data();
      const int64_t n = g.numel();
      for (int64_t k = 0; k < n; ++k) v[k] *= factor;
    }
  }
  return total;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip_value) {
  check(clip_value >= 0, "clip_grad_value: clip_value must be >= 0, got {}", clip_value);
  NoGradGuard no_grad;
  const real hi = static_cast<real>(clip_value), lo = -hi;
  for (const Tensor& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    Tensor g = p.grad();
    real* v = g.data();
    const int64_t n = g.numel();
    for (int64_t k = 0; k < n; ++k) v[k] = std::min(std::max(v[k], lo), hi);  // NaN stays NaN
  }
}

}  // namespace unroll::optim
