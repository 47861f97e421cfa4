// unroll/layers/init.hpp: in-place parameter initializers, PyTorch's torch.nn.init.
//
// Each function overwrites the values of `tensor` (a handle: the caller's tensor changes) without recording
// any graph, and returns the same handle. Random ones draw from `gen` (default: this thread's generator,
// reseeded by manual_seed). Shapes follow PyTorch's convention for weights: [fan_out, fan_in, ...], e.g. a
// Linear weight [out_features, in_features]; dims after the second multiply both fans (receptive field).
//
//   init::xavier_uniform_(layer.weight, init::calculate_gain("tanh"));
//   init::orthogonal_(cell.weight_hh);
//   init::eye_(irnn.weight_hh);   // IRNN (Le et al., 2015)
#pragma once

#include <cstdint>
#include <string_view>

#include "unroll/framework/ops.hpp"
#include "unroll/framework/tensor.hpp"

namespace unroll::layers::init {

// The recommended gain for a nonlinearity (torch.nn.init.calculate_gain):
//   "linear", "conv1d".."conv_transpose3d", "sigmoid" -> 1;  "tanh" -> 5/3;  "relu" -> sqrt(2);
//   "leaky_relu" -> sqrt(2 / (1 + param^2)) (param = negative slope, default 0.01);  "selu" -> 3/4.
// Throws unroll::Error for any other name.
double calculate_gain(std::string_view nonlinearity, double param = 0.01);

struct Fans {
  int64_t fan_in = 0;   // size(1) * receptive field
  int64_t fan_out = 0;  // size(0) * receptive field
};
// torch.nn.init._calculate_fan_in_and_fan_out; tensor must have at least 2 dims.
Fans calculate_fan_in_and_fan_out(const Tensor& tensor);

// ---- plain fills ------------------------------------------------------------------------------------
Tensor uniform_(Tensor tensor, double a = 0, double b = 1, Generator& gen = default_generator());  // U[a, b)
Tensor normal_(Tensor tensor, double mean = 0, double std = 1, Generator& gen = default_generator());
Tensor constant_(Tensor tensor, double value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
// 2-D only: ones on the diagonal, zeros elsewhere (rectangular allowed, like torch.nn.init.eye_).
Tensor eye_(Tensor tensor);

// ---- variance scaling ---------------------------------------------------------------------------------
// Glorot & Bengio (2010): U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor tensor, double gain = 1, Generator& gen = default_generator());
// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor tensor, double gain = 1, Generator& gen = default_generator());
// He et al. (2015): U(-b, b), b = sqrt(3) * calculate_gain(nonlinearity, a) / sqrt(fan), fan = fan_in or
// fan_out as `mode` says ("fan_in" | "fan_out"). a = sqrt(5) with "leaky_relu" gives U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), PyTorch's default for Linear and RNN weights.
Tensor kaiming_uniform_(Tensor tensor, double a = 0, std::string_view mode = "fan_in",
                        std::string_view nonlinearity = "leaky_relu", Generator& gen = default_generator());
// N(0, std^2), std = calculate_gain(nonlinearity, a) / sqrt(fan).
Tensor kaiming_normal_(Tensor tensor, double a = 0, std::string_view mode = "fan_in",
                       std::string_view nonlinearity = "leaky_relu", Generator& gen = default_generator());

// ---- orthogonal -----------------------------------------------------------------------------------------
// Saxe et al. (2013), as torch.nn.init.orthogonal_: the tensor viewed as [rows = size(0), cols = the rest]
// becomes gain * Q, where Q comes from the QR decomposition of a N(0, 1) matrix (transposed when rows < cols)
// with the signs of diag(R) folded into Q, so Q is uniformly (Haar) distributed. Rows are orthonormal when
// rows <= cols (W W^T = I), columns when rows >= cols (W^T W = I). The QR is a Householder
// factorization in double precision (no LAPACK).
Tensor orthogonal_(Tensor tensor, double gain = 1, Generator& gen = default_generator());

}  // namespace unroll::layers::init
