// DataParallel under `mpirun -np K` (CTest: K = 2): K ranks with batch B each must train exactly like one
// process with batch K*B (to float tolerance), and hold bit-identical parameters after every step.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <unroll/unroll.hpp>
#include <vector>

#include "mpi_test_group.hpp"

using namespace unroll;
using namespace unroll::distributed;

namespace {

// A small word-level language model: ids [T, N] -> Embedding -> 2-layer LSTM -> Linear -> logits [T*N, V].
struct TinyLM : layers::Module {
  static constexpr int64_t V = 23, E = 8, H = 16;
  layers::Embedding embed{{.num_embeddings = V, .embedding_dim = E}};
  layers::LSTM lstm{{.input_size = E, .hidden_size = H, .num_layers = 2}};
  layers::Linear head{{.in_features = H, .out_features = V}};
  TinyLM() {
    register_module("embed", embed);
    register_module("lstm", lstm);
    register_module("head", head);
  }
  std::string describe() const override { return "TinyLM"; }
  Tensor forward(const Tensor& ids, layers::State& state) {
    auto [y, next] = lstm(embed(ids), state);    // y: [T, N, H]
    state = {next.h.detach(), next.c.detach()};  // truncated BPTT: carried, not differentiated through
    return head(reshape(y, {-1, H}));            // [T*N, V]
  }
};

// The same token stream on every rank (a fixed generator, not the ranks' default ones).
std::vector<int64_t> token_stream(int64_t length) {
  Generator gen(12345);
  std::vector<int64_t> tokens(length);
  for (auto& t : tokens) t = static_cast<int64_t>(gen.below(TinyLM::V));
  return tokens;
}

// Window `step` of `bptt` tokens from `batch` columns of `stream` (column n = tokens [n*rows, (n+1)*rows)):
// inputs [T, N] and next-token targets [T*N], int64 token ids.
void window(const std::vector<int64_t>& stream, int64_t batch, int64_t bptt, int64_t step, Tensor& x, Tensor& y) {
  const int64_t rows = static_cast<int64_t>(stream.size()) / batch, start = step * bptt;
  REQUIRE(start + bptt + 1 <= rows);
  x = empty({bptt, batch}, kInt64);
  y = empty({bptt * batch}, kInt64);
  for (int64_t t = 0; t < bptt; ++t)
    for (int64_t n = 0; n < batch; ++n) {
      x.data<int64_t>()[t * batch + n] = stream[n * rows + start + t];
      y.data<int64_t>()[t * batch + n] = stream[n * rows + start + t + 1];
    }
}

Tensor random_ids(const Shape& shape, Generator& gen) {
  Tensor ids = empty(shape, kInt64);
  for (int64_t i = 0; i < ids.numel(); ++i) ids.data<int64_t>()[i] = static_cast<int64_t>(gen.below(TinyLM::V));
  return ids;
}

enum class Opt { Adam, SGDMomentum };

std::unique_ptr<optim::Optimizer> make_optimizer(Opt kind, const std::vector<Tensor>& params) {
  if (kind == Opt::Adam) return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = 3e-3});
  return std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = 0.5, .momentum = 0.9});
}

double max_abs_difference(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (int64_t k = 0; k < a[i].numel(); ++k)
      worst = std::max(worst, std::abs(static_cast<double>(a[i].data()[k]) - static_cast<double>(b[i].data()[k])));
  return worst;
}

// Trains `steps` windows; `ddp` null: one process reading `stream` with `batch` columns.
void train(TinyLM& model, optim::Optimizer& opt, DataParallel* ddp, const std::vector<int64_t>& stream, int64_t batch,
           int64_t steps, int& identical_steps) {
  const int64_t bptt = 5;
  layers::State state;
  for (int64_t step = 0; step < steps; ++step) {
    Tensor x, y;
    window(stream, batch, bptt, step, x, y);
    const Tensor loss = cross_entropy(model.forward(x, state), y);  // mean over this rank's T*B tokens
    opt.zero_grad();
    loss.backward();
    if (ddp) ddp->average_gradients();
    optim::clip_grad_norm(model.parameters(), 0.5);  // small enough to clip: it must see the averaged gradient
    opt.step();
    if (ddp && ddp->replicas_identical()) ++identical_steps;
  }
}

}  // namespace

TEST_CASE("K ranks with batch B train like one process with batch K*B, with identical replicas every step") {
  ProcessGroup& g = test_group();
  const int K = g.world_size();
  const int64_t B = 3, steps = 25;
  const std::vector<int64_t> stream = token_stream(2000);
  for (Opt kind : {Opt::Adam, Opt::SGDMomentum}) {
    CAPTURE(static_cast<int>(kind));
    // Every rank starts from a different initialization; DataParallel must replace it with rank 0's.
    manual_seed(100 + static_cast<uint64_t>(g.rank()));
    TinyLM model;
    DataParallel ddp(g, model.parameters());
    auto opt = make_optimizer(kind, model.parameters());
    int identical_steps = 0;
    train(model, *opt, &ddp, shard_stream(stream, B, g.rank(), K), B, steps, identical_steps);
    CHECK(identical_steps == steps);
    CHECK(ddp.allreduce_calls() == steps);  // the whole model is one bucket: one allreduce per step

    // The reference: one process, batch K*B over the whole stream, from rank 0's initialization.
    manual_seed(100);
    TinyLM single;
    auto single_opt = make_optimizer(kind, single.parameters());
    int unused = 0;
    train(single, *single_opt, nullptr, stream, K * B, steps, unused);
    const double difference = max_abs_difference(model.parameters(), single.parameters());
    MESSAGE("largest parameter difference to the single process after ", steps, " steps: ", difference);
    CHECK(difference < 2e-6);  // seen: 1.2e-7 (Adam and SGD); summing instead of averaging: 4.6e-4
    // The models did move: the tolerance is far below the distance travelled.
    manual_seed(100);
    TinyLM initial;
    CHECK(max_abs_difference(initial.parameters(), single.parameters()) > 1e-2);
  }
}

TEST_CASE("average_gradients: small buckets give the same bits as one bucket, in several allreduce calls") {
  ProcessGroup& g = test_group();
  manual_seed(7);
  TinyLM a, b;
  b.load_state_dict(a.state_dict());
  DataParallel one(g, a.parameters());
  DataParallel many(g, b.parameters(), {.bucket_cap_mb = 0.001});  // 262 floats per piece
  CHECK(one.buckets_per_step() == 1);
  CHECK(many.buckets_per_step() == (a.num_parameters() + 7 + 261) / 262);  // + one flag per parameter (7 tensors)
  Generator gen(50 + static_cast<uint64_t>(g.rank()));                     // different data on every rank
  const Tensor x = random_ids({4, 2}, gen), y = random_ids({8}, gen);
  for (TinyLM* m : {&a, &b}) {
    layers::State state;
    cross_entropy(m->forward(x, state), y).backward();
  }
  one.average_gradients();
  many.average_gradients();
  CHECK(many.allreduce_calls() == many.buckets_per_step());
  const auto pa = a.parameters(), pb = b.parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    CHECK(std::memcmp(pa[i].grad().data(), pb[i].grad().data(), sizeof(real) * pa[i].numel()) == 0);
}

TEST_CASE("average_gradients divides the sum by K, fills in a missing gradient and returns mean metrics") {
  ProcessGroup& g = test_group();
  const int K = g.world_size(), r = g.rank();
  Tensor w = zeros({3}), unused = zeros({2}), rank0_only = zeros({2});
  for (Tensor* p : {&w, &unused, &rank0_only}) p->requires_grad_();
  DataParallel ddp(g, {w, unused, rank0_only});
  (w * tensor({real(r), real(1), real(2)})).sum().backward();  // grad w = [r, 1, 2]
  if (r == 0) (rank0_only * real(K)).sum().backward();         // grad = [K, K] on rank 0 only
  const std::vector<double> means = ddp.average_gradients({static_cast<double>(r), 4.0});
  CHECK(w.grad().to_vector() == std::vector<real>{real(K - 1) / 2, 1, 2});  // mean of 0..K-1
  CHECK_FALSE(unused.grad().defined());  // no rank had one: stays undefined, the optimizer skips it
  REQUIRE(rank0_only.grad().defined());  // the others count as zeros: K / K
  CHECK(rank0_only.grad().to_vector() == std::vector<real>{1, 1});
  REQUIRE(means.size() == 2);
  CHECK(means[0] == doctest::Approx((K - 1) / 2.0));
  CHECK(means[1] == 4.0);
}

TEST_CASE("DataParallel refuses ranks that built different models, on every rank") {
  ProcessGroup& g = test_group();
  if (g.world_size() < 2) return;
  std::vector<Tensor> params = {zeros({4, 3}).requires_grad_()};
  if (g.rank() == 1) params.push_back(zeros({2}).requires_grad_());
  CHECK_THROWS_WITH_AS(DataParallel(g, params),
                       doctest::Contains("the ranks hold different models: rank 0 has 1 parameters (12 values), "
                                         "rank 1 has 2 (14 values)"),
                       Error);
  std::vector<Tensor> shaped = {zeros({g.rank() == 1 ? 3 : 4, g.rank() == 1 ? 4 : 3}).requires_grad_()};
  CHECK_THROWS_WITH_AS(DataParallel(g, shaped), doctest::Contains("with other shapes"), Error);
  CHECK_THROWS_WITH_AS(DataParallel(g, {Tensor()}), doctest::Contains("parameter 0 is an undefined tensor"), Error);
}

TEST_CASE("DataParallel refuses parameters that are not float32, on every rank") {
  ProcessGroup& g = test_group();
  Tensor w = zeros({2}), v = zeros({3}, kFloat64);
  w.requires_grad_();
  v.requires_grad_();
  CHECK_THROWS_WITH_AS(DataParallel(g, {w, v}),
                       "DataParallel: parameter 1 is float64; data-parallel training takes float32 parameters "
                       "(model.to(kFloat32))",
                       Error);
  // a model converted to float64 is refused; converted back, it is accepted
  manual_seed(3);
  TinyLM model;
  model.to(kFloat64);
  CHECK_THROWS_WITH_AS(DataParallel(g, model.parameters()), doctest::Contains("parameter 0 is float64"), Error);
  model.to(kFloat32);
  DataParallel ddp(g, model.parameters());
  CHECK(ddp.replicas_identical());
}
