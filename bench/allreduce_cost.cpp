// bench/allreduce_cost.cpp: how long one gradient allreduce takes over the transport mpirun chose, by the MPI
// calls distributed::ProcessGroup::all_reduce_sum makes (MPI_Iallreduce, in place, float32 sum, polled with
// MPI_Test; OpenMPI's Rabenseifner algorithm, as ProcessGroup selects it). A plain MPI program, with no unroll:
// bench/distributed_tcp.sh builds it with mpicxx and runs it over shared memory, TCP on loopback and TCP between
// two network namespaces.
//
//   mpirun -np 2 allreduce_cost VALUES [REPEATS=50]
//
// Every repetition starts after a barrier, so that it times the transfer and the sum, not a late rank. Rank 0
// prints the median and the fastest time in milliseconds, and the bytes each rank sent per allreduce:
//   allreduce values=4650000 bytes=18600000 median_ms=2.91 min_ms=2.70
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", /*overwrite=*/0);  // as ProcessGroup does
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 2) {
    if (rank == 0) std::fprintf(stderr, "usage: mpirun -np K allreduce_cost VALUES [REPEATS=50]\n");
    MPI_Finalize();
    return 2;
  }
  const int count = std::atoi(argv[1]);
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 50;
  std::vector<float> data(static_cast<size_t>(count), 1.0f + static_cast<float>(rank));
  std::vector<double> ms;
  for (int r = -3; r < repeats; ++r) {  // 3 unrecorded repetitions set up the connections and buffers
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, data.data(), count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    for (int done = 0; !done;) MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (r >= 0) ms.push_back(1e3 * (MPI_Wtime() - start));
  }
  std::sort(ms.begin(), ms.end());
  if (rank == 0)
    std::printf("allreduce values=%d bytes=%lld median_ms=%.3f min_ms=%.3f\n", count,
                4LL * count * 2 * (size - 1) / size, ms[ms.size() / 2], ms.front());
  MPI_Finalize();
  return 0;
}
