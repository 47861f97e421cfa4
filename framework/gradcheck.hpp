// unroll/framework/gradcheck.hpp: compare autograd against central finite differences.
//
// Users who add ops or layers call this in their tests, or in the program that uses them. As
// torch.autograd.gradcheck, it works in double precision, so finite differences are exact enough never to
// be flaky: every input that requires grad must be float64 (x.to(kFloat64); a module's parameters with
// module.to(kFloat64)), or gradcheck throws an Error saying so. The function may compute in float64
// throughout or take float32 constants along (they promote).
//
//   Tensor x = randn({3, 4}, kFloat64).requires_grad_();
//   GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]); }, {x});
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|  (PyTorch's defaults)
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // on failure: which input, element and output disagree, with both values
  explicit operator bool() const { return ok; }
};

// Checks the full Jacobian of fn at `inputs` with respect to every input that requires grad (those must be
// leaves): one backward pass per output element against two forward evaluations per input element. The
// inputs are perturbed in place and restored, and their .grad() is left as it was, so a module's
// parameters can be passed as inputs while fn calls the module. fn may return any shape; keep the
// problem small (a few hundred elements).
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace unroll
