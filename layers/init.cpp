// In-place initializers (torch.nn.init). Values are computed in double and rounded once to the tensor's
// floating dtype.
#include "unroll/layers/init.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/dispatch.hpp"

namespace unroll::layers::init {

using detail::check;

namespace {

void check_defined(const char* op, const Tensor& t) { check(t.defined(), "init::{}: the tensor is undefined", op); }

Fans fans(const char* op, const Tensor& t) {
  check_defined(op, t);
  check(t.dim() >= 2,
        "init::{}: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, got shape {}", op,
        t.shape());
  int64_t receptive = 1;
  for (int i = 2; i < t.dim(); ++i) receptive *= t.shape()[i];
  return {t.shape()[1] * receptive, t.shape()[0] * receptive};
}

int64_t fan_for_mode(const char* op, const Tensor& t, std::string_view mode) {
  check(mode == "fan_in" || mode == "fan_out", "init::{}: mode '{}' must be 'fan_in' or 'fan_out'", op, mode);
  const Fans f = fans(op, t);
  return mode == "fan_in" ? f.fan_in : f.fan_out;
}

// t[i] = value(i) for every element in row-major order, rounded to t's floating dtype T; value is called as
// value.template operator()<T>(i).
template <class Value>
Tensor& fill(const char* op, Tensor& t, Value value) {
  NoGradGuard no_grad;
  unroll::detail::visit_floating(op, t.dtype(), [&]<class T>() {
    T* p = t.impl()->data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(value.template operator()<T>(i));
  });
  return t;
}

// The uniform and normal fills behind every random initializer; the same draws as unroll::uniform/normal
// (float draws for float32, double draws for float64).
Tensor fill_uniform(const char* op, Tensor& t, double a, double b, Generator& gen) {
  return fill(op, t, [&]<class T>(int64_t) -> T {
    if constexpr (std::is_same_v<T, float>)
      return gen.uniform(static_cast<float>(a), static_cast<float>(b));
    else
      return gen.uniform_f64(a, b);
  });
}

Tensor fill_normal(const char* op, Tensor& t, double mean, double std, Generator& gen) {
  return fill(op, t, [&]<class T>(int64_t) -> double {
    if constexpr (std::is_same_v<T, float>)
      return mean + std * gen.normal();
    else
      return mean + std * gen.normal_f64();
  });
}

}  // namespace

double calculate_gain(std::string_view nonlinearity, double param) {
  const std::string_view unit_gain[] = {"linear",           "conv1d",           "conv2d",           "conv3d",
                                        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"};
  for (std::string_view name : unit_gain)
    if (nonlinearity == name) return 1;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  throw Error(
      fmt::format("init::calculate_gain: unsupported nonlinearity '{}' (expected linear, conv1d, conv2d, conv3d, "
                  "conv_transpose1d, conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, leaky_relu or selu)",
                  nonlinearity));
}

Fans calculate_fan_in_and_fan_out(const Tensor& tensor) { return fans("calculate_fan_in_and_fan_out", tensor); }

Tensor uniform_(Tensor tensor, double a, double b, Generator& gen) {
  check_defined("uniform_", tensor);
  check(a <= b, "init::uniform_: a = {} is greater than b = {} (shape {})", a, b, tensor.shape());
  return fill_uniform("init::uniform_", tensor, a, b, gen);
}

Tensor normal_(Tensor tensor, double mean, double std, Generator& gen) {
  check_defined("normal_", tensor);
  check(std >= 0, "init::normal_: std = {} is negative (shape {})", std, tensor.shape());
  return fill_normal("init::normal_", tensor, mean, std, gen);
}

Tensor constant_(Tensor tensor, double value) {
  check_defined("constant_", tensor);
  return fill("init::constant_", tensor, [value]<class T>(int64_t) { return value; });
}

Tensor zeros_(Tensor tensor) {
  check_defined("zeros_", tensor);
  return constant_(tensor, 0);
}

Tensor ones_(Tensor tensor) {
  check_defined("ones_", tensor);
  return constant_(tensor, 1);
}

Tensor eye_(Tensor tensor) {
  check_defined("eye_", tensor);
  check(tensor.dim() == 2, "init::eye_: expected a 2-D tensor, got shape {}", tensor.shape());
  const int64_t cols = tensor.shape()[1];
  return fill("init::eye_", tensor, [cols]<class T>(int64_t i) { return i / cols == i % cols ? 1.0 : 0.0; });
}

Tensor xavier_uniform_(Tensor tensor, double gain, Generator& gen) {
  const Fans f = fans("xavier_uniform_", tensor);
  if (tensor.numel() == 0) return tensor;
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  return fill_uniform("init", tensor, -bound, bound, gen);
}

Tensor xavier_normal_(Tensor tensor, double gain, Generator& gen) {
  const Fans f = fans("xavier_normal_", tensor);
  if (tensor.numel() == 0) return tensor;
  const double std = gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
  return fill_normal("init", tensor, 0, std, gen);
}

Tensor kaiming_uniform_(Tensor tensor, double a, std::string_view mode, std::string_view nonlinearity, Generator& gen) {
  const int64_t fan = fan_for_mode("kaiming_uniform_", tensor, mode);
  const double gain = calculate_gain(nonlinearity, a);
  if (tensor.numel() == 0) return tensor;  // PyTorch: a no-op (fan may be 0 here)
  const double bound = std::sqrt(3.0) * gain / std::sqrt(static_cast<double>(fan));
  return fill_uniform("init", tensor, -bound, bound, gen);
}

Tensor kaiming_normal_(Tensor tensor, double a, std::string_view mode, std::string_view nonlinearity, Generator& gen) {
  const int64_t fan = fan_for_mode("kaiming_normal_", tensor, mode);
  const double gain = calculate_gain(nonlinearity, a);
  if (tensor.numel() == 0) return tensor;
  return fill_normal("init", tensor, 0, gain / std::sqrt(static_cast<double>(fan)), gen);
}

Tensor orthogonal_(Tensor tensor, double gain, Generator& gen) {
  check_defined("orthogonal_", tensor);
  check(tensor.dim() >= 2, "init::orthogonal_: only tensors with 2 or more dimensions are supported, got shape {}",
        tensor.shape());
  if (tensor.numel() == 0) return tensor;
  const int64_t rows = tensor.shape()[0], cols = tensor.numel() / rows;
  // A: [rows, cols] ~ N(0, 1), drawn in row-major order like torch's flattened.normal_(0, 1).
  xt::xtensor<double, 2> a = xt::empty<double>({rows, cols});
  for (double& v : a) v = gen.normal();
  // As torch: factor M = A (rows >= cols) or A^T (rows < cols), so M is [m, n] with m >= n, with LAPACK's
  // Householder QR (dgeqrf + dorgqr, through xtensor-blas; OpenBLAS carries LAPACK, so no other library is
  // loaded). The copies xt::linalg::qr makes cost nothing next to training: this runs once per weight.
  const bool transposed = rows < cols;
  check(std::max(rows, cols) <= std::numeric_limits<int>::max(),
        "init::orthogonal_: shape {} viewed as [{}, {}] is too large for LAPACK's 32-bit sizes", tensor.shape(), rows,
        cols);
  auto [q, r] = transposed ? xt::linalg::qr(xt::transpose(a)) : xt::linalg::qr(a);  // q [m, n], r [n, n]
  // torch: q *= sign(diag(r)), which makes the factorization unique (R with a positive diagonal).
  const auto n = static_cast<std::ptrdiff_t>(q.shape()[1]);
  for (std::ptrdiff_t j = 0; j < n; ++j)
    if (r(j, j) < 0) xt::view(q, xt::all(), j) *= -1.0;
  // Write gain * Q (or gain * Q^T) back as [rows, cols], row-major.
  return fill("init::orthogonal_", tensor, [&]<class T>(int64_t at) {
    const std::size_t i = static_cast<std::size_t>(at / cols), j = static_cast<std::size_t>(at % cols);
    return gain * (transposed ? q(j, i) /* Q^T[i][j] = Q[j][i] */ : q(i, j));
  });
}

}  // namespace unroll::layers::init
