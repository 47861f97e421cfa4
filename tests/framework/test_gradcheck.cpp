// Tests for framework/gradcheck.cpp: it passes correct gradients and, crucially, catches wrong ones. It works
// in float64 (as torch.autograd.gradcheck): inputs that require grad must be float64, float32 constants may
// come along.
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
// square(x) = x^2 whose recorded backward is deliberately off by `error` (a user's buggy op); float64 x.
Tensor buggy_square(const Tensor& x, double error) {
  Tensor out = mul(x.detach(), x.detach());
  if (should_record({&x}))
    record(out, "buggy_square", {x}, [error](BackwardContext& c) {
      Tensor g = empty(c.input(0).shape, kFloat64);
      for (int64_t i = 0; i < g.numel(); ++i)
        g.data<double>()[i] = c.grad_output().data<double>()[i] * (2 * c.input(0).data<double>()[i] + error);
      c.add_grad(0, g);
    });
  return out;
}

Tensor leaf(const Tensor& t) {
  Tensor copy = clone(t);
  copy.requires_grad_();
  return copy;
}
}  // namespace

TEST_CASE("gradcheck accepts a correct backward") {
  Tensor x = leaf(tensor({0.3, -1.2, 2.0}, kFloat64));
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& v) { return buggy_square(v[0], 0); }, {x});
  CHECK_MESSAGE(r.ok, r.message);
  CHECK_FALSE(x.grad().defined());  // the caller's tensors are left alone
}

TEST_CASE("gradcheck rejects a wrong backward and says where") {
  Tensor x = leaf(tensor({0.3, -1.2, 2.0}, kFloat64));
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& v) { return buggy_square(v[0], 1e-3); }, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("gradcheck: Jacobian mismatch for input 0 (shape [3]) at element 0, output element 0") == 0);
}

TEST_CASE("gradcheck checks only inputs that require grad, across several outputs") {
  Tensor a = leaf(tensor({{1.0, 2.0}, {3.0, 4.0}}, kFloat64));
  Tensor b = tensor({{0.5, -1.0}, {2.0, 1.0}}, kFloat64);
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, {a, b});
  CHECK_MESSAGE(r.ok, r.message);
  CHECK_THROWS_WITH_AS(gradcheck([](const std::vector<Tensor>& v) { return v[0] * 2; }, {b}),
                       doctest::Contains("gradcheck: the function's output does not require grad"), Error);
}

TEST_CASE("gradcheck refuses a float32 input that requires grad, naming it") {
  Tensor d = leaf(tensor({0.5, 1.5}, kFloat64));
  Tensor f = leaf(tensor({{0.3, -1.2, 2.0}}));  // float32, [1, 3]
  CHECK_THROWS_WITH_AS(gradcheck([](const std::vector<Tensor>& v) { return sum(v[1]) * v[0]; }, {d, f}),
                       "gradcheck: input 1 (shape [1, 3]) is float32; finite differences need float64 inputs, as "
                       "torch.autograd.gradcheck: pass x.to(kFloat64) (a module: module.to(kFloat64))",
                       Error);
  CHECK_FALSE(d.grad().defined());  // refused before anything ran
  // the fix the message suggests works
  const Tensor f64 = leaf(f.detach().to(kFloat64));
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& v) { return sum(v[1]) * v[0]; }, {d, f64});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("float32 constants that require no grad may join float64 inputs (they promote)") {
  Tensor x = leaf(tensor({0.3, -1.2, 2.0}, kFloat64));
  const Tensor scale = tensor({0.5, 2.0, -3.0});  // float32, no grad: a constant of the function
  const GradcheckResult r = gradcheck(
      [scale](const std::vector<Tensor>& v) {
        const Tensor y = tanh(v[0] * scale) + v[1];  // float64 * float32 -> float64
        CHECK(y.dtype() == kFloat64);
        return y;
      },
      {x, tensor({1.0, 1.0, 1.0})});
  CHECK_MESSAGE(r.ok, r.message);
  // and a wrong backward is still caught with a float32 constant in the mix
  const GradcheckResult bad =
      gradcheck([scale](const std::vector<Tensor>& v) { return buggy_square(v[0], 1e-2) * scale; }, {x});
  CHECK_FALSE(bad.ok);
}
