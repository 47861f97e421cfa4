// unroll/layers/dropout.hpp: PyTorch's nn.Dropout.
//
// In training mode (the default) each element is zeroed with probability p and the rest are scaled by
// 1 / (1 - p); after eval() the layer is the identity. Masks come from this thread's default generator
// (manual_seed makes them reproducible).
#pragma once

#include <string>

#include "unroll/framework/ops.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

struct DropoutOptions {
  double p = 0.5;  // probability of zeroing an element, in [0, 1]
};

class Dropout : public UnaryModule {
 public:
  explicit Dropout(const DropoutOptions& options = {});
  explicit Dropout(double p) : Dropout(DropoutOptions{.p = p}) {}

  // x: any shape -> same shape
  Tensor forward(const Tensor& x) override { return dropout(x, options_.p, is_training()); }
  std::string describe() const override;  // "Dropout(p=0.5)"
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
};

}  // namespace unroll::layers
