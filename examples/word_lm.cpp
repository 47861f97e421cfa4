// word_lm: a word-level LSTM language model, trained with truncated backpropagation through time.
//
// A language model assigns a probability to the next word given all the words before it:
//   p(w_1 .. w_n) = prod_t p(w_t | w_1 .. w_{t-1}),   perplexity = exp(-(1/n) sum_t log p(w_t | ...)).
// The model: embedding -> stacked LSTM -> linear head over the vocabulary, run over one long stream of
// words cut into windows of `bptt` steps. The LSTM state is carried from one window to the next (detached,
// so backward() stops at the window's start: that is what "truncated" BPTT means).
//
//   ./word_lm                                  a generated corpus (a small grammar), ~1 minute
//   ./word_lm --data DIR --preset zaremba-small  Zaremba et al. 2014's small model on PTB (ptb.*.txt, or
//                                              ptb.*.txt.gz read through `gzip -dc`)
//   ./word_lm --data DIR                       any corpus in three files: DIR/train.txt, valid.txt, test.txt
//                                              (or ptb.train.txt, wiki.train.tokens, ...; see find_split)
//   ./word_lm --train A --valid B --test C     the same, the files named one by one
//   ./word_lm --data DIR --preset zaremba-small --time-steps 100   time 100 steps, estimate an epoch
//   ./word_lm ... --save DIR / --resume DIR    a checkpoint after every epoch / continue after its epoch
//   mpirun -np 2 ./word_lm --distributed ...    data-parallel over 2 ranks, --batch streams each
//                                              (docs/distributed.md; needs -DUNROLL_DISTRIBUTED=ON)
//
// Shapes: T = bptt steps, N = batch (parallel streams), E = embedding size, H = hidden size, V = vocabulary.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
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

using namespace unroll;

namespace {

// ---- data ---------------------------------------------------------------------------------------------

struct Corpus {
  data::Vocabulary vocab;                   // word <-> id (data/vocabulary.hpp)
  std::vector<int64_t> train, valid, test;  // token ids, one <eos> after every line
  double source_ppl = 0;                    // generated corpus only: the generating grammar's own test perplexity
  int64_t unk_train = 0, unk_valid = 0, unk_test = 0;  // tokens that became <unk> (see read_corpus)
  bool unk_in_training = true;                         // whether <unk> occurs in the training tokens
};

// The three files of a data set and its name (for the output files): --train/--valid/--test, or found in
// --data DIR by find_split.
struct DataFiles {
  std::string train, valid, test, name;
};

// The words of the usual names of each split: ptb.valid.txt, valid.txt, wiki.valid.tokens, dev.txt, ...
const std::vector<std::string>& split_words(const std::string& split) {
  static const std::map<std::string, std::vector<std::string>> words = {
      {"train", {"train", "training"}},
      {"valid", {"valid", "validation", "val", "dev"}},
      {"test", {"test", "testing"}}};
  return words.at(split);
}

// The parts of a file name between dots, dashes and underscores: "wiki.valid.tokens" -> wiki, valid, tokens.
std::vector<std::string> name_parts(const std::string& name) {
  std::vector<std::string> parts(1);
  for (char ch : name) {
    if (ch == '.' || ch == '_' || ch == '-') {
      if (!parts.back().empty()) parts.emplace_back();
    } else {
      parts.back() += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  if (parts.back().empty()) parts.pop_back();
  return parts;
}

// The file of `split` in `dir`: the one regular file whose name has one of the split's words as a part
// (ptb.train.txt, train.txt, wiki.train.tokens, timemachine-train.txt; valid also as validation, val, dev).
// NAME.gz stands for NAME read through gzip, when NAME itself is not there.
std::string find_split(const std::string& dir, const std::string& split) {
  if (!std::filesystem::is_directory(dir)) throw examples::DataError(dir + ": not a directory");
  std::set<std::string> found;  // without .gz
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
    const auto parts = name_parts(name), &words = split_words(split);
    if (std::any_of(parts.begin(), parts.end(),
                    [&](const std::string& p) { return std::find(words.begin(), words.end(), p) != words.end(); }))
      found.insert(name);
  }
  if (found.empty())
    throw examples::DataError(dir + ": no " + split + " file (a name with '" + split_words(split)[0] +
                              "' in it, as ptb." + split + ".txt, " + split + ".txt or wiki." + split +
                              ".tokens; or give --" + split + " FILE)");
  if (found.size() > 1) {
    std::string names;
    for (const auto& f : found) names += (names.empty() ? "" : ", ") + f;
    throw examples::DataError(dir + ": " + std::to_string(found.size()) + " " + split + " files (" + names +
                              "): name the one to use with --" + split + " FILE");
  }
  return (std::filesystem::path(dir) / *found.begin()).string();
}

// A data set's name for the output files: the folder's name with --data, else what the training file's name
// has besides "train" and the extension ("timemachine.train.txt" -> timemachine), else its folder's name.
std::string data_name(const std::string& data_dir, const std::string& train_path) {
  namespace fs = std::filesystem;
  std::string name;
  if (!data_dir.empty()) {
    name = fs::weakly_canonical(data_dir).filename().string();
  } else {
    for (const auto& part : name_parts(fs::path(train_path).filename().string()))
      if (part != "train" && part != "training" && part != "txt" && part != "tokens" && part != "gz")
        name += (name.empty() ? "" : "_") + part;
    if (name.empty()) name = fs::weakly_canonical(train_path).parent_path().filename().string();
  }
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '_';
  return name.empty() ? "data" : name;
}

// Reads a whole file; `path.gz` (when `path` itself is absent) is decompressed by the gzip program.
// Either way the text must be non-empty, valid UTF-8 (common/text_file.hpp).
std::string read_text(const std::string& path) {
  if (std::filesystem::exists(path)) return examples::read_text_file(path);
  const std::string gz = path + ".gz";
  if (!std::filesystem::exists(gz)) throw examples::DataError("neither " + path + " nor " + gz + " exists");
  if (!std::filesystem::is_regular_file(gz)) throw examples::DataError(gz + ": not a regular file");
  // No zlib dependency: the gzip program does the decompression. The name is single-quoted for the shell.
  std::string quoted = "'";
  for (char ch : gz) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  FILE* pipe = popen(("gzip -dc " + quoted + "'").c_str(), "r");
  if (!pipe) throw examples::DataError(gz + ": cannot run gzip -dc on it");
  std::string text;
  char buffer[1 << 16];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
  if (pclose(pipe) != 0) throw examples::DataError(gz + ": gzip -dc failed (is gzip installed?)");
  examples::check_text(text, gz);
  return text;
}

// PTB format: one sentence per line, words separated by spaces; every line ends with <eos>.
std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line, word;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    while (words >> word) out.push_back(word);
    out.push_back("<eos>");
  }
  return out;
}

// The vocabulary: <unk> (id 0) and <eos> (1), then the training words seen at least `min_count` times,
// most frequent first. Every other token becomes <unk>: rarer training words, and valid/test words the
// training text does not have (PTB already has <unk> in its text and no such words; another corpus may have
// many); the vocabulary counts them.
Corpus read_corpus(const DataFiles& files, int64_t min_count) {
  Corpus c;
  const std::vector<std::string> split[3] = {tokenize(read_text(files.train)), tokenize(read_text(files.valid)),
                                             tokenize(read_text(files.test))};
  c.vocab = data::Vocabulary::build(split[0], {.min_freq = min_count, .pad_token = ""});
  c.train = c.vocab.lookup_indices(split[0], &c.unk_train);
  c.valid = c.vocab.lookup_indices(split[1], &c.unk_valid);
  c.test = c.vocab.lookup_indices(split[2], &c.unk_test);
  c.unk_in_training = std::count(c.train.begin(), c.train.end(), c.vocab.unk_index()) > 0;
  return c;
}

// The default corpus: sentences from a small probabilistic grammar with number agreement that reaches over
// a relative clause ("the dog that the cats chase runs", "the dogs who see a cat run"). Every sentence has
// exactly one derivation, so the grammar's own probability of the test text is known exactly: that
// perplexity is the floor no model can beat on average.
class Grammar {
 public:
  explicit Grammar(uint64_t seed) : gen_(seed) {}
  double log_prob = 0;  // sum of log p over all choices made so far

  std::vector<std::string> sentence() {
    std::vector<std::string> s;
    const bool plural = coin(0.5);
    noun_phrase(s, plural, /*clause=*/true);
    if (coin(0.4)) {
      s.push_back(pick(plural ? vi_pl : vi_sg));  // intransitive: "... runs"
    } else {
      s.push_back(pick(plural ? vt_pl : vt_sg));  // transitive: "... sees the cat"
      noun_phrase(s, coin(0.5), false);
    }
    if (coin(0.3)) {  // a prepositional phrase at the end: "... near the old farmer"
      s.push_back(pick(preps));
      noun_phrase(s, coin(0.5), false);
    }
    s.push_back("<eos>");
    return s;
  }

 private:
  void noun_phrase(std::vector<std::string>& s, bool plural, bool clause) {
    s.push_back(pick(plural ? det_pl : det_sg));
    if (coin(0.3)) s.push_back(pick(adjs));
    s.push_back(pick(plural ? nouns_pl : nouns_sg));
    if (!clause || !coin(0.25)) return;
    if (coin(0.5)) {  // subject relative clause: the verb agrees with the head noun
      s.push_back("who");
      s.push_back(pick(plural ? vt_pl : vt_sg));
      noun_phrase(s, coin(0.5), false);
    } else {  // object relative clause: the verb agrees with the clause's own subject
      s.push_back("that");
      const bool inner = coin(0.5);
      noun_phrase(s, inner, false);
      s.push_back(pick(inner ? vt_pl : vt_sg));
    }
  }
  bool coin(double p) {
    const bool yes = gen_.uniform(0, 1) < p;
    log_prob += std::log(yes ? p : 1 - p);
    return yes;
  }
  // Zipf-like within a word class: p(rank r) proportional to 1 / (r + 1).
  const std::string& pick(const std::vector<std::string>& words) {
    double total = 0;
    for (size_t r = 0; r < words.size(); ++r) total += 1.0 / (r + 1);
    double u = gen_.uniform(0, 1) * total;
    size_t r = 0;
    for (; r + 1 < words.size(); ++r) {
      u -= 1.0 / (r + 1);
      if (u < 0) break;
    }
    log_prob += std::log(1.0 / (r + 1) / total);
    return words[r];
  }

  Generator gen_;
  // clang-format off
  const std::vector<std::string> det_sg{"the", "a", "every", "this", "one"};
  const std::vector<std::string> det_pl{"the", "some", "many", "these", "two", "all"};
  const std::vector<std::string> adjs{"old", "young", "tall", "small", "happy", "quiet", "brave", "clever", "tired",
                                      "kind"};
  const std::vector<std::string> nouns_sg{"dog", "cat", "child", "teacher", "farmer", "doctor", "student", "king",
                                          "queen", "pilot", "baker", "lawyer", "painter", "horse", "sailor", "writer",
                                          "singer", "bird", "friend", "mouse"};
  const std::vector<std::string> nouns_pl{"dogs", "cats", "children", "teachers", "farmers", "doctors", "students",
                                          "kings", "queens", "pilots", "bakers", "lawyers", "painters", "horses",
                                          "sailors", "writers", "singers", "birds", "friends", "mice"};
  const std::vector<std::string> vi_sg{"sleeps", "runs", "laughs", "waits", "sings", "smiles", "falls", "swims",
                                       "works", "dances"};
  const std::vector<std::string> vi_pl{"sleep", "run", "laugh", "wait", "sing", "smile", "fall", "swim", "work",
                                       "dance"};
  const std::vector<std::string> vt_sg{"sees", "likes", "follows", "helps", "calls", "knows", "meets", "visits",
                                       "watches", "chases"};
  const std::vector<std::string> vt_pl{"see", "like", "follow", "help", "call", "know", "meet", "visit", "watch",
                                       "chase"};
  const std::vector<std::string> preps{"near", "behind", "with", "for", "beside", "under"};
  // clang-format on
};

// The vocabulary is every word the grammar produced, <eos> included, in order of appearance (no <unk>: no
// word is unknown).
Corpus generate_corpus(int64_t train_tokens, uint64_t seed) {
  Corpus c;
  Grammar grammar(seed);
  std::vector<std::string> split[3];
  auto fill = [&](std::vector<std::string>& out, int64_t tokens) {
    while (static_cast<int64_t>(out.size()) < tokens)
      for (const auto& w : grammar.sentence()) out.push_back(w);
  };
  fill(split[0], train_tokens);
  fill(split[1], train_tokens / 10);
  grammar.log_prob = 0;  // count only the test sentences' probability
  fill(split[2], train_tokens / 10);
  c.source_ppl = std::exp(-grammar.log_prob / static_cast<double>(split[2].size()));
  c.vocab = data::Vocabulary::build(
      std::vector<std::vector<std::string>>(split, split + 3),
      {.pad_token = "", .unk_token = "", .eos_token = "", .order = data::TokenOrder::FirstSeen});
  c.train = c.vocab.lookup_indices(split[0]);
  c.valid = c.vocab.lookup_indices(split[1]);
  c.test = c.vocab.lookup_indices(split[2]);
  return c;
}

// Unigram perplexity on `test` of word frequencies counted on `train` (add-one smoothed): the best a model
// can do without looking at any context.
double unigram_perplexity(const std::vector<int64_t>& train, const std::vector<int64_t>& test, size_t vocab) {
  std::vector<double> count(vocab, 1.0);
  for (int64_t id : train) count[id] += 1;
  const double total = static_cast<double>(train.size() + vocab);
  double nll = 0;
  for (int64_t id : test) nll -= std::log(count[id] / total);
  return std::exp(nll / static_cast<double>(test.size()));
}

// Cuts the stream into N parallel columns: [rows, N], column n holds tokens n*rows .. (n+1)*rows - 1.
// A window is rows [i, i + T) as input and rows [i + 1, i + T + 1) as targets.
struct Batched {
  std::vector<int64_t> ids;  // [rows, N], row-major
  int64_t rows = 0, batch = 0;
};

Batched batchify(const std::vector<int64_t>& stream, int64_t batch) {
  Batched b{{}, static_cast<int64_t>(stream.size()) / batch, batch};
  b.ids.resize(b.rows * batch);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t r = 0; r < b.rows; ++r) b.ids[r * batch + n] = stream[n * b.rows + r];
  return b;
}

// Rows [start, start + length) as an int64 tensor of ids [length, N].
Tensor rows(const Batched& b, int64_t start, int64_t length) {
  return tensor(std::vector<int64_t>(b.ids.begin() + start * b.batch, b.ids.begin() + (start + length) * b.batch),
                {length, b.batch});
}

// ---- model ------------------------------------------------------------------------------------------

struct LanguageModel : layers::Module {
  layers::Embedding embed;
  layers::LSTM lstm;
  layers::Linear head;

  LanguageModel(int64_t vocab, int64_t emb, int64_t hidden, int64_t num_layers)
      : embed({.num_embeddings = vocab, .embedding_dim = emb}),
        lstm({.input_size = emb, .hidden_size = hidden, .num_layers = num_layers}),
        head({.in_features = hidden, .out_features = vocab}) {
    register_module("embed", embed);
    register_module("lstm", lstm);
    register_module("head", head);
  }
  std::string describe() const override { return "LanguageModel"; }

  // ids: [T, N] -> logits [T*N, V]; the state (h, c: [L, N, H]) is carried in and out.
  Tensor forward(const Tensor& ids, layers::State& state) {
    const Tensor x = embed(ids);             // [T, N, E]
    auto [y, final_state] = lstm(x, state);  // y: [T, N, H]
    state = final_state;
    const Tensor flat = reshape(y, {-1, y.size(2)});  // [T*N, H]
    return head(flat);                                // [T*N, V]
  }
};

layers::State detached(const layers::State& s) {
  return {s.h.defined() ? s.h.detach() : Tensor(), s.c.defined() ? s.c.detach() : Tensor()};
}

// Perplexity of `data` (no gradients, state carried through the whole stream). With --distributed each rank
// reads its own columns and the ranks' sums are added up.
double evaluate(LanguageModel& model, const Batched& data, int64_t bptt, examples::DataParallelRun& run) {
  NoGradGuard no_grad;
  model.eval();
  layers::State state;
  double nll = 0;
  int64_t count = 0;
  for (int64_t i = 0; i + 1 < data.rows; i += bptt) {
    const int64_t T = std::min(bptt, data.rows - 1 - i);
    const Tensor logits = model.forward(rows(data, i, T), state);
    const Tensor targets = reshape(rows(data, i + 1, T), {T * data.batch});
    nll += cross_entropy(logits, targets, {.reduction = Reduction::Sum}).item();
    count += T * data.batch;
  }
  model.train();
  std::vector<double> totals = {nll, static_cast<double>(count)};
  run.sum(totals);
  return std::exp(totals[0] / totals[1]);
}

// ---- checkpoints ------------------------------------------------------------------------------------

// The vocabulary's tokens in id order, hashed (FNV-1a, 64 bits, each token followed by a 0 byte): a checkpoint
// whose model was trained with other ids (another corpus, another --min-count, or a version of this program
// that numbered the words in another order) is refused rather than resumed with the words mixed up.
int64_t fingerprint(const data::Vocabulary& vocab) {
  uint64_t h = 1469598103934665603ull;
  for (const std::string& token : vocab.tokens()) {
    for (const unsigned char b : token) h = (h ^ b) * 1099511628211ull;
    h *= 1099511628211ull;  // the 0 byte after the token: (h ^ 0) * prime
  }
  return static_cast<int64_t>(h);
}

// The settings a checkpoint must share with the run that resumes it ("batch" counts the streams of all
// ranks, so K ranks x B and one process x K*B can continue each other's checkpoints).
using Settings = std::vector<std::pair<std::string, int64_t>>;
constexpr int64_t kMaxEpochs = 1000000;  // --epochs and a checkpoint's epoch

// After an epoch: the model, the optimizer, and trainer.npz (the epoch and the settings as int64 scalars,
// the perplexity curves so far as float64 [epoch]), replaced as a whole (save_directory). Called by rank 0
// only.
void save_checkpoint(const std::string& dir, const LanguageModel& model, const optim::SGD& opt, int64_t epoch,
                     const Settings& settings, const std::vector<double>& train_curve,
                     const std::vector<double>& valid_curve) {
  std::map<std::string, Tensor> t;
  t["epoch"] = scalar(epoch);
  for (const auto& [name, value] : settings) t[name] = scalar(value);
  t["train_ppl"] = tensor(train_curve, {epoch}, kFloat64);
  t["valid_ppl"] = tensor(valid_curve, {epoch}, kFloat64);
  save_directory(dir, [&](const std::string& staging) {
    save(model, staging + "/model.npz");
    save(opt, staging + "/optimizer.npz");
    save_tensors(t, staging + "/trainer.npz");
  });
}

// Loads a checkpoint into the model and optimizer; returns the epoch it was written after (and its curves).
// Every entry of trainer.npz is checked before anything is loaded (common/checkpoint.hpp): its dtype and
// shape, the settings against this run's, the epoch in [1, kMaxEpochs], and one finite perplexity >= 1 per
// epoch in each curve.
int64_t load_checkpoint(const std::string& dir, LanguageModel& model, optim::SGD& opt, const Settings& settings,
                        std::vector<double>& train_curve, std::vector<double>& valid_curve) {
  const std::string path = dir + "/trainer.npz";
  const std::map<std::string, Tensor> t = load_tensors(path);
  for (const auto& [name, value] : settings)
    if (examples::checkpoint_integer(t, path, name, std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max()) != value)
      throw examples::UsageError("--resume: " + dir + " was written with another " + name +
                                 " (the corpus, --min-count, --batch x ranks, --bptt, --emb, --hidden and --layers "
                                 "must match)");
  const int64_t epoch = examples::checkpoint_integer(t, path, "epoch", 1, kMaxEpochs);
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> train_ppl = examples::checkpoint_values(t, path, "train_ppl", epoch, 1, inf);
  const std::vector<double> valid_ppl = examples::checkpoint_values(t, path, "valid_ppl", epoch, 1, inf);
  load(model, dir + "/model.npz");
  load(opt, dir + "/optimizer.npz");
  train_curve.insert(train_curve.end(), train_ppl.begin(), train_ppl.end());
  valid_curve.insert(valid_curve.end(), valid_ppl.begin(), valid_ppl.end());
  return epoch;
}

}  // namespace

int run_word_lm(int argc, char** argv) {
  examples::Cli cli("word_lm",
                    "word_lm: word-level LSTM language model with truncated BPTT (Zaremba et al. 2014 on PTB)");
  // Defaults depend on the mode: the paper's configuration, the quick test, or the generated corpus.
  bool quick = cli.peek_flag(argc, argv, "--quick");
  std::string preset = cli.peek(argc, argv, "--preset").value_or("none");
  const bool zaremba = preset == "zaremba-small";
  const auto pick = [&](int64_t paper, int64_t fast, int64_t normal) {
    return zaremba ? paper : quick ? fast : normal;
  };
  const int64_t kMax = examples::kMaxSize;
  std::string data_dir, train_path, valid_path, test_path;
  cli.text("--data", data_dir,
           "a folder with a train, a valid and a test file (ptb.train.txt, train.txt, wiki.train.tokens, ... "
           "or NAME.gz)");
  cli.text("--train", train_path, "the training text (instead of the one in --data)");
  cli.text("--valid", valid_path, "the validation text (instead of the one in --data)");
  cli.text("--test", test_path, "the test text (instead of the one in --data)");
  cli.choice("--preset", preset, {"none", "zaremba-small"}, "zaremba-small: 2x200 LSTM, 13 epochs, as the paper");
  bool check = false, distributed = false;
  cli.flag("--quick", quick, "tiny corpus and model (a few seconds)");
  cli.flag("--check", check, "exit 1 unless test perplexity falls well below the baselines");
  int64_t epochs = pick(13, 2, 4), emb = pick(200, 32, 64), hidden = pick(200, 64, 128), num_layers = pick(2, 1, 2);
  int64_t bptt = 20, batch = 20, decay_after = pick(4, 3, 3), corpus_tokens = quick ? 40000 : 100000, time_steps = 0;
  int64_t min_count = 1;
  cli.count("--epochs", epochs, "training epochs (zaremba-small 13; quick 2; else 4)", 1, kMaxEpochs);
  cli.count("--emb", emb, "embedding size E (zaremba-small 200; quick 32; else 64)", 1, kMax);
  cli.count("--hidden", hidden, "LSTM hidden size H (zaremba-small 200; quick 64; else 128)", 1, kMax);
  cli.count("--layers", num_layers, "stacked LSTM layers (quick 1; else 2)", 1, kMax);
  cli.count("--bptt", bptt, "unrolled steps per window T", 1, kMax);
  cli.count("--batch", batch, "parallel streams N (with --distributed: per rank)", 1, kMax);
  cli.count("--min-count", min_count, "training words seen fewer times become <unk>", 1);
  double lr0 = 1.0, decay = 0.5, clip = 5.0, init_range = 0.1, timeout = 300;
  cli.number("--lr", lr0, "SGD learning rate", examples::positive);
  cli.number("--decay", decay, "learning-rate factor per epoch after --decay-after", examples::positive);
  cli.count("--decay-after", decay_after, "epochs at full lr (zaremba-small 4; else 3)", 0, kMaxEpochs);
  cli.number("--clip", clip, "clip the gradient norm to this", examples::positive);
  cli.number("--init", init_range, "every parameter starts in U(-init, init)", examples::positive);
  cli.count("--corpus-tokens", corpus_tokens, "generated corpus: training tokens (quick 40000; else 100000)", 1000,
            100000000);
  cli.count("--time-steps", time_steps, "only time this many training steps, estimate an epoch (0: off)", 0);
  uint64_t seed = 0;
  cli.seed("--seed", seed, "random seed");
  std::string out_dir = "examples_out", save_dir, resume_dir;
  cli.text("--out", out_dir, "directory for the SVG/CSV plot");
  cli.flag("--distributed", distributed, "data-parallel over the ranks of `mpirun -np K` (MPI build)");
  cli.number("--timeout", timeout, "with --distributed: seconds to wait for a silent rank", examples::positive);
  cli.text("--save", save_dir, "checkpoint directory, written after every epoch");
  cli.text("--resume", resume_dir, "continue training after the epoch of this checkpoint");
  cli.parse(argc, argv);
  const bool explicit_files = !train_path.empty() || !valid_path.empty() || !test_path.empty();
  if (explicit_files && data_dir.empty() && (train_path.empty() || valid_path.empty() || test_path.empty()))
    throw examples::UsageError("--train, --valid and --test go together (or with --data for the others)");
  examples::DataParallelRun run(distributed, timeout);  // rank 0 of 1 without --distributed

  Corpus corpus;
  DataFiles files;
  const bool real_data = !data_dir.empty() || explicit_files;
  if (real_data) {
    files.train = !train_path.empty() ? train_path : find_split(data_dir, "train");
    files.valid = !valid_path.empty() ? valid_path : find_split(data_dir, "valid");
    files.test = !test_path.empty() ? test_path : find_split(data_dir, "test");
    files.name = data_name(explicit_files ? "" : data_dir, files.train);
    corpus = read_corpus(files, min_count);
  } else {
    corpus = generate_corpus(corpus_tokens, 2014);
  }
  const int64_t V = corpus.vocab.size();
  if (real_data) {
    std::printf("corpus: %s: %s, %s, %s\n", files.name.c_str(), files.train.c_str(), files.valid.c_str(),
                files.test.c_str());
    std::printf("vocabulary %lld (training words seen at least %lld times), tokens train %zu / valid %zu / test %zu\n",
                static_cast<long long>(V), static_cast<long long>(min_count), corpus.train.size(), corpus.valid.size(),
                corpus.test.size());
    const auto unk = [](const char* split, int64_t n, size_t total) {
      std::printf("%s: %lld of %zu tokens (%.2f%%) outside the vocabulary became <unk>\n", split,
                  static_cast<long long>(n), total, 100.0 * static_cast<double>(n) / static_cast<double>(total));
    };
    if (min_count > 1) unk("train", corpus.unk_train, corpus.train.size());
    unk("valid", corpus.unk_valid, corpus.valid.size());
    unk("test", corpus.unk_test, corpus.test.size());
    if (!corpus.unk_in_training && corpus.unk_valid + corpus.unk_test > 0)
      std::printf(
          "note: <unk> never occurs in the training text, so the model cannot learn its probability "
          "(--min-count 2 turns the words seen once into <unk>)\n");
  } else {
    std::printf("corpus: generated (grammar), vocabulary %lld, tokens train %zu / valid %zu / test %zu\n",
                static_cast<long long>(V), corpus.train.size(), corpus.valid.size(), corpus.test.size());
  }
  const int K = run.world_size();
  // Every stream of every split needs two tokens at least (an input and its target).
  for (const auto& [split, tokens] : {std::pair{"train", corpus.train.size()}, std::pair{"valid", corpus.valid.size()},
                                      std::pair{"test", corpus.test.size()}})
    if (static_cast<int64_t>(tokens) < 2 * batch * K)
      throw examples::UsageError(std::string(split) + ": " + std::to_string(tokens) + " tokens are too few for " +
                                 std::to_string(batch * K) + " streams (--batch x ranks) of 2 tokens or more");

  manual_seed(seed);
  LanguageModel model(V, emb, hidden, num_layers);
  for (Tensor p : model.parameters()) layers::init::uniform_(p, -init_range, init_range);
  std::printf("model: Embedding(%lld, %lld) -> LSTM(%lld x %lld) -> Linear(%lld, %lld), %lld parameters\n",
              static_cast<long long>(V), static_cast<long long>(emb), static_cast<long long>(num_layers),
              static_cast<long long>(hidden), static_cast<long long>(hidden), static_cast<long long>(V),
              static_cast<long long>(model.num_parameters()));
  std::printf("training: SGD lr %g (x%g per epoch after epoch %lld), clip %g, bptt %lld, batch %lld, %lld epochs\n",
              lr0, decay, static_cast<long long>(decay_after), clip, static_cast<long long>(bptt),
              static_cast<long long>(batch), static_cast<long long>(epochs));
  if (run.distributed())
    std::printf("distributed: %d ranks x batch %lld = the updates of one process with batch %lld\n", K,
                static_cast<long long>(batch), static_cast<long long>(K * batch));

  // Each rank batches its own columns of each stream: together the columns of batchify(stream, K * batch).
  const auto mine = [&](const std::vector<int64_t>& stream) {
    return batchify(distributed::shard_stream(stream, batch, run.rank(), K), batch);
  };
  const Batched train = mine(corpus.train), valid = mine(corpus.valid), test = mine(corpus.test);
  run.attach(model.parameters());  // every rank starts from rank 0's initial weights
  optim::SGD opt(model.parameters(), {.lr = lr0});
  const int64_t windows = (train.rows - 1 + bptt - 1) / bptt;

  const Settings settings = {{"vocabulary", V},
                             {"vocabulary_hash", fingerprint(corpus.vocab)},
                             {"train_tokens", static_cast<int64_t>(corpus.train.size())},
                             {"batch", batch * K},
                             {"bptt", bptt},
                             {"emb", emb},
                             {"hidden", hidden},
                             {"layers", num_layers}};
  std::vector<double> epoch_axis, train_curve, valid_curve;
  int64_t first_epoch = 1;
  if (!resume_dir.empty()) {  // every rank reads the checkpoint (the LSTM state restarts at every epoch anyway)
    first_epoch = load_checkpoint(resume_dir, model, opt, settings, train_curve, valid_curve) + 1;
    for (int64_t e = 1; e < first_epoch; ++e) epoch_axis.push_back(static_cast<double>(e));
    std::printf("resumed from %s after epoch %lld\n", resume_dir.c_str(), static_cast<long long>(first_epoch - 1));
  }
  for (int64_t epoch = first_epoch; epoch <= epochs; ++epoch) {
    const double lr = lr0 * std::pow(decay, static_cast<double>(std::max<int64_t>(0, epoch - decay_after)));
    opt.set_lr(lr);
    const int64_t steps = time_steps > 0 ? std::min(time_steps, windows) : windows;
    examples::Progress progress(steps, "words");
    layers::State state;
    double nll = 0;
    int64_t count = 0;
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t i = step * bptt, T = std::min(bptt, train.rows - 1 - i);
      state = detached(state);                                        // truncated BPTT: the graph starts at this window
      const Tensor logits = model.forward(rows(train, i, T), state);  // [T*N, V]
      const Tensor targets = reshape(rows(train, i + 1, T), {T * batch});  // [T*N] int64
      const Tensor loss = cross_entropy(logits, targets);                  // mean over T*N words
      opt.zero_grad();
      // Zaremba et al. sum the loss over the T steps (mean over the batch); the clip applies to that.
      (loss * T).backward();  // float32: an integer number never changes a floating tensor's dtype
      const double loss_value = run.average_gradients(loss.item());  // mean over the ranks, as their gradients
      optim::clip_grad_norm(model.parameters(), clip);
      opt.step();
      examples::stop_if_not_finite(loss_value, (epoch - 1) * windows + step + 1);
      nll += loss_value * T * batch * K;
      count += T * batch * K;
      progress.update(step + 1, static_cast<double>(T * batch * K), {{"ppl", std::exp(nll / count)}, {"lr", lr}});
    }
    progress.finish();
    const double train_seconds = progress.seconds();  // training only: the validation below is timed apart
    if (time_steps > 0) {
      const double per_word = train_seconds / static_cast<double>(count);
      std::printf("timing: %lld steps, %.0f words/s, estimated epoch %.0f s (%zu words)\n",
                  static_cast<long long>(steps), 1.0 / per_word, per_word * static_cast<double>(corpus.train.size()),
                  corpus.train.size());
      if (run.distributed())
        std::printf("timing: %d ranks, %.1f MB of gradients summed per step, %.1f%% of the time in the allreduce\n", K,
                    static_cast<double>(run.bytes_per_step()) / 1e6, 100 * run.communication_seconds() / train_seconds);
      return 0;
    }
    const auto valid_start = std::chrono::steady_clock::now();
    const double train_ppl = std::exp(nll / count), valid_ppl = evaluate(model, valid, bptt, run);
    const double valid_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - valid_start).count();
    std::printf("epoch %2lld  lr %.4g  train ppl %8.2f  valid ppl %8.2f  (train %.0f s, %.0f words/s; valid %.1f s)\n",
                static_cast<long long>(epoch), lr, train_ppl, valid_ppl, train_seconds,
                static_cast<double>(count) / train_seconds, valid_seconds);
    std::fflush(stdout);
    epoch_axis.push_back(static_cast<double>(epoch));
    train_curve.push_back(train_ppl);
    valid_curve.push_back(valid_ppl);
    if (!save_dir.empty()) {
      run.save_on_root([&] { save_checkpoint(save_dir, model, opt, epoch, settings, train_curve, valid_curve); });
    }
  }
  const double test_ppl = evaluate(model, test, bptt, run);
  std::printf("test perplexity %.2f\n", test_ppl);

  const double unigram = unigram_perplexity(corpus.train, corpus.test, V);
  std::printf("baselines on test: uniform %lld, unigram %.2f", static_cast<long long>(V), unigram);
  if (corpus.source_ppl > 0) std::printf(", the grammar itself %.2f", corpus.source_ppl);
  std::printf("\n");

  if (run.distributed()) {
    const bool identical = run.replicas_identical();
    std::printf("distributed: the %d replicas are %s\n", K, identical ? "bit-identical" : "NOT identical");
    if (!identical) return 1;
  }
  if (!run.is_root()) return 0;  // rank 0 writes the files
  std::filesystem::create_directories(out_dir);
  examples::LinePlot plot("Word LM perplexity per epoch" + (real_data ? ", " + files.name : std::string()), "epoch",
                          "perplexity");
  plot.log_y = true;
  plot.add("train", epoch_axis, train_curve);
  plot.add("valid", epoch_axis, valid_curve);
  const std::string svg = out_dir + (real_data ? "/word_lm_" + files.name + ".svg" : "/word_lm.svg");
  plot.save(svg);
  std::printf("wrote %s\n", svg.c_str());

  if (check) {
    // Quick mode (a 1 x 64 LSTM, two epochs of 40k words) reached 11.9-12.2 with seeds 0-3 (the grammar itself:
    // 9.9, unigram: 51, uniform: 109). Without context a model cannot beat the unigram; 0.3 x unigram needs
    // the LSTM to have learned which word classes follow which, and agreement.
    const bool ok = std::isfinite(test_ppl) && test_ppl < 0.3 * unigram;
    std::printf("check: test ppl %.2f < 0.3 x unigram ppl (%.2f), vocabulary %lld: %s\n", test_ppl, 0.3 * unigram,
                static_cast<long long>(V), ok ? "ok" : "FAILED");
    if (!ok) return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  // A refused flag, data file or checkpoint: exit code 2; distributed::TimeoutError (another rank died): 1.
  return examples::run_example("word_lm", [&] { return run_word_lm(argc, argv); });
}
