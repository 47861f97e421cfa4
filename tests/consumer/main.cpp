// Built by tests/consumer/run.cmake against an installed unroll; exits 0 when autograd works.
#include <unroll/unroll.hpp>

int main() {
  using namespace unroll;
  Tensor w = tensor({1.5, -2.0});
  w.requires_grad_();
  sum(w * w).backward();  // d/dw = 2w
  return w.grad().to_vector() == std::vector<real>{3, -4} ? 0 : 1;
}
