// Tests for framework/gradient_checkpoint.cpp and the unroller's checkpoint_every option: the same gradients
// as the plain graph (compared in float64, where only summation order can differ), and far fewer nodes kept
// alive between forward and backward.
#include <doctest/doctest.h>

#include <cmath>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

namespace {
// Both float64 tensors of the same shape.
double max_relative_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  REQUIRE(a.dtype() == kFloat64);
  REQUIRE(b.dtype() == kFloat64);
  const double *pa = a.data<double>(), *pb = b.data<double>();
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, std::abs(pa[i] - pb[i]) / std::max(1.0, std::abs(pb[i])));
  return worst;
}
}  // namespace

TEST_CASE("checkpoint: same value and gradients as running the function plainly") {
  Generator gen(1);
  Tensor w = uniform({3, 3}, -1, 1, kFloat64, gen);
  w.requires_grad_();
  Tensor x = uniform({2, 3}, -1, 1, kFloat64, gen);
  x.requires_grad_();
  const SegmentFn segment = [&](const std::vector<Tensor>& in) {
    const Tensor h = tanh(matmul(in[0], w));  // w is read directly, not passed as an input
    return std::vector<Tensor>{h, sum(h * h)};
  };
  const auto plain = segment({x});
  (sum(plain[0]) + plain[1]).backward();
  const Tensor gx = x.grad(), gw = w.grad();
  x.zero_grad();
  w.zero_grad();
  const auto saved = checkpoint(segment, {x});
  CHECK(saved[0].to_vector<double>() == plain[0].to_vector<double>());
  (sum(saved[0]) + saved[1]).backward();
  CHECK(max_relative_difference(x.grad(), gx) < 1e-14);
  CHECK(max_relative_difference(w.grad(), gw) < 1e-14);
}

TEST_CASE("checkpoint replays the random draws of dropout") {
  Tensor x = ones({4, 50}, kFloat64);
  x.requires_grad_();
  manual_seed(5);
  const auto out =
      checkpoint([](const std::vector<Tensor>& in) { return std::vector<Tensor>{dropout(in[0], 0.5, true)}; }, {x});
  sum(out[0]).backward();
  CHECK(x.grad().to_vector<double>() == out[0].to_vector<double>());  // the gradient mask is the forward mask
}

TEST_CASE("unroll_cell with checkpoint_every: same outputs and gradients, ragged batch") {
  manual_seed(2);
  LSTMCell cell({.input_size = 3, .hidden_size = 4});
  cell.to(kFloat64);
  Tensor x = randn({23, 3, 3}, kFloat64);
  x.requires_grad_();
  const Tensor lengths = tensor({23, 9, 17});
  auto gradients = [&](int64_t k) {
    x.zero_grad();
    cell.zero_grad();
    const auto [y, state] = unroll_cell(cell, x, {}, lengths, {.checkpoint_every = k});
    (sum(y * y) + sum(state.h) + sum(state.c)).backward();
    std::vector<Tensor> g = {y.detach(), x.grad()};
    for (const Tensor& p : cell.parameters()) g.push_back(p.grad());
    return g;
  };
  const auto plain = gradients(0);
  for (int64_t k : {1, 5, 10}) {
    const auto segmented = gradients(k);
    for (size_t i = 0; i < plain.size(); ++i)
      CHECK_MESSAGE(max_relative_difference(segmented[i], plain[i]) < 1e-12, "k = " << k << ", tensor " << i);
  }
}

TEST_CASE("checkpointing keeps far fewer nodes alive until backward") {
  LSTMCell cell({.input_size = 2, .hidden_size = 3});
  const Tensor x = randn({400, 2, 2});
  const int64_t before = live_node_count();
  int64_t plain_nodes = 0, segmented_nodes = 0;
  {
    const auto out = unroll_cell(cell, x);
    plain_nodes = live_node_count() - before;
  }
  {
    const auto out = unroll_cell(cell, x, {}, {}, {.checkpoint_every = 20});
    segmented_nodes = live_node_count() - before;
    sum(out.output).backward();
  }
  MESSAGE("live nodes after forward: plain " << plain_nodes << ", checkpoint_every 20: " << segmented_nodes);
  CHECK(segmented_nodes * 5 < plain_nodes);
  CHECK(live_node_count() == before);
}
