// Internal (not installed): the entries of an optimizer's or scheduler's StateDict that hold numbers rather
// than parameter-shaped buffers, and their validation when a state is loaded (optim/optimizer.hpp): dtypes
// and sizes (read_state_value), then ranges (check_loaded_*).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "unroll/optim/optimizer.hpp"

namespace unroll::detail {

// What state_dict() stores: a real number as float64, a count or integer option as int64, a flag as bool.
// One value is rank 0, a list 1-D.
Tensor state_real(double value);
Tensor state_reals(const std::vector<double>& values);
Tensor state_int(int64_t value);
Tensor state_ints(const std::vector<int64_t>& values);
Tensor state_flag(bool value);

// Parses an optimizer entry "state.<i>.<name>" (parameter i's step counter or buffer); false if the key does
// not have that form.
bool parse_state_key(const std::string& key, size_t& index, std::string& name);

// The entry `key` of `state`, checked against `like`, the value this object would store there: the same
// dtype and rank 0 or 1 with as many values (any number when `any_length`). A float64 entry where `like`
// is int64 (or bool) is accepted when every value is an integer below 2^53 (or 0 / 1), and returned
// converted: unroll wrote every number as float64 before checkpoints kept dtypes. Anything else throws
// unroll::Error "<who>: load_state_dict: entry '<key>' ..." naming the problem (missing, dtype, size).
Tensor read_state_value(const std::string& who, const optim::StateDict& state, const std::string& key,
                        const Tensor& like, bool any_length = false);

// ---- range checks of loaded values ---------------------------------------------------------------------
// A state is input (it usually comes from a file): every number load_state_dict reads is checked against
// the range the object could have produced before anything is changed. A value out of range throws
// StateValueError, an unroll::Error; unroll::load reports it as unroll::IoError naming the file and the
// entry, since a file holding it is damaged or was not written by save().
class StateValueError : public Error {
 public:
  using Error::Error;
};

// Counters (steps, epochs, periods) are below 2^53: they convert to float64 exactly and cannot overflow
// when incremented.
constexpr int64_t kMaxStateCount = int64_t{1} << 53;

// The range of a real number: finite, and within [min, max] (an end excluded when `min_open` / `max_open`).
struct RealRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;
};
inline constexpr RealRange kAnyReal{};                                       // a finite number
inline constexpr RealRange kNonNegative{.min = 0};                           // learning rates, decays, eps...
inline constexpr RealRange kFraction{.min = 0, .max = 1, .max_open = true};  // betas, factor: [0, 1)

// Throw StateValueError "<who>: load_state_dict: entry '<key>' must be <range>, got <value>" unless the
// counter is in [min, kMaxStateCount), or every real value is finite and in `range`.
void check_loaded_count(const std::string& who, const std::string& key, int64_t value, int64_t min = 0);
void check_loaded_real(const std::string& who, const std::string& key, double value, const RealRange& range);
void check_loaded_reals(const std::string& who, const std::string& key, const std::vector<double>& values,
                        const RealRange& range);
// Throws StateValueError "<who>: load_state_dict: <what>", followed by ": <cause>" (an Error message of the
// object's own validation, without its leading "<who>: ") when there is one.
[[noreturn]] void fail_loaded(const std::string& who, const std::string& what, const std::string& cause = "");

}  // namespace unroll::detail
