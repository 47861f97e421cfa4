// unroll/layers/layer_norm.hpp: layer normalization, PyTorch's nn.LayerNorm.
//
//   y = (x - mean) / sqrt(var + eps) * weight + bias      x: [..., D...] -> y: [..., D...]
//
// D... = normalized_shape, the trailing dims the statistics are taken over (mean and biased variance per
// leading index). Built on the op layer_norm (framework/ops.hpp), one fused node per call.
//
// Parameters (PyTorch names and shapes), only with elementwise_affine: weight [D...] (starts at 1) and
// bias [D...] (starts at 0).
#pragma once

#include <string>

#include "unroll/framework/ops.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

struct LayerNormOptions {
  Shape normalized_shape;          // D...: the trailing dims of the input to normalize over, e.g. {H}
  double eps = 1e-5;               // added to the variance
  bool elementwise_affine = true;  // false: no weight and bias (y is just the normalized x)
};

class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(const LayerNormOptions& options);

  // x: [..., D...] -> same shape
  Tensor forward(const Tensor& x) override;
  // weight = 1, bias = 0 (PyTorch's reset_parameters).
  void reset_parameters();
  std::string describe() const override;  // "LayerNorm(normalized_shape=[8], eps=1e-05, elementwise_affine=true)"
  const LayerNormOptions& options() const { return options_; }

  Tensor weight;  // [D...]; undefined without elementwise_affine
  Tensor bias;    // [D...]; undefined without elementwise_affine

 private:
  LayerNormOptions options_;
};

}  // namespace unroll::layers
