// unroll/optim/schedule.hpp: learning-rate schedules (PyTorch's torch.optim.lr_scheduler).
//
//   optim::SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
//   optim::StepLR schedule(opt, {.step_size = 30, .gamma = 0.1});
//   for (int epoch = 0; epoch < 100; ++epoch) {
//     train_one_epoch(opt);       // calls opt.step()
//     schedule.step();            // after opt.step(), as in PyTorch >= 1.1
//   }
//
// A scheduler changes its optimizer's lr (Optimizer::set_lr) and must not outlive it. Semantics are
// PyTorch 1.13's, including the "chainable" form: each step() computes the new lr from the optimizer's
// current lr, so several schedulers stepped together compose (PyTorch's ChainedScheduler). Constructing a
// scheduler performs PyTorch's initial step (last_epoch becomes 0 and the lr for epoch 0 is set).
//
// Warm-up: LinearLR multiplies the lr by a factor going linearly from start_factor to end_factor over
// total_iters steps. For warm-up followed by another schedule, create both on the same optimizer and call
// both step()s every iteration, warm-up first:
//
//   optim::LinearLR warmup(opt, {.start_factor = 0.1, .total_iters = 100});
//   optim::CosineAnnealingLR cosine(opt, {.T_max = 1000});
//   ... opt.step(); warmup.step(); cosine.step();
//
// lr = base_lr * warm-up factor * cosine factor (exactly what PyTorch's ChainedScheduler computes).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "unroll/optim/optimizer.hpp"

namespace unroll::optim {

// Base of every scheduler: the optimizer it drives, the epoch counter, the last lr it set, and its state
// for checkpoints (names in optim/checkpoint.hpp).
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  double get_last_lr() const { return last_lr_; }  // the lr the last step() left on the optimizer
  int64_t last_epoch() const { return last_epoch_; }
  Optimizer& optimizer() const { return optimizer_; }
  virtual std::string name() const = 0;  // "StepLR", ...

  StateDict state_dict() const;
  // Restores state_dict() output of the same kind of scheduler (counters and options). Everything is
  // validated first; a missing or unexpected entry, or one of the wrong dtype or size, throws unroll::Error
  // and changes nothing. (Counters and options stored as float64 integers, as files written before
  // checkpoints kept dtypes hold them, are read.) Does not change the optimizer's lr: load the optimizer's
  // own state for that.
  void load_state_dict(const StateDict& state);

 protected:
  explicit Scheduler(Optimizer& optimizer);
  // Entries in the dtypes of StateDict (optim/optimizer.hpp): counters and integer options int64, real
  // numbers float64 (made with the helpers of optim/detail/state.hpp).
  using Fields = std::vector<std::pair<std::string, Tensor>>;
  // Everything the subclass saves beyond last_epoch and _last_lr, under PyTorch's state_dict keys.
  virtual Fields fields() const = 0;
  // Sets them from values that load_state_dict found present with the names, dtypes and sizes fields()
  // returns; validates the values and throws unroll::Error before changing anything.
  virtual void set_fields(const StateDict& values) = 0;

  Optimizer& optimizer_;
  int64_t last_epoch_ = -1;
  double last_lr_ = 0;
};

// Schedules stepped once per epoch (or iteration) without a metric.
class LRScheduler : public Scheduler {
 public:
  // last_epoch += 1; the optimizer's lr becomes get_lr() (PyTorch's chainable form).
  void step();
  double base_lr() const { return base_lr_; }  // the optimizer's initial_lr

 protected:
  explicit LRScheduler(Optimizer& optimizer);  // sets the optimizer's initial_lr if no scheduler did
  void initial_step();  // PyTorch's _initial_step(): subclasses call it at the end of their constructor
  // The lr for epoch last_epoch_ given the optimizer's current lr (the one set for the previous epoch).
  virtual double get_lr() const = 0;
  virtual Fields schedule_fields() const = 0;
  virtual void set_schedule_fields(const StateDict& values) = 0;

  double base_lr_ = 0;
  int64_t step_count_ = 0;

 private:
  Fields fields() const final;
  void set_fields(const StateDict& values) final;
};

// ---- StepLR: lr * gamma every step_size epochs ------------------------------------------------------
struct StepLROptions {
  int64_t step_size = 0;  // period of the decay, in epochs; required (> 0)
  double gamma = 0.1;     // multiplicative factor
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, const StepLROptions& options);
  std::string name() const override { return "StepLR"; }
  const StepLROptions& options() const { return options_; }

 protected:
  double get_lr() const override;
  Fields schedule_fields() const override;
  void set_schedule_fields(const StateDict& values) override;

 private:
  StepLROptions options_;
};

// ---- MultiStepLR: lr * gamma at each milestone epoch ------------------------------------------------
struct MultiStepLROptions {
  std::vector<int64_t> milestones;  // epochs at which to decay (a milestone listed twice decays twice)
  double gamma = 0.1;               // multiplicative factor
};

class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& options);
  std::string name() const override { return "MultiStepLR"; }
  const MultiStepLROptions& options() const { return options_; }

 protected:
  double get_lr() const override;
  Fields schedule_fields() const override;
  void set_schedule_fields(const StateDict& values) override;

 private:
  MultiStepLROptions options_;
};

// ---- ExponentialLR: lr * gamma every epoch ----------------------------------------------------------
struct ExponentialLROptions {
  double gamma = -1;  // multiplicative factor per epoch; required (>= 0)
};

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options);
  std::string name() const override { return "ExponentialLR"; }
  const ExponentialLROptions& options() const { return options_; }

 protected:
  double get_lr() const override;
  Fields schedule_fields() const override;
  void set_schedule_fields(const StateDict& values) override;

 private:
  ExponentialLROptions options_;
};

// ---- CosineAnnealingLR: eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2 ----------------
// Computed with PyTorch's recursive (chainable) formula; past T_max the lr rises again (a cosine with
// period 2 T_max), as in PyTorch.
struct CosineAnnealingLROptions {
  int64_t T_max = 0;   // half period, in epochs; required (> 0)
  double eta_min = 0;  // minimum lr
};

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options);
  std::string name() const override { return "CosineAnnealingLR"; }
  const CosineAnnealingLROptions& options() const { return options_; }

 protected:
  double get_lr() const override;
  Fields schedule_fields() const override;
  void set_schedule_fields(const StateDict& values) override;

 private:
  CosineAnnealingLROptions options_;
};

// ---- LinearLR (linear warm-up): lr * factor, factor linear from start_factor to end_factor ---------
// Epoch e <= total_iters: base_lr * (start_factor + (end_factor - start_factor) * e / total_iters);
// afterwards base_lr * end_factor (computed with PyTorch's chainable formula).
struct LinearLROptions {
  double start_factor = 1.0 / 3;  // factor at epoch 0, in (0, 1]
  double end_factor = 1.0;        // factor from epoch total_iters on, in [0, 1]
  int64_t total_iters = 5;        // length of the ramp, in epochs (> 0)
};

class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, const LinearLROptions& options = {});
  std::string name() const override { return "LinearLR"; }
  const LinearLROptions& options() const { return options_; }

 protected:
  double get_lr() const override;
  Fields schedule_fields() const override;
  void set_schedule_fields(const StateDict& values) override;

 private:
  LinearLROptions options_;
};

// ---- ReduceLROnPlateau: lr * factor when a metric stops improving -----------------------------------
enum class PlateauMode { Min, Max };    // the metric should decrease (loss) / increase (accuracy)
enum class ThresholdMode { Rel, Abs };  // improvement means beyond best * (1 -/+ threshold) / best -/+ threshold

struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::Min;
  double factor = 0.1;      // new lr = lr * factor (< 1)
  int64_t patience = 10;    // epochs without improvement tolerated before reducing
  double threshold = 1e-4;  // what counts as an improvement (see ThresholdMode)
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  int64_t cooldown = 0;  // epochs to wait after a reduction before counting again
  double min_lr = 0;     // lower bound on the lr
  double eps = 1e-8;     // reductions smaller than this are skipped
};

class ReduceLROnPlateau : public Scheduler {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  // Call once per epoch with the validation metric (after optimizer.step()).
  void step(double metric);
  std::string name() const override { return "ReduceLROnPlateau"; }
  const ReduceLROnPlateauOptions& options() const { return options_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }

 protected:
  Fields fields() const override;
  void set_fields(const StateDict& values) override;

 private:
  bool is_better(double a, double best) const;
  ReduceLROnPlateauOptions options_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
};

}  // namespace unroll::optim
