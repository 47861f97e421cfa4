// unroll/layers/activation.hpp: elementwise nonlinearities as modules (PyTorch's nn.Tanh, nn.ReLU,
// nn.Sigmoid), for use in Sequential. They have no parameters; each forward is the op of the same name.
#pragma once

#include <string>

#include "unroll/framework/ops.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

class Tanh : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }  // any shape -> same shape
  std::string describe() const override { return "Tanh()"; }
};

class ReLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }  // any shape -> same shape
  std::string describe() const override { return "ReLU()"; }
};

class Sigmoid : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }  // any shape -> same shape
  std::string describe() const override { return "Sigmoid()"; }
};

}  // namespace unroll::layers
