// unroll/optim/sgd.hpp: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight
// decay (PyTorch's torch.optim.SGD).
//
//   optim::SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
//
// For each parameter p with gradient g (mu = momentum, tau = dampening, lambda = weight_decay):
//   g <- g + lambda p                      if lambda != 0
//   b <- g              at the first step  if mu != 0
//   b <- mu b + (1 - tau) g  afterwards
//   g <- g + mu b  (nesterov) or g <- b
//   p <- p - lr g
#pragma once

#include "unroll/optim/optimizer.hpp"

namespace unroll::optim {

struct SGDOptions {
  double lr = -1;           // learning rate; required (PyTorch's SGD has no default either)
  double momentum = 0;      // mu: 0 disables the momentum buffer
  double dampening = 0;     // tau: scales the new gradient's share of the buffer by (1 - tau)
  double weight_decay = 0;  // lambda: L2 penalty added to the gradient
  bool nesterov = false;    // Nesterov momentum (needs momentum > 0 and dampening == 0)
  bool maximize = false;    // ascend instead of descend
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options);

  void step() override;
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  std::string name() const override { return "SGD"; }
  const SGDOptions& options() const { return options_; }

 protected:
  std::vector<Hyperparameter> hyperparameters() const override;
  void set_hyperparameters(const StateDict& values) override;
  std::vector<std::string> buffer_names() const override;

 private:
  SGDOptions options_;
};

}  // namespace unroll::optim
