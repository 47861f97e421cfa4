// Tests for layers/sequential.hpp: chaining, PyTorch's "0.weight" names, access, a module added twice,
// train/eval reaching the children, printing, errors.
#include <doctest/doctest.h>

#include <memory>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

namespace {

std::vector<std::string> names(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, _] : m.named_parameters()) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("Sequential chains its modules and names parameters like PyTorch") {
  manual_seed(0);
  auto fc1 = std::make_shared<Linear>(LinearOptions{.in_features = 4, .out_features = 8});
  auto fc2 = std::make_shared<Linear>(LinearOptions{.in_features = 8, .out_features = 2});
  Sequential net{fc1, std::make_shared<Tanh>(), fc2};
  CHECK(net.size() == 3);
  CHECK(names(net) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(net.num_parameters() == 4 * 8 + 8 + 8 * 2 + 2);

  const Tensor x = randn({5, 4});
  const Tensor y = net(x);
  CHECK(y.shape() == Shape{5, 2});
  CHECK(y.to_vector() == (*fc2)(tanh((*fc1)(x))).to_vector());

  CHECK(&net[0] == fc1.get());
  CHECK(net.ptr(2) == fc2);
  CHECK(&net.at<Linear>(2) == fc2.get());
  CHECK(net[1].describe() == "Tanh()");
  int count = 0;
  for (const auto& m : net) count += m != nullptr;
  CHECK(count == 3);
}

TEST_CASE("Sequential push_back and emplace") {
  Sequential net;
  CHECK(net.empty());
  const Tensor x = tensor({1.0, -2.0});
  CHECK(net(x).to_vector() == x.to_vector());  // empty: identity
  Linear& fc = net.emplace<Linear>(LinearOptions{.in_features = 2, .out_features = 3});
  net.push_back(std::make_shared<ReLU>());
  net.emplace<Dropout>(0.5);
  CHECK(net.size() == 3);
  CHECK(&net.at<Linear>(0) == &fc);
  CHECK(names(net) == std::vector<std::string>{"0.weight", "0.bias"});
  net.eval();
  CHECK(net(x).to_vector() == relu(fc(x)).to_vector());
}

TEST_CASE("Sequential: a module added twice shares its parameters") {
  auto fc = std::make_shared<Linear>(LinearOptions{.in_features = 3, .out_features = 3});
  Sequential net{fc, std::make_shared<Tanh>(), fc};
  CHECK(names(net) == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(net.num_parameters() == 12);
  Tensor x = ones({1, 3});
  net(x).sum().backward();
  CHECK(fc->weight.grad().defined());
}

TEST_CASE("Sequential train/eval reaches the children; state_dict round trip; printing") {
  Sequential net{std::make_shared<Linear>(LinearOptions{.in_features = 2, .out_features = 2}),
                 std::make_shared<Dropout>(0.5)};
  net.eval();
  CHECK_FALSE(net[1].is_training());
  net.train();
  CHECK(net[1].is_training());

  Sequential copy{std::make_shared<Linear>(LinearOptions{.in_features = 2, .out_features = 2}),
                  std::make_shared<Dropout>(0.5)};
  copy.load_state_dict(net.state_dict());
  CHECK(copy.at<Linear>(0).weight.to_vector() == net.at<Linear>(0).weight.to_vector());

  CHECK(net.to_string() ==
        "Sequential()  [6 parameters]\n"
        "  (0): Linear(in_features=2, out_features=2, bias=true)  [6 parameters]\n"
        "    weight: [2, 2]\n"
        "    bias: [2]\n"
        "  (1): Dropout(p=0.5)  [0 parameters]\n");
}

TEST_CASE("Sequential errors") {
  Sequential net{std::make_shared<Tanh>()};
  CHECK_THROWS_WITH_AS(net[1], "Sequential: index 1 is out of range for 1 modules", Error);
  CHECK_THROWS_WITH_AS(net.at<Linear>(0), "Sequential::at: module 0 is Tanh(), not the requested type", Error);
  CHECK_THROWS_WITH_AS(net.push_back(nullptr), "Sequential::push_back: module 1 is null", Error);
}
