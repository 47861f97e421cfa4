// unroll/optim/rmsprop.hpp: RMSprop with optional momentum and centering (PyTorch's torch.optim.RMSprop).
//
//   optim::RMSprop opt(model.parameters(), {.lr = 1e-3, .momentum = 0.9, .centered = true});
//
// For each parameter p with gradient g:
//   g <- g + lambda p                       if lambda != 0
//   v <- alpha v + (1 - alpha) g^2          running mean of squared gradients
//   a <- alpha a + (1 - alpha) g            centered only: running mean of gradients
//   d <- sqrt(v - a^2) + eps                centered;  d <- sqrt(v) + eps  otherwise
//   b <- mu b + g / d;  p <- p - lr b       if mu (momentum) > 0
//   p <- p - lr g / d                       otherwise
#pragma once

#include "unroll/optim/optimizer.hpp"

namespace unroll::optim {

struct RMSpropOptions {
  double lr = 1e-2;         // learning rate
  double alpha = 0.99;      // smoothing constant of the running means
  double eps = 1e-8;        // added to the denominator for numerical stability
  double weight_decay = 0;  // lambda: L2 penalty added to the gradient
  double momentum = 0;      // mu: 0 disables the momentum buffer
  bool centered = false;    // normalize by an estimate of the gradient's variance instead of its 2nd moment
  bool maximize = false;    // ascend instead of descend
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});

  void step() override;
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  std::string name() const override { return "RMSprop"; }
  const RMSpropOptions& options() const { return options_; }

 protected:
  std::vector<Hyperparameter> hyperparameters() const override;
  void set_hyperparameters(const StateDict& values) override;
  std::vector<std::string> buffer_names() const override;

 private:
  RMSpropOptions options_;
};

}  // namespace unroll::optim
