// unroll/layers/linear.hpp: fully connected layer, PyTorch's nn.Linear.
//
//   y = x W^T + b        x: [..., I] -> y: [..., O]      (I = in_features, O = out_features)
//
// Parameters (PyTorch names and shapes): weight [O, I], bias [O]; both initialized U(-1/sqrt(I), 1/sqrt(I))
// as in PyTorch (kaiming_uniform_ with a = sqrt(5) on the weight).
#pragma once

#include <cstdint>
#include <string>

#include "unroll/framework/ops.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

struct LinearOptions {
  int64_t in_features = 0;   // I: size of the last input dimension
  int64_t out_features = 0;  // O: size of the last output dimension
  bool bias = true;          // false: no bias parameter (y = x W^T)
};

class Linear : public UnaryModule {
 public:
  explicit Linear(const LinearOptions& options);

  // x: [..., I] -> [..., O]
  Tensor forward(const Tensor& x) override;
  // Draws new initial values (PyTorch's reset_parameters).
  void reset_parameters(Generator& gen = default_generator());
  std::string describe() const override;  // "Linear(in_features=8, out_features=4, bias=true)"
  const LinearOptions& options() const { return options_; }

  Tensor weight;  // [O, I]
  Tensor bias;    // [O]; undefined when options.bias is false

 private:
  LinearOptions options_;
};

}  // namespace unroll::layers
