// unroll/distributed/process_group.hpp: the ranks of a data-parallel job and the collectives they use.
//
//   unroll::distributed::ProcessGroup group;          // MPI_Init (unless the program already did), MPI_COMM_WORLD
//   if (group.is_root()) std::printf("%d ranks\n", group.world_size());
//
// One ProcessGroup per process, made before training and kept until the end (it finalizes MPI when it
// initialized it). Ranks are processes started by `mpirun -np K program ...`; started without mpirun the
// program is a job of one rank (MPI's "singleton" mode), so the same binary runs alone unchanged.
//
// Every collective waits at most `timeout_seconds` (PyTorch's default, 30 minutes, unless set). A rank
// that has died or stopped answering would otherwise keep the others blocked forever; here they throw
// TimeoutError instead, naming the collective, and the group is then unusable ("broken"). (Collectives are
// MPI's non-blocking ones, polled until they complete or the timeout passes.) A broken group, or one
// destroyed while an exception unwinds the stack, does not finalize MPI (MPI_Finalize waits for every
// rank): the process just exits, and mpirun then ends the whole job. A process that wants to end the job
// at once (after any error of its own) calls abort(), MPI_Abort.
//
// Only this component includes <mpi.h> (in process_group.cpp); its headers do not, and the core library
// never depends on MPI. Build with -DUNROLL_DISTRIBUTED=ON and link unroll::distributed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "unroll/framework/config.hpp"
#include "unroll/framework/error.hpp"

namespace unroll::distributed {

// A collective did not complete within the group's timeout: another rank has most likely died or hung.
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ProcessGroupOptions {
  double timeout_seconds = 1800;  // longest wait for any one collective (PyTorch's default: 30 minutes)
};

class ProcessGroup {
 public:
  explicit ProcessGroup(ProcessGroupOptions options = {});
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }              // 0 .. world_size() - 1
  int world_size() const { return world_size_; }  // number of ranks (mpirun -np K)
  bool is_root() const { return rank_ == 0; }     // rank 0 prints, saves checkpoints, broadcasts the start
  std::string host() const;                       // this rank's host name (MPI_Get_processor_name)
  const std::vector<std::string>& hosts() const { return hosts_; }  // every rank's host name, by rank
  double timeout_seconds() const { return options_.timeout_seconds; }
  bool broken() const { return broken_; }  // a collective timed out or failed: no further use

  // ---- collectives: every rank calls them in the same order with the same counts ---------------
  // In place, elementwise sum over the ranks.
  void all_reduce_sum(real* data, int64_t count);
  void all_reduce_sum(double* data, int64_t count);
  // Copies `root`'s data to every rank.
  void broadcast(real* data, int64_t count, int root = 0);
  // recv[r * count .. (r + 1) * count) = rank r's send[0 .. count), on every rank.
  void all_gather(const real* send, int64_t count, real* recv);
  void all_gather(const uint64_t* send, int64_t count, uint64_t* recv);
  // Returns when every rank has called it.
  void barrier();

  // Ends the whole job now (MPI_Abort): every rank's process exits with `code`. Call it after an error
  // that this rank cannot recover from, so the others need not wait for their timeout.
  [[noreturn]] void abort(int code = 1);

 private:
  struct Mpi;  // MPI handles (process_group.cpp)
  // Waits for a started non-blocking collective, polling until it completes or the timeout passes.
  void wait(void* request, const char* what, int64_t count);
  void check_usable(const char* what) const;
  std::string peers_description() const;  // the other ranks and their hosts, for a timeout's message
  template <class T>                      // float, double, uint64_t (process_group.cpp)
  void all_reduce_values(T* data, int64_t count);
  template <class T>
  void all_gather_values(const T* send, int64_t count, T* recv);

  ProcessGroupOptions options_;
  std::unique_ptr<Mpi> mpi_;
  int rank_ = 0, world_size_ = 1;
  std::vector<std::string> hosts_;  // hosts_[r]: rank r's host, gathered once so a timeout can name its peers
  bool initialized_mpi_ = false;    // this object called MPI_Init, so it finalizes
  bool broken_ = false;
};

}  // namespace unroll::distributed
