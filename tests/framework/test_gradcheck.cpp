// Tests for framework/gradcheck.cpp: it passes correct gradients and, crucially, catches wrong ones.
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
// square(x) = x^2 whose recorded backward is deliberately off by `error` (a user's buggy op)
Tensor buggy_square(const Tensor& x, real error) {
  Tensor out = mul(x.detach(), x.detach());
  if (should_record({&x}))
    record(out, "buggy_square", {x}, [error](BackwardContext& c) {
      Tensor g = empty(c.input(0).shape);
      for (int64_t i = 0; i < g.numel(); ++i)
        g.data()[i] = c.grad_output().data()[i] * (2 * c.input(0).data()[i] + error);
      c.add_grad(0, g);
    });
  return out;
}
}  // namespace

TEST_CASE("gradcheck accepts a correct backward") {
  Tensor x = tensor({0.3, -1.2, 2.0});
  x.requires_grad_();
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& v) { return buggy_square(v[0], 0); }, {x});
  CHECK_MESSAGE(r.ok, r.message);
  CHECK_FALSE(x.grad().defined());  // the caller's tensors are left alone
}

TEST_CASE("gradcheck rejects a wrong backward and says where") {
  Tensor x = tensor({0.3, -1.2, 2.0});
  x.requires_grad_();
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& v) { return buggy_square(v[0], 1e-3); }, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("gradcheck: Jacobian mismatch for input 0 (shape [3]) at element 0, output element 0") == 0);
}

TEST_CASE("gradcheck checks only inputs that require grad, across several outputs") {
  Tensor a = tensor({{1, 2}, {3, 4}});
  Tensor b = tensor({{0.5, -1}, {2, 1}});
  a.requires_grad_();
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, {a, b});
  CHECK_MESSAGE(r.ok, r.message);
  CHECK_THROWS_WITH_AS(gradcheck([](const std::vector<Tensor>& v) { return v[0] * 2; }, {b}),
                       doctest::Contains("gradcheck: the function's output does not require grad"), Error);
}
