// Random numbers: a seedable Generator and the ops that draw from it.
#include <random>
#include <type_traits>

#include "unroll/framework/detail/dispatch.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;

struct Generator::Engine {
  std::mt19937_64 bits;
  std::normal_distribution<double> normal{0.0, 1.0};  // keeps its spare sample: part of the state
};

Generator::Generator(uint64_t seed) : engine_(std::make_unique<Engine>()) { this->seed(seed); }
Generator::Generator(const Generator& other) : engine_(std::make_unique<Engine>(*other.engine_)) {}
Generator& Generator::operator=(const Generator& other) {
  *engine_ = *other.engine_;
  return *this;
}
Generator::~Generator() = default;

void Generator::seed(uint64_t seed) {
  engine_->bits.seed(seed);
  engine_->normal.reset();
}

uint64_t Generator::next_u64() { return engine_->bits(); }

uint64_t Generator::below(uint64_t n) {
  check(n > 0, "Generator::below: n must be positive");
  return std::uniform_int_distribution<uint64_t>(0, n - 1)(engine_->bits);
}

float Generator::uniform(float low, float high) {
  // 53 random bits -> [0, 1); computed in double, then rounded
  const double u = static_cast<double>(engine_->bits() >> 11) * 0x1.0p-53;
  const float value = static_cast<float>(low + (static_cast<double>(high) - low) * u);
  return value < high ? value : low;  // rounding to float must not reach `high`
}

float Generator::normal() { return static_cast<float>(engine_->normal(engine_->bits)); }

double Generator::uniform_f64(double low, double high) {
  const double u = static_cast<double>(engine_->bits() >> 11) * 0x1.0p-53;
  const double value = low + (high - low) * u;
  return value < high ? value : low;
}

double Generator::normal_f64() { return engine_->normal(engine_->bits); }

Generator& default_generator() {
  thread_local Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().seed(seed); }

namespace {
// One sample in T: the float draws for float32, the double draws for float64. Both consume the engine
// alike, so a float32 and a float64 tensor drawn from the same seed agree to rounding.
template <class T>
T uniform_sample(Generator& gen, double low, double high) {
  if constexpr (std::is_same_v<T, float>)
    return gen.uniform(static_cast<float>(low), static_cast<float>(high));
  else
    return gen.uniform_f64(low, high);
}
template <class T>
T normal_sample(Generator& gen) {
  if constexpr (std::is_same_v<T, float>)
    return gen.normal();
  else
    return gen.normal_f64();
}

// A floating tensor whose elements are sample.operator()<T>() in row-major order.
template <class Sample>
Tensor sampled(const char* op, const Shape& shape, DType dtype, Sample sample) {
  Tensor t = empty(shape, dtype);
  detail::visit_floating(op, dtype, [&]<class T>() {
    T* p = t.impl()->data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = sample.template operator()<T>();
  });
  return t;
}
}  // namespace

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator& gen) {
  check(low <= high, "uniform: low {} is greater than high {}", low, high);
  return sampled("uniform", shape, dtype, [&]<class T>() { return uniform_sample<T>(gen, low, high); });
}
Tensor uniform(const Shape& shape, double low, double high, Generator& gen) {
  return uniform(shape, low, high, get_default_dtype(), gen);
}

Tensor rand(const Shape& shape, DType dtype, Generator& gen) { return uniform(shape, 0, 1, dtype, gen); }
Tensor rand(const Shape& shape, Generator& gen) { return rand(shape, get_default_dtype(), gen); }

Tensor normal(const Shape& shape, double mean, double std, DType dtype, Generator& gen) {
  check(std >= 0, "normal: std {} is negative", std);
  return sampled("normal", shape, dtype, [&]<class T>() {
    return static_cast<T>(static_cast<T>(mean) + static_cast<T>(std) * normal_sample<T>(gen));
  });
}
Tensor normal(const Shape& shape, double mean, double std, Generator& gen) {
  return normal(shape, mean, std, get_default_dtype(), gen);
}

Tensor randn(const Shape& shape, DType dtype, Generator& gen) { return normal(shape, 0, 1, dtype, gen); }
Tensor randn(const Shape& shape, Generator& gen) { return randn(shape, get_default_dtype(), gen); }

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen) {
  check(low < high, "randint: low {} must be less than high {}", low, high);
  Tensor t = empty(shape, kInt64);
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    p[i] = static_cast<int64_t>(static_cast<uint64_t>(low) + gen.below(span));
  return t;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  detail::check_defined("dropout", x);
  check(p >= 0 && p <= 1, "dropout: probability {} is outside [0, 1]", p);
  if (!training || p == 0) return x;
  // mask[i] = 1/(1-p) with probability 1-p, else 0; the gradient is mask too (mul's backward)
  const Tensor mask = sampled("dropout", x.shape(), x.dtype(), [&]<class T>() {
    const T keep_scale = p < 1 ? static_cast<T>(1 / (1 - static_cast<T>(p))) : T(0);
    return uniform_sample<T>(gen, 0, 1) >= static_cast<T>(p) ? keep_scale : T(0);
  });
  return mul(x, mask);
}

}  // namespace unroll
