// Tests for framework/ops/inplace.cpp: the in-place Tensor methods (fill_, zero_, copy_, add_, mul_,
// clamp_), their dtype rules, the version counter, the refusal of tensors that require grad while grad mode
// is on, and backward's refusal to use a value an in-place op changed after the graph recorded it.
#include <doctest/doctest.h>

#include <unroll/unroll.hpp>

using namespace unroll;

namespace {
using F = std::vector<float>;
using I = std::vector<int64_t>;
}  // namespace

TEST_CASE("in-place ops overwrite the buffer, every view of it, and return the tensor") {
  Tensor x = tensor({{1.0, 2.0}, {3.0, 4.0}});
  const Tensor view = x.reshape({4});
  CHECK(&x.add_(1) == &x);
  CHECK(view.to_vector() == F{2, 3, 4, 5});
  x.mul_(tensor({1.0, 10.0}));  // broadcast [2] over [2, 2]
  CHECK(x.to_vector() == F{2, 30, 4, 50});
  x.add_(tensor({{1.0}, {2.0}}), -2);  // x += -2 * other, other [2, 1]
  CHECK(x.to_vector() == F{0, 28, 0, 46});
  x.clamp_(1, 30);
  CHECK(x.to_vector() == F{1, 28, 1, 30});
  x.copy_(tensor({7, 8}));  // int64 source, broadcast, converted
  CHECK(x.to_vector() == F{7, 8, 7, 8});
  x.fill_(0.5).mul_(4);
  CHECK(x.to_vector() == F{2, 2, 2, 2});
  x.zero_();
  CHECK(x.to_vector() == F{0, 0, 0, 0});
  const Tensor d = x.detach();  // shares the buffer
  d.fill_(3);
  CHECK(x.to_vector() == F{3, 3, 3, 3});
  x.add_(x);  // reading and writing the same buffer
  CHECK(x.to_vector() == F{6, 6, 6, 6});
  x.copy_(x.reshape({4}).detach().reshape({2, 2}));
  CHECK(x.to_vector() == F{6, 6, 6, 6});
}

TEST_CASE("in-place results keep the tensor's dtype; a wider kind is refused, as PyTorch") {
  Tensor f = tensor({1.0, 2.0});
  f.add_(tensor({0.5, 1.0}, kFloat64));  // computed in float64, stored as float32
  CHECK(f.dtype() == kFloat32);
  CHECK(f.to_vector() == F{1.5, 3});
  Tensor i = tensor({1, 2});
  i.add_(tensor({3, 4}), 2);
  CHECK(i.to_vector<int64_t>() == I{7, 10});
  i.copy_(tensor({1.7, -2.7}));  // copy_ converts anything: truncation toward zero
  CHECK(i.to_vector<int64_t>() == I{1, -2});
  i.fill_(2.7);  // so does fill_
  CHECK(i.to_vector<int64_t>() == I{2, 2});
  CHECK_THROWS_WITH_AS(i.add_(tensor({0.5, 1.0})),
                       "add_: result type float32 can't be cast to the desired output type int64 (tensor of shape [2])",
                       Error);
  CHECK_THROWS_WITH_AS(i.mul_(0.5), "mul_: result type float32 can't be cast to the desired output type int64 (tensor "
                                    "of shape [2])",
                       Error);
  CHECK_THROWS_WITH_AS(i.clamp_(0.5, 1.5), doctest::Contains("clamp_: result type float32 can't be cast"), Error);
  CHECK_THROWS_WITH_AS(i.add_(tensor({1, 1}), 0.5),
                       "add_: for integral tensors, alpha must not be a floating point number (got 0.5, tensor of shape "
                       "[2])",
                       Error);
  Tensor b = tensor({true, false});
  b.add_(tensor({false, true}));  // bool + bool is logical or
  CHECK(b.to_vector<bool>() == std::vector<bool>{true, true});
  CHECK_THROWS_WITH_AS(b.add_(tensor({1, 0})), doctest::Contains("add_: result type int64 can't be cast"), Error);
  CHECK_THROWS_WITH_AS(f.add_(zeros({2, 2})), "add_: output with shape [2] doesn't match the broadcast shape [2, 2]",
                       Error);
  CHECK_THROWS_WITH_AS(f.copy_(zeros({3})), "copy_: shapes [2] and [3] cannot be broadcast together", Error);
  CHECK_THROWS_WITH_AS(f.clamp_(2, 1), "clamp_: min 2 is greater than max 1 (tensor of shape [2])", Error);
  CHECK_THROWS_WITH_AS(Tensor().fill_(1), doctest::Contains("Tensor::fill_: the tensor is undefined"), Error);
  CHECK_THROWS_WITH_AS(f.add_(Tensor()), "add_: argument 2 is an undefined tensor (a default-constructed Tensor() has "
                                         "no value)",
                       Error);
}

TEST_CASE("version() counts in-place modifications of the buffer, shared by its views") {
  Tensor x = zeros({3});
  CHECK(x.version() == 0);
  x.add_(1);
  CHECK(x.version() == 1);
  x.detach().mul_(2);  // as torch: t.detach() shares the version counter
  CHECK(x.version() == 2);
  CHECK(x.reshape({1, 3}).version() == 2);
  CHECK(clone(x).version() == 0);
  x.data<float>()[0] = 5;  // a write through data<T>() is outside the mechanism
  CHECK(x.version() == 2);
}

TEST_CASE("with grad mode on, a tensor that requires grad (written or read) is refused") {
  Tensor w = ones({2, 2});
  w.requires_grad_();
  CHECK_THROWS_WITH_AS(w.add_(1),
                       "add_: in-place ops are not recorded in the graph, and this tensor of shape [2, 2] requires grad; "
                       "run it under NoGradGuard (as optimizer updates do), or use the out-of-place op",
                       Error);
  Tensor plain = zeros({2, 2});
  CHECK_THROWS_WITH_AS(plain.copy_(w * 2), doctest::Contains("copy_: in-place ops are not recorded in the graph, and the "
                                                             "argument of shape [2, 2] requires grad"),
                       Error);
  CHECK(plain.version() == 0);  // refused before anything was written
  {
    NoGradGuard no_grad;  // an update, as an optimizer makes it
    w.add_(w.detach(), -0.5);
    plain.copy_(w);
  }
  CHECK(w.to_vector() == F{0.5, 0.5, 0.5, 0.5});
  CHECK(plain.to_vector() == F{0.5, 0.5, 0.5, 0.5});
}

TEST_CASE("backward refuses a node whose input or output was modified in place after it was recorded") {
  Tensor w = tensor({1.0, 2.0, 3.0});
  w.requires_grad_();
  // exp saves its output, mul its inputs: modifying either after recording would change the gradient
  Tensor y = exp(w);
  Tensor loss = sum(y * w);
  {
    NoGradGuard no_grad;
    w.mul_(2);
  }
  CHECK_THROWS_WITH_AS(loss.backward(),
                       "backward: input 1 of 'mul' (float32 tensor of shape [3]) was modified in place by mul_ after 'mul' "
                       "recorded it (it is at version 1); the values its gradient needs are gone. Modify a clone() "
                       "instead, or call backward() first",
                       Error);
  CHECK_FALSE(w.grad().defined());
  // the output: exp's backward reads exp(w), here modified through y
  Tensor v = tensor({0.5, 1.0});
  v.requires_grad_();
  Tensor e = exp(v);
  {
    NoGradGuard no_grad;
    e.zero_();
  }
  CHECK_THROWS_WITH_AS(e.backward(ones({2})), doctest::Contains("backward: the output of 'exp' (float32 tensor of shape "
                                                                "[2]) was modified in place by zero_"),
                       Error);
  // modifications before recording, and after backward, are fine
  Tensor u = tensor({1.0, 2.0});
  u.requires_grad_();
  {
    NoGradGuard no_grad;
    u.mul_(3);
  }
  Tensor z = sum(u * u);
  z.backward();
  CHECK(u.grad().to_vector() == F{6, 12});
  {
    NoGradGuard no_grad;
    u.add_(u.grad(), -0.25);  // an SGD step by hand
  }
  CHECK(u.to_vector() == F{1.5, 3});
}

TEST_CASE("optimizers keep working: they write through data<T>(), outside the version mechanism") {
  Tensor w = tensor({1.0, -1.0});
  w.requires_grad_();
  optim::SGD sgd({w}, {.lr = 0.5});
  sum(w * w).backward();
  sgd.step();
  CHECK(w.to_vector() == F{0, 0});
  CHECK(w.version() == 0);
}
