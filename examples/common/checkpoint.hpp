// examples/common/checkpoint.hpp: reading the examples' own trainer.npz files (not part of the library).
//
//   const std::map<std::string, unroll::Tensor> t = unroll::load_tensors(path);
//   const int64_t step = examples::checkpoint_integer(t, path, "step", 0, max_step);
//   const std::vector<double> curve = examples::checkpoint_values(t, path, "valid_f1", epochs, {0, 1});
//
// A checkpoint is input like any data file: it may come from another program, another version of the
// example, or a disk that flipped a bit. Every value an example reads from its trainer.npz is checked before
// use: the entry must exist, have the dtype the example writes (integers as int64, curves as float64, the
// carried recurrent state as float32), the expected shape, and values in the range the program can use
// (a negative step would index before the text; a NaN in a curve would be plotted and compared). A failed
// check throws unroll::IoError naming the file and the entry, before anything of the run has changed.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

namespace examples {

// The entry `name` of `entries` (read from `path`), which must exist and have `dtype`; else unroll::IoError.
inline const unroll::Tensor& checkpoint_entry(const std::map<std::string, unroll::Tensor>& entries,
                                              const std::string& path, const std::string& name, unroll::DType dtype) {
  const auto it = entries.find(name);
  if (it == entries.end()) throw unroll::IoError(path + ": no entry '" + name + "'");
  if (it->second.dtype() != dtype)
    throw unroll::IoError(path + ": entry '" + name + "' is " + unroll::name(it->second.dtype()) + ", expected " +
                          unroll::name(dtype) + " (older versions of the examples stored integers as float32)");
  return it->second;
}

// The shape of a tensor as text: "[2, 16, 64]".
inline std::string shape_text(const unroll::Tensor& t) {
  std::string s = "[";
  for (int d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// The int64 scalar `name`, which must lie in [min, max]; else unroll::IoError naming the file and the entry.
inline int64_t checkpoint_integer(const std::map<std::string, unroll::Tensor>& entries, const std::string& path,
                                  const std::string& name, int64_t min, int64_t max) {
  const unroll::Tensor& t = checkpoint_entry(entries, path, name, unroll::kInt64);
  if (t.dim() != 0) throw unroll::IoError(path + ": entry '" + name + "' has shape " + shape_text(t) + ", expected []");
  const int64_t v = t.item<int64_t>();
  if (v < min || v > max)
    throw unroll::IoError(path + ": entry '" + name + "' is " + std::to_string(v) + ", outside [" +
                          std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

// The float64 vector `name` of `length` values, each finite and in [min, max]; else unroll::IoError.
inline std::vector<double> checkpoint_values(const std::map<std::string, unroll::Tensor>& entries,
                                             const std::string& path, const std::string& name, int64_t length,
                                             double min, double max) {
  const unroll::Tensor& t = checkpoint_entry(entries, path, name, unroll::kFloat64);
  if (t.dim() != 1 || t.size(0) != length)
    throw unroll::IoError(path + ": entry '" + name + "' has shape " + shape_text(t) + ", expected [" +
                          std::to_string(length) + "]");
  std::vector<double> values = t.to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]) || values[i] < min || values[i] > max)
      throw unroll::IoError(path + ": entry '" + name + "' has " + std::to_string(values[i]) + " at index " +
                            std::to_string(i) + ", outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return values;
}

// The float32 tensor `name` of exactly `shape`, every value finite (a carried recurrent state); else IoError.
inline const unroll::Tensor& checkpoint_state(const std::map<std::string, unroll::Tensor>& entries,
                                              const std::string& path, const std::string& name,
                                              const std::vector<int64_t>& shape) {
  const unroll::Tensor& t = checkpoint_entry(entries, path, name, unroll::kFloat32);
  bool same = t.dim() == static_cast<int>(shape.size());
  for (size_t d = 0; same && d < shape.size(); ++d) same = t.size(static_cast<int>(d)) == shape[d];
  if (!same) {
    std::string expected = "[";
    for (size_t d = 0; d < shape.size(); ++d) expected += (d ? ", " : "") + std::to_string(shape[d]);
    throw unroll::IoError(path + ": entry '" + name + "' has shape " + shape_text(t) + ", expected " + expected + "]");
  }
  const float* v = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(v[i]))
      throw unroll::IoError(path + ": entry '" + name + "' has a non-finite value at index " + std::to_string(i));
  return t;
}

}  // namespace examples
