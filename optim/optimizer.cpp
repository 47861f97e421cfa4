#include "unroll/optim/optimizer.hpp"

#include <cmath>
#include <cstring>
#include <set>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/dispatch.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"
#include "unroll/optim/detail/state.hpp"

namespace unroll::optim {

using detail::check;

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)), state_(params_.size()) {
  check(!params_.empty(), "optimizer: got an empty parameter list");
  std::set<const TensorImpl*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    check(params_[i].defined(), "optimizer: parameter {} is an undefined tensor", i);
    check(params_[i].is_leaf(),
          "optimizer: parameter {} (shape {}) is not a leaf (it was produced by '{}'); pass the "
          "model's parameters, not results of ops on them",
          i, params_[i].shape(), params_[i].grad_fn_name());
    check(seen.insert(params_[i].impl()).second, "optimizer: parameter {} (shape {}) appears more than once", i,
          params_[i].shape());
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

const ParamState& Optimizer::state(size_t i) const {
  // name() is a virtual call returning a string, and Adagrad calls this for every parameter at every step.
  if (i >= state_.size()) [[unlikely]]
    detail::fail("{}: state: index {} out of range for {} parameters", name(), i, state_.size());
  return state_[i];
}

Tensor& Optimizer::buffer(size_t i, const std::string& name) {
  Tensor& b = state_[i].buffers[name];
  const DType dtype = params_[i].dtype();
  if (!b.defined()) b = zeros(params_[i].shape(), dtype);
  // a model converted with Module::to after some steps: the state follows the parameter's new dtype
  if (b.dtype() != dtype) b = unroll::detail::cast(b, dtype);
  return b;
}

// ---- checkpoint state ------------------------------------------------------------------------------
// Names and dtypes (documented in optim/checkpoint.hpp):
//   type.<Name>                 bool true                  which optimizer wrote the state
//   param_groups.0.<hyper>      float64 / bool             PyTorch's param_group keys (lr, betas, amsgrad...)
//   param_groups.0.initial_lr   float64                    lr before any schedule; only when a scheduler set it
//   state.<i>.step              int64                      updates of parameter i; only for initialized ones
//   state.<i>.<buffer>          the parameter's dtype      momentum_buffer, exp_avg, exp_avg_sq, ...

namespace {

const std::string kGroup = "param_groups.0.";

std::string state_key(size_t i, const std::string& name) { return "state." + std::to_string(i) + "." + name; }

// The range PyTorch's constructors accept for each real option (torch/optim/*.py, "Invalid ... value"):
// >= 0, except betas in [0, 1) and SGD's dampening, which PyTorch does not check (any finite number here).
const unroll::detail::RealRange& option_range(const std::string& name) {
  if (name == "betas") return unroll::detail::kFraction;
  if (name == "dampening") return unroll::detail::kAnyReal;
  return unroll::detail::kNonNegative;
}

// Buffers holding sums or running averages of squared gradients, whose square roots divide the update.
bool holds_squares(const std::string& buffer_name) {
  return buffer_name == "exp_avg_sq" || buffer_name == "max_exp_avg_sq" || buffer_name == "square_avg" ||
         buffer_name == "sum";
}

// Throws StateValueError at the first negative value of `buffer` (a floating tensor).
void check_not_negative(const std::string& who, const std::string& key, const Tensor& buffer) {
  unroll::detail::visit_floating(who.c_str(), buffer.dtype(), [&]<class T>() {
    const T* values = buffer.data<T>();
    for (int64_t k = 0; k < buffer.numel(); ++k)
      if (values[k] < 0) [[unlikely]]
        unroll::detail::fail_loaded(
            who, fmt::format("entry '{}' holds {} at element {} (a sum or average of squared gradients is never "
                             "negative)",
                             key, static_cast<double>(values[k]), k));
  });
}

}  // namespace

StateDict Optimizer::state_dict() const {
  StateDict out;
  out["type." + name()] = unroll::detail::state_flag(true);
  for (const Hyperparameter& h : hyperparameters()) out[kGroup + h.name] = h.value;
  if (initial_lr_) out[kGroup + "initial_lr"] = unroll::detail::state_real(*initial_lr_);
  for (size_t i = 0; i < state_.size(); ++i) {
    if (!state_[i].initialized) continue;
    out[state_key(i, "step")] = unroll::detail::state_int(state_[i].step);
    for (const auto& [buffer_name, value] : state_[i].buffers) out[state_key(i, buffer_name)] = value.detach();
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  using unroll::detail::read_state_value;
  const std::string me = name();
  // 1. which optimizer wrote it
  std::vector<std::string> types;
  for (const auto& [key, _] : state)
    if (key.rfind("type.", 0) == 0) types.push_back(key.substr(5));
  check(!types.empty(), "{}: load_state_dict: missing entry 'type.{}' (the state names no optimizer type)", me, me);
  check(types.size() == 1 && types[0] == me, "{}: load_state_dict: the state was saved by optimizer '{}', not '{}'", me,
        types[0], me);
  read_state_value(me, state, "type." + me, unroll::detail::state_flag(true));

  // 2. hyperparameters (read into the options; restored if anything below fails)
  const std::vector<Hyperparameter> old_hyper = hyperparameters();
  StateDict new_hyper, old_values;
  std::set<std::string> used = {"type." + me};
  for (const Hyperparameter& h : old_hyper) {
    new_hyper[h.name] = read_state_value(me, state, kGroup + h.name, h.value);
    if (h.value.dtype() == kFloat64)  // a real option (not a flag): finite and in range
      unroll::detail::check_loaded_reals(me, kGroup + h.name, new_hyper[h.name].to_vector<double>(),
                                         option_range(h.name));
    old_values[h.name] = h.value;
    used.insert(kGroup + h.name);
  }
  std::optional<double> new_initial_lr;
  if (state.count(kGroup + "initial_lr")) {
    new_initial_lr = read_state_value(me, state, kGroup + "initial_lr", unroll::detail::state_real(0)).item<double>();
    unroll::detail::check_loaded_real(me, kGroup + "initial_lr", *new_initial_lr, unroll::detail::kNonNegative);
    used.insert(kGroup + "initial_lr");
  }
  try {
    set_hyperparameters(new_hyper);  // validates the options together; throws before changing anything
  } catch (const unroll::detail::StateValueError&) {
    throw;
  } catch (const Error& e) {  // each value is in range (checked above), but not together (SGD's nesterov)
    unroll::detail::fail_loaded(me, "the options in 'param_groups.0' do not go together", e.what());
  }

  try {
    // 3. per-parameter state, for the buffers the (new) options need
    const std::vector<std::string> names = buffer_names();
    const std::set<std::string> known(names.begin(), names.end());
    std::map<size_t, int64_t> steps;  // the parameters with a state -> their step counters
    for (const auto& [key, _] : state) {
      size_t index = 0;
      std::string entry;
      if (used.count(key)) continue;
      check(unroll::detail::parse_state_key(key, index, entry) && (entry == "step" || known.count(entry)),
            "{}: load_state_dict: unexpected entry '{}'", me, key);
      check(index < params_.size(), "{}: load_state_dict: unexpected entry '{}' (the optimizer has {} parameters)", me,
            key, params_.size());
      steps[index] = 0;
    }
    for (auto& [i, step] : steps) {
      const std::string step_key = state_key(i, "step");
      step = read_state_value(me, state, step_key, unroll::detail::state_int(0)).item<int64_t>();
      unroll::detail::check_loaded_count(me, step_key, step);
      for (const std::string& buffer_name : names) {
        const std::string key = state_key(i, buffer_name);
        const auto it = state.find(key);
        check(it != state.end() && it->second.defined(), "{}: load_state_dict: missing entry '{}' (shape {})", me, key,
              params_[i].shape());
        check(it->second.shape() == params_[i].shape(),
              "{}: load_state_dict: entry '{}' has shape {} but parameter {} has shape {}", me, key, it->second.shape(),
              i, params_[i].shape());
        check(it->second.dtype() == params_[i].dtype(), "{}: load_state_dict: entry '{}' is {} but parameter {} is {}",
              me, key, unroll::name(it->second.dtype()), i, unroll::name(params_[i].dtype()));
        if (holds_squares(buffer_name)) check_not_negative(me, key, it->second);
      }
    }

    // 4. commit (nothing below throws)
    NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      ParamState fresh;
      if (const auto step = steps.find(i); step != steps.end()) {
        fresh.initialized = true;
        fresh.step = step->second;
        // copies: the state shares nothing with the caller's tensors
        for (const std::string& buffer_name : names)
          fresh.buffers.emplace(buffer_name, clone(state.at(state_key(i, buffer_name)).detach()));
      }
      state_[i] = std::move(fresh);
    }
    initial_lr_ = new_initial_lr;
  } catch (...) {
    set_hyperparameters(old_values);
    throw;
  }
}

}  // namespace unroll::optim

// ---- state entries (optim/detail/state.hpp) ----------------------------------------------------------
namespace unroll::detail {

Tensor state_real(double value) { return scalar(value, kFloat64); }
Tensor state_reals(const std::vector<double>& values) {
  return tensor(values, Shape{static_cast<int64_t>(values.size())}, kFloat64);
}
Tensor state_int(int64_t value) { return scalar(value, kInt64); }
Tensor state_ints(const std::vector<int64_t>& values) {
  return tensor(values, Shape{static_cast<int64_t>(values.size())}, kInt64);
}
Tensor state_flag(bool value) { return scalar(value, kBool); }

bool parse_state_key(const std::string& key, size_t& index, std::string& name) {
  if (key.rfind("state.", 0) != 0) return false;
  const size_t begin = 6, dot = key.find('.', begin);
  if (dot == std::string::npos || dot == begin || dot - begin > 9) return false;
  index = 0;
  for (size_t k = begin; k < dot; ++k) {
    if (key[k] < '0' || key[k] > '9') return false;
    index = index * 10 + static_cast<size_t>(key[k] - '0');
  }
  name = key.substr(dot + 1);
  return !name.empty();
}

Tensor read_state_value(const std::string& who, const optim::StateDict& state, const std::string& key,
                        const Tensor& like, bool any_length) {
  const auto it = state.find(key);
  check(it != state.end() && it->second.defined(), "{}: load_state_dict: missing entry '{}'", who, key);
  const Tensor& value = it->second;
  check(value.dim() <= 1, "{}: load_state_dict: entry '{}' has shape {}, expected a number or a list", who, key,
        value.shape());
  check(any_length || value.numel() == like.numel(), "{}: load_state_dict: entry '{}' has {} values, expected {}", who,
        key, value.numel(), like.numel());
  if (value.dtype() == like.dtype()) return value;
  // Files written before checkpoints kept dtypes hold every number as float64: read those as integers or
  // flags when that is what they hold.
  const bool integral = like.dtype() == kInt64 || like.dtype() == kBool;
  check(value.dtype() == kFloat64 && integral, "{}: load_state_dict: entry '{}' is {} but must be {}", who, key,
        name(value.dtype()), name(like.dtype()));
  for (const double v : value.to_vector<double>()) {
    const bool fits = like.dtype() == kBool ? v == 0 || v == 1 : v == std::floor(v) && std::abs(v) < 0x1p53;
    if (!fits) [[unlikely]]
      fail(
          "{}: load_state_dict: entry '{}' is float64 holding {} but must be {} (float64 is read as {} only when "
          "it holds {}, as older checkpoints do)",
          who, key, v, name(like.dtype()), name(like.dtype()), like.dtype() == kBool ? "0 and 1" : "integers");
  }
  return value.to(like.dtype());
}

namespace {

// "in [0, 1)", ">= 0", "" (no bound beyond being finite)
std::string describe(const RealRange& range) {
  const bool low = std::isfinite(range.min), high = std::isfinite(range.max);
  if (low && high)
    return fmt::format("in {}{}, {}{}", range.min_open ? '(' : '[', range.min, range.max, range.max_open ? ')' : ']');
  if (low) return fmt::format("{} {}", range.min_open ? ">" : ">=", range.min);
  if (high) return fmt::format("{} {}", range.max_open ? "<" : "<=", range.max);
  return "";
}

bool in_range(double value, const RealRange& range) {
  return std::isfinite(value) && (range.min_open ? value > range.min : value >= range.min) &&
         (range.max_open ? value < range.max : value <= range.max);
}

}  // namespace

void fail_loaded(const std::string& who, const std::string& what, const std::string& cause) {
  if (cause.empty()) throw StateValueError(fmt::format("{}: load_state_dict: {}", who, what));
  std::string_view reason = cause;  // the object's own validation, which names it already
  if (reason.rfind(who + ": ", 0) == 0) reason.remove_prefix(who.size() + 2);
  throw StateValueError(fmt::format("{}: load_state_dict: {}: {}", who, what, reason));
}

void check_loaded_count(const std::string& who, const std::string& key, int64_t value, int64_t min) {
  if (value < min || value >= kMaxStateCount) [[unlikely]]
    fail_loaded(who, fmt::format("entry '{}' must be an integer in [{}, 2^53), got {}", key, min, value));
}

void check_loaded_real(const std::string& who, const std::string& key, double value, const RealRange& range) {
  if (!in_range(value, range)) [[unlikely]] {
    const std::string bounds = describe(range);
    fail_loaded(who, fmt::format("entry '{}' must be a finite number{}{}, got {}", key, bounds.empty() ? "" : " ",
                                 bounds, value));
  }
}

void check_loaded_reals(const std::string& who, const std::string& key, const std::vector<double>& values,
                        const RealRange& range) {
  if (values.size() == 1) return check_loaded_real(who, key, values[0], range);
  for (const double value : values)
    if (!in_range(value, range)) [[unlikely]] {
      const std::string bounds = describe(range);
      fail_loaded(who, fmt::format("entry '{}' must be finite numbers{}{}, got [{}]", key, bounds.empty() ? "" : " ",
                                   bounds, fmt::join(values, ", ")));
    }
}

}  // namespace unroll::detail
