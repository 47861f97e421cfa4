// unroll/distributed/data_parallel.hpp: synchronous data-parallel training (PyTorch's DistributedDataParallel).
//
//   distributed::ProcessGroup group;
//   Model model(...);                                         // every rank builds the same model
//   distributed::DataParallel ddp(group, model.parameters());  // rank 0's initial values go to every rank
//   optim::Adam opt(model.parameters(), {.lr = 1e-3});
//   for (...) {                                               // each rank reads its own slice of the data
//     Tensor loss = ...;                                      // this rank's batch B
//     opt.zero_grad();
//     loss.backward();
//     ddp.average_gradients();                                // grad = mean over the ranks' grads
//     optim::clip_grad_norm(model.parameters(), 5);
//     opt.step();                                             // identical on every rank
//   }
//
// Every rank holds a full replica. After backward(), average_gradients() replaces each gradient by its
// mean over the ranks, so K ranks with batch B each take the same step as one process with batch K*B
// (the loss being a mean over the batch). Since the averaged gradients are the same bits everywhere and
// optimizers are deterministic, the replicas stay identical without ever being re-sent.
//
// Where PyTorch's DDP hooks into backward, here the call is explicit: between backward() and the
// optimizer step, which keeps the training loop readable and lets clipping see the averaged gradient.
//
// Communication: all gradients are packed into one flat buffer (plus one flag per parameter, and the
// metrics asked for) that is summed in pieces of at most `bucket_cap_mb` (PyTorch's default, 25 MB): one
// MPI allreduce per piece, started as soon as the piece is packed. A model below the cap makes exactly one
// allreduce per step. A parameter without a gradient on some rank counts as zeros there; one that has no
// gradient on any rank keeps none (so the optimizer skips it, as in a single process).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "unroll/distributed/process_group.hpp"
#include "unroll/framework/tensor.hpp"

namespace unroll::distributed {

struct DataParallelOptions {
  double bucket_cap_mb = 25;         // largest piece of the flat buffer one allreduce carries (MiB)
  bool broadcast_parameters = true;  // copy rank 0's parameter values to every rank at construction
};

class DataParallel {
 public:
  // `parameters`: typically model.parameters(), the same list (count, order, shapes) on every rank; a
  // mismatch throws unroll::Error on every rank, naming the ranks that differ.
  DataParallel(ProcessGroup& group, std::vector<Tensor> parameters, DataParallelOptions options = {});

  // Copies rank 0's parameter values to all ranks (done by the constructor unless turned off).
  void broadcast_parameters();

  // Replaces every parameter's gradient by its mean over the ranks. `metrics` (e.g. this rank's loss)
  // travel in the same allreduce; their means over the ranks are returned in the same order (computed
  // in `real`, enough for logging).
  std::vector<double> average_gradients(std::initializer_list<double> metrics = {});

  // True when every rank holds bit-identical parameter values (compares a 64-bit hash of each rank's
  // values: one small all_gather). Meant for tests and occasional checks, not for every step.
  bool replicas_identical();

  ProcessGroup& group() { return group_; }
  const std::vector<Tensor>& parameters() const { return params_; }
  int64_t buckets_per_step() const;                   // allreduce calls one average_gradients() makes (without metrics)
  int64_t bytes_per_step() const;                     // size of the flat gradient buffer each rank contributes
  int64_t allreduce_calls() const { return calls_; }  // total so far
  double communication_seconds() const { return comm_seconds_; }  // time spent in average_gradients' allreduces

 private:
  ProcessGroup& group_;
  std::vector<Tensor> params_;
  DataParallelOptions options_;
  int64_t gradient_values_ = 0;  // sum of the parameters' numel
  int64_t bucket_values_ = 0;    // values per allreduce piece
  std::vector<real> flat_;       // [gradients..., one flag per parameter, metrics...]
  int64_t calls_ = 0;
  double comm_seconds_ = 0;
};

}  // namespace unroll::distributed
