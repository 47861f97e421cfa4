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
  state.scalars.erase("gamma");
  CHECK_THROWS_WITH_AS(s.load_state_dict(state), doctest::Contains("missing entry 'gamma'"), Error);
  state = s.state_dict();
  state.scalars["extra"] = {1};
  CHECK_THROWS_WITH_AS(s.load_state_dict(state), doctest::Contains("unexpected entry 'extra'"), Error);
  state = s.state_dict();
  state.scalars["step_size"] = {0};
  state.scalars["last_epoch"] = {7};
  CHECK_THROWS_WITH_AS(s.load_state_dict(state), doctest::Contains("step_size must be > 0"), Error);
  state.scalars["step_size"] = {2.5};
  CHECK_THROWS_WITH_AS(s.load_state_dict(state), doctest::Contains("must be an integer"), Error);
  CHECK(s.last_epoch() == 0);
  CHECK(s.options().step_size == 3);
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
