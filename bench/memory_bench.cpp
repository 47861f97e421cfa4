// memory_bench: what training a long sequence costs in memory, against what the graph must keep.
//
//   build/bench/memory_bench [--seq T] [--hidden H] [--batch N] [--steps S] [--checkpoint-every K]
//                            [--report-every R]
//
// Trains LSTM 1 x H (input H) with a linear head (10 classes, mean cross-entropy, SGD) on x: [T, N, H].
// Reports (a) the bytes of every value the recorded graph keeps alive for backward, measured right after
// the forward pass of one step by walking the graph (each buffer once), (b) the process's peak resident
// memory (VmHWM) and how much it grew over the run, and (c) resident memory at the start and end of
// --steps training steps (flat = no growth), and every R steps with --report-every. Last line: key=value pairs.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
int64_t status_kib(const char* field) {  // a "VmRSS:" / "VmHWM:" line of /proc/self/status, in KiB
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::atoll(line.c_str() + std::strlen(field));
  return -1;
}

// Bytes of all distinct buffers reachable from root through the graph (what backward will read).
int64_t graph_bytes(const Tensor& root) {
  std::set<const Storage*> seen;
  std::set<const TensorImpl*> visited;
  std::vector<const TensorImpl*> stack = {root.impl()};
  int64_t bytes = 0;
  while (!stack.empty()) {
    const TensorImpl* t = stack.back();
    stack.pop_back();
    if (!visited.insert(t).second) continue;
    if (seen.insert(t->storage.get()).second) bytes += t->storage->nbytes;
    if (t->grad_fn)
      for (const auto& in : t->grad_fn->inputs)
        if (in) stack.push_back(in.get());
  }
  return bytes;
}
}  // namespace

int main(int argc, char** argv) {
  int64_t T = 1000, H = 256, N = 32, steps = 20, k = 0, report_every = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int64_t v = std::atoll(argv[i + 1]);
    if (flag == "--seq")
      T = v;
    else if (flag == "--hidden")
      H = v;
    else if (flag == "--batch")
      N = v;
    else if (flag == "--steps")
      steps = v;
    else if (flag == "--checkpoint-every")
      k = v;
    else if (flag == "--report-every")
      report_every = v;
    else {
      std::fprintf(stderr, "memory_bench: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  manual_seed(0);
  layers::LSTMCell cell({.input_size = H, .hidden_size = H});
  layers::Linear head({.in_features = H, .out_features = 10});
  std::vector<Tensor> params = cell.parameters();
  for (const Tensor& p : head.parameters()) params.push_back(p);
  optim::SGD sgd(params, {.lr = 0.01});
  const Tensor x = randn({T, N, H});
  Tensor y = empty({T * N}, kInt64);  // class ids
  for (int64_t i = 0; i < T * N; ++i) y.data<int64_t>()[i] = i % 10;

  const int64_t rss_start_kib = status_kib("VmRSS:");
  int64_t activation_bytes = 0, rss_after_first_kib = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) {
    sgd.zero_grad();
    const auto out = layers::unroll_cell(cell, x, {}, {}, {.checkpoint_every = k});
    const Tensor loss = cross_entropy(reshape(head(out.output), {T * N, 10}), y);
    if (s == 0) activation_bytes = graph_bytes(loss);
    loss.backward();
    optim::clip_grad_norm(params, 5);
    sgd.step();
    if (s == 0) rss_after_first_kib = status_kib("VmRSS:");
    if (report_every > 0 && (s + 1) % report_every == 0)
      std::printf("step %lld: RSS %.1f MiB\n", (long long)(s + 1), status_kib("VmRSS:") / 1024.0);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t rss_end_kib = status_kib("VmRSS:"), peak_kib = status_kib("VmHWM:");
  const double graph_mib = activation_bytes / 1048576.0, growth_mib = (peak_kib - rss_start_kib) / 1024.0;
  std::printf("LSTM 1 x %lld, N %lld, T %lld, checkpoint_every %lld, %lld steps in %.1f s (%.3f s/step)\n",
              (long long)H, (long long)N, (long long)T, (long long)k, (long long)steps, seconds, seconds / steps);
  std::printf("graph keeps %.1f MiB for backward; peak RSS %.1f MiB, %.1f MiB above the start (%.2fx the graph)\n",
              graph_mib, peak_kib / 1024.0, growth_mib, growth_mib / graph_mib);
  std::printf("RSS after step 1: %.1f MiB, after step %lld: %.1f MiB\n", rss_after_first_kib / 1024.0, (long long)steps,
              rss_end_kib / 1024.0);
  std::printf("graph_mib=%.1f peak_growth_mib=%.1f ratio=%.2f rss_step1_mib=%.1f rss_end_mib=%.1f s_per_step=%.3f\n",
              graph_mib, growth_mib, growth_mib / graph_mib, rss_after_first_kib / 1024.0, rss_end_kib / 1024.0,
              seconds / steps);
  return 0;
}
