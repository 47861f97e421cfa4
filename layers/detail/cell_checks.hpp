// Internal (not installed): the argument checks every built-in cell shares, so each cell names itself in
// the same words and a new cell does not write them again.
#pragma once

#include <cmath>
#include <cstring>
#include <string>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"
#include "unroll/framework/tensor.hpp"

namespace unroll::layers::detail {

using unroll::detail::check;
using unroll::detail::check_defined;
using unroll::detail::fail;

// PyTorch's default for every recurrent parameter: U(-1/sqrt(H), 1/sqrt(H)), in the default dtype.
inline Tensor recurrent_init(const Shape& shape, int64_t hidden_size) {
  const float bound = static_cast<float>(1 / std::sqrt(static_cast<double>(hidden_size)));
  return uniform(shape, -bound, bound);
}

// bias[start : start + length] += value (a forget-gate bias at construction), in the bias's own dtype.
inline void add_to_block(Tensor& bias, int64_t start, int64_t length, double value) {
  const Tensor block = narrow(bias, 0, start, length) + value;
  std::memcpy(static_cast<char*>(bias.data_ptr()) + start * bias.element_size(), block.data_ptr(),
              static_cast<size_t>(length * bias.element_size()));
}

inline void check_sizes(const char* cell, int64_t input_size, int64_t hidden_size) {
  check(input_size > 0 && hidden_size > 0, "{}: input_size and hidden_size must be positive, got {} and {}", cell,
        input_size, hidden_size);
  // Gate widths (4H) must not overflow int64 before empty() refuses the shape as too large.
  check(input_size <= kMaxTensorBytes && hidden_size <= kMaxTensorBytes,
        "{}: input_size {} or hidden_size {} is too large (over {})", cell, input_size, hidden_size, kMaxTensorBytes);
}

inline std::string shape_or_undefined(const Tensor& t) {
  return t.defined() ? to_string(t.shape()) : std::string("undefined");
}

// projected_x: [N, G] and every state component [N, H] must agree on N.
inline void check_step(const char* cell, const Tensor& projected_x, int64_t gate_width, const Tensor& h,
                       int64_t hidden_size) {
  check_defined(cell, projected_x);
  check(projected_x.dim() == 2 && projected_x.size(1) == gate_width,
        "{}: projected input must be [N, {}], got {} (pass raw inputs through operator() or project_input)", cell,
        gate_width, projected_x.shape());
  // Runs at every time step: the message (a string built from h's shape) only on failure.
  if (!(h.defined() && h.dim() == 2 && h.size(0) == projected_x.size(0) && h.size(1) == hidden_size)) [[unlikely]]
    fail("{}: state h must be [{}, {}], got {}", cell, projected_x.size(0), hidden_size, shape_or_undefined(h));
}

// LSTM-like cells: the cell state c has h's shape (h already checked by check_step).
inline void check_cell_state(const char* cell, const Tensor& h, const Tensor& c) {
  if (!(c.defined() && c.shape() == h.shape())) [[unlikely]]  // every step: no string unless failing
    fail("{}: state c must be {} like h, got {}", cell, h.shape(), shape_or_undefined(c));
}

}  // namespace unroll::layers::detail
