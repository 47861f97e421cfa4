#include "unroll/optim/rmsprop.hpp"

#include <cmath>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/dispatch.hpp"
#include "unroll/optim/detail/state.hpp"

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
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor grad = params_[i].grad();
    if (!grad.defined()) continue;  // no gradient this step: skipped, as in PyTorch
    ParamState& s = mutable_state(i);
    s.initialized = true;
    ++s.step;
    // the update in the parameter's dtype T (float32 or float64)
    unroll::detail::visit_floating("RMSprop", params_[i].dtype(), [&]<class T>() {
      const T lr = static_cast<T>(options_.lr);
      const T neg_lr = static_cast<T>(-options_.lr);
      const T alpha = static_cast<T>(options_.alpha), one_minus_alpha = static_cast<T>(1 - options_.alpha);
      const T eps = static_cast<T>(options_.eps);
      const T lambda = static_cast<T>(options_.weight_decay);
      const T mu = static_cast<T>(options_.momentum);
      const T sign = options_.maximize ? -1 : 1;
      T* p = params_[i].data<T>();
      const T* g_in = grad.data<T>();
      T* v = buffer(i, "square_avg").data<T>();
      T* a = options_.centered ? buffer(i, "grad_avg").data<T>() : nullptr;
      T* b = options_.momentum > 0 ? buffer(i, "momentum_buffer").data<T>() : nullptr;
      const int64_t n = params_[i].numel();
      for (int64_t k = 0; k < n; ++k) {
        T g = sign * g_in[k];                                        // g_t (negated to maximize)
        if (lambda != 0) g = g + lambda * p[k];                      // g_t <- g_t + lambda theta_{t-1}
        v[k] = alpha * v[k] + one_minus_alpha * (g * g);             // v_t <- alpha v_{t-1} + (1 - alpha) g_t^2
        if (a) a[k] = alpha * a[k] + one_minus_alpha * g;            // a_t <- alpha a_{t-1} + (1 - alpha) g_t
        const T d = std::sqrt(a ? v[k] - a[k] * a[k] : v[k]) + eps;  // d_t <- sqrt(v_t [- a_t^2]) + eps
        if (b) b[k] = mu * b[k] + g / d;                             // b_t <- mu b_{t-1} + g_t / d_t
        p[k] = b ? p[k] - lr * b[k] : p[k] + neg_lr * g / d;  // theta_t <- theta_{t-1} - lr b_t  (or - lr g_t / d_t)
      }
    });
  }
}

std::vector<Optimizer::Hyperparameter> RMSprop::hyperparameters() const {
  using namespace unroll::detail;
  return {{"lr", state_real(options_.lr)},
          {"alpha", state_real(options_.alpha)},
          {"eps", state_real(options_.eps)},
          {"weight_decay", state_real(options_.weight_decay)},
          {"momentum", state_real(options_.momentum)},
          {"centered", state_flag(options_.centered)},
          {"maximize", state_flag(options_.maximize)}};
}

void RMSprop::set_hyperparameters(const StateDict& v) {
  RMSpropOptions o;
  o.lr = v.at("lr").item<double>();
  o.alpha = v.at("alpha").item<double>();
  o.eps = v.at("eps").item<double>();
  o.weight_decay = v.at("weight_decay").item<double>();
  o.momentum = v.at("momentum").item<double>();
  o.centered = v.at("centered").item<bool>();
  o.maximize = v.at("maximize").item<bool>();
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
