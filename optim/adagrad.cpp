#include "unroll/optim/adagrad.hpp"

#include <cmath>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"

namespace unroll::optim {

using detail::check;

namespace {

void validate(const AdagradOptions& o) {
  check(o.lr >= 0, "Adagrad: invalid learning rate {}", o.lr);
  check(o.lr_decay >= 0, "Adagrad: invalid lr_decay value {}", o.lr_decay);
  check(o.weight_decay >= 0, "Adagrad: invalid weight_decay value {}", o.weight_decay);
  check(o.initial_accumulator_value >= 0, "Adagrad: invalid initial_accumulator_value value {}",
        o.initial_accumulator_value);
  check(o.eps >= 0, "Adagrad: invalid epsilon value {}", o.eps);
}

}  // namespace

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& options)
    : Optimizer(std::move(params)), options_(options) {
  validate(options_);
  for (size_t i = 0; i < params_.size(); ++i) init_state(i);
}

void Adagrad::init_state(size_t i) {
  ParamState& s = mutable_state(i);
  s.initialized = true;
  s.step = 0;
  s.buffers["sum"] = full(params_[i].shape(), static_cast<real>(options_.initial_accumulator_value));
}

void Adagrad::set_lr(double lr) {
  check(lr >= 0, "Adagrad: set_lr: invalid learning rate {}", lr);
  options_.lr = lr;
}

void Adagrad::step() {
  NoGradGuard no_grad;
  const real eps = static_cast<real>(options_.eps);
  const real lambda = static_cast<real>(options_.weight_decay);
  const real sign = options_.maximize ? -1 : 1;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor grad = params_[i].grad();
    if (!grad.defined()) continue;  // no gradient this step: skipped, as in PyTorch
    if (!state(i).initialized) init_state(i);
    ParamState& s = mutable_state(i);
    const double t = static_cast<double>(++s.step);
    const real neg_clr = static_cast<real>(-(options_.lr / (1 + (t - 1) * options_.lr_decay)));  // -lr_t
    real* p = params_[i].data();
    const real* g_in = grad.data();
    real* sum = buffer(i, "sum").data();
    const int64_t n = params_[i].numel();
    for (int64_t k = 0; k < n; ++k) {
      real g = sign * g_in[k];                   // g_t (negated to maximize)
      if (lambda != 0) g = g + lambda * p[k];    // g_t <- g_t + lambda theta_{t-1}
      sum[k] = sum[k] + g * g;                   // s_t <- s_{t-1} + g_t^2
      const real std = std::sqrt(sum[k]) + eps;  // sqrt(s_t) + eps
      p[k] = p[k] + neg_clr * g / std;           // theta_t <- theta_{t-1} - lr_t g_t / (sqrt(s_t) + eps)
    }
  }
}

std::vector<Optimizer::Hyperparameter> Adagrad::hyperparameters() const {
  return {{"lr", {options_.lr}},
          {"lr_decay", {options_.lr_decay}},
          {"weight_decay", {options_.weight_decay}},
          {"initial_accumulator_value", {options_.initial_accumulator_value}},
          {"eps", {options_.eps}},
          {"maximize", {options_.maximize ? 1.0 : 0.0}}};
}

void Adagrad::set_hyperparameters(const std::map<std::string, std::vector<double>>& v) {
  AdagradOptions o;
  o.lr = v.at("lr")[0];
  o.lr_decay = v.at("lr_decay")[0];
  o.weight_decay = v.at("weight_decay")[0];
  o.initial_accumulator_value = v.at("initial_accumulator_value")[0];
  o.eps = v.at("eps")[0];
  o.maximize = v.at("maximize")[0] != 0;
  validate(o);
  options_ = o;
}

std::vector<std::string> Adagrad::buffer_names() const { return {"sum"}; }

}  // namespace unroll::optim
