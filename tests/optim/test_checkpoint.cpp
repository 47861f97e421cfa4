// unroll::save / unroll::load (optim/checkpoint.hpp): models, optimizers and schedules to .npz and back;
// weights PyTorch exported through numpy.savez; exact resumption, in float32 and float64; the dtype of every
// entry (and the refusal of an entry of another dtype); files as older versions wrote them; every kind of
// bad file, which throws and leaves the model untouched.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "unroll/optim/detail/npz.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;

namespace {

// doctest::Contains takes a doctest::String
doctest::Contains has(const std::string& text) { return doctest::Contains(text.c_str()); }

std::string fixture(const std::string& name) { return std::string(UNROLL_FIXTURES_DIR) + "/" + name; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A small sequence model: LSTM -> Linear on the last time step. Parameter names rnn.*, head.*.
class Model : public layers::Module {
 public:
  explicit Model(int64_t hidden = 6)
      : rnn({.input_size = 3, .hidden_size = hidden}), head({.in_features = hidden, .out_features = 2}) {
    register_module("rnn", rnn);
    register_module("head", head);
  }
  Tensor forward(const Tensor& x) {  // x: [T, N, 3] -> [N, 2]
    const Tensor y = rnn(x).output;  // [T, N, H]
    return head(squeeze(narrow(y, 0, y.size(0) - 1, 1), 0));
  }
  std::string describe() const override { return "Model"; }

  layers::LSTM rnn;
  layers::Linear head;
};

// A tensor's dtype name and raw bytes: equal snapshots are bit-identical values of the same dtype.
std::string bytes_of(const Tensor& t) {
  return std::string(name(t.dtype())) + ":" +
         std::string(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel() * t.element_size()));
}

// Exact copies of every parameter's values, to prove a failed load changed nothing (or a load changed all).
std::vector<std::string> snapshot(const layers::Module& m) {
  std::vector<std::string> out;
  for (const Tensor& p : m.parameters()) out.push_back(bytes_of(p));
  return out;
}

bool bit_identical(const layers::Module& a, const layers::Module& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i)
    if (pa[i].shape() != pb[i].shape() || bytes_of(pa[i]) != bytes_of(pb[i])) return false;
  return true;
}

// An optimizer's state, every entry's dtype and bytes: equal when nothing changed.
std::map<std::string, std::string> snapshot(const optim::Optimizer& opt) {
  std::map<std::string, std::string> out;
  for (const auto& [key, t] : opt.state_dict()) out[key] = bytes_of(t);
  return out;
}

}  // namespace

TEST_CASE("a model round-trips through save/load exactly, under PyTorch's names") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("model.npz");
  manual_seed(1);
  Model a;
  save(a, path);
  manual_seed(2);
  Model b;
  CHECK_FALSE(bit_identical(a, b));
  load(b, path);
  CHECK(bit_identical(a, b));
  const auto entries = load_tensors(path);
  CHECK(entries.size() == 6);
  for (const char* name :
       {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "head.weight", "head.bias"})
    CHECK_MESSAGE(entries.count(name) == 1, name);
  CHECK(entries.at("rnn.weight_ih_l0").shape() == Shape{24, 3});
}

TEST_CASE("weights PyTorch exported with numpy.savez_compressed load as the same weights exported with numpy.savez") {
  layers::LSTM stored({.input_size = 4, .hidden_size = 3, .num_layers = 2});
  layers::LSTM compressed({.input_size = 4, .hidden_size = 3, .num_layers = 2});
  CHECK_FALSE(bit_identical(stored, compressed));
  load(stored, fixture("optim_torch_state.npz"));
  load(compressed, fixture("optim_torch_state_compressed.npz"));
  CHECK(bit_identical(stored, compressed));
}

TEST_CASE("compressed checkpoints: model, optimizer and schedule resume exactly; a save can switch format") {
  unroll_test::TempDir dir;
  manual_seed(12);
  Model a;
  optim::Adam opt(a.parameters(), {.lr = 1e-2, .amsgrad = true});
  optim::CosineAnnealingLR cosine(opt, {.T_max = 10});
  for (int step = 0; step < 3; ++step) {
    Generator gen(300 + static_cast<uint64_t>(step));
    opt.zero_grad();
    mse_loss(a.forward(randn({5, 4, 3}, gen)), randn({4, 2}, gen)).backward();
    opt.step();
    cosine.step();
  }
  save(a, dir.file("model.npz"), {.compress = true});
  save(opt, dir.file("adam.npz"), {.compress = true});
  save(cosine, dir.file("cosine.npz"), {.compress = true});
  CHECK(slurp(dir.file("model.npz"))[8] == 8);  // the first local header's method: deflate
  manual_seed(13);
  Model b;
  optim::Adam opt2(b.parameters(), {.lr = 0.5});
  optim::CosineAnnealingLR cosine2(opt2, {.T_max = 3});
  load(b, dir.file("model.npz"));
  load(opt2, dir.file("adam.npz"));
  load(cosine2, dir.file("cosine.npz"));
  CHECK(bit_identical(a, b));
  CHECK(snapshot(opt2) == snapshot(opt));
  CHECK(cosine2.options().T_max == 10);
  CHECK(cosine2.last_epoch() == 3);
  // the same path saved stored, then compressed again: each replaces the other atomically
  save(a, dir.file("model.npz"));
  CHECK(slurp(dir.file("model.npz"))[8] == 0);
  save(a, dir.file("model.npz"), {.compress = true});
  load(b, dir.file("model.npz"));
  CHECK(bit_identical(a, b));
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 3);
}

TEST_CASE("weights PyTorch exported with numpy.savez load into layers::LSTM and give torch's outputs") {
  layers::LSTM lstm({.input_size = 4, .hidden_size = 3, .num_layers = 2});
  load(lstm, fixture("optim_torch_state.npz"));
  const auto io = load_tensors(fixture("optim_torch_lstm_io.npz"));
  const auto [y, state] = lstm(io.at("x"));
  for (const auto& [got, want] :
       {std::pair{y, io.at("y")}, std::pair{state.h, io.at("h_n")}, std::pair{state.c, io.at("c_n")}}) {
    REQUIRE(got.shape() == want.shape());
    const auto g = got.to_vector(), w = want.to_vector();
    for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(w[i]).epsilon(1e-5));
  }
}

TEST_CASE("bad files throw, name the file and the entry, and leave the model untouched") {
  unroll_test::TempDir dir;
  manual_seed(3);
  Model source;
  const std::string good = dir.file("good.npz");
  save(source, good);
  const std::string bytes = slurp(good);
  manual_seed(4);
  Model target;
  const auto before = snapshot(target);
  const std::string path = dir.file("bad.npz");

  SUBCASE("truncated") {
    spit(path, bytes.substr(0, bytes.size() / 2));
    CHECK_THROWS_WITH_AS(load(target, path), has("load: " + path + ": not a zip/.npz file, or truncated"), IoError);
  }
  SUBCASE("truncated by a few bytes") {
    spit(path, bytes.substr(0, bytes.size() - 3));
    CHECK_THROWS_AS(load(target, path), IoError);
  }
  SUBCASE("a bit flipped in the data: CRC mismatch") {
    std::string damaged = bytes;
    damaged[200] = static_cast<char>(damaged[200] ^ 0x10);  // inside rnn.weight_ih_l0's float data
    spit(path, damaged);
    CHECK_THROWS_WITH_AS(load(target, path), has("load: " + path + ": entry 'rnn.weight_ih_l0.npy': CRC-32 mismatch"),
                         IoError);
  }
  SUBCASE("a bit flipped in a .npy header: CRC mismatch") {
    std::string damaged = bytes;
    damaged[30 + 20 + 20] =
        static_cast<char>(damaged[30 + 20 + 20] ^ 0x01);  // local header, name, 20 bytes into the npy
    spit(path, damaged);
    CHECK_THROWS_WITH_AS(load(target, path), has("CRC-32 mismatch"), IoError);
  }
  SUBCASE("a malformed .npy header with a valid CRC") {
    std::vector<detail::ZipEntry> entries = detail::decode_zip(bytes, good);
    const size_t at = entries.back().data.find("'<f");  // the last entry, head.bias: '<f4' -> '<i4'
    REQUIRE(at != std::string::npos);
    entries.back().data[at + 2] = 'i';
    spit(path, detail::encode_zip(entries));
    CHECK_THROWS_WITH_AS(load(target, path), has("load: " + path + ": entry 'head.bias': unsupported dtype '<i4'"),
                         IoError);
  }
  SUBCASE("wrong shape") {
    Model wider(7);
    save(wider, path);
    CHECK_THROWS_WITH_AS(load(target, path),
                         has("load: " + path +
                             ": entry 'rnn.weight_ih_l0' has shape [28, 3] but the "
                             "parameter has shape [24, 3]"),
                         Error);
  }
  SUBCASE("missing entry") {
    auto state = source.state_dict();
    state.erase("head.bias");
    save_tensors(state, path);
    CHECK_THROWS_WITH_AS(load(target, path), has("load: " + path + ": missing entry 'head.bias'"), Error);
  }
  SUBCASE("unexpected entry") {
    auto state = source.state_dict();
    state["head.scale"] = ones({2});
    save_tensors(state, path);
    CHECK_THROWS_WITH_AS(load(target, path), has("load: " + path + ": unexpected entry 'head.scale'"), Error);
  }
  SUBCASE("nonexistent file") {
    CHECK_THROWS_WITH_AS(load(target, dir.file("nope.npz")),
                         has("load: " + dir.file("nope.npz") + ": cannot open: No such file"), IoError);
  }
  SUBCASE("not a zip") {
    spit(path, "step,loss\n1,0.5\n");
    CHECK_THROWS_WITH_AS(load(target, path), has("not a zip/.npz file"), IoError);
  }
  SUBCASE("a compressed checkpoint with a damaged byte") {
    save(source, path, {.compress = true});
    std::string damaged = slurp(path);
    damaged[damaged.size() / 3] = static_cast<char>(damaged[damaged.size() / 3] ^ 0x20);
    spit(path, damaged);
    CHECK_THROWS_WITH_AS(load(target, path), has("load: " + path + ": "), IoError);
  }
  SUBCASE("a compressed file of other arrays") {
    CHECK_THROWS_WITH_AS(load(target, fixture("optim_compressed.npz")), has("missing entry 'rnn.weight_ih_l0'"), Error);
  }
  CHECK(snapshot(target) == before);
}

TEST_CASE("save is atomic: it replaces an existing checkpoint and leaves no temporary files") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("model.npz");
  manual_seed(5);
  Model a;
  save(a, path);
  manual_seed(6);
  Model b;
  save(b, path);  // overwrite
  Model c;
  load(c, path);
  CHECK(bit_identical(b, c));
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);
  // a save that cannot complete leaves the previous file as it was
  const std::string before = slurp(path);
  CHECK_THROWS_WITH_AS(save(a, dir.file("no/such/dir/model.npz")), has("save: "), IoError);
  std::filesystem::create_directory(dir.file("taken.npz"));
  CHECK_THROWS_AS(save(a, dir.file("taken.npz")), IoError);
  CHECK(slurp(path) == before);
}

TEST_CASE("save_directory replaces a multi-file checkpoint as a whole, even when the writer dies midway") {
  namespace fs = std::filesystem;
  unroll_test::TempDir tmp;
  const std::string ckpt = tmp.file("ckpt");
  manual_seed(5);
  Model a;
  manual_seed(6);
  Model b;
  auto write_model = [](Model& m) {
    return [&m](const std::string& dir) {
      save(m, dir + "/model.npz");
      save_tensors({{"step", scalar(7)}}, dir + "/trainer.npz");
    };
  };
  save_directory(ckpt, write_model(a));
  save_directory(ckpt + "/", write_model(b));  // replaces it (a trailing slash names the same directory)
  Model loaded;
  load(loaded, ckpt + "/model.npz");
  CHECK(bit_identical(b, loaded));
  auto names = [](const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(names(tmp.path()) == std::vector<std::string>{"ckpt"});  // no staging or old copy left behind
  CHECK(names(ckpt) == std::vector<std::string>{"model.npz", "trainer.npz"});

  // A writer that throws: the checkpoint is untouched and the staging directory is gone.
  CHECK_THROWS_WITH_AS(save_directory(ckpt,
                                      [&](const std::string& dir) {
                                        save(a, dir + "/model.npz");
                                        throw IoError("disk full");
                                      }),
                       "disk full", IoError);
  load(loaded, ckpt + "/model.npz");
  CHECK(bit_identical(b, loaded));
  CHECK(names(tmp.path()) == std::vector<std::string>{"ckpt"});

  // A process killed after writing half of a new checkpoint: the old one is still whole and loadable,
  // and the next save clears the leftover.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    save_directory(ckpt, [&](const std::string& dir) {
      save(a, dir + "/model.npz");
      ::_exit(3);  // dies before trainer.npz and before the exchange
    });
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  load(loaded, ckpt + "/model.npz");
  CHECK(bit_identical(b, loaded));
  CHECK(names(ckpt) == std::vector<std::string>{"model.npz", "trainer.npz"});
  save_directory(ckpt, write_model(a));
  load(loaded, ckpt + "/model.npz");
  CHECK(bit_identical(a, loaded));
  CHECK(names(tmp.path()) == std::vector<std::string>{"ckpt"});
}

TEST_CASE("optimizer state files: naming scheme, readable as plain arrays") {
  unroll_test::TempDir dir;
  Model m;
  optim::Adam opt(m.parameters(), {.lr = 2e-3, .betas = {0.8, 0.9}, .amsgrad = true});
  optim::StepLR schedule(opt, {.step_size = 2});
  const Tensor x = ones({4, 2, 3});
  sum(m.forward(x)).backward();
  opt.step();
  schedule.step();
  save(opt, dir.file("opt.npz"));
  save(schedule, dir.file("sched.npz"));
  const auto o = load_tensors(dir.file("opt.npz"));
  for (const char* key :
       {"type.Adam", "param_groups.0.lr", "param_groups.0.betas", "param_groups.0.eps", "param_groups.0.weight_decay",
        "param_groups.0.amsgrad", "param_groups.0.maximize", "param_groups.0.initial_lr", "state.0.step",
        "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq", "state.5.exp_avg"})
    CHECK_MESSAGE(o.count(key) == 1, key);
  CHECK(o.size() == 8 + 6 * 4);
  // dtypes: flags bool, real numbers float64 (exact), counters int64, buffers the parameters' float32
  for (const char* key : {"type.Adam", "param_groups.0.amsgrad", "param_groups.0.maximize"}) {
    CHECK_MESSAGE(o.at(key).dtype() == kBool, key);
    CHECK_MESSAGE(o.at(key).shape() == Shape{}, key);
  }
  CHECK(o.at("type.Adam").item<bool>());
  CHECK(o.at("param_groups.0.amsgrad").item<bool>());
  CHECK_FALSE(o.at("param_groups.0.maximize").item<bool>());
  for (const char* key : {"param_groups.0.lr", "param_groups.0.betas", "param_groups.0.eps",
                          "param_groups.0.weight_decay", "param_groups.0.initial_lr"})
    CHECK_MESSAGE(o.at(key).dtype() == kFloat64, key);
  CHECK(o.at("param_groups.0.lr").item<double>() == 2e-3);
  CHECK(o.at("param_groups.0.betas").to_vector<double>() == std::vector<double>{0.8, 0.9});
  CHECK(o.at("param_groups.0.eps").item<double>() == 1e-8);
  CHECK(o.at("state.0.step").dtype() == kInt64);
  CHECK(o.at("state.0.step").shape() == Shape{});
  CHECK(o.at("state.0.step").item<int64_t>() == 1);
  for (int i = 0; i < 6; ++i) CHECK(o.at("state." + std::to_string(i) + ".step").dtype() == kInt64);
  CHECK(o.at("state.0.exp_avg").shape() == Shape{24, 3});
  CHECK(o.at("state.0.exp_avg").dtype() == kFloat32);
  CHECK(o.at("state.5.max_exp_avg_sq").dtype() == kFloat32);
  const auto s = load_tensors(dir.file("sched.npz"));
  for (const char* key : {"type.StepLR", "last_epoch", "_step_count", "base_lrs", "_last_lr", "step_size", "gamma"})
    CHECK_MESSAGE(s.count(key) == 1, key);
  CHECK(s.size() == 7);
  CHECK(s.at("type.StepLR").dtype() == kBool);
  for (const char* key : {"last_epoch", "_step_count", "step_size"}) CHECK_MESSAGE(s.at(key).dtype() == kInt64, key);
  for (const char* key : {"base_lrs", "_last_lr", "gamma"}) CHECK_MESSAGE(s.at(key).dtype() == kFloat64, key);
  CHECK(s.at("last_epoch").item<int64_t>() == 1);
  CHECK(s.at("step_size").item<int64_t>() == 2);
  CHECK(s.at("gamma").item<double>() == 0.1);

  // the flags of the other optimizers are bool too
  optim::SGD sgd(m.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  optim::RMSprop rmsprop(m.parameters(), {.centered = true});
  for (const auto& [opt_state, flag] : {std::pair{sgd.state_dict(), "param_groups.0.nesterov"},
                                        std::pair{rmsprop.state_dict(), "param_groups.0.centered"}}) {
    CHECK_MESSAGE(opt_state.at(flag).dtype() == kBool, flag);
    CHECK_MESSAGE(opt_state.at(flag).item<bool>(), flag);
    CHECK(opt_state.at("param_groups.0.momentum").dtype() == kFloat64);
  }
}

namespace {

// Trains `m` for `steps` steps on fixed data with clipping, stepping the optimizer and schedules.
void train(Model& m, optim::Optimizer& opt, const std::vector<optim::LRScheduler*>& schedules, int first, int steps) {
  for (int step = first; step < first + steps; ++step) {
    Generator gen(100 + static_cast<uint64_t>(step));  // the batch depends only on the step number
    const Tensor x = randn({5, 4, 3}, gen), target = randn({4, 2}, gen);
    opt.zero_grad();
    mse_loss(m.forward(x), target).backward();
    optim::clip_grad_norm(m.parameters(), 0.5);
    opt.step();
    for (optim::LRScheduler* s : schedules) s->step();
  }
}

}  // namespace

TEST_CASE("resume: 2N steps in one run == N steps, save, load into fresh objects, N steps (bit-identical)") {
  constexpr int N = 6;
  unroll_test::TempDir dir;

  SUBCASE("Adam with linear warm-up chained with cosine annealing") {
    manual_seed(7);
    Model straight;
    optim::Adam opt(straight.parameters(), {.lr = 1e-2, .weight_decay = 1e-3});
    optim::LinearLR warmup(opt, {.start_factor = 0.1, .total_iters = 4});
    optim::CosineAnnealingLR cosine(opt, {.T_max = 2 * N});
    train(straight, opt, {&warmup, &cosine}, 0, 2 * N);

    manual_seed(7);
    Model first;
    {
      optim::Adam opt1(first.parameters(), {.lr = 1e-2, .weight_decay = 1e-3});
      optim::LinearLR warmup1(opt1, {.start_factor = 0.1, .total_iters = 4});
      optim::CosineAnnealingLR cosine1(opt1, {.T_max = 2 * N});
      train(first, opt1, {&warmup1, &cosine1}, 0, N);
      save(first, dir.file("model.npz"));
      save(opt1, dir.file("adam.npz"));
      save(warmup1, dir.file("warmup.npz"));
      save(cosine1, dir.file("cosine.npz"));
    }
    manual_seed(8);  // different initial weights: everything must come from the files
    Model resumed;
    optim::Adam opt2(resumed.parameters(), {.lr = 1e-2, .weight_decay = 1e-3});
    optim::LinearLR warmup2(opt2, {.start_factor = 0.1, .total_iters = 4});
    optim::CosineAnnealingLR cosine2(opt2, {.T_max = 2 * N});
    load(resumed, dir.file("model.npz"));
    load(opt2, dir.file("adam.npz"));
    load(warmup2, dir.file("warmup.npz"));
    load(cosine2, dir.file("cosine.npz"));
    CHECK(opt2.state(0).step == N);
    train(resumed, opt2, {&warmup2, &cosine2}, N, N);

    CHECK(bit_identical(straight, resumed));
    CHECK(opt2.lr() == opt.lr());
    CHECK(cosine2.last_epoch() == cosine.last_epoch());
  }

  SUBCASE("SGD with momentum and StepLR") {
    manual_seed(9);
    Model straight;
    optim::SGD opt(straight.parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
    optim::StepLR step_lr(opt, {.step_size = 4, .gamma = 0.5});
    train(straight, opt, {&step_lr}, 0, 2 * N);

    manual_seed(9);
    Model first;
    optim::SGD opt1(first.parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
    optim::StepLR step_lr1(opt1, {.step_size = 4, .gamma = 0.5});
    train(first, opt1, {&step_lr1}, 0, N);
    save(first, dir.file("model.npz"));
    save(opt1, dir.file("sgd.npz"));
    save(step_lr1, dir.file("step.npz"));

    manual_seed(10);
    Model resumed;
    optim::SGD opt2(resumed.parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
    optim::StepLR step_lr2(opt2, {.step_size = 4, .gamma = 0.5});
    load(resumed, dir.file("model.npz"));
    load(opt2, dir.file("sgd.npz"));
    load(step_lr2, dir.file("step.npz"));
    train(resumed, opt2, {&step_lr2}, N, N);

    CHECK(bit_identical(straight, resumed));
    CHECK(opt2.lr() == opt.lr());
  }
}

TEST_CASE("every optimizer's state round-trips and continues identically") {
  unroll_test::TempDir dir;
  using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  const std::vector<Factory> factories = {
      [](auto p) {
        return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.5, .dampening = 0.1});
      },
      [](auto p) { return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.amsgrad = true}); },
      [](auto p) {
        return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions{.momentum = 0.9, .centered = true});
      },
      [](auto p) { return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions{.lr_decay = 0.1}); },
  };
  for (const Factory& make : factories) {
    manual_seed(11);
    Model a, b;
    b.load_state_dict(a.state_dict());
    auto opt_a = make(a.parameters());
    CAPTURE(opt_a->name());
    train(a, *opt_a, {}, 0, 3);
    save(*opt_a, dir.file("o.npz"));
    b.load_state_dict(a.state_dict());
    auto opt_b = make(b.parameters());
    load(*opt_b, dir.file("o.npz"));
    train(a, *opt_a, {}, 3, 3);
    train(b, *opt_b, {}, 3, 3);
    CHECK(bit_identical(a, b));
  }
}

TEST_CASE("optimizer load errors: another optimizer, other shapes, other parameter count; nothing changes") {
  unroll_test::TempDir dir;
  Model m;
  optim::SGD sgd(m.parameters(), {.lr = 0.1, .momentum = 0.9});
  optim::Adam adam(m.parameters(), {.lr = 0.1});
  train(m, sgd, {}, 0, 1);
  train(m, adam, {}, 0, 2);
  save(sgd, dir.file("sgd.npz"));
  CHECK_THROWS_WITH_AS(
      load(adam, dir.file("sgd.npz")),
      has("load: " + dir.file("sgd.npz") + ": Adam: the state was saved by optimizer 'SGD', not 'Adam'"), Error);

  Model wider(7);
  optim::Adam other(wider.parameters(), {.lr = 0.5, .amsgrad = true});
  train(wider, other, {}, 0, 1);
  save(other, dir.file("other.npz"));
  CHECK_THROWS_WITH_AS(load(adam, dir.file("other.npz")),
                       has("entry 'state.0.exp_avg' has shape [28, 3] but parameter 0 has shape [24, 3]"), Error);
  CHECK(adam.lr() == 0.1);  // hyperparameters restored after the failed load
  CHECK_FALSE(adam.options().amsgrad);
  CHECK(adam.state(0).step == 2);

  layers::Linear small({.in_features = 2, .out_features = 2});
  optim::Adam few(small.parameters());
  CHECK_THROWS_WITH_AS(load(few, dir.file("other.npz")), has("(the optimizer has 2 parameters)"), Error);

  // an optimizer file is not a model file
  CHECK_THROWS_WITH_AS(load(m, dir.file("sgd.npz")), has("missing entry"), Error);
}

// ---- dtypes ------------------------------------------------------------------------------------------

namespace {

// Trains a float64 `m` for `steps` steps on one fixed float64 batch; returns the losses.
std::vector<double> train_float64(Model& m, optim::Optimizer& opt, int first, int steps) {
  std::vector<double> losses;
  for (int step = first; step < first + steps; ++step) {
    Generator gen(200);  // the same batch every step: the model fits it
    const Tensor x = randn({5, 4, 3}, kFloat64, gen), target = randn({4, 2}, kFloat64, gen);
    opt.zero_grad();
    const Tensor loss = mse_loss(m.forward(x), target);
    REQUIRE(loss.dtype() == kFloat64);
    losses.push_back(loss.item<double>());
    loss.backward();
    opt.step();
  }
  return losses;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a float64 model trains end to end and its model and optimizer files keep float64") {
  unroll_test::TempDir dir;
  manual_seed(21);
  Model m;
  m.to(kFloat64);
  optim::Adam opt(m.parameters(), {.lr = 1e-2});
  const std::vector<double> losses = train_float64(m, opt, 0, 30);
  bool finite = true;
  for (double loss : losses) finite = finite && std::isfinite(loss);
  for (const Tensor& p : m.parameters()) {
    CHECK(p.dtype() == kFloat64);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().dtype() == kFloat64);
    for (double v : p.to_vector<double>()) finite = finite && std::isfinite(v);
  }
  CHECK(finite);
  MESSAGE("float64 training loss: " << losses.front() << " -> " << losses.back());
  CHECK(losses.back() < 0.5 * losses.front());

  save(m, dir.file("model.npz"));
  save(opt, dir.file("adam.npz"));
  // in the files: every parameter and every buffer '<f8', the step counters '<i8'
  const std::string model_bytes = slurp(dir.file("model.npz")), adam_bytes = slurp(dir.file("adam.npz"));
  CHECK(count(model_bytes, "'descr': '<f8'") == 6);
  CHECK(count(model_bytes, "'descr': '<f4'") == 0);
  CHECK(count(adam_bytes, "'descr': '<i8'") == 6);          // state.<i>.step
  CHECK(count(adam_bytes, "'descr': '|b1'") == 3);          // type.Adam, amsgrad, maximize
  CHECK(count(adam_bytes, "'descr': '<f8'") == 6 * 2 + 4);  // exp_avg, exp_avg_sq; lr, betas, eps, weight_decay
  CHECK(count(adam_bytes, "'descr': '<f4'") == 0);
  for (const auto& [key, t] : load_tensors(dir.file("model.npz"))) CHECK_MESSAGE(t.dtype() == kFloat64, key);

  // a fresh float64 model and optimizer resume from the files exactly
  manual_seed(22);
  Model resumed;
  resumed.to(kFloat64);
  optim::Adam opt2(resumed.parameters(), {.lr = 1e-2});
  load(resumed, dir.file("model.npz"));
  load(opt2, dir.file("adam.npz"));
  CHECK(bit_identical(m, resumed));
  CHECK(opt2.state(0).step == 30);
  CHECK(opt2.state(0).buffers.at("exp_avg").dtype() == kFloat64);
  train_float64(m, opt, 30, 4);
  train_float64(resumed, opt2, 30, 4);
  CHECK(bit_identical(m, resumed));
}

TEST_CASE("an entry of another dtype than its parameter is refused with IoError; the model is untouched") {
  unroll_test::TempDir dir;
  manual_seed(23);
  Model source;
  manual_seed(24);
  Model target;
  const auto before = snapshot(target);

  SUBCASE("a float64 checkpoint into a float32 model: the first entry is named") {
    Model wide;
    wide.load_state_dict(source.state_dict());
    wide.to(kFloat64);
    const std::string path = dir.file("f64.npz");
    save(wide, path);
    CHECK_THROWS_WITH_AS(load(target, path),
                         ("load: " + path +
                          ": entry 'rnn.weight_ih_l0' is float64 but the parameter is float32 (convert the model "
                          "with .to(kFloat64) before loading)")
                             .c_str(),
                         IoError);
  }
  SUBCASE("one float64 entry, the last, among float32 ones: nothing before it was copied") {
    auto state = source.state_dict();
    state["head.bias"] = state.at("head.bias").to(kFloat64);
    const std::string path = dir.file("mixed.npz");
    save_tensors(state, path);
    CHECK_THROWS_WITH_AS(load(target, path),
                         has("load: " + path + ": entry 'head.bias' is float64 but the parameter is float32"), IoError);
  }
  SUBCASE("an int64 entry") {
    auto state = source.state_dict();
    state["head.bias"] = tensor({1, 2});
    const std::string path = dir.file("int.npz");
    save_tensors(state, path);
    CHECK_THROWS_WITH_AS(load(target, path),
                         ("load: " + path + ": entry 'head.bias' is int64 but the parameter is float32").c_str(),
                         IoError);
  }
  SUBCASE("a float32 checkpoint into a float64 model") {
    const std::string path = dir.file("f32.npz");
    save(source, path);
    target.to(kFloat64);
    const auto before64 = snapshot(target);
    CHECK_THROWS_WITH_AS(load(target, path),
                         has("load: " + path +
                             ": entry 'rnn.weight_ih_l0' is float32 but the parameter is float64 (convert the model "
                             "with .to(kFloat32) before loading)"),
                         IoError);
    CHECK(snapshot(target) == before64);
    target.to(kFloat32);  // back to the values `before` holds (float32 -> float64 -> float32 is exact)
  }
  CHECK(snapshot(target) == before);
  // the control: the same file in the right dtype loads
  const std::string good = dir.file("good.npz");
  save(source, good);
  load(target, good);
  CHECK(bit_identical(source, target));
}

TEST_CASE("optimizer files: buffers must have their parameter's dtype, numbers their own; nothing changes on error") {
  unroll_test::TempDir dir;
  manual_seed(25);
  Model m;
  optim::Adam adam(m.parameters(), {.lr = 0.1});
  train(m, adam, {}, 0, 2);
  const auto before = snapshot(adam);

  // the state of the same model trained in float64
  Model wide;
  wide.load_state_dict(m.state_dict());
  wide.to(kFloat64);
  optim::Adam wide_adam(wide.parameters(), {.lr = 0.5});
  train_float64(wide, wide_adam, 0, 1);
  const std::string path64 = dir.file("adam64.npz");
  save(wide_adam, path64);
  CHECK_THROWS_WITH_AS(load(adam, path64),
                       ("load: " + path64 +
                        ": entry 'state.0.exp_avg' is float64 but parameter 0 is float32 (convert the model with "
                        ".to(kFloat64) before loading)")
                           .c_str(),
                       IoError);
  CHECK(snapshot(adam) == before);
  CHECK(adam.lr() == 0.1);
  // in memory, load_state_dict refuses it with Error
  CHECK_THROWS_WITH_AS(adam.load_state_dict(wide_adam.state_dict()),
                       "Adam: load_state_dict: entry 'state.0.exp_avg' is float64 but parameter 0 is float32", Error);
  CHECK(snapshot(adam) == before);
  CHECK(adam.lr() == 0.1);

  // a step counter, a flag or a real number of the wrong dtype
  const std::string path = dir.file("bad.npz");
  const std::pair<std::string, Tensor> bad_entries[] = {{"state.0.step", scalar(2.0)},
                                                        {"param_groups.0.amsgrad", scalar(int64_t{0})},
                                                        {"param_groups.0.lr", scalar(int64_t{1})},
                                                        {"param_groups.0.eps", scalar(1e-8)}};
  const char* const messages[] = {"entry 'state.0.step' is float32 but must be int64",
                                  "entry 'param_groups.0.amsgrad' is int64 but must be bool",
                                  "entry 'param_groups.0.lr' is int64 but must be float64",
                                  "entry 'param_groups.0.eps' is float32 but must be float64"};
  for (size_t k = 0; k < 4; ++k) {
    optim::StateDict state = adam.state_dict();
    state[bad_entries[k].first] = bad_entries[k].second;
    save_tensors(state, path);
    CHECK_THROWS_WITH_AS(load(adam, path), has("load: " + path + ": Adam: " + messages[k]), Error);
    CHECK(snapshot(adam) == before);
  }
  // a negative step counter
  optim::StateDict state = adam.state_dict();
  state["state.3.step"] = scalar(-1);
  CHECK_THROWS_WITH_AS(adam.load_state_dict(state),
                       doctest::Contains("entry 'state.3.step' must be an integer in [0, 2^53), got -1"), Error);
  CHECK(snapshot(adam) == before);
}

TEST_CASE("optimizer and scheduler files as older versions wrote them (every number '<f8') still load") {
  unroll_test::TempDir dir;
  manual_seed(26);
  Model a;
  optim::SGD opt(a.parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
  optim::MultiStepLR schedule(opt, {.milestones = {3, 5}, .gamma = 0.5});
  train(a, opt, {&schedule}, 0, 4);

  // Rewrite both states the old way: buffers as they are (float32), every other entry as float64 values of
  // shape () for one value and (n,) for several (what npy_from_doubles writes).
  auto write_old = [](const optim::StateDict& state, const std::string& path) {
    detail::NpzEntries entries;
    for (const auto& [key, t] : state) {
      if (t.dtype() == kFloat32)
        entries.emplace_back(key, detail::npy_from_tensor(t));
      else
        entries.emplace_back(key, detail::npy_from_doubles(t.to(kFloat64).to_vector<double>()));
    }
    detail::write_npz(path, entries);
  };
  write_old(opt.state_dict(), dir.file("sgd.npz"));
  write_old(schedule.state_dict(), dir.file("multistep.npz"));
  const std::string old_bytes = slurp(dir.file("sgd.npz"));
  CHECK(count(old_bytes, "'descr': '<i8'") + count(old_bytes, "'descr': '|b1'") == 0);
  CHECK(count(old_bytes, "'descr': '<f8'") == 1 + 6 + 1 + 6);  // type, 6 options, initial_lr, 6 step counters

  Model b;
  b.load_state_dict(a.state_dict());
  optim::SGD opt2(b.parameters(), {.lr = 1, .momentum = 0.5});
  optim::MultiStepLR schedule2(opt2, {.milestones = {1}});
  load(opt2, dir.file("sgd.npz"));
  load(schedule2, dir.file("multistep.npz"));
  CHECK(opt2.options().nesterov);
  CHECK(opt2.options().momentum == 0.9);
  CHECK(opt2.state(0).step == 4);
  CHECK(schedule2.options().milestones == std::vector<int64_t>{3, 5});
  CHECK(schedule2.last_epoch() == 4);
  train(a, opt, {&schedule}, 4, 3);
  train(b, opt2, {&schedule2}, 4, 3);
  CHECK(bit_identical(a, b));
  CHECK(opt2.lr() == opt.lr());

  // an old file whose counter is not an integer is refused
  optim::StateDict state = opt.state_dict();
  state["state.0.step"] = scalar(2.5, kFloat64);
  write_old(state, dir.file("bad.npz"));
  CHECK_THROWS_WITH_AS(load(opt2, dir.file("bad.npz")), has("SGD: entry 'state.0.step' is float64 holding 2.5"), Error);
}

// ---- values out of range -----------------------------------------------------------------------------

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// A state entry's replacement and the error it must cause.
struct BadValue {
  std::string key;
  Tensor value;
  std::string message;  // after "load: <path>: <Name>: "
};

Tensor f64(double v) { return scalar(v, kFloat64); }
Tensor i64(int64_t v) { return scalar(v, kInt64); }

std::map<std::string, std::string> snapshot(const optim::StateDict& state) {
  std::map<std::string, std::string> out;
  for (const auto& [key, t] : state) out[key] = bytes_of(t);
  return out;
}

// Saves `state` with each bad value in turn and loads it into `target`: each load throws IoError naming the
// file and the entry, and leaves `target`'s state (and its optimizer's lr) as it was.
template <class Target>
void expect_refused(Target& target, const std::string& name, const optim::StateDict& state,
                    const std::vector<BadValue>& cases, const std::string& path, optim::Optimizer& opt) {
  const auto before = snapshot(target.state_dict());
  const double lr = opt.lr();
  for (const BadValue& c : cases) {
    CAPTURE(c.key);
    CAPTURE(c.message);
    optim::StateDict bad = state;
    REQUIRE(bad.count(c.key) == 1);
    bad[c.key] = c.value;
    save_tensors(bad, path);
    CHECK_THROWS_WITH_AS(load(target, path), has("load: " + path + ": " + name + ": " + c.message), IoError);
    CHECK(snapshot(target.state_dict()) == before);
    CHECK(opt.lr() == lr);
    // in memory, load_state_dict refuses it with unroll::Error
    CHECK_THROWS_AS(target.load_state_dict(bad), Error);
    CHECK(snapshot(target.state_dict()) == before);
  }
  save_tensors(state, path);  // the control: the state as saved loads
  load(target, path);
  CHECK(snapshot(target.state_dict()) == before);
}

const char* const kReal = "must be a finite number >= 0, got ";

}  // namespace

TEST_CASE("optimizer files: non-finite or out-of-range numbers are refused with IoError; nothing changes") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("bad.npz");
  manual_seed(31);
  Model m;
  optim::Adam adam(m.parameters(), {.lr = 0.1});
  optim::StepLR schedule(adam, {.step_size = 2});  // sets initial_lr
  train(m, adam, {&schedule}, 0, 3);
  const std::string step_range = "must be an integer in [0, 2^53), got ";
  expect_refused(
      adam, "Adam", adam.state_dict(),
      {{"param_groups.0.lr", f64(kInf), "entry 'param_groups.0.lr' " + std::string(kReal) + "inf"},
       {"param_groups.0.lr", f64(kNaN), "entry 'param_groups.0.lr' " + std::string(kReal) + "nan"},
       {"param_groups.0.lr", f64(-0.5), "entry 'param_groups.0.lr' " + std::string(kReal) + "-0.5"},
       {"param_groups.0.initial_lr", f64(kNaN), "entry 'param_groups.0.initial_lr' " + std::string(kReal) + "nan"},
       {"param_groups.0.initial_lr", f64(-kInf), "entry 'param_groups.0.initial_lr' " + std::string(kReal) + "-inf"},
       {"param_groups.0.eps", f64(kInf), "entry 'param_groups.0.eps' " + std::string(kReal) + "inf"},
       {"param_groups.0.weight_decay", f64(-1), "entry 'param_groups.0.weight_decay' " + std::string(kReal) + "-1"},
       {"param_groups.0.betas", tensor({0.9, kNaN}, kFloat64),
        "entry 'param_groups.0.betas' must be finite numbers in [0, 1), got [0.9, nan]"},
       {"param_groups.0.betas", tensor({1.0, 0.999}, kFloat64),
        "entry 'param_groups.0.betas' must be finite numbers in [0, 1), got [1, 0.999]"},
       {"state.0.step", i64(int64_t{1} << 62), "entry 'state.0.step' " + step_range + "4611686018427387904"},
       {"state.2.step", i64(-1), "entry 'state.2.step' " + step_range + "-1"},
       {"state.1.exp_avg_sq", full({24, 6}, -1.0, kFloat32),
        "entry 'state.1.exp_avg_sq' holds -1 at element 0 (a sum or average of squared gradients is never "
        "negative)"}},
      path, adam);

  optim::SGD sgd(m.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  train(m, sgd, {}, 0, 1);
  expect_refused(
      sgd, "SGD", sgd.state_dict(),
      {{"param_groups.0.momentum", f64(kInf), "entry 'param_groups.0.momentum' " + std::string(kReal) + "inf"},
       {"param_groups.0.dampening", f64(kNaN), "entry 'param_groups.0.dampening' must be a finite number, got nan"},
       // each value in range, but not together (PyTorch's constructor refuses them too)
       {"param_groups.0.momentum", f64(0), "the options in 'param_groups.0' do not go together: "}},
      path, sgd);
}

TEST_CASE("scheduler files: non-finite or out-of-range numbers are refused with IoError; nothing changes") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("bad.npz");
  manual_seed(32);
  Model m;
  optim::SGD opt(m.parameters(), {.lr = 0.1});
  const std::string epochs = "must be an integer in [0, 2^53), got ";
  const std::string positive = "must be an integer in [1, 2^53), got ";

  optim::StepLR step_lr(opt, {.step_size = 2, .gamma = 0.5});
  train(m, opt, {&step_lr}, 0, 3);
  expect_refused(step_lr, "StepLR", step_lr.state_dict(),
                 {{"gamma", f64(kInf), "entry 'gamma' " + std::string(kReal) + "inf"},
                  {"gamma", f64(kNaN), "entry 'gamma' " + std::string(kReal) + "nan"},
                  {"gamma", f64(-0.5), "entry 'gamma' " + std::string(kReal) + "-0.5"},
                  {"_last_lr", f64(kInf), "entry '_last_lr' " + std::string(kReal) + "inf"},
                  {"base_lrs", f64(kNaN), "entry 'base_lrs' " + std::string(kReal) + "nan"},
                  {"last_epoch", i64(-3), "entry 'last_epoch' " + epochs + "-3"},
                  {"_step_count", i64(int64_t{1} << 62), "entry '_step_count' " + epochs + "4611686018427387904"},
                  {"step_size", i64(0), "entry 'step_size' " + positive + "0"}},
                 path, opt);

  optim::ExponentialLR exponential(opt, {.gamma = 0.9});
  expect_refused(exponential, "ExponentialLR", exponential.state_dict(),
                 {{"gamma", f64(kInf), "entry 'gamma' " + std::string(kReal) + "inf"}}, path, opt);

  optim::MultiStepLR multistep(opt, {.milestones = {2, 4}});
  expect_refused(multistep, "MultiStepLR", multistep.state_dict(),
                 {{"gamma", f64(-kInf), "entry 'gamma' " + std::string(kReal) + "-inf"}}, path, opt);

  optim::CosineAnnealingLR cosine(opt, {.T_max = 10});
  expect_refused(cosine, "CosineAnnealingLR", cosine.state_dict(),
                 {{"T_max", i64(int64_t{1} << 62), "entry 'T_max' " + positive + "4611686018427387904"},
                  {"eta_min", f64(kInf), "entry 'eta_min' " + std::string(kReal) + "inf"}},
                 path, opt);

  optim::LinearLR linear(opt, {.start_factor = 0.5});
  expect_refused(linear, "LinearLR", linear.state_dict(),
                 {{"start_factor", f64(kNaN), "entry 'start_factor' must be a finite number in (0, 1], got nan"},
                  {"end_factor", f64(1.5), "entry 'end_factor' must be a finite number in [0, 1], got 1.5"},
                  {"total_iters", i64(int64_t{1} << 62), "entry 'total_iters' " + positive + "4611686018427387904"}},
                 path, opt);

  optim::ReduceLROnPlateau plateau(opt, {.patience = 1});
  for (double metric : {1.0, 0.5, 0.6, 0.7}) plateau.step(metric);
  expect_refused(plateau, "ReduceLROnPlateau", plateau.state_dict(),
                 {{"min_lrs", f64(kInf), "entry 'min_lrs' " + std::string(kReal) + "inf"},
                  {"eps", f64(kNaN), "entry 'eps' must be a finite number, got nan"},
                  {"threshold", f64(kInf), "entry 'threshold' must be a finite number, got inf"},
                  {"factor", f64(1), "entry 'factor' must be a finite number in [0, 1), got 1"},
                  {"best", f64(kNaN), "entry 'best' must be a number (not NaN), got nan"},
                  {"patience", i64(int64_t{1} << 62), "entry 'patience' " + epochs + "4611686018427387904"},
                  {"num_bad_epochs", i64(-1), "entry 'num_bad_epochs' " + epochs + "-1"},
                  {"cooldown_counter", i64(-1), "entry 'cooldown_counter' " + epochs + "-1"},
                  {"mode", i64(2), "entry 'mode' must be 0 (min) or 1 (max), got 2"}},
                 path, opt);
}
