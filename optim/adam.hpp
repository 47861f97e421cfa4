// unroll/optim/adam.hpp: Adam (with the AMSGrad variant) and AdamW (decoupled weight decay), PyTorch's
// torch.optim.Adam and torch.optim.AdamW.
//
//   optim::Adam opt(model.parameters(), {.lr = 2e-3});
//   optim::AdamW opt(model.parameters(), {.lr = 1e-3, .weight_decay = 0.05});
//
// For each parameter p with gradient g, at its t-th update (t counts that parameter's updates):
//   g <- g + lambda p                  Adam only, if lambda != 0 (L2 penalty in the gradient)
//   p <- p (1 - lr lambda)             AdamW only (decoupled weight decay)
//   m <- beta1 m + (1 - beta1) g       first moment
//   v <- beta2 v + (1 - beta2) g^2     second moment
//   v_max <- max(v_max, v)             amsgrad only; v_max replaces v below
//   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#pragma once

#include <array>

#include "unroll/optim/optimizer.hpp"

namespace unroll::optim {

struct AdamOptions {
  double lr = 1e-3;                            // learning rate
  std::array<double, 2> betas = {0.9, 0.999};  // decay rates of the first and second moment estimates
  double eps = 1e-8;                           // added to the denominator for numerical stability
  double weight_decay = 0;                     // lambda: L2 penalty added to the gradient
  bool amsgrad = false;                        // normalize by the running maximum of v (AMSGrad)
  bool maximize = false;                       // ascend instead of descend
};

struct AdamWOptions {
  double lr = 1e-3;                            // learning rate
  std::array<double, 2> betas = {0.9, 0.999};  // decay rates of the first and second moment estimates
  double eps = 1e-8;                           // added to the denominator for numerical stability
  double weight_decay = 1e-2;                  // lambda: decoupled decay, p <- p (1 - lr lambda) each step
  bool amsgrad = false;                        // normalize by the running maximum of v (AMSGrad)
  bool maximize = false;                       // ascend instead of descend
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});

  void step() override;
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  std::string name() const override { return "Adam"; }
  const AdamOptions& options() const { return options_; }

 protected:
  std::vector<Hyperparameter> hyperparameters() const override;
  void set_hyperparameters(const StateDict& values) override;
  std::vector<std::string> buffer_names() const override;

 private:
  AdamOptions options_;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});

  void step() override;
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  std::string name() const override { return "AdamW"; }
  const AdamWOptions& options() const { return options_; }

 protected:
  std::vector<Hyperparameter> hyperparameters() const override;
  void set_hyperparameters(const StateDict& values) override;
  std::vector<std::string> buffer_names() const override;

 private:
  AdamWOptions options_;
};

}  // namespace unroll::optim
