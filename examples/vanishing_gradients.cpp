// vanishing_gradients: how far back does the gradient of a loss on the LAST step reach?
//
// Each model reads the same random sequence x_1..x_T; the loss is L = sum(h_T), a function of the last
// hidden state only. With retain_grad() on every step's hidden state, one backward() over the unrolled
// graph gives dL/dh_t for every t, and we print its norm against the distance T - t. By the chain rule
//
//   dL/dh_t = dL/dh_T · dh_T/dh_{T-1} · ... · dh_{t+1}/dh_t,   dh_{k}/dh_{k-1} = diag(tanh'(a_k)) W_hh
//
// for a tanh RNN, so every step multiplies the gradient's norm by at most ||W_hh|| · max tanh' <=
// sigma_max(W_hh): below 1 it decays geometrically (vanishes), far above 1 it can grow (explodes).
// The second part rescales W_hh to a chosen largest singular value (found by power iteration on W^T W)
// and measures the per-step decay factor, to show it always stays under that bound.
//
//   ./vanishing_gradients [--steps T] [--hidden H] [--batch N] [--seed S] [--out DIR] [--check]
//
// Shapes: T = time steps, N = batch, I = input size, H = hidden size.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "common/cli.hpp"
#include "common/plot.hpp"

using namespace unroll;

// Runs `cell` over x [T, N, I] one step at a time (the cell's operator(), as nn.LSTMCell would be used),
// keeps every h_t's gradient, backpropagates L = sum(h_T) and returns ||dL/dh_t|| indexed by T - t.
std::vector<double> gradient_norms(layers::Cell& cell, const Tensor& x) {
  const int64_t T = x.size(0), N = x.size(1);
  const std::vector<Tensor> steps = unbind(x, 0);  // T tensors [N, I]
  layers::State state = cell.initial_state(N);     // h (and c): [N, H] zeros
  std::vector<Tensor> hidden;                      // h_1 .. h_T, each [N, H]
  for (int64_t t = 0; t < T; ++t) {
    state = cell(steps[t], state);
    state.h.retain_grad();  // a non-leaf: keep dL/dh_t after backward
    hidden.push_back(state.h);
  }
  sum(state.h).backward();  // L = sum(h_T): depends on the last step only

  std::vector<double> norms(T);
  for (int64_t t = 0; t < T; ++t) {
    double squares = 0;
    for (float g : hidden[t].grad().to_vector<float>()) squares += double(g) * g;
    norms[T - 1 - t] = std::sqrt(squares);  // Frobenius norm over the batch, at distance T - 1 - t
  }
  return norms;
}

// Largest singular value of W [H, H]: power iteration on W^T W (v <- W^T W v / ||W^T W v||), then ||W v||.
double largest_singular_value(const Tensor& w, int iterations = 500) {
  NoGradGuard no_grad;
  Generator gen(12345);
  Tensor v = randn({w.size(1), 1}, gen);  // [H, 1]
  for (int i = 0; i < iterations; ++i) {
    const Tensor wtwv = matmul(w, matmul(w, v), true);  // W^T (W v): [H, 1]
    v = wtwv / std::sqrt(sum(wtwv * wtwv).item());
  }
  const Tensor wv = matmul(w, v);
  return std::sqrt(double(sum(wv * wv).item()));
}

// Spectral radius of W (largest |eigenvalue|) by Gelfand's formula: the growth rate of ||W^k v|| for large k.
// It is what a long product of the same matrix converges to, and rho <= sigma_max always.
double spectral_radius(const Tensor& w, int burn_in = 500, int measured = 500) {
  NoGradGuard no_grad;
  Generator gen(54321);
  Tensor v = randn({w.size(1), 1}, gen);  // [H, 1]
  double log_growth = 0;
  for (int i = 0; i < burn_in + measured; ++i) {
    const Tensor wv = matmul(w, v);
    const double n = std::sqrt(double(sum(wv * wv).item()));
    if (i >= burn_in) log_growth += std::log(n);
    v = wv / n;  // float32: a C++ number never changes a tensor's dtype
  }
  return std::exp(log_growth / measured);
}

// Least-squares slope of log(norm) against the distance k over k in [0, last], skipping zero or denormal
// values (the float range ends near 1e-38); returns exp(slope), the average per-step factor.
double fitted_factor(const std::vector<double>& norms, size_t last) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t k = 0; k <= last && k < norms.size(); ++k) {
    if (!(norms[k] > 1e-30 * norms[0])) break;
    const double y = std::log(norms[k]);
    n += 1, sx += k, sy += y, sxx += double(k) * k, sxy += k * y;
  }
  return std::exp((n * sxy - sx * sy) / (n * sxx - sx * sx));
}

int run_vanishing_gradients(int argc, char** argv) {
  examples::Cli cli("vanishing_gradients", "vanishing_gradients: ||dL/dh_t|| against T - t for RNN, IRNN, LSTM and GRU");
  int64_t T = 100, H = 64, N = 8, I = 8;
  const int64_t kMax = examples::kMaxSize;
  cli.count("--steps", T, "sequence length T", 2, kMax);
  cli.count("--hidden", H, "hidden size H", 1, kMax);
  cli.count("--batch", N, "batch size N (norms are taken over the whole batch)", 1, kMax);
  cli.count("--input", I, "input size I", 1, kMax);
  uint64_t seed = 0;
  cli.seed("--seed", seed, "random seed");
  std::string out = "examples_out";
  cli.text("--out", out, "directory for the SVG and CSV files");
  bool check = false, quick = false;
  cli.flag("--check", check, "exit 1 unless the expected decay is measured");
  cli.flag("--quick", quick, "accepted for uniformity (the default run already takes about a second)");
  cli.parse(argc, argv);
  if (T < 60) std::printf("note: --check needs T >= 60 to look 50 steps back\n");

  manual_seed(seed);                            // parameter initialization
  Generator data_gen(seed + 1);                 // the inputs, shared by every model
  const Tensor x = randn({T, N, I}, data_gen);  // [T, N, I], N(0, 1)

  // ---- part 1: the same inputs through five recurrent cells with their usual initialization ----------
  struct Model {
    std::string name;
    std::shared_ptr<layers::Cell> cell;
  };
  std::vector<Model> models = {
      {"tanh RNN", std::make_shared<layers::RNNCell>(layers::RNNCellOptions{.input_size = I, .hidden_size = H})},
      {"IRNN", std::make_shared<layers::IRNNCell>(layers::IRNNCellOptions{.input_size = I, .hidden_size = H})},
      {"LSTM fb=0", std::make_shared<layers::LSTMCell>(
                        layers::LSTMCellOptions{.input_size = I, .hidden_size = H, .forget_bias = 0})},
      {"LSTM fb=1", std::make_shared<layers::LSTMCell>(
                        layers::LSTMCellOptions{.input_size = I, .hidden_size = H, .forget_bias = 1})},
      {"GRU", std::make_shared<layers::GRUCell>(layers::GRUCellOptions{.input_size = I, .hidden_size = H})},
  };
  std::vector<std::vector<double>> norms;  // per model, ||dL/dh_t|| / ||dL/dh_T|| by distance T - t
  for (auto& m : models) {
    std::vector<double> g = gradient_norms(*m.cell, x);
    const double g0 = g[0];
    for (double& v : g) v /= g0;
    norms.push_back(g);
  }
  const double rnn_sigma = largest_singular_value(static_cast<layers::RNNCell&>(*models[0].cell).weight_hh);

  std::printf(
      "||dL/dh_t|| / ||dL/dh_T||, L = sum(h_T), T = %lld, H = %lld, N = %lld (tanh RNN: sigma_max(W_hh) = %.3f)\n\n",
      (long long)T, (long long)H, (long long)N, rnn_sigma);
  std::printf("%6s", "T - t");
  for (const auto& m : models) std::printf("  %11s", m.name.c_str());
  std::printf("\n");
  for (int64_t k : {0, 1, 2, 5, 10, 20, 50, 99}) {
    if (k >= T) continue;
    std::printf("%6lld", (long long)k);
    for (const auto& g : norms) std::printf("  %11.3e", g[k]);
    std::printf("\n");
  }

  std::filesystem::create_directories(out);
  examples::LinePlot plot("Gradient reaching h_t from a loss on h_T", "T - t (steps back)",
                          "||dL/dh_t|| / ||dL/dh_T||");
  plot.log_y = true;
  std::vector<double> distance(T);
  for (int64_t k = 0; k < T; ++k) distance[k] = double(k);
  for (size_t i = 0; i < models.size(); ++i) plot.add(models[i].name, distance, norms[i]);
  plot.save(out + "/vanishing_gradients.svg");

  // ---- part 2: the tanh RNN with W_hh rescaled to a chosen largest singular value -------------------
  // Bound per step: ||dL/dh_{t-1}|| <= ||dL/dh_t|| · ||diag(tanh') W_hh|| <= ||dL/dh_t|| · sigma_max.
  const size_t fit_last = static_cast<size_t>(std::min<int64_t>(T - 1, 50));
  std::printf("\ntanh RNN with W_hh scaled to sigma_max (power iteration on W^T W); per-step factor of the norm\n");
  std::printf("%9s  %9s  %9s  %13s  %14s  %14s\n", "target", "sigma_max", "rho(W_hh)", "fitted (0-50)",
              "largest 1-step", "n(0) / n(50)");
  examples::LinePlot sigma_plot("tanh RNN: gradient norm vs sigma_max(W_hh)", "T - t (steps back)",
                                "||dL/dh_t|| / ||dL/dh_T||");
  sigma_plot.log_y = true;
  bool bound_holds = true;
  double decay_half = 0;  // n(0) / n(50) at sigma = 0.5
  for (double target : {0.5, 0.9, 1.0, 1.5, 3.0}) {
    manual_seed(seed);  // the same W_hh direction every time; only its scale changes
    layers::RNNCell cell({.input_size = I, .hidden_size = H});
    {
      NoGradGuard no_grad;
      const double s = largest_singular_value(cell.weight_hh);
      float* w = cell.weight_hh.data<float>();  // the layer's parameters are float32 (the default dtype)
      for (int64_t i = 0; i < H * H; ++i) w[i] = static_cast<float>(w[i] * target / s);
    }
    const double sigma = largest_singular_value(cell.weight_hh), rho = spectral_radius(cell.weight_hh);
    std::vector<double> g = gradient_norms(cell, x);
    double largest_step = 0;  // max over t of ||dL/dh_{t-1}|| / ||dL/dh_t||
    for (size_t k = 0; k + 1 < g.size() && g[k + 1] > 1e-30 * g[0]; ++k)
      largest_step = std::max(largest_step, g[k + 1] / g[k]);
    const double factor = fitted_factor(g, fit_last);
    const double decay = fit_last >= 50 ? g[0] / g[50] : 0;
    if (target == 0.5) decay_half = decay;
    bound_holds = bound_holds && factor <= sigma + 0.01 && largest_step <= sigma * 1.001;
    std::printf("%9.2f  %9.4f  %9.4f  %13.4f  %14.4f  %14.3e\n", target, sigma, rho, factor, largest_step, decay);
    std::vector<double> xs, ys;  // normalized, cut where float32 runs out of range (< 1e-30)
    for (size_t k = 0; k < g.size() && g[k] > 1e-30 * g[0]; ++k) xs.push_back(double(k)), ys.push_back(g[k] / g[0]);
    char name[32];
    std::snprintf(name, sizeof name, "sigma = %.1f", target);
    sigma_plot.add(name, xs, ys);
  }
  sigma_plot.save(out + "/vanishing_sigma.svg");
  std::printf("\nwrote %s/vanishing_gradients.svg, %s/vanishing_sigma.svg (+ .csv)\n", out.c_str(), out.c_str());

  if (!check) return 0;
  // Expected: the tanh RNN at sigma 0.5 loses > 1e3 over 50 steps; LSTM with forget bias 1 keeps far more
  // of the gradient than the tanh RNN at 50 steps; the measured factor never exceeds sigma_max.
  const double lstm_vs_rnn = fit_last >= 50 ? norms[3][50] / norms[0][50] : 0;
  const bool ok_half = decay_half > 1e3, ok_lstm = lstm_vs_rnn > 100;
  std::printf("check: sigma 0.5 decay over 50 steps %.3e > 1e3: %s\n", decay_half, ok_half ? "ok" : "FAIL");
  std::printf("check: LSTM fb=1 / tanh RNN at T - t = 50: %.3e > 100: %s\n", lstm_vs_rnn, ok_lstm ? "ok" : "FAIL");
  std::printf("check: per-step factor <= sigma_max: %s\n", bound_holds ? "ok" : "FAIL");
  return ok_half && ok_lstm && bound_holds ? 0 : 1;
}

int main(int argc, char** argv) {
  return examples::run_example("vanishing_gradients", [&] { return run_vanishing_gradients(argc, argv); });
}
