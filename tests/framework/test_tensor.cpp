// Tests for framework/tensor.cpp and framework/shape.cpp: creation, value access, printing, errors.
#include <doctest/doctest.h>

#include <sstream>
#include <unroll/unroll.hpp>

using namespace unroll;

TEST_CASE("creation functions fill shape and values") {
  const Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.dim() == 2);
  for (real v : z.to_vector()) CHECK(v == 0);
  for (real v : ones({4}).to_vector()) CHECK(v == 1);
  for (real v : full({2, 2}, 7.5).to_vector()) CHECK(v == 7.5);
  CHECK(scalar(3).dim() == 0);
  CHECK(scalar(3).item() == 3);
  CHECK(arange(5).to_vector() == std::vector<real>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25).to_vector() == std::vector<real>{1, 1.25, 1.5, 1.75});
  CHECK(arange(3, 1, 1).numel() == 0);
}

TEST_CASE("tensor() from values, nested rows and at()") {
  const Tensor m = tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(m.shape() == Shape{2, 3});
  CHECK(m.at({1, 2}) == 6);
  CHECK(m.at({-1, 0}) == 4);
  CHECK(m.size(-1) == 3);
  const Tensor v = tensor(std::vector<real>{1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK(v.at({2, 1}) == 6);
  CHECK_THROWS_WITH_AS(tensor(std::vector<real>{1, 2, 3}, {2, 2}), "tensor: 3 values do not fill shape [2, 2] (4 elements)",
                       Error);
  CHECK_THROWS_WITH_AS(tensor({{1, 2}, {3}}), "tensor: rows have different lengths (2 and 1)", Error);
  CHECK_THROWS_WITH_AS(m.at({2, 0}), "at: index 2 is out of range for axis 0 of shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(m.item(), "item: a tensor of shape [2, 3] has 6 elements, not one", Error);
  CHECK_THROWS_WITH_AS(m.size(2), "size: axis 2 is out of range for a tensor of shape [2, 3]", Error);
}

TEST_CASE("printing shows values, shape and history") {
  std::ostringstream os;
  os << tensor({{1, 2}, {3, 4.5}});
  CHECK(os.str() == "Tensor([[1, 2],\n [3, 4.5]], shape=[2, 2])");
  Tensor w = ones({2});
  w.requires_grad_();
  CHECK(w.to_string() == "Tensor([1, 1], shape=[2], requires_grad)");
  CHECK(tanh(w).to_string().find("grad_fn=tanh") != std::string::npos);
  CHECK(Tensor().to_string() == "Tensor(undefined)");
}

TEST_CASE("Shape is inline, comparable and printable") {
  Shape s{4, 7};
  CHECK(to_string(s) == "[4, 7]");
  CHECK(s.numel() == 28);
  s.insert(0, 2);
  CHECK(s == Shape{2, 4, 7});
  s.erase(1);
  CHECK(s == Shape{2, 7});
  CHECK(to_string(Shape{}) == "[]");
  CHECK_THROWS_AS(Shape({1, 1, 1, 1, 1, 1, 1, 1, 1}), Error);
}

TEST_CASE("random creation is reproducible under a seed and has the right moments") {
  Generator a(42), b(42), c(43);
  const Tensor x = randn({1000}, a), y = randn({1000}, b), z = randn({1000}, c);
  CHECK(x.to_vector() == y.to_vector());
  CHECK(x.to_vector() != z.to_vector());
  const real m = mean(x).item();
  CHECK(std::abs(m) < 0.1);
  CHECK(std::abs(mean(x * x).item() - 1) < 0.15);
  const Tensor u = uniform({1000}, -2, 3, a);
  for (real v : u.to_vector()) CHECK((v >= -2 && v < 3));
  CHECK(std::abs(mean(u).item() - 0.5) < 0.15);
  manual_seed(7);
  const Tensor r1 = rand({5});
  manual_seed(7);
  CHECK(rand({5}).to_vector() == r1.to_vector());
  Generator copy = a;  // copying a generator copies its state
  CHECK(rand({3}, copy).to_vector() == rand({3}, a).to_vector());
}

TEST_CASE("absurd sizes are refused with Error before anything is allocated") {
  const int64_t buffers = live_buffer_count();
  constexpr int64_t big = int64_t{1} << 40;
  CHECK_THROWS_WITH_AS(zeros({big, big}), doctest::Contains("empty: shape [1099511627776, 1099511627776] is too large"),
                       Error);
  CHECK_THROWS_AS(ones({INT64_MAX}), Error);
  CHECK_THROWS_AS(empty({int64_t{1} << 32, int64_t{1} << 32}), Error);  // the element count wraps to 0 in int64
  CHECK_THROWS_AS(full({2, 3, int64_t{1} << 62}, 1), Error);
  CHECK_THROWS_AS(randn({big}), Error);
  CHECK_THROWS_AS(tensor({1, 2}, {big, big}), Error);
  CHECK_THROWS_AS(arange(0, 1e30f), Error);
  CHECK_THROWS_WITH_AS(zeros({2, -1}), "empty: negative dimension in shape [2, -1]", Error);
  // a zero-size axis makes an empty tensor, whatever the other axes say, as long as they are sane
  CHECK(zeros({0, 1000000}).numel() == 0);
  CHECK_THROWS_AS(zeros({0, big, big}), Error);
  CHECK(live_buffer_count() == buffers);
}
