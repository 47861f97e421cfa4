// Activation functions, as torch.nn.functional's. Each op: check arguments, compute the value, then record
// its backward right below. They take floating tensors only, as PyTorch's kernels do.
//
//   primitives: softplus, gelu, elu   (numerically: each composite would evaluate exp on the branch that
//               where() discards, and exp's overflow there turns the zero gradient into 0 * inf = NaN)
//   composites: leaky_relu (where), silu (x * sigmoid(x))
#include <cmath>
#include <numbers>
#include <string>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;
using detail::map;

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi), gelu's tanh form
constexpr double kCubic = 0.044715;

// f applied to every element of a floating x, in x's dtype.
template <class F>
Tensor pointwise(const char* op, const Tensor& x, F f) {
  return detail::visit_floating(op, x.dtype(), [&]<class T>() { return detail::map_as<T>(x, [&f](T v) { return f(v); }); });
}
}  // namespace

// softplus(x) = log(1 + exp(beta x)) / beta, or x where beta x > threshold.
Tensor softplus(const Tensor& x, double beta, double threshold) {
  detail::check_defined("softplus", x);
  check(beta != 0, "softplus: beta must be nonzero (tensor of shape {})", x.shape());
  Tensor out = pointwise("softplus", x, [beta, threshold](auto v) {
    using T = decltype(v);
    const T bx = static_cast<T>(beta) * v;
    return bx > static_cast<T>(threshold) ? v : static_cast<T>(std::log1p(std::exp(bx)) / static_cast<T>(beta));
  });
  if (should_record({&x}))
    record(out, "softplus", {x}, [beta, threshold](BackwardContext& c) {
      // d/dx = sigmoid(beta x) = 1 / (1 + exp(-beta x)), or 1 on the linear branch
      c.add_grad(0, map(c.grad_output(), c.input(0), [beta, threshold](auto g, auto v) {
                   using T = decltype(g);
                   const T bx = static_cast<T>(beta) * v;
                   return bx > static_cast<T>(threshold) ? g : g / (1 + std::exp(-bx));
                 }));
    });
  return out;
}

Tensor gelu(const Tensor& x, std::string_view approximate) {
  detail::check_defined("gelu", x);
  const bool tanh_form = approximate == "tanh";
  check(tanh_form || approximate == "none", "gelu: approximate must be \"none\" or \"tanh\", got \"{}\" (shape {})",
        std::string(approximate), x.shape());
  Tensor out = pointwise("gelu", x, [tanh_form](auto v) {
    using T = decltype(v);
    if (tanh_form)  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      return static_cast<T>(T(0.5) * v * (1 + std::tanh(T(kSqrt2OverPi) * (v + T(kCubic) * v * v * v))));
    return static_cast<T>(T(0.5) * v * (1 + std::erf(v * T(std::numbers::sqrt2 / 2))));  // x Phi(x)
  });
  if (should_record({&x}))
    record(out, "gelu", {x}, [tanh_form](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [tanh_form](auto g, auto v) {
                   using T = decltype(g);
                   if (tanh_form) {  // 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
                     const T t = std::tanh(T(kSqrt2OverPi) * (v + T(kCubic) * v * v * v));
                     return g * (T(0.5) * (1 + t) +
                                 T(0.5) * v * (1 - t * t) * T(kSqrt2OverPi) * (1 + 3 * T(kCubic) * v * v));
                   }
                   // Phi(x) + x phi(x), phi the standard normal density
                   const T cdf = T(0.5) * (1 + std::erf(v * T(std::numbers::sqrt2 / 2)));
                   const T pdf = std::exp(T(-0.5) * v * v) * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
                   return g * (cdf + v * pdf);
                 }));
    });
  return out;
}

// elu(x) = x for x > 0, alpha (exp(x) - 1) otherwise.
Tensor elu(const Tensor& x, double alpha) {
  detail::check_defined("elu", x);
  Tensor out = pointwise("elu", x, [alpha](auto v) {
    using T = decltype(v);
    return v > 0 ? v : static_cast<T>(static_cast<T>(alpha) * std::expm1(v));
  });
  if (should_record({&x}))
    record(out, "elu", {x}, [alpha](BackwardContext& c) {
      // 1 for x > 0, alpha exp(x) otherwise
      c.add_grad(0, map(c.grad_output(), c.input(0), [alpha](auto g, auto v) {
                   using T = decltype(g);
                   return v > 0 ? g : static_cast<T>(g * static_cast<T>(alpha) * std::exp(v));
                 }));
    });
  return out;
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  detail::check_defined("leaky_relu", x);
  detail::visit_floating("leaky_relu", x.dtype(), []<class T>() {});
  return where(gt(x, 0), x, mul(x, detail::wrapped_scalar(negative_slope)));
}

Tensor silu(const Tensor& x) {
  detail::check_defined("silu", x);
  detail::visit_floating("silu", x.dtype(), []<class T>() {});
  return mul(x, sigmoid(x));
}

}  // namespace unroll
