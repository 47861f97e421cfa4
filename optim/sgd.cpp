#include "unroll/optim/sgd.hpp"

#include <cstring>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/dispatch.hpp"
#include "unroll/framework/detail/xtensor.hpp"
#include "unroll/optim/detail/state.hpp"
#include "unroll/optim/detail/update.hpp"

namespace unroll::optim {

using detail::check;

namespace {

void validate(const SGDOptions& o) {
  check(o.lr >= 0, "SGD: lr is required and must be >= 0, got {}", o.lr);
  check(o.momentum >= 0, "SGD: invalid momentum {} (must be >= 0)", o.momentum);
  check(o.weight_decay >= 0, "SGD: invalid weight_decay {} (must be >= 0)", o.weight_decay);
  check(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
        "SGD: nesterov momentum requires momentum > 0 and dampening == 0 (got momentum {}, dampening {})", o.momentum,
        o.dampening);
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options) : Optimizer(std::move(params)), options_(options) {
  validate(options_);
}

void SGD::set_lr(double lr) {
  check(lr >= 0, "SGD: set_lr: invalid learning rate {}", lr);
  options_.lr = lr;
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor grad = params_[i].grad();
    if (!grad.defined()) continue;  // no gradient this step: skipped, as in PyTorch
    ParamState& s = mutable_state(i);
    const bool first = s.buffers.count("momentum_buffer") == 0;  // PyTorch: buffer is None
    s.initialized = true;
    ++s.step;
    // the update in the parameter's dtype T (float32 or float64), as xtensor expressions over the buffers: one
    // pass each, 0.25x the time of the fused scalar loop they replaced on 1M floats (which the compiler did not
    // vectorize), same bits (bench/xtensor_vs_loops, 2026-12-02)
    unroll::detail::visit_floating("SGD", params_[i].dtype(), [&]<class T>() {
      const T lr = static_cast<T>(options_.lr);
      const T mu = static_cast<T>(options_.momentum);
      const T one_minus_tau = static_cast<T>(1 - options_.dampening);
      const T lambda = static_cast<T>(options_.weight_decay);
      const T sign = options_.maximize ? -1 : 1;
      auto p = unroll::detail::flat<T>(params_[i]);
      // g_t <- g_t (negated to maximize) + lambda theta_{t-1}
      const Tensor g_t = unroll::detail::regularized_gradient<T>(grad, params_[i], sign, lambda);
      const auto g = unroll::detail::flat<T>(g_t);
      if (options_.momentum == 0) {
        xt::noalias(p) = p - lr * g;  // theta_t <- theta_{t-1} - lr g_t
        return;
      }
      auto b = unroll::detail::flat<T>(buffer(i, "momentum_buffer"));
      if (first)
        xt::noalias(b) = g;  // b_1 <- g_1
      else
        xt::noalias(b) = mu * b + one_minus_tau * g;  // b_t <- mu b_{t-1} + (1 - tau) g_t
      if (options_.nesterov)
        xt::noalias(p) = p - lr * (g + mu * b);  // theta_t <- theta_{t-1} - lr (g_t + mu b_t)
      else
        xt::noalias(p) = p - lr * b;  // theta_t <- theta_{t-1} - lr b_t
    });
  }
}

std::vector<Optimizer::Hyperparameter> SGD::hyperparameters() const {
  using namespace unroll::detail;
  return {{"lr", state_real(options_.lr)},
          {"momentum", state_real(options_.momentum)},
          {"dampening", state_real(options_.dampening)},
          {"weight_decay", state_real(options_.weight_decay)},
          {"nesterov", state_flag(options_.nesterov)},
          {"maximize", state_flag(options_.maximize)}};
}

void SGD::set_hyperparameters(const StateDict& v) {
  SGDOptions o;
  o.lr = v.at("lr").item<double>();
  o.momentum = v.at("momentum").item<double>();
  o.dampening = v.at("dampening").item<double>();
  o.weight_decay = v.at("weight_decay").item<double>();
  o.nesterov = v.at("nesterov").item<bool>();
  o.maximize = v.at("maximize").item<bool>();
  validate(o);
  options_ = o;
}

std::vector<std::string> SGD::buffer_names() const {
  if (options_.momentum != 0) return {"momentum_buffer"};
  return {};
}

}  // namespace unroll::optim
