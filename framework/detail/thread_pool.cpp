// The worker pool (thread_pool.hpp) and the public thread count (framework/threads.hpp).
//
// One job at a time: the caller publishes it by making `epoch_` odd, works on its tasks like any worker,
// waits until every task has finished, closes the job (epoch_ even again) and waits until no worker still
// looks at it. Tasks are handed out by an atomic counter, so a worker that wakes late finds nothing left
// to do instead of delaying the caller.
#include "unroll/framework/detail/thread_pool.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#include "unroll/framework/detail/anomaly.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/denormals.hpp"
#include "unroll/framework/ops.hpp"
#include "unroll/framework/threads.hpp"

namespace unroll::detail {

namespace {

// How long an idle worker spins before it sleeps, and how long the caller spins for the last tasks before
// it sleeps. A worker that sleeps costs the next job a futex wake-up (tens of microseconds on this VM); one
// that spins costs a core. 100 us covers the gaps between the large products of a training step.
constexpr auto kIdleSpin = std::chrono::microseconds(100);
constexpr auto kJoinSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or `budget` has passed; returns ready().
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds budget) {
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 1;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() - start > budget) return ready();
  }
}

thread_local bool t_in_task = false;

// The floating-point control register (MXCSR on x86: rounding, flush-to-zero, denormals-are-zero). Every
// task runs with its caller's, so that a result never depends on the thread that computed it.
unsigned read_fp_control() {
#ifdef UNROLL_HAS_MXCSR
  return _mm_getcsr();
#else
  return 0;
#endif
}
void write_fp_control([[maybe_unused]] unsigned value) {
#ifdef UNROLL_HAS_MXCSR
  if (_mm_getcsr() != value) _mm_setcsr(value);
#endif
}
  // this thread is running a pool task (so nested calls run inline)

// UNROLL_NUM_THREADS, else the cores this process may run on.
int default_threads() {
  if (const char* env = std::getenv("UNROLL_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 1024) return static_cast<int>(n);
    std::fprintf(stderr, "unroll: ignoring UNROLL_NUM_THREADS=%s (expected an integer from 1 to 1024)\n", env);
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) >= 1) return CPU_COUNT(&set);
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n >= 1 ? static_cast<int>(n) : 1;
}

class Pool {
 public:
  Pool() : threads_(default_threads()) {}
  ~Pool() { stop_workers(); }

  int threads() const { return threads_.load(std::memory_order_relaxed); }
  bool held() const { return held_.load(std::memory_order_relaxed); }
  bool try_hold() { return !held_.exchange(true, std::memory_order_acquire); }
  void release() { held_.store(false, std::memory_order_release); }

  // Waits until the pool is free, then changes its size; workers start again at the next job.
  void resize(int n) {
    while (!try_hold()) std::this_thread::yield();
    stop_workers();
    threads_.store(n, std::memory_order_relaxed);
    release();
  }

  int64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

  // The caller holds the pool.
  void run(int64_t n, TaskRef task) {
    start_workers();
    jobs_.fetch_add(1, std::memory_order_relaxed);
    task_ = &task;
    count_ = n;
    next_.store(0, std::memory_order_relaxed);
    remaining_.store(static_cast<int>(n), std::memory_order_relaxed);
    error_index_ = n;
    error_ = nullptr;
    fp_control_ = read_fp_control();
    epoch_.fetch_add(1, std::memory_order_seq_cst);  // odd: the job is open
    epoch_.notify_all();                              // no system call when no worker sleeps
    t_in_task = true;
    work();
    t_in_task = false;
    const auto done = [&] { return remaining_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done, kJoinSpin))
      for (int left; (left = remaining_.load(std::memory_order_acquire)) != 0;)
        remaining_.wait(left, std::memory_order_acquire);
    epoch_.fetch_add(1, std::memory_order_seq_cst);  // even: closed; late workers will not touch it
    while (inside_.load(std::memory_order_seq_cst) != 0) cpu_relax();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void start_workers() {
    const int wanted = threads() - 1;
    while (static_cast<int>(workers_.size()) < wanted) {
      const uint32_t epoch = epoch_.load(std::memory_order_relaxed);
      try {
        workers_.emplace_back([this, epoch] { worker_main(epoch); });
      } catch (const std::system_error&) {  // no more threads: work with those there are
        threads_.store(static_cast<int>(workers_.size()) + 1, std::memory_order_relaxed);
        return;
      }
    }
  }

  void stop_workers() {
    if (workers_.empty()) return;
    stop_.store(true, std::memory_order_release);
    epoch_.fetch_add(2, std::memory_order_seq_cst);  // wakes everyone; stays even (no job open)
    epoch_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    stop_.store(false, std::memory_order_relaxed);
  }

  void worker_main(uint32_t seen) {
    for (;;) {
      const uint32_t epoch = epoch_.load(std::memory_order_acquire);
      if (epoch == seen) {
        const auto changed = [&] { return epoch_.load(std::memory_order_acquire) != seen; };
        if (!spin_until(changed, kIdleSpin)) epoch_.wait(seen, std::memory_order_acquire);
        continue;
      }
      seen = epoch;
      if (stop_.load(std::memory_order_acquire)) return;
      if (epoch % 2 == 0) continue;  // a job that closed before this worker looked
      inside_.fetch_add(1, std::memory_order_seq_cst);
      if (epoch_.load(std::memory_order_seq_cst) == epoch) {  // still open: its fields are valid
        const unsigned own_fp_control = read_fp_control();
        write_fp_control(fp_control_);
        t_in_task = true;
        work();
        t_in_task = false;
        write_fp_control(own_fp_control);
      }
      inside_.fetch_sub(1, std::memory_order_release);
    }
  }

  void work() {
    for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count_;) {
      try {
        (*task_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (i < error_index_) {
          error_index_ = i;
          error_ = std::current_exception();
        }
      }
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) remaining_.notify_all();
    }
  }

  std::atomic<int> threads_;
  std::atomic<int64_t> jobs_{0};
  std::atomic<bool> held_{false};
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> epoch_{0};  // odd while a job is open
  std::atomic<int> inside_{0};      // workers looking at the open job
  // The job: written by the caller before epoch_ turns odd, read by workers after they see it odd.
  const TaskRef* task_ = nullptr;
  int64_t count_ = 0;
  unsigned fp_control_ = 0;
  std::atomic<int64_t> next_{0};  // the next task to hand out
  std::atomic<int> remaining_{0};  // tasks not finished
  std::mutex error_mutex_;
  int64_t error_index_ = 0;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void parallel_for(int64_t n, TaskRef task) {
  if (n <= 0) return;
  Pool& p = pool();
  if (n == 1 || t_in_task || p.threads() == 1 || n > INT32_MAX || !p.try_hold()) {
    for (int64_t i = 0; i < n; ++i) task(i);
    return;
  }
  struct Release {
    Pool& p;
    ~Release() { p.release(); }
  } release{p};
  p.run(n, task);
}

int parallel_width() {
  if (t_in_task) return 1;
  const Pool& p = pool();
  return p.held() ? 1 : p.threads();
}

int64_t pool_jobs() { return pool().jobs(); }

int pool_threads() { return pool().threads(); }

void set_pool_threads(int n) {
  check(n >= 1, "set_num_threads: the thread count must be at least 1, got {}", n);
  check(!t_in_task, "set_num_threads: called from inside one of unroll's parallel tasks");
  pool().resize(n);
}

// ---- the caller's state, carried to a task ------------------------------------------------------------
namespace {

// The step nodes recorded here are tagged with: autograd.cpp keeps it in a thread-local that only record()
// reads, so record one node (no inputs, nothing to do in backward) and read its tag.
int64_t current_time_step() {
  Tensor probe = empty({0});
  record(probe, "time step", {}, nullptr);
  return probe.impl()->grad_fn->time_step;
}
}  // namespace

ThreadState ThreadState::current() {
  ThreadState s;
  s.grad_enabled = is_grad_enabled();
  s.anomaly_enabled = t_anomaly_enabled;
  s.time_step = s.grad_enabled ? current_time_step() : -1;  // nothing is recorded without grad mode
  return s;
}

ThreadStateScope::ThreadStateScope(const ThreadState& state)
    : saved_{is_grad_enabled(), t_anomaly_enabled, -1}, time_step_(state.time_step) {
  set_grad_enabled(state.grad_enabled);
  t_anomaly_enabled = state.anomaly_enabled;
}

ThreadStateScope::~ThreadStateScope() {
  set_grad_enabled(saved_.grad_enabled);
  t_anomaly_enabled = saved_.anomaly_enabled;
}

// ---- two independent pieces of graph work --------------------------------------------------------------
namespace {
// True when the two generators will produce the same numbers (compared on copies: the state is private).
bool same_stream(const Generator& a, const Generator& b) {
  Generator x = a, y = b;
  return x.next_u64() == y.next_u64() && x.normal() == y.normal();
}
}  // namespace

void run_independent(int64_t n, TaskRef task) {
  if (n <= 0) return;
  if (n == 1 || parallel_width() < 2) {
    for (int64_t i = 0; i < n; ++i) task(i);
    return;
  }
  const ThreadState state = ThreadState::current();
  const Generator start = default_generator();
  std::vector<char> drew(static_cast<size_t>(n), 0);
  auto piece = [&](int64_t i) {
    ThreadStateScope scope(state);
    // Each piece starts from the caller's generator state on whichever thread runs it; the thread's own
    // generator is put back afterwards.
    struct SwapGenerator {
      Generator own = default_generator();
      SwapGenerator(const Generator& start) { default_generator() = start; }
      ~SwapGenerator() { default_generator() = own; }
    } swap(start);
    task(i);
    drew[static_cast<size_t>(i)] = !same_stream(default_generator(), start);
  };
  parallel_for(n, piece);
  for (const char d : drew)
    if (d) {  // random draws depend on the order: the order of one thread, then
      default_generator() = start;
      for (int64_t i = 0; i < n; ++i) task(i);
      return;
    }
}

void run_pair(TaskRef first, TaskRef second) {
  auto either = [&](int64_t i) { (i == 0 ? first : second)(0); };
  run_independent(2, either);
}

}  // namespace unroll::detail

namespace unroll {

void set_num_threads(int n) { detail::set_pool_threads(n); }
int get_num_threads() { return detail::pool_threads(); }

}  // namespace unroll
