// unroll/layers/sequential.hpp: a chain of one-tensor-to-one-tensor modules, PyTorch's nn.Sequential.
//
//   Sequential net({std::make_shared<Linear>(LinearOptions{.in_features = 8, .out_features = 16}),
//                   std::make_shared<Tanh>(),
//                   std::make_shared<Linear>(LinearOptions{.in_features = 16, .out_features = 2})});
//   Tensor y = net(x);   // x: [N, 8] -> [N, 2]
//
// Modules are shared (std::shared_ptr) and registered as submodules "0", "1", ..., so parameter names are
// "0.weight", "2.bias" exactly as in PyTorch. A module added twice is one set of parameters (listed once).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "unroll/framework/error.hpp"
#include "unroll/layers/module.hpp"

namespace unroll::layers {

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules) {
    for (const auto& m : modules) push_back(m);
  }

  // Appends a module (registered as the next index). Throws unroll::Error for a null pointer.
  void push_back(std::shared_ptr<UnaryModule> module) {
    if (!module) throw Error("Sequential::push_back: module " + std::to_string(modules_.size()) + " is null");
    add_child(std::to_string(modules_.size()), module.get());
    modules_.push_back(std::move(module));
  }
  // Constructs a module in place and returns it: net.emplace<Linear>(LinearOptions{...}).
  template <class M, class... Args>
  M& emplace(Args&&... args) {
    auto module = std::make_shared<M>(std::forward<Args>(args)...);
    M& ref = *module;
    push_back(std::move(module));
    return ref;
  }

  // x -> modules_[size-1](... modules_[0](x)); the identity when empty.
  Tensor forward(const Tensor& x) override {
    Tensor out = x;
    for (const auto& m : modules_) out = m->forward(out);
    return out;
  }

  std::size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  // The i-th module; throws unroll::Error when out of range.
  UnaryModule& operator[](std::size_t i) const { return *ptr(i); }
  const std::shared_ptr<UnaryModule>& ptr(std::size_t i) const {
    if (i >= modules_.size())
      throw Error("Sequential: index " + std::to_string(i) + " is out of range for " + std::to_string(modules_.size()) +
                  " modules");
    return modules_[i];
  }
  // The i-th module as type M (e.g. net.at<Linear>(0).weight); throws unroll::Error if it is not an M.
  template <class M>
  M& at(std::size_t i) const {
    auto* m = dynamic_cast<M*>(ptr(i).get());
    if (!m)
      throw Error("Sequential::at: module " + std::to_string(i) + " is " + ptr(i)->describe() +
                  ", not the requested type");
    return *m;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

  std::string describe() const override { return "Sequential()"; }

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

}  // namespace unroll::layers
