// set_num_threads / get_num_threads (framework/threads.hpp): training gives bit-identical parameters
// whatever the thread count. The model exercises every threaded part: large products split between
// threads (the input projection of all steps, the weight gradients over T * N rows, a wide head and its
// log_softmax), the two directions of bidirectional layers on two threads, dropout between layers, and a
// direction that draws random numbers itself (run again in order on one thread, see run_pair).
// Inference runs on two threads by slices of the batch, or as a wavefront of stacked layers, with results
// bit-identical to one thread.
#include <doctest/doctest.h>
#include <unroll/framework/detail/gemm_kernel.hpp>
#include <unroll/framework/detail/thread_pool.hpp>
#include <unroll/unroll.hpp>

#include <cstring>
#include <vector>

using namespace unroll;

namespace {

struct Options {
  int threads = 1;
  int64_t split_above = detail::kParallelGemmWork;  // 0: split every product
  bool dropout_inside_direction = false;
  uint64_t seed = 5;
};

// Bidirectional LSTM 2 x 128 (dropout between the layers) on x: [20, 16, 64], a head to 1500 classes,
// mean cross-entropy, clip_grad_norm, SGD; three steps. Returns every parameter's values.
std::vector<std::vector<real>> train(const Options& o) {
  const int saved_threads = get_num_threads();
  const int64_t saved_split = detail::parallel_gemm_work();
  set_num_threads(o.threads);
  detail::set_parallel_gemm_work(o.split_above);
  manual_seed(o.seed);
  const int64_t T = 20, N = 16, I = 64, H = 128, V = 1500;
  std::shared_ptr<layers::SequenceLayer> model;
  std::vector<Tensor> params;
  if (!o.dropout_inside_direction) {
    model = std::make_shared<layers::LSTM>(
        layers::LSTMOptions{.input_size = I, .hidden_size = H, .num_layers = 2, .dropout = 0.2, .bidirectional = true});
    params = model->parameters();
  } else {
    // each direction is itself two stacked LSTM layers with dropout between them: random draws inside
    auto direction = [&] {
      std::vector<std::shared_ptr<layers::SequenceLayer>> inner;
      for (int64_t in : {I, H})
        inner.push_back(std::make_shared<layers::Unidirectional>(
            std::make_shared<layers::LSTMCell>(layers::LSTMCellOptions{.input_size = in, .hidden_size = H})));
      return std::make_shared<layers::Stacked>(inner, 0.3);
    };
    model = std::make_shared<layers::Bidirectional>(direction(), direction());
    params = model->parameters();
  }
  layers::Linear head({.in_features = 2 * H, .out_features = V});
  for (const Tensor& p : head.parameters()) params.push_back(p);
  optim::SGD sgd(params, {.lr = 0.05});
  for (int step = 0; step < 3; ++step) {
    const Tensor x = randn({T, N, I});
    Tensor y = empty({T * N}, kInt64);
    for (int64_t i = 0; i < T * N; ++i) y.data<int64_t>()[i] = static_cast<int64_t>(default_generator().below(V));
    sgd.zero_grad();
    const Tensor out = (*model)(x).output;                                // [T, N, 2H]
    const Tensor loss = cross_entropy(reshape(head(out), {T * N, V}), y);  // log_softmax over [320, 1500]
    loss.backward();
    optim::clip_grad_norm(params, 5);
    sgd.step();
  }
  std::vector<std::vector<real>> values;
  for (const Tensor& p : params) values.push_back(p.to_vector());
  set_num_threads(saved_threads);
  detail::set_parallel_gemm_work(saved_split);
  return values;
}

bool identical(const std::vector<std::vector<real>>& a, const std::vector<std::vector<real>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(real)) != 0)
      return false;
  return true;
}

}  // namespace

TEST_CASE("set_num_threads sets what get_num_threads reports, and refuses fewer than one thread") {
  const int saved = get_num_threads();
  set_num_threads(2);
  CHECK(get_num_threads() == 2);
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  CHECK_THROWS_AS(set_num_threads(0), Error);
  CHECK(get_num_threads() == 1);
  set_num_threads(saved);
}

TEST_CASE("training gives bit-identical parameters on 1, 2 and 3 threads") {
  const int64_t jobs_before = detail::pool_jobs();
  const auto one = train({.threads = 1});
  CHECK(detail::pool_jobs() == jobs_before);  // one thread: nothing ran on the pool
  const auto two = train({.threads = 2});
  CHECK(detail::pool_jobs() > jobs_before);  // two: products and directions did
  CHECK(identical(one, two));
  CHECK(identical(one, train({.threads = 3})));
  // every product split, however small
  CHECK(identical(one, train({.threads = 2, .split_above = 0})));
  CHECK(identical(one, train({.threads = 1, .split_above = 0})));
}

TEST_CASE("a direction that draws random numbers trains as on one thread") {
  const auto one = train({.threads = 1, .dropout_inside_direction = true});
  const auto two = train({.threads = 2, .dropout_inside_direction = true});
  CHECK(identical(one, two));
}

namespace {
struct Inference {
  std::string cell = "lstm";
  int64_t T = 20, N = 8, I = 24, H = 48, L = 3;
  bool bidirectional = false, lengths = false;
};

// Inference of a recurrent network (no grad): outputs and final state, as bits.
std::vector<std::vector<real>> infer(int threads, const Inference& c) {
  const int saved_threads = get_num_threads();
  set_num_threads(threads);
  manual_seed(11);
  const int64_t D = c.bidirectional ? 2 : 1;
  std::shared_ptr<layers::SequenceLayer> model;
  if (c.cell == "lstm")
    model = std::make_shared<layers::LSTM>(layers::LSTMOptions{
        .input_size = c.I, .hidden_size = c.H, .num_layers = c.L, .dropout = 0.3, .bidirectional = c.bidirectional});
  else
    model = std::make_shared<layers::GRU>(layers::GRUOptions{
        .input_size = c.I, .hidden_size = c.H, .num_layers = c.L, .dropout = 0.3, .bidirectional = c.bidirectional});
  model->eval();
  const Tensor x = randn({c.T, c.N, c.I});
  layers::State start{randn({c.L * D, c.N, c.H}), c.cell == "lstm" ? randn({c.L * D, c.N, c.H}) : Tensor()};
  Tensor lengths;
  if (c.lengths) {
    lengths = empty({c.N}, kInt64);
    for (int64_t i = 0; i < c.N; ++i) lengths.data<int64_t>()[i] = 1 + (i * 7) % c.T;
  }
  NoGradGuard no_grad;
  const layers::SequenceOutput out = (*model)(x, start, lengths);
  std::vector<std::vector<real>> values{out.output.to_vector(), out.state.h.to_vector()};
  if (out.state.c.defined()) values.push_back(out.state.c.to_vector());
  set_num_threads(saved_threads);
  return values;
}
}  // namespace

TEST_CASE("inference of stacked layers (a wavefront on two threads) is bit-identical on 1, 2 and 3 threads") {
  for (const std::string cell : {"lstm", "gru"})
    for (const int64_t T : {2, 9, 23, 40}) {  // fewer steps than stretches, uneven stretches, even ones
      CAPTURE(cell);
      CAPTURE(T);
      const Inference c{.cell = cell, .T = T, .N = 6};  // too few rows for slices of the batch
      const auto one = infer(1, c);
      CHECK(identical(one, infer(2, c)));
      CHECK(identical(one, infer(3, c)));
    }
  // k > 256 in the upper layer's projection: a stretch of 4 steps (24 rows, weight_rows) would sum k in
  // another order than the whole sequence's 240 rows (packed, by slices of 256); stretches grow to 14 steps
  const Inference wide{.cell = "lstm", .T = 40, .N = 6, .I = 24, .H = 300, .L = 2};
  const auto one = infer(1, wide);
  const int64_t jobs = detail::pool_jobs();
  CHECK(identical(one, infer(2, wide)));
  CHECK(detail::pool_jobs() > jobs);  // the wavefront ran
  CHECK(identical(one, infer(3, wide)));
}

TEST_CASE("inference by slices of the batch is bit-identical on 1, 2 and 3 threads") {
  // 16 rows in slices of 8 at H = 256 (the whole batch's products take another kernel path than 8 rows would
  // on their own), 9 rows in slices of 4 and 5 at odd sizes, one layer and three, bidirectional, ragged lengths
  const Inference cases[] = {{.cell = "lstm", .T = 12, .N = 16, .I = 40, .H = 256, .L = 1},
                             {.cell = "gru", .T = 12, .N = 16, .I = 40, .H = 256, .L = 2},
                             {.cell = "lstm", .T = 9, .N = 9, .I = 3, .H = 5, .L = 3},
                             {.cell = "gru", .T = 9, .N = 9, .I = 3, .H = 5, .L = 1, .lengths = true},
                             {.cell = "lstm", .T = 7, .N = 12, .I = 10, .H = 33, .L = 2, .bidirectional = true},
                             {.cell = "gru", .T = 7, .N = 12, .I = 10, .H = 33, .L = 2, .bidirectional = true,
                              .lengths = true}};
  for (const Inference& c : cases) {
    CAPTURE(c.cell);
    CAPTURE(c.N);
    CAPTURE(c.H);
    CAPTURE(c.L);
    CAPTURE(c.bidirectional);
    CAPTURE(c.lengths);
    const auto one = infer(1, c);
    const int64_t jobs = detail::pool_jobs();
    CHECK(identical(one, infer(2, c)));
    CHECK(detail::pool_jobs() > jobs);  // the slices ran on the pool
    CHECK(identical(one, infer(3, c)));
  }
}

TEST_CASE("the comparison can fail: another seed's training differs") {
  CHECK_FALSE(identical(train({.threads = 1}), train({.threads = 1, .seed = 6})));
}
