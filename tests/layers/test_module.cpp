// Tests for layers/module.cpp: registration and dotted names, shared parameters, zero_grad, train/eval,
// state_dict / load_state_dict (round trip, exact error messages, nothing changes on a failed load, dtype
// conversion), Module::to (in place, seen by every handle) and the printed tree.
#include <doctest/doctest.h>

#include <sstream>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::layers;

namespace {

using V = std::vector<real>;

// A leaf module with two parameters; `shared` (when given) is registered as its "w" instead of a new one.
class Leaf : public UnaryModule {
 public:
  explicit Leaf(int64_t n, Tensor shared = Tensor()) {
    w = register_parameter("w", shared.defined() ? shared : full({n, 2}, 0.5));
    b = register_parameter("b", zeros({n}));
  }
  Tensor forward(const Tensor& x) override { return linear(x, w, b); }  // x: [N, 2] -> [N, n]
  std::string describe() const override { return "Leaf()"; }
  Tensor w, b;
};

class Block : public Module {
 public:
  Block() {
    gate = register_parameter("gate", ones({3}));
    register_module("inner", inner);
  }
  std::string describe() const override { return "Block()"; }
  Tensor gate;
  Leaf inner{3};
};

// Net: scale [1], block.gate [3], block.inner.w [3, 2], block.inner.b [3], head.weight [2, 3], head.bias [2]
class Net : public Module {
 public:
  Net() {
    scale = register_parameter("scale", ones({1}));
    register_module("block", block);
    register_module("head", head);
  }
  std::string describe() const override { return "Net()"; }
  Tensor forward(const Tensor& x) {  // x: [N, 2] -> [N, 2]
    return head(block.inner(x) * block.gate) * scale;
  }
  Tensor scale;
  Block block;
  Linear head{{.in_features = 3, .out_features = 2}};
  Dropout drop{0.5};  // not registered: train/eval must not reach it
};

// Two leaves sharing one weight (tied weights): `second.w` is `first.w`.
class Tied : public Module {
 public:
  Tied() {
    register_module("first", first);
    register_module("second", second);
  }
  std::string describe() const override { return "Tied()"; }
  Leaf first{2};
  Leaf second{2, first.w};
};

std::vector<std::string> names(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, _] : m.named_parameters()) out.push_back(name);
  return out;
}

// Distinct values in every parameter, so a copy is visible.
void fill_distinct(Module& m, real offset) {
  real v = offset;
  for (Tensor p : m.parameters())
    for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] = v++;
}

std::map<std::string, Tensor> cloned_state(const Module& m) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : m.state_dict()) out.emplace(name, clone(t));
  return out;
}

bool same_values(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a)
    if (!b.count(name) || b.at(name).to_vector() != t.to_vector()) return false;
  return true;
}

}  // namespace

TEST_CASE("named_parameters gives dotted names in registration order") {
  Net net;
  CHECK(names(net) ==
        std::vector<std::string>{"scale", "block.gate", "block.inner.w", "block.inner.b", "head.weight", "head.bias"});
  CHECK(net.parameters().size() == 6);
  CHECK(net.num_parameters() == 1 + 3 + 6 + 3 + 6 + 2);
  for (const Tensor& p : net.parameters()) {
    CHECK(p.requires_grad());
    CHECK(p.is_leaf());
  }
  // the registered handles are the members: same storage
  CHECK(net.named_parameters()[2].second.impl() == net.block.inner.w.impl());
  CHECK(names(net.block) == std::vector<std::string>{"gate", "inner.w", "inner.b"});
}

TEST_CASE("a parameter shared by two submodules is listed and counted once") {
  Tied tied;
  CHECK(names(tied) == std::vector<std::string>{"first.w", "first.b", "second.b"});
  CHECK(tied.num_parameters() == 4 + 2 + 2);
  CHECK(tied.state_dict().size() == 3);
  // both uses accumulate into the one weight
  const Tensor x = tensor({{1.0, 2.0}});
  (tied.first(x).sum() + tied.second(x).sum()).backward();
  CHECK(tied.first.w.grad().to_vector() == V{2, 4, 2, 4});
  CHECK(tied.second.w.grad().impl() == tied.first.w.grad().impl());
}

TEST_CASE("registration errors") {
  class Dup : public Module {
   public:
    Dup() {
      register_parameter("w", ones({1}));
      register_parameter("w", ones({1}));
    }
    std::string describe() const override { return "Dup()"; }
  };
  class Dotted : public Module {
   public:
    Dotted() { register_parameter("a.b", ones({1})); }
    std::string describe() const override { return "Dotted()"; }
  };
  CHECK_THROWS_WITH_AS(Dup(), "register_parameter: 'w' is already registered", Error);
  CHECK_THROWS_WITH_AS(Dotted(), "register_parameter: name 'a.b' must not contain '.'", Error);
}

TEST_CASE("zero_grad drops every gradient, in submodules too") {
  Net net;
  net.forward(tensor({{1.0, 2.0}, {3.0, 4.0}})).sum().backward();
  for (const Tensor& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("train() and eval() reach every registered submodule") {
  Net net;
  CHECK(net.is_training());
  CHECK(net.block.inner.is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.block.is_training());
  CHECK_FALSE(net.block.inner.is_training());
  CHECK_FALSE(net.head.is_training());
  CHECK(net.drop.is_training());  // a member that was never registered is not part of the tree
  net.train();
  CHECK(net.block.inner.is_training());
  net.block.eval();  // a subtree alone
  CHECK(net.is_training());
  CHECK_FALSE(net.block.inner.is_training());
}

TEST_CASE("state_dict: detached handles on the parameters' buffers") {
  Net net;
  const auto state = net.state_dict();
  CHECK(state.size() == 6);
  for (const auto& [name, p] : net.named_parameters()) {
    REQUIRE(state.count(name) == 1);
    CHECK_FALSE(state.at(name).requires_grad());
    CHECK(state.at(name).data() == p.data());
  }
}

TEST_CASE("state_dict -> load_state_dict round trip") {
  Net a, b;
  fill_distinct(a, 1);
  fill_distinct(b, 100);
  b.load_state_dict(a.state_dict());
  CHECK(same_values(cloned_state(a), cloned_state(b)));
  CHECK(b.head.weight.to_vector() == a.head.weight.to_vector());
  // values were copied, not aliased
  CHECK(b.head.weight.data() != a.head.weight.data());
  a.head.weight.data()[0] = -7;
  CHECK(b.head.weight.to_vector()[0] != -7);
  // the same outputs
  const Tensor x = tensor({{0.5, -1.0}});
  CHECK(a.forward(x).to_vector() != b.forward(x).to_vector());
  b.load_state_dict(a.state_dict());
  CHECK(a.forward(x).to_vector() == b.forward(x).to_vector());
  // loading a module's own state is a no-op
  const auto before = cloned_state(b);
  b.load_state_dict(b.state_dict());
  CHECK(same_values(before, cloned_state(b)));
  // parameters keep requiring grad
  for (const Tensor& p : b.parameters()) CHECK(p.requires_grad());
}

TEST_CASE("load_state_dict errors name the entry, and a failed load changes nothing") {
  Net net, other;
  fill_distinct(net, 1);
  fill_distinct(other, 50);
  const auto before = cloned_state(net);

  SUBCASE("missing entry") {
    auto state = cloned_state(other);
    state.erase("head.bias");
    CHECK_THROWS_WITH_AS(net.load_state_dict(state),
                         "load_state_dict: missing entry 'head.bias' (expected shape [2]) for Net()", Error);
  }
  SUBCASE("unexpected entry") {
    auto state = cloned_state(other);
    state.emplace("head.extra", zeros({2}));
    CHECK_THROWS_WITH_AS(net.load_state_dict(state), "load_state_dict: unexpected entry 'head.extra' for Net()", Error);
  }
  SUBCASE("unexpected entry replacing a missing one") {
    auto state = cloned_state(other);
    state.erase("scale");
    state.emplace("scales", ones({1}));
    CHECK_THROWS_WITH_AS(net.load_state_dict(state),
                         "load_state_dict: missing entry 'scale' (expected shape [1]) for Net()", Error);
  }
  SUBCASE("wrong shape, in the last parameter") {
    auto state = cloned_state(other);
    state["head.bias"] = zeros({3});
    CHECK_THROWS_WITH_AS(net.load_state_dict(state),
                         "load_state_dict: entry 'head.bias' has shape [3] but the parameter has shape [2]", Error);
  }
  SUBCASE("wrong shape, same number of elements") {
    auto state = cloned_state(other);
    state["head.weight"] = zeros({3, 2});
    CHECK_THROWS_WITH_AS(net.load_state_dict(state),
                         "load_state_dict: entry 'head.weight' has shape [3, 2] but the parameter has shape [2, 3]",
                         Error);
  }
  SUBCASE("an int64 entry of the right shape") {
    auto state = cloned_state(other);
    state["head.bias"] = tensor({1, 2});
    CHECK_THROWS_WITH_AS(net.load_state_dict(state),
                         "load_state_dict: entry 'head.bias' is int64 but the parameter is float32", Error);
  }
  SUBCASE("a bool entry") {
    auto state = cloned_state(other);
    state["scale"] = tensor({true});
    CHECK_THROWS_WITH_AS(net.load_state_dict(state),
                         "load_state_dict: entry 'scale' is bool but the parameter is float32", Error);
  }
  SUBCASE("undefined entry") {
    auto state = cloned_state(other);
    state["block.gate"] = Tensor();
    CHECK_THROWS_WITH_AS(net.load_state_dict(state),
                         "load_state_dict: entry 'block.gate' has shape [] but the parameter has shape [3]", Error);
  }
  // every entry before the bad one was valid and different: none of them may have been copied
  CHECK(same_values(before, cloned_state(net)));
}

TEST_CASE("load_state_dict converts floating entries to the parameter's dtype, as torch's copy_") {
  Net a, b;
  fill_distinct(a, 0.25);
  std::map<std::string, Tensor> wide;
  for (const auto& [name, t] : a.state_dict()) wide.emplace(name, t.to(kFloat64) + 1e-12);  // not a float32 value
  b.load_state_dict(wide);
  for (const auto& [name, p] : b.named_parameters()) {
    CHECK(p.dtype() == kFloat32);
    CHECK(p.to_vector() == wide.at(name).to(kFloat32).to_vector());  // rounded once, to nearest
  }
  CHECK(same_values(cloned_state(a), cloned_state(b)));  // 1e-12 is below float32's resolution here
  // and into a float64 module, float32 entries widen exactly
  Net c;
  c.to(kFloat64);
  c.load_state_dict(a.state_dict());
  for (const auto& [name, p] : c.named_parameters()) {
    CHECK(p.dtype() == kFloat64);
    CHECK(p.to_vector<double>() == a.state_dict().at(name).to(kFloat64).to_vector<double>());
  }
}

TEST_CASE("Module::to converts every parameter and gradient in place; every handle sees it") {
  Net net;
  fill_distinct(net, 1);
  const auto before = cloned_state(net);
  net.forward(tensor({{1.0, 2.0}, {3.0, 4.0}})).sum().backward();
  std::map<std::string, std::vector<double>> grads;
  for (const auto& [name, p] : net.named_parameters()) grads[name] = p.grad().to(kFloat64).to_vector<double>();
  const Tensor held = net.head.weight;  // a handle held elsewhere, as an optimizer holds its parameters
  optim::SGD sgd(net.parameters(), {.lr = 0.5});
  const TensorImpl* impl = net.head.weight.impl();

  CHECK(&net.to(kFloat64) == &net);
  for (const auto& [name, p] : net.named_parameters()) {
    CAPTURE(name);
    CHECK(p.dtype() == kFloat64);
    CHECK(p.requires_grad());
    CHECK(p.is_leaf());
    CHECK(p.to_vector<double>() == before.at(name).to(kFloat64).to_vector<double>());  // the same values
    REQUIRE(p.grad().defined());
    CHECK(p.grad().dtype() == kFloat64);
    CHECK(p.grad().to_vector<double>() == grads.at(name));
  }
  CHECK(net.head.weight.impl() == impl);  // the same tensor, not a new one
  CHECK(held.dtype() == kFloat64);
  CHECK(held.to_vector<double>() == net.head.weight.to_vector<double>());
  for (const Tensor& p : sgd.parameters()) CHECK(p.dtype() == kFloat64);
  CHECK(net.block.inner.w.dtype() == kFloat64);  // members of submodules too

  // the model computes in float64, and the optimizer's step writes float64 values into the same parameters
  const Tensor y = net.forward(tensor({{1.0, 2.0}}, kFloat64));
  CHECK(y.dtype() == kFloat64);
  const std::vector<double> w0 = held.to_vector<double>(), g0 = held.grad().to_vector<double>();
  sgd.step();
  const std::vector<double> w1 = net.head.weight.to_vector<double>();
  REQUIRE(w1.size() == w0.size());
  for (size_t k = 0; k < w1.size(); ++k) CHECK(w1[k] == doctest::Approx(w0[k] - 0.5 * g0[k]).epsilon(1e-15));

  // a tied weight is converted once and stays shared
  Tied tied;
  tied.to(kFloat64);
  CHECK(tied.second.w.impl() == tied.first.w.impl());
  CHECK(tied.second.w.dtype() == kFloat64);

  // back to float32: float64 -> float32 rounds
  net.to(kFloat32);
  for (const Tensor& p : net.parameters()) CHECK(p.dtype() == kFloat32);
  CHECK(held.to_vector() == net.head.weight.to_vector());
  CHECK_THROWS_WITH_AS(net.to(kInt64), "Module::to: parameters must be floating, got int64 for Net()", Error);
  CHECK_THROWS_WITH_AS(net.to(kBool), "Module::to: parameters must be floating, got bool for Net()", Error);
  for (const Tensor& p : net.parameters()) CHECK(p.dtype() == kFloat32);  // unchanged by the refusals
}

TEST_CASE("Module::to after some steps: the optimizer's state follows the parameters' dtype") {
  Linear fc({.in_features = 3, .out_features = 2});
  optim::Adam adam(fc.parameters(), {.lr = 0.01});
  const Tensor x = ones({4, 3});
  fc(x).sum().backward();
  adam.step();
  CHECK(adam.state(0).buffers.at("exp_avg").dtype() == kFloat32);
  fc.to(kFloat64);
  fc.zero_grad();
  fc(x.to(kFloat64)).sum().backward();
  adam.step();
  CHECK(adam.state(0).step == 2);
  CHECK(adam.state(0).buffers.at("exp_avg").dtype() == kFloat64);
  CHECK(adam.state(0).buffers.at("exp_avg_sq").dtype() == kFloat64);
  CHECK(fc.weight.dtype() == kFloat64);
}

TEST_CASE("printing shows the tree with parameter shapes and counts") {
  Net net;
  const std::string expected =
      "Net()  [21 parameters]\n"
      "  scale: [1]\n"
      "  (block): Block()  [12 parameters]\n"
      "    gate: [3]\n"
      "    (inner): Leaf()  [9 parameters]\n"
      "      w: [3, 2]\n"
      "      b: [3]\n"
      "  (head): Linear(in_features=3, out_features=2, bias=true)  [8 parameters]\n"
      "    weight: [2, 3]\n"
      "    bias: [2]\n";
  CHECK(net.to_string() == expected);
  std::ostringstream os;
  os << net;
  CHECK(os.str() == expected);
  Tanh act;
  CHECK(act.to_string() == "Tanh()  [0 parameters]\n");
  Leaf one(0);
  CHECK(one.num_parameters() == 0);
  class Single : public Module {
   public:
    Single() { register_parameter("p", ones({1})); }
    std::string describe() const override { return "Single()"; }
  };
  CHECK(Single().to_string() == "Single()  [1 parameter]\n  p: [1]\n");
}
