#include "unroll/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <set>

#include "unroll/framework/detail/check.hpp"
#include "unroll/optim/detail/state.hpp"

namespace unroll::optim {

using detail::check;

using detail::state_flag;
using detail::state_int;
using detail::state_ints;
using detail::state_real;

namespace {

using detail::RealRange;

// One value of a state entry (load_state_dict checked its dtype and size), range-checked: a real number
// finite and in `range` (a learning rate or a factor: >= 0 unless said otherwise), a counter or period in
// [min, 2^53). `who` names the scheduler in the StateValueError thrown otherwise.
double real_at(const std::string& who, const StateDict& values, const std::string& key,
               const RealRange& range = detail::kNonNegative) {
  const double value = values.at(key).item<double>();
  detail::check_loaded_real(who, key, value, range);
  return value;
}
int64_t int_at(const std::string& who, const StateDict& values, const std::string& key, int64_t min = 0) {
  const int64_t value = values.at(key).item<int64_t>();
  detail::check_loaded_count(who, key, value, min);
  return value;
}

}  // namespace

// ---- Scheduler ---------------------------------------------------------------------------------------
Scheduler::Scheduler(Optimizer& optimizer) : optimizer_(optimizer), last_lr_(optimizer.lr()) {}

// Names: type.<Name> (bool true), last_epoch (int64), _last_lr (float64), then fields() (PyTorch's
// state_dict keys).
StateDict Scheduler::state_dict() const {
  StateDict out;
  out["type." + name()] = state_flag(true);
  out["last_epoch"] = state_int(last_epoch_);
  out["_last_lr"] = state_real(last_lr_);
  for (auto& [key, value] : fields()) out[key] = value;
  return out;
}

void Scheduler::load_state_dict(const StateDict& state) {
  const std::string me = name();
  for (const auto& [key, _] : state)
    if (key.rfind("type.", 0) == 0)
      check(key == "type." + me, "{}: load_state_dict: the state was saved by scheduler '{}', not '{}'", me,
            key.substr(5), me);
  check(state.count("type." + me), "{}: load_state_dict: missing entry 'type.{}'", me, me);
  detail::read_state_value(me, state, "type." + me, state_flag(true));

  Fields expected = fields();
  expected.emplace_back("last_epoch", state_int(0));
  expected.emplace_back("_last_lr", state_real(0));
  StateDict values;
  // each entry has the dtype and size of the current one; lists (milestones) may have any length
  for (const auto& [key, like] : expected)
    values[key] = detail::read_state_value(me, state, key, like, key == "milestones");
  for (const auto& [key, _] : state)
    check(key == "type." + me || values.count(key), "{}: load_state_dict: unexpected entry '{}'", me, key);

  const int64_t last_epoch = int_at(me, values, "last_epoch");  // a constructed scheduler has taken step 0
  const double last_lr = real_at(me, values, "_last_lr");
  try {
    set_fields(values);  // validates and commits the subclass's fields, or throws having changed nothing
  } catch (const detail::StateValueError&) {
    throw;
  } catch (const Error& e) {  // the options' own validation (each value was in range, not all of them together)
    detail::fail_loaded(me, "invalid options", e.what());
  }
  last_epoch_ = last_epoch;
  last_lr_ = last_lr;
}

// ---- LRScheduler -------------------------------------------------------------------------------------
LRScheduler::LRScheduler(Optimizer& optimizer) : Scheduler(optimizer) {
  // PyTorch: group.setdefault('initial_lr', group['lr']); base_lrs = [group['initial_lr']]
  if (!optimizer_.initial_lr()) optimizer_.set_initial_lr(optimizer_.lr());
  base_lr_ = *optimizer_.initial_lr();
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  optimizer_.set_lr(get_lr());
  last_lr_ = optimizer_.lr();
}

Scheduler::Fields LRScheduler::fields() const {
  Fields f = {{"_step_count", state_int(step_count_)}, {"base_lrs", state_real(base_lr_)}};
  for (auto& entry : schedule_fields()) f.push_back(std::move(entry));
  return f;
}

void LRScheduler::set_fields(const StateDict& values) {
  const int64_t step_count = int_at(name(), values, "_step_count");
  const double base_lr = real_at(name(), values, "base_lrs");
  set_schedule_fields(values);  // validates first; throws having changed nothing
  step_count_ = step_count;
  base_lr_ = base_lr;
}

// ---- StepLR ------------------------------------------------------------------------------------------
namespace {
void validate(const StepLROptions& o) { check(o.step_size > 0, "StepLR: step_size must be > 0, got {}", o.step_size); }
}  // namespace

StepLR::StepLR(Optimizer& optimizer, const StepLROptions& options) : LRScheduler(optimizer), options_(options) {
  validate(options_);
  initial_step();
}

double StepLR::get_lr() const {
  const double lr = optimizer_.lr();
  if (last_epoch_ == 0 || last_epoch_ % options_.step_size != 0) return lr;
  return lr * options_.gamma;  // every step_size epochs: lr <- lr gamma
}

Scheduler::Fields StepLR::schedule_fields() const {
  return {{"step_size", state_int(options_.step_size)}, {"gamma", state_real(options_.gamma)}};
}

void StepLR::set_schedule_fields(const StateDict& v) {
  StepLROptions o;
  o.step_size = int_at(name(), v, "step_size", 1);
  o.gamma = real_at(name(), v, "gamma");
  validate(o);
  options_ = o;
}

// ---- MultiStepLR -------------------------------------------------------------------------------------
MultiStepLR::MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& options)
    : LRScheduler(optimizer), options_(options) {
  std::sort(options_.milestones.begin(), options_.milestones.end());
  initial_step();
}

double MultiStepLR::get_lr() const {
  const double lr = optimizer_.lr();
  const auto hits = std::count(options_.milestones.begin(), options_.milestones.end(), last_epoch_);
  if (hits == 0) return lr;
  return lr * std::pow(options_.gamma, static_cast<double>(hits));  // at a milestone: lr <- lr gamma^(times listed)
}

Scheduler::Fields MultiStepLR::schedule_fields() const {
  return {{"milestones", state_ints(options_.milestones)}, {"gamma", state_real(options_.gamma)}};
}

void MultiStepLR::set_schedule_fields(const StateDict& v) {
  MultiStepLROptions o;
  o.milestones = v.at("milestones").to_vector<int64_t>();  // any epochs (only compared with last_epoch)
  std::sort(o.milestones.begin(), o.milestones.end());
  o.gamma = real_at(name(), v, "gamma");
  options_ = o;
}

// ---- ExponentialLR -----------------------------------------------------------------------------------
namespace {
void validate(const ExponentialLROptions& o) {
  check(o.gamma >= 0, "ExponentialLR: gamma is required and must be >= 0, got {}", o.gamma);
}
}  // namespace

ExponentialLR::ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options)
    : LRScheduler(optimizer), options_(options) {
  validate(options_);
  initial_step();
}

double ExponentialLR::get_lr() const {
  const double lr = optimizer_.lr();
  if (last_epoch_ == 0) return lr;
  return lr * options_.gamma;  // lr <- lr gamma
}

Scheduler::Fields ExponentialLR::schedule_fields() const { return {{"gamma", state_real(options_.gamma)}}; }

void ExponentialLR::set_schedule_fields(const StateDict& v) {
  ExponentialLROptions o;
  o.gamma = real_at(name(), v, "gamma");
  validate(o);
  options_ = o;
}

// ---- CosineAnnealingLR -------------------------------------------------------------------------------
namespace {
void validate(const CosineAnnealingLROptions& o) {
  check(o.T_max > 0, "CosineAnnealingLR: T_max must be > 0, got {}", o.T_max);
}
}  // namespace

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options)
    : LRScheduler(optimizer), options_(options) {
  validate(options_);
  initial_step();
}

double CosineAnnealingLR::get_lr() const {
  constexpr double pi = std::numbers::pi;
  const double lr = optimizer_.lr(), eta_min = options_.eta_min;
  const int64_t e = last_epoch_, T = options_.T_max;
  if (e == 0) return lr;
  // at the start of each rising half period: the closed form's increment from its minimum
  if ((e - 1 - T) % (2 * T) == 0) return lr + (base_lr_ - eta_min) * (1 - std::cos(pi / T)) / 2;
  // otherwise: the ratio of consecutive closed-form values, applied to the current lr
  return (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min) + eta_min;
}

Scheduler::Fields CosineAnnealingLR::schedule_fields() const {
  return {{"T_max", state_int(options_.T_max)}, {"eta_min", state_real(options_.eta_min)}};
}

void CosineAnnealingLR::set_schedule_fields(const StateDict& v) {
  CosineAnnealingLROptions o;
  o.T_max = int_at(name(), v, "T_max", 1);
  o.eta_min = real_at(name(), v, "eta_min");
  validate(o);
  options_ = o;
}

// ---- LinearLR ----------------------------------------------------------------------------------------
namespace {
void validate(const LinearLROptions& o) {
  check(o.start_factor > 0 && o.start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got {}", o.start_factor);
  check(o.end_factor >= 0 && o.end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got {}", o.end_factor);
  check(o.total_iters > 0, "LinearLR: total_iters must be > 0, got {}", o.total_iters);
}
}  // namespace

LinearLR::LinearLR(Optimizer& optimizer, const LinearLROptions& options) : LRScheduler(optimizer), options_(options) {
  validate(options_);
  initial_step();
}

double LinearLR::get_lr() const {
  const double lr = optimizer_.lr(), start = options_.start_factor, end = options_.end_factor;
  const int64_t e = last_epoch_, total = options_.total_iters;
  if (e == 0) return lr * start;  // epoch 0: base_lr start_factor
  if (e > total) return lr;       // after the ramp: unchanged
  // factor(e) / factor(e - 1), with factor(e) = start + (end - start) e / total
  return lr * (1 + (end - start) / (static_cast<double>(total) * start + static_cast<double>(e - 1) * (end - start)));
}

Scheduler::Fields LinearLR::schedule_fields() const {
  return {{"start_factor", state_real(options_.start_factor)},
          {"end_factor", state_real(options_.end_factor)},
          {"total_iters", state_int(options_.total_iters)}};
}

void LinearLR::set_schedule_fields(const StateDict& v) {
  LinearLROptions o;
  o.start_factor = real_at(name(), v, "start_factor", {.min = 0, .max = 1, .min_open = true});
  o.end_factor = real_at(name(), v, "end_factor", {.min = 0, .max = 1});
  o.total_iters = int_at(name(), v, "total_iters", 1);
  validate(o);
  options_ = o;
}

// ---- ReduceLROnPlateau -------------------------------------------------------------------------------
namespace {
void validate(const ReduceLROnPlateauOptions& o) {
  check(o.factor < 1, "ReduceLROnPlateau: factor should be < 1.0, got {}", o.factor);
  check(o.factor >= 0, "ReduceLROnPlateau: factor must be >= 0, got {}", o.factor);
  check(o.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got {}", o.patience);
  check(o.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got {}", o.cooldown);
  check(o.min_lr >= 0, "ReduceLROnPlateau: min_lr must be >= 0, got {}", o.min_lr);
}
double worst(PlateauMode mode) {
  return mode == PlateauMode::Min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}
}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : Scheduler(optimizer), options_(options), best_(worst(options.mode)) {
  validate(options_);
  last_epoch_ = 0;
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const double t = options_.threshold;
  if (options_.mode == PlateauMode::Min)
    return options_.threshold_mode == ThresholdMode::Rel ? a < best * (1 - t) : a < best - t;
  return options_.threshold_mode == ThresholdMode::Rel ? a > best * (t + 1) : a > best + t;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric, best_)) {  // improvement: remember it, reset the count
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {  // in cooldown: bad epochs do not count
    --cooldown_counter_;
    num_bad_epochs_ = 0;
  }
  if (num_bad_epochs_ > options_.patience) {  // plateau: lr <- max(lr factor, min_lr), if that changes it by > eps
    const double old_lr = optimizer_.lr();
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    if (old_lr - new_lr > options_.eps) optimizer_.set_lr(new_lr);
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_ = optimizer_.lr();
}

// mode (int64): 0 min, 1 max; threshold_mode (int64): 0 rel, 1 abs (PyTorch stores the strings)
Scheduler::Fields ReduceLROnPlateau::fields() const {
  return {{"mode", state_int(options_.mode == PlateauMode::Min ? 0 : 1)},
          {"factor", state_real(options_.factor)},
          {"patience", state_int(options_.patience)},
          {"threshold", state_real(options_.threshold)},
          {"threshold_mode", state_int(options_.threshold_mode == ThresholdMode::Rel ? 0 : 1)},
          {"cooldown", state_int(options_.cooldown)},
          {"min_lrs", state_real(options_.min_lr)},
          {"eps", state_real(options_.eps)},
          {"best", state_real(best_)},
          {"num_bad_epochs", state_int(num_bad_epochs_)},
          {"cooldown_counter", state_int(cooldown_counter_)}};
}

void ReduceLROnPlateau::set_fields(const StateDict& v) {
  const std::string me = name();
  ReduceLROnPlateauOptions o;
  const int64_t mode = v.at("mode").item<int64_t>(), threshold_mode = v.at("threshold_mode").item<int64_t>();
  if (mode != 0 && mode != 1)
    detail::fail_loaded(me, fmt::format("entry 'mode' must be 0 (min) or 1 (max), got {}", mode));
  if (threshold_mode != 0 && threshold_mode != 1)
    detail::fail_loaded(me, fmt::format("entry 'threshold_mode' must be 0 (rel) or 1 (abs), got {}", threshold_mode));
  o.mode = mode == 0 ? PlateauMode::Min : PlateauMode::Max;
  o.threshold_mode = threshold_mode == 0 ? ThresholdMode::Rel : ThresholdMode::Abs;
  o.factor = real_at(me, v, "factor", detail::kFraction);
  o.patience = int_at(me, v, "patience");
  o.threshold = real_at(me, v, "threshold", detail::kAnyReal);  // PyTorch does not bound threshold and eps
  o.cooldown = int_at(me, v, "cooldown");
  o.min_lr = real_at(me, v, "min_lrs");
  o.eps = real_at(me, v, "eps", detail::kAnyReal);
  validate(o);
  const int64_t bad = int_at(me, v, "num_bad_epochs");
  const int64_t cooldown_counter = int_at(me, v, "cooldown_counter");
  // the best metric so far: +-inf before the first step (the worst value), never NaN (is_better(NaN) is false)
  const double best = v.at("best").item<double>();
  if (std::isnan(best)) detail::fail_loaded(me, "entry 'best' must be a number (not NaN), got nan");
  options_ = o;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown_counter;
}

}  // namespace unroll::optim
