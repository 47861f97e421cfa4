#include "unroll/optim/rmsprop.hpp"

#include <cmath>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"

namespace unroll::optim {

using detail::check;

namespace {

void validate(const RMSpropOptions& o) {
  check(o.lr >= 0, "RMSprop: invalid learning rate {}", o.lr);
  check(o.eps >= 0, "RMSprop: invalid epsilon value {}", o.eps);
  check(o.momentum >= 0, "RMSprop: invalid momentum value {}", o.momentum);
  check(o.weight_decay >= 0, "RMSprop: invalid weight_decay value {}", o.weight_decay);
  check(o.alpha >= 0, "RMSprop: invalid alpha value {}", o.alpha);
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : Optimizer(std::move(params)), options_(options) {
  validate(options_);
}

void RMSprop::set_lr(double lr) {
  check(lr >= 0, "RMSprop: set_lr: invalid learning rate {}", lr);
  options_.lr = lr;
}

void RMSprop::step() {
  NoGradGuard no_grad;
  const real lr = static_cast<real>(options_.lr);
  const real neg_lr = static_cast<real>(-options_.lr);
  const real alpha = static_cast<real>(options_.alpha), one_minus_alpha = static_cast<real>(1 - options_.alpha);
  const real eps = static_cast<real>(options_.eps);
  const real lambda = static_cast<real>(options_.weight_decay);
  const real mu = static_cast<real>(options_.momentum);
  const real sign = options_.maximize ? -1 : 1;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor grad = params_[i].grad();
    if (!grad.defined()) continue;  // no gradient this step: skipped, as in PyTorch
    ParamState& s = mutable_state(i);
    s.initialized = true;
    ++s.step;
    real* p = params_[i].data();
    const real* g_in = grad.data();
    real* v = buffer(i, "square_avg").data();
    real* a = options_.centered ? buffer(i, "grad_avg").data() : nullptr;
    real* b = options_.momentum > 0 ? buffer(i, "momentum_buffer").data() : nullptr;
    const int64_t n = params_[i].numel();
    for (int64_t k = 0; k < n; ++k) {
      real g = sign * g_in[k];                                        // g_t (negated to maximize)
      if (lambda != 0) g = g + lambda * p[k];                         // g_t <- g_t + lambda theta_{t-1}
      v[k] = alpha * v[k] + one_minus_alpha * (g * g);                // v_t <- alpha v_{t-1} + (1 - alpha) g_t^2
      if (a) a[k] = alpha * a[k] + one_minus_alpha * g;               // a_t <- alpha a_{t-1} + (1 - alpha) g_t
      const real d = std::sqrt(a ? v[k] - a[k] * a[k] : v[k]) + eps;  // d_t <- sqrt(v_t [- a_t^2]) + eps
      if (b) b[k] = mu * b[k] + g / d;                                // b_t <- mu b_{t-1} + g_t / d_t
      p[k] = b ? p[k] - lr * b[k] : p[k] + neg_lr * g / d;  // theta_t <- theta_{t-1} - lr b_t  (or - lr g_t / d_t)
    }
  }
}

std::vector<Optimizer::Hyperparameter> RMSprop::hyperparameters() const {
  return {{"lr", {options_.lr}},
          {"alpha", {options_.alpha}},
          {"eps", {options_.eps}},
          {"weight_decay", {options_.weight_decay}},
          {"momentum", {options_.momentum}},
          {"centered", {options_.centered ? 1.0 : 0.0}},
          {"maximize", {options_.maximize ? 1.0 : 0.0}}};
}

void RMSprop::set_hyperparameters(const std::map<std::string, std::vector<double>>& v) {
  RMSpropOptions o;
  o.lr = v.at("lr")[0];
  o.alpha = v.at("alpha")[0];
  o.eps = v.at("eps")[0];
  o.weight_decay = v.at("weight_decay")[0];
  o.momentum = v.at("momentum")[0];
  o.centered = v.at("centered")[0] != 0;
  o.maximize = v.at("maximize")[0] != 0;
  validate(o);
  options_ = o;
}

std::vector<std::string> RMSprop::buffer_names() const {
  std::vector<std::string> names = {"square_avg"};
  if (options_.momentum > 0) names.push_back("momentum_buffer");
  if (options_.centered) names.push_back("grad_avg");
  return names;
}

}  // namespace unroll::optim
