// Internal: a count that every thread changes often and that is read rarely (live_buffer_count,
// live_node_count).
//
// One std::atomic shared by all threads puts every tensor allocation of two threads running side by side (the
// slices of a batch in inference, the directions of a bidirectional layer) on one cache line that bounces
// between the cores: in lstm 1x64 N16 inference on two threads, perf put about 4% of all samples on the
// instruction after Storage's fetch_add (2026-12-03). Here each thread adds to its own line; the total is
// the sum of the lines, exact whenever no thread is changing it.
#pragma once

#include <atomic>
#include <cstdint>

namespace unroll::detail {

class ShardedCounter {
 public:
  void add(int64_t delta) { shards_[this_thread_shard()].value.fetch_add(delta, std::memory_order_relaxed); }
  int64_t total() const {
    int64_t sum = 0;
    for (const Shard& s : shards_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr int kShards = 16;  // threads beyond 16 share lines, round-robin
  struct alignas(64) Shard {
    std::atomic<int64_t> value{0};
  };
  Shard shards_[kShards];

  static int this_thread_shard() {
    static std::atomic<int> next{0};
    thread_local const int shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return shard;
  }
};

}  // namespace unroll::detail
