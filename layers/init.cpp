// In-place initializers (torch.nn.init). Values are computed in double and rounded once to the tensor's
// floating dtype.
#include "unroll/layers/init.hpp"

#include <cmath>
#include <type_traits>
#include <vector>

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
  std::vector<double> a(rows * cols);
  for (double& v : a) v = gen.normal();
  // Factor M = A (rows >= cols) or A^T (rows < cols): M is [m, n] with m >= n, stored column-major in `q`
  // so each Householder reflection works on contiguous columns.
  const bool transposed = rows < cols;
  const int64_t m = transposed ? cols : rows, n = transposed ? rows : cols;
  std::vector<double> r(m * n);  // column j at r[j * m]
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const double v = a[i * cols + j];
      if (transposed)
        r[i * m + j] = v;  // M[j][i] = A[i][j]
      else
        r[j * m + i] = v;  // M[i][j] = A[i][j]
    }
  // Householder QR: H_{n-1} ... H_0 M = R. v_k (unit, zero above k) is kept for forming Q.
  std::vector<double> v(m * n, 0.0), diag(n, 0.0);
  for (int64_t k = 0; k < n; ++k) {
    double* x = &r[k * m];
    double norm2 = 0;
    for (int64_t i = k; i < m; ++i) norm2 += x[i] * x[i];
    const double norm = std::sqrt(norm2);
    if (norm == 0) continue;                       // a zero column (probability 0): H_k = I, R[k][k] = 0
    const double alpha = x[k] > 0 ? -norm : norm;  // reflect onto -sign(x_k) e_k: no cancellation
    double* vk = &v[k * m];
    for (int64_t i = k; i < m; ++i) vk[i] = x[i];
    vk[k] -= alpha;
    double vnorm2 = 0;
    for (int64_t i = k; i < m; ++i) vnorm2 += vk[i] * vk[i];
    const double vnorm = std::sqrt(vnorm2);
    for (int64_t i = k; i < m; ++i) vk[i] /= vnorm;
    diag[k] = alpha;
    for (int64_t j = k; j < n; ++j) {  // column j -= 2 v (v . column j)
      double* c = &r[j * m];
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += vk[i] * c[i];
      for (int64_t i = k; i < m; ++i) c[i] -= 2 * dot * vk[i];
    }
  }
  // Q = H_0 H_1 ... H_{n-1} [I_n; 0]: [m, n], column-major, built by applying the reflections in reverse.
  std::vector<double> q(m * n, 0.0);
  for (int64_t j = 0; j < n; ++j) q[j * m + j] = 1;
  for (int64_t k = n - 1; k >= 0; --k) {
    const double* vk = &v[k * m];
    for (int64_t j = k; j < n; ++j) {  // columns < k of Q are still e_j, which H_k leaves alone
      double* c = &q[j * m];
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += vk[i] * c[i];
      for (int64_t i = k; i < m; ++i) c[i] -= 2 * dot * vk[i];
    }
  }
  // torch: q *= sign(diag(r)), which makes the factorization unique (R with a positive diagonal).
  for (int64_t j = 0; j < n; ++j)
    if (diag[j] < 0)
      for (int64_t i = 0; i < m; ++i) q[j * m + i] = -q[j * m + i];
  // Write gain * Q (or gain * Q^T) back as [rows, cols], row-major.
  return fill("init::orthogonal_", tensor, [&]<class T>(int64_t at) {
    const int64_t i = at / cols, j = at % cols;
    const double value = transposed ? q[i * m + j] /* Q^T[i][j] = Q[j][i] */ : q[j * m + i];
    return gain * value;
  });
}

}  // namespace unroll::layers::init
