// unroll/framework/xtensor_interop.hpp: move values between unroll Tensors and xtensor arrays.
//
// Opt-in (not part of <unroll/unroll.hpp>) because xtensor's headers take seconds to compile. Values
// are copied in both directions; the Tensor side is always contiguous row-major. The dtype follows the
// array's value type (float -> float32, double -> float64, integers -> int64, bool -> bool).
//
//   xt::xarray<float> a = {{1, 2}, {3, 4}};
//   unroll::Tensor t = unroll::from_xarray(a);      // float32, shape [2, 2]
//   xt::xarray<float> back = unroll::to_xarray(t);  // to_xarray<double>(t) for a float64 tensor
#pragma once

#include <algorithm>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "unroll/framework/tensor.hpp"

namespace unroll {

// A Tensor holding the values of any xtensor expression (evaluated), of the dtype its value type maps to.
template <class E>
Tensor from_xarray(const xt::xexpression<E>& expression) {
  using V = detail::value_type_for<typename E::value_type>;
  const xt::xarray<V, xt::layout_type::row_major> values = expression.derived_cast();
  Shape shape(values.shape().begin(), values.shape().end());
  Tensor t = empty(shape, dtype_of<V>());
  std::copy(values.data(), values.data() + values.size(), t.data<V>());
  return t;
}

// A copy of the tensor's values as an xarray of the same shape; T must be the tensor's element type.
template <class T = float>
xt::xarray<T> to_xarray(const Tensor& t) {
  std::vector<size_t> shape(t.shape().begin(), t.shape().end());
  xt::xarray<T> out = xt::adapt(t.data<T>(), static_cast<size_t>(t.numel()), xt::no_ownership(), shape);
  return out;
}

}  // namespace unroll
