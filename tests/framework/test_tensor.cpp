// Tests for framework/tensor.cpp and framework/shape.cpp: creation, value access, printing, errors.
#include <doctest/doctest.h>

#include <functional>
#include <future>
#include <thread>
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
  CHECK(scalar(3).item<int64_t>() == 3);
  CHECK(scalar(2.5).item() == 2.5);
  CHECK(arange(5).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(1.0, 2.0, 0.25).to_vector() == std::vector<float>{1, 1.25, 1.5, 1.75});
  CHECK(arange(3, 1, 1).numel() == 0);
}

TEST_CASE("tensor() from values, nested rows and at()") {
  const Tensor m = tensor({{1, 2, 3}, {4, 5, 6}});  // int64
  CHECK(m.shape() == Shape{2, 3});
  CHECK(m.at<int64_t>({1, 2}) == 6);
  CHECK(m.at<int64_t>({-1, 0}) == 4);
  CHECK(m.size(-1) == 3);
  const Tensor v = tensor(std::vector<real>{1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK(v.at({2, 1}) == 6);
  CHECK_THROWS_WITH_AS(tensor(std::vector<real>{1, 2, 3}, {2, 2}),
                       "tensor: 3 values do not fill shape [2, 2] (4 elements)", Error);
  CHECK_THROWS_WITH_AS(tensor({{1, 2}, {3}}), "tensor: rows have different lengths (2 and 1)", Error);
  CHECK_THROWS_WITH_AS(m.at<int64_t>({2, 0}), "at: index 2 is out of range for axis 0 of shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(m.item<int64_t>(), "item: a tensor of shape [2, 3] has 6 elements, not one", Error);
  CHECK_THROWS_WITH_AS(m.size(2), "size: axis 2 is out of range for a tensor of shape [2, 3]", Error);
}

TEST_CASE("printing shows values, shape and history") {
  std::ostringstream os;
  os << tensor({{1.0, 2.0}, {3.0, 4.5}});
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
  CHECK_THROWS_AS(tensor(std::vector<int64_t>{1, 2}, {big, big}), Error);
  CHECK_THROWS_AS(arange(0.0f, 1e30f), Error);
  CHECK_THROWS_AS(zeros({big, 4}, kFloat64), Error);
  CHECK_THROWS_AS(ones({big, 8}, kBool), Error);
  CHECK_THROWS_WITH_AS(zeros({2, -1}), "empty: negative dimension in shape [2, -1]", Error);
  // a zero-size axis makes an empty tensor, whatever the other axes say, as long as they are sane
  CHECK(zeros({0, 1000000}).numel() == 0);
  CHECK_THROWS_AS(zeros({0, big, big}), Error);
  CHECK(live_buffer_count() == buffers);
}

// An undefined (default-constructed) tensor handed to an op or a layer is a caller's mistake: Error, never
// a null dereference. Ops name themselves and the argument; the accessors are the net for everything else.
TEST_CASE("undefined tensors are refused with Error by ops, layers and accessors") {
  const Tensor u;
  const Tensor x = ones({2, 3});
  const Tensor ids = tensor({0, 1});
  const auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  // the op and the position of the undefined argument are named
  CHECK(message([&] { add(u, u); }).rfind("add: argument 1 is an undefined tensor", 0) == 0);
  CHECK(message([&] { add(x, u); }).rfind("add: argument 2 is an undefined tensor", 0) == 0);
  CHECK(message([&] { (void)(x * u); }).rfind("mul: argument 2", 0) == 0);
  CHECK(message([&] { tanh(u); }).rfind("tanh: argument 1", 0) == 0);
  CHECK(message([&] { matmul(x, u); }).rfind("matmul: argument 2", 0) == 0);
  CHECK(message([&] { reshape(u, {1}); }).rfind("reshape: argument 1", 0) == 0);
  CHECK(message([&] { index_select(x, 0, u); }).rfind("index_select: argument 2", 0) == 0);
  CHECK(message([&] { cross_entropy(u, ids); }).rfind("cross_entropy: argument 1", 0) == 0);
  CHECK(message([&] { where(u, x, x); }).rfind("where: argument 1", 0) == 0);
  CHECK(message([&] { zeros_like(u); }).rfind("zeros_like: argument 1", 0) == 0);
  CHECK(message([&] { sum(u, {0}); }).rfind("sum: argument 1", 0) == 0);
  CHECK(message([&] { max(u, 0); }).rfind("max: argument 1", 0) == 0);
  CHECK(message([&] { softmax(u, 0); }).rfind("softmax: argument 1", 0) == 0);
  CHECK(message([&] { Tensor().grad(); }).rfind("Tensor::grad: the tensor is undefined", 0) == 0);

  // a representative set of every kind of op, layer and accessor: Error, nothing else
  const std::vector<std::pair<const char*, std::function<void()>>> calls = {
      {"neg", [&] { neg(u); }},
      {"exp", [&] { exp(u); }},
      {"log", [&] { log(u); }},
      {"sqrt", [&] { sqrt(u); }},
      {"abs", [&] { abs(u); }},
      {"sigmoid", [&] { sigmoid(u); }},
      {"relu", [&] { relu(u); }},
      {"clone", [&] { clone(u); }},
      {"pow", [&] { pow(u, 2); }},
      {"pow tensor", [&] { pow(x, u); }},
      {"clamp", [&] { clamp(u, 0, 1); }},
      {"scalar operators", [&] { (void)(u + 1); }},
      {"sub", [&] { sub(u, x); }},
      {"div", [&] { div(x, u); }},
      {"masked_fill", [&] { masked_fill(x, u, 0); }},
      {"linear", [&] { linear(x, u); }},
      {"linear x", [&] { linear(u, x); }},
      {"sum", [&] { sum(u); }},
      {"sum axes", [&] { sum(u, {0}); }},
      {"mean", [&] { mean(u); }},
      {"max", [&] { max(u); }},
      {"max axis", [&] { max(u, 0); }},
      {"argmax", [&] { argmax(u, 0); }},
      {"log_softmax", [&] { log_softmax(u, 0); }},
      {"softmax", [&] { softmax(u, 0); }},
      {"flatten", [&] { flatten(u); }},
      {"unsqueeze", [&] { unsqueeze(u, 0); }},
      {"squeeze", [&] { squeeze(u, 0); }},
      {"permute", [&] { permute(u, {0}); }},
      {"transpose", [&] { transpose(u, 0, 1); }},
      {"narrow", [&] { narrow(u, 0, 0, 1); }},
      {"slice", [&] { slice(u, 0, 0, 1); }},
      {"concat",
       [&] {
         concat({x, u}, 0);
       }},
      {"stack",
       [&] {
         stack({u, x});
       }},
      {"split", [&] { split(u, 1); }},
      {"chunk", [&] { chunk(u, 2); }},
      {"unbind", [&] { unbind(u); }},
      {"flip", [&] { flip(u, 0); }},
      {"expand",
       [&] {
         expand(u, {2, 3});
       }},
      {"embedding", [&] { embedding(u, ids); }},
      {"gather", [&] { gather(x, 0, u); }},
      {"nll_loss", [&] { nll_loss(x, u); }},
      {"mse_loss", [&] { mse_loss(u, x); }},
      {"bce", [&] { binary_cross_entropy_with_logits(x, u); }},
      {"dropout", [&] { dropout(u, 0.5, false); }},
      {"ones_like", [&] { ones_like(u); }},
      {"backward", [&] { u.backward(); }},
      {"backward roots", [&] { backward({u}, {Tensor()}); }},
      {"shape", [&] { (void)u.shape(); }},
      {"size", [&] { (void)u.size(0); }},
      {"numel", [&] { (void)u.numel(); }},
      {"data", [&] { (void)u.data(); }},
      {"item", [&] { (void)u.item(); }},
      {"at", [&] { (void)u.at({}); }},
      {"to_vector", [&] { (void)u.to_vector(); }},
      {"requires_grad", [&] { (void)u.requires_grad(); }},
      {"requires_grad_",
       [&] {
         Tensor v;
         v.requires_grad_();
       }},
      {"is_leaf", [&] { (void)u.is_leaf(); }},
      {"zero_grad",
       [&] {
         Tensor v;
         v.zero_grad();
       }},
      {"retain_grad",
       [&] {
         Tensor v;
         v.retain_grad();
       }},
      {"grad_fn_name", [&] { (void)u.grad_fn_name(); }},
      {"detach", [&] { (void)u.detach(); }},
      {"method sum", [&] { (void)u.sum(); }},
      {"method t", [&] { (void)u.t(); }},
      {"Linear",
       [&] {
         layers::Linear lin({.in_features = 3, .out_features = 2});
         lin(u);
       }},
      {"Embedding",
       [&] {
         layers::Embedding emb({.num_embeddings = 3, .embedding_dim = 2});
         emb(u);
       }},
      {"Dropout",
       [&] {
         layers::Dropout drop(0.5);
         drop(u);
       }},
      {"LSTMCell",
       [&] {
         layers::LSTMCell cell({.input_size = 3, .hidden_size = 2});
         cell(u);
       }},
      {"LSTM",
       [&] {
         layers::LSTM lstm({.input_size = 3, .hidden_size = 2});
         lstm(u);
       }},
      {"GRU",
       [&] {
         layers::GRU gru({.input_size = 3, .hidden_size = 2});
         gru(u);
       }},
      {"Sequential",
       [&] {
         layers::Sequential net({std::make_shared<layers::Tanh>()});
         net(u);
       }},
      {"reverse_sequences", [&] { layers::reverse_sequences(u, Tensor()); }},
      {"unroll_cell",
       [&] {
         layers::GRUCell cell({.input_size = 3, .hidden_size = 2});
         layers::unroll_cell(cell, u);
       }},
  };
  for (const auto& [name, call] : calls) {
    CAPTURE(name);
    CHECK_THROWS_AS(call(), Error);
  }
  CHECK_FALSE(u.defined());  // defined() itself never throws
}

TEST_CASE("set_grad replaces the gradient (p.grad = g), checked against shape and dtype") {
  Tensor p = tensor({1.0, 2.0});
  p.requires_grad_();
  const Tensor g = tensor({0.5, -0.5});
  p.set_grad(g);
  CHECK(p.grad().to_vector() == std::vector<float>{0.5, -0.5});
  CHECK_FALSE(p.grad().requires_grad());
  // a backward pass accumulates into it, without writing into the caller's g
  sum(p * 2.0).backward();
  CHECK(p.grad().to_vector() == std::vector<float>{2.5, 1.5});
  CHECK(g.to_vector() == std::vector<float>{0.5, -0.5});
  p.set_grad(Tensor());  // clears, like zero_grad()
  CHECK_FALSE(p.grad().defined());
  CHECK_THROWS_WITH_AS(p.set_grad(zeros({3})), "set_grad: a gradient of shape [3] for a tensor of shape [2]", Error);
  CHECK_THROWS_WITH_AS(p.set_grad(zeros({2}, kFloat64)), "set_grad: a float64 gradient for a float32 tensor of shape [2]",
                       Error);
  CHECK_THROWS_WITH_AS(Tensor().set_grad(g), doctest::Contains("Tensor::set_grad: the tensor is undefined"), Error);
}

// A buffer goes back to the cache of the thread that allocated it, wherever it is freed: a graph recorded
// on a worker thread and freed by backward on the caller must not leave the worker asking the system for
// fresh memory every step while the caller's cache fills up (framework/tensor.cpp).
TEST_CASE("a buffer freed on another thread returns to the cache of the thread that made it") {
  std::promise<Tensor> made;
  std::promise<void> dropped;
  std::promise<const void*> remade;
  std::thread worker([&] {
    made.set_value(empty({12345}));
    dropped.get_future().wait();
    Tensor again = empty({12345});  // the same size class: served from this thread's cache
    remade.set_value(again.data<float>());
  });
  Tensor from_worker = made.get_future().get();
  const void* first = from_worker.data<float>();
  const int64_t cached_here = cached_buffer_bytes();
  from_worker = Tensor();
  CHECK(cached_buffer_bytes() == cached_here);  // not parked in this thread's cache
  dropped.set_value();
  CHECK(remade.get_future().get() == first);
  worker.join();
}
