// Normalization: layer_norm.
//
// A primitive for speed: the composite (mean, sub, mul, mean, add, sqrt, div, mul, add: nine ops, nine
// buffers, nine nodes) is layer_norm's whole cost in a layer-normalized LSTM step, which runs it at every
// step; fused, it is one pass for the statistics and one for the output, and one node. Measured here on
// [32, 256] float32 (forward + backward, median of 5 runs): see tests/framework/ops/test_normalization.cpp,
// which also gradchecks this primitive against the composite.
#include <cmath>
#include <memory>
#include <vector>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;

namespace {
// Per-row statistics saved for backward: mean and 1 / sqrt(var + eps), in double.
struct RowStats {
  std::vector<double> mean, rstd;
};
}  // namespace

// x: [R..., D...] with D... = normalized_shape, seen as [rows, d]; weight, bias: D... (optional).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  detail::check_defined("layer_norm", x);
  const int nd = normalized_shape.size();
  bool fits = nd >= 1 && nd <= x.dim();
  for (int i = 0; fits && i < nd; ++i) fits = x.shape()[x.dim() - nd + i] == normalized_shape[i];
  check(fits, "layer_norm: normalized_shape {} must be the last dims of the input, got shape {}", normalized_shape,
        x.shape());
  check(x.is_floating_point(), "layer_norm: expected a floating tensor (float32, float64), got {} of shape {}",
        name(x.dtype()), x.shape());
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    const char* what = p == &weight ? "weight" : "bias";
    check(p->shape() == normalized_shape, "layer_norm: {} must have shape {} (normalized_shape), got {} (input {})",
          what, normalized_shape, p->shape(), x.shape());
    check(p->dtype() == x.dtype(), "layer_norm: {} has dtype {} but the input has {} (input shape {})", what,
          name(p->dtype()), name(x.dtype()), x.shape());
  }
  const int64_t d = normalized_shape.numel(), rows = d > 0 ? x.numel() / d : 0;
  auto stats = std::make_shared<RowStats>();
  stats->mean.resize(rows);
  stats->rstd.resize(rows);
  Tensor out = empty(x.shape(), x.dtype());
  detail::visit_floating("layer_norm", x.dtype(), [&]<class T>() {
    const T* px = x.impl()->data<T>();
    const T* pw = weight.defined() ? weight.impl()->data<T>() : nullptr;
    const T* pb = bias.defined() ? bias.impl()->data<T>() : nullptr;
    T* po = out.impl()->data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = px + r * d;
      double total = 0;
      for (int64_t i = 0; i < d; ++i) total += row[i];
      const double mean = total / static_cast<double>(d);
      double squares = 0;  // two passes: (x - mean)^2 does not cancel as E[x^2] - mean^2 does
      for (int64_t i = 0; i < d; ++i) squares += (row[i] - mean) * (row[i] - mean);
      const double rstd = 1 / std::sqrt(squares / static_cast<double>(d) + eps);
      stats->mean[r] = mean;
      stats->rstd[r] = rstd;
      T* o = po + r * d;
      for (int64_t i = 0; i < d; ++i) {
        const T xhat = static_cast<T>((row[i] - mean) * rstd);
        o[i] = (pw ? xhat * pw[i] : xhat) + (pb ? pb[i] : T(0));
      }
    }
  });
  if (should_record({&x, &weight, &bias})) {
    // inputs: x, then weight and bias when given (at positions w_at and b_at, or -1)
    std::vector<Tensor> inputs{x};
    const int w_at = weight.defined() ? static_cast<int>(inputs.size()) : -1;
    if (weight.defined()) inputs.push_back(weight);
    const int b_at = bias.defined() ? static_cast<int>(inputs.size()) : -1;
    if (bias.defined()) inputs.push_back(bias);
    record(out, "layer_norm", std::move(inputs), [stats, rows, d, w_at, b_at](BackwardContext& c) {
      // xhat = (x - mean) rstd, y = xhat w + b:
      //   db = sum_rows g,  dw = sum_rows g xhat,
      //   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)),  dxhat = g w
      const Tensor& g = c.grad_output();
      const bool has_weight = w_at >= 0, has_bias = b_at >= 0;
      Tensor dx = empty(c.input(0).shape, g.dtype());
      Tensor dw = has_weight ? zeros(c.input(w_at).shape, g.dtype()) : Tensor();
      Tensor db = has_bias ? zeros(c.input(b_at).shape, g.dtype()) : Tensor();
      detail::visit_floating("layer_norm backward", g.dtype(), [&]<class T>() {
        Tensor hold_x, hold_w;
        const T* px = detail::values_as<T>(detail::as_tensor(c.input(0)), hold_x);
        const T* pw = has_weight ? detail::values_as<T>(detail::as_tensor(c.input(w_at)), hold_w) : nullptr;
        const T* pg = g.impl()->data<T>();
        T* pdx = dx.impl()->data<T>();
        T* pdw = has_weight ? dw.impl()->data<T>() : nullptr;
        T* pdb = has_bias ? db.impl()->data<T>() : nullptr;
        for (int64_t r = 0; r < rows; ++r) {
          const T *row = px + r * d, *gr = pg + r * d;
          const double mean = stats->mean[r], rstd = stats->rstd[r];
          double sum_dxhat = 0, sum_dxhat_xhat = 0;
          for (int64_t i = 0; i < d; ++i) {
            const double xhat = (row[i] - mean) * rstd;
            const double dxhat = pw ? gr[i] * pw[i] : gr[i];
            sum_dxhat += dxhat;
            sum_dxhat_xhat += dxhat * xhat;
            if (pdw) pdw[i] += static_cast<T>(gr[i] * xhat);
            if (pdb) pdb[i] += gr[i];
          }
          const double mean_dxhat = sum_dxhat / static_cast<double>(d), mean_dxhat_xhat = sum_dxhat_xhat / static_cast<double>(d);
          for (int64_t i = 0; i < d; ++i) {
            const double xhat = (row[i] - mean) * rstd;
            const double dxhat = pw ? gr[i] * pw[i] : gr[i];
            pdx[r * d + i] = static_cast<T>(rstd * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
          }
        }
      });
      c.add_grad(0, std::move(dx));
      if (has_weight) c.add_grad(w_at, std::move(dw));
      if (has_bias) c.add_grad(b_at, std::move(db));
    });
  }
  return out;
}

}  // namespace unroll
