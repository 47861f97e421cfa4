// Sorting: sort, argsort, topk.
//
//   composites: sort, topk (values = gather(x, axis, indices): the gradient flows back through gather to
//               the positions the values came from, as PyTorch's)
//   not differentiable: argsort (int64 positions)
//
// The positions are computed here by hand rather than with xt::sort / xt::argsort: those use std::sort with
// operator<, which is neither stable nor an ordering once NaN is present (std::sort may then read out of
// bounds), and they have no descending order. PyTorch sorts NaN as the largest value.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>
#include <vector>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::around;
using detail::AxisView;
using detail::check;

namespace {

// Strict "a comes before b" for ascending (or descending) order, NaN being the largest value; ties are
// broken by position so that every order below is stable.
template <class T>
struct Before {
  const T* line;
  bool descending;
  bool operator()(int64_t i, int64_t j) const {
    const T a = line[i], b = line[j];
    bool a_nan = false, b_nan = false;
    if constexpr (std::is_floating_point_v<T>) a_nan = std::isnan(a), b_nan = std::isnan(b);
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return i < j;
      return descending ? a_nan : b_nan;  // NaN last ascending, first descending
    }
    if (a != b) return descending ? a > b : a < b;
    return i < j;
  }
};

// The positions of the first k entries of every line of x along the axis (all of them, sorted, when
// k == size): int64 [A..., k, B...].
Tensor order_positions(const Tensor& x, int axis, int64_t k, bool descending) {
  const AxisView v = around(x.shape(), axis);
  Shape out_shape = x.shape();
  out_shape[axis] = k;
  Tensor out = empty(out_shape, kInt64);
  int64_t* po = out.data<int64_t>();
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.impl()->data<T>();
    using Stored = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;  // std::vector<bool> has no data()
    std::vector<Stored> line(static_cast<size_t>(v.size));
    std::vector<int64_t> order(static_cast<size_t>(v.size));
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t in = 0; in < v.inner; ++in) {
        for (int64_t i = 0; i < v.size; ++i) line[i] = px[(o * v.size + i) * v.inner + in];
        std::iota(order.begin(), order.end(), int64_t{0});
        const Before<Stored> before{line.data(), descending};
        if (k == v.size)
          std::sort(order.begin(), order.end(), before);  // stable: ties are ordered by position
        else
          std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t i = 0; i < k; ++i) po[(o * k + i) * v.inner + in] = order[i];
      }
  });
  return out;
}

// x viewed with at least one axis: a rank-0 x is sorted as [1] (as PyTorch, axis 0 or -1).
Tensor at_least_1d(const Tensor& x) { return x.dim() == 0 ? reshape(x, {1}) : x; }

}  // namespace

Tensor argsort(const Tensor& x_in, int axis_arg, bool descending) {
  detail::check_defined("argsort", x_in);
  const Tensor x = at_least_1d(x_in.detach());
  const int axis = detail::normalize_axis("argsort", axis_arg, x.dim(), x.shape());
  const Tensor positions = order_positions(x, axis, x.shape()[axis], descending);
  return x_in.dim() == 0 ? reshape(positions, {}) : positions;
}

ValuesIndices sort(const Tensor& x_in, int axis_arg, bool descending) {
  detail::check_defined("sort", x_in);
  const Tensor x = at_least_1d(x_in);
  const int axis = detail::normalize_axis("sort", axis_arg, x.dim(), x.shape());
  const Tensor indices = order_positions(x.detach(), axis, x.shape()[axis], descending);
  const Tensor values = gather(x, axis, indices);
  if (x_in.dim() == 0) return {reshape(values, {}), reshape(indices, {})};
  return {values, indices};
}

ValuesIndices topk(const Tensor& x_in, int64_t k, int axis_arg, bool largest, bool sorted) {
  (void)sorted;  // the k entries always come sorted
  detail::check_defined("topk", x_in);
  check(x_in.dtype() != kBool, "topk: not supported for bool tensors (shape {})", x_in.shape());
  const Tensor x = at_least_1d(x_in);
  const int axis = detail::normalize_axis("topk", axis_arg, x.dim(), x.shape());
  const int64_t n = x.shape()[axis];
  check(k >= 0 && k <= n, "topk: k = {} is out of range for axis {} of size {} (tensor of shape {})", k, axis_arg, n,
        x_in.shape());
  const Tensor indices = order_positions(x.detach(), axis, k, largest);
  const Tensor values = gather(x, axis, indices);
  if (x_in.dim() == 0) return {reshape(values, {}), reshape(indices, {})};
  return {values, indices};
}

}  // namespace unroll
