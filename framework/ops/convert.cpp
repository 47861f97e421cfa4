// Conversion between dtypes: detail::cast (no history) and the differentiable op to().
#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

namespace detail {
Tensor cast(const Tensor& x, DType dtype) {
  check_defined("to", x);
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), dtype);
  visit_dtype(x.dtype(), [&]<class From>() {
    visit_dtype(dtype, [&]<class To>() {
      const From* src = x.impl()->data<From>();
      To* dst = out.impl()->data<To>();
      for (int64_t i = 0, n = x.numel(); i < n; ++i) dst[i] = convert<To>(src[i]);
    });
  });
  return out;
}
}  // namespace detail

Tensor to(const Tensor& x, DType dtype) {
  detail::check_defined("to", x);
  if (x.dtype() == dtype) return x;
  Tensor out = detail::cast(x, dtype);
  // Only a floating result can carry a gradient (an integer or bool copy is a constant, as in PyTorch).
  if (is_floating_point(dtype) && should_record({&x}))
    record(out, "to", {x}, [](BackwardContext& c) {
      c.add_grad(0, c.grad_output());  // the engine converts it to x's dtype
    });
  return out;
}

Tensor Tensor::to(DType dtype) const { return unroll::to(*this, dtype); }

}  // namespace unroll
