// unroll/framework/xtensor_interop.hpp: move values between unroll Tensors and xtensor arrays.
//
// Opt-in (not part of <unroll/unroll.hpp>) because xtensor's headers take seconds to compile. Values
// are copied in both directions; the Tensor side is always contiguous row-major.
//
//   xt::xarray<float> a = {{1, 2}, {3, 4}};
//   unroll::Tensor t = unroll::from_xarray(a);      // shape [2, 2]
//   xt::xarray<float> back = unroll::to_xarray(t);
#pragma once

#include <algorithm>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "unroll/framework/tensor.hpp"

namespace unroll {

// A Tensor holding the values of any xtensor expression (evaluated, converted to `real`).
template <class E>
Tensor from_xarray(const xt::xexpression<E>& expression) {
  const xt::xarray<real, xt::layout_type::row_major> values = expression.derived_cast();
  Shape shape(values.shape().begin(), values.shape().end());
  Tensor t = empty(shape);
  std::copy(values.data(), values.data() + values.size(), t.data());
  return t;
}

// A copy of the tensor's values as an xarray of the same shape.
inline xt::xarray<real> to_xarray(const Tensor& t) {
  std::vector<size_t> shape(t.shape().begin(), t.shape().end());
  xt::xarray<real> out = xt::adapt(t.data(), static_cast<size_t>(t.numel()), xt::no_ownership(), shape);
  return out;
}

}  // namespace unroll
