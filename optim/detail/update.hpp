// Internal: the first line of every optimizer's update (optim/*.cpp), as PyTorch writes it.
#pragma once

#include "unroll/framework/detail/xtensor.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::detail {

// g_t = sign * grad + lambda * param, in the parameter's floating dtype T: the gradient (sign = -1 negates it
// to maximize) plus L2 weight decay lambda * theta_{t-1}. grad and param have one shape. Returns grad itself
// when sign = 1 and lambda = 0, else a new buffer: the gradient stays as the user left it.
template <class T>
Tensor regularized_gradient(const Tensor& grad, const Tensor& param, T sign, T lambda) {
  if (sign == 1 && lambda == 0) return grad;
  Tensor g = empty(grad.shape(), grad.dtype());
  auto out = flat<T>(g);
  if (lambda != 0)
    xt::noalias(out) = sign * flat<T>(grad) + lambda * flat<T>(param);
  else
    xt::noalias(out) = sign * flat<T>(grad);
  return g;
}

}  // namespace unroll::detail
