// Tests for layers/init.cpp: fills, gains (against torch.nn.init.calculate_gain), fans, the variance
// scaling schemes (statistics on large tensors, generous bounds), orthogonal_ (W W^T = I), eye_, errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

namespace {

struct Stats {
  double mean = 0, var = 0, max_abs = 0;
};

Stats stats(const Tensor& t) {
  Stats s;
  const auto v = t.to_vector();
  for (real x : v) s.mean += x;
  s.mean /= v.size();
  for (real x : v) {
    s.var += (x - s.mean) * (x - s.mean);
    s.max_abs = std::max(s.max_abs, std::abs(static_cast<double>(x)));
  }
  s.var /= v.size();
  return s;
}

// max |(A A^T)_ij - I_ij| for A [r, c] (rows) or max |(A^T A) - I| (columns)
double orthogonality_error(const Tensor& a, bool rows, double scale = 1) {
  const int64_t r = a.size(0), c = a.numel() / r;
  const real* p = a.data();
  const int64_t n = rows ? r : c;
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0;
      if (rows)
        for (int64_t k = 0; k < c; ++k) dot += static_cast<double>(p[i * c + k]) * p[j * c + k];
      else
        for (int64_t k = 0; k < r; ++k) dot += static_cast<double>(p[k * c + i]) * p[k * c + j];
      worst = std::max(worst, std::abs(dot / (scale * scale) - (i == j ? 1.0 : 0.0)));
    }
  return worst;
}

}  // namespace

TEST_CASE("calculate_gain matches torch.nn.init.calculate_gain") {
  CHECK(init::calculate_gain("linear") == 1);
  CHECK(init::calculate_gain("conv2d") == 1);
  CHECK(init::calculate_gain("sigmoid") == 1);
  CHECK(init::calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("relu") == doctest::Approx(1.4142135623730951));
  CHECK(init::calculate_gain("leaky_relu") == doctest::Approx(1.4141428569978354));       // slope 0.01
  CHECK(init::calculate_gain("leaky_relu", 0.2) == doctest::Approx(1.3867504905630728));  // sqrt(2/1.04)
  CHECK(init::calculate_gain("leaky_relu", 0) == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3)));
  CHECK(init::calculate_gain("selu") == 0.75);
  CHECK_THROWS_WITH_AS(init::calculate_gain("gelu"),
                       "init::calculate_gain: unsupported nonlinearity 'gelu' (expected linear, conv1d, conv2d, "
                       "conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, "
                       "leaky_relu or selu)",
                       Error);
}

TEST_CASE("calculate_fan_in_and_fan_out follows PyTorch's weight layout") {
  const auto f = init::calculate_fan_in_and_fan_out(empty({4, 8}));
  CHECK(f.fan_in == 8);
  CHECK(f.fan_out == 4);
  const auto g = init::calculate_fan_in_and_fan_out(empty({6, 3, 5}));  // receptive field 5
  CHECK(g.fan_in == 15);
  CHECK(g.fan_out == 30);
  CHECK_THROWS_WITH_AS(init::calculate_fan_in_and_fan_out(empty({4})),
                       "init::calculate_fan_in_and_fan_out: fan in and fan out cannot be computed for a tensor with "
                       "fewer than 2 dimensions, got shape [4]",
                       Error);
}

TEST_CASE("constant_, zeros_, ones_ write in place through the handle") {
  Linear fc({.in_features = 3, .out_features = 2});
  init::constant_(fc.weight, 0.25);
  for (real v : fc.named_parameters()[0].second.to_vector()) CHECK(v == 0.25);
  init::zeros_(fc.bias);
  CHECK(fc.bias.to_vector() == std::vector<real>{0, 0});
  const Tensor same = init::ones_(fc.bias);
  CHECK(same.impl() == fc.bias.impl());
  CHECK(fc.bias.to_vector() == std::vector<real>{1, 1});
  CHECK(fc.weight.requires_grad());  // still a parameter
  CHECK(fc.weight.is_leaf());
  CHECK(init::zeros_(empty({0, 3})).numel() == 0);
}

TEST_CASE("uniform_ and normal_: range, moments, reproducibility") {
  Tensor u = empty({100, 100});
  init::uniform_(u, -2, 3);
  const Stats su = stats(u);
  CHECK(su.max_abs <= 3);
  CHECK(*std::min_element(u.data(), u.data() + u.numel()) >= -2);
  CHECK(*std::max_element(u.data(), u.data() + u.numel()) < 3);
  CHECK(su.mean == doctest::Approx(0.5).epsilon(0.1));
  CHECK(su.var == doctest::Approx(25.0 / 12).epsilon(0.05));

  Tensor n = empty({100, 100});
  init::normal_(n, 1, 0.5);
  const Stats sn = stats(n);
  CHECK(sn.mean == doctest::Approx(1).epsilon(0.02));
  CHECK(sn.var == doctest::Approx(0.25).epsilon(0.05));

  Generator g1(9), g2(9);
  Tensor a = empty({5, 5}), b = empty({5, 5});
  init::normal_(a, 0, 1, g1);
  init::normal_(b, 0, 1, g2);
  CHECK(a.to_vector() == b.to_vector());
  // same draws as the creation function
  Generator g3(9);
  init::uniform_(a, -1, 1, g3);
  Generator g4(9);
  CHECK(a.to_vector() == uniform({5, 5}, -1, 1, g4).to_vector());

  CHECK_THROWS_WITH_AS(init::uniform_(a, 1, 0), "init::uniform_: a = 1 is greater than b = 0 (shape [5, 5])", Error);
  CHECK_THROWS_WITH_AS(init::normal_(a, 0, -1), "init::normal_: std = -1 is negative (shape [5, 5])", Error);
  CHECK_THROWS_WITH_AS(init::zeros_(Tensor()), "init::zeros_: the tensor is undefined", Error);
}

TEST_CASE("xavier_uniform_ and xavier_normal_") {
  Tensor w = empty({300, 200});
  const double gain = init::calculate_gain("tanh");
  init::xavier_uniform_(w, gain);
  const double bound = gain * std::sqrt(6.0 / (200 + 300));
  const Stats s = stats(w);
  CHECK(s.max_abs <= bound);
  CHECK(s.max_abs > 0.99 * bound);
  CHECK(std::abs(s.mean) < 0.01 * bound);
  CHECK(s.var == doctest::Approx(bound * bound / 3).epsilon(0.05));

  init::xavier_normal_(w);
  const double std = std::sqrt(2.0 / (200 + 300));
  CHECK(stats(w).var == doctest::Approx(std * std).epsilon(0.05));
  CHECK(std::abs(stats(w).mean) < 0.02 * std);

  CHECK_THROWS_WITH_AS(init::xavier_uniform_(empty({7})),
                       "init::xavier_uniform_: fan in and fan out cannot be computed for a tensor with fewer than 2 "
                       "dimensions, got shape [7]",
                       Error);
}

TEST_CASE("kaiming_uniform_ and kaiming_normal_") {
  Tensor w = empty({200, 400});
  init::kaiming_uniform_(w);  // a = 0, fan_in, leaky_relu -> gain sqrt(2)
  double bound = std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(400.0);
  Stats s = stats(w);
  CHECK(s.max_abs <= bound);
  CHECK(s.max_abs > 0.99 * bound);
  CHECK(s.var == doctest::Approx(2.0 / 400).epsilon(0.05));  // gain^2 / fan

  init::kaiming_uniform_(w, std::sqrt(5.0));  // PyTorch's Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  s = stats(w);
  CHECK(s.max_abs <= 1 / std::sqrt(400.0));
  CHECK(s.max_abs > 0.99 / std::sqrt(400.0));

  init::kaiming_uniform_(w, 0, "fan_out", "relu");
  bound = std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(200.0);
  s = stats(w);
  CHECK(s.max_abs <= bound);
  CHECK(s.max_abs > 0.99 * bound);

  init::kaiming_normal_(w, 0, "fan_in", "relu");
  CHECK(stats(w).var == doctest::Approx(2.0 / 400).epsilon(0.05));
  init::kaiming_normal_(w, 0, "fan_out", "tanh");
  CHECK(stats(w).var == doctest::Approx(25.0 / 9 / 200).epsilon(0.05));

  CHECK_THROWS_WITH_AS(init::kaiming_normal_(w, 0, "fan_avg"),
                       "init::kaiming_normal_: mode 'fan_avg' must be 'fan_in' or 'fan_out'", Error);
  CHECK(init::kaiming_uniform_(empty({0, 5})).numel() == 0);  // zero elements: a no-op
}

// The QR factorisation's defining property, independent of how it is computed: with A the standard normal
// draws orthogonal_ makes (replayed from a copy of its generator), W = Q (rows >= cols) or Q^T satisfies
// A = Q R with R upper triangular with a positive diagonal (torch's sign convention). So Q^T A (or W A^T for
// a wide tensor) must be upper triangular with a positive diagonal.
TEST_CASE("orthogonal_: W is the Q of A = QR with R's diagonal positive, for the draws A it made") {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{7, 4}, {4, 7}, {5, 5}}) {
    CAPTURE(rows);
    CAPTURE(cols);
    Generator gen(1234);
    Generator replay(gen);
    Tensor w = empty({rows, cols}, kFloat64);
    init::orthogonal_(w, 1.0, gen);
    std::vector<double> a(static_cast<size_t>(rows * cols));
    for (double& v : a) v = replay.normal();
    const bool wide = rows < cols;
    const int64_t m = wide ? cols : rows, n = wide ? rows : cols;  // M = A or A^T: [m, n]
    auto M = [&](int64_t i, int64_t j) { return wide ? a[j * cols + i] : a[i * cols + j]; };
    const std::vector<double> wv = w.to_vector<double>();
    auto Q = [&](int64_t i, int64_t j) { return wide ? wv[j * cols + i] : wv[i * cols + j]; };
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double r = 0;  // R[i][j] = (Q^T M)[i][j]
        for (int64_t k = 0; k < m; ++k) r += Q(k, i) * M(k, j);
        if (i > j) CHECK(std::abs(r) < 1e-12);
        if (i == j) CHECK(r > 0);
      }
  }
}

TEST_CASE("orthogonal_: W W^T = I for square and wide, W^T W = I for tall") {
  Tensor square = empty({64, 64});
  init::orthogonal_(square);
  CHECK(orthogonality_error(square, true) < 1e-4);
  CHECK(orthogonality_error(square, false) < 1e-4);

  Tensor wide = empty({20, 50});  // rows < cols: orthonormal rows
  init::orthogonal_(wide);
  CHECK(orthogonality_error(wide, true) < 1e-4);

  Tensor tall = empty({50, 20});  // rows > cols: orthonormal columns
  init::orthogonal_(tall, 2.0);
  CHECK(orthogonality_error(tall, false, 2.0) < 1e-4);

  Tensor conv = empty({6, 3, 4});  // viewed as [6, 12]
  init::orthogonal_(conv);
  CHECK(orthogonality_error(conv, true) < 1e-4);

  Tensor big = empty({256, 256});  // larger: Householder keeps orthogonality to rounding
  init::orthogonal_(big);
  CHECK(orthogonality_error(big, true) < 1e-4);

  // Haar distributed: entries of a square orthogonal matrix have mean 0 and variance 1/n
  const Stats s = stats(big);
  CHECK(std::abs(s.mean) < 0.01);
  CHECK(s.var == doctest::Approx(1.0 / 256).epsilon(0.05));

  // reproducible with a generator, and differs across seeds
  Generator g1(3), g2(3), g3(4);
  Tensor a = empty({5, 5}), b = empty({5, 5}), c = empty({5, 5});
  init::orthogonal_(a, 1, g1);
  init::orthogonal_(b, 1, g2);
  init::orthogonal_(c, 1, g3);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(a.to_vector() != c.to_vector());

  CHECK_THROWS_WITH_AS(init::orthogonal_(empty({5})),
                       "init::orthogonal_: only tensors with 2 or more dimensions are supported, got shape [5]", Error);
}

TEST_CASE("orthogonal_ sign convention: Q R with a positive diagonal, R = Q^T A") {
  // The same generator state drawn by hand: A ~ N(0, 1) row-major; for square A, R = Q^T A must be upper
  // triangular with a positive diagonal (torch's q *= sign(diag(r))).
  Generator g(12), draw(12);
  Tensor q = empty({4, 4});
  init::orthogonal_(q, 1, g);
  double a[4][4];
  for (auto& row : a)
    for (double& v : row) v = draw.normal();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      double r = 0;
      for (int k = 0; k < 4; ++k) r += static_cast<double>(q.at({k, i})) * a[k][j];
      if (i > j) CHECK(std::abs(r) < 1e-4);
      if (i == j) CHECK(r > 0);
    }
}

TEST_CASE("eye_ writes the identity (rectangular too)") {
  Tensor w = full({3, 3}, 5.0);
  init::eye_(w);
  CHECK(w.to_vector() == std::vector<real>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor r = full({2, 3}, 5.0);
  init::eye_(r);
  CHECK(r.to_vector() == std::vector<real>{1, 0, 0, 0, 1, 0});
  CHECK_THROWS_WITH_AS(init::eye_(empty({2, 2, 2})), "init::eye_: expected a 2-D tensor, got shape [2, 2, 2]", Error);
}
