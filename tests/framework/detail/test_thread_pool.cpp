// framework/detail/thread_pool.cpp: the worker pool runs every task once, passes exceptions on as thrown,
// never deadlocks (repeated use, nested calls, concurrent callers, resizing), carries the caller's thread
// state to its tasks, and shuts down at exit (this program ends with workers alive).
#include <doctest/doctest.h>
#include <unroll/framework/detail/gemm_kernel.hpp>
#include <unroll/framework/detail/thread_pool.hpp>
#include <unroll/unroll.hpp>

#include <atomic>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

using namespace unroll;
using detail::parallel_for;

namespace {
struct Threads {
  int saved = get_num_threads();
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(saved); }
};

struct CustomError : std::runtime_error {
  int code;
  CustomError(const char* what, int c) : std::runtime_error(what), code(c) {}
};
}  // namespace

TEST_CASE("the default thread count is UNROLL_NUM_THREADS or the cores this process may use") {
  CHECK(get_num_threads() >= 1);
  if (const char* env = std::getenv("UNROLL_NUM_THREADS")) CHECK(get_num_threads() == std::atoi(env));
  CHECK_THROWS_AS(set_num_threads(0), Error);
  CHECK_THROWS_AS(set_num_threads(-2), Error);
  Threads three(3);
  CHECK(get_num_threads() == 3);
}

TEST_CASE("every task runs exactly once, on up to as many threads as the pool has") {
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    Threads scope(threads);
    std::vector<std::atomic<int>> runs(1000);
    std::mutex ids_mutex;
    std::set<std::thread::id> ids;
    auto task = [&](int64_t i) {
      runs[static_cast<size_t>(i)].fetch_add(1);
      std::lock_guard<std::mutex> lock(ids_mutex);
      ids.insert(std::this_thread::get_id());
    };
    const int64_t jobs = detail::pool_jobs();
    parallel_for(1000, task);
    for (auto& r : runs) CHECK(r.load() == 1);
    CHECK(ids.size() <= static_cast<size_t>(threads));
    CHECK(detail::pool_jobs() == jobs + (threads > 1 ? 1 : 0));
  }
}

TEST_CASE("a task's exception reaches the caller as thrown: the lowest-numbered one, after all tasks ran") {
  Threads two(2);
  std::atomic<int> ran{0};
  auto task = [&](int64_t i) {
    ran.fetch_add(1);
    if (i == 7) throw std::out_of_range("task 7");
    if (i == 3) throw CustomError("task 3", 42);
  };
  try {
    parallel_for(10, task);
    FAIL("no exception");
  } catch (const CustomError& e) {
    CHECK(std::string(e.what()) == "task 3");
    CHECK(e.code == 42);
  }
  CHECK(ran.load() == 10);
  // the pool is usable afterwards
  std::atomic<int> sum{0};
  auto add = [&](int64_t i) { sum.fetch_add(static_cast<int>(i)); };
  parallel_for(100, add);
  CHECK(sum.load() == 4950);
}

TEST_CASE("repeated use, nested calls and two calling threads at once neither deadlock nor lose tasks") {
  Threads two(2);
  std::atomic<int64_t> total{0};
  auto small = [&](int64_t i) { total.fetch_add(i + 1); };
  for (int rep = 0; rep < 20000; ++rep) parallel_for(2, small);
  CHECK(total.load() == 20000 * 3);

  // a task that calls parallel_for runs the inner tasks itself
  std::atomic<int> inner_runs{0};
  auto outer = [&](int64_t) {
    CHECK(detail::parallel_width() == 1);
    auto inner = [&](int64_t) { inner_runs.fetch_add(1); };
    parallel_for(5, inner);
  };
  parallel_for(4, outer);
  CHECK(inner_runs.load() == 20);

  // two threads of the program share the pool: one gets it, the other runs its tasks itself
  std::atomic<int64_t> a{0}, b{0};
  auto caller = [&](std::atomic<int64_t>& sum) {
    auto task = [&](int64_t i) { sum.fetch_add(i); };
    for (int rep = 0; rep < 2000; ++rep) parallel_for(8, task);
  };
  std::thread t1([&] { caller(a); }), t2([&] { caller(b); });
  t1.join();
  t2.join();
  CHECK(a.load() == 2000 * 28);
  CHECK(b.load() == 2000 * 28);
}

TEST_CASE("resizing the pool between jobs starts and stops workers") {
  for (int threads : {4, 1, 3, 2}) {
    Threads scope(threads);
    std::atomic<int> runs{0};
    auto task = [&](int64_t) { runs.fetch_add(1); };
    parallel_for(64, task);
    CHECK(runs.load() == 64);
  }
}

TEST_CASE("run_pair gives both pieces the caller's grad mode, time step, anomaly mode and FTZ flag") {
  Threads two(2);
  const Tensor w = ones({2, 2}).requires_grad_(true);
  Tensor out[2];
  bool grad[2], anomaly[2];
  unsigned fp[2];
  auto piece = [&](int i) {
    return [&, i](int64_t) {
      out[i] = mul(w, w);
      grad[i] = is_grad_enabled();
      anomaly[i] = is_anomaly_enabled();
#if defined(__SSE__) || defined(__x86_64__)
      fp[i] = _mm_getcsr() & 0x8040;
#else
      fp[i] = 0;
#endif
    };
  };
  auto first = piece(0), second = piece(1);
  {
    TimeStepScope step(7);
    detail::run_pair(first, second);
  }
  for (int i : {0, 1}) {
    CHECK(grad[i]);
    REQUIRE(out[i].impl()->grad_fn);
    CHECK(out[i].impl()->grad_fn->time_step == 7);
  }
  {
    NoGradGuard no_grad;
    detail::run_pair(first, second);
  }
  for (int i : {0, 1}) {
    CHECK(!grad[i]);
    CHECK(!out[i].impl()->grad_fn);
  }
  {
    DetectAnomalyGuard detect;
    detail::run_pair(first, second);
  }
  CHECK(anomaly[0]);
  CHECK(anomaly[1]);
#if defined(__SSE__) || defined(__x86_64__)
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040);  // flush denormals to zero on this thread only
  detail::run_pair(first, second);
  _mm_setcsr(saved);
  CHECK(fp[0] == 0x8040u);
  CHECK(fp[1] == 0x8040u);
  detail::run_pair(first, second);
  CHECK(fp[0] == (saved & 0x8040));
  CHECK(fp[1] == (saved & 0x8040));
#endif
}

TEST_CASE("run_pair draws random numbers in the order of one thread, even on two") {
  // The second piece draws from the default generator: the result must be the sequential one (the first
  // piece's draws, then the second's), which run_pair gets by running the pair again on one thread.
  auto run = [](int threads) {
    Threads scope(threads);
    manual_seed(123);
    Tensor a, b;
    auto first = [&](int64_t) { a = rand({3}); };
    auto second = [&](int64_t) { b = rand({3}); };
    detail::run_pair(first, second);
    const Tensor after = rand({2});  // the generator must also end where one thread leaves it
    return std::vector<float>{a.data()[0], a.data()[1], a.data()[2], b.data()[0], b.data()[1],
                              b.data()[2], after.data()[0], after.data()[1]};
  };
  const std::vector<float> one = run(1), two = run(2);
  CHECK(one == two);
  CHECK(one[0] != one[3]);  // a and b really are different draws
}

TEST_CASE("run_independent runs n pieces once each, in the order of one thread when any draws") {
  auto run = [](int threads, bool draw) {
    Threads scope(threads);
    manual_seed(7);
    std::vector<float> drawn(5, 0.0f);
    std::atomic<int> calls{0};
    auto piece = [&](int64_t i) {
      ++calls;
      drawn[static_cast<size_t>(i)] = draw && i % 2 == 1 ? rand({1}).data()[0] : static_cast<float>(i);
    };
    detail::run_independent(5, piece);
    drawn.push_back(rand({1}).data()[0]);  // where the generator was left
    return std::pair{drawn, calls.load()};
  };
  for (bool draw : {false, true}) {
    const auto [one, one_calls] = run(1, draw);
    const auto [two, two_calls] = run(2, draw);
    CHECK(one == two);
    CHECK(one_calls == 5);
    CHECK(two_calls == (draw ? 10 : 5));  // pieces that drew are run again, in order, on this thread
  }
  const auto [drawn, calls] = run(1, true);
  CHECK(drawn[1] != drawn[3]);  // the draws really are different numbers
}

TEST_CASE("run_pair passes an exception from either piece to the caller") {
  Threads two(2);
  auto fine = [](int64_t) {};
  auto fails = [](int64_t) { throw CustomError("piece", 5); };
  CHECK_THROWS_AS(detail::run_pair(fine, fails), CustomError);
  CHECK_THROWS_AS(detail::run_pair(fails, fine), CustomError);
}

TEST_CASE("products split between threads flush denormals on the workers as on the caller") {
  // 1e-30 * 1e-10 summed is a denormal (about 1e-40): flushed to zero on every thread, so the product split
  // in two is zero everywhere, as on one thread.
  const int64_t m = 64, n = 256, k = 256;
  std::vector<float> a(m * k, 1e-30f), b(k * n, 1e-10f), c(m * n, 1.0f);
  Threads two(2);
  const int64_t saved = detail::parallel_gemm_work();
  detail::set_parallel_gemm_work(0);
  const int64_t jobs = detail::pool_jobs();
  detail::packed_gemm(false, false, m, n, k, 1, a.data(), k, b.data(), n, 0, c.data(), n);
  detail::set_parallel_gemm_work(saved);
  CHECK(detail::pool_jobs() == jobs + 1);
  for (float x : c) CHECK(x == 0.0f);
}

TEST_CASE("the program may end while the pool's workers are alive") {
  set_num_threads(3);
  std::atomic<int> runs{0};
  auto task = [&](int64_t) { runs.fetch_add(1); };
  parallel_for(3, task);
  CHECK(runs.load() == 3);
  // no reset: the workers are joined by the pool's destructor when the program exits
}
