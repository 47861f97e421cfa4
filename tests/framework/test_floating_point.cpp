// framework/floating_point.hpp and the engine's denormal flushing (float build: 1e-40 is denormal).
#include <doctest/doctest.h>
#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
// 1e-30 * 1e-10 = 1e-40, a float denormal; volatile so the compiler cannot fold it at compile time.
float denormal_product() {
  volatile float a = 1e-30f, b = 1e-10f;
  return a * b;
}
}  // namespace

TEST_CASE("backward flushes denormal gradients to zero and restores the caller's mode") {
  REQUIRE(denormal_product() != 0.0f);  // the default mode keeps denormals
  Tensor x = ones({1}).requires_grad_();
  Tensor y = x * 1e-10f;
  y.backward(full({1}, 1e-30f));  // dy/dx * seed = 1e-40 unless flushed
  CHECK(x.grad().item() == 0.0);
  CHECK(denormal_product() != 0.0f);  // the caller's thread is as it was
}

TEST_CASE("set_flush_denormal switches the calling thread, as torch.set_flush_denormal") {
  REQUIRE(set_flush_denormal(true));
  CHECK(denormal_product() == 0.0f);
  CHECK(set_flush_denormal(false));
  CHECK(denormal_product() != 0.0f);
}
