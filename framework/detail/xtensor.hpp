// Internal: the one place the library includes xtensor (its headers moved in 0.26; we build on 0.24).
// Kernels adapt Storage buffers in place (no copies, still on xsimd's fast path).
#pragma once

#include <xtensor/xaccumulator.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "unroll/framework/tensor.hpp"

namespace unroll::detail {

// A flat 1-D xtensor view of a tensor's values, which must be of type T (the caller has dispatched on the
// dtype).
template <class T>
auto flat(const Tensor& t) {
  return xt::adapt(t.impl()->data<T>(), static_cast<size_t>(t.numel()), xt::no_ownership(),
                   std::array<size_t, 1>{static_cast<size_t>(t.numel())});
}

// A 3-D xtensor view [outer, size, inner] of a tensor's values (of type T): the layout every op "along an
// axis" uses (detail::AxisView), for xtensor's reducers and accumulators over axis 1.
template <class T>
auto view3(const Tensor& t, int64_t outer, int64_t size, int64_t inner) {
  return xt::adapt(
      t.impl()->data<T>(), static_cast<size_t>(t.numel()), xt::no_ownership(),
      std::array<size_t, 3>{static_cast<size_t>(outer), static_cast<size_t>(size), static_cast<size_t>(inner)});
}

// A 2-D xtensor view [rows, cols] of a tensor's values (of type T): where a reduction over the middle axis of
// view3 writes its [outer, inner] result.
template <class T>
auto view2(const Tensor& t, int64_t rows, int64_t cols) {
  return xt::adapt(t.impl()->data<T>(), static_cast<size_t>(t.numel()), xt::no_ownership(),
                   std::array<size_t, 2>{static_cast<size_t>(rows), static_cast<size_t>(cols)});
}

}  // namespace unroll::detail
