// cliff: why an RNN's error surface has cliffs, and what gradient clipping does about them.
//
// The smallest recurrent network: one linear unit whose memory is fed back with weight w,
//
//   y_t = w * y_{t-1} + x_t,    y_0 = 0,    x = [1, 0, 0, ..., 0]   (T = 1000 steps)
//
// so y_T = w^(T-1) = w^999 and dy_T/dw = 999 w^998. The same w is used at every step, so a tiny change of
// w is raised to the 999th power: w = 1 gives 1, w = 1.01 gives ~20751, w = 0.99 gives ~4.4e-5 and w = 0.01
// gives 0 (in any floating-point format). The gradient is either enormous or practically zero.
//
// The program
//   1. unrolls the 1000 steps with layers::unroll_cell and lets backward() compute dy/dw at w = 1, 1.01,
//      0.99, 0.01, beside the closed forms;
//   2. scans the loss L(w) = (y_T - 1)^2 and |dL/dw| over w in [0.9, 1.02] and plots both (the cliff);
//   3. takes one SGD step at w = 1.01 without clipping, with optim::clip_grad_norm and with
//      optim::clip_grad_value (threshold 15): unclipped, w is thrown hundreds of thousands away;
//      clipped, it moves lr * 15. The same step on the plateau (w = 0.95) does not move w at all;
//   4. trains w from 1.01 with clipped SGD (cliff_training.svg: the loss per step).
//
//   ./build/examples/cliff [--length 1000] [--lr 9e-7] [--clip 15] [--steps 800] [--out DIR] [--quick] [--check]
//
// float32 is enough here: 1.01^999 ~ 2e4 and the largest gradient on the plot, ~3e20, are far below 3.4e38.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "common/cli.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"

using namespace unroll;
using namespace unroll::layers;

// One linear unit: input weight 1, output weight 1, recurrent weight w (the only parameter), no bias.
// State h: [N, 1]; step: h' = x_t + h w.
class LinearUnit : public Cell {
 public:
  explicit LinearUnit(float w0) { w = register_parameter("w", full({1, 1}, w0)); }  // [1, 1] float32

  int64_t input_size() const override { return 1; }
  int64_t output_size() const override { return 1; }
  State step(const Tensor& x, const State& state) override {
    return {add(x, matmul(state.h, w)), Tensor()};  // [N, 1] + [N, 1] x [1, 1]
  }
  State initial_state(int64_t batch) const override { return {zeros({batch, 1}), Tensor()}; }
  std::string describe() const override { return "LinearUnit"; }

  void set(float value) { w.data<float>()[0] = value; }
  float value() const { return w.data<float>()[0]; }

  Tensor w;
};

// x = [1, 0, ..., 0] as [T, N = 1, I = 1]
Tensor impulse(int64_t length) {
  Tensor x = zeros({length, 1, 1});
  x.data<float>()[0] = 1;
  return x;
}

// Unrolls the cell over x and returns y_T (the final state, [1, 1]): the graph has T steps.
Tensor last_output(LinearUnit& cell, const Tensor& x) { return unroll_cell(cell, x).state.h; }

// L(w) = (y_T - target)^2 as a scalar tensor.
Tensor loss_of(LinearUnit& cell, const Tensor& x, float target) {
  const Tensor diff = last_output(cell, x) - target;
  return sum(diff * diff);
}

bool close(double got, double expected, double rtol) {
  if (std::abs(expected) < 1e-30) return std::abs(got) < 1e-30;  // both underflow to (almost) zero
  return std::abs(got - expected) <= rtol * std::abs(expected);
}

int run_cliff(int argc, char** argv) {
  examples::Cli cli("cliff", "cliff: y_1000 = w^999, the exploding/vanishing gradient, and gradient clipping");
  int64_t length = 1000, steps = 800, points = 241;
  cli.count("--length", length, "time steps T (y_T = w^(T-1))", 2, examples::kMaxSize);
  double lr = 9e-7, clip = 15;
  cli.number("--lr", lr, "SGD learning rate", examples::positive);
  cli.number("--clip", clip, "clipping threshold (norm and value)", examples::positive);
  cli.count("--steps", steps, "clipped SGD steps from w = 1.01");
  cli.count("--points", points, "points of the loss scan over [0.9, 1.02]", 2, examples::kMaxSize);
  std::string out = "examples_out";
  cli.text("--out", out, "directory for the pictures (SVG + CSV)");
  uint64_t seed = 0;
  cli.seed("--seed", seed, "random seed (nothing here is random)");
  bool quick = false, check = false;
  cli.flag("--quick", quick, "fewer scan points and training steps (for the test)");
  cli.flag("--check", check, "exit 1 unless values, gradients and the clipped step are as expected");
  cli.parse(argc, argv);
  if (quick) steps = std::min<int64_t>(steps, 60), points = std::min<int64_t>(points, 25);
  manual_seed(seed);
  const float target = 1;  // we want y_T = 1, which w = 1 reaches exactly
  bool ok = true;

  LinearUnit cell(1);
  const Tensor x = impulse(length);                  // [T, 1, 1]
  const double n = static_cast<double>(length - 1);  // the exponent: y_T = w^n

  // ---- 1. values and gradients by unrolling, against w^n and n w^(n-1) ------------------------------
  std::printf("one linear unit, T = %lld steps: y_T = w^%g, dy_T/dw = %g w^%g\n\n", static_cast<long long>(length), n,
              n, n - 1);
  std::printf("     w        y_T (unrolled)   w^%g (closed)    dy/dw (backward)  %g w^%g (closed)\n", n, n, n - 1);
  for (const double w0 : {1.0, 1.01, 0.99, 0.01}) {
    cell.set(static_cast<float>(w0));
    cell.zero_grad();
    const Tensor y = last_output(cell, x);
    sum(y).backward();              // BPTT over all T steps
    const double w = cell.value();  // the float nearest w0: the closed forms use exactly what was used
    const double y_closed = std::pow(w, n), g_closed = n * std::pow(w, n - 1);
    const double y_got = y.item(), g_got = cell.w.grad().item();
    std::printf("  %6g   %15.6g  %15.6g  %17.6g  %15.6g\n", w0, y_got, y_closed, g_got, g_closed);
    ok = ok && close(y_got, y_closed, 1e-3) && close(g_got, g_closed, 1e-3);
  }

  // ---- 2. the error surface: L(w) = (y_T - 1)^2 and |dL/dw| over [0.9, 1.02] -----------------------
  std::printf("\nscanning L(w) = (y_T - %g)^2 over w in [0.9, 1.02] (%lld points)\n", static_cast<double>(target),
              static_cast<long long>(points));
  std::vector<double> ws, losses, grads;
  examples::Progress scan(points, "points");
  for (int64_t i = 0; i < points; ++i) {
    const double w0 = 0.9 + 0.12 * static_cast<double>(i) / static_cast<double>(points - 1);
    cell.set(static_cast<float>(w0));
    cell.zero_grad();
    const Tensor loss = loss_of(cell, x, target);
    loss.backward();
    ws.push_back(w0);
    losses.push_back(loss.item());
    grads.push_back(std::abs(cell.w.grad().item()));
    scan.update(i + 1, 1, {{"w", w0}, {"loss", losses.back()}, {"|dL/dw|", grads.back()}});
  }
  scan.finish();
  for (const double w0 : {0.9, 0.95, 0.99, 1.0, 1.01, 1.02}) {  // a few rows of the scan, for the text
    size_t best = 0;
    for (size_t i = 0; i < ws.size(); ++i)
      if (std::abs(ws[i] - w0) < std::abs(ws[best] - w0)) best = i;
    std::printf("  w = %-6.4g  L = %-12.4g  |dL/dw| = %.4g\n", ws[best], losses[best], grads[best]);
  }

  // ---- 3. one SGD step at the foot of the cliff (w = 1.01) and on the plateau (w = 0.95) -------------
  std::printf("\none SGD step with lr = %g:\n", lr);
  std::printf("  %-32s %13s %13s %13s %13s %13s\n", "", "dL/dw", "used grad", "step", "new w", "new L");
  struct Trial {
    const char* name;
    double w0;
    int clipping;  // 0 none, 1 clip_grad_norm, 2 clip_grad_value
  };
  const std::vector<Trial> trials = {{"w = 1.01, no clipping", 1.01, 0},
                                     {"w = 1.01, clip_grad_norm(15)", 1.01, 1},
                                     {"w = 1.01, clip_grad_value(15)", 1.01, 2},
                                     {"w = 0.95 (plateau), no clipping", 0.95, 0}};
  double clipped_step = 0, unclipped_step = 0;
  for (const Trial& trial : trials) {
    cell.set(static_cast<float>(trial.w0));
    cell.zero_grad();
    optim::SGD sgd(cell.parameters(), {.lr = lr});
    loss_of(cell, x, target).backward();
    const double raw = cell.w.grad().item();
    if (trial.clipping == 1) optim::clip_grad_norm(cell.parameters(), clip);   // rescale: ||g|| <= 15
    if (trial.clipping == 2) optim::clip_grad_value(cell.parameters(), clip);  // clamp each element to [-15, 15]
    const double used = cell.w.grad().item();
    const double before = cell.value();
    sgd.step();  // w <- w - lr * g
    const double step = cell.value() - before;
    double new_loss;
    {
      NoGradGuard no_grad;
      new_loss = loss_of(cell, x, target).item();
    }
    std::printf("  %-32s %13.6g %13.6g %13.6g %13.7g %13.6g\n", trial.name, raw, used, step, cell.value(), new_loss);
    if (trial.w0 != 1.01) continue;
    if (trial.clipping == 0) unclipped_step = std::abs(step);
    if (trial.clipping > 0) {
      clipped_step = std::abs(step);
      // the clipped gradient is 15, so the step is lr * 15, up to float rounding of w (a few ulp of 1.01)
      const double ulp = std::numeric_limits<float>::epsilon() * std::abs(before);
      ok = ok && close(used, clip, 1e-3) && std::abs(clipped_step - lr * clip) <= 4 * ulp;
    }
  }
  ok = ok && unclipped_step > 1e3 * clipped_step;  // without clipping, w is thrown far off

  // ---- 4. training from w = 1.01 with clipped SGD ---------------------------------------------------
  std::printf("\n%lld steps of SGD (lr %g) with clip_grad_norm(%g), from w = 1.01 down the cliff:\n",
              static_cast<long long>(steps), lr, clip);
  cell.set(static_cast<float>(1.01));
  optim::SGD sgd(cell.parameters(), {.lr = lr});
  std::vector<double> path_loss;                     // L before each step
  examples::Progress progress(steps, "time steps");  // throughput counts unrolled steps
  bool decreasing = true;
  for (int64_t s = 0; s < steps; ++s) {
    sgd.zero_grad();
    const Tensor loss = loss_of(cell, x, target);
    loss.backward();
    optim::clip_grad_norm(cell.parameters(), clip);
    path_loss.push_back(loss.item());
    if (s > 0) decreasing = decreasing && path_loss[s] <= path_loss[s - 1] && std::isfinite(path_loss[s]);
    sgd.step();
    progress.update(s + 1, static_cast<double>(length), {{"loss", loss.item()}, {"w", cell.value()}});
  }
  progress.finish();
  double final_y;
  {
    NoGradGuard no_grad;
    final_y = last_output(cell, x).item();
  }
  const double final_loss = (final_y - target) * (final_y - target);
  std::printf("after %lld clipped steps: w = %.9g, y_T = %.6g, L = %.4g\n", static_cast<long long>(steps),
              static_cast<double>(cell.value()), final_y, final_loss);
  ok = ok && decreasing;
  if (!quick && steps >= 800) ok = ok && final_loss < 1e-3;

  // ---- the picture ------------------------------------------------------------------------------------
  std::filesystem::create_directories(out);
  examples::LinePlot plot("The cliff: L(w) = (w^999 - 1)^2", "recurrent weight w", "value");
  plot.log_y = true;
  plot.add("loss L(w)", ws, losses);
  plot.add("|dL/dw|", ws, grads);
  plot.save(out + "/cliff.svg");
  std::vector<double> step_index;
  for (size_t s = 0; s < path_loss.size(); ++s) step_index.push_back(static_cast<double>(s));
  examples::LinePlot training("Clipped SGD from w = 1.01", "SGD step", "L(w)");
  training.log_y = true;
  training.add("loss", step_index, path_loss);
  training.save(out + "/cliff_training.svg");
  std::printf("wrote %s/cliff.svg, %s/cliff_training.svg and their .csv files\n", out.c_str(), out.c_str());

  if (check) {
    std::printf(
        "check: y and dy/dw match w^%g and %g w^%g (rel 1e-3); clipped step = lr * %g; unclipped step "
        "> 1000x that; clipped training loss never rises%s: %s\n",
        n, n, n - 1, clip, quick ? "" : " and ends below 1e-3", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_example("cliff", [&] { return run_cliff(argc, argv); });
}
