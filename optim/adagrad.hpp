// unroll/optim/adagrad.hpp: Adagrad (PyTorch's torch.optim.Adagrad).
//
//   optim::Adagrad opt(model.parameters(), {.lr = 0.05, .lr_decay = 1e-3});
//
// For each parameter p with gradient g, at its t-th update:
//   g <- g + lambda p                       if lambda != 0
//   lr_t <- lr / (1 + (t - 1) lr_decay)
//   s <- s + g^2                            sum of squared gradients (starts at initial_accumulator_value)
//   p <- p - lr_t g / (sqrt(s) + eps)
#pragma once

#include "unroll/optim/optimizer.hpp"

namespace unroll::optim {

struct AdagradOptions {
  double lr = 1e-2;                      // learning rate
  double lr_decay = 0;                   // lr_t = lr / (1 + (t - 1) lr_decay)
  double weight_decay = 0;               // lambda: L2 penalty added to the gradient
  double initial_accumulator_value = 0;  // starting value of the sum of squares
  double eps = 1e-10;                    // added to the denominator for numerical stability
  bool maximize = false;                 // ascend instead of descend
};

class Adagrad : public Optimizer {
 public:
  // Creates every parameter's state right away (as PyTorch does): step 0, sum = initial_accumulator_value.
  Adagrad(std::vector<Tensor> params, const AdagradOptions& options = {});

  void step() override;
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  std::string name() const override { return "Adagrad"; }
  const AdagradOptions& options() const { return options_; }

 protected:
  std::vector<Hyperparameter> hyperparameters() const override;
  void set_hyperparameters(const StateDict& values) override;
  std::vector<std::string> buffer_names() const override;

 private:
  void init_state(size_t i);
  AdagradOptions options_;
};

}  // namespace unroll::optim
