// doctest's main for the tests that run under `mpirun -np K`: one ProcessGroup for the whole process
// (MPI is initialized once), shared by the test cases through test_group(). Every rank runs every test case
// in the same order, so their collectives match. The exit code is non-zero on every rank if any rank had a
// failure, so mpirun's exit code reports it.
#define DOCTEST_CONFIG_IMPLEMENT
#include "mpi_test_group.hpp"

#include <doctest/doctest.h>

namespace {
unroll::distributed::ProcessGroup* the_group = nullptr;
}

unroll::distributed::ProcessGroup& test_group() { return *the_group; }

int main(int argc, char** argv) {
  // A short timeout: a rank whose test failed early must not leave the others waiting for 30 minutes.
  unroll::distributed::ProcessGroup group({.timeout_seconds = 60});
  the_group = &group;
  doctest::Context context(argc, argv);
  const int result = context.run();
  double failed = result != 0 ? 1 : 0;
  if (!group.broken()) group.all_reduce_sum(&failed, 1);
  return failed > 0 || result != 0 ? 1 : 0;
}
