// char_lm: a character-level language model, the flagship tutorial (docs/language_models.md).
//
// The model reads text one character at a time and predicts the next one:
//
//   ids [T, N] -> Embedding -> [T, N, E] -> RNN / LSTM / GRU (L layers) -> [T, N, H] -> Linear -> [T, N, V]
//
// and is trained on the mean cross-entropy of those predictions (nats per character). The text is cut into
// N parallel streams that are read T characters (one "chunk") at a time; the recurrent state is carried
// from one chunk to the next and detached in between (truncated backpropagation through time), so the
// model sees an unbounded context but gradients flow back at most T steps. After training it writes new
// text by sampling one character at a time with a temperature.
//
// Shape legend: T = --bptt (time steps per chunk), N = --batch (parallel streams), V = vocabulary size,
// E = --embed, H = --hidden, L = --layers.
//
//   ./build/examples/char_lm                          # the repository's own docs as the corpus, ~1 minute
//   ./build/examples/char_lm --data FILE              # any UTF-8 text
//   ./build/examples/char_lm --preset shakespeare --data input.txt   # 2 x 256 LSTM, as in PyTorch's reference
//   ./build/examples/char_lm --save ckpt ... ; ./build/examples/char_lm --resume ckpt ...  # continue exactly
//   ./build/examples/char_lm --quick --check          # the test: loss beats log(V), resume is bit-identical
//   mpirun -np 2 ./build/examples/char_lm --distributed  # data-parallel, --batch streams per rank
//                                                      # (docs/distributed.md; needs -DUNROLL_DISTRIBUTED=ON)
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "common/checkpoint.hpp"
#include "common/cli.hpp"
#include "common/data_parallel.hpp"
#include "common/nan_guard.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/text_file.hpp"

#ifndef UNROLL_SOURCE_DIR  // set by examples/CMakeLists.txt: where the default corpus (the docs) lives
#define UNROLL_SOURCE_DIR "."
#endif

using namespace unroll;
namespace fs = std::filesystem;

// ---- text: UTF-8 <-> code points <-> ids ------------------------------------------------------------

// Code points of a UTF-8 string (a byte that does not start a valid sequence stands for itself). Text files
// are checked first (read_file), so this leniency only applies to --prime.
std::vector<char32_t> decode_utf8(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char b = s[i];
    const int extra = b < 0x80 ? 0 : (b >> 5) == 6 ? 1 : (b >> 4) == 14 ? 2 : (b >> 3) == 30 ? 3 : -1;
    bool ok = extra >= 0 && i + extra < s.size();
    char32_t c = extra <= 0 ? b : b & (0x3f >> extra);
    for (int k = 1; ok && k <= extra; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
      c = (c << 6) | (s[i + k] & 0x3f);
    }
    out.push_back(ok ? c : b);
    i += ok ? extra + 1 : 1;
  }
  return out;
}

std::string encode_utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xc0 | (c >> 6)), s += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xe0 | (c >> 12)), s += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    s += static_cast<char>(0xf0 | (c >> 18)), s += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3f)), s += static_cast<char>(0x80 | (c & 0x3f));
  }
  return s;
}

// The model works on characters (Unicode code points), so a text file must be valid UTF-8: an empty file or
// invalid UTF-8 is refused with the file name and line (common/text_file.hpp).
std::string read_file(const fs::path& path) { return examples::read_text_file(path.string()); }

// The default corpus: the repository's own README.md and docs/*.md, so the example runs anywhere.
std::string default_corpus(std::string& description) {
  const fs::path root = UNROLL_SOURCE_DIR;
  std::vector<fs::path> files;
  if (fs::exists(root / "README.md")) files.push_back(root / "README.md");
  std::vector<fs::path> docs;
  if (fs::is_directory(root / "docs"))
    for (const auto& entry : fs::directory_iterator(root / "docs"))
      if (entry.is_regular_file() && entry.path().extension() == ".md") docs.push_back(entry.path());
  std::sort(docs.begin(), docs.end());  // a fixed order, so a seed means the same run
  files.insert(files.end(), docs.begin(), docs.end());
  if (files.empty())
    throw examples::DataError("no default corpus: neither " + (root / "README.md").string() + " nor " +
                             (root / "docs/*.md").string() + " exists; pass --data FILE");
  std::string text;
  for (const fs::path& f : files) text += read_file(f) + "\n";
  description = std::to_string(files.size()) + " files: README.md + " + std::to_string(docs.size()) + " docs/*.md";
  return text;
}

struct Corpus {
  std::vector<char32_t> vocab;        // id -> character, sorted
  std::vector<int64_t> train, valid;  // the first 90% and the last 10% of the text, as ids
  int64_t id(char32_t c) const {
    const auto it = std::lower_bound(vocab.begin(), vocab.end(), c);
    if (it == vocab.end() || *it != c) return -1;
    return it - vocab.begin();
  }
};

// Splits `text` 90/10 and maps characters to ids of `vocab` (built from the text when empty).
Corpus make_corpus(const std::vector<char32_t>& text, std::vector<char32_t> vocab) {
  Corpus corpus;
  if (vocab.empty()) {
    vocab = text;
    std::sort(vocab.begin(), vocab.end());
    vocab.erase(std::unique(vocab.begin(), vocab.end()), vocab.end());
  }
  corpus.vocab = std::move(vocab);
  const size_t n_train = text.size() * 9 / 10;
  for (size_t i = 0; i < text.size(); ++i) {
    const int64_t id = corpus.id(text[i]);
    if (id < 0)
      throw examples::UsageError("the text has the character '" + encode_utf8(text[i]) +
                               "', which is not in the checkpoint's vocabulary (resume with the same text)");
    (i < n_train ? corpus.train : corpus.valid).push_back(id);
  }
  return corpus;
}

// Cuts ids into N contiguous streams read in parallel: [N, K] row-major, K = size / N (the tail is dropped).
struct Streams {
  std::vector<int64_t> ids;
  int64_t n = 0, k = 0;
  Streams(const std::vector<int64_t>& text, int64_t streams)
      : n(streams), k(static_cast<int64_t>(text.size()) / streams) {
    ids.assign(text.begin(), text.begin() + n * k);
  }
  // Columns [pos, pos + len) as inputs x: [len, N] and the next characters as targets y: [len * N], both
  // int64 ids (what embedding and cross_entropy take).
  void chunk(int64_t pos, int64_t len, Tensor& x, Tensor& y) const {
    x = empty({len, n}, kInt64);
    y = empty({len * n}, kInt64);
    int64_t* inputs = x.data<int64_t>();
    int64_t* targets = y.data<int64_t>();
    for (int64_t t = 0; t < len; ++t)
      for (int64_t s = 0; s < n; ++s) {
        inputs[t * n + s] = ids[s * k + pos + t];
        targets[t * n + s] = ids[s * k + pos + t + 1];
      }
  }
};

// ---- the model -------------------------------------------------------------------------------------

struct Config {
  std::string cell = "lstm";  // rnn (tanh), lstm or gru
  int64_t layers = 1, hidden = 128, embed = 32;
  double dropout = 0;
  int64_t batch = 16, bptt = 64;
  std::string optimizer = "adam";
  double lr = 2e-3, clip = 5, lr_decay = 1;
  uint64_t seed = 0;
};

class CharLM : public layers::Module {
 public:
  CharLM(int64_t vocab, const Config& c)
      : embed({.num_embeddings = vocab, .embedding_dim = c.embed}),
        rnn(make_rnn(c)),
        drop(c.dropout),
        head({.in_features = c.hidden, .out_features = vocab}) {
    register_module("embed", embed);
    register_module("rnn", *rnn);
    register_module("drop", drop);
    register_module("head", head);
  }

  // x: [T, N] int64 ids, state: components [L, N, H] (empty: zeros) -> logits [T, N, V] and the state after x.
  std::pair<Tensor, layers::State> forward(const Tensor& x, const layers::State& state) {
    const Tensor e = embed(x);          // [T, N, E]
    auto [y, next] = (*rnn)(e, state);  // y: [T, N, H] (the top layer's h at every step)
    return {head(drop(y)), next};       // [T, N, V]
  }
  std::string describe() const override { return "CharLM"; }

  layers::Embedding embed;
  std::unique_ptr<layers::RecurrentNetwork> rnn;
  layers::Dropout drop;  // on the top layer's outputs; --layers > 1 also drops between layers
  layers::Linear head;

 private:
  static std::unique_ptr<layers::RecurrentNetwork> make_rnn(const Config& c) {
    const double p = c.dropout;
    if (c.cell == "lstm")
      return std::make_unique<layers::LSTM>(
          layers::LSTMOptions{.input_size = c.embed, .hidden_size = c.hidden, .num_layers = c.layers, .dropout = p});
    if (c.cell == "gru")
      return std::make_unique<layers::GRU>(
          layers::GRUOptions{.input_size = c.embed, .hidden_size = c.hidden, .num_layers = c.layers, .dropout = p});
    if (c.cell == "rnn")
      return std::make_unique<layers::RNN>(
          layers::RNNOptions{.input_size = c.embed, .hidden_size = c.hidden, .num_layers = c.layers, .dropout = p});
    throw examples::UsageError("--cell must be rnn, lstm or gru, got '" + c.cell + "'");
  }
};

layers::State detached(const layers::State& s) {
  return {s.h.defined() ? s.h.detach() : Tensor(), s.c.defined() ? s.c.detach() : Tensor()};
}

// ---- training: model + optimizer + the position in the text ----------------------------------------

// With --distributed, each of the K ranks holds a replica and reads `config.batch` = B streams of its own:
// together exactly the K*B streams one process with --batch K*B reads (distributed::shard_stream), and
// with the gradients averaged over the ranks every step is that process's step. Checkpoints hold the
// carried state of all K*B streams, so one can be resumed by K ranks or by one process with batch K*B.
class Trainer {
 public:
  Trainer(const Config& config, const Corpus& corpus, examples::DataParallelRun& run)
      : config_(config),
        corpus_(corpus),
        run_(run),
        train_(distributed::shard_stream(corpus.train, config.batch, run.rank(), run.world_size()), config.batch) {
    steps_per_epoch_ = (train_.k - 1) / config.bptt;
    if (steps_per_epoch_ < 1)
      throw examples::UsageError("the training text (" + std::to_string(corpus.train.size()) +
                               " characters) is too short for --batch " + std::to_string(config.batch) + " x --bptt " +
                               std::to_string(config.bptt));
    manual_seed(config.seed);  // the initial weights
    model_ = std::make_unique<CharLM>(static_cast<int64_t>(corpus.vocab.size()), config);
    run_.attach(model_->parameters());  // every rank starts from rank 0's weights
    if (config.optimizer == "adam")
      optimizer_ = std::make_unique<optim::Adam>(model_->parameters(), optim::AdamOptions{.lr = config.lr});
    else if (config.optimizer == "sgd")
      optimizer_ = std::make_unique<optim::SGD>(model_->parameters(), optim::SGDOptions{.lr = config.lr});
    else
      throw examples::UsageError("--optimizer must be adam or sgd, got '" + config.optimizer + "'");
    if (config.lr_decay != 1)  // lr * lr_decay after every epoch
      schedule_ =
          std::make_unique<optim::ExponentialLR>(*optimizer_, optim::ExponentialLROptions{.gamma = config.lr_decay});
  }

  // One optimizer step on the next chunk of T characters of every stream; returns the chunk's mean loss.
  double train_step() {
    const int64_t T = config_.bptt, V = static_cast<int64_t>(corpus_.vocab.size());
    const int64_t pos = (step_ % steps_per_epoch_) * T;
    if (pos == 0) state_ = {};  // a new pass over the text starts from a zero state
    Tensor x, y;
    train_.chunk(pos, T, x, y);  // x: [T, N], y: [T * N], int64 ids
    // Dropout masks depend only on (seed, step, rank), so a resumed run draws exactly the masks it would have.
    manual_seed(config_.seed + 1 + static_cast<uint64_t>(step_) + (static_cast<uint64_t>(run_.rank()) << 40));
    auto [logits, next] = model_->forward(x, state_);                               // [T, N, V]
    const Tensor loss = cross_entropy(reshape(logits, {T * config_.batch, V}), y);  // mean over T * N
    optimizer_->zero_grad();
    loss.backward();  // BPTT through this chunk's T steps, and no further: state_ was detached
    const double mean_loss = run_.average_gradients(loss.item());  // --distributed: the mean over the ranks
    optim::clip_grad_norm(model_->parameters(), config_.clip);
    optimizer_->step();
    // Carry the state into the next chunk, but cut the graph: the next backward stops here.
    state_ = detached(next);
    ++step_;
    if (schedule_ && step_ % steps_per_epoch_ == 0) schedule_->step();
    return mean_loss;
  }

  // Mean cross-entropy (nats/char) over a whole text, read as N streams in chunks of T with the state
  // carried along (the same conditions as training), without dropout and without recording a graph.
  // With --distributed every rank reads its own streams and the totals are summed over the ranks.
  double evaluate(const std::vector<int64_t>& ids) {
    const int K = run_.world_size();
    if (static_cast<int64_t>(ids.size()) < 2 * config_.batch * K)
      throw examples::UsageError("the validation text is too short for --batch " + std::to_string(config_.batch));
    const Streams streams(distributed::shard_stream(ids, config_.batch, run_.rank(), K), config_.batch);  // k >= 2
    const int64_t V = static_cast<int64_t>(corpus_.vocab.size());
    NoGradGuard no_grad;
    model_->eval();
    layers::State state;
    double total = 0;
    for (int64_t pos = 0; pos < streams.k - 1; pos += config_.bptt) {
      const int64_t len = std::min(config_.bptt, streams.k - 1 - pos);
      Tensor x, y;
      streams.chunk(pos, len, x, y);
      auto [logits, next] = model_->forward(x, state);
      total += cross_entropy(reshape(logits, {len * streams.n, V}), y, {.reduction = Reduction::Sum}).item();
      state = next;
    }
    model_->train();
    std::vector<double> totals = {total, static_cast<double>((streams.k - 1) * streams.n)};
    run_.sum(totals);
    return totals[0] / totals[1];
  }

  // Checkpoint: a directory with the model, the optimizer (and schedule) as optim's save() writes them, and
  // trainer.npz: the step and the settings a resume must share (int64 scalars), the vocabulary (int64 code
  // points [V]) and the carried state (float32 [L, K*B, H]). The directory is replaced as a whole
  // (save_directory), by rank 0 only; every rank calls save().
  void save(const fs::path& dir) const {
    std::map<std::string, Tensor> t;
    for (const auto& [name, value] : settings()) t[name] = scalar(value);  // int64, shape ()
    t["vocab"] = tensor(std::vector<int64_t>(corpus_.vocab.begin(), corpus_.vocab.end()),
                        {static_cast<int64_t>(corpus_.vocab.size())});
    if (state_.h.defined()) t["state.h"] = all_streams(state_.h);
    if (state_.c.defined()) t["state.c"] = all_streams(state_.c);
    run_.save_on_root([&] {
      save_directory(dir.string(), [&](const std::string& staging) {
        unroll::save(*model_, staging + "/model.npz");
        unroll::save(*optimizer_, staging + "/optimizer.npz");
        if (schedule_) unroll::save(*schedule_, staging + "/schedule.npz");
        save_tensors(t, staging + "/trainer.npz");
      });
    });
  }

  // Every entry of trainer.npz is checked before anything changes (common/checkpoint.hpp): its dtype, its
  // shape, and its value: the settings must be this run's, the step must be a step (a negative one would
  // read before the text), the carried state must have this model's shape [L, K*B, H] and finite values.
  void load(const fs::path& dir) {
    const std::string path = (dir / "trainer.npz").string();
    const std::map<std::string, Tensor> t = load_tensors(path);
    const int64_t max = std::numeric_limits<int64_t>::max();
    for (const auto& [name, value] : settings())
      if (name != "step" && examples::checkpoint_integer(t, path, name, std::numeric_limits<int64_t>::min(), max) != value)
        throw examples::UsageError(
            "resume: " + dir.string() + " was written with another " + name +
            " (--cell, --batch, --bptt, --seed and the text must be the same as when it was saved)");
    const int64_t step = examples::checkpoint_integer(t, path, "step", 0, max);
    const std::vector<int64_t> shape = {config_.layers, config_.batch * run_.world_size(), config_.hidden};
    const bool lstm = config_.cell == "lstm";
    if (t.count("state.c") && (!lstm || !t.count("state.h")))
      throw IoError(path + ": entry 'state.c' is there, but the model " + (lstm ? "has no 'state.h'" : "is no LSTM"));
    if (lstm && t.count("state.h") && !t.count("state.c"))
      throw IoError(path + ": no entry 'state.c' (an LSTM's state has h and c)");
    Tensor h, c;  // the carried state: float32, as the model
    if (t.count("state.h")) h = my_streams(examples::checkpoint_state(t, path, "state.h", shape));
    if (t.count("state.c")) c = my_streams(examples::checkpoint_state(t, path, "state.c", shape));
    if (schedule_ && !fs::exists(dir / "schedule.npz"))
      throw examples::UsageError("resume: " + dir.string() + " has no schedule.npz (it was saved without --lr-decay)");
    unroll::load(*model_, (dir / "model.npz").string());
    unroll::load(*optimizer_, (dir / "optimizer.npz").string());
    if (schedule_) unroll::load(*schedule_, (dir / "schedule.npz").string());
    step_ = step;
    state_ = {h, c};
  }

  // The vocabulary stored in a checkpoint (to encode the text the same way before building the Trainer):
  // Unicode scalar values (U+0000 to U+10FFFF, no surrogates) in increasing order, as make_corpus sorts them.
  static std::vector<char32_t> saved_vocab(const fs::path& dir) {
    const std::string path = (dir / "trainer.npz").string();
    const std::map<std::string, Tensor> t = load_tensors(path);
    const Tensor& entry = examples::checkpoint_entry(t, path, "vocab", kInt64);
    if (entry.dim() != 1 || entry.numel() < 1)
      throw IoError(path + ": entry 'vocab' has shape " + examples::shape_text(entry) + ", expected [V], V >= 1");
    std::vector<char32_t> vocab;
    for (int64_t c : entry.to_vector<int64_t>()) {
      const bool scalar_value = c >= 0 && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
      if (!scalar_value || (!vocab.empty() && c <= static_cast<int64_t>(vocab.back())))
        throw IoError(path + ": entry 'vocab' has " + std::to_string(c) + " at index " + std::to_string(vocab.size()) +
                      ": not a Unicode code point in increasing order");
      vocab.push_back(static_cast<char32_t>(c));
    }
    return vocab;
  }

  CharLM& model() { return *model_; }
  const optim::Optimizer& optimizer() const { return *optimizer_; }
  int64_t step() const { return step_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }

 private:
  // The step, and the settings that must match between a checkpoint and the run resuming it, as int64
  // (the 64-bit seed keeps its bits). "batch" is the number of streams over all ranks.
  std::vector<std::pair<std::string, int64_t>> settings() const {
    const int64_t cell = config_.cell == "rnn" ? 0 : config_.cell == "lstm" ? 1 : 2;
    return {{"step", step_},
            {"batch", config_.batch * run_.world_size()},
            {"bptt", config_.bptt},
            {"cell", cell},
            {"seed", static_cast<int64_t>(config_.seed)},
            {"train_chars", static_cast<int64_t>(corpus_.train.size())}};
  }

  // A carried state component [L, B, H] of this rank's streams -> [L, K*B, H] of all ranks' streams, in the
  // order one process with batch K*B holds them.
  Tensor all_streams(const Tensor& mine) const {
    const int64_t L = mine.size(0), B = mine.size(1), H = mine.size(2), K = run_.world_size();
    const std::vector<float> all = run_.all_gather(mine.data<float>(), mine.numel());  // [K, L, B, H]
    return reshape(permute(tensor(all, {K, L, B, H}), {1, 0, 2, 3}), {L, K * B, H});
  }
  // The inverse: this rank's streams [L, B, H] out of [L, K*B, H].
  Tensor my_streams(const Tensor& all) const { return narrow(all, 1, run_.rank() * config_.batch, config_.batch); }

  Config config_;
  const Corpus& corpus_;
  examples::DataParallelRun& run_;
  Streams train_;
  int64_t steps_per_epoch_ = 0, step_ = 0;
  std::unique_ptr<CharLM> model_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<optim::ExponentialLR> schedule_;
  layers::State state_;  // carried from chunk to chunk, always detached
};

// ---- sampling --------------------------------------------------------------------------------------

// Feeds `prime`, then draws `count` characters one at a time from softmax(logits / temperature)
// (temperature 0: always the most likely character). Returns the text drawn.
std::string sample(CharLM& model, const Corpus& corpus, const std::vector<char32_t>& prime, int64_t count,
                   double temperature, Generator& gen) {
  NoGradGuard no_grad;
  model.eval();
  layers::State state;
  Tensor x = empty({1, 1}, kInt64), logits;  // one stream, one step at a time: the id of one character
  auto feed = [&](int64_t id) {
    x.data<int64_t>()[0] = id;
    auto [out, next] = model.forward(x, state);  // [1, 1, V]
    logits = out;
    state = next;
  };
  for (char32_t c : prime) {
    const int64_t id = corpus.id(c);
    if (id < 0) throw std::runtime_error("--prime has the character '" + encode_utf8(c) + "', which the text does not");
    feed(id);
  }
  std::string text;
  for (int64_t i = 0; i < count; ++i) {
    const std::vector<float> l = logits.to_vector<float>();
    size_t choice = std::max_element(l.begin(), l.end()) - l.begin();
    if (temperature > 0) {
      // p_i = exp((l_i - max) / temperature) / sum_j exp((l_j - max) / temperature)
      std::vector<double> p(l.size());
      double total = 0;
      for (size_t j = 0; j < l.size(); ++j) total += p[j] = std::exp((l[j] - l[choice]) / temperature);
      double u = gen.uniform(0, 1) * total;
      for (choice = 0; choice + 1 < p.size() && u >= p[choice]; ++choice) u -= p[choice];
    }
    text += encode_utf8(corpus.vocab[choice]);
    feed(static_cast<int64_t>(choice));
  }
  model.train();
  return text;
}

// ---- the program -----------------------------------------------------------------------------------

// Default settings: "docs" (the default corpus, ~1 minute), "quick" (the test), "shakespeare" (PyTorch's
// reference: bench/torch_char_lm.py).
struct Preset {
  Config config;
  int64_t steps, eval_every, max_chars;
};

Preset preset(const std::string& name) {
  if (name == "docs")
    return {
        {.cell = "lstm", .layers = 1, .hidden = 128, .embed = 32, .dropout = 0, .batch = 16, .bptt = 64, .lr = 4e-3},
        500,
        50,
        0};
  if (name == "quick")
    return {{.cell = "lstm",
             .layers = 1,
             .hidden = 64,
             .embed = 16,
             .dropout = 0.1,
             .batch = 16,
             .bptt = 16,
             .lr = 1e-2,
             .lr_decay = 0.9},
            250,
            50,
            30000};
  if (name == "shakespeare")
    return {{.cell = "lstm", .layers = 2, .hidden = 256, .embed = 64, .dropout = 0, .batch = 32, .bptt = 100},
            1600,
            200,
            0};
  throw examples::UsageError("--preset must be docs, quick or shakespeare, got '" + name + "'");
}

bool same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b, int64_t& differing, int64_t& total) {
  differing = total = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (int64_t j = 0; j < a[i].numel(); ++j, ++total)
      differing += std::memcmp(a[i].data<float>() + j, b[i].data<float>() + j, sizeof(float)) != 0;
  return differing == 0 && a.size() == b.size();
}

int run_char_lm(int argc, char** argv) {
  examples::Cli cli("char_lm", "char_lm: a character-level RNN / LSTM / GRU language model with truncated BPTT");
  // --quick and --preset choose the defaults of the other flags (shown by --help).
  bool quick = cli.peek_flag(argc, argv, "--quick");
  const std::vector<std::string> presets = {"docs", "quick", "shakespeare"};
  std::string preset_name = cli.peek(argc, argv, "--preset").value_or(quick ? "quick" : "docs");
  const bool known_preset = std::find(presets.begin(), presets.end(), preset_name) != presets.end();
  const Preset p = preset(known_preset ? preset_name : quick ? "quick" : "docs");  // parse() refuses the unknown
  Config c = p.config;
  const int64_t kMax = examples::kMaxSize;
  cli.flag("--quick", quick, "small model, few steps, first 30,000 characters (same as --preset quick)");
  cli.choice("--preset", preset_name, presets, "the defaults of the flags below");
  std::string data;
  cli.text("--data", data, "a UTF-8 text file to learn; none: this repository's README.md + docs/*.md");
  int64_t max_chars = p.max_chars;
  cli.count("--max-chars", max_chars, "use only the first N characters (0: all)", 0);
  cli.choice("--cell", c.cell, {"rnn", "lstm", "gru"}, "the recurrent cell");
  cli.count("--layers", c.layers, "stacked recurrent layers L", 1, kMax);
  cli.count("--hidden", c.hidden, "hidden size H", 1, kMax);
  cli.count("--embed", c.embed, "embedding size E", 1, kMax);
  cli.number("--dropout", c.dropout, "dropout between layers and before the head", examples::probability);
  cli.count("--batch", c.batch, "parallel streams N (with --distributed: per rank)", 1, kMax);
  cli.count("--bptt", c.bptt, "time steps per chunk T (truncated BPTT length)", 1, kMax);
  c.optimizer = cli.peek(argc, argv, "--optimizer").value_or(c.optimizer);
  if (c.optimizer == "sgd") c.lr = 1.0;
  cli.choice("--optimizer", c.optimizer, {"adam", "sgd"}, "the optimizer");
  cli.number("--lr", c.lr, "learning rate (with --optimizer sgd: 1 unless given)", examples::positive);
  cli.number("--clip", c.clip, "clip the gradient's global norm to this", examples::positive);
  cli.number("--lr-decay", c.lr_decay, "multiply the lr by this after every epoch (1: off)", examples::positive);
  cli.seed("--seed", c.seed, "random seed (weights, dropout, sampling)");
  int64_t steps = p.steps, epochs = 0, eval_every = p.eval_every, sample_chars = quick ? 120 : 400;
  cli.count("--steps", steps, "total optimizer steps (0: train nothing, only evaluate and sample)", 0);
  cli.count("--epochs", epochs, "train this many passes over the text (instead of --steps)")->default_str("");
  cli.count("--eval-every", eval_every, "validate (and print a line) every this many steps");
  double temperature = 0.8;
  cli.number("--temperature", temperature, "sampling temperature (0: always the most likely character)",
             examples::non_negative);
  cli.count("--sample-chars", sample_chars, "characters to sample after training", 0);
  std::string prime = "The ";
  cli.text("--prime", prime, "text the sample starts from (\\n: a newline)");
  bool sample_each = false, check = false, distributed = false;
  cli.flag("--sample-each", sample_each, "also print a short sample at every validation");
  std::string save_dir, resume_dir, out = "examples_out";
  cli.text("--save", save_dir, "checkpoint directory, written at every validation and at the end");
  cli.text("--resume", resume_dir, "continue training from this checkpoint directory");
  cli.text("--out", out, "directory for the loss curve (SVG + CSV)");
  cli.flag("--check", check, "exit 1 unless validation beats log(V) by 1.5 nats and resume is bit-identical");
  cli.flag("--distributed", distributed, "data-parallel over the ranks of `mpirun -np K` (MPI build)");
  double timeout = 300;
  cli.number("--timeout", timeout, "with --distributed: seconds to wait for a silent rank", examples::positive);
  cli.parse(argc, argv);
  examples::DataParallelRun run(distributed, timeout);  // rank 0 of 1 without --distributed
  const int K = run.world_size();

  // ---- the text ----
  std::string source;
  const std::string raw = data.empty() ? default_corpus(source) : read_file(data);
  if (!data.empty()) source = data;
  std::vector<char32_t> text = decode_utf8(raw);
  if (max_chars > 0 && static_cast<int64_t>(text.size()) > max_chars) text.resize(max_chars);
  if (text.size() < 100)
    throw examples::DataError(source + ": the text has only " + std::to_string(text.size()) +
                             " characters (at least 100 needed)");
  const Corpus corpus =
      make_corpus(text, resume_dir.empty() ? std::vector<char32_t>{} : Trainer::saved_vocab(resume_dir));
  const int64_t V = static_cast<int64_t>(corpus.vocab.size());
  const double uniform_loss = std::log(static_cast<double>(V));
  std::printf("text: %zu characters (%s), vocabulary V = %lld; train %zu, validation %zu (the last 10%%)\n",
              text.size(), source.c_str(), static_cast<long long>(V), corpus.train.size(), corpus.valid.size());

  // The prime is read before training, so that a character the model cannot read stops the run now.
  std::vector<char32_t> prime_text = prime == "\\n" ? std::vector<char32_t>{U'\n'} : decode_utf8(prime);
  const bool known = std::all_of(prime_text.begin(), prime_text.end(), [&](char32_t ch) { return corpus.id(ch) >= 0; });
  if (!known && cli.given("--prime"))
    throw examples::UsageError("--prime has a character that the text does not have");
  if (prime_text.empty() || !known) prime_text = {text[0]};  // the default prime, another script

  Trainer trainer(c, corpus, run);
  if (cli.given("--epochs") && epochs > std::numeric_limits<int64_t>::max() / trainer.steps_per_epoch())
    throw examples::UsageError("--epochs " + std::to_string(epochs) + " x " +
                               std::to_string(trainer.steps_per_epoch()) + " steps per epoch does not fit in 64 bits");
  const int64_t total = cli.given("--epochs") ? epochs * trainer.steps_per_epoch() : steps;
  std::printf("model: embedding %lld -> %s %lld x %lld -> linear %lld: %lld parameters\n",
              static_cast<long long>(c.embed), c.cell.c_str(), static_cast<long long>(c.layers),
              static_cast<long long>(c.hidden), static_cast<long long>(V),
              static_cast<long long>(trainer.model().num_parameters()));
  char decay[64] = "";
  if (c.lr_decay != 1) std::snprintf(decay, sizeof decay, ", lr x %g per epoch", c.lr_decay);
  if (run.distributed())
    std::printf("distributed: %d ranks x batch %lld = the updates of one process with --batch %lld\n", K,
                static_cast<long long>(c.batch), static_cast<long long>(K * c.batch));
  std::printf("training: batch %lld x bptt %lld characters per step, %lld steps per epoch, %s lr %g, clip %g%s\n",
              static_cast<long long>(K * c.batch), static_cast<long long>(c.bptt),
              static_cast<long long>(trainer.steps_per_epoch()), trainer.optimizer().name().c_str(), c.lr, c.clip,
              decay);
  if (!resume_dir.empty()) {
    trainer.load(resume_dir);
    std::printf("resumed from %s at step %lld\n", resume_dir.c_str(), static_cast<long long>(trainer.step()));
  }
  std::printf("uniform baseline: log V = %.3f nats/char; steps %lld..%lld\n", uniform_loss,
              static_cast<long long>(trainer.step()), static_cast<long long>(total));

  // The sample starts from a zero state and reads the prime first. Give it a few characters: training
  // rarely starts from a zero state, and after a lone newline the first guesses are wild (seen on the docs).
  Generator sampler(c.seed + 7);

  // ---- train, validating every eval_every steps ----
  std::vector<double> train_steps, train_curve, valid_steps, valid_curve;
  double window_loss = 0, ema = NAN, valid_loss = NAN;  // ema: the smoothed loss the progress line shows
  int64_t window = 0;
  const bool tty = isatty(fileno(stdout));
  const int64_t first = trainer.step();
  if (first < total) {  // where training starts from (log V, near enough, for fresh weights)
    valid_loss = trainer.evaluate(corpus.valid);
    valid_steps.push_back(static_cast<double>(first));
    valid_curve.push_back(valid_loss);
    std::printf("step %5lld  valid %.3f (ppl %6.2f) nats/char\n", static_cast<long long>(first), valid_loss,
                std::exp(valid_loss));
  }
  examples::Progress progress(total - first, "chars");
  while (trainer.step() < total) {
    const double loss = trainer.train_step();
    examples::stop_if_not_finite(loss, trainer.step());
    window_loss += loss, ++window;
    ema = std::isnan(ema) ? loss : 0.95 * ema + 0.05 * loss;
    progress.update(trainer.step() - first, static_cast<double>(K * c.batch * c.bptt),
                    {{"loss", ema}, {"ppl", std::exp(ema)}});
    if (trainer.step() % eval_every == 0 || trainer.step() == total) {
      progress.pause();  // validation, samples and checkpoints are not training time
      valid_loss = trainer.evaluate(corpus.valid);
      const double train_loss = window_loss / window;
      window_loss = 0, window = 0;
      train_steps.push_back(static_cast<double>(trainer.step()));
      train_curve.push_back(train_loss);
      valid_steps.push_back(static_cast<double>(trainer.step()));
      valid_curve.push_back(valid_loss);
      if (tty) std::printf("\n");
      std::printf("step %5lld  epoch %5.2f  train %.3f (ppl %6.2f)  valid %.3f (ppl %6.2f) nats/char  %.0f s\n",
                  static_cast<long long>(trainer.step()),
                  static_cast<double>(trainer.step()) / trainer.steps_per_epoch(), train_loss, std::exp(train_loss),
                  valid_loss, std::exp(valid_loss), progress.seconds());
      if (sample_each && run.is_root())
        std::printf("  sample: %s\n", sample(trainer.model(), corpus, prime_text, 120, temperature, sampler).c_str());
      if (!save_dir.empty()) trainer.save(save_dir);
      progress.resume();
    }
  }
  progress.finish();
  if (std::isnan(valid_loss)) valid_loss = trainer.evaluate(corpus.valid);
  std::printf("validation: %.4f nats/char, perplexity %.3f (uniform: %.3f, perplexity %lld)\n", valid_loss,
              std::exp(valid_loss), uniform_loss, static_cast<long long>(V));
  if (!save_dir.empty()) {
    trainer.save(save_dir);
    std::printf("checkpoint: %s (model.npz, optimizer.npz%s, trainer.npz)\n", save_dir.c_str(),
                c.lr_decay != 1 ? ", schedule.npz" : "");
  }
  if (run.distributed()) {
    const bool identical = run.replicas_identical();
    std::printf(
        "distributed: the %d replicas are %s; %.1f%% of the time in the gradient allreduce (%.2f MB per "
        "step)\n",
        K, identical ? "bit-identical" : "NOT identical", 100 * run.communication_seconds() / progress.seconds(),
        static_cast<double>(run.bytes_per_step()) / 1e6);
    if (!identical) return 1;
  }
  if (run.is_root() && !train_steps.empty()) {  // rank 0 writes the files
    examples::LinePlot plot("Character LM: cross-entropy (nats/char)", "step", "loss");
    plot.add("train", train_steps, train_curve);  // each point: the mean since the previous one
    plot.add("validation", valid_steps, valid_curve);
    plot.add("uniform: log V", {valid_steps.front(), valid_steps.back()}, {uniform_loss, uniform_loss});
    fs::create_directories(out);
    plot.save((fs::path(out) / "char_lm_loss.svg").string());
    std::printf("wrote %s/char_lm_loss.svg and .csv\n", out.c_str());
  }

  if (run.is_root()) {
    std::string primed;
    for (char32_t ch : prime_text) primed += encode_utf8(ch);
    std::printf("sample (temperature %g):\n%s%s\n", temperature, primed.c_str(),
                sample(trainer.model(), corpus, prime_text, sample_chars, temperature, sampler).c_str());
  }

  if (!check) return 0;
  // ---- --check: the numbers ----
  bool ok = true;
  const double margin = 1.5;
  const bool learned = valid_loss < uniform_loss - margin;
  std::printf("check: validation %.3f < log V - %.1f = %.3f nats/char: %s\n", valid_loss, margin, uniform_loss - margin,
              learned ? "ok" : "FAILED");
  ok = ok && learned;
  // Save + resume must continue exactly: R steps in one go vs R/2 steps, save, load into a freshly built
  // trainer (its weights, moments, step and carried state all come from the files), R/2 more steps.
  // The run above is the uninterrupted one when it was R steps from scratch (as in --quick): that also
  // shows that its validations and samples did not disturb training. With --distributed every rank runs
  // this too (the trainers' steps are collectives); the checkpoint holds all ranks' streams.
  const int64_t R = std::min<int64_t>(total, 250);
  const fs::path dir = fs::path(out) / "char_lm_check_checkpoint";
  std::unique_ptr<Trainer> separate;
  if (first != 0 || total != R) {
    separate = std::make_unique<Trainer>(c, corpus, run);
    while (separate->step() < R) separate->train_step();
  }
  Trainer& straight = separate ? *separate : trainer;
  Trainer first_half(c, corpus, run);
  while (first_half.step() < R / 2) first_half.train_step();
  first_half.save(dir);
  Trainer resumed(c, corpus, run);
  resumed.load(dir);
  while (resumed.step() < R) resumed.train_step();  // (its allreduces: every rank has read the files by now)
  if (run.is_root()) fs::remove_all(dir);
  int64_t differing = 0, count = 0;
  const bool identical = same_bits(straight.model().parameters(), resumed.model().parameters(), differing, count);
  std::printf("check: %lld steps straight vs %lld + save/resume + %lld: %lld of %lld parameter values differ: %s\n",
              static_cast<long long>(R), static_cast<long long>(R / 2), static_cast<long long>(R - R / 2),
              static_cast<long long>(differing), static_cast<long long>(count), identical ? "ok" : "FAILED");
  ok = ok && identical;
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  return examples::run_example("char_lm", [&] { return run_char_lm(argc, argv); });
}
