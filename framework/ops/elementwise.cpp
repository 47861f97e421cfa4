// Elementwise ops: arithmetic with broadcasting, and pointwise functions.
// Each op: check arguments, compute the value, then record its backward right below.
#include <cmath>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/detail/xtensor.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::as_tensor;
using detail::broadcast_map;
using detail::map;
using detail::unbroadcast;

// ---- broadcasting helpers (declared in detail/kernels.hpp) ---------------------------------------
namespace detail {

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const int rank = std::max(a.size(), b.size());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    const int ia = i - (rank - a.size()), ib = i - (rank - b.size());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    check(da == db || da == 1 || db == 1, "{}: shapes {} and {} cannot be broadcast together", op, a, b);
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

Strides broadcast_strides(const Shape& s, const Shape& out) {
  Strides strides{};
  int64_t stride = 1;
  for (int i = out.size() - 1, j = s.size() - 1; i >= 0; --i, --j) {
    if (j >= 0 && s[j] != 1) {
      strides[i] = stride;
      stride *= s[j];
    } else {
      strides[i] = 0;
    }
  }
  return strides;
}

Tensor unbroadcast(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  Tensor out = zeros(shape);
  const real* g = grad.data();
  real* o = out.data();
  for_each_broadcast<1>(grad.shape(), {broadcast_strides(shape, grad.shape())},
                        [&](int64_t i, const std::array<int64_t, 1>& at) { o[at[0]] += g[i]; });
  return out;
}

}  // namespace detail

// ---- arithmetic --------------------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_map("add", a, b, [](real x, real y) { return x + y; });
  if (should_record({&a, &b}))
    record(out, "add", {a, b}, [](BackwardContext& c) {
      // d(a+b)/da = d(a+b)/db = 1
      c.add_grad(0, unbroadcast(c.grad_output(), c.input(0).shape));
      c.add_grad(1, unbroadcast(c.grad_output(), c.input(1).shape));
    });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_map("sub", a, b, [](real x, real y) { return x - y; });
  if (should_record({&a, &b}))
    record(out, "sub", {a, b}, [](BackwardContext& c) {
      c.add_grad(0, unbroadcast(c.grad_output(), c.input(0).shape));
      if (c.needs_grad(1)) c.add_grad(1, unbroadcast(map(c.grad_output(), [](real g) { return -g; }), c.input(1).shape));
    });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_map("mul", a, b, [](real x, real y) { return x * y; });
  if (should_record({&a, &b}))
    record(out, "mul", {a, b}, [](BackwardContext& c) {
      const auto times = [](real g, real v) { return g * v; };
      // d(a*b)/da = b, d(a*b)/db = a
      if (c.needs_grad(0))
        c.add_grad(0, unbroadcast(broadcast_map("mul", c.grad_output(), as_tensor(c.input(1)), times), c.input(0).shape));
      if (c.needs_grad(1))
        c.add_grad(1, unbroadcast(broadcast_map("mul", c.grad_output(), as_tensor(c.input(0)), times), c.input(1).shape));
    });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_map("div", a, b, [](real x, real y) { return x / y; });
  if (should_record({&a, &b}))
    record(out, "div", {a, b}, [](BackwardContext& c) {
      const Tensor b_value = as_tensor(c.input(1));
      // d(a/b)/da = 1/b
      if (c.needs_grad(0))
        c.add_grad(0, unbroadcast(broadcast_map("div", c.grad_output(), b_value, [](real g, real y) { return g / y; }),
                                  c.input(0).shape));
      // d(a/b)/db = -a/b^2 = -out/b
      if (c.needs_grad(1)) {
        const Tensor g_out = map(c.grad_output(), c.output(), [](real g, real q) { return -g * q; });
        c.add_grad(1, unbroadcast(broadcast_map("div", g_out, b_value, [](real g, real y) { return g / y; }),
                                  c.input(1).shape));
      }
    });
  return out;
}

Tensor neg(const Tensor& x) {
  detail::check_defined("neg", x);
  Tensor out = map(x, [](real v) { return -v; });
  if (should_record({&x}))
    record(out, "neg", {x}, [](BackwardContext& c) { c.add_grad(0, map(c.grad_output(), [](real g) { return -g; })); });
  return out;
}

Tensor pow(const Tensor& x, real exponent) {
  detail::check_defined("pow", x);
  Tensor out = map(x, [exponent](real v) { return std::pow(v, exponent); });
  if (should_record({&x}))
    record(out, "pow", {x}, [exponent](BackwardContext& c) {
      // d(x^e)/dx = e * x^(e-1)
      c.add_grad(0, map(c.grad_output(), c.input(0),
                        [exponent](real g, real v) { return exponent == 0 ? 0 : g * exponent * std::pow(v, exponent - 1); }));
    });
  return out;
}

Tensor pow(const Tensor& base, const Tensor& exponent) {
  detail::check_defined("pow", base, exponent);
  return exp(mul(exponent, log(base)));
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, real b) { return add(a, scalar(b)); }
Tensor operator+(real a, const Tensor& b) { return add(scalar(a), b); }
Tensor operator-(const Tensor& a, real b) { return sub(a, scalar(b)); }
Tensor operator-(real a, const Tensor& b) { return sub(scalar(a), b); }
Tensor operator*(const Tensor& a, real b) { return mul(a, scalar(b)); }
Tensor operator*(real a, const Tensor& b) { return mul(scalar(a), b); }
Tensor operator/(const Tensor& a, real b) { return div(a, scalar(b)); }
Tensor operator/(real a, const Tensor& b) { return div(scalar(a), b); }

// ---- pointwise functions -------------------------------------------------------------------------
// Transcendentals go through xtensor so xsimd vectorizes them; the rest are plain loops.
namespace {
template <class F>
Tensor xt_map(const Tensor& x, F f) {
  Tensor out = empty(x.shape());
  auto dst = detail::flat(out);
  xt::noalias(dst) = f(detail::flat(x));
  return out;
}
}  // namespace

Tensor exp(const Tensor& x) {
  detail::check_defined("exp", x);
  Tensor out = xt_map(x, [](const auto& v) { return xt::exp(v); });
  if (should_record({&x}))
    record(out, "exp", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.output(), [](real g, real y) { return g * y; }));  // d e^x = e^x
    });
  return out;
}

Tensor log(const Tensor& x) {
  detail::check_defined("log", x);
  Tensor out = xt_map(x, [](const auto& v) { return xt::log(v); });
  if (should_record({&x}))
    record(out, "log", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](real g, real v) { return g / v; }));  // d log x = 1/x
    });
  return out;
}

Tensor sqrt(const Tensor& x) {
  detail::check_defined("sqrt", x);
  return pow(x, real(0.5));
}

Tensor abs(const Tensor& x) {
  detail::check_defined("abs", x);
  Tensor out = map(x, [](real v) { return std::abs(v); });
  if (should_record({&x}))
    record(out, "abs", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](real g, real v) { return v > 0 ? g : v < 0 ? -g : 0; }));
    });
  return out;
}

Tensor clamp(const Tensor& x, real min, real max) {
  detail::check_defined("clamp", x);
  detail::check(min <= max, "clamp: min {} is greater than max {}", min, max);
  Tensor out = map(x, [min, max](real v) { return v < min ? min : v > max ? max : v; });
  if (should_record({&x}))
    record(out, "clamp", {x}, [min, max](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [min, max](real g, real v) { return v >= min && v <= max ? g : 0; }));
    });
  return out;
}

Tensor tanh(const Tensor& x) {
  detail::check_defined("tanh", x);
  Tensor out = xt_map(x, [](const auto& v) { return xt::tanh(v); });
  if (should_record({&x}))
    record(out, "tanh", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.output(), [](real g, real y) { return g * (1 - y * y); }));  // 1 - tanh^2
    });
  return out;
}

Tensor sigmoid(const Tensor& x) {
  detail::check_defined("sigmoid", x);
  Tensor out = xt_map(x, [](const auto& v) { return 1 / (1 + xt::exp(-v)); });
  if (should_record({&x}))
    record(out, "sigmoid", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.output(), [](real g, real y) { return g * y * (1 - y); }));  // s(1-s)
    });
  return out;
}

Tensor relu(const Tensor& x) {
  detail::check_defined("relu", x);
  Tensor out = map(x, [](real v) { return v > 0 ? v : 0; });
  if (should_record({&x}))
    record(out, "relu", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](real g, real v) { return v > 0 ? g : 0; }));
    });
  return out;
}

Tensor clone(const Tensor& x) {
  detail::check_defined("clone", x);
  Tensor out = map(x, [](real v) { return v; });
  if (should_record({&x})) record(out, "clone", {x}, [](BackwardContext& c) { c.add_grad(0, c.grad_output()); });
  return out;
}

// ---- selection -------------------------------------------------------------------------------------
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  detail::check_defined("where", condition, a, b);
  const Shape shape =
      detail::broadcast_shapes("where", detail::broadcast_shapes("where", condition.shape(), a.shape()), b.shape());
  const std::array<detail::Strides, 3> strides{detail::broadcast_strides(condition.shape(), shape),
                                               detail::broadcast_strides(a.shape(), shape),
                                               detail::broadcast_strides(b.shape(), shape)};
  Tensor out = empty(shape);
  const real *pc = condition.data(), *pa = a.data(), *pb = b.data();
  real* po = out.data();
  detail::for_each_broadcast<3>(shape, strides, [&](int64_t o, const std::array<int64_t, 3>& at) {
    po[o] = pc[at[0]] != 0 ? pa[at[1]] : pb[at[2]];
  });
  if (should_record({&a, &b}))
    record(out, "where", {condition, a, b}, [strides](BackwardContext& c) {
      // The gradient flows to a where the condition holds and to b elsewhere.
      const Tensor& g = c.grad_output();
      const real* pc = c.input(0).data();
      Tensor ga = zeros(g.shape()), gb = zeros(g.shape());
      detail::for_each_broadcast<3>(g.shape(), strides, [&](int64_t o, const std::array<int64_t, 3>& at) {
        (pc[at[0]] != 0 ? ga : gb).data()[o] = g.data()[o];
      });
      c.add_grad(1, unbroadcast(ga, c.input(1).shape));
      c.add_grad(2, unbroadcast(gb, c.input(2).shape));
    });
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, real value) {
  detail::check_defined("masked_fill", x, mask);
  return where(mask, scalar(value), x);
}

}  // namespace unroll
