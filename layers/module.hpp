// unroll/layers/module.hpp: the Module base class every layer derives from.
//
// A Module owns parameters (leaf Tensors that require grad) and refers to submodules, each registered
// under a name, so a model's parameters have dotted names such as `encoder.rnn.weight_ih_l0` (the same
// keys PyTorch's state_dict() uses for the same model). Modules are neither copyable nor movable:
// submodules are plain members registered by address.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll::layers {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // All parameters of this module and its submodules, in registration order, each once.
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  int64_t num_parameters() const;  // total number of scalars

  void zero_grad();  // drop every parameter's accumulated gradient

  // Training mode (dropout active) is the default; eval() turns it off for this module and all submodules.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // name -> parameter values (detached handles sharing the parameters' buffers).
  std::map<std::string, Tensor> state_dict() const;
  // Copies values into the parameters. Every entry is validated first: a missing or unexpected name, or a
  // wrong shape, throws unroll::Error naming the entry, and then no parameter has changed.
  void load_state_dict(const std::map<std::string, Tensor>& state);

  // Converts every parameter (and its gradient) to a floating dtype in place, as torch's module.to(dtype):
  // handles held elsewhere (an optimizer's) see the new values. Returns *this.
  Module& to(DType dtype);

  // A tree of the module and its submodules with parameter shapes and counts.
  std::string to_string() const;
  // One line describing this module, e.g. "Linear(in_features=8, out_features=4, bias=true)".
  virtual std::string describe() const = 0;

 protected:
  // Registers `value` as a parameter (turning on requires_grad) and returns the stored handle.
  Tensor& register_parameter(const std::string& name, Tensor value);
  // Registers a submodule that lives as long as this module (usually a member). Returns it.
  template <class M>
  M& register_module(const std::string& name, M& module) {
    add_child(name, &module);
    return module;
  }
  void add_child(const std::string& name, Module* module);

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  void print(std::string& out, const std::string& name, int depth) const;

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

// Modules that map one tensor to one tensor (Linear, activations, Sequential...).
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace unroll::layers
