// Cross-check of the optimizers, LR schedules and gradient clipping against PyTorch 1.13.
//
// tests/gen_optim_fixtures.py writes tests/fixtures/optim_reference.txt (computed in float64 by torch):
//   - optimizer trajectories: two parameters, 8 steps of given gradients (some None: the parameter is
//     skipped that step), the parameters after every step;
//   - the lr after construction and after each of 25 schedule steps (ReduceLROnPlateau: with metrics);
//   - gradients before and after clip_grad_norm_ / clip_grad_value_, and the returned norm.
// Option values are in the case names; the tables below repeat them. The optimizer and clipping cases run
// twice, on float32 and on float64 parameters (the fixture's inputs are float32-representable, so both
// start from the same values). Every value must agree to |a - b| <= tol * max(1, |b|): tol = 1e-5 for
// float32 and 1e-11 for float64, which shows the update rules are the same equations, not just close.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;

namespace {

constexpr double kTolerance32 = 1e-5, kTolerance64 = 1e-11;
constexpr int kSteps = 8;

double tolerance(DType dtype) { return dtype == kFloat64 ? kTolerance64 : kTolerance32; }
constexpr int kScheduleSteps = 25;

const unroll_test::Fixtures& fixtures() {
  static const unroll_test::Fixtures f = unroll_test::load_fixtures(UNROLL_FIXTURES_DIR "/optim_reference.txt");
  return f;
}

// The fixture's values (doubles) as a tensor of `dtype`.
Tensor to_tensor(const unroll_test::FixtureTensor& f, DType dtype) {
  return tensor(f.values, Shape(f.shape.begin(), f.shape.end()), dtype);
}

// A tensor's values as doubles, whatever its floating dtype.
std::vector<double> values_of(const Tensor& t) { return t.to(kFloat64).to_vector<double>(); }

// Largest error per family and dtype, e.g. "adam float32" (reported at the end), with its tolerance.
struct Worst {
  double error = 0;
  std::string where;
  double tolerance = 0;
};
std::map<std::string, Worst> g_worst;

// Compares values to tolerance `tol`; returns "" or a description of the first mismatch. Records the
// largest error of `family`.
std::string compare(const std::string& family, double tol, const std::string& where, const std::vector<double>& got,
                    const std::vector<double>& want) {
  if (got.size() != want.size())
    return where + ": size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
  auto& worst = g_worst[family];
  worst.tolerance = tol;
  for (size_t k = 0; k < got.size(); ++k) {
    const double err = std::abs(got[k] - want[k]) / std::max(1.0, std::abs(want[k]));
    if (err > worst.error) worst = {err, where, tol};
    if (!(err <= tol)) {
      std::ostringstream os;
      os.precision(17);
      os << where << "[" << k << "]: unroll " << got[k] << " vs torch " << want[k] << " (error " << err << ")";
      return os.str();
    }
  }
  return "";
}

std::string family_of(const std::string& name) { return name.substr(0, name.find('_')); }

// ---- optimizers ----------------------------------------------------------------------------------------
using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

template <class Opt, class Options>
MakeOptimizer make(Options options) {
  return [options](std::vector<Tensor> params) { return std::make_unique<Opt>(std::move(params), options); };
}

const std::map<std::string, MakeOptimizer>& optimizer_table() {
  using namespace optim;
  static const std::map<std::string, MakeOptimizer> t = {
      {"sgd_plain", make<SGD>(SGDOptions{.lr = 0.1})},
      {"sgd_momentum", make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9})},
      {"sgd_dampening", make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.3})},
      {"sgd_nesterov", make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true})},
      {"sgd_weight_decay", make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.5, .weight_decay = 0.01})},
      {"sgd_maximize", make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .maximize = true})},
      {"adam_default", make<Adam>(AdamOptions{})},
      {"adam_lr", make<Adam>(AdamOptions{.lr = 0.02})},
      {"adam_amsgrad", make<Adam>(AdamOptions{.lr = 0.01, .amsgrad = true})},
      {"adam_weight_decay", make<Adam>(AdamOptions{.lr = 0.01, .weight_decay = 0.1})},
      {"adam_betas_eps", make<Adam>(AdamOptions{.lr = 0.02, .betas = {0.8, 0.99}, .eps = 1e-6})},
      {"adamw_default", make<AdamW>(AdamWOptions{})},
      {"adamw_amsgrad", make<AdamW>(AdamWOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true})},
      {"rmsprop_plain", make<RMSprop>(RMSpropOptions{})},
      {"rmsprop_momentum", make<RMSprop>(RMSpropOptions{.lr = 0.01, .momentum = 0.9})},
      {"rmsprop_centered", make<RMSprop>(RMSpropOptions{.lr = 0.01, .centered = true})},
      {"rmsprop_centered_momentum_wd",
       make<RMSprop>(RMSpropOptions{.lr = 0.01, .alpha = 0.9, .weight_decay = 0.1, .momentum = 0.5, .centered = true})},
      {"adagrad_default", make<Adagrad>(AdagradOptions{})},
      {"adagrad_lr_decay", make<Adagrad>(AdagradOptions{.lr = 0.1, .lr_decay = 0.05})},
      {"adagrad_wd_init",
       make<Adagrad>(AdagradOptions{.lr = 0.1, .weight_decay = 0.1, .initial_accumulator_value = 0.5, .eps = 1e-6})},
  };
  return t;
}

// Runs a case on parameters of `dtype` (float32 or float64).
std::string run_optimizer_case(const unroll_test::Case& c, const MakeOptimizer& make_optimizer, DType dtype) {
  const std::string family = family_of(c.name) + " " + name(dtype);
  std::vector<Tensor> params = {to_tensor(c.at("init0"), dtype), to_tensor(c.at("init1"), dtype)};
  for (Tensor& p : params) p.requires_grad_();
  const std::vector<Tensor> handles = params;  // the optimizer must update these very tensors
  auto opt = make_optimizer(params);
  for (int step = 0; step < kSteps; ++step) {
    opt->zero_grad();
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string role = "g" + std::to_string(step) + "_" + std::to_string(i);
      if (!c.has(role)) continue;  // torch set this gradient to None
      // a real backward pass deposits the gradient: sum(p * g) has gradient g
      sum(mul(params[i], to_tensor(c.at(role), dtype))).backward();
    }
    opt->step();
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string role = "p" + std::to_string(step) + "_" + std::to_string(i);
      if (handles[i].dtype() != dtype) return c.name + " " + role + ": the parameter's dtype changed";
      const std::string problem =
          compare(family, tolerance(dtype), c.name + " " + role, values_of(handles[i]), c.at(role).values);
      if (!problem.empty()) return problem;
    }
  }
  return "";
}

// ---- schedules -----------------------------------------------------------------------------------------
struct ScheduleRun {
  std::unique_ptr<optim::SGD> opt;
  std::vector<std::unique_ptr<optim::LRScheduler>> schedules;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau;
};
using MakeSchedule = std::function<void(ScheduleRun&)>;

const std::map<std::string, MakeSchedule>& schedule_table() {
  using namespace optim;
  static const std::map<std::string, MakeSchedule> t = {
      {"steplr",
       [](ScheduleRun& r) {
         r.schedules.push_back(std::make_unique<StepLR>(*r.opt, StepLROptions{.step_size = 3, .gamma = 0.5}));
       }},
      {"multisteplr",
       [](ScheduleRun& r) {
         r.schedules.push_back(
             std::make_unique<MultiStepLR>(*r.opt, MultiStepLROptions{.milestones = {9, 2, 5, 5}, .gamma = 0.3}));
       }},
      {"exponentiallr",
       [](ScheduleRun& r) {
         r.schedules.push_back(std::make_unique<ExponentialLR>(*r.opt, ExponentialLROptions{.gamma = 0.9}));
       }},
      {"cosine",
       [](ScheduleRun& r) {
         r.schedules.push_back(
             std::make_unique<CosineAnnealingLR>(*r.opt, CosineAnnealingLROptions{.T_max = 10, .eta_min = 0.001}));
       }},
      {"cosine_eta0",
       [](ScheduleRun& r) {
         r.schedules.push_back(std::make_unique<CosineAnnealingLR>(*r.opt, CosineAnnealingLROptions{.T_max = 7}));
       }},
      {"linearlr_default", [](ScheduleRun& r) { r.schedules.push_back(std::make_unique<LinearLR>(*r.opt)); }},
      {"linearlr_warmup",
       [](ScheduleRun& r) {
         r.schedules.push_back(std::make_unique<LinearLR>(
             *r.opt, LinearLROptions{.start_factor = 0.1, .end_factor = 1.0, .total_iters = 8}));
       }},
      {"linearlr_decay",
       [](ScheduleRun& r) {
         r.schedules.push_back(std::make_unique<LinearLR>(
             *r.opt, LinearLROptions{.start_factor = 1.0, .end_factor = 0.2, .total_iters = 10}));
       }},
      {"warmup_cosine",
       [](ScheduleRun& r) {
         r.schedules.push_back(
             std::make_unique<LinearLR>(*r.opt, LinearLROptions{.start_factor = 0.2, .total_iters = 5}));
         r.schedules.push_back(std::make_unique<CosineAnnealingLR>(*r.opt, CosineAnnealingLROptions{.T_max = 20}));
       }},
      {"plateau_min_rel",
       [](ScheduleRun& r) {
         r.plateau = std::make_unique<ReduceLROnPlateau>(
             *r.opt,
             ReduceLROnPlateauOptions{.factor = 0.5, .patience = 2, .threshold = 0.01, .cooldown = 1, .min_lr = 0.01});
       }},
      {"plateau_max_abs",
       [](ScheduleRun& r) {
         r.plateau = std::make_unique<ReduceLROnPlateau>(
             *r.opt, ReduceLROnPlateauOptions{.mode = PlateauMode::Max,
                                              .factor = 0.3,
                                              .patience = 1,
                                              .threshold = 0.1,
                                              .threshold_mode = ThresholdMode::Abs});
       }},
  };
  return t;
}

std::string run_schedule_case(const unroll_test::Case& c, const MakeSchedule& make_schedule) {
  Tensor p = zeros({2});
  p.requires_grad_();
  ScheduleRun run;
  run.opt = std::make_unique<optim::SGD>(std::vector<Tensor>{p}, optim::SGDOptions{.lr = 0.1});
  make_schedule(run);
  std::vector<double> lrs_exact = {run.opt->lr()};
  for (int step = 0; step < kScheduleSteps; ++step) {
    run.opt->step();
    if (run.plateau) {
      run.plateau->step(c.at("metrics").values[step]);
      if (run.plateau->get_last_lr() != run.opt->lr())
        return c.name + ": get_last_lr() differs from the optimizer's lr";
    } else {
      for (auto& s : run.schedules) s->step();
      if (run.schedules.back()->get_last_lr() != run.opt->lr())
        return c.name + ": get_last_lr() differs from the optimizer's lr";
    }
    lrs_exact.push_back(run.opt->lr());
  }
  // lrs are doubles on both sides: compared as doubles, relative to max(|lr|, 1e-3) (the base lr is 0.1)
  const std::vector<double>& want = c.at("lrs").values;
  if (want.size() != lrs_exact.size()) return c.name + ": wrong number of lrs in the fixture";
  auto& worst = g_worst["schedule"];
  worst.tolerance = 1e-12;
  for (size_t k = 0; k < want.size(); ++k) {
    const double err = std::abs(lrs_exact[k] - want[k]) / std::max(std::abs(want[k]), 1e-3);  // lrs reach 0
    if (err > worst.error) worst = {err, c.name + " lr " + std::to_string(k), 1e-12};
    if (!(err <= 1e-12)) {
      std::ostringstream os;
      os.precision(17);
      os << c.name << " lr after step " << k << ": unroll " << lrs_exact[k] << " vs torch " << want[k];
      return os.str();
    }
  }
  return "";
}

// ---- clipping ------------------------------------------------------------------------------------------
struct ClipSpec {
  bool norm;
  double limit;
  double norm_type;
};

const std::map<std::string, ClipSpec>& clip_table() {
  static const std::map<std::string, ClipSpec> t = {
      {"clip_norm_2", {true, 1.0, 2.0}},        {"clip_norm_1", {true, 2.0, 1.0}},
      {"clip_norm_3", {true, 0.5, 3.0}},        {"clip_norm_inf", {true, 0.3, optim::kInfNorm}},
      {"clip_norm_noclip", {true, 100.0, 2.0}}, {"clip_value", {false, 0.5, 0}},
  };
  return t;
}

// Runs a case on gradients of `dtype` (float32 or float64).
std::string run_clip_case(const unroll_test::Case& c, const ClipSpec& spec, DType dtype) {
  const std::string family = std::string("clip ") + name(dtype);
  const double tol = tolerance(dtype);
  std::vector<Tensor> params;
  for (int i = 0; c.has("in" + std::to_string(i)); ++i) {
    const Tensor g = to_tensor(c.at("in" + std::to_string(i)), dtype);
    Tensor p = zeros(g.shape(), dtype);
    p.requires_grad_();
    sum(mul(p, g)).backward();
    params.push_back(p);
  }
  if (spec.norm) {
    const double norm = optim::clip_grad_norm(params, spec.limit, spec.norm_type);
    const std::string problem = compare(family, tol, c.name + " norm", {norm}, c.at("norm").values);
    if (!problem.empty()) return problem;
  } else {
    optim::clip_grad_value(params, spec.limit);
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].grad().dtype() != dtype) return c.name + ": the gradient's dtype changed";
    const std::string problem = compare(family, tol, c.name + " out" + std::to_string(i), values_of(params[i].grad()),
                                        c.at("out" + std::to_string(i)).values);
    if (!problem.empty()) return problem;
  }
  return "";
}

}  // namespace

TEST_CASE("every fixture case has a C++ entry and every entry a fixture case") {
  const auto& cases = fixtures();
  CHECK(cases.size() == optimizer_table().size() + schedule_table().size() + clip_table().size());
  for (const auto& [name, c] : cases)
    CHECK_MESSAGE(optimizer_table().count(name) + schedule_table().count(name) + clip_table().count(name) == 1,
                  "fixture case '" << name << "' has no C++ entry");
  auto in_fixtures = [&](const std::string& name) {
    CHECK_MESSAGE(cases.count(name) == 1, "'" << name << "' has no fixture case (re-run tests/gen_optim_fixtures.py?)");
  };
  for (const auto& [name, _] : optimizer_table()) in_fixtures(name);
  for (const auto& [name, _] : schedule_table()) in_fixtures(name);
  for (const auto& [name, _] : clip_table()) in_fixtures(name);
}

TEST_CASE("optimizer trajectories agree with PyTorch (including skipped parameters), in float32 and float64") {
  for (const DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(name(dtype));
    int passed = 0;
    for (const auto& [case_name, make_optimizer] : optimizer_table()) {
      if (!fixtures().count(case_name)) continue;
      const std::string problem = run_optimizer_case(fixtures().at(case_name), make_optimizer, dtype);
      CHECK_MESSAGE(problem.empty(), problem);
      passed += problem.empty();
    }
    CHECK(passed == 20);
  }
}

TEST_CASE("learning-rate schedules agree with PyTorch") {
  int passed = 0;
  for (const auto& [name, make_schedule] : schedule_table()) {
    if (!fixtures().count(name)) continue;
    const std::string problem = run_schedule_case(fixtures().at(name), make_schedule);
    CHECK_MESSAGE(problem.empty(), problem);
    passed += problem.empty();
  }
  CHECK(passed == 11);
}

TEST_CASE("gradient clipping agrees with PyTorch, in float32 and float64") {
  for (const DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(name(dtype));
    int passed = 0;
    for (const auto& [case_name, spec] : clip_table()) {
      if (!fixtures().count(case_name)) continue;
      const std::string problem = run_clip_case(fixtures().at(case_name), spec, dtype);
      CHECK_MESSAGE(problem.empty(), problem);
      passed += problem.empty();
    }
    CHECK(passed == 6);
  }
}

// The float64 runs must be far closer to torch's float64 values than float32 can be: the same equations
// in the same order, not merely a nearby computation. (Were the float64 path computing in float32 anywhere,
// its errors would be ~1e-7.)
TEST_CASE("float64 trajectories match torch to 1e-11, float32 ones only to float32 rounding") {
  for (const auto& [case_name, make_optimizer] : optimizer_table()) {
    if (!fixtures().count(case_name)) continue;
    run_optimizer_case(fixtures().at(case_name), make_optimizer, kFloat32);
    run_optimizer_case(fixtures().at(case_name), make_optimizer, kFloat64);
  }
  double worst32 = 0, worst64 = 0;
  for (const auto& [family, worst] : g_worst) {
    if (family.find(" float32") != std::string::npos) worst32 = std::max(worst32, worst.error);
    if (family.find(" float64") != std::string::npos) worst64 = std::max(worst64, worst.error);
  }
  CHECK(worst64 <= kTolerance64);
  CHECK(worst32 > 1e-9);  // float32 rounding shows: the two runs really used different dtypes
}

TEST_CASE("report: largest deviation from PyTorch per family") {
  for (const auto& [family, worst] : g_worst)
    MESSAGE(family << ": largest relative error " << worst.error << " (" << worst.where << "), tolerance "
                   << worst.tolerance);
}
