// examples/common/data_parallel.hpp: the --distributed side of char_lm and word_lm (not part of the library).
//
//   examples::DataParallelRun run(distributed, timeout);   // rank 0 of 1 unless --distributed under mpirun
//   const auto my_tokens = unroll::distributed::shard_stream(tokens, batch, run.rank(), run.world_size());
//   run.attach(model.parameters());                        // rank 0's initial weights go to every rank
//   ... loss.backward();
//   const double mean_loss = run.average_gradients(loss.item());  // one allreduce: gradients + the loss
//   ... opt.step();
//
// It wraps unroll::distributed (ProcessGroup + DataParallel) when the examples are built with
// -DUNROLL_DISTRIBUTED=ON, and is a one-rank stand-in otherwise, so the examples read the same either way
// and need no MPI to build. Ranks other than 0 send their standard output to /dev/null: rank 0 prints the
// progress (with the loss averaged over all ranks) and writes the files; errors still reach stderr.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <unroll/unroll.hpp>
#include <vector>

#include <unroll/distributed/sharding.hpp>  // shard_stream: part of unroll itself, no MPI
#ifdef UNROLL_EXAMPLES_DISTRIBUTED
#include <unroll/distributed/distributed.hpp>
#endif

namespace examples {

#ifdef UNROLL_EXAMPLES_DISTRIBUTED
class DataParallelRun {
 public:
  DataParallelRun(bool distributed, double timeout_seconds) {
    if (!distributed) return;
    group_ = std::make_unique<unroll::distributed::ProcessGroup>(
        unroll::distributed::ProcessGroupOptions{.timeout_seconds = timeout_seconds});
    if (!group_->is_root() && !std::freopen("/dev/null", "w", stdout))
      throw std::runtime_error("cannot silence the standard output of rank " + std::to_string(group_->rank()));
  }
  bool distributed() const { return group_ != nullptr; }
  int rank() const { return group_ ? group_->rank() : 0; }
  int world_size() const { return group_ ? group_->world_size() : 1; }
  bool is_root() const { return rank() == 0; }

  // Broadcasts rank 0's parameter values and prepares the gradient averaging.
  void attach(const std::vector<unroll::Tensor>& parameters) {
    if (group_) ddp_ = std::make_unique<unroll::distributed::DataParallel>(*group_, parameters);
  }
  // After backward(): every gradient becomes its mean over the ranks; returns the mean of `loss`.
  double average_gradients(double loss) { return ddp_ ? ddp_->average_gradients({loss})[0] : loss; }
  // Sums over the ranks, in place (evaluation totals).
  void sum(std::vector<double>& values) {
    if (group_) group_->all_reduce_sum(values.data(), static_cast<int64_t>(values.size()));
  }
  // Every rank's `count` float32 values, rank after rank.
  std::vector<float> all_gather(const float* values, int64_t count) {
    if (!group_) return std::vector<float>(values, values + count);
    std::vector<float> all(static_cast<size_t>(count * world_size()));
    group_->all_gather(values, count, all.data());
    return all;
  }
  // Checkpoints: rank 0 runs `write`; every rank returns once it has finished, so no rank goes on (and
  // perhaps reads the checkpoint) before it is complete.
  void save_on_root(const std::function<void()>& write) {
    if (is_root()) write();
    if (group_) group_->barrier();
  }
  bool replicas_identical() { return ddp_ ? ddp_->replicas_identical() : true; }
  double communication_seconds() const { return ddp_ ? ddp_->communication_seconds() : 0; }
  int64_t bytes_per_step() const { return ddp_ ? ddp_->bytes_per_step() : 0; }

 private:
  std::unique_ptr<unroll::distributed::ProcessGroup> group_;
  std::unique_ptr<unroll::distributed::DataParallel> ddp_;
};
#else
class DataParallelRun {
 public:
  DataParallelRun(bool distributed, double /*timeout_seconds*/) {
    if (distributed)
      throw std::runtime_error(
          "--distributed needs the MPI build: configure with -DUNROLL_DISTRIBUTED=ON (docs/distributed.md)");
  }
  bool distributed() const { return false; }
  int rank() const { return 0; }
  int world_size() const { return 1; }
  bool is_root() const { return true; }
  void attach(const std::vector<unroll::Tensor>&) {}
  double average_gradients(double loss) { return loss; }
  void sum(std::vector<double>&) {}
  std::vector<float> all_gather(const float* values, int64_t count) {
    return std::vector<float>(values, values + count);
  }
  void save_on_root(const std::function<void()>& write) { write(); }
  bool replicas_identical() { return true; }
  double communication_seconds() const { return 0; }
  int64_t bytes_per_step() const { return 0; }
};
#endif

}  // namespace examples
