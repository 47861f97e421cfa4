// Internal (not installed): the entries of an optimizer's or scheduler's StateDict that hold numbers rather
// than parameter-shaped buffers, and their validation when a state is loaded (optim/optimizer.hpp).
#pragma once

#include <cstdint>
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

}  // namespace unroll::detail
