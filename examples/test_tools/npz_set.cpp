// npz_set: edits one entry of an .npz file, so that the examples' CTest cases can hand them a checkpoint
// with a bad value (examples/expect_bad_checkpoint.cmake). Not a tutorial; built with the tests only.
//
//   npz_set FILE ENTRY int64|float32|float64 V [V ...]   the entry becomes these values: one is a scalar
//                                                        (shape []), several a vector [n]
//   npz_set FILE ENTRY poke INDEX V                      element INDEX (row-major) of the existing entry
//                                                        becomes V, in the entry's own dtype and shape
//   npz_set FILE ENTRY remove                            the entry is dropped
//
// Values are read with strtod/strtoll, so "nan", "inf" and "-5" all work.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

using namespace unroll;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: npz_set FILE ENTRY int64|float32|float64|poke|remove [VALUES...]\n");
    return 2;
  }
  try {
    const std::string path = argv[1], entry = argv[2], what = argv[3];
    std::map<std::string, Tensor> t = load_tensors(path);
    std::vector<std::string> values(argv + 4, argv + argc);
    if (what == "remove") {
      t.erase(entry);
    } else if (what == "poke") {
      if (!t.count(entry) || values.size() != 2) throw Error("npz_set: poke needs an existing entry, INDEX and V");
      Tensor& x = t[entry];
      const int64_t i = std::strtoll(values[0].c_str(), nullptr, 10);
      if (i < 0 || i >= x.numel()) throw Error("npz_set: index out of range");
      const double v = std::strtod(values[1].c_str(), nullptr);
      if (x.dtype() == kFloat32) x.data<float>()[i] = static_cast<float>(v);
      else if (x.dtype() == kFloat64) x.data<double>()[i] = v;
      else if (x.dtype() == kInt64) x.data<int64_t>()[i] = std::strtoll(values[1].c_str(), nullptr, 10);
      else throw Error("npz_set: poke takes float32, float64 or int64 entries");
    } else {
      if (values.empty()) throw Error("npz_set: no value");
      const int64_t n = static_cast<int64_t>(values.size());
      const Shape shape = n == 1 ? Shape{} : Shape{n};
      if (what == "int64") {
        std::vector<int64_t> v;
        for (const auto& s : values) v.push_back(std::strtoll(s.c_str(), nullptr, 10));
        t[entry] = tensor(v, shape);
      } else if (what == "float32" || what == "float64") {
        std::vector<double> v;
        for (const auto& s : values) v.push_back(std::strtod(s.c_str(), nullptr));
        t[entry] = tensor(v, shape, what == "float32" ? kFloat32 : kFloat64);
      } else {
        throw Error("npz_set: unknown type '" + what + "'");
      }
    }
    save_tensors(t, path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "npz_set: %s\n", e.what());
    return 1;
  }
  return 0;
}
