// Tests for framework/autograd.cpp: the backward engine, grad mode, retain_grad, graph lifetime.
#include <doctest/doctest.h>

#include <cmath>
#include <thread>
#include <unroll/unroll.hpp>

#include <unroll/framework/detail/gemm_kernel.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;

namespace {
Tensor leaf(std::initializer_list<real> values) { return unroll_test::values_leaf(values); }
}  // namespace

TEST_CASE("backward computes gradients and accumulates across calls") {
  Tensor x = leaf({1, 2, 3});
  Tensor loss = sum(x * x);  // fan-out: x used twice -> d/dx = 2x
  loss.backward();
  CHECK(x.grad().to_vector() == std::vector<real>{2, 4, 6});
  sum(x * x).backward();
  CHECK(x.grad().to_vector() == std::vector<real>{4, 8, 12});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(3 * x).backward();
  CHECK(x.grad().to_vector() == std::vector<real>{3, 3, 3});
}

TEST_CASE("backward with an explicit seed; errors name the problem") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2;
  CHECK_THROWS_WITH_AS(y.backward(),
                       "backward: grad can be implicitly created only for a one-element output; this tensor has shape "
                       "[2]: pass a seed gradient of that shape",
                       Error);
  CHECK_THROWS_WITH_AS(y.backward(ones({3})), "backward: seed gradient has shape [3] but the tensor has shape [2]", Error);
  y.backward(tensor({1, 10}));
  CHECK(x.grad().to_vector() == std::vector<real>{2, 20});
  CHECK_THROWS_WITH_AS(ones({1}).backward(),
                       doctest::Contains("backward: tensor of shape [1] does not require grad"), Error);
}

TEST_CASE("the graph is freed after backward unless retained") {
  const int64_t before = live_node_count();
  {
    Tensor x = leaf({0.5, -1});
    Tensor y = sum(tanh(x * x + 1));
    CHECK(live_node_count() > before);
    y.backward(Tensor(), /*retain_graph=*/true);
    y.backward();  // allowed: the first call retained the graph
    CHECK(x.grad().to_vector()[0] != 0);
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("backward through the graph a second time (op 'sum')"), Error);
  }
  CHECK(live_node_count() == before);  // no reference cycles: every node died with its tensors
}

TEST_CASE("detach, no-grad guard and requires_grad rules") {
  Tensor x = leaf({1, 2});
  Tensor d = (x * 3).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.to_vector() == std::vector<real>{3, 6});
  {
    NoGradGuard guard;
    CHECK_FALSE(is_grad_enabled());
    Tensor y = x * 3;
    CHECK_FALSE(y.requires_grad());
    // grad mode is per thread: another thread still records
    bool other_thread_records = false;
    std::thread([&] { other_thread_records = (x * 3).requires_grad(); }).join();
    CHECK(other_thread_records);
  }
  CHECK(is_grad_enabled());
  Tensor y = x * 3;
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  CHECK(std::string(y.grad_fn_name()) == "mul");
  CHECK_THROWS_WITH_AS(y.requires_grad_(false), doctest::Contains("requires_grad_: only leaf tensors"), Error);
}

TEST_CASE("retain_grad keeps dL/dh for intermediate tensors") {
  Tensor w = leaf({0.5});
  Tensor h0 = tensor({1.0});
  Tensor h1 = w * h0;
  Tensor h2 = w * h1;
  h1.retain_grad();
  h2.retain_grad();
  Tensor loss = sum(h2 * h2);  // loss = w^4 h0^2
  loss.backward();
  CHECK(h2.grad().item() == doctest::Approx(2 * 0.25));       // dL/dh2 = 2 h2
  CHECK(h1.grad().item() == doctest::Approx(2 * 0.25 * 0.5));  // dL/dh1 = dL/dh2 * w
  CHECK(w.grad().item() == doctest::Approx(4 * 0.125));        // 4 w^3
  Tensor mid = w * 2;  // not retained: no grad kept
  sum(mid).backward();
  CHECK_FALSE(mid.grad().defined());
}

TEST_CASE("10,000 unrolled steps backpropagate and free without stack overflow") {
  const int64_t before = live_node_count();
  {
    Tensor w = leaf({0.9});
    Tensor h = zeros({1});
    for (int t = 0; t < 10000; ++t) h = tanh(w * h + 0.1);  // 4 nodes per step
    sum(h).backward();
    CHECK(w.grad().defined());
    CHECK(std::isfinite(w.grad().item()));
  }
  CHECK(live_node_count() == before);
  {
    // a deep graph dropped without backward must be destroyed iteratively too
    Tensor w = leaf({0.9});
    Tensor h = zeros({1});
    for (int t = 0; t < 100000; ++t) h = w * h + 0.1;
  }
  CHECK(live_node_count() == before);
}

TEST_CASE("gradients reaching a tensor along many paths are summed once, in order") {
  Tensor x = leaf({2});
  Tensor a = x * x;      // 4
  Tensor b = a * x;      // x^3
  Tensor c = a + b + x;  // x^2 + x^3 + x
  sum(c).backward();
  CHECK(x.grad().item() == doctest::Approx(2 * 2 + 3 * 4 + 1));
}

TEST_CASE("multi-root backward") {
  Tensor x = leaf({1, 2});
  backward({sum(x * 2), sum(x * x)}, {Tensor(), Tensor()});
  CHECK(x.grad().to_vector() == std::vector<real>{4, 6});
}

TEST_CASE("backward() packs float32 leaves once for the pass: products whose B is a leaf may use one copy") {
  // A probe op whose backward asks the kernel's cache (detail::packed_weight) about three buffers: a float32
  // leaf (covered during the pass), a tensor computed from it (not a leaf: not covered) and a float64 leaf
  // (float64 products go to OpenBLAS: not covered). Outside backward() nothing is covered.
  Tensor w = randn({8, 5}).requires_grad_();
  Tensor w64 = randn({8, 5}, kFloat64).requires_grad_();
  Tensor mid = w * 2;
  bool leaf_covered = false, mid_covered = true, double_covered = true;
  const auto covered = [](const Tensor& t) {
    bool fresh = false;
    return unroll::detail::packed_weight(static_cast<const float*>(t.impl()->storage->data), 5, true, 8, 5, 32,
                                         32 * 5, &fresh) != nullptr;
  };
  Tensor out = mid.detach() + w64.detach().to(kFloat32);
  record(out, "probe", {mid, w64}, [&](BackwardContext& c) {
    leaf_covered = covered(w);
    mid_covered = covered(mid);
    double_covered = covered(w64);
    c.add_grad(0, c.grad_output());
  });
  sum(out).backward();
  CHECK(leaf_covered);
  CHECK_FALSE(mid_covered);
  CHECK_FALSE(double_covered);
  CHECK_FALSE(covered(w));
  CHECK(w.grad().to_vector() == std::vector<real>(40, 2));  // the probe's gradient went through
}
