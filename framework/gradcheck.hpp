// unroll/framework/gradcheck.hpp: compare autograd against central finite differences.
//
// Users who add ops or layers call this in their tests. Run it against the double-precision build
// (link unroll::unroll_f64) so finite differences are exact enough to never be flaky; in the float32
// build the default tolerances are loose and only catch gross errors.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll {

struct GradcheckOptions {
#ifdef UNROLL_DOUBLE
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|  (PyTorch's defaults)
  double rtol = 1e-3;
#else
  double eps = 1e-2;
  double atol = 1e-2;
  double rtol = 5e-2;
#endif
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
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace unroll
