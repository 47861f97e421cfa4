// Internal: unroll's worker threads, the one owner of threads in the library (framework/threads.hpp is the
// public side: set_num_threads / get_num_threads / UNROLL_NUM_THREADS).
//
// A persistent pool: workers are started once, at the first parallel call, and wait between calls by
// spinning for a short while (a product that follows within ~0.1 ms finds them awake) and then sleeping on a
// futex. The calling thread works too, so a pool of n threads has n - 1 workers.
//
// Results must not depend on the thread count: callers split their work into parts whose results do not
// depend on how many parts there are (a matrix product by blocks of C, never of K; softmax by rows), and
// parts run in any order on any thread.
#pragma once

#include <cstdint>

#include "unroll/framework/autograd.hpp"

namespace unroll::detail {

// A reference to a callable `void(int64_t)` that outlives the call it is passed to (no allocation).
class TaskRef {
 public:
  template <class F>
  TaskRef(F& f) : object_(&f), call_([](void* o, int64_t i) { (*static_cast<F*>(o))(i); }) {}
  void operator()(int64_t i) const { call_(object_, i); }

 private:
  void* object_;
  void (*call_)(void*, int64_t);
};

// Runs task(0), ..., task(n - 1), each once, on this thread and the pool's workers, and returns when all
// have finished. Every task runs with the caller's floating-point control register (rounding mode,
// flush-to-zero), so denormals are flushed on a worker exactly when they are on the caller. They run one after another on this thread when the pool has one thread, when called from
// inside a task (nested parallelism would only oversubscribe the cores), or while another thread of the
// program holds the pool. When tasks throw, the exception of the lowest-numbered task that threw is
// rethrown here, as it was thrown, after the other tasks have finished (run on one thread, the first throw
// stops the rest).
void parallel_for(int64_t n, TaskRef task);

// How many threads a parallel_for called here and now would use: 1 inside a task or while another thread
// holds the pool, else the pool's size. Callers decide with it whether splitting is worth it.
int parallel_width();

// How many parallel_for calls have run on the pool's threads since the program started (tests use it to
// show that work was split).
int64_t pool_jobs();

// The pool's size, the calling thread included (get_num_threads / set_num_threads).
int pool_threads();
void set_pool_threads(int n);

// The state of the calling thread that ops read while they record a graph: grad mode, the time step nodes
// are tagged with and anomaly mode. A task that records graph on behalf of the caller applies it with a
// ThreadStateScope, so that nodes come out as they would have on the caller.
struct ThreadState {
  bool grad_enabled = true;
  bool anomaly_enabled = false;
  int64_t time_step = -1;
  static ThreadState current();
};

class ThreadStateScope {
 public:
  explicit ThreadStateScope(const ThreadState& state);
  ~ThreadStateScope();
  ThreadStateScope(const ThreadStateScope&) = delete;
  ThreadStateScope& operator=(const ThreadStateScope&) = delete;

 private:
  ThreadState saved_;
  TimeStepScope time_step_;
};

// Runs task(0), ..., task(n - 1), pieces of graph work that do not depend on each other (the two directions
// of a bidirectional layer, the layers of a stack working on different stretches of time), on the pool's
// threads when it has a second one free, with the results of running them in order on this thread: the
// caller's ThreadState on every piece, and when any draws from the default random generator (a user's layer
// with dropout inside), the pieces are run again, in order, on this thread, from the generator state they
// started with. An exception from any reaches the caller (the lowest-numbered, as parallel_for).
void run_independent(int64_t n, TaskRef task);

// run_independent of two pieces: first(0), then second(0).
void run_pair(TaskRef first, TaskRef second);

}  // namespace unroll::detail
