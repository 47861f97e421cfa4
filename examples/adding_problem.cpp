// adding_problem: a long-range memory task that a tanh RNN fails and an LSTM or GRU solves.
//
// Each sequence has T steps of two inputs: a value drawn from U[0, 1] and a marker. Exactly two steps
// are marked (marker 1; one in the first half, one in the second half); the target is the sum of the
// two marked values (Hochreiter & Schmidhuber 1997; the setting of Le, Jaitly & Hinton 2015). Nothing
// else matters, so the network must notice a value, hold it for up to T steps while ignoring everything
// else, and add the second one. Always answering 1 (the mean of the target) gives MSE = Var(u1 + u2) =
// 2/12 = 0.167: a model that has not learned to remember stays at this baseline.
//
// Model: a one-layer RNN / LSTM / GRU over the sequence, a Linear head on the final hidden state,
// mse_loss, Adam, gradient-norm clipping. Batches are generated on the fly from a seeded Generator, so a
// run is reproducible and every model sees exactly the same batches.
//
//   ./adding_problem [--length T] [--steps S] [--hidden H] [--models rnn,lstm,gru] [--seed S] [--check]
//   ./adding_problem --length 100 --steps 6000     (longer sequences need more steps)
//
// Shapes: T = time steps, N = batch, H = hidden size; inputs are [T, N, 2] (time-major).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "common/cli.hpp"
#include "common/nan_guard.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"

using namespace unroll;

struct Batch {
  Tensor x;  // [T, N, 2]: (value, marker) per step
  Tensor y;  // [N, 1]: sum of the two marked values
};

// N sequences of length T. First marker uniform in [0, T/2), second in [T/2, T).
Batch make_batch(int64_t T, int64_t N, Generator& gen) {
  std::vector<float> x(T * N * 2, 0), y(N, 0);  // float32 tensors below
  for (int64_t n = 0; n < N; ++n) {
    const int64_t first = static_cast<int64_t>(gen.below(T / 2));
    const int64_t second = T / 2 + static_cast<int64_t>(gen.below(T - T / 2));
    for (int64_t t = 0; t < T; ++t) {
      float* step = &x[(t * N + n) * 2];  // x[t, n, :]
      step[0] = gen.uniform(0, 1);
      if (t == first || t == second) {
        step[1] = 1;
        y[n] += step[0];
      }
    }
  }
  return {tensor(x, {T, N, 2}), tensor(y, {N, 1})};
}

// A recurrent layer followed by a Linear head on its final hidden state: x [T, N, 2] -> [N, 1].
class Adder : public layers::Module {
 public:
  Adder(const std::string& kind, int64_t hidden) : kind_(kind) {
    if (kind == "rnn")
      rnn_ = std::make_unique<layers::RNN>(layers::RNNOptions{.input_size = 2, .hidden_size = hidden});
    else if (kind == "lstm")  // forget bias 1: remember by default (see docs/lstm.md)
      rnn_ =
          std::make_unique<layers::LSTM>(layers::LSTMOptions{.input_size = 2, .hidden_size = hidden, .forget_bias = 1});
    else if (kind == "gru")
      rnn_ = std::make_unique<layers::GRU>(layers::GRUOptions{.input_size = 2, .hidden_size = hidden});
    else
      throw std::invalid_argument("unknown model '" + kind + "' (rnn, lstm or gru)");
    head_ = std::make_unique<layers::Linear>(layers::LinearOptions{.in_features = hidden, .out_features = 1});
    register_module("rnn", *rnn_);
    register_module("head", *head_);
  }

  Tensor forward(const Tensor& x) {
    const layers::SequenceOutput out = (*rnn_)(x);  // out.state.h: [1, N, H]
    const Tensor h_last = squeeze(out.state.h, 0);  // [N, H]
    return (*head_)(h_last);                        // [N, 1]
  }
  std::string describe() const override { return "Adder(" + kind_ + ")"; }

 private:
  std::string kind_;
  std::unique_ptr<layers::RecurrentNetwork> rnn_;
  std::unique_ptr<layers::Linear> head_;
};

double test_mse(Adder& model, const Batch& test) {
  NoGradGuard no_grad;
  return mse_loss(model.forward(test.x), test.y).item();
}

int run_adding_problem(int argc, char** argv) {
  examples::Cli cli("adding_problem", "adding_problem: tanh RNN vs LSTM vs GRU on the adding problem");
  bool quick = cli.peek_flag(argc, argv, "--quick"), check = false;
  cli.flag("--quick", quick, "small, fast run (T = 20, hidden 32, batch 32, 500 steps) for the tests");
  int64_t T = quick ? 20 : 50, steps = quick ? 500 : 1000, H = quick ? 32 : 64, N = quick ? 32 : 64;
  int64_t eval_every = 50, test_size = quick ? 500 : 1000;
  const int64_t kMax = examples::kMaxSize;
  cli.count("--length", T, "sequence length T (try 100, 200)", 2, kMax);
  cli.count("--steps", steps, "training steps per model");
  cli.count("--hidden", H, "hidden size", 1, kMax);
  cli.count("--batch", N, "batch size", 1, kMax);
  double lr = 1e-2, clip = 1.0;
  cli.number("--lr", lr, "Adam learning rate", examples::positive);
  cli.number("--clip", clip, "max gradient norm", examples::positive);
  cli.count("--eval-every", eval_every, "steps between test evaluations");
  cli.count("--test-size", test_size, "test sequences", 1, kMax);
  std::string model_list = quick ? "rnn,lstm" : "rnn,lstm,gru";
  cli.text("--models", model_list, "comma-separated: rnn, lstm, gru");
  uint64_t seed = 0;
  cli.seed("--seed", seed, "random seed");
  std::string out = "examples_out";
  cli.text("--out", out, "directory for the SVG and CSV files");
  cli.flag("--check", check, "exit 1 unless LSTM and GRU beat the RNN (quick: LSTM < 0.05)");
  cli.parse(argc, argv);

  std::vector<std::string> kinds;
  for (size_t start = 0; start <= model_list.size();) {
    const size_t comma = std::min(model_list.find(',', start), model_list.size());
    if (comma > start) kinds.push_back(model_list.substr(start, comma - start));
    start = comma + 1;
  }
  for (const std::string& kind : kinds)
    if (kind != "rnn" && kind != "lstm" && kind != "gru")
      throw examples::UsageError("--models: unknown model '" + kind + "' (rnn, lstm or gru)");
  if (kinds.empty()) throw examples::UsageError("--models: no model");

  Generator test_gen(seed + 1000);
  const Batch test = make_batch(T, test_size, test_gen);  // fixed test set: [T, test_size, 2]
  std::printf("adding problem: T = %lld, batch %lld, hidden %lld, %lld steps, Adam lr %g, clip %g; baseline MSE %.4f\n",
              (long long)T, (long long)N, (long long)H, (long long)steps, lr, clip,
              mse_loss(full(test.y.shape(), 1.0), test.y).item());  // always answering 1 (1.0: float32)

  examples::LinePlot plot("Adding problem, T = " + std::to_string(T), "training step", "test MSE");
  plot.log_y = true;
  plot.add("baseline 1/6", {0, double(steps)}, {1.0 / 6, 1.0 / 6});  // first, so the curves are drawn over it
  std::map<std::string, double> final_mse;
  for (const std::string& kind : kinds) {
    manual_seed(seed);              // parameter initialization
    Generator batch_gen(seed + 1);  // the same training batches for every model
    Adder model(kind, H);
    optim::Adam opt(model.parameters(), {.lr = lr});
    std::printf("\n%s: %lld parameters\n", kind.c_str(), (long long)model.num_parameters());

    std::vector<double> xs = {0}, ys = {test_mse(model, test)};
    examples::Progress progress(steps, "seq");
    double mse = ys.back();
    for (int64_t step = 1; step <= steps; ++step) {
      const Batch batch = make_batch(T, N, batch_gen);
      const Tensor loss = mse_loss(model.forward(batch.x), batch.y);
      opt.zero_grad();
      loss.backward();  // BPTT through all T steps
      optim::clip_grad_norm(model.parameters(), clip);
      opt.step();
      if (step % eval_every == 0 || step == steps) {
        mse = test_mse(model, test);
        xs.push_back(double(step));
        ys.push_back(mse);
      }
      const double loss_value = loss.item();
      examples::stop_if_not_finite(loss_value, step);
      progress.update(step, double(N), {{"loss", loss_value}, {"test_mse", mse}});
    }
    progress.finish();
    final_mse[kind] = mse;
    plot.add(kind, xs, ys);
  }

  std::filesystem::create_directories(out);
  const std::string path = out + "/adding_problem_T" + std::to_string(T) + ".svg";
  plot.save(path);
  std::printf("\nfinal test MSE (T = %lld):", (long long)T);
  for (const auto& kind : kinds) std::printf("  %s %.4f", kind.c_str(), final_mse[kind]);
  std::printf("\nwrote %s (+ .csv)\n", path.c_str());

  if (!check) return 0;
  auto has = [&](const char* k) { return final_mse.count(k) > 0; };
  bool ok = true;
  if (quick) {
    // T = 20 for a few hundred steps: the LSTM must be well on its way and clearly ahead of the RNN.
    ok = has("lstm") && has("rnn") && final_mse["lstm"] < 0.05 && final_mse["lstm"] < 0.5 * final_mse["rnn"];
    std::printf("check: LSTM %.4f < 0.05 and < half the RNN's %.4f: %s\n", final_mse["lstm"], final_mse["rnn"],
                ok ? "ok" : "FAIL");
  } else {
    // Every model that ran: LSTM and GRU below 0.01, the tanh RNN still near the 0.167 baseline.
    for (const auto& [kind, mse] : final_mse) {
      const bool pass = kind == "rnn" ? mse > 0.1 : mse < 0.01;
      std::printf("check: %s test MSE %.4f %s: %s\n", kind.c_str(), mse, kind == "rnn" ? "> 0.1" : "< 0.01",
                  pass ? "ok" : "FAIL");
      ok = ok && pass;
    }
  }
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  return examples::run_example("adding_problem", [&] { return run_adding_problem(argc, argv); });
}
