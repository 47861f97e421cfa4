// unroll/framework/error.hpp: the exceptions the library throws.
#pragma once

#include <stdexcept>
#include <string>

namespace unroll {

// A caller's mistake: wrong shape, bad axis, backward without a seed, a malformed checkpoint entry...
// The message always names the op and the shapes, e.g. "matmul: inner dimensions differ: [4, 7] x [8, 3]".
class Error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Something outside the program went wrong (a file could not be opened, written or renamed).
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace unroll
