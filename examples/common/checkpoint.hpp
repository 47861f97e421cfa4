// examples/common/checkpoint.hpp: reading the examples' own trainer.npz files (not part of the library).
//
//   const std::map<std::string, unroll::Tensor> t = unroll::load_tensors(path);
//   const int64_t step = examples::checkpoint_entry(t, path, "step", unroll::kInt64).item<int64_t>();
//
// An example writes every entry of its trainer.npz with the dtype of what it holds: integers (steps, epochs,
// counts, seeds, vocabulary ids) as int64, flags as bool, the carried recurrent state as float32. Reading
// takes each entry only with that dtype: a file written by another program, or by a version of the example
// that stored integers as float32 (exact only below 2^24), is refused with a message naming the file, the
// entry and both dtypes instead of being read as something it is not.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <unroll/unroll.hpp>

namespace examples {

// The entry `name` of `entries` (read from `path`), which must exist and have `dtype`; else std::runtime_error.
inline const unroll::Tensor& checkpoint_entry(const std::map<std::string, unroll::Tensor>& entries,
                                              const std::string& path, const std::string& name, unroll::DType dtype) {
  const auto it = entries.find(name);
  if (it == entries.end()) throw std::runtime_error(path + ": no entry '" + name + "'");
  if (it->second.dtype() != dtype)
    throw std::runtime_error(path + ": entry '" + name + "' is " + unroll::name(it->second.dtype()) + ", expected " +
                             unroll::name(dtype) + " (older versions of the examples stored integers as float32)");
  return it->second;
}

}  // namespace examples
