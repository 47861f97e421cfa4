// unroll/framework/dtype.hpp: the element types a Tensor can hold, chosen at run time.
//
//   Tensor ids = tensor({3, 1, 4});              // int64 (integer literals, as in PyTorch)
//   Tensor x = randn({2, 3});                    // float32, the default dtype
//   Tensor y = zeros({2, 3}, kFloat64);          // float64
//   Tensor mask = lt(ids, 3);                    // bool
//
// Four dtypes, as PyTorch names them: bool, int64, float32, float64. Binary ops promote their operands
// to a common dtype by PyTorch's rules (result_type below); autograd works on the floating dtypes only.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

namespace unroll {

// Listed in promotion order: for two tensors of the same kind (see result_type), the common dtype is the
// larger of the two. The values are stable (checkpoints do not store them; .npz keeps NumPy's codes).
enum class DType : uint8_t { Bool = 0, Int64 = 1, Float32 = 2, Float64 = 3 };

inline constexpr DType kBool = DType::Bool;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;

constexpr bool is_floating_point(DType d) { return d == kFloat32 || d == kFloat64; }
constexpr bool is_integral(DType d, bool include_bool = false) { return d == kInt64 || (include_bool && d == kBool); }

constexpr int64_t element_size(DType d) {
  switch (d) {
    case kBool:
      return 1;
    case kInt64:
      return 8;
    case kFloat32:
      return 4;
    case kFloat64:
      return 8;
  }
  return 0;
}

// "bool", "int64", "float32", "float64": the names error messages and printing use (PyTorch's).
constexpr const char* name(DType d) {
  switch (d) {
    case kBool:
      return "bool";
    case kInt64:
      return "int64";
    case kFloat32:
      return "float32";
    case kFloat64:
      return "float64";
  }
  return "?";
}
std::string to_string(DType d);

// The C++ type of a dtype's elements, and back: dtype_of<float> == kFloat32.
template <class T>
inline constexpr bool is_element_type_v =
    std::is_same_v<T, bool> || std::is_same_v<T, int64_t> || std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
constexpr DType dtype_of() {
  static_assert(is_element_type_v<T>, "unroll tensors hold bool, int64_t, float or double");
  if constexpr (std::is_same_v<T, bool>)
    return kBool;
  else if constexpr (std::is_same_v<T, int64_t>)
    return kInt64;
  else if constexpr (std::is_same_v<T, float>)
    return kFloat32;
  else
    return kFloat64;
}

// PyTorch's promote_types for these four dtypes: bool < int64 < float32 < float64, the larger wins.
constexpr DType promote_types(DType a, DType b) { return a > b ? a : b; }

// The floating dtype that creation functions use when none is given, and that C++ floating-point numbers
// in arithmetic take (x * 0.5 stays float32): float32 unless set_default_dtype changed it, as
// torch.set_default_dtype. Process-wide. Only floating dtypes are accepted.
DType get_default_dtype();
void set_default_dtype(DType dtype);

// The dtype a C++ number of type T becomes in a tensor: bool -> bool, any integer -> int64, any floating
// type -> the default dtype (as Python numbers in torch.tensor).
template <class T>
DType dtype_for_value() {
  static_assert(std::is_arithmetic_v<T>, "a tensor's values are numbers");
  if constexpr (std::is_same_v<T, bool>)
    return kBool;
  else if constexpr (std::is_integral_v<T>)
    return kInt64;
  else
    return get_default_dtype();
}

// A C++ number handed to an op (x * 0.5, clamp(x, 0, 6), full({2}, 7)), keeping what kind of number it
// was, as at::Scalar: integers stay exact int64, floating numbers are kept in double. In type promotion it
// counts as a Python number does in PyTorch (detail::result_type): int64 * 2 stays int64, int64 * 0.5
// becomes the default dtype, float32 * 0.5 stays float32.
class Scalar {
 public:
  Scalar(bool v) : dtype_(kBool), i_(v), d_(v) {}
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v) : dtype_(kInt64), i_(static_cast<int64_t>(v)), d_(static_cast<double>(v)) {}
  Scalar(float v) : dtype_(kFloat64), d_(v) {}
  Scalar(double v) : dtype_(kFloat64), d_(v) {}

  // kBool, kInt64, or kFloat64 for a floating number (its value is a double).
  DType dtype() const { return dtype_; }
  bool is_floating_point() const { return dtype_ == kFloat64; }
  double to_double() const { return d_; }
  int64_t to_int64() const { return i_; }  // exact for integers and bools; 0 for floating numbers

 private:
  DType dtype_;
  int64_t i_ = 0;
  double d_ = 0;
};

// Runs f.template operator()<T>() with T the C++ type of `d` and returns its result: the one place where a
// run-time dtype becomes a compile-time type. Ops call it once per op, never per element. The _floating
// and _numeric variants instantiate fewer types and throw unroll::Error "op: expected a floating tensor,
// got int64" for the others (framework/detail/dispatch.hpp).
template <class F>
decltype(auto) visit_dtype(DType d, F&& f) {
  switch (d) {
    case kBool:
      return f.template operator()<bool>();
    case kInt64:
      return f.template operator()<int64_t>();
    case kFloat32:
      return f.template operator()<float>();
    case kFloat64:
      break;
  }
  return f.template operator()<double>();
}

}  // namespace unroll
