// Internal (not installed): argument checks with fmt-formatted messages, and Shape formatting.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>

#include "unroll/framework/error.hpp"
#include "unroll/framework/shape.hpp"
#include "unroll/framework/tensor.hpp"

template <>
struct fmt::formatter<unroll::Shape> : fmt::formatter<std::string> {
  template <class Ctx>
  auto format(const unroll::Shape& s, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(unroll::to_string(s), ctx);
  }
};

namespace unroll::detail {

// fail("op: message {}", args...): throws unroll::Error with the formatted message.
template <class... Args>
[[noreturn]] inline void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// check(cond, "op: message {}", args...): throws unroll::Error with the formatted message when cond is
// false. The message is only formatted on failure, but check is a function: its arguments are evaluated
// on every call, before cond is looked at. Pass only values that are cheap and always safe to compute
// (numbers, `const char*`, shapes by reference). A message that needs a string built, or a value that is
// only valid when the check fails, goes through `if (!(cond)) [[unlikely]] fail(...)` instead.
template <class... Args>
inline void check(bool cond, fmt::format_string<Args...> format, Args&&... args) {
  if (!cond) [[unlikely]]
    fail(format, std::forward<Args>(args)...);
}

// check_defined("add", a, b): throws unroll::Error "add: argument 2 is an undefined tensor ..." when one of
// the tensors is undefined (default-constructed). Ops and layers call it first, so the error names them;
// the Tensor accessors are the safety net for any path that does not (tensor.hpp).
[[noreturn]] void throw_undefined_argument(const char* op, int position);
template <class... T>
inline void check_defined(const char* op, const T&... tensors) {
  int position = 0;
  ((++position, tensors.defined() ? void() : throw_undefined_argument(op, position)), ...);
}

// Normalize a possibly negative axis for a tensor of rank `rank`; throws naming `op` when out of range.
int normalize_axis(const char* op, int axis, int rank, const Shape& shape);

}  // namespace unroll::detail
