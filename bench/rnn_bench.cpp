// rnn_bench: training (or inference) throughput of unroll's RNN / LSTM / GRU, the same model and step as
// bench/torch_rnn_bench.py so the two can be compared in one run (bench/compare).
//
//   build/bench/rnn_bench CELL LAYERS BATCH SEQ INPUT HIDDEN BIDIR [--no-grad] [--seconds S] [--threads T]
//                         [--split-work MACS]
//
// Model: CELL(INPUT -> HIDDEN, LAYERS, bidirectional) on x: [SEQ, BATCH, INPUT], a Linear head to 10 classes
// at every step, mean cross-entropy, clip_grad_norm 5, SGD lr 0.01. One step = zero_grad, forward,
// backward, clip, update (--no-grad: forward only, under NoGradGuard). 3 warm-up steps, then steps for
// >= 3 s and >= 5 steps. --threads: set_num_threads(T) (default: UNROLL_NUM_THREADS, else all cores).
// --split-work: the matrix kernel's threshold for splitting a product between threads, in multiply-adds
// (detail::set_parallel_gemm_work; for measuring where splitting pays).
// Last line: tokens_per_s=<N> ms_per_step=<M> (tokens = SEQ * BATCH per step).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unroll/framework/detail/gemm_kernel.hpp>
#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: rnn_bench CELL(rnn|lstm|gru) LAYERS BATCH SEQ INPUT HIDDEN BIDIR(0|1) [--no-grad] [--seconds S] "
               "[--threads T] [--split-work MACS]\n");
  std::exit(2);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) usage();
  const std::string cell = argv[1];
  const int64_t L = std::atoll(argv[2]), N = std::atoll(argv[3]), T = std::atoll(argv[4]);
  const int64_t D = std::atoll(argv[5]), H = std::atoll(argv[6]);
  const bool bidirectional = std::strcmp(argv[7], "1") == 0;
  bool no_grad = false;
  double seconds = 3.0;
  for (int i = 8; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-grad") == 0)
      no_grad = true;
    else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      set_num_threads(std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--split-work") == 0 && i + 1 < argc)
      detail::set_parallel_gemm_work(std::atoll(argv[++i]));
    else
      usage();
  }
  manual_seed(0);
  std::unique_ptr<layers::RecurrentNetwork> rnn;
  if (cell == "rnn")
    rnn = std::make_unique<layers::RNN>(
        layers::RNNOptions{.input_size = D, .hidden_size = H, .num_layers = L, .bidirectional = bidirectional});
  else if (cell == "lstm")
    rnn = std::make_unique<layers::LSTM>(
        layers::LSTMOptions{.input_size = D, .hidden_size = H, .num_layers = L, .bidirectional = bidirectional});
  else if (cell == "gru")
    rnn = std::make_unique<layers::GRU>(
        layers::GRUOptions{.input_size = D, .hidden_size = H, .num_layers = L, .bidirectional = bidirectional});
  else
    usage();
  layers::Linear head({.in_features = H * (bidirectional ? 2 : 1), .out_features = 10});
  std::vector<Tensor> params = rnn->parameters();
  for (const Tensor& p : head.parameters()) params.push_back(p);
  const Tensor x = randn({T, N, D});
  Tensor y = empty({T * N}, kInt64);  // class ids
  Generator label_gen(1);
  for (int64_t i = 0; i < T * N; ++i) y.data<int64_t>()[i] = static_cast<int64_t>(label_gen.below(10));

  optim::SGD sgd(params, {.lr = 0.01});
  auto train_step = [&] {
    sgd.zero_grad();
    const Tensor out = rnn->forward(x, {}, Tensor()).output;                // [T, N, H*D]
    const Tensor loss = cross_entropy(reshape(head(out), {T * N, 10}), y);  // mean over T*N
    loss.backward();
    optim::clip_grad_norm(params, 5);
    sgd.step();
  };
  auto inference_step = [&] {
    NoGradGuard guard;
    const Tensor out = rnn->forward(x, {}, Tensor()).output;
    const Tensor logits = head(out);
    (void)logits;
  };
  auto step = [&] { no_grad ? inference_step() : train_step(); };

  for (int i = 0; i < 3; ++i) step();
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < seconds || reps < 5) {
    step();
    ++reps;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double per_step = elapsed / reps;
  std::printf("tokens_per_s=%.0f ms_per_step=%.2f\n", double(N * T) / per_step, per_step * 1e3);
  return 0;
}
