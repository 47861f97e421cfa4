// Random numbers: a seedable Generator and the ops that draw from it.
#include <random>

#include "unroll/framework/detail/check.hpp"
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

real Generator::uniform(real low, real high) {
  // 53 random bits -> [0, 1); computed in double, then rounded
  const double u = static_cast<double>(engine_->bits() >> 11) * 0x1.0p-53;
  const real value = static_cast<real>(low + (static_cast<double>(high) - low) * u);
  return value < high ? value : low;  // rounding to float must not reach `high`
}

real Generator::normal() { return static_cast<real>(engine_->normal(engine_->bits)); }

Generator& default_generator() {
  thread_local Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().seed(seed); }

Tensor uniform(const Shape& shape, real low, real high, Generator& gen) {
  check(low <= high, "uniform: low {} is greater than high {}", low, high);
  Tensor t = empty(shape);
  for (int64_t i = 0, n = t.numel(); i < n; ++i) t.data()[i] = gen.uniform(low, high);
  return t;
}

Tensor rand(const Shape& shape, Generator& gen) { return uniform(shape, 0, 1, gen); }

Tensor normal(const Shape& shape, real mean, real std, Generator& gen) {
  check(std >= 0, "normal: std {} is negative", std);
  Tensor t = empty(shape);
  for (int64_t i = 0, n = t.numel(); i < n; ++i) t.data()[i] = mean + std * gen.normal();
  return t;
}

Tensor randn(const Shape& shape, Generator& gen) { return normal(shape, 0, 1, gen); }

Tensor dropout(const Tensor& x, real p, bool training, Generator& gen) {
  detail::check_defined("dropout", x);
  check(p >= 0 && p <= 1, "dropout: probability {} is outside [0, 1]", p);
  if (!training || p == 0) return x;
  // mask[i] = 1/(1-p) with probability 1-p, else 0; the gradient is mask too (mul's backward)
  Tensor mask = empty(x.shape());
  const real keep_scale = p < 1 ? 1 / (1 - p) : 0;
  for (int64_t i = 0, n = mask.numel(); i < n; ++i) mask.data()[i] = gen.uniform(0, 1) >= p ? keep_scale : 0;
  return mul(x, mask);
}

}  // namespace unroll
