// Tests for framework/ops/fused.cpp (fused::Program): values and gradients against the same chain written
// with the plain ops, finite differences (float64 gradcheck) on every operation, block edges, dtypes, and
// the errors for inputs and programs that do not fit.
#include <doctest/doctest.h>

#include <cmath>
#include <thread>
#include <unroll/framework/detail/thread_pool.hpp>
#include <unroll/unroll.hpp>

#include "support/gradcheck_helpers.hpp"

using namespace unroll;
using fused::Value;

namespace {
Tensor sample(const Shape& s, uint64_t seed, DType dt = kFloat64) {
  Generator gen(seed);
  Tensor t = uniform(s, -3, 3, dt, gen);
  t.requires_grad_();
  return t;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to(kFloat64).to_vector<double>(), y = b.to(kFloat64).to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// dL/d(leaf) for each leaf, from a fresh backward pass.
std::vector<Tensor> grads_of(const Tensor& loss, const std::vector<Tensor>& leaves) {
  for (Tensor t : leaves) t.zero_grad();
  loss.backward();
  std::vector<Tensor> out;
  for (const Tensor& t : leaves) out.push_back(t.grad());
  return out;
}

// The LSTM cell's element-wise part, as layers/cells.cpp writes it, and the same with plain ops.
const fused::Program lstm("lstm_test", {4, 4, 1}, [](const fused::Inputs& in) -> fused::Values {
  const Value i = sigmoid(in[0][0] + in[1][0]), f = sigmoid(in[0][1] + in[1][1]);
  const Value g = tanh(in[0][2] + in[1][2]), o = sigmoid(in[0][3] + in[1][3]);
  const Value c = f * in[2][0] + i * g;
  return {o * tanh(c), c};
});
std::vector<Tensor> lstm_plain(const Tensor& x, const Tensor& hw, const Tensor& c) {
  const std::vector<Tensor> g = chunk(add(x, hw), 4, -1);
  const Tensor c_next = add(mul(sigmoid(g[1]), c), mul(sigmoid(g[0]), tanh(g[2])));
  return {mul(sigmoid(g[3]), tanh(c_next)), c_next};
}

// Every operation once, a value used twice (a * a), an output that is an input piece, an output listed
// twice, and a piece (in[1][1]) the chain never reads: its gradient must be zero.
const fused::Program every_op("every_op", {1, 2}, [](const fused::Inputs& in) -> fused::Values {
  const Value a = in[0][0], b = in[1][0];
  const Value s = sigmoid(a) * tanh(b) - relu(a - 0.5) + exp(b * 0.25);
  const Value t = (2.0 - s) * (a * a) + (-b) + (1.5 * a) + (a + 3.0) - (0.5 + b) * 2.0 + relu(-a);
  return {s, t, b, t};
});
Tensor every_op_plain_sum(const Tensor& a, const Tensor& b2) {  // sum of every_op's outputs, plain ops
  const std::vector<Tensor> p = chunk(b2, 2, -1);
  const Tensor b = p[0];
  const Tensor s = sigmoid(a) * tanh(b) - relu(a - 0.5) + exp(b * 0.25);
  const Tensor t = (2.0 - s) * (a * a) + (-b) + (1.5 * a) + (a + 3.0) - (0.5 + b) * 2.0 + relu(-a);
  return sum(s) + sum(t) + sum(b) + sum(t);
}
}  // namespace

TEST_CASE("fused: the LSTM chain equals the plain ops, values and gradients, on block edges") {
  // rows of 1 to 130 columns (ragged, whole batches, past a block); 32 and 64 columns put several rows in one
  // block of 256 elements (9 rows: a full block and a partial one)
  for (int64_t H : {1, 32, 63, 64, 65, 130, 300})
    for (int64_t N : {1, 3, 9})
      for (DType dt : {kFloat32, kFloat64}) {
        CAPTURE(H);
        CAPTURE(N);
        CAPTURE(name(dt));
        const Tensor x = sample({N, 4 * H}, 1, dt), hw = sample({N, 4 * H}, 2, dt), c = sample({N, H}, 3, dt);
        const std::vector<Tensor> fast = lstm({x, hw, c});
        const std::vector<Tensor> plain = lstm_plain(x, hw, c);
        REQUIRE(fast.size() == 2);
        CHECK(fast[0].dtype() == dt);
        CHECK(fast[0].shape() == Shape{N, H});
        const double tol = dt == kFloat32 ? 1e-6 : 1e-14;
        CHECK(max_abs_diff(fast[0], plain[0]) <= tol);
        CHECK(max_abs_diff(fast[1], plain[1]) <= tol);
        // gradients through both outputs, with different weights on each
        const Tensor w0 = sample({N, H}, 4, dt).detach(), w1 = sample({N, H}, 5, dt).detach();
        const std::vector<Tensor> leaves{x, hw, c};
        const std::vector<Tensor> g_fast = grads_of(sum(fast[0] * w0) + sum(fast[1] * w1), leaves);
        const std::vector<Tensor> g_plain = grads_of(sum(plain[0] * w0) + sum(plain[1] * w1), leaves);
        for (size_t i = 0; i < 3; ++i) CHECK(max_abs_diff(g_fast[i], g_plain[i]) <= 10 * tol);
      }
}

TEST_CASE("fused: every operation against finite differences (float64 gradcheck)") {
  const Tensor a = sample({2, 5}, 7), b2 = sample({2, 10}, 8);
  unroll_test::expect_gradcheck([](const std::vector<Tensor>& in) { return stack(every_op(in), 0); }, {a, b2});
  // and the values, against the same expression in plain ops
  const std::vector<Tensor> out = every_op({a, b2});
  REQUIRE(out.size() == 4);
  double total = 0;
  for (const Tensor& t : out) total += sum(t).item<double>();
  CHECK(total == doctest::Approx(every_op_plain_sum(a, b2).item<double>()).epsilon(1e-12));
  // the piece nobody reads gets a zero gradient, the read one a nonzero one
  const std::vector<Tensor> g = grads_of(sum(stack(every_op({a, b2}), 0)), {b2});
  const std::vector<Tensor> halves = chunk(g[0], 2, -1);
  CHECK(max_abs_diff(halves[1], zeros_like(halves[1])) == 0);
  CHECK(max_abs_diff(halves[0], zeros_like(halves[0])) > 0);
}

TEST_CASE("fused: the cells' programs against finite differences through the layers") {
  // LSTM and GRU steps run fused (RNN steps plain); gradcheck one step of each.
  for (const char* kind : {"lstm", "gru", "rnn_tanh", "rnn_relu"}) {
    CAPTURE(kind);
    Generator gen(11);
    const Tensor x = uniform({3, 4}, -1, 1, kFloat64, gen).requires_grad_();
    const Tensor h = uniform({3, 5}, -1, 1, kFloat64, gen).requires_grad_();
    const Tensor c = uniform({3, 5}, -1, 1, kFloat64, gen).requires_grad_();
    const std::string k = kind;
    if (k == "lstm") {
      layers::LSTMCell cell(layers::LSTMCellOptions{4, 5});
      cell.to(kFloat64);
      unroll_test::expect_gradcheck(
          [&](const std::vector<Tensor>& in) {
            const layers::State s = cell.step(cell.project_input(in[0]), {in[1], in[2]});
            return stack({s.h, s.c}, 0);
          },
          {x, h, c});
    } else if (k == "gru") {
      layers::GRUCell cell(layers::GRUCellOptions{4, 5});
      cell.to(kFloat64);
      unroll_test::expect_gradcheck(
          [&](const std::vector<Tensor>& in) {
            return cell.step(cell.project_input(in[0]), {in[1], Tensor()}).h;
          },
          {x, h});
    } else {
      layers::RNNCellOptions o{4, 5};
      o.nonlinearity = k == "rnn_tanh" ? layers::Nonlinearity::Tanh : layers::Nonlinearity::ReLU;
      layers::RNNCell cell(o);
      cell.to(kFloat64);
      unroll_test::expect_gradcheck(
          [&](const std::vector<Tensor>& in) {
            return cell.step(cell.project_input(in[0]), {in[1], Tensor()}).h;
          },
          {x, h});
    }
  }
}

TEST_CASE("fused: unfused() runs the chain as plain ops: operator()'s values and gradients, every operation") {
  // what operator() runs on a build without an interpreter (a target with no vector unit xsimd knows)
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(name(dt));
    const double tol = dt == kFloat32 ? 1e-6 : 1e-14;
    const Tensor x = sample({9, 4 * 65}, 1, dt), hw = sample({9, 4 * 65}, 2, dt), c = sample({9, 65}, 3, dt);
    const std::vector<Tensor> fast = lstm({x, hw, c}), slow = lstm.unfused({x, hw, c});
    REQUIRE(slow.size() == 2);
    CHECK(slow[0].dtype() == dt);
    CHECK(slow[0].shape() == Shape{9, 65});
    CHECK(max_abs_diff(fast[0], slow[0]) <= tol);
    CHECK(max_abs_diff(fast[1], slow[1]) <= tol);
    const Tensor w0 = sample({9, 65}, 4, dt).detach(), w1 = sample({9, 65}, 5, dt).detach();
    const std::vector<Tensor> leaves{x, hw, c};
    const std::vector<Tensor> g_fast = grads_of(sum(fast[0] * w0) + sum(fast[1] * w1), leaves);
    const std::vector<Tensor> g_slow = grads_of(sum(slow[0] * w0) + sum(slow[1] * w1), leaves);
    for (size_t i = 0; i < 3; ++i) CHECK(max_abs_diff(g_fast[i], g_slow[i]) <= 10 * tol);
  }
  // every operation, an output listed twice, an output that is an input's piece (a tensor of its own), an
  // unread piece (zero gradient); finite differences through the plain ops
  const Tensor a = sample({2, 5}, 7), b2 = sample({2, 10}, 8);
  const std::vector<Tensor> fast = every_op({a, b2}), slow = every_op.unfused({a, b2});
  REQUIRE(slow.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(max_abs_diff(fast[i], slow[i]) <= 1e-14);
  CHECK(slow[2].impl()->storage != b2.impl()->storage);
  unroll_test::expect_gradcheck([](const std::vector<Tensor>& in) { return stack(every_op.unfused(in), 0); }, {a, b2});
  const std::vector<Tensor> g = grads_of(sum(stack(every_op.unfused({a, b2}), 0)), {b2});
  CHECK(max_abs_diff(chunk(g[0], 2, -1)[1], zeros({2, 5}, kFloat64)) == 0);
  // the inputs' dtypes promote as operator()'s do
  CHECK(every_op.unfused({a.to(kFloat32), b2.to(kFloat32)})[0].dtype() == kFloat32);
  CHECK(every_op.unfused({a.to(kFloat32), b2})[0].dtype() == kFloat64);
}

TEST_CASE("fused: without grad the outputs are separate tensors with no history; the same values") {
  const Tensor x = sample({2, 8}, 1), hw = sample({2, 8}, 2), c = sample({2, 2}, 3);
  const std::vector<Tensor> recorded = lstm({x, hw, c});
  CHECK(recorded[0].requires_grad());
  NoGradGuard no_grad;
  const int64_t nodes = live_node_count();
  const std::vector<Tensor> plain = lstm({x, hw, c});
  CHECK(live_node_count() == nodes);
  CHECK_FALSE(plain[0].requires_grad());
  CHECK(max_abs_diff(plain[0], recorded[0]) == 0);
  CHECK(max_abs_diff(plain[1], recorded[1]) == 0);
}

TEST_CASE("fused: dtypes promote as the plain ops do") {
  const fused::Program add_tanh("add_tanh", {1, 1},
                                [](const fused::Inputs& in) -> fused::Values { return {tanh(in[0][0] + in[1][0])}; });
  const Tensor f32 = tensor({0.5, -1.0}, kFloat32), f64 = tensor({0.25, 2.0}, kFloat64);
  CHECK(add_tanh({f32, f32})[0].dtype() == kFloat32);
  CHECK(add_tanh({f32, f64})[0].dtype() == kFloat64);
  const Tensor ints = tensor(std::vector<int64_t>{1, 2}, Shape{2});
  const Tensor from_ints = add_tanh({ints, ints})[0];
  CHECK(from_ints.dtype() == get_default_dtype());
  CHECK(from_ints.to(kFloat64).to_vector<double>()[1] == doctest::Approx(std::tanh(4.0)).epsilon(1e-6));
  // rank-0 values and empty ones
  CHECK(add_tanh({scalar(0.5, kFloat64), scalar(0.25, kFloat64)})[0].item<double>() ==
        doctest::Approx(std::tanh(0.75)));
  CHECK(add_tanh({zeros({0, 3}), zeros({0, 3})})[0].shape() == Shape{0, 3});
  CHECK(lstm({zeros({0, 8}), zeros({0, 8}), zeros({0, 2})})[1].shape() == Shape{0, 2});
}

TEST_CASE("fused: one program called from two threads at once") {
  const Tensor x = sample({4, 400}, 1), hw = sample({4, 400}, 2), c = sample({4, 100}, 3);
  NoGradGuard no_grad;
  const std::vector<Tensor> expected = lstm({x, hw, c});
  std::vector<Tensor> other;
  std::thread worker([&] {
    for (int i = 0; i < 50; ++i) other = lstm({x, hw, c});
  });
  for (int i = 0; i < 50; ++i) CHECK(max_abs_diff(lstm({x, hw, c})[0], expected[0]) == 0);
  worker.join();
  CHECK(max_abs_diff(other[1], expected[1]) == 0);
}

TEST_CASE("fused: a large call split between threads gives the bits of one thread, values and gradients") {
  // [30, 300]: rows of a whole block and a ragged one (9,000 elements, over the split threshold); and a
  // program with no input cut into pieces, run as one long row cut into blocks of columns
  const fused::Program whole("whole_test", {1, 1}, [](const fused::Inputs& in) -> fused::Values {
    return {sigmoid(in[0][0]) * tanh(in[1][0]), exp(in[0][0] * 0.1) - in[1][0]};
  });
  const int saved_threads = get_num_threads();
  for (DType dt : {kFloat32, kFloat64})
    for (bool lstm_case : {true, false}) {
      CAPTURE(name(dt));
      CAPTURE(lstm_case);
      const std::vector<Tensor> in =
          lstm_case
              ? std::vector<Tensor>{sample({30, 1200}, 1, dt), sample({30, 1200}, 2, dt), sample({30, 300}, 3, dt)}
              : std::vector<Tensor>{sample({77, 130}, 4, dt), sample({77, 130}, 5, dt)};
      const fused::Program& program = lstm_case ? lstm : whole;
      const Shape out_shape = in.back().shape();
      const Tensor w0 = sample(out_shape, 6, dt).detach(), w1 = sample(out_shape, 7, dt).detach();
      std::vector<std::vector<double>> results[2];
      int64_t jobs[2] = {0, 0};
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        const int64_t before = detail::pool_jobs();
        const std::vector<Tensor> out = program(in);
        const std::vector<Tensor> g = grads_of(sum(out[0] * w0) + sum(out[1] * w1), in);
        jobs[threads - 1] = detail::pool_jobs() - before;
        for (const std::vector<Tensor>* ts : {&out, &g})
          for (const Tensor& t : *ts) results[threads - 1].push_back(t.to(kFloat64).to_vector<double>());
      }
      set_num_threads(saved_threads);
      CHECK(jobs[0] == 0);
      CHECK(jobs[1] == 2);  // forward and backward each split
      for (size_t i = 0; i < results[0].size(); ++i) {
        CAPTURE(i);
        CHECK(results[0][i] == results[1][i]);
      }
    }
}

TEST_CASE("fused: errors name the program and the shapes") {
  const Tensor x = zeros({2, 8}), c = zeros({2, 2});
  CHECK_THROWS_WITH_AS(lstm({x, x}), doctest::Contains("\"lstm_test\": expected 3 inputs, got 2"), Error);
  CHECK_THROWS_WITH_AS(lstm({zeros({2, 7}), x, c}),
                       doctest::Contains("input 0 of shape [2, 7] cannot be cut into 4 equal pieces"), Error);
  CHECK_THROWS_WITH_AS(lstm({x, zeros({2, 4}), c}), doctest::Contains("input 1 has shape [2, 4], expected [2, 8]"),
                       Error);
  CHECK_THROWS_WITH_AS(lstm({x, x, zeros({3, 2})}), doctest::Contains("input 2 has shape [3, 2], expected [2, 2]"),
                       Error);
  CHECK_THROWS_WITH_AS(lstm({x, Tensor(), c}), doctest::Contains("input 1 is an undefined tensor"), Error);
  // a bool or int64 input is converted, as sigmoid(bool tensor) is in PyTorch
  CHECK(lstm({zeros({2, 8}, kBool), x, c})[0].dtype() == kFloat32);

  // building mistakes
  CHECK_THROWS_WITH_AS(Value{} + Value{}, doctest::Contains("outside the body of a fused::Program"), Error);
  Value leaked;
  const fused::Program first("first", {1}, [&](const fused::Inputs& in) -> fused::Values {
    leaked = in[0][0];
    return {in[0][0]};
  });
  CHECK_THROWS_WITH_AS(
      fused::Program("second", {1}, [&](const fused::Inputs& in) -> fused::Values { return {in[0][0] + leaked}; }),
      doctest::Contains("not a value of this program"), Error);
  CHECK_THROWS_WITH_AS(fused::Program("none", {1}, [](const fused::Inputs&) -> fused::Values { return {}; }),
                       doctest::Contains("returned no outputs"), Error);
  CHECK_THROWS_WITH_AS(fused::Program("zero", {0}, [](const fused::Inputs& in) -> fused::Values { return {}; }),
                       doctest::Contains("cut into 0 pieces"), Error);
  CHECK_THROWS_WITH_AS(fused::Program("outer", {1},
                                      [](const fused::Inputs& in) -> fused::Values {
                                        fused::Program inner("inner", {1}, [](const fused::Inputs& i) -> fused::Values {
                                          return {i[0][0]};
                                        });
                                        return {in[0][0]};
                                      }),
                       doctest::Contains("made inside the body of program \"outer\""), Error);
  // after a failed build, building works again
  const fused::Program ok("ok", {1}, [](const fused::Inputs& in) -> fused::Values { return {exp(in[0][0])}; });
  CHECK(ok({scalar(0.0, kFloat64)})[0].item<double>() == 1.0);
}

TEST_CASE("fused: describe lists the instructions") {
  const std::string d = lstm.describe();
  CHECK(d.find("fused::Program \"lstm_test\"") != std::string::npos);
  CHECK(d.find("%0 = input 0 piece 0") != std::string::npos);
  CHECK(d.find("= sigmoid(%") != std::string::npos);
  CHECK(d.find("outputs %") != std::string::npos);
  CHECK(lstm.num_inputs() == 3);
  CHECK(lstm.num_outputs() == 2);
  CHECK(lstm.name() == "lstm_test");
}
