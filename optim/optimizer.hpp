// unroll/optim/optimizer.hpp: the Optimizer base class shared by SGD, Adam, AdamW, RMSprop and Adagrad.
//
//   optim::Adam opt(model.parameters(), {.lr = 2e-3});
//   for (...) {
//     opt.zero_grad();
//     loss.backward();
//     opt.step();            // one update of every parameter that has a gradient
//   }
//
// An optimizer holds handles to its parameters (the same tensors the model holds) and, per parameter, the
// state PyTorch keeps in optimizer.state[p]: a step counter and parameter-shaped buffers (momentum, moment
// estimates...). step() writes the new values into p.data() in place under NoGradGuard, so the model's
// parameter handles stay valid. Parameters whose gradient is undefined are skipped, as in PyTorch.
//
// The update rules, option names and defaults are PyTorch 1.13's (torch.optim); each step() is written
// line by line after the equations in PyTorch's documentation. Scalars (lr, betas, bias corrections) are
// computed in double, as Python does, and the elementwise updates in the parameter's dtype (float32 or
// float64); the state buffers have the parameter's dtype too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll::optim {

// What an optimizer remembers about one parameter between steps (PyTorch's optimizer.state[p]).
struct ParamState {
  bool initialized = false;               // set by the first step that updated the parameter (Adagrad: at construction)
  int64_t step = 0;                       // number of updates applied to this parameter
  std::map<std::string, Tensor> buffers;  // parameter-shaped state under PyTorch's names ("exp_avg", ...)
};

// A flat, name-keyed snapshot of an optimizer's or a scheduler's state, as save()/load() write it to a
// .npz file (optim/checkpoint.hpp documents the names). Every entry is a tensor whose dtype says what it
// holds, as PyTorch's state_dict() keeps tensors and Python ints, floats and bools apart:
//   parameter-shaped buffers (exp_avg, momentum_buffer...)   the parameter's dtype
//   counters and integer options (step, last_epoch, milestones...)   int64
//   flags (amsgrad, nesterov, the type.<Name> marker...)      bool
//   real numbers (lr, betas, best...)                          float64, so a resumed run is bit-identical
// Single values are rank 0, lists (betas, milestones) 1-D.
using StateDict = std::map<std::string, Tensor>;

class Optimizer {
 public:
  // `params` are typically module.parameters(). Each must be a defined leaf tensor, listed once.
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter whose gradient is defined.
  virtual void step() = 0;
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)): a parameter that receives
  // no gradient before the next step() is then skipped by it.
  void zero_grad();

  // The learning rate used by the next step(); schedules change it through set_lr().
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  // The learning rate before any schedule changed it (PyTorch's param_group['initial_lr']): set by the
  // first scheduler attached to this optimizer and shared by all of them (their base lr).
  std::optional<double> initial_lr() const { return initial_lr_; }
  void set_initial_lr(double lr) { initial_lr_ = lr; }

  virtual std::string name() const = 0;  // "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"
  const std::vector<Tensor>& parameters() const { return params_; }
  const ParamState& state(size_t i) const;  // state of parameters()[i]

  // The state as saved to a checkpoint: a type marker, the hyperparameters (lr included), and every
  // initialized parameter's step counter and buffers (names in optim/checkpoint.hpp). The tensors share
  // the optimizer's buffers (like PyTorch's state_dict()); load_state_dict copies.
  StateDict state_dict() const;
  // Restores state_dict() output (of the same kind of optimizer over parameters of the same shapes and
  // dtypes), hyperparameters included. Everything is validated first: a missing or unexpected entry, or one
  // of the wrong shape or dtype, throws unroll::Error naming it, and then nothing has changed. (A float64
  // entry where int64 or bool belongs is read when it holds integers / 0 and 1: files written before
  // checkpoints kept dtypes stored every number that way.)
  void load_state_dict(const StateDict& state);

 protected:
  // A hyperparameter under its PyTorch param_group key: "lr" (float64), "betas" (float64 [2]), "amsgrad"
  // (bool)... (the entry helpers of optim/detail/state.hpp make these tensors).
  struct Hyperparameter {
    std::string name;
    Tensor value;
  };
  virtual std::vector<Hyperparameter> hyperparameters() const = 0;
  // Sets the options from values with the names, dtypes and sizes hyperparameters() returns (load_state_dict
  // checked them); validates them as the constructor does (throws unroll::Error and changes nothing on a
  // bad value).
  virtual void set_hyperparameters(const StateDict& values) = 0;
  // Names of the buffers every initialized parameter state holds under the current options.
  virtual std::vector<std::string> buffer_names() const = 0;

  ParamState& mutable_state(size_t i) { return state_[i]; }
  // The buffer `name` of parameter i, created as zeros of the parameter's shape if missing.
  Tensor& buffer(size_t i, const std::string& name);

  std::vector<Tensor> params_;
  std::vector<ParamState> state_;
  std::optional<double> initial_lr_;
};

}  // namespace unroll::optim
