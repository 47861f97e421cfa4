// bptt_by_hand: backpropagation through time derived by hand, checked against autograd.
//
// A 3-step tanh RNN (column vectors, as in the derivation in docs/bptt.md):
//
//   a_t = U x_t + W s_{t-1},   s_t = tanh(a_t),   s_0 = 0          U: [H, D], W: [H, H]
//   z_t = V s_t,               ŷ_t = softmax(z_t)                  V: [K, H]
//   E_t = -log ŷ_t[y_t]        (cross-entropy with target class y_t),    E = E_1 + E_2 + E_3
//
// The hand side computes dE_3/dV, dE_3/dW and dE_3/dU from the formulas of the derivation, with explicit
// loops over plain doubles: for W and U a sum over the earlier steps k = 3, 2, 1 of
//
//   dE_3/dW += [ (ds_3/ds_k)^T dE_3/ds_3  (.)  (1 - s_k^2) ]  outer  s_{k-1}
//   ds_3/ds_k = prod_{j = k+1..3} ds_j/ds_{j-1},    ds_j/ds_{j-1} = diag(1 - s_j^2) W
//
// The autograd side records the same unrolled network with ordinary ops and calls backward(). Its tensors are
// float64 (kFloat64), as the hand side's doubles, so the two agree to rounding error of double. It also does
// the same for the total loss E (sum over t of each E_t's gradient) and writes the recorded graph as Graphviz
// dot (--out), one cluster per time step: docs/images/bptt_graph.svg is that file rendered.
//
//   ./build/examples/bptt_by_hand [--seed 0] [--out examples_out] [--check]
//
// Shapes: D = input size (one-hot words), H = hidden size, K = output classes; batch N = 1 on the autograd side.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "common/cli.hpp"

using namespace unroll;

constexpr int D = 4, H = 3, K = 4, T = 3;

// ---- the hand side: plain numbers, no library ----------------------------------------------------------
using Vec = std::vector<double>;
using Mat = std::vector<Vec>;  // Mat m(rows, Vec(cols)); m[i][j]

Mat zeros_mat(int rows, int cols) { return Mat(rows, Vec(cols, 0.0)); }

struct HandForward {
  std::vector<Vec> x, s, y_hat;  // x[t]: [D], s[t]: [H] (s[0] = 0), y_hat[t]: [K]; t = 1..T
  std::vector<double> E;         // E[t]
};

HandForward hand_forward(const Mat& U, const Mat& W, const Mat& V, const std::vector<int>& words,
                         const std::vector<int>& targets) {
  HandForward f;
  f.x.assign(T + 1, Vec(D, 0.0));
  f.s.assign(T + 1, Vec(H, 0.0));
  f.y_hat.assign(T + 1, Vec(K, 0.0));
  f.E.assign(T + 1, 0.0);
  for (int t = 1; t <= T; ++t) {
    f.x[t][words[t - 1]] = 1;      // one-hot input
    for (int i = 0; i < H; ++i) {  // s_t = tanh(U x_t + W s_{t-1})
      double a = 0;
      for (int d = 0; d < D; ++d) a += U[i][d] * f.x[t][d];
      for (int j = 0; j < H; ++j) a += W[i][j] * f.s[t - 1][j];
      f.s[t][i] = std::tanh(a);
    }
    Vec z(K, 0.0);  // z_t = V s_t
    double zmax = -1e300;
    for (int k = 0; k < K; ++k) {
      for (int j = 0; j < H; ++j) z[k] += V[k][j] * f.s[t][j];
      zmax = std::max(zmax, z[k]);
    }
    double norm = 0;  // ŷ_t = softmax(z_t)
    for (int k = 0; k < K; ++k) norm += std::exp(z[k] - zmax);
    for (int k = 0; k < K; ++k) f.y_hat[t][k] = std::exp(z[k] - zmax) / norm;
    f.E[t] = -std::log(f.y_hat[t][targets[t - 1]]);  // E_t = -log ŷ_t[y_t]
  }
  return f;
}

struct HandGrads {
  Mat dV, dW, dU;
  std::vector<double> jacobian_norm;  // ||ds_t/ds_k|| (max row sum) for k = 1..t, to see the product shrink
};

// dE_t/dV, dE_t/dW, dE_t/dU by the formulas of the derivation.
HandGrads hand_grads(const HandForward& f, const Mat& W, const Mat& V, const std::vector<int>& targets, int t) {
  HandGrads g{zeros_mat(K, H), zeros_mat(H, H), zeros_mat(H, D), std::vector<double>(t + 1, 0.0)};

  // dE_t/dz_t = ŷ_t - onehot(y_t)   (softmax followed by cross-entropy)
  Vec dz = f.y_hat[t];
  dz[targets[t - 1]] -= 1;
  // dE_t/dV = dz outer s_t: V only acts at step t, so there is no sum over time
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < H; ++j) g.dV[k][j] = dz[k] * f.s[t][j];
  // dE_t/ds_t = V^T dz
  Vec ds_t(H, 0.0);
  for (int j = 0; j < H; ++j)
    for (int k = 0; k < K; ++k) ds_t[j] += V[k][j] * dz[k];

  // Sum over the steps k = t, t-1, ..., 1 that W and U acted at.
  for (int k = t; k >= 1; --k) {
    // J = ds_t/ds_k = prod_{j = k+1..t} ds_j/ds_{j-1}, each factor diag(1 - s_j^2) W  (the identity for k = t)
    Mat J = zeros_mat(H, H);
    for (int i = 0; i < H; ++i) J[i][i] = 1;
    for (int j = t; j >= k + 1; --j) {  // J <- J (diag(1 - s_j^2) W)
      Mat next = zeros_mat(H, H);
      for (int r = 0; r < H; ++r)
        for (int c = 0; c < H; ++c)
          for (int m = 0; m < H; ++m) next[r][c] += J[r][m] * (1 - f.s[j][m] * f.s[j][m]) * W[m][c];
      J = next;
    }
    for (int r = 0; r < H; ++r) {  // ||J|| = max_r sum_c |J[r][c]| (1 for the identity)
      double row = 0;
      for (int c = 0; c < H; ++c) row += std::abs(J[r][c]);
      g.jacobian_norm[k] = std::max(g.jacobian_norm[k], row);
    }
    // dE_t/ds_k along this path = J^T dE_t/ds_t;  through tanh: delta_k = that (.) (1 - s_k^2)  (= dE_t/da_k)
    Vec delta(H, 0.0);
    for (int c = 0; c < H; ++c) {
      for (int r = 0; r < H; ++r) delta[c] += J[r][c] * ds_t[r];
      delta[c] *= 1 - f.s[k][c] * f.s[k][c];
    }
    // a_k = U x_k + W s_{k-1}: the immediate partials are outer products with s_{k-1} and x_k
    for (int i = 0; i < H; ++i) {
      for (int j = 0; j < H; ++j) g.dW[i][j] += delta[i] * f.s[k - 1][j];
      for (int d = 0; d < D; ++d) g.dU[i][d] += delta[i] * f.x[k][d];
    }
  }
  return g;
}

// ---- printing and comparing ----------------------------------------------------------------------------
Mat to_mat(const Tensor& t) {  // [rows, cols] float64 tensor -> Mat
  Mat m = zeros_mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)));
  for (int i = 0; i < t.size(0); ++i)
    for (int j = 0; j < t.size(1); ++j) m[i][j] = t.at<double>({i, j});
  return m;
}

// Prints hand and autograd side by side; returns the largest absolute difference.
double compare(const char* name, const Mat& hand, const Mat& autograd) {
  const int width = static_cast<int>(11 * hand[0].size());
  std::printf("\n%s\n  %*s  | %*s\n", name, width, "by hand", width, "autograd");
  double worst = 0;
  for (size_t i = 0; i < hand.size(); ++i) {
    std::printf("  ");
    for (double v : hand[i]) std::printf("%11.7f", v);
    std::printf("  | ");
    for (double v : autograd[i]) std::printf("%11.7f", v);
    std::printf("\n");
    for (size_t j = 0; j < hand[i].size(); ++j) worst = std::max(worst, std::abs(hand[i][j] - autograd[i][j]));
  }
  std::printf("  max |difference| = %.3g\n", worst);
  return worst;
}

int run_bptt_by_hand(int argc, char** argv) {
  examples::Cli cli("bptt_by_hand", "bptt_by_hand: the BPTT formulas for a 3-step tanh RNN against autograd");
  uint64_t seed = 0;
  cli.seed("--seed", seed, "random seed for U, W, V");
  std::string out = "examples_out";
  cli.text("--out", out, "directory for bptt_graph.dot (the recorded graph)");
  bool check = false;
  cli.flag("--check", check, "exit 1 unless hand and autograd gradients agree to 1e-6");
  cli.parse(argc, argv);

  // Parameters: U [H, D], W [H, H], V [K, H], float64, uniform in [-1, 1]; the sequence: words and next-word
  // targets. Every tensor below is float64 (matmul wants both operands of the same dtype).
  Generator gen(seed);
  Tensor U = uniform({H, D}, -1, 1, kFloat64, gen), W = uniform({H, H}, -1, 1, kFloat64, gen),
         V = uniform({K, H}, -1, 1, kFloat64, gen);
  const std::vector<int> words = {0, 2, 1}, targets = {2, 1, 3};

  // ---- autograd: record the unrolled network with ordinary ops (row vectors: s_t^T = tanh(x_t^T U^T + ...)) --
  for (Tensor* p : {&U, &W, &V}) p->requires_grad_();
  Tensor s = zeros({1, H}, kFloat64);  // s_0: [N = 1, H]
  std::vector<Tensor> E(T + 1);
  for (int t = 1; t <= T; ++t) {
    TimeStepScope scope(t);  // groups this step's ops in the exported graph ("t = 1", "t = 2", "t = 3")
    Tensor x = zeros({1, D}, kFloat64);
    x.data<double>()[words[t - 1]] = 1;                                   // x_t: [1, D] one-hot
    s = tanh(add(matmul(x, U, false, true), matmul(s, W, false, true)));  // [1, H]
    const Tensor z = matmul(s, V, false, true);                           // [1, K]
    // the target class y_t: an int64 tensor [1]
    E[t] = cross_entropy(z, tensor({targets[t - 1]}), {.reduction = Reduction::Sum});
  }
  const Tensor E_total = add(add(E[1], E[2]), E[3]);
  std::filesystem::create_directories(out);
  const std::string dot_path = out + "/bptt_graph.dot";
  write_dot(E_total, dot_path, {{"U", U}, {"W", W}, {"V", V}});  // before backward, which frees the graph

  // ---- the hand side -----------------------------------------------------------------------------------
  const Mat Um = to_mat(U.detach()), Wm = to_mat(W.detach()), Vm = to_mat(V.detach());
  const HandForward f = hand_forward(Um, Wm, Vm, words, targets);
  double worst = 0;
  std::printf("forward: E_t by hand vs recorded graph\n");
  for (int t = 1; t <= T; ++t) {
    std::printf("  E_%d = %.10f | %.10f\n", t, f.E[t], E[t].item<double>());
    worst = std::max(worst, std::abs(f.E[t] - E[t].item<double>()));
  }

  // dE_3/d{V, W, U}: by hand, then backward() from E_3 (retain_graph: E's backward below reuses the graph)
  const HandGrads g3 = hand_grads(f, Wm, Vm, targets, 3);
  E[3].backward(Tensor(), /*retain_graph=*/true);
  std::printf("\n||ds_3/ds_k|| (max row sum), the Jacobian products in the sum:  k=3: %.4f  k=2: %.4f  k=1: %.4f\n",
              g3.jacobian_norm[3], g3.jacobian_norm[2], g3.jacobian_norm[1]);
  worst = std::max(worst, compare("dE_3/dV", g3.dV, to_mat(V.grad())));
  worst = std::max(worst, compare("dE_3/dW", g3.dW, to_mat(W.grad())));
  worst = std::max(worst, compare("dE_3/dU", g3.dU, to_mat(U.grad())));

  // dE/d{V, W, U} for E = E_1 + E_2 + E_3: the sum over t of the per-step gradients
  Mat dV = zeros_mat(K, H), dW = zeros_mat(H, H), dU = zeros_mat(H, D);
  for (int t = 1; t <= T; ++t) {
    const HandGrads gt = hand_grads(f, Wm, Vm, targets, t);
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < H; ++j) dV[i][j] += gt.dV[i][j];
    for (int i = 0; i < H; ++i) {
      for (int j = 0; j < H; ++j) dW[i][j] += gt.dW[i][j];
      for (int d = 0; d < D; ++d) dU[i][d] += gt.dU[i][d];
    }
  }
  for (Tensor* p : {&U, &W, &V}) p->zero_grad();
  E_total.backward();
  worst = std::max(worst, compare("dE/dV (E = E_1 + E_2 + E_3)", dV, to_mat(V.grad())));
  worst = std::max(worst, compare("dE/dW", dW, to_mat(W.grad())));
  worst = std::max(worst, compare("dE/dU", dU, to_mat(U.grad())));

  std::printf("\nlargest difference between hand formulas and autograd: %.3g\n", worst);
  std::printf("wrote %s (render: dot -Tsvg %s -o bptt_graph.svg)\n", dot_path.c_str(), dot_path.c_str());
  if (check) {
    const bool ok = worst < 1e-6;
    std::printf("check: max |hand - autograd| < 1e-6: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_example("bptt_by_hand", [&] { return run_bptt_by_hand(argc, argv); });
}
