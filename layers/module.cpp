#include "unroll/layers/module.hpp"

#include <cstring>
#include <ostream>
#include <set>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/kernels.hpp"

namespace unroll::layers {

using detail::check;

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  check(value.defined(), "register_parameter: '{}' is an undefined tensor", name);
  check(name.find('.') == std::string::npos, "register_parameter: name '{}' must not contain '.'", name);
  for (const auto& [existing, _] : parameters_)
    check(existing != name, "register_parameter: '{}' is already registered", name);
  if (!value.requires_grad()) value.requires_grad_();
  parameters_.emplace_back(name, std::move(value));
  return parameters_.back().second;
}

void Module::add_child(const std::string& name, Module* module) {
  check(name.find('.') == std::string::npos, "register_module: name '{}' must not contain '.'", name);
  for (const auto& [existing, _] : children_)
    check(existing != name, "register_module: '{}' is already registered", name);
  children_.emplace_back(name, module);
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, p] : parameters_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> all, unique;
  collect("", all);
  std::set<const TensorImpl*> seen;  // a parameter shared by two submodules is listed once
  for (auto& entry : all)
    if (seen.insert(entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const auto& [name, p] : named_parameters()) out.emplace(name, p.detach());
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state) {
  const auto params = named_parameters();
  // validate everything before touching anything
  for (const auto& [name, p] : params) {
    const auto it = state.find(name);
    if (it == state.end())
      throw Error(
          fmt::format("load_state_dict: missing entry '{}' (expected shape {}) for {}", name, p.shape(), describe()));
    check(it->second.defined() && it->second.shape() == p.shape(),
          "load_state_dict: entry '{}' has shape {} but the parameter has shape {}", name,
          it->second.defined() ? it->second.shape() : Shape{}, p.shape());
    check(it->second.is_floating_point() || it->second.dtype() == p.dtype(),
          "load_state_dict: entry '{}' is {} but the parameter is {}", name, unroll::name(it->second.dtype()),
          unroll::name(p.dtype()));
  }
  if (state.size() != params.size()) {
    std::set<std::string> known;
    for (const auto& [name, _] : params) known.insert(name);
    for (const auto& [name, _] : state)
      if (!known.count(name))
        throw Error(fmt::format("load_state_dict: unexpected entry '{}' for {}", name, describe()));
  }
  NoGradGuard no_grad;
  for (auto& [name, p] : params) {
    // values converted to the parameter's dtype, as PyTorch's param.copy_(entry)
    const Tensor source = unroll::detail::cast(state.at(name), p.dtype());
    if (source.data_ptr() != p.data_ptr())
      std::memcpy(const_cast<Tensor&>(p).data_ptr(), source.data_ptr(),
                  static_cast<size_t>(p.numel() * p.element_size()));
  }
}

Module& Module::to(DType dtype) {
  check(is_floating_point(dtype), "Module::to: parameters must be floating, got {} for {}", unroll::name(dtype),
        describe());
  NoGradGuard no_grad;
  for (auto& [name, p] : named_parameters()) {
    if (p.dtype() == dtype) continue;
    // in place, so every handle on the parameter (optimizers, user code) sees the converted values
    TensorImpl& impl = *p.impl();
    impl.storage = unroll::detail::cast(p, dtype).impl()->storage;
    impl.dtype = dtype;
    if (impl.grad.defined()) impl.grad = unroll::detail::cast(impl.grad, dtype);
  }
  return *this;
}

void Module::print(std::string& out, const std::string& name, int depth) const {
  const std::string indent(2 * depth, ' ');
  out += indent + (name.empty() ? "" : "(" + name + "): ") + describe();
  const int64_t count = num_parameters();
  out += fmt::format("  [{} parameter{}]\n", count, count == 1 ? "" : "s");
  for (const auto& [pname, p] : parameters_) out += fmt::format("{}  {}: {}\n", indent, pname, p.shape());
  for (const auto& [cname, child] : children_) child->print(out, cname, depth + 1);
}

std::string Module::to_string() const {
  std::string out;
  print(out, "", 0);
  return out;
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.to_string(); }

}  // namespace unroll::layers
