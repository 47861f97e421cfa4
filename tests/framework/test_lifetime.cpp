// Graph and buffer lifetime: live_node_count() and live_buffer_count() return to their baseline after
// backward, after a graph goes out of scope, after a training step, after errors. A leak here is a
// reference cycle or a forgotten handle; LeakSanitizer (the sanitizer build) catches the raw-memory kind.
#include <doctest/doctest.h>

#include <thread>
#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
struct Counts {
  int64_t nodes = live_node_count();
  int64_t buffers = live_buffer_count();
};

Tensor leaf(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = randn(shape, gen);
  t.requires_grad_();
  return t;
}
}  // namespace

TEST_CASE("live_buffer_count counts Storage objects, shared buffers once") {
  const Counts base;
  {
    Tensor a = zeros({3, 4});
    CHECK(live_buffer_count() == base.buffers + 1);
    Tensor view = reshape(a, {12});  // same buffer
    Tensor d = a.detach();           // same buffer
    CHECK(live_buffer_count() == base.buffers + 1);
    Tensor b = a + 1;  // a new one
    CHECK(live_buffer_count() == base.buffers + 2);
  }
  CHECK(live_buffer_count() == base.buffers);
  release_cached_buffers();  // cached blocks are not live buffers
  CHECK(live_buffer_count() == base.buffers);
}

TEST_CASE("after backward only the root's own node is left; after scope, nothing") {
  const Counts base;
  {
    Tensor x = leaf({4, 5}, 1), w = leaf({3, 5}, 2), b = leaf({3}, 3);
    const Counts with_leaves;
    CHECK(with_leaves.buffers == base.buffers + 3);
    Tensor loss = mean(sigmoid(tanh(matmul(x, w, false, true) + b) * 2 - exp(x.sum())));
    CHECK(live_node_count() > with_leaves.nodes + 5);
    loss.backward();
    // the root's node (released) is held by `loss`; every other node and saved value is gone. Buffers left:
    // the three leaves, their three gradients and the loss value.
    CHECK(live_node_count() == with_leaves.nodes + 1);
    CHECK(live_buffer_count() == with_leaves.buffers + 3 + 1);
    CHECK(x.grad().defined());
    CHECK(w.grad().defined());
    CHECK(b.grad().defined());
  }
  CHECK(live_node_count() == base.nodes);
  CHECK(live_buffer_count() == base.buffers);
}

TEST_CASE("every op family frees its graph: dropped without backward, after backward, retained") {
  const Counts base;
  for (int mode = 0; mode < 3; ++mode) {
    {
      Tensor x = leaf({2, 3, 4}, 7), y = leaf({4}, 8);
      Tensor idx = tensor({2, 0, 1});
      Tensor h = concat({x, flip(x, 1)}, 1);                            // [2, 6, 4]
      h = permute(h, {2, 0, 1}) * unsqueeze(unsqueeze(y, 1), 2);        // [4, 2, 6]
      h = narrow(h, 2, 1, 4) + gather(h, 2, zeros({4, 2, 4}, kInt64));  // [4, 2, 4]
      h = index_select(h, 1, tensor({1, 0, 1}));                        // [4, 3, 4]
      h = log_softmax(reshape(h, {12, 4}), 1) + softmax(h, 0).reshape({12, 4});
      h = where(gt(relu(h), 0), h, abs(h)) / (clamp(h, -1, 1) + 3);
      h = masked_fill(h, lt(h, -0.5), 0.5) + (h.to(kFloat64) * 2).to(kFloat32);  // dtype conversions record too
      Tensor loss = cross_entropy(h, tensor({0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3})) + mse_loss(relu(h), zeros({12, 4})) +
                    max(pow(h, 2)) + sum(stack(unbind(h, 0), 1)) * 0 +
                    binary_cross_entropy_with_logits(h, ones({12, 4})) + embedding(reshape(x, {6, 4}), idx).sum() +
                    dropout(h, 0.3, true).mean();
      if (mode == 1) loss.backward();
      if (mode == 2) {
        loss.backward(Tensor(), /*retain_graph=*/true);
        loss.backward();
      }
    }
    CAPTURE(mode);
    CHECK(live_node_count() == base.nodes);
    CHECK(live_buffer_count() == base.buffers);
  }
}

TEST_CASE("a failing op or a failing backward leaks nothing") {
  const Counts base;
  {
    Tensor x = leaf({3, 4}, 11);
    Tensor h = tanh(x) * 2;
    CHECK_THROWS_AS(matmul(h, h), Error);  // [3, 4] x [3, 4]
    CHECK_THROWS_AS(h.backward(), Error);  // not a scalar
    Tensor loss = sum(h);
    loss.backward();
    CHECK_THROWS_AS(loss.backward(), Error);  // second time through a freed graph
  }
  CHECK(live_node_count() == base.nodes);
  CHECK(live_buffer_count() == base.buffers);
}

TEST_CASE("an LSTM + Linear + Adam training loop: constant counts per step, baseline after scope") {
  const Counts base;
  {
    manual_seed(3);
    layers::LSTM lstm({.input_size = 5, .hidden_size = 8, .num_layers = 2, .dropout = 0.2});
    layers::Linear head({.in_features = 8, .out_features = 4});
    std::vector<Tensor> params = lstm.parameters();
    for (const Tensor& p : head.parameters()) params.push_back(p);
    optim::Adam opt(params, {.lr = 1e-2});
    const Tensor x = randn({6, 3, 5});
    const Tensor targets = tensor({0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1}).reshape({18});
    Counts after_first;
    for (int step = 0; step < 4; ++step) {
      opt.zero_grad();
      auto [y, state] = lstm(x);  // y: [6, 3, 8]
      Tensor loss = cross_entropy(reshape(head(y), {18, 4}), targets);
      loss.backward();
      optim::clip_grad_norm(params, 1.0);
      opt.step();
      if (step == 0) after_first = Counts();
      // the same work every step: nothing accumulates (the loss, y and state of this step are still alive)
      CAPTURE(step);
      CHECK(live_node_count() == after_first.nodes);
      CHECK(live_buffer_count() == after_first.buffers);
    }
  }
  CHECK(live_node_count() == base.nodes);
  CHECK(live_buffer_count() == base.buffers);
}

TEST_CASE("GRU and RNN modules with gradient checkpointing and ragged batches free everything") {
  const Counts base;
  {
    manual_seed(5);
    layers::GRU gru({.input_size = 3, .hidden_size = 4, .bidirectional = true});
    layers::RNN rnn({.input_size = 3, .hidden_size = 4, .num_layers = 2});
    layers::LSTMCell cell({.input_size = 3, .hidden_size = 4});
    const Tensor x = randn({7, 2, 3});
    const Tensor lengths = tensor({7, 4});
    auto [y1, s1] = gru(x, {}, lengths);
    auto [y2, s2] = rnn(x);
    auto [y3, s3] = layers::unroll_cell(cell, x, {}, {}, {.checkpoint_every = 3});
    Tensor loss = sum(y1) + sum(y2) + sum(y3) + sum(s1.h) + sum(s3.c);
    loss.backward();
  }
  CHECK(live_node_count() == base.nodes);
  CHECK(live_buffer_count() == base.buffers);
}

TEST_CASE("buffers made and freed on another thread are counted there too") {
  const Counts base;
  Tensor kept;
  std::thread worker([&] {
    Tensor x = leaf({16, 16}, 9);
    Tensor loss = sum(matmul(x, x));
    loss.backward();
    kept = x.grad();  // handed to the main thread, outlives the worker
  });
  worker.join();
  CHECK(live_buffer_count() == base.buffers + 1);
  kept = Tensor();
  CHECK(live_buffer_count() == base.buffers);
  CHECK(live_node_count() == base.nodes);
}
