// optim schedules: values by hand, chaining (warm-up + cosine), ReduceLROnPlateau's counters, state round
// trips, errors. (Agreement with PyTorch over 25 steps each: test_optim_vs_torch.)
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "helpers.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;
using unroll_test::param;

namespace {

// lr after construction, then after each of `steps` step() calls
template <class S>
std::vector<double> lrs(optim::Optimizer& opt, S& schedule, int steps) {
  std::vector<double> out = {opt.lr()};
  for (int i = 0; i < steps; ++i) {
    opt.step();
    schedule.step();
    out.push_back(opt.lr());
    CHECK(schedule.get_last_lr() == opt.lr());
  }
  return out;
}

void check_lrs(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    CHECK_MESSAGE(got[i] == doctest::Approx(want[i]).epsilon(1e-12), "epoch " << i);
}

}  // namespace

TEST_CASE("StepLR, MultiStepLR, ExponentialLR by hand") {
  Tensor p = param({0});
  {
    optim::SGD opt({p}, {.lr = 1});
    optim::StepLR s(opt, {.step_size = 2, .gamma = 0.5});
    check_lrs(lrs(opt, s, 5), {1, 1, 0.5, 0.5, 0.25, 0.25});
    CHECK(s.last_epoch() == 5);
    CHECK(s.base_lr() == 1);
  }
  {
    optim::SGD opt({p}, {.lr = 1});
    optim::MultiStepLR s(opt, {.milestones = {3, 1, 3}, .gamma = 0.1});
    check_lrs(lrs(opt, s, 4), {1, 0.1, 0.1, 0.001, 0.001});
  }
  {
    optim::SGD opt({p}, {.lr = 2});
    optim::ExponentialLR s(opt, {.gamma = 0.5});
    check_lrs(lrs(opt, s, 3), {2, 1, 0.5, 0.25});
  }
}

TEST_CASE("CosineAnnealingLR follows the closed form, reaches eta_min at T_max and rises again") {
  Tensor p = param({0});
  optim::SGD opt({p}, {.lr = 1});
  optim::CosineAnnealingLR s(opt, {.T_max = 4, .eta_min = 0.1});
  const std::vector<double> got = lrs(opt, s, 8);
  for (int e = 0; e <= 8; ++e)
    CHECK(got[e] == doctest::Approx(0.1 + 0.9 * (1 + std::cos(std::numbers::pi * e / 4)) / 2).epsilon(1e-12));
  CHECK(got[4] == doctest::Approx(0.1));
  CHECK(got[8] == doctest::Approx(1.0));
}

TEST_CASE("LinearLR warms up linearly, then holds") {
  Tensor p = param({0});
  optim::SGD opt({p}, {.lr = 0.8});
  optim::LinearLR s(opt, {.start_factor = 0.25, .end_factor = 1.0, .total_iters = 3});
  check_lrs(lrs(opt, s, 5), {0.2, 0.4, 0.6, 0.8, 0.8, 0.8});
}

TEST_CASE("chained warm-up and cosine: lr = base * warm-up factor * cosine factor; both share initial_lr") {
  Tensor p = param({0});
  optim::SGD opt({p}, {.lr = 1});
  optim::LinearLR warmup(opt, {.start_factor = 0.5, .total_iters = 2});
  optim::CosineAnnealingLR cosine(opt, {.T_max = 10});
  CHECK(opt.initial_lr().value() == 1);
  CHECK(cosine.base_lr() == 1);  // not the warmed-down 0.5
  CHECK(opt.lr() == 0.5);
  for (int e = 1; e <= 6; ++e) {
    opt.step();
    warmup.step();
    cosine.step();
    const double warm = e >= 2 ? 1.0 : 0.5 + 0.5 * e / 2;
    CHECK(opt.lr() == doctest::Approx(warm * (1 + std::cos(std::numbers::pi * e / 10)) / 2).epsilon(1e-12));
  }
}

TEST_CASE("the scheduled lr is the one the optimizer uses") {
  Tensor p = param({1});
  optim::SGD opt({p}, {.lr = 1});
  optim::StepLR s(opt, {.step_size = 1, .gamma = 0.1});
  s.step();  // lr 0.1
  unroll_test::set_grad(p, {1});
  opt.step();
  unroll_test::check_close(p, {0.9});
}

TEST_CASE("ReduceLROnPlateau: patience, threshold, cooldown, min_lr") {
  Tensor p = param({0});
  optim::SGD opt({p}, {.lr = 1});
  optim::ReduceLROnPlateau s(opt, {.factor = 0.5, .patience = 1, .threshold = 0.1, .cooldown = 1, .min_lr = 0.3});
  CHECK(s.get_last_lr() == 1);
  s.step(10);  // best 10
  CHECK(opt.lr() == 1);
  s.step(9.5);  // not 10% better: 1 bad epoch
  CHECK(s.num_bad_epochs() == 1);
  CHECK(opt.lr() == 1);
  s.step(9.5);  // 2 bad > patience 1: reduce, cooldown 1
  CHECK(opt.lr() == 0.5);
  CHECK(s.num_bad_epochs() == 0);
  s.step(9.6);  // in cooldown: bad epochs ignored
  CHECK(s.num_bad_epochs() == 0);
  s.step(9.6);
  s.step(9.6);  // 2 bad: reduce to max(0.25, min_lr 0.3)
  CHECK(opt.lr() == doctest::Approx(0.3));
  s.step(1);  // big improvement
  CHECK(s.best() == 1);
  CHECK(s.get_last_lr() == opt.lr());
}

TEST_CASE("scheduler state round trip: a fresh scheduler continues identically") {
  Tensor p = param({0});
  optim::SGD a_opt({p}, {.lr = 1}), b_opt({p}, {.lr = 1});
  optim::CosineAnnealingLR a(a_opt, {.T_max = 7, .eta_min = 0.01});
  for (int i = 0; i < 5; ++i) a.step();
  optim::CosineAnnealingLR b(b_opt, {.T_max = 100});
  b.load_state_dict(a.state_dict());
  b_opt.load_state_dict(a_opt.state_dict());
  CHECK(b.options().T_max == 7);
  CHECK(b.last_epoch() == 5);
  for (int i = 0; i < 10; ++i) {
    a.step();
    b.step();
    CHECK(a_opt.lr() == b_opt.lr());  // bit-identical
  }

  optim::ReduceLROnPlateau pa(a_opt, {.patience = 0}), pb(b_opt);
  pa.step(3);
  pa.step(4);
  pb.load_state_dict(pa.state_dict());
  CHECK(pb.best() == 3);
  CHECK(pb.options().patience == 0);
  CHECK(pb.last_epoch() == 2);
}

TEST_CASE("scheduler load_state_dict: errors name the entry and change nothing") {
  Tensor p = param({0});
  optim::SGD opt({p}, {.lr = 1});
  optim::StepLR s(opt, {.step_size = 3});
  optim::ExponentialLR other(opt, {.gamma = 0.5});
  CHECK_THROWS_WITH_AS(s.load_state_dict(other.state_dict()),
                       doctest::Contains("saved by scheduler 'ExponentialLR', not 'StepLR'"), Error);
  optim::StateDict state = s.state_dict();
  state.erase("gamma");
  CHECK_THROWS_WITH_AS(s.load_state_dict(state), doctest::Contains("missing entry 'gamma'"), Error);
  state = s.state_dict();
  state["extra"] = scalar(1.0, kFloat64);
  CHECK_THROWS_WITH_AS(s.load_state_dict(state), doctest::Contains("unexpected entry 'extra'"), Error);
  state = s.state_dict();
  state["step_size"] = scalar(0);
  state["last_epoch"] = scalar(7);
  CHECK_THROWS_WITH_AS(s.load_state_dict(state),
                       doctest::Contains("entry 'step_size' must be an integer in [1, 2^53), got 0"), Error);
  // dtypes: the counter and the integer option are int64, gamma float64, the type marker bool
  state["step_size"] = scalar(2.5, kFloat64);
  CHECK_THROWS_WITH_AS(s.load_state_dict(state),
                       doctest::Contains("StepLR: load_state_dict: entry 'step_size' is float64 holding 2.5 but must "
                                         "be int64"),
                       Error);
  state["step_size"] = scalar(true);
  CHECK_THROWS_WITH_AS(s.load_state_dict(state),
                       doctest::Contains("StepLR: load_state_dict: entry 'step_size' is bool but must be int64"),
                       Error);
  state["step_size"] = scalar(2);
  state["gamma"] = scalar(0.5);  // a C++ double becomes the default dtype, float32: not what a real number is stored as
  CHECK_THROWS_WITH_AS(s.load_state_dict(state),
                       doctest::Contains("StepLR: load_state_dict: entry 'gamma' is float32 but must be float64"),
                       Error);
  state["gamma"] = scalar(0.5, kFloat64);
  state["last_epoch"] = tensor({7, 8});
  CHECK_THROWS_WITH_AS(s.load_state_dict(state),
                       doctest::Contains("StepLR: load_state_dict: entry 'last_epoch' has 2 values, expected 1"),
                       Error);
  state["last_epoch"] = scalar(7);
  state["type.StepLR"] = scalar(2.0, kFloat64);
  CHECK_THROWS_WITH_AS(s.load_state_dict(state),
                       doctest::Contains("StepLR: load_state_dict: entry 'type.StepLR' is float64 holding 2 but must "
                                         "be bool"),
                       Error);
  CHECK(s.last_epoch() == 0);
  CHECK(s.options().step_size == 3);
  CHECK(s.options().gamma == 0.1);
  // the control: the same values with the right dtypes load
  state["type.StepLR"] = scalar(true);
  s.load_state_dict(state);
  CHECK(s.last_epoch() == 7);
  CHECK(s.options().step_size == 2);
  CHECK(s.options().gamma == 0.5);
}

TEST_CASE("scheduler state entries: counters and integer options int64, real numbers float64, type bool") {
  Tensor p = param({0});
  optim::SGD opt({p}, {.lr = 1});
  optim::MultiStepLR multi(opt, {.milestones = {4, 2}, .gamma = 0.5});
  multi.step();
  const optim::StateDict m = multi.state_dict();
  CHECK(m.size() == 7);
  CHECK(m.at("type.MultiStepLR").dtype() == kBool);
  CHECK(m.at("type.MultiStepLR").item<bool>());
  CHECK(m.at("last_epoch").dtype() == kInt64);
  CHECK(m.at("last_epoch").item<int64_t>() == 1);
  CHECK(m.at("_step_count").dtype() == kInt64);
  CHECK(m.at("_step_count").item<int64_t>() == 2);
  CHECK(m.at("milestones").shape() == Shape{2});
  CHECK(m.at("milestones").to_vector<int64_t>() == std::vector<int64_t>{2, 4});
  CHECK(m.at("gamma").dtype() == kFloat64);
  CHECK(m.at("gamma").shape() == Shape{});
  CHECK(m.at("_last_lr").item<double>() == 1);
  CHECK(m.at("base_lrs").item<double>() == 1);

  optim::ReduceLROnPlateau plateau(opt, {.mode = optim::PlateauMode::Max, .patience = 3});
  plateau.step(0.25);
  const optim::StateDict r = plateau.state_dict();
  for (const char* key :
       {"last_epoch", "mode", "patience", "threshold_mode", "cooldown", "num_bad_epochs", "cooldown_counter"})
    CHECK_MESSAGE(r.at(key).dtype() == kInt64, key);
  for (const char* key : {"_last_lr", "factor", "threshold", "min_lrs", "eps", "best"})
    CHECK_MESSAGE(r.at(key).dtype() == kFloat64, key);
  CHECK(r.at("mode").item<int64_t>() == 1);
  CHECK(r.at("best").item<double>() == 0.25);
  CHECK(r.size() == 14);
}

TEST_CASE("scheduler states as older versions wrote them (every number float64) still load") {
  Tensor p = param({0});
  optim::SGD opt({p}, {.lr = 1});
  optim::MultiStepLR s(opt, {.milestones = {9}});
  optim::StateDict old = {{"type.MultiStepLR", scalar(1.0, kFloat64)},
                          {"last_epoch", scalar(3.0, kFloat64)},
                          {"_last_lr", scalar(0.1, kFloat64)},
                          {"_step_count", scalar(4.0, kFloat64)},
                          {"base_lrs", scalar(1.0, kFloat64)},
                          {"milestones", scalar(2.0, kFloat64)},
                          {"gamma", scalar(0.5, kFloat64)}};  // one milestone was written with shape ()
  s.load_state_dict(old);
  CHECK(s.last_epoch() == 3);
  CHECK(s.options().milestones == std::vector<int64_t>{2});
  CHECK(s.options().gamma == 0.5);
  CHECK(s.get_last_lr() == 0.1);
  // re-saved in the current format
  CHECK(s.state_dict().at("last_epoch").dtype() == kInt64);
  CHECK(s.state_dict().at("milestones").shape() == Shape{1});
  old["_step_count"] = scalar(4.5, kFloat64);  // not an integer: refused
  CHECK_THROWS_WITH_AS(s.load_state_dict(old), doctest::Contains("entry '_step_count' is float64 holding 4.5"), Error);
}

TEST_CASE("schedule argument errors") {
  Tensor p = param({0});
  optim::SGD opt({p}, {.lr = 1});
  CHECK_THROWS_WITH_AS(optim::StepLR(opt, {}), doctest::Contains("StepLR: step_size must be > 0"), Error);
  CHECK_THROWS_WITH_AS(optim::ExponentialLR(opt, {}), doctest::Contains("gamma is required"), Error);
  CHECK_THROWS_WITH_AS(optim::CosineAnnealingLR(opt, {}), doctest::Contains("T_max must be > 0"), Error);
  CHECK_THROWS_WITH_AS(optim::LinearLR(opt, {.start_factor = 0}), doctest::Contains("start_factor"), Error);
  CHECK_THROWS_WITH_AS(optim::LinearLR(opt, {.end_factor = 1.5}), doctest::Contains("end_factor"), Error);
  CHECK_THROWS_WITH_AS(optim::LinearLR(opt, {.total_iters = 0}), doctest::Contains("total_iters"), Error);
  CHECK_THROWS_WITH_AS(optim::ReduceLROnPlateau(opt, {.factor = 1}), doctest::Contains("factor should be < 1.0"),
                       Error);
}
