// Elementwise ops: arithmetic with broadcasting, and pointwise functions.
// Each op: check arguments, compute the value, then record its backward right below.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/detail/xtensor.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::as_tensor;
using detail::broadcast_map;
using detail::map;
using detail::unbroadcast;
using detail::visit_floating;
using detail::visit_numeric;

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
  if (grad.numel() == 0) return zeros(shape, grad.dtype());
  // The summed axes (those `shape` lacks or has as 1 where grad's are longer), when no kept axis lies between
  // them, are the middle axis of grad viewed as [outer, size, inner]: xt::sum over it, evaluated immediately,
  // adds the rows in the same order as the loop below (bitwise equal) and took 0.7-1.0x its time for a bias
  // gradient ([1120, 1024] -> [1024] float32) and 0.05-0.2x for sums over the last axis or all elements
  // (bench/xtensor_vs_loops, 2026-12-02). int64 sums accumulate as uint64 so they wrap around as plus() does.
  const Shape& gs = grad.shape();
  const int lead = gs.size() - shape.size();
  const auto summed = [&](int i) { return gs[i] != 1 && (i < lead || shape[i - lead] == 1); };
  int first = -1, last = -1;
  for (int i = 0; i < gs.size(); ++i) {
    if (!summed(i)) continue;
    if (first < 0) first = i;
    last = i;
  }
  bool one_block = first >= 0;  // no kept axis longer than 1 between the first and the last summed one
  for (int i = first; one_block && i <= last; ++i) one_block = gs[i] == 1 || summed(i);
  if (one_block) {
    Tensor out = empty(shape, grad.dtype());
    int64_t outer = 1, size = 1, inner = 1;
    for (int i = 0; i < gs.size(); ++i) (i < first ? outer : i <= last ? size : inner) *= gs[i];
    visit_numeric("unbroadcast", grad.dtype(), [&]<class T>() {
      using Acc = std::conditional_t<std::is_floating_point_v<T>, T, uint64_t>;
      auto dst = view2<T>(out, outer, inner);
      xt::noalias(dst) = xt::sum<Acc>(view3<T>(grad, outer, size, inner), {1}, xt::evaluation_strategy::immediate);
    });
    return out;
  }
  Tensor out = zeros(shape, grad.dtype());
  const Strides strides = broadcast_strides(shape, grad.shape());
  visit_numeric("unbroadcast", grad.dtype(), [&]<class T>() {
    const T* g = grad.impl()->data<T>();
    T* o = out.impl()->data<T>();
    for_each_broadcast<1>(grad.shape(), {strides},
                          [&](int64_t i, const std::array<int64_t, 1>& at) { o[at[0]] = plus(o[at[0]], g[i]); });
  });
  return out;
}

namespace {
template <class Range, class Get>
DType result_type_of(const Range& operands, Get get) {
  // Operands of one dtype give that dtype whatever their categories (the common case, kept cheap: this
  // runs at every binary op).
  bool same = true;
  const DType first = get(*operands.begin()).impl()->dtype;
  for (const auto& operand : operands) same = same && get(operand).impl()->dtype == first;
  if (same) return first;
  // PyTorch's ResultTypeState: the widest dtype among dimensioned tensors, rank-0 tensors and wrapped
  // numbers; `none` marks a category without operands.
  constexpr int none = -1;
  int dims = none, zero_dim = none, wrapped = none;
  for (const auto& operand : operands) {
    const TensorImpl& impl = *get(operand).impl();
    if (impl.wrapped_number) {
      const DType d = is_floating_point(impl.dtype) ? get_default_dtype() : impl.dtype;
      wrapped = std::max(wrapped, static_cast<int>(d));
    } else if (impl.shape.size() == 0) {
      zero_dim = std::max(zero_dim, static_cast<int>(impl.dtype));
    } else {
      dims = std::max(dims, static_cast<int>(impl.dtype));
    }
  }
  // combine_categories: the higher-priority category wins unless the lower one is of a higher kind
  // (floating over integral over bool), in which case it lifts the result to the wider of the two.
  const auto combine = [](int higher, int lower) {
    if (higher == none) return lower;
    if (lower == none || is_floating_point(static_cast<DType>(higher))) return higher;
    if (higher == static_cast<int>(kBool) || is_floating_point(static_cast<DType>(lower)))
      return std::max(higher, lower);
    return higher;
  };
  return static_cast<DType>(combine(dims, combine(zero_dim, wrapped)));
}
}  // namespace

DType result_type(std::initializer_list<const Tensor*> operands) {
  return result_type_of(operands, [](const Tensor* t) -> const Tensor& { return *t; });
}
DType result_type(const std::vector<Tensor>& operands) {
  return result_type_of(operands, [](const Tensor& t) -> const Tensor& { return t; });
}

Tensor wrapped_scalar(Scalar value) {
  Tensor t = scalar(value, value.dtype());
  t.impl()->wrapped_number = true;
  return t;
}

}  // namespace detail

// ---- arithmetic --------------------------------------------------------------------------------------
// Each op computes in the operands' common dtype (result_type); the backward runs in the output's
// (floating) dtype, and the engine converts each gradient to its input's dtype.
Tensor add(const Tensor& a, const Tensor& b) {
  detail::check_defined("add", a, b);
  Tensor out = visit_dtype(detail::result_type(a, b), [&]<class T>() {
    return detail::broadcast_map_as<T>("add", a, b, [](T x, T y) { return detail::plus(x, y); });
  });
  if (should_record({&a, &b}))
    record(out, "add", {a, b}, [](BackwardContext& c) {
      // d(a+b)/da = d(a+b)/db = 1
      c.add_grad(0, unbroadcast(c.grad_output(), c.input(0).shape));
      c.add_grad(1, unbroadcast(c.grad_output(), c.input(1).shape));
    });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  detail::check_defined("sub", a, b);
  // as PyTorch: no bool operand at all (a mask minus a mask is logical_xor, one minus a mask logical_not)
  detail::check(a.dtype() != kBool || b.dtype() != kBool,
                "sub: subtraction of two bool tensors is not supported "
                "(shapes {} and {}); use logical_xor",
                a.shape(), b.shape());
  detail::check(a.dtype() != kBool && b.dtype() != kBool,
                "sub: subtraction with a bool tensor is not supported "
                "({} {} - {} {}); to invert a mask, use logical_not",
                name(a.dtype()), a.shape(), name(b.dtype()), b.shape());
  const DType dt = detail::result_type(a, b);
  Tensor out = visit_dtype(dt, [&]<class T>() {
    return detail::broadcast_map_as<T>("sub", a, b, [](T x, T y) { return detail::minus(x, y); });
  });
  if (should_record({&a, &b}))
    record(out, "sub", {a, b}, [](BackwardContext& c) {
      c.add_grad(0, unbroadcast(c.grad_output(), c.input(0).shape));
      if (c.needs_grad(1))
        c.add_grad(1, unbroadcast(map(c.grad_output(), [](auto g) { return -g; }), c.input(1).shape));
    });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  detail::check_defined("mul", a, b);
  Tensor out = visit_dtype(detail::result_type(a, b), [&]<class T>() {
    return detail::broadcast_map_as<T>("mul", a, b, [](T x, T y) { return detail::times(x, y); });
  });
  if (should_record({&a, &b}))
    record(out, "mul", {a, b}, [](BackwardContext& c) {
      const auto times = [](auto g, auto v) { return g * v; };
      // d(a*b)/da = b, d(a*b)/db = a
      if (c.needs_grad(0))
        c.add_grad(0,
                   unbroadcast(broadcast_map("mul", c.grad_output(), as_tensor(c.input(1)), times), c.input(0).shape));
      if (c.needs_grad(1))
        c.add_grad(1,
                   unbroadcast(broadcast_map("mul", c.grad_output(), as_tensor(c.input(0)), times), c.input(1).shape));
    });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  detail::check_defined("div", a, b);
  DType dt = detail::result_type(a, b);
  if (!is_floating_point(dt)) dt = get_default_dtype();  // true division, as Python's / and torch.div
  Tensor out = visit_floating(
      "div", dt, [&]<class T>() { return detail::broadcast_map_as<T>("div", a, b, [](T x, T y) { return x / y; }); });
  if (should_record({&a, &b}))
    record(out, "div", {a, b}, [](BackwardContext& c) {
      const Tensor b_value = as_tensor(c.input(1));
      // d(a/b)/da = 1/b
      if (c.needs_grad(0))
        c.add_grad(0, unbroadcast(broadcast_map("div", c.grad_output(), b_value, [](auto g, auto y) { return g / y; }),
                                  c.input(0).shape));
      // d(a/b)/db = -a/b^2 = -out/b
      if (c.needs_grad(1)) {
        const Tensor g_out = map(c.grad_output(), c.output(), [](auto g, auto q) { return -g * q; });
        c.add_grad(1, unbroadcast(broadcast_map("div", g_out, b_value, [](auto g, auto y) { return g / y; }),
                                  c.input(1).shape));
      }
    });
  return out;
}

Tensor neg(const Tensor& x) {
  detail::check_defined("neg", x);
  Tensor out = visit_numeric(
      "neg", x.dtype(), [&]<class T>() { return detail::map_as<T>(x, [](T v) { return detail::minus<T>(T(0), v); }); });
  if (should_record({&x}))
    record(out, "neg", {x}, [](BackwardContext& c) { c.add_grad(0, map(c.grad_output(), [](auto g) { return -g; })); });
  return out;
}

namespace {
// v^e for an integer exponent e >= 0 by repeated squaring, wrapping around on overflow as int64 does.
int64_t integer_power(int64_t v, int64_t e) {
  int64_t result = 1;
  while (e > 0) {
    if (e & 1) result = detail::times(result, v);
    v = detail::times(v, v);
    e >>= 1;
  }
  return result;
}
}  // namespace

Tensor pow(const Tensor& x, Scalar exponent) {
  detail::check_defined("pow", x);
  if (!x.is_floating_point() && !exponent.is_floating_point()) {  // integer power of an integer tensor
    const int64_t e = exponent.to_int64();
    detail::check(e >= 0, "pow: integers to negative integer powers are not allowed (exponent {}, tensor of shape {})",
                  e, x.shape());
    return detail::map_as<int64_t>(x, [e](int64_t v) { return integer_power(v, e); });
  }
  const DType dt = x.is_floating_point() ? x.dtype() : get_default_dtype();
  const double exp_value = exponent.to_double();
  Tensor out = visit_floating("pow", dt, [&]<class T>() {
    return detail::map_as<T>(x, [e = static_cast<T>(exp_value)](T v) { return static_cast<T>(std::pow(v, e)); });
  });
  if (should_record({&x}))
    record(out, "pow", {x}, [exp_value](BackwardContext& c) {
      // d(x^e)/dx = e * x^(e-1)
      c.add_grad(0, map(c.grad_output(), c.input(0), [exp_value](auto g, auto v) {
                   using T = decltype(g);
                   const T e = static_cast<T>(exp_value);
                   return e == 0 ? T(0) : static_cast<T>(g * e * std::pow(v, e - 1));
                 }));
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
Tensor operator+(const Tensor& a, Scalar b) { return add(a, detail::wrapped_scalar(b)); }
Tensor operator+(Scalar a, const Tensor& b) { return add(detail::wrapped_scalar(a), b); }
Tensor operator-(const Tensor& a, Scalar b) { return sub(a, detail::wrapped_scalar(b)); }
Tensor operator-(Scalar a, const Tensor& b) { return sub(detail::wrapped_scalar(a), b); }
Tensor operator*(const Tensor& a, Scalar b) { return mul(a, detail::wrapped_scalar(b)); }
Tensor operator*(Scalar a, const Tensor& b) { return mul(detail::wrapped_scalar(a), b); }
Tensor operator/(const Tensor& a, Scalar b) { return div(a, detail::wrapped_scalar(b)); }
Tensor operator/(Scalar a, const Tensor& b) { return div(detail::wrapped_scalar(a), b); }

// ---- pointwise functions -------------------------------------------------------------------------
// Transcendentals go through xtensor so xsimd vectorizes them; the rest are plain loops. They compute in
// a floating dtype: an int64 or bool input is converted to the default dtype first, as PyTorch does.
namespace {
Tensor as_floating(const Tensor& x) { return x.is_floating_point() ? x : detail::cast(x, get_default_dtype()); }

template <class F>
Tensor xt_map(const char* op, const Tensor& x_in, F f) {
  Tensor converted;
  const Tensor& x = x_in.is_floating_point() ? x_in : (converted = as_floating(x_in));
  return visit_floating(op, x.dtype(), [&]<class T>() {
    Tensor out = empty(x.shape(), x.dtype());
    auto dst = detail::flat<T>(out);
    xt::noalias(dst) = f(detail::flat<T>(x));
    return out;
  });
}
}  // namespace

Tensor exp(const Tensor& x) {
  detail::check_defined("exp", x);
  Tensor out = xt_map("exp", x, [](const auto& v) { return xt::exp(v); });
  if (should_record({&x}))
    record(out, "exp", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.output(), [](auto g, auto y) { return g * y; }));  // d e^x = e^x
    });
  return out;
}

Tensor log(const Tensor& x) {
  detail::check_defined("log", x);
  Tensor out = xt_map("log", x, [](const auto& v) { return xt::log(v); });
  if (should_record({&x}))
    record(out, "log", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](auto g, auto v) { return g / v; }));  // d log x = 1/x
    });
  return out;
}

Tensor sqrt(const Tensor& x) {
  detail::check_defined("sqrt", x);
  return pow(x, 0.5);
}

Tensor abs(const Tensor& x) {
  detail::check_defined("abs", x);
  Tensor out = visit_numeric("abs", x.dtype(), [&]<class T>() {
    return detail::map_as<T>(x, [](T v) { return v < 0 ? detail::minus<T>(T(0), v) : v; });
  });
  if (should_record({&x}))
    record(out, "abs", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](auto g, auto v) { return v > 0 ? g : v < 0 ? -g : 0 * g; }));
    });
  return out;
}

Tensor clamp(const Tensor& x, Scalar min, Scalar max) {
  detail::check_defined("clamp", x);
  detail::check(!(min.to_double() > max.to_double()), "clamp: min {} is greater than max {}", min.to_double(),
                max.to_double());
  const Tensor lo = detail::wrapped_scalar(min), hi = detail::wrapped_scalar(max);
  const DType dt = detail::result_type({&x, &lo, &hi});
  const Tensor values = detail::cast(x, dt);
  Tensor out = empty(x.shape(), dt);
  visit_numeric("clamp", dt, [&]<class T>() {
    // xt::clip is v < lo ? lo : (hi < v ? hi : v), NaN staying NaN, as the loop it replaced, which took 1.2-2x
    // its time on [32, 1024] float32 (bench/xtensor_vs_loops, 2026-12-02)
    auto dst = detail::flat<T>(out);
    xt::noalias(dst) = xt::clip(detail::flat<T>(values), detail::scalar_as<T>(min), detail::scalar_as<T>(max));
  });
  if (should_record({&x}))
    record(out, "clamp", {x}, [lo = min.to_double(), hi = max.to_double()](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0),
                        [lo, hi](auto g, auto v) { return v >= lo && v <= hi ? g : decltype(g)(0); }));
    });
  return out;
}

Tensor tanh(const Tensor& x) {
  detail::check_defined("tanh", x);
  Tensor out = xt_map("tanh", x, [](const auto& v) { return xt::tanh(v); });
  if (should_record({&x}))
    record(out, "tanh", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.output(), [](auto g, auto y) { return g * (1 - y * y); }));  // 1 - tanh^2
    });
  return out;
}

Tensor sigmoid(const Tensor& x) {
  detail::check_defined("sigmoid", x);
  Tensor out = xt_map("sigmoid", x, [](const auto& v) { return 1 / (1 + xt::exp(-v)); });
  if (should_record({&x}))
    record(out, "sigmoid", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.output(), [](auto g, auto y) { return g * y * (1 - y); }));  // s(1-s)
    });
  return out;
}

Tensor relu(const Tensor& x) {
  detail::check_defined("relu", x);
  // As PyTorch: NaN stays NaN (and passes its gradient on), -0 stays -0 (with gradient 0).
  Tensor out = visit_numeric("relu", x.dtype(),
                             [&]<class T>() { return detail::map_as<T>(x, [](T v) { return v < 0 ? T(0) : v; }); });
  if (should_record({&x}))
    record(out, "relu", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](auto g, auto v) { return v <= 0 ? decltype(g)(0) : g; }));
    });
  return out;
}

Tensor clone(const Tensor& x) {
  detail::check_defined("clone", x);
  Tensor out = empty(x.shape(), x.dtype());
  std::memcpy(out.data_ptr(), x.data_ptr(), static_cast<size_t>(x.numel() * x.element_size()));
  if (should_record({&x})) record(out, "clone", {x}, [](BackwardContext& c) { c.add_grad(0, c.grad_output()); });
  return out;
}

Tensor log1p(const Tensor& x) {
  detail::check_defined("log1p", x);
  Tensor out = xt_map("log1p", x, [](const auto& v) { return xt::log1p(v); });
  if (should_record({&x}))
    record(out, "log1p", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](auto g, auto v) { return g / (1 + v); }));  // 1 / (1 + x)
    });
  return out;
}

Tensor expm1(const Tensor& x) {
  detail::check_defined("expm1", x);
  Tensor out = xt_map("expm1", x, [](const auto& v) { return xt::expm1(v); });
  if (should_record({&x}))
    record(out, "expm1", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.output(), [](auto g, auto y) { return g * (y + 1); }));  // e^x = y + 1
    });
  return out;
}

Tensor sin(const Tensor& x) {
  detail::check_defined("sin", x);
  Tensor out = xt_map("sin", x, [](const auto& v) { return xt::sin(v); });
  if (should_record({&x}))
    record(out, "sin", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](auto g, auto v) { return g * std::cos(v); }));
    });
  return out;
}

Tensor cos(const Tensor& x) {
  detail::check_defined("cos", x);
  Tensor out = xt_map("cos", x, [](const auto& v) { return xt::cos(v); });
  if (should_record({&x}))
    record(out, "cos", {x}, [](BackwardContext& c) {
      c.add_grad(0, map(c.grad_output(), c.input(0), [](auto g, auto v) { return -g * std::sin(v); }));
    });
  return out;
}

// ---- rounding: piecewise constant, so the gradient is 0 (recorded all the same, as PyTorch does, so the
// result requires grad and a backward through it reaches x with zeros) -----------------------------------
namespace {
// f applied to every element (floor, ceil and round leave integers as they are: integers_unchanged).
template <class F>
Tensor rounding(const char* op, const Tensor& x, bool integers_unchanged, F f) {
  detail::check_defined(op, x);
  Tensor out = visit_numeric(op, x.dtype(), [&]<class T>() {
    if (!std::is_floating_point_v<T> && integers_unchanged) return clone(x.detach());
    return detail::map_as<T>(x, [&f](T v) { return static_cast<T>(f(v)); });
  });
  if (should_record({&x})) record(out, op, {x}, [](BackwardContext& c) { c.add_grad(0, zeros_like(c.grad_output())); });
  return out;
}
}  // namespace

Tensor floor(const Tensor& x) {
  return rounding("floor", x, true, [](auto v) { return std::floor(v); });
}
Tensor ceil(const Tensor& x) {
  return rounding("ceil", x, true, [](auto v) { return std::ceil(v); });
}
Tensor round(const Tensor& x) {
  return rounding("round", x, true, [](auto v) { return std::nearbyint(v); });  // half to even (default rounding mode)
}

Tensor sign(const Tensor& x) {
  detail::check_defined("sign", x);
  if (x.dtype() == kBool) return clone(x.detach());  // as PyTorch: a bool is its own sign
  return rounding("sign", x, false, [](auto v) { return v > 0 ? 1 : v < 0 ? -1 : 0; });
}

// ---- maximum / minimum ---------------------------------------------------------------------------------
namespace {
// maximum (kMax) or minimum of a and b elementwise, in their common dtype; a NaN on either side wins.
template <bool kMax>
Tensor extremum(const char* op, const Tensor& a, const Tensor& b) {
  detail::check_defined(op, a, b);
  Tensor out = visit_dtype(detail::result_type(a, b), [&]<class T>() {
    return detail::broadcast_map_as<T>(op, a, b, [](T x, T y) {
      if constexpr (std::is_floating_point_v<T>)
        if (std::isnan(x)) return x;
      return (kMax ? x > y : x < y) || x == y ? x : y;  // y when it beats x or is NaN
    });
  });
  if (should_record({&a, &b})) {
    const Shape& shape = out.shape();
    const std::array<detail::Strides, 2> strides{detail::broadcast_strides(a.shape(), shape),
                                                 detail::broadcast_strides(b.shape(), shape)};
    record(out, op, {a, b}, [strides](BackwardContext& c) {
      // PyTorch's formula: where(a == b, g / 2, g), zeroed for the operand that lost (a < b for maximum)
      const Tensor& g = c.grad_output();
      Tensor ga = zeros_like(g), gb = zeros_like(g);
      visit_floating(kMax ? "maximum backward" : "minimum backward", g.dtype(), [&]<class T>() {
        Tensor hold_a, hold_b;
        const T* pa = detail::values_as<T>(detail::as_tensor(c.input(0)), hold_a);
        const T* pb = detail::values_as<T>(detail::as_tensor(c.input(1)), hold_b);
        const T* pg = g.impl()->data<T>();
        T *pga = ga.impl()->data<T>(), *pgb = gb.impl()->data<T>();
        detail::for_each_broadcast<2>(g.shape(), strides, [&](int64_t o, const std::array<int64_t, 2>& at) {
          const T x = pa[at[0]], y = pb[at[1]];
          const T share = x == y ? pg[o] / 2 : pg[o];
          pga[o] = (kMax ? x < y : x > y) ? T(0) : share;
          pgb[o] = (kMax ? x > y : x < y) ? T(0) : share;
        });
      });
      c.add_grad(0, unbroadcast(ga, c.input(0).shape));
      c.add_grad(1, unbroadcast(gb, c.input(1).shape));
    });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum<true>("maximum", a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum<false>("minimum", a, b); }

// ---- selection -------------------------------------------------------------------------------------
// A loop over for_each_broadcast rather than xt::where over adapted buffers: with a row mask, where([32, 1],
// [32, 1024], [32, 1024]) float32, xt::where took 1.1-1.75x its time (bench/xtensor_vs_loops, 2026-12-02).
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  detail::check_defined("where", condition, a, b);
  detail::check(condition.dtype() == kBool,
                "where: the condition must be a bool tensor, got {} (shape {}); compare first, e.g. ne(mask, 0)",
                name(condition.dtype()), condition.shape());
  const Shape shape =
      detail::broadcast_shapes("where", detail::broadcast_shapes("where", condition.shape(), a.shape()), b.shape());
  const std::array<detail::Strides, 3> strides{detail::broadcast_strides(condition.shape(), shape),
                                               detail::broadcast_strides(a.shape(), shape),
                                               detail::broadcast_strides(b.shape(), shape)};
  const DType dt = detail::result_type(a, b);
  Tensor out = empty(shape, dt);
  visit_dtype(dt, [&]<class T>() {
    Tensor hold_a, hold_b;
    const bool* pc = condition.impl()->data<bool>();
    const T* pa = detail::values_as<T>(a, hold_a);
    const T* pb = detail::values_as<T>(b, hold_b);
    T* po = out.impl()->data<T>();
    detail::for_each_broadcast<3>(shape, strides, [&](int64_t o, const std::array<int64_t, 3>& at) {
      po[o] = pc[at[0]] ? pa[at[1]] : pb[at[2]];
    });
  });
  if (should_record({&a, &b}))
    record(out, "where", {condition, a, b}, [strides](BackwardContext& c) {
      // The gradient flows to a where the condition holds and to b elsewhere.
      const Tensor& g = c.grad_output();
      const bool* pc = c.input(0).data<bool>();
      Tensor ga = zeros_like(g), gb = zeros_like(g);
      visit_floating("where backward", g.dtype(), [&]<class T>() {
        const T* pg = g.impl()->data<T>();
        T *pa = ga.impl()->data<T>(), *pb = gb.impl()->data<T>();
        detail::for_each_broadcast<3>(
            g.shape(), strides, [&](int64_t o, const std::array<int64_t, 3>& at) { (pc[at[0]] ? pa : pb)[o] = pg[o]; });
      });
      c.add_grad(1, unbroadcast(ga, c.input(1).shape));
      c.add_grad(2, unbroadcast(gb, c.input(2).shape));
    });
  return out;
}

Tensor where(const Tensor& condition, const Tensor& a, Scalar b) {
  return where(condition, a, detail::wrapped_scalar(b));
}
Tensor where(const Tensor& condition, Scalar a, const Tensor& b) {
  return where(condition, detail::wrapped_scalar(a), b);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  detail::check_defined("masked_fill", x, mask);
  detail::check(mask.dtype() == kBool,
                "masked_fill: the mask must be a bool tensor, got {} (mask shape {}, x shape {})", name(mask.dtype()),
                mask.shape(), x.shape());
  return where(mask, scalar(value, x.dtype()), x);  // a rank-0 tensor of x's dtype keeps x's dtype
}

}  // namespace unroll
