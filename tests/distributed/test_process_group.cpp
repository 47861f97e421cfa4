// ProcessGroup's collectives, run under `mpirun -np K` (K >= 1; CTest uses 2) through mpi_test_main.cpp.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "mpi_test_group.hpp"

using namespace unroll;
using namespace unroll::distributed;

TEST_CASE("all_reduce_sum adds every rank's values, in place, for real and double") {
  ProcessGroup& g = test_group();
  const int K = g.world_size(), r = g.rank();
  std::vector<real> values = {real(r), real(1), real(-2 * r)};
  g.all_reduce_sum(values.data(), 3);
  const real ranks = real(K * (K - 1) / 2);  // 0 + 1 + ... + K-1
  CHECK(values == std::vector<real>{ranks, real(K), -2 * ranks});
  double d[2] = {0.5 * r, 1e300};
  g.all_reduce_sum(d, 2);
  CHECK(d[0] == 0.5 * ranks);
  CHECK(d[1] == 1e300 * K);
}

TEST_CASE("hosts() lists every rank's host name, this rank's at its rank") {
  ProcessGroup& g = test_group();
  REQUIRE(g.hosts().size() == static_cast<size_t>(g.world_size()));
  CHECK(g.hosts()[static_cast<size_t>(g.rank())] == g.host());
  for (const std::string& h : g.hosts()) CHECK(!h.empty());
}

TEST_CASE("broadcast copies the root's values to every rank") {
  ProcessGroup& g = test_group();
  const int root = g.world_size() - 1;
  std::vector<real> values(1000, real(g.rank()));
  g.broadcast(values.data(), 1000, root);
  CHECK(values == std::vector<real>(1000, real(root)));
  CHECK_THROWS_WITH_AS(g.broadcast(values.data(), 1, g.world_size()), doctest::Contains("broadcast: root"), Error);
}

TEST_CASE("all_gather puts rank r's values at position r on every rank") {
  ProcessGroup& g = test_group();
  const int K = g.world_size();
  const real mine[2] = {real(g.rank()), real(10 * g.rank())};
  std::vector<real> all(2 * K);
  g.all_gather(mine, 2, all.data());
  for (int r = 0; r < K; ++r) {
    CHECK(all[2 * r] == real(r));
    CHECK(all[2 * r + 1] == real(10 * r));
  }
  const uint64_t word = 0xfedcba9876543210ull + static_cast<uint64_t>(g.rank());
  std::vector<uint64_t> words(K);
  g.all_gather(&word, 1, words.data());
  for (int r = 0; r < K; ++r) CHECK(words[r] == 0xfedcba9876543210ull + static_cast<uint64_t>(r));
}

TEST_CASE("a collective that another rank never joins throws TimeoutError instead of waiting forever") {
  ProcessGroup& g = test_group();
  if (g.world_size() < 2) return;  // needs a rank that stays away
  // A second group over the same ranks: only rank 0 enters its allreduce at first; the others join only
  // after rank 0 has timed out (the barrier on the main group), so no request is left pending at exit.
  ProcessGroup second({.timeout_seconds = 0.5});
  real value = 1;
  if (g.rank() == 0) {
    const auto start = std::chrono::steady_clock::now();
    std::string message;
    try {
      second.all_reduce_sum(&value, 1);
    } catch (const TimeoutError& e) {
      message = e.what();
    }
    CHECK(message.find("all_reduce_sum of 1 values on rank 0 of") != std::string::npos);
    CHECK(message.find("did not complete within 0.5 s: another rank has died") != std::string::npos);
    // it names the ranks it waited for and their hosts
    CHECK(message.find("rank 1 on host " + g.hosts()[1]) != std::string::npos);
    CHECK(message.find("(host " + g.host() + ")") != std::string::npos);
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(waited >= 0.5);
    CHECK(waited < 10);
    CHECK(second.broken());
    CHECK_THROWS_WITH_AS(second.barrier(), doctest::Contains("the process group is broken"), Error);
  }
  g.barrier();
  if (g.rank() != 0) second.all_reduce_sum(&value, 1);  // completes rank 0's abandoned request
  g.barrier();
}

TEST_CASE("ProcessGroup rejects a non-positive timeout") {
  CHECK_THROWS_WITH_AS(ProcessGroup({.timeout_seconds = 0}), doctest::Contains("timeout_seconds must be > 0"), Error);
}
