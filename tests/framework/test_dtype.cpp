// Tests for framework/dtype.hpp and the dtype side of framework/tensor.cpp: the four dtypes, creation with
// and without a dtype, literals, typed access and its errors, the default dtype, conversion with to(), and
// type promotion (detail::result_type) against the rules of torch.result_type. The promotion table as
// PyTorch computes it is also checked value by value in test_ops_vs_torch (fixtures).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

using namespace unroll;

namespace {
std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no exception)";
}

// Restores the default dtype when a test changes it.
struct DefaultDtypeScope {
  DType saved = get_default_dtype();
  ~DefaultDtypeScope() { set_default_dtype(saved); }
};
}  // namespace

TEST_CASE("the four dtypes: names, sizes, kinds") {
  CHECK(std::string(name(kBool)) == "bool");
  CHECK(std::string(name(kInt64)) == "int64");
  CHECK(std::string(name(kFloat32)) == "float32");
  CHECK(std::string(name(kFloat64)) == "float64");
  CHECK(element_size(kBool) == 1);
  CHECK(element_size(kInt64) == 8);
  CHECK(element_size(kFloat32) == 4);
  CHECK(element_size(kFloat64) == 8);
  CHECK(is_floating_point(kFloat32));
  CHECK(is_floating_point(kFloat64));
  CHECK(!is_floating_point(kInt64));
  CHECK(!is_floating_point(kBool));
  CHECK(dtype_of<float>() == kFloat32);
  CHECK(dtype_of<double>() == kFloat64);
  CHECK(dtype_of<int64_t>() == kInt64);
  CHECK(dtype_of<bool>() == kBool);
  // promote_types is PyTorch's for these four: the larger in bool < int64 < float32 < float64
  CHECK(promote_types(kBool, kInt64) == kInt64);
  CHECK(promote_types(kInt64, kFloat32) == kFloat32);
  CHECK(promote_types(kFloat64, kFloat32) == kFloat64);
  CHECK(promote_types(kBool, kBool) == kBool);
}

TEST_CASE("creation: default dtype, explicit dtypes, literals") {
  CHECK(zeros({2}).dtype() == kFloat32);
  CHECK(zeros({2}, kFloat64).dtype() == kFloat64);
  CHECK(ones({2}, kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, 1});
  CHECK(ones({2}, kBool).to_vector<bool>() == std::vector<bool>{true, true});
  CHECK(zeros({3}, kBool).to_vector<bool>() == std::vector<bool>{false, false, false});
  CHECK(full({2}, 7).dtype() == kInt64);
  CHECK(full({2}, 0.5).dtype() == kFloat32);
  CHECK(full({2}, true).dtype() == kBool);
  CHECK(full({2}, 2.5, kInt64).to_vector<int64_t>() == std::vector<int64_t>{2, 2});  // truncates, as .to()
  CHECK(scalar(3).dtype() == kInt64);
  CHECK(scalar(3).item<int64_t>() == 3);
  CHECK(scalar(2.5).dtype() == kFloat32);
  CHECK(arange(5).dtype() == kInt64);
  CHECK(arange(5).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(0.0, 1.0, 0.25).dtype() == kFloat32);
  CHECK(arange(2, 11, 3).to_vector<int64_t>() == std::vector<int64_t>{2, 5, 8});
  CHECK(arange(0, 3, 1, kFloat64).to_vector<double>() == std::vector<double>{0, 1, 2});
  CHECK(zeros_like(tensor({1, 2})).dtype() == kInt64);
  CHECK(ones_like(zeros({2}), kFloat64).dtype() == kFloat64);

  // integer literals are int64 (as Python ints in torch.tensor), floating ones the default dtype
  CHECK(tensor({3, 1, 4}).dtype() == kInt64);
  CHECK(tensor({0.5, 1.5}).dtype() == kFloat32);
  CHECK(tensor({1.5f}).dtype() == kFloat32);
  CHECK(tensor({true, false}).dtype() == kBool);
  CHECK(tensor({1, 2}, kFloat64).to_vector<double>() == std::vector<double>{1, 2});
  const Tensor column = tensor({{0}, {1}});  // the rows-of-one case that used to be ambiguous
  CHECK(column.shape() == Shape{2, 1});
  CHECK(column.dtype() == kInt64);
  CHECK(tensor({{0.5, 1.5}}).shape() == Shape{1, 2});
  CHECK(tensor(std::vector<int>{4, 5, 6}, {3}).dtype() == kInt64);
  CHECK(tensor(std::vector<double>{1, 2}, {2}, kFloat64).to_vector<double>() == std::vector<double>{1, 2});
  CHECK(tensor(std::vector<bool>{true, false}, {2}).to_vector<bool>() == std::vector<bool>{true, false});
  // int64 values beyond float32's 2^24 and double's 2^53 stay exact
  const int64_t big = (int64_t{1} << 60) + 1;
  CHECK(tensor(std::vector<int64_t>{big}, {1}).item<int64_t>() == big);
}

TEST_CASE("typed access checks the dtype") {
  Tensor ids = tensor({7, 8});
  CHECK(ids.data<int64_t>()[1] == 8);
  CHECK(ids.at<int64_t>({0}) == 7);
  CHECK(message([&] { ids.data<float>(); }) ==
        "Tensor::data: the tensor holds int64 values, but data<float>() reads float32 (use data<int64_t>(), or "
        "convert first with .to(kFloat32))");
  CHECK(message([&] { (void)zeros({1}, kFloat64).item(); }) ==
        "Tensor::data: the tensor holds float64 values, but data<float>() reads float32 (use data<double>(), or "
        "convert first with .to(kFloat32))");
  CHECK(message([&] { (void)tensor({true}).to_vector<int64_t>(); }).find("holds bool values") != std::string::npos);
  CHECK(zeros({2}).data_ptr() != nullptr);
}

TEST_CASE("printing shows the dtype unless float32") {
  CHECK(tensor({1, 2}).to_string() == "Tensor([1, 2], shape=[2], dtype=int64)");
  CHECK(tensor({true, false}).to_string() == "Tensor([true, false], shape=[2], dtype=bool)");
  CHECK(tensor({0.5}, kFloat64).to_string() == "Tensor([0.5], shape=[1], dtype=float64)");
  CHECK(tensor({0.5}).to_string() == "Tensor([0.5], shape=[1])");
}

TEST_CASE("to(): conversions as torch's .to()") {
  const Tensor x = tensor({-2.7, -0.5, 0.0, 0.5, 2.7});
  CHECK(x.to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{-2, 0, 0, 0, 2});  // truncation toward zero
  CHECK(x.to(kBool).to_vector<bool>() == std::vector<bool>{true, true, false, true, true});
  CHECK(tensor({true, false}).to(kFloat32).to_vector() == std::vector<float>{1, 0});
  CHECK(tensor({3}).to(kFloat64).item<double>() == 3.0);
  CHECK(x.to(kFloat32).impl() == x.impl());  // same dtype: the tensor itself
  // NaN and values outside int64's range are not undefined behaviour: INT64_MIN, as on x86
  const Tensor odd = tensor({std::nan(""), 1e30, -1e30});
  for (int64_t v : odd.to(kInt64).to_vector<int64_t>()) CHECK(v == std::numeric_limits<int64_t>::min());
  CHECK(tensor({std::nan("")}).to(kBool).item<bool>());
}

TEST_CASE("to() is differentiable between floating dtypes; gradients have their tensor's dtype") {
  Tensor w = tensor({1.5, -2.0});
  w.requires_grad_();
  const Tensor y = w.to(kFloat64) * tensor({2.0, 3.0}, kFloat64);  // float64
  CHECK(y.dtype() == kFloat64);
  sum(y).backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().dtype() == kFloat32);
  CHECK(w.grad().to_vector() == std::vector<float>{2, 3});
  // a float32 leaf in a float64 op (promotion) receives a float32 gradient
  Tensor a = ones({2});
  a.requires_grad_();
  sum(a * tensor({0.25, 0.5}, kFloat64)).backward();
  CHECK(a.grad().dtype() == kFloat32);
  CHECK(a.grad().to_vector() == std::vector<float>{0.25, 0.5});
  // an int64 copy is a constant
  CHECK(!w.to(kInt64).requires_grad());
}

TEST_CASE("only floating tensors can require grad") {
  CHECK(message([] {
          tensor({1, 2}).requires_grad_();
        }) == "requires_grad_: only tensors of a floating dtype can require gradients, this one is int64 (shape [2])");
  CHECK(message([] { tensor({true}).requires_grad_(); }).find("is bool") != std::string::npos);
  Tensor f = zeros({1}, kFloat64);
  f.requires_grad_();
  CHECK(f.requires_grad());
}

TEST_CASE("set_default_dtype changes what creation and floating numbers give") {
  DefaultDtypeScope restore;
  set_default_dtype(kFloat64);
  CHECK(zeros({1}).dtype() == kFloat64);
  CHECK(randn({2}).dtype() == kFloat64);
  CHECK(tensor({0.5}).dtype() == kFloat64);
  CHECK(tensor({1}).dtype() == kInt64);  // integers stay int64
  CHECK((tensor({1, 2}) * 0.5).dtype() == kFloat64);
  CHECK(message([] { set_default_dtype(kInt64); }) ==
        "set_default_dtype: only floating dtypes (float32, float64) can be the default, got int64");
}

TEST_CASE("type promotion follows torch.result_type") {
  const Tensor b = tensor({true, false}), i = tensor({1, 2}), f = tensor({1.5, 2.5}), d = tensor({1.5, 2.5}, kFloat64);
  // tensors with dimensions: the larger dtype
  CHECK((b + b).dtype() == kBool);
  CHECK((b + i).dtype() == kInt64);
  CHECK((i + f).dtype() == kFloat32);
  CHECK((f + d).dtype() == kFloat64);
  CHECK((i * d).dtype() == kFloat64);
  // C++ numbers: lift the kind, never the width
  CHECK((i * 2).dtype() == kInt64);
  CHECK((i * 0.5).dtype() == kFloat32);
  CHECK((f * 0.5).dtype() == kFloat32);
  CHECK((b + 1).dtype() == kInt64);
  CHECK((b * 2.5).dtype() == kFloat32);
  CHECK((f + true).dtype() == kFloat32);
  // rank-0 tensors: lift the kind; a floating rank-0 tensor brings its own width to an integer tensor
  CHECK((f + scalar(1.0, kFloat64)).dtype() == kFloat32);
  CHECK((i + scalar(1.0, kFloat64)).dtype() == kFloat64);
  CHECK((i + scalar(1.5)).dtype() == kFloat32);
  CHECK((b + scalar(3)).dtype() == kInt64);
  CHECK((i + scalar(true)).dtype() == kInt64);
  CHECK((f + scalar(3)).dtype() == kFloat32);
  // two rank-0 tensors promote as tensors
  CHECK((scalar(1.0, kFloat64) + scalar(1.0)).dtype() == kFloat64);
  // true division of integers is floating
  CHECK((i / i).dtype() == kFloat32);
  CHECK((i / i).to_vector() == std::vector<float>{1, 1});
  CHECK((i / 2).to_vector() == std::vector<float>{0.5, 1});
  // int64 arithmetic is exact and wraps instead of overflowing (no undefined behaviour)
  const int64_t max = std::numeric_limits<int64_t>::max();
  CHECK((tensor(std::vector<int64_t>{max}, {1}) + 1).item<int64_t>() == std::numeric_limits<int64_t>::min());
  CHECK((tensor({3, 4}) * tensor({5, 6})).to_vector<int64_t>() == std::vector<int64_t>{15, 24});
  // bool arithmetic: + is or, * is and; - is refused as in PyTorch
  CHECK((b + tensor({false, false})).to_vector<bool>() == std::vector<bool>{true, false});
  CHECK((b * tensor({true, true})).to_vector<bool>() == std::vector<bool>{true, false});
  CHECK(message([&] { (void)(b - b); }) ==
        "sub: subtraction of two bool tensors is not supported (shapes [2] and [2]); use logical_xor");
  CHECK(message([&] { (void)(-b); }) == "neg: not supported for bool tensors");
}
