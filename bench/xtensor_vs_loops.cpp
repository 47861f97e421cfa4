// bench/xtensor_vs_loops.cpp: each kind of hand-written kernel of the library against the straightforward
// xtensor / xtensor-blas formulation of the same operation, on the shapes RNN training uses.
//
//   ./build/bench/xtensor_vs_loops [--runs 7] [--seconds 0.05]
//
// Both sides start from the same unroll tensors and write a fresh tensor from unroll's allocator (empty()),
// so the comparison is the kernel, not the allocation. The library side is the public op (add, sum, permute,
// ...) or, for the optimizers, one step() of the optimizer; the xtensor side adapts the same buffers
// (xt::adapt, no copies) and assigns with xt::noalias, as a replacement in the library would. The two run
// alternately, RUNS times, each run timing as many calls as fit in SECONDS; the figures are medians and the
// ratio is xtensor / unroll (above 1: xtensor is slower). `same` says whether the two results are bitwise
// equal, else it gives the largest absolute difference. Compiled with the library's flags (XTENSOR_USE_XSIMD,
// -mavx2 -mfma when the build machine has them), so the xtensor code is what the library would run. GEMMs run
// on one thread on both sides (unroll::set_num_threads(1), openblas_set_num_threads(1)).
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unroll/unroll.hpp>

extern "C" void openblas_set_num_threads(int);  // cblas.h clashes with xtensor-blas's declarations

using namespace unroll;
using clock_type = std::chrono::steady_clock;

namespace {

double g_seconds = 0.05;
int g_runs = 7;

// Microseconds per call of f, over as many calls as fit in g_seconds.
template <class F>
double us_per_call(F&& f) {
  int64_t calls = 0;
  const auto start = clock_type::now();
  double elapsed = 0;
  do {
    f();
    ++calls;
    elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  } while (elapsed < g_seconds);
  return 1e6 * elapsed / static_cast<double>(calls);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// "yes" when a and b hold the same bits, else the largest absolute difference.
std::string same(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return "shape/dtype differ";
  if (std::memcmp(a.data_ptr(), b.data_ptr(), static_cast<size_t>(a.numel() * a.element_size())) == 0) return "yes";
  const std::vector<double> x = a.to(kFloat64).to_vector<double>(), y = b.to(kFloat64).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  char text[64];
  std::snprintf(text, sizeof text, "max |diff| %.3g", worst);
  return text;
}

// Times the two alternately and prints one row of the table.
template <class L, class X>
void compare(const char* op, const char* shape, L&& library, X&& xtensor, const std::string& equal) {
  for (int i = 0; i < 3; ++i) library(), xtensor();  // warm caches and the allocator
  std::vector<double> t_lib, t_xt;
  for (int r = 0; r < g_runs; ++r) {
    t_lib.push_back(us_per_call(library));
    t_xt.push_back(us_per_call(xtensor));
  }
  const double lib = median(t_lib), xt_time = median(t_xt);
  std::printf("| %-22s | %-26s | %10.2f | %10.2f | %6.2f | %s |\n", op, shape, lib, xt_time, xt_time / lib,
              equal.c_str());
  std::fflush(stdout);
}

// xtensor views of a tensor's buffer: fixed rank, and dynamic rank (what a kernel over any rank would use).
template <class T>
auto adapt2(const Tensor& t) {
  return xt::adapt(const_cast<T*>(t.data<T>()), static_cast<size_t>(t.numel()), xt::no_ownership(),
                   std::array<size_t, 2>{static_cast<size_t>(t.size(0)), static_cast<size_t>(t.size(1))});
}
template <class T>
auto adapt1(const Tensor& t) {
  return xt::adapt(const_cast<T*>(t.data<T>()), static_cast<size_t>(t.numel()), xt::no_ownership(),
                   std::array<size_t, 1>{static_cast<size_t>(t.numel())});
}
template <class T>
auto adapt_dynamic(const Tensor& t) {
  xt::dynamic_shape<size_t> shape;
  for (int64_t d : t.shape()) shape.push_back(static_cast<size_t>(d));
  return xt::adapt(const_cast<T*>(t.data<T>()), static_cast<size_t>(t.numel()), xt::no_ownership(), shape);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--runs") g_runs = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--seconds") g_seconds = std::atof(argv[i + 1]);
  }
  NoGradGuard no_grad;
  Generator gen(0);
  std::printf("runs %d x %.2f s each side; ratio = xtensor / unroll (above 1: the library's kernel is faster)\n\n",
              g_runs, g_seconds);
  std::printf("| %-22s | %-26s | %10s | %10s | %6s | %s |\n", "op", "shape", "unroll us", "xtensor us", "ratio",
              "same");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(24, '-').c_str(), std::string(28, '-').c_str(),
              std::string(12, '-').c_str(), std::string(12, '-').c_str(), std::string(8, '-').c_str(), "------");

  // ---- elementwise binary ops with broadcasting -------------------------------------------------------
  {
    const Tensor x = randn({32, 256}, gen), b = randn({256}, gen);
    const auto lib = [&] { return add(x, b); };
    const auto xt2 = [&] {
      Tensor out = empty(x.shape());
      auto dst = adapt2<float>(out);
      xt::noalias(dst) = adapt2<float>(x) + adapt1<float>(b);
      return out;
    };
    const auto xtd = [&] {
      Tensor out = empty(x.shape());
      auto dst = adapt_dynamic<float>(out);
      xt::noalias(dst) = adapt_dynamic<float>(x) + adapt_dynamic<float>(b);
      return out;
    };
    compare("add (bias broadcast)", "[32,256] + [256]", lib, xt2, same(lib(), xt2()));
    compare("add, dynamic rank", "[32,256] + [256]", lib, xtd, same(lib(), xtd()));
  }
  {
    const Tensor x = randn({32, 1024}, gen), b = randn({1024}, gen);
    const auto lib = [&] { return mul(x, b); };
    const auto xtd = [&] {
      Tensor out = empty(x.shape());
      auto dst = adapt_dynamic<float>(out);
      xt::noalias(dst) = adapt_dynamic<float>(x) * adapt_dynamic<float>(b);
      return out;
    };
    compare("mul, dynamic rank", "[32,1024] * [1024]", lib, xtd, same(lib(), xtd()));
  }
  {
    const Tensor x = randn({32, 1024}, gen), y = randn({32, 1024}, gen);
    const auto lib = [&] { return add(x, y); };
    const auto xt1 = [&] {
      Tensor out = empty(x.shape());
      auto dst = adapt1<float>(out);
      xt::noalias(dst) = adapt1<float>(x) + adapt1<float>(y);
      return out;
    };
    compare("add (same shape)", "[32,1024] + [32,1024]", lib, xt1, same(lib(), xt1()));
    const auto lib_div = [&] { return div(x, y); };
    const auto xt_div = [&] {
      Tensor out = empty(x.shape());
      auto dst = adapt1<float>(out);
      xt::noalias(dst) = adapt1<float>(x) / adapt1<float>(y);
      return out;
    };
    compare("div (same shape)", "[32,1024] / [32,1024]", lib_div, xt_div, same(lib_div(), xt_div()));
    // clamp: map_as with v < lo ? lo : v > hi ? hi : v, against xt::clip
    const auto lib_clamp = [&] { return clamp(x, -0.5, 0.5); };
    const auto xt_clamp = [&] {
      Tensor out = empty(x.shape());
      auto dst = adapt1<float>(out);
      xt::noalias(dst) = xt::clip(adapt1<float>(x), -0.5f, 0.5f);
      return out;
    };
    compare("clamp", "[32,1024]", lib_clamp, xt_clamp, same(lib_clamp(), xt_clamp()));
    // where with a per-row mask, as the unroller freezes finished sequences: where(mask [N, 1], new, old)
    const Tensor mask = gt(randn({32, 1}, gen), 0.0);
    const auto lib_where = [&] { return where(mask, x, y); };
    const auto xt_where = [&] {
      Tensor out = empty(x.shape());
      auto dst = adapt2<float>(out);
      xt::noalias(dst) = xt::where(adapt2<bool>(mask), adapt2<float>(x), adapt2<float>(y));
      return out;
    };
    compare("where (row mask)", "[32,1] ? [32,1024] : same", lib_where, xt_where, same(lib_where(), xt_where()));
  }

  // ---- reductions: the bias gradient, a sum over the T*N rows ---------------------------------------------
  {
    const Tensor g = randn({1120, 1024}, gen);
    const auto lib = [&] { return sum(g, {0}); };
    const auto xt_lazy = [&] {
      Tensor out = empty({1024});
      auto dst = adapt1<float>(out);
      xt::noalias(dst) = xt::sum(adapt2<float>(g), {0});
      return out;
    };
    const auto xt_immediate = [&] {
      Tensor out = empty({1024});
      auto dst = adapt1<float>(out);
      xt::noalias(dst) = xt::sum(adapt2<float>(g), {0}, xt::evaluation_strategy::immediate);
      return out;
    };
    compare("sum over axis 0", "[1120,1024] -> [1024]", lib, xt_lazy, same(lib(), xt_lazy()));
    compare("sum axis 0, immediate", "[1120,1024] -> [1024]", lib, xt_immediate, same(lib(), xt_immediate()));
    const Tensor h = randn({32, 1024}, gen);
    const auto lib_rows = [&] { return sum(h, {1}); };
    const auto xt_rows = [&] {
      Tensor out = empty({32});
      auto dst = adapt1<float>(out);
      xt::noalias(dst) = xt::sum(adapt2<float>(h), {1});
      return out;
    };
    compare("sum over axis 1", "[32,1024] -> [32]", lib_rows, xt_rows, same(lib_rows(), xt_rows()));
    const auto xt_rows_immediate = [&] {
      Tensor out = empty({32});
      auto dst = adapt1<float>(out);
      xt::noalias(dst) = xt::sum(adapt2<float>(h), {1}, xt::evaluation_strategy::immediate);
      return out;
    };
    compare("sum axis 1, immediate", "[32,1024] -> [32]", lib_rows, xt_rows_immediate,
            same(lib_rows(), xt_rows_immediate()));
    // Any rank, as sum() and unbroadcast() need: the reduced axes, when they are one block, viewed as the middle
    // axis of [outer, size, inner] (a fixed-rank adaptor; xt::sum with immediate evaluation over a dynamic-rank
    // xt::adapt crashes in xtensor 0.24's reduce_immediate).
    const Tensor y = randn({35, 32, 1024}, gen);
    const auto view3 = [](const Tensor& t, size_t outer, size_t size, size_t inner) {
      return xt::adapt(const_cast<float*>(t.data<float>()), static_cast<size_t>(t.numel()), xt::no_ownership(),
                       std::array<size_t, 3>{outer, size, inner});
    };
    const auto view2 = [](Tensor& t, size_t outer, size_t inner) {
      return xt::adapt(t.data<float>(), static_cast<size_t>(t.numel()), xt::no_ownership(),
                       std::array<size_t, 2>{outer, inner});
    };
    const auto lib_01 = [&] { return sum(y, {0, 1}); };
    const auto xt_01 = [&] {
      Tensor out = empty({1024});
      auto dst = view2(out, 1, 1024);
      xt::noalias(dst) = xt::sum(view3(y, 1, 35 * 32, 1024), {1}, xt::evaluation_strategy::immediate);
      return out;
    };
    compare("sum axes 0,1 ([o,s,i])", "[35,32,1024] -> [1024]", lib_01, xt_01, same(lib_01(), xt_01()));
    const auto lib_2 = [&] { return sum(y, {2}); };
    const auto xt_2 = [&] {
      Tensor out = empty({35, 32});
      auto dst = view2(out, 35 * 32, 1);
      xt::noalias(dst) = xt::sum(view3(y, 35 * 32, 1024, 1), {1}, xt::evaluation_strategy::immediate);
      return out;
    };
    compare("sum axis 2 ([o,s,i])", "[35,32,1024] -> [35,32]", lib_2, xt_2, same(lib_2(), xt_2()));
    const auto lib_all = [&] { return sum(y); };
    const auto xt_all = [&] {
      Tensor out = empty({1});
      auto dst = view2(out, 1, 1);
      xt::noalias(dst) = xt::sum(view3(y, 1, 35 * 32 * 1024, 1), {1}, xt::evaluation_strategy::immediate);
      return reshape(out, {});
    };
    compare("sum of all ([o,s,i])", "[35,32,1024] -> []", lib_all, xt_all, same(lib_all(), xt_all()));
  }

  // ---- softmax over a large output head ------------------------------------------------------------------
  {
    const Tensor x = randn({32, 10000}, gen);
    const auto lib = [&] { return log_softmax(x, 1); };
    const auto xt_ls = [&] {
      // x - max - log(sum(exp(x - max))), rows of [32, 10000]
      Tensor out = empty(x.shape());
      auto dst = adapt2<float>(out);
      const auto in = adapt2<float>(x);
      const xt::xtensor<float, 2> top = xt::amax(in, {1}, xt::keep_dims | xt::evaluation_strategy::immediate);
      const xt::xtensor<float, 2> log_norm =
          top + xt::log(xt::sum(xt::exp(in - top), {1}, xt::keep_dims | xt::evaluation_strategy::immediate));
      xt::noalias(dst) = in - log_norm;
      return out;
    };
    compare("log_softmax", "[32,10000], axis 1", lib, xt_ls, same(lib(), xt_ls()));
  }

  // ---- copies that move elements: transpose, concat -------------------------------------------------------
  {
    const Tensor w = randn({256, 1024}, gen);
    const auto lib = [&] { return transpose(w, 0, 1); };
    const auto xt_t = [&] {
      Tensor out = empty({1024, 256});
      auto dst = adapt2<float>(out);
      xt::noalias(dst) = xt::transpose(adapt2<float>(w));
      return out;
    };
    compare("transpose", "[256,1024] -> [1024,256]", lib, xt_t, same(lib(), xt_t()));
    const Tensor a = randn({32, 256}, gen), b = randn({32, 256}, gen);
    const auto lib_cat = [&] { return concat({a, b}, 1); };
    const auto xt_cat = [&] {
      Tensor out = empty({32, 512});
      auto dst = adapt2<float>(out);
      xt::noalias(dst) = xt::concatenate(xt::xtuple(adapt2<float>(a), adapt2<float>(b)), 1);
      return out;
    };
    compare("concat", "2 x [32,256], axis 1", lib_cat, xt_cat, same(lib_cat(), xt_cat()));
  }

  // ---- optimizer updates over 1M parameters ---------------------------------------------------------------
  {
    const int64_t n = 1 << 20;
    const Tensor grad = randn({n}, gen) * 1e-2;
    const Tensor p0 = randn({n}, gen);
    Tensor p_lib = clone(p0), p_xt = clone(p0);
    p_lib.requires_grad_();
    p_lib.set_grad(grad);
    optim::SGD sgd({p_lib}, {.lr = 1e-3});
    const float lr = 1e-3f;
    const auto xt_sgd = [&] {
      auto p = adapt1<float>(p_xt);
      xt::noalias(p) = p - lr * adapt1<float>(grad);
    };
    sgd.step(), xt_sgd();
    const std::string sgd_equal = same(p_lib.detach(), p_xt);
    compare(
        "SGD step", "1M floats", [&] { sgd.step(); }, xt_sgd, sgd_equal);

    Tensor q_lib = clone(p0), q_xt = clone(p0);
    q_lib.requires_grad_();
    q_lib.set_grad(grad);
    optim::Adam adam({q_lib}, {.lr = 1e-3});
    Tensor m = zeros({n}), v = zeros({n});
    int64_t t = 0;
    const auto xt_adam = [&] {
      // m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; p <- p - lr/(1 - b1^t) m / (sqrt(v)/sqrt(1 - b2^t) + eps)
      ++t;
      const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
      const float neg_step = static_cast<float>(-(1e-3 / (1 - std::pow(0.9, t))));
      const float bc2_sqrt = static_cast<float>(std::sqrt(1 - std::pow(0.999, t)));
      auto mv = adapt1<float>(m), vv = adapt1<float>(v), p = adapt1<float>(q_xt);
      const auto g = adapt1<float>(grad);
      xt::noalias(mv) = beta1 * mv + static_cast<float>(1 - 0.9) * g;  // constants as the library rounds them
      xt::noalias(vv) = beta2 * vv + static_cast<float>(1 - 0.999) * (g * g);
      xt::noalias(p) = p + neg_step * mv / (xt::sqrt(vv) / bc2_sqrt + eps);
    };
    adam.step(), xt_adam();
    const std::string adam_equal = same(q_lib.detach(), q_xt);
    compare(
        "Adam step", "1M floats", [&] { adam.step(); }, xt_adam, adam_equal);
  }

  {
    const int64_t n = 1 << 20;
    const Tensor grad = randn({n}, gen) * 1e-2;
    const Tensor p0 = randn({n}, gen);
    Tensor p_lib = clone(p0), p_xt = clone(p0);
    p_lib.requires_grad_();
    p_lib.set_grad(grad);
    optim::RMSprop rmsprop({p_lib}, {.lr = 1e-3});
    Tensor v = zeros({n});
    const auto xt_rmsprop = [&] {
      // v <- alpha v + (1 - alpha) g^2; p <- p - lr g / (sqrt(v) + eps)
      const float alpha = 0.99f, eps = 1e-8f, neg_lr = -1e-3f;
      auto vv = adapt1<float>(v), p = adapt1<float>(p_xt);
      const auto g = adapt1<float>(grad);
      xt::noalias(vv) = alpha * vv + static_cast<float>(1 - 0.99) * (g * g);
      xt::noalias(p) = p + neg_lr * g / (xt::sqrt(vv) + eps);
    };
    rmsprop.step(), xt_rmsprop();
    const std::string rmsprop_equal = same(p_lib.detach(), p_xt);
    compare(
        "RMSprop step", "1M floats", [&] { rmsprop.step(); }, xt_rmsprop, rmsprop_equal);

    Tensor q_lib = clone(p0), q_xt = clone(p0);
    q_lib.requires_grad_();
    q_lib.set_grad(grad);
    optim::Adagrad adagrad({q_lib}, {.lr = 1e-2});
    Tensor total = zeros({n});
    const auto xt_adagrad = [&] {
      // s <- s + g^2; p <- p - lr g / (sqrt(s) + eps)
      const float eps = 1e-10f, neg_lr = -1e-2f;
      auto sv = adapt1<float>(total), p = adapt1<float>(q_xt);
      const auto g = adapt1<float>(grad);
      xt::noalias(sv) = sv + g * g;
      xt::noalias(p) = p + neg_lr * g / (xt::sqrt(sv) + eps);
    };
    adagrad.step(), xt_adagrad();
    const std::string adagrad_equal = same(q_lib.detach(), q_xt);
    compare(
        "Adagrad step", "1M floats", [&] { adagrad.step(); }, xt_adagrad, adagrad_equal);
  }

  // ---- gradient accumulation: slot += grad (framework/autograd.cpp, accumulate) --------------------------
  {
    const Tensor g = randn({256, 1024}, gen);
    Tensor s_lib = zeros({256, 1024}), s_xt = zeros({256, 1024});
    const auto loop = [&] {  // the engine's loop, verbatim
      float* s = s_lib.data<float>();
      const float* gv = g.data<float>();
      for (int64_t k = 0, n = s_lib.numel(); k < n; ++k) s[k] += gv[k];
    };
    const auto xt_acc = [&] {
      auto s = adapt1<float>(s_xt);
      xt::noalias(s) += adapt1<float>(g);
    };
    loop(), xt_acc();
    compare("grad accumulate +=", "[256,1024]", loop, xt_acc, same(s_lib, s_xt));
  }

  // ---- GEMM: xt::linalg::dot (OpenBLAS, a new xarray per call) against unroll::matmul --------------------
  {
    set_num_threads(1);
    openblas_set_num_threads(1);
    for (const int64_t m : {int64_t{32}, int64_t{1120}}) {
      const Tensor a = randn({m, 256}, gen), w = randn({256, 1024}, gen);
      const auto lib = [&] { return matmul(a, w); };
      const auto xt_dot = [&] {
        Tensor out = empty({m, 1024});
        auto dst = adapt2<float>(out);
        xt::noalias(dst) = xt::linalg::dot(adapt2<float>(a), adapt2<float>(w));
        return out;
      };
      const std::string shape = "[" + std::to_string(m) + ",256] x [256,1024]";
      compare("matmul vs linalg::dot", shape.c_str(), lib, xt_dot, same(lib(), xt_dot()));
    }
  }
  return 0;
}
