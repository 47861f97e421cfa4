#include "unroll/distributed/process_group.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>  // setenv, _Exit
#include <exception>
#include <thread>

#include "unroll/framework/detail/check.hpp"

namespace unroll::distributed {

using detail::check;

namespace {

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}
template <>
MPI_Datatype mpi_type<uint64_t>() {
  return MPI_UINT64_T;
}
// MPI counts are int: longer buffers go through in pieces of this many elements.
constexpr int64_t kMaxPiece = int64_t{1} << 30;

// Throws unroll::Error for an MPI error code, with MPI's own description.
void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string("distributed: ") + what + ": MPI error: " + std::string(text, length));
}

}  // namespace

struct ProcessGroup::Mpi {
  MPI_Comm comm = MPI_COMM_NULL;  // our own duplicate of MPI_COMM_WORLD (errors return, not abort)
};

ProcessGroup::ProcessGroup(ProcessGroupOptions options) : options_(options), mpi_(std::make_unique<Mpi>()) {
  check(options.timeout_seconds > 0, "ProcessGroup: timeout_seconds must be > 0, got {}", options.timeout_seconds);
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // OpenMPI's non-blocking allreduce picks, by default, an algorithm that took 7.9-11 ms for 18.6 MB
    // between two ranks here, against 2.7-3.0 ms for its Rabenseifner or ring algorithms (4.0 ms for the
    // blocking MPI_Allreduce). Choose Rabenseifner (reduce-scatter, then allgather: every element is
    // summed on one rank and copied to the others, so all ranks get the same bits), unless the user set it.
    ::setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", /*overwrite=*/0);
    // Errors during MPI_Init itself abort (MPI's default handler): there is no communicator to report on yet.
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    initialized_mpi_ = true;
  }
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &mpi_->comm), "MPI_Comm_dup");
  check_mpi(MPI_Comm_set_errhandler(mpi_->comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check_mpi(MPI_Comm_rank(mpi_->comm, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(mpi_->comm, &world_size_), "MPI_Comm_size");
  // Every rank's host name, once, while all ranks are here: a timeout later names the ranks it waited for.
  std::vector<char> names(static_cast<size_t>(world_size_) * MPI_MAX_PROCESSOR_NAME, '\0');
  const std::string mine = host();
  std::copy(mine.begin(), mine.end(), names.begin() + static_cast<std::ptrdiff_t>(rank_) * MPI_MAX_PROCESSOR_NAME);
  check_mpi(
      MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, names.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, mpi_->comm),
      "MPI_Allgather of the host names");
  for (int r = 0; r < world_size_; ++r)
    hosts_.emplace_back(names.data() + static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME);
}

ProcessGroup::~ProcessGroup() {
  // MPI_Comm_free and MPI_Finalize are collective: after a timeout, or while an exception is unwinding
  // (another rank may be waiting in a collective this rank will never join), they could block forever.
  // Skipping them lets the process exit; mpirun sees a rank end without MPI_Finalize and stops the job.
  if (broken_ || std::uncaught_exceptions() > 0) return;
  if (mpi_->comm != MPI_COMM_NULL) MPI_Comm_free(&mpi_->comm);
  if (initialized_mpi_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
}

std::string ProcessGroup::host() const {
  char name[MPI_MAX_PROCESSOR_NAME];
  int length = 0;
  check_mpi(MPI_Get_processor_name(name, &length), "MPI_Get_processor_name");
  return std::string(name, length);
}

void ProcessGroup::check_usable(const char* what) const {
  if (broken_)
    throw Error(std::string("distributed: ") + what + ": the process group is broken (an earlier collective timed " +
                "out or failed); end the job");
}

// "rank 1 on host b" with two ranks, "one of rank 1 on host b, rank 2 on host c, ..." with more: a
// non-blocking collective cannot tell which of the others is missing. At most 8 are listed.
std::string ProcessGroup::peers_description() const {
  std::string peers;
  int listed = 0;
  for (int r = 0; r < world_size_; ++r) {
    if (r == rank_) continue;
    if (listed == 8) {
      peers += fmt::format(" and {} more", world_size_ - 1 - listed);
      break;
    }
    peers += fmt::format("{}rank {} on host {}", listed ? ", " : "", r, hosts_[static_cast<size_t>(r)]);
    ++listed;
  }
  return world_size_ > 2 ? "one of " + peers : peers;
}

void ProcessGroup::wait(void* request_ptr, const char* what, int64_t count) {
  MPI_Request& request = *static_cast<MPI_Request*>(request_ptr);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.timeout_seconds));
  for (;;) {
    int done = 0;
    const int code = MPI_Test(&request, &done, MPI_STATUS_IGNORE);  // also drives the transfer forward
    if (code != MPI_SUCCESS) {
      broken_ = true;
      check_mpi(code, what);
    }
    if (done) return;
    const auto now = Clock::now();
    if (now > deadline) {
      broken_ = true;
      throw TimeoutError(fmt::format(
          "distributed: {} of {} values on rank {} of {} (host {}) did not complete within {} s: another rank has "
          "died or stopped responding ({}; ProcessGroupOptions::timeout_seconds)",
          what, count, rank_, world_size_, hosts_[static_cast<size_t>(rank_)], options_.timeout_seconds,
          peers_description()));
    }
    // Poll continuously for the first 50 ms (the transfer only advances inside MPI_Test, and a step's
    // collective normally completes well within that), then gently, leaving the core to other work.
    const auto waited = now - start;
    if (waited < std::chrono::milliseconds(50))
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(waited < std::chrono::seconds(1) ? 100 : 1000));
  }
}

// Every collective is started non-blocking and waited for by polling (wait()), so that a missing rank
// ends in TimeoutError rather than an endless wait.
template <class T>
void ProcessGroup::all_reduce_values(T* data, int64_t count) {
  check_usable("all_reduce_sum");
  check(count >= 0, "all_reduce_sum: count must be >= 0, got {}", count);
  for (int64_t done = 0; done < count; done += kMaxPiece) {
    const int n = static_cast<int>(std::min(kMaxPiece, count - done));
    MPI_Request request;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data + done, n, mpi_type<T>(), MPI_SUM, mpi_->comm, &request),
              "all_reduce_sum");
    wait(&request, "all_reduce_sum", n);
  }
}
void ProcessGroup::all_reduce_sum(real* data, int64_t count) { all_reduce_values(data, count); }
void ProcessGroup::all_reduce_sum(double* data, int64_t count) { all_reduce_values(data, count); }

void ProcessGroup::broadcast(real* data, int64_t count, int root) {
  check_usable("broadcast");
  check(count >= 0, "broadcast: count must be >= 0, got {}", count);
  check(root >= 0 && root < world_size_, "broadcast: root {} is not a rank of this group of {}", root, world_size_);
  for (int64_t done = 0; done < count; done += kMaxPiece) {
    const int n = static_cast<int>(std::min(kMaxPiece, count - done));
    MPI_Request request;
    check_mpi(MPI_Ibcast(data + done, n, mpi_type<real>(), root, mpi_->comm, &request), "broadcast");
    wait(&request, "broadcast", n);
  }
}

template <class T>
void ProcessGroup::all_gather_values(const T* send, int64_t count, T* recv) {
  check_usable("all_gather");
  check(count >= 0 && count * world_size_ <= kMaxPiece, "all_gather: count {} x {} ranks must be in [0, 2^30]", count,
        world_size_);
  MPI_Request request;
  check_mpi(MPI_Iallgather(send, static_cast<int>(count), mpi_type<T>(), recv, static_cast<int>(count), mpi_type<T>(),
                           mpi_->comm, &request),
            "all_gather");
  wait(&request, "all_gather", count);
}
void ProcessGroup::all_gather(const real* send, int64_t count, real* recv) { all_gather_values(send, count, recv); }
void ProcessGroup::all_gather(const uint64_t* send, int64_t count, uint64_t* recv) {
  all_gather_values(send, count, recv);
}

void ProcessGroup::barrier() {
  check_usable("barrier");
  MPI_Request request;
  check_mpi(MPI_Ibarrier(mpi_->comm, &request), "barrier");
  wait(&request, "barrier", 0);
}

void ProcessGroup::abort(int code) {
  MPI_Abort(mpi_->comm != MPI_COMM_NULL ? mpi_->comm : MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; should it, the process must still end
}

}  // namespace unroll::distributed
