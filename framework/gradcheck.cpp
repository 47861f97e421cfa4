#include "unroll/framework/gradcheck.hpp"

#include <cmath>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  // The inputs themselves are perturbed (and restored), so fn may also reach them another way, e.g. a
  // module's parameters passed as inputs while fn calls the module. Their gradients are saved and restored.
  const std::vector<Tensor>& leaves = inputs;
  std::vector<Tensor> saved_grads;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const Tensor& x = leaves[i];
    detail::check_defined("gradcheck", x);
    detail::check(!x.requires_grad() || x.is_leaf(),
                  "gradcheck: inputs that require grad must be leaves (got one produced by '{}')", x.grad_fn_name());
    detail::check(!x.requires_grad() || x.dtype() == kFloat64,
                  "gradcheck: input {} (shape {}) is {}; finite differences need float64 inputs, as "
                  "torch.autograd.gradcheck: pass x.to(kFloat64) (a module: module.to(kFloat64))",
                  i, x.shape(), name(x.dtype()));
    saved_grads.push_back(x.grad());
  }
  const Tensor output = fn(leaves);
  detail::check(output.defined() && output.requires_grad(),
                "gradcheck: the function's output does not require grad (no input requires grad, or fn detached it)");
  const int64_t n_out = output.numel();
  // an output's values as doubles (a float32 output is compared in double too)
  const auto values = [](const Tensor& t) { return detail::cast(t, kFloat64); };

  // numeric[i][k * n_out + j] = d output_j / d input_i[k], by central differences
  std::vector<std::vector<double>> numeric(leaves.size());
  {
    NoGradGuard no_grad;
    for (size_t i = 0; i < leaves.size(); ++i) {
      if (!leaves[i].requires_grad()) continue;
      double* x = const_cast<Tensor&>(leaves[i]).data<double>();
      numeric[i].resize(leaves[i].numel() * n_out);
      for (int64_t k = 0; k < leaves[i].numel(); ++k) {
        const double saved = x[k];
        x[k] = saved + options.eps;
        const Tensor plus = values(clone(fn(leaves)));  // fn may return a view of the input (reshape)
        x[k] = saved - options.eps;
        const Tensor minus = values(clone(fn(leaves)));
        x[k] = saved;
        for (int64_t j = 0; j < n_out; ++j)
          numeric[i][k * n_out + j] = (plus.data<double>()[j] - minus.data<double>()[j]) / (2 * options.eps);
      }
    }
  }

  // analytic: one backward pass per output element, seeded with the unit vector e_j
  GradcheckResult result;
  for (int64_t j = 0; j < n_out; ++j) {
    for (Tensor leaf : leaves) leaf.zero_grad();
    Tensor seed = zeros(output.shape(), output.dtype());
    visit_dtype(output.dtype(), [&]<class T>() { seed.data<T>()[j] = T(1); });
    output.backward(seed, /*retain_graph=*/true);
    for (size_t i = 0; i < leaves.size(); ++i) {
      if (!leaves[i].requires_grad()) continue;
      const Tensor grad = leaves[i].grad();
      for (int64_t k = 0; k < leaves[i].numel(); ++k) {
        const double analytic = grad.defined() ? grad.data<double>()[k] : 0.0;
        const double expected = numeric[i][k * n_out + j];
        if (!(std::abs(analytic - expected) <= options.atol + options.rtol * std::abs(expected))) {
          if (result.ok)
            result.message = fmt::format(
                "gradcheck: Jacobian mismatch for input {} (shape {}) at element {}, output element {}: analytic "
                "{:.8g} "
                "vs numeric {:.8g} (atol {}, rtol {})",
                i, leaves[i].shape(), k, j, analytic, expected, options.atol, options.rtol);
          result.ok = false;
        }
      }
    }
  }
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor leaf = leaves[i];
    leaf.zero_grad();
    if (saved_grads[i].defined()) leaf.impl()->grad = saved_grads[i];
  }
  return result;
}

}  // namespace unroll
