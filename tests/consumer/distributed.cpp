// Built by tests/consumer/run.cmake when the installed unroll has unroll::distributed; run without mpirun,
// it is a job of one rank: parameters and gradients pass through the MPI calls unchanged.
#include <unroll/distributed/distributed.hpp>
#include <unroll/unroll.hpp>

int main() {
  using namespace unroll;
  distributed::ProcessGroup group;
  Tensor w = tensor({1.5, -2.0});
  w.requires_grad_();
  distributed::DataParallel ddp(group, {w});
  sum(w * w).backward();
  ddp.average_gradients();
  const bool ok = group.world_size() == 1 && w.grad().to_vector() == std::vector<real>{3, -4} &&
                  distributed::shard_range(10, 0, 1).size() == 10;
  return ok ? 0 : 1;
}
