#include "unroll/optim/optimizer.hpp"

#include <cmath>
#include <cstring>
#include <set>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"

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
  if (!b.defined()) b = zeros(params_[i].shape());
  return b;
}

// ---- checkpoint state ------------------------------------------------------------------------------
// Names (documented in optim/checkpoint.hpp):
//   type.<Name>                 1                        which optimizer wrote the state
//   param_groups.0.<hyper>      hyperparameter value(s)  PyTorch's param_group keys (lr, betas, ...)
//   param_groups.0.initial_lr   lr before any schedule   only when a scheduler set it
//   state.<i>.step              updates of parameter i   only for initialized parameters
//   state.<i>.<buffer>          parameter-shaped tensor  momentum_buffer, exp_avg, exp_avg_sq, ...

namespace {

const std::string kGroup = "param_groups.0.";

std::string state_key(size_t i, const std::string& name) { return "state." + std::to_string(i) + "." + name; }

// Parses "state.<i>.<name>"; false if the key does not have that form.
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

}  // namespace

StateDict Optimizer::state_dict() const {
  StateDict out;
  out.scalars["type." + name()] = {1.0};
  for (const Hyperparameter& h : hyperparameters()) out.scalars[kGroup + h.name] = h.values;
  if (initial_lr_) out.scalars[kGroup + "initial_lr"] = {*initial_lr_};
  for (size_t i = 0; i < state_.size(); ++i) {
    if (!state_[i].initialized) continue;
    out.scalars[state_key(i, "step")] = {static_cast<double>(state_[i].step)};
    for (const auto& [buffer_name, value] : state_[i].buffers) out.tensors[state_key(i, buffer_name)] = value.detach();
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  const std::string me = name();
  // 1. which optimizer wrote it
  std::vector<std::string> types;
  for (const auto& [key, _] : state.scalars)
    if (key.rfind("type.", 0) == 0) types.push_back(key.substr(5));
  for (const auto& [key, _] : state.tensors)
    if (key.rfind("type.", 0) == 0) types.push_back(key.substr(5));
  check(!types.empty(), "{}: load_state_dict: missing entry 'type.{}' (the state names no optimizer type)", me, me);
  check(types.size() == 1 && types[0] == me, "{}: load_state_dict: the state was saved by optimizer '{}', not '{}'", me,
        types[0], me);

  // 2. hyperparameters (read into the options; restored if anything below fails)
  const std::vector<Hyperparameter> old_hyper = hyperparameters();
  std::map<std::string, std::vector<double>> new_hyper;
  std::set<std::string> used = {"type." + me};
  for (const Hyperparameter& h : old_hyper) {
    const auto it = state.scalars.find(kGroup + h.name);
    check(it != state.scalars.end(), "{}: load_state_dict: missing entry '{}{}'", me, kGroup, h.name);
    check(it->second.size() == h.values.size(), "{}: load_state_dict: entry '{}{}' has {} values, expected {}", me,
          kGroup, h.name, it->second.size(), h.values.size());
    new_hyper[h.name] = it->second;
    used.insert(it->first);
  }
  std::optional<double> new_initial_lr;
  if (const auto it = state.scalars.find(kGroup + "initial_lr"); it != state.scalars.end()) {
    check(it->second.size() == 1, "{}: load_state_dict: entry '{}initial_lr' has {} values, expected 1", me, kGroup,
          it->second.size());
    new_initial_lr = it->second[0];
    used.insert(it->first);
  }
  std::map<std::string, std::vector<double>> old_values;
  for (const Hyperparameter& h : old_hyper) old_values[h.name] = h.values;
  set_hyperparameters(new_hyper);  // validates the values; throws before changing anything

  try {
    // 3. per-parameter state, for the buffers the (new) options need
    const std::vector<std::string> names = buffer_names();
    const std::set<std::string> known(names.begin(), names.end());
    std::set<size_t> present;
    auto note = [&](const std::string& key) {
      size_t index = 0;
      std::string entry;
      if (used.count(key)) return;
      check(parse_state_key(key, index, entry) && (entry == "step" || known.count(entry)),
            "{}: load_state_dict: unexpected entry '{}'", me, key);
      check(index < params_.size(), "{}: load_state_dict: unexpected entry '{}' (the optimizer has {} parameters)", me,
            key, params_.size());
      present.insert(index);
    };
    for (const auto& [key, _] : state.scalars) note(key);
    for (const auto& [key, _] : state.tensors) note(key);
    for (size_t i : present) {
      const auto step = state.scalars.find(state_key(i, "step"));
      check(step != state.scalars.end(), "{}: load_state_dict: missing entry '{}'", me, state_key(i, "step"));
      check(step->second.size() == 1 && step->second[0] >= 0 && step->second[0] == std::floor(step->second[0]) &&
                step->second[0] < 9.0e15,
            "{}: load_state_dict: entry '{}' must be one non-negative integer", me, state_key(i, "step"));
      for (const std::string& buffer_name : names) {
        const std::string key = state_key(i, buffer_name);
        const auto it = state.tensors.find(key);
        check(it != state.tensors.end() && it->second.defined(), "{}: load_state_dict: missing entry '{}' (shape {})",
              me, key, params_[i].shape());
        check(it->second.shape() == params_[i].shape(),
              "{}: load_state_dict: entry '{}' has shape {} but parameter {} has shape {}", me, key, it->second.shape(),
              i, params_[i].shape());
      }
    }

    // 4. commit (nothing below throws)
    NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      ParamState fresh;
      if (present.count(i)) {
        fresh.initialized = true;
        fresh.step = static_cast<int64_t>(state.scalars.at(state_key(i, "step"))[0]);
        for (const std::string& buffer_name : names) {
          const Tensor& source = state.tensors.at(state_key(i, buffer_name));
          Tensor copy = empty(source.shape());
          std::memcpy(copy.data(), source.data(), static_cast<size_t>(source.numel()) * sizeof(real));
          fresh.buffers.emplace(buffer_name, std::move(copy));
        }
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
