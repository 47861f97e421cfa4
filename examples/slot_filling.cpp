// slot_filling: tag every word of a travel request with its slot, and see why a tagger needs memory of
// the words before a word (an RNN) and of the words after it (a bidirectional RNN).
//
//   "i would like to arrive taipei on november 2nd"   taipei = B-dest, november 2nd = B-date I-date
//   "leave taipei on november 2nd"                    taipei = B-depart
//   "taipei is where i arrive on november 2nd"        taipei = B-dest, but the word that says so comes later
//
// Three taggers: a feed-forward network that sees one word at a time, a unidirectional LSTM (the words so
// far) and a bidirectional LSTM (the whole sentence). Three ways to turn a word into a vector: 1-of-N with
// an "other" dimension for unknown words, a bag of letter trigrams (word hashing), a learned embedding.
// The score is slot F1: a predicted slot counts only if its type and its exact span match the reference.
//
//   ./slot_filling                                  all 9 tagger x input pairs on generated requests (~1 min)
//   ./slot_filling --input embedding --tagger bilstm
//   ./slot_filling --data DIR                        SNIPS in the seq.in / seq.out / label layout
//                                                   (DIR/train, DIR/valid, DIR/test)
//
// Shapes: T = time steps (words), N = batch (sentences), F = input features per word, H = hidden size,
// D = directions, C = number of tags.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unroll/unroll.hpp>
#include <vector>

#include "common/args.hpp"
#include "common/nan_guard.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/text_file.hpp"

using namespace unroll;

namespace {

struct Sentence {
  std::vector<std::string> words;
  std::vector<std::string> tags;  // one per word: O, B-<slot> or I-<slot>
};

struct Dataset {
  std::vector<Sentence> train, valid, test;
};

// ---- reading the seq.in / seq.out / label format -----------------------------------------------------
// Malformed input files: examples::DataError (common/text_file.hpp), the message names the file and line.
using examples::DataError;
using examples::read_lines;
using examples::utf8_length;

// The characters (code points, as UTF-8 strings) of a word already known to be valid UTF-8.
std::vector<std::string> characters(const std::string& word) {
  std::vector<std::string> out;
  for (size_t i = 0; i < word.size();) {
    const size_t n = std::max<size_t>(1, utf8_length(word, i));
    out.push_back(word.substr(i, n));
    i += n;
  }
  return out;
}

std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream s(line);
  for (std::string w; s >> w;) out.push_back(w);
  return out;
}

bool valid_tag(const std::string& tag) {
  return tag == "O" || (tag.size() > 2 && (tag[0] == 'B' || tag[0] == 'I') && tag[1] == '-');
}

// One split: DIR/seq.in (words), DIR/seq.out (one tag per word), DIR/label (one intent per line, checked
// for alignment; this example does not use it).
std::vector<Sentence> read_split(const std::string& dir) {
  const std::string in_path = dir + "/seq.in", out_path = dir + "/seq.out", label_path = dir + "/label";
  const auto in = read_lines(in_path), out = read_lines(out_path), labels = read_lines(label_path);
  // Line-aligned files: the first line that one of them lacks (or has in excess) is the one reported.
  for (const auto& [path, lines] : {std::pair{out_path, out.size()}, std::pair{label_path, labels.size()}})
    if (lines != in.size())
      throw DataError(path + ":" + std::to_string(std::min(lines, in.size()) + 1) + ": " + std::to_string(lines) +
                      " lines, but " + in_path + " has " + std::to_string(in.size()));
  std::vector<Sentence> sentences;
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string line = std::to_string(i + 1);
    Sentence s{split_words(in[i]), split_words(out[i])};
    if (s.words.empty()) throw DataError(in_path + ":" + line + ": empty sentence");
    if (s.tags.size() != s.words.size())
      throw DataError(out_path + ":" + line + ": " + std::to_string(s.tags.size()) + " tags for " +
                      std::to_string(s.words.size()) + " words in seq.in");
    for (const auto& tag : s.tags)
      if (!valid_tag(tag))
        throw DataError(out_path + ":" + line + ": bad tag '" + tag + "' (expected O, B-<slot> or I-<slot>)");
    if (split_words(labels[i]).size() != 1) throw DataError(label_path + ":" + line + ": expected one intent label");
    sentences.push_back(std::move(s));
  }
  return sentences;
}

Dataset read_dataset(const std::string& dir) {
  return {read_split(dir + "/train"), read_split(dir + "/valid"), read_split(dir + "/test")};
}

// ---- the generated travel requests -------------------------------------------------------------------

// A template is a list of pieces: a literal word, or a slot to fill: "A" (a city one arrives at, tagged
// dest), "L" (a city one leaves, tagged depart), "D" (a date), "T" (a time). Half of the templates name the
// city before the word that decides its role ("... arrive taipei ..."), half after it ("taipei is where i
// arrive ..."); in the second half the words before the city are the same for both roles.
class RequestGenerator {
 public:
  explicit RequestGenerator(uint64_t seed) : gen_(seed) {}

  // `rare`: probability that a city is a freshly made-up name, unseen anywhere else (a long tail of
  // small towns); the rest come from a list of well-known cities.
  Sentence sentence(double rare = 0.3) {
    static const std::vector<std::vector<std::string>> before = {
        {"i", "would", "like", "to", "arrive", "A", "on", "D"},
        {"i", "would", "like", "to", "leave", "L", "on", "D"},
        {"arrive", "A", "on", "D"},
        {"leave", "L", "on", "D"},
        {"book", "a", "flight", "from", "L", "to", "A", "on", "D"},
        {"i", "need", "a", "ticket", "from", "L", "to", "A", "at", "T"},
        {"on", "D", "i", "want", "to", "fly", "from", "L", "to", "A"},
        {"show", "me", "flights", "to", "A", "from", "L", "D"},
        {"i", "must", "be", "in", "A", "by", "T"},
        {"departing", "L", "at", "T", "on", "D"},
    };
    static const std::vector<std::vector<std::string>> after = {
        {"A", "is", "where", "i", "arrive", "on", "D"},
        {"L", "is", "where", "i", "leave", "on", "D"},
        {"A", "is", "my", "destination", "on", "D"},
        {"L", "is", "my", "starting", "point", "at", "T"},
        {"on", "D", "A", "is", "where", "i", "want", "to", "arrive"},
        {"on", "D", "L", "is", "where", "i", "want", "to", "leave"},
        {"the", "city", "A", "is", "where", "i", "land", "at", "T"},
        {"the", "city", "L", "is", "where", "i", "take", "off", "at", "T"},
    };
    const auto& pattern = coin(0.5) ? before[gen_.below(before.size())] : after[gen_.below(after.size())];
    Sentence s;
    for (const auto& piece : pattern) {
      if (piece == "A" || piece == "L")
        add(s, city(rare), piece == "A" ? "dest" : "depart");
      else if (piece == "D")
        add(s, date(), "date");
      else if (piece == "T")
        add(s, time(), "time");
      else
        add(s, {piece}, "");
    }
    return s;
  }

 private:
  bool coin(double p) { return gen_.uniform(0, 1) < p; }
  template <class V>
  const auto& any(const V& v) {
    return v[gen_.below(v.size())];
  }

  static void add(Sentence& s, const std::vector<std::string>& words, const std::string& slot) {
    for (size_t i = 0; i < words.size(); ++i) {
      s.words.push_back(words[i]);
      s.tags.push_back(slot.empty() ? "O" : (i == 0 ? "B-" : "I-") + slot);
    }
  }
  std::vector<std::string> city(double rare) {
    // clang-format off
    static const std::vector<std::vector<std::string>> known = {
        {"taipei"}, {"tokyo"}, {"paris"}, {"london"}, {"boston"}, {"seattle"}, {"denver"}, {"chicago"},
        {"berlin"}, {"rome"}, {"madrid"}, {"osaka"}, {"seoul"}, {"sydney"}, {"toronto"}, {"dallas"},
        {"new", "york"}, {"san", "francisco"}, {"los", "angeles"}, {"hong", "kong"}, {"kuala", "lumpur"},
        {"buenos", "aires"}, {"cape", "town"}, {"mexico", "city"}, {"salt", "lake", "city"}, {"rio", "de", "janeiro"}};
    // clang-format on
    if (!coin(rare)) return any(known);
    static const std::vector<std::string> syllables = {"ka",  "lo",  "mi",  "ra",  "te", "su",  "no",
                                                       "vi",  "da",  "re",  "po",  "la", "zen", "tor",
                                                       "bel", "mar", "sen", "dor", "fi", "gu"};
    std::string name;
    for (uint64_t k = 0, n = 2 + gen_.below(2); k < n; ++k) name += any(syllables);
    if (coin(0.2)) return {any(std::vector<std::string>{"port", "san", "lake"}), name};
    return {name};
  }
  std::vector<std::string> date() {
    static const std::vector<std::string> months = {"january",   "february", "march",    "april",
                                                    "may",       "june",     "july",     "august",
                                                    "september", "october",  "november", "december"};
    static const std::vector<std::string> weekdays = {"monday", "tuesday",  "wednesday", "thursday",
                                                      "friday", "saturday", "sunday"};
    const int day = 1 + static_cast<int>(gen_.below(28));
    const char* suffix = day == 1 || day == 21   ? "st"
                         : day == 2 || day == 22 ? "nd"
                         : day == 3 || day == 23 ? "rd"
                                                 : "th";
    const std::string ordinal = std::to_string(day) + suffix;
    switch (gen_.below(4)) {
      case 0:
        return {any(months), ordinal};  // november 2nd
      case 1:
        return {"the", ordinal, "of", any(months)};  // the 2nd of november
      case 2:
        return {any(weekdays)};  // friday
      default:
        return {any(weekdays), "the", ordinal};  // friday the 2nd
    }
  }
  std::vector<std::string> time() {
    switch (gen_.below(3)) {
      case 0:
        return {std::to_string(1 + gen_.below(12)), any(std::vector<std::string>{"am", "pm"})};  // 9 am
      case 1:
        return {std::to_string(1 + gen_.below(12)) + ":30", any(std::vector<std::string>{"am", "pm"})};
      default:
        return {any(std::vector<std::string>{"noon", "midnight"})};
    }
  }

  Generator gen_;
};

Dataset generate_dataset(int64_t train_size, uint64_t seed) {
  RequestGenerator gen(seed);
  Dataset d;
  for (int64_t i = 0; i < train_size; ++i) d.train.push_back(gen.sentence());
  for (int64_t i = 0; i < std::max<int64_t>(100, train_size / 4); ++i) d.valid.push_back(gen.sentence());
  for (int64_t i = 0; i < std::max<int64_t>(100, train_size / 4); ++i) d.test.push_back(gen.sentence());
  return d;
}

// ---- slot F1 (CoNLL-style: exact span and type) -------------------------------------------------------

struct Span {
  std::string type;
  size_t begin, end;  // words [begin, end)
  auto operator<=>(const Span&) const = default;
};

// The spans of a BIO sequence, as the CoNLL-2000 conlleval script reads it: B-x starts a span; I-x
// continues the open span if it has type x, and otherwise starts a new one (a stray I- counts as a start);
// O and the end of the sentence close the open span.
std::vector<Span> spans(const std::vector<std::string>& tags) {
  std::vector<Span> out;
  bool open = false;
  Span current;
  auto close = [&](size_t at) {
    if (open) out.push_back({current.type, current.begin, at});
    open = false;
  };
  for (size_t i = 0; i < tags.size(); ++i) {
    if (tags[i] == "O") {
      close(i);
      continue;
    }
    const char prefix = tags[i][0];
    const std::string type = tags[i].substr(2);
    if (prefix == 'I' && open && current.type == type) continue;
    close(i);
    current = {type, i, 0};
    open = true;
  }
  close(tags.size());
  return out;
}

struct Score {
  int64_t correct = 0, predicted = 0, gold = 0;
  double precision() const { return predicted ? static_cast<double>(correct) / predicted : 0; }
  double recall() const { return gold ? static_cast<double>(correct) / gold : 0; }
  double f1() const {
    const double p = precision(), r = recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
  }
};

// A predicted span is correct when a reference span has the same type, start and end.
void add_score(Score& score, const std::vector<std::string>& gold, const std::vector<std::string>& predicted) {
  const auto g = spans(gold), p = spans(predicted);
  const std::set<Span> reference(g.begin(), g.end());
  for (const auto& span : p) score.correct += reference.count(span);
  score.predicted += static_cast<int64_t>(p.size());
  score.gold += static_cast<int64_t>(g.size());
}

// Hand-checked cases of the span rules and of F1; --check runs them before training.
bool spans_self_test() {
  using Tags = std::vector<std::string>;
  const std::vector<std::pair<Tags, std::vector<Span>>> cases = {
      {{"B-dest", "I-dest", "O", "B-date", "I-date"}, {{"dest", 0, 2}, {"date", 3, 5}}},
      {{"O", "I-time", "I-time"}, {{"time", 1, 3}}},                       // a stray I- starts a span
      {{"B-dest", "I-depart"}, {{"dest", 0, 1}, {"depart", 1, 2}}},        // I- of another type: a new span
      {{"B-date", "B-date", "I-date"}, {{"date", 0, 1}, {"date", 1, 3}}},  // B- always starts a new span
  };
  for (const auto& [tags, expected] : cases)
    if (spans(tags) != expected) return false;
  // Reference: dest [0, 2) and date [3, 4). Prediction: dest [0, 1) (wrong end) and date [3, 4) (right).
  Score s;
  add_score(s, {"B-dest", "I-dest", "O", "B-date"}, {"B-dest", "O", "O", "B-date"});
  return s.correct == 1 && s.predicted == 2 && s.gold == 2 && std::abs(s.f1() - 0.5) < 1e-12;
}

// ---- word encodings ------------------------------------------------------------------------------------

enum class Input { OneHot, Trigram, Embedding };
const char* input_name(Input i) {
  return i == Input::OneHot ? "onehot" : i == Input::Trigram ? "trigram" : "embedding";
}

// Turns words into model inputs. onehot: float32 [T, N, V + 1] with 1 at the word's id (0 = "other");
// trigram: float32 [T, N, K] with 1 at every hashed letter trigram of the word; embedding: int64 ids [T, N]
// for a lookup.
class Encoder {
 public:
  Encoder(Input kind, const std::vector<Sentence>& train, int64_t min_count, int64_t max_vocab, int64_t trigram_dim)
      : kind_(kind), trigram_dim_(trigram_dim) {
    std::map<std::string, int64_t> count;
    for (const auto& s : train)
      for (const auto& w : s.words) ++count[w];
    std::vector<std::pair<int64_t, std::string>> frequent;  // (-count, word): most frequent first, then by name
    for (const auto& [w, c] : count)
      if (c >= min_count) frequent.push_back({-c, w});
    std::sort(frequent.begin(), frequent.end());
    if (max_vocab > 0 && static_cast<int64_t>(frequent.size()) > max_vocab) frequent.resize(max_vocab);
    for (const auto& [c, w] : frequent) ids_.emplace(w, static_cast<int64_t>(ids_.size()) + 1);  // 0 = other
  }

  // Input features per word: F of the dense encodings, or the vocabulary size for a lookup table.
  int64_t size() const { return kind_ == Input::Trigram ? trigram_dim_ : static_cast<int64_t>(ids_.size()) + 1; }
  bool dense() const { return kind_ != Input::Embedding; }
  int64_t id(const std::string& word) const {
    auto it = ids_.find(word);
    return it == ids_.end() ? 0 : it->second;  // the "other" dimension: words outside the vocabulary
  }

  // Letter trigrams of "#word#" hashed into K buckets: "apple" -> #ap app ppl ple le#.
  std::vector<int64_t> trigrams(const std::string& word) const {
    std::vector<std::string> c = characters(word);
    c.insert(c.begin(), "#");
    c.push_back("#");
    std::vector<int64_t> out;
    for (size_t i = 0; i + 2 < c.size(); ++i) {
      uint64_t h = 1469598103934665603ull;  // FNV-1a over the trigram's bytes
      for (const std::string& part : {c[i], c[i + 1], c[i + 2]})
        for (unsigned char b : part) h = (h ^ b) * 1099511628211ull;
      out.push_back(static_cast<int64_t>(h % static_cast<uint64_t>(trigram_dim_)));
    }
    return out;
  }

  // Sentences (time-major) -> input tensor: float32 [T, N, F] dense or int64 ids [T, N]. Padding stays 0
  // (it is masked).
  Tensor encode(const std::vector<const Sentence*>& batch, int64_t T) const {
    const int64_t N = static_cast<int64_t>(batch.size());
    if (!dense()) {
      std::vector<int64_t> ids(static_cast<size_t>(T * N), 0);
      for (int64_t n = 0; n < N; ++n)
        for (size_t t = 0; t < batch[n]->words.size(); ++t) ids[t * N + n] = id(batch[n]->words[t]);
      return tensor(ids, {T, N});
    }
    const int64_t F = size();
    std::vector<float> x(static_cast<size_t>(T * N * F), 0);
    for (int64_t n = 0; n < N; ++n)
      for (size_t t = 0; t < batch[n]->words.size(); ++t) {
        const std::string& w = batch[n]->words[t];
        float* row = x.data() + (static_cast<int64_t>(t) * N + n) * F;
        if (kind_ == Input::Trigram) {
          for (int64_t k : trigrams(w)) row[k] = 1;
        } else {
          row[id(w)] = 1;
        }
      }
    return tensor(x, {T, N, F});
  }

 private:
  Input kind_;
  int64_t trigram_dim_;
  std::map<std::string, int64_t> ids_;
};

// ---- the taggers ----------------------------------------------------------------------------------------

enum class Kind { FeedForward, LSTM, BiLSTM };
const char* kind_name(Kind k) { return k == Kind::FeedForward ? "feed-forward" : k == Kind::LSTM ? "LSTM" : "BiLSTM"; }

struct TaggerOptions {
  int64_t input_size = 0;  // F, or the vocabulary size with a learned embedding
  bool embed = false;      // look ids up in a learned table first
  int64_t embedding_dim = 64;
  int64_t hidden = 64;  // H
  int64_t tags = 0;     // C
  double dropout = 0;
};

class Tagger : public layers::Module {
 public:
  Tagger(Kind kind, const TaggerOptions& o) : kind_(kind), options_(o) {
    using namespace layers;
    const int64_t F = o.embed ? o.embedding_dim : o.input_size;
    if (o.embed) {
      embed_ = std::make_unique<Embedding>(EmbeddingOptions{.num_embeddings = o.input_size, .embedding_dim = F});
      register_module("embed", *embed_);
    }
    if (kind == Kind::FeedForward) {
      hidden_ = std::make_unique<Linear>(LinearOptions{.in_features = F, .out_features = o.hidden});
      register_module("hidden", *hidden_);
    } else {
      lstm_ = std::make_unique<LSTM>(
          LSTMOptions{.input_size = F, .hidden_size = o.hidden, .bidirectional = kind == Kind::BiLSTM});
      register_module("lstm", *lstm_);
    }
    const int64_t D = kind == Kind::BiLSTM ? 2 : 1;
    head_ = std::make_unique<Linear>(LinearOptions{.in_features = D * o.hidden, .out_features = o.tags});
    register_module("head", *head_);
  }
  std::string describe() const override { return std::string("Tagger(") + kind_name(kind_) + ")"; }

  // input: [T, N, F] (or int64 ids [T, N]), lengths: int64 [N] -> logits [T*N, C]
  Tensor forward(const Tensor& input, const Tensor& lengths) {
    Tensor x = embed_ ? (*embed_)(input) : input;  // [T, N, F]
    x = dropout(x, options_.dropout, is_training());
    Tensor h;
    if (hidden_) {
      h = tanh((*hidden_)(x));  // each word on its own: [T, N, H]
    } else {
      // Padded steps (t >= lengths[n]) are skipped; the backward direction of a BiLSTM reads each sentence
      // from its own last word, not from the padding.
      h = lstm_->forward(x, {}, lengths).output;  // [T, N, D*H]
    }
    h = dropout(h, options_.dropout, is_training());
    const Tensor logits = (*head_)(h);  // [T, N, C]
    return reshape(logits, {-1, options_.tags});
  }

 private:
  Kind kind_;
  TaggerOptions options_;
  std::unique_ptr<layers::Embedding> embed_;
  std::unique_ptr<layers::Linear> hidden_, head_;
  std::unique_ptr<layers::LSTM> lstm_;
};

// ---- training and evaluation ------------------------------------------------------------------------------

struct Batch {
  std::vector<const Sentence*> sentences;
  Tensor input, lengths, targets;  // input [T, N, F] or [T, N]; int64 lengths [N], targets [T*N] (-100 = padding)
  int64_t T = 0, words = 0;
};

Batch make_batch(std::vector<const Sentence*> sentences, const Encoder& encoder,
                 const std::map<std::string, int64_t>& tag_ids) {
  Batch b{std::move(sentences), {}, {}, {}, 0, 0};
  const int64_t N = static_cast<int64_t>(b.sentences.size());
  for (const auto* s : b.sentences) b.T = std::max<int64_t>(b.T, static_cast<int64_t>(s->words.size()));
  std::vector<int64_t> lengths(N), targets(static_cast<size_t>(b.T * N), -100);
  for (int64_t n = 0; n < N; ++n) {
    const Sentence& s = *b.sentences[n];
    lengths[n] = static_cast<int64_t>(s.words.size());
    b.words += static_cast<int64_t>(s.words.size());
    for (size_t t = 0; t < s.tags.size(); ++t) {
      auto it = tag_ids.find(s.tags[t]);  // a tag never seen in training cannot be learned: it is ignored
      targets[t * N + n] = it == tag_ids.end() ? -100 : it->second;
    }
  }
  b.input = encoder.encode(b.sentences, b.T);
  b.lengths = tensor(lengths, {N});
  b.targets = tensor(targets, {b.T * N});
  return b;
}

// Batches of similar lengths (less padding): shuffle, sort runs of 50 batches by length, shuffle the batches.
std::vector<Batch> make_batches(const std::vector<Sentence>& data, int64_t batch_size, const Encoder& encoder,
                                const std::map<std::string, int64_t>& tag_ids, Generator* shuffle) {
  std::vector<const Sentence*> order;
  for (const auto& s : data) order.push_back(&s);
  if (shuffle)
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle->below(i)]);
  const size_t run = static_cast<size_t>(batch_size) * 50;
  for (size_t i = 0; i < order.size(); i += run)
    std::stable_sort(order.begin() + i, order.begin() + std::min(order.size(), i + run),
                     [](const Sentence* a, const Sentence* b) { return a->words.size() < b->words.size(); });
  std::vector<Batch> batches;
  for (size_t i = 0; i < order.size(); i += batch_size)
    batches.push_back(
        make_batch({order.begin() + i, order.begin() + std::min(order.size(), i + batch_size)}, encoder, tag_ids));
  if (shuffle)
    for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[shuffle->below(i)]);
  return batches;
}

// Most likely tag at every word of every sentence.
std::vector<std::vector<std::string>> predict(Tagger& model, const std::vector<Batch>& batches,
                                              const std::vector<std::string>& tag_names) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<std::vector<std::string>> out;
  for (const auto& b : batches) {
    const Tensor best = argmax(model.forward(b.input, b.lengths), 1);  // int64 [T*N]
    const int64_t* tag = best.data<int64_t>();
    const int64_t N = static_cast<int64_t>(b.sentences.size());
    for (int64_t n = 0; n < N; ++n) {
      std::vector<std::string> tags;
      for (size_t t = 0; t < b.sentences[n]->words.size(); ++t) tags.push_back(tag_names[tag[t * N + n]]);
      out.push_back(std::move(tags));
    }
  }
  model.train();
  return out;
}

Score score(Tagger& model, const std::vector<Batch>& batches, const std::vector<std::string>& tag_names) {
  const auto predicted = predict(model, batches, tag_names);
  Score s;
  size_t i = 0;
  for (const auto& b : batches)
    for (const auto* sentence : b.sentences) add_score(s, sentence->tags, predicted[i++]);
  return s;
}

struct Config {
  int64_t epochs, batch, hidden, embedding_dim, min_count, max_vocab, trigram_dim;
  double lr, clip, dropout;
  uint64_t seed;
};

struct Result {
  double valid_f1 = 0, test_f1 = 0, seconds = 0;
  int64_t best_epoch = 0, parameters = 0;
  std::vector<double> valid_curve;
  std::vector<std::vector<std::string>> demo_tags;  // predicted tags of the demonstration sentences
};

Result run(Kind kind, Input input, const Dataset& data, const Config& cfg, const std::vector<std::string>& tag_names,
           const std::vector<Sentence>& demo) {
  std::map<std::string, int64_t> tag_ids;
  for (size_t i = 0; i < tag_names.size(); ++i) tag_ids[tag_names[i]] = static_cast<int64_t>(i);
  const Encoder encoder(input, data.train, cfg.min_count, input == Input::OneHot ? cfg.max_vocab : 0, cfg.trigram_dim);
  manual_seed(cfg.seed);  // same initial weights whatever ran before
  Tagger model(kind, {.input_size = encoder.size(),
                      .embed = input == Input::Embedding,
                      .embedding_dim = cfg.embedding_dim,
                      .hidden = cfg.hidden,
                      .tags = static_cast<int64_t>(tag_names.size()),
                      .dropout = cfg.dropout});
  optim::Adam opt(model.parameters(), {.lr = cfg.lr});
  Generator shuffle(cfg.seed + 1);
  const auto valid = make_batches(data.valid, 64, encoder, tag_ids, nullptr);
  const auto test = make_batches(data.test, 64, encoder, tag_ids, nullptr);
  std::vector<const Sentence*> demo_order;
  for (const auto& d : demo) demo_order.push_back(&d);
  const std::vector<Batch> demo_batch = {make_batch(demo_order, encoder, tag_ids)};  // in the given order

  Result r;
  r.parameters = model.num_parameters();
  const int64_t per_epoch = (static_cast<int64_t>(data.train.size()) + cfg.batch - 1) / cfg.batch;
  std::printf("-- %s tagger, %s input (%s %lld, %lld parameters)\n", kind_name(kind), input_name(input),
              encoder.dense() ? "features per word" : "vocabulary", static_cast<long long>(encoder.size()),
              static_cast<long long>(r.parameters));
  examples::Progress progress(cfg.epochs * per_epoch, "words");
  int64_t step = 0;
  double last_loss = 0;
  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    for (const Batch& b : make_batches(data.train, cfg.batch, encoder, tag_ids, &shuffle)) {
      const Tensor logits = model.forward(b.input, b.lengths);                       // [T*N, C]
      const Tensor loss = cross_entropy(logits, b.targets, {.ignore_index = -100});  // mean over real words
      opt.zero_grad();
      loss.backward();
      optim::clip_grad_norm(model.parameters(), cfg.clip);
      opt.step();
      last_loss = loss.item();
      examples::stop_if_not_finite(last_loss, step + 1);
      progress.update(++step, static_cast<double>(b.words),
                      {{"loss", last_loss}, {"valid F1", r.valid_curve.empty() ? 0.0 : r.valid_curve.back()}});
    }
    const double valid_f1 = score(model, valid, tag_names).f1();
    r.valid_curve.push_back(valid_f1);
    if (valid_f1 > r.valid_f1 || r.best_epoch == 0) {  // keep the test score of the best validation epoch
      r.valid_f1 = valid_f1;
      r.best_epoch = epoch;
      r.test_f1 = score(model, test, tag_names).f1();
      r.demo_tags = predict(model, demo_batch, tag_names);
    }
  }
  r.seconds = progress.seconds();
  std::printf("   valid F1 %.4f (best epoch %lld of %lld), test F1 %.4f, %.1f s\n", r.valid_f1,
              static_cast<long long>(r.best_epoch), static_cast<long long>(cfg.epochs), r.test_f1, r.seconds);
  std::fflush(stdout);
  return r;
}

template <class T>
std::vector<T> parse_list(const std::string& text, const std::vector<std::pair<std::string, T>>& known,
                          const char* flag) {
  std::vector<T> out;
  std::istringstream s(text);
  for (std::string item; std::getline(s, item, ',');) {
    if (item == "all") {
      for (const auto& [name, value] : known) out.push_back(value);
      continue;
    }
    auto it = std::find_if(known.begin(), known.end(), [&](const auto& k) { return k.first == item; });
    if (it == known.end()) throw std::invalid_argument(std::string(flag) + ": unknown value '" + item + "'");
    out.push_back(it->second);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  examples::Args args(argc, argv,
                      "slot_filling: feed-forward vs LSTM vs BiLSTM taggers, three word encodings, slot F1");
  const std::string data_dir =
      args.text("--data", "", "SNIPS-style directory with train/ valid/ test/ (seq.in, seq.out, label)");
  const std::string input_flag = args.text("--input", "all", "onehot|trigram|embedding|all, or a comma list");
  const std::string tagger_flag = args.text("--tagger", "all", "ff|lstm|bilstm|all, or a comma list");
  const bool quick = args.flag("--quick", "small data, embedding input only (a few seconds)");
  const bool check = args.flag("--check", "exit 1 unless BiLSTM F1 > LSTM F1 >= feed-forward F1 and BiLSTM F1 >= 0.9");
  const bool real_data = !data_dir.empty();
  const int64_t sentences = args.integer("--sentences", quick ? 800 : 2000, "generated training sentences");
  Config cfg{};
  cfg.epochs = args.integer("--epochs", real_data ? 10 : 6, "training epochs");
  cfg.batch = args.integer("--batch", 32, "sentences per batch");
  cfg.hidden = args.integer("--hidden", real_data ? 128 : 32, "hidden size H of every tagger (per direction)");
  cfg.embedding_dim = args.integer("--emb", real_data ? 100 : 32, "embedding size with --input embedding");
  cfg.min_count = args.integer("--min-count", 2, "words seen fewer times in training map to 'other'");
  cfg.max_vocab =
      args.integer("--max-vocab", real_data ? 2000 : 0, "onehot: keep only the most frequent words (0: all)");
  cfg.trigram_dim = args.integer("--trigram-dim", real_data ? 2048 : 512, "hashed letter-trigram buckets K");
  cfg.lr = args.number("--lr", real_data ? 2e-3 : 1e-2, "Adam learning rate");
  cfg.clip = args.number("--clip", 5, "gradient norm clip");
  cfg.dropout = args.number("--dropout", real_data ? 0.3 : 0.0, "dropout on the inputs and on the hidden features");
  cfg.seed = static_cast<uint64_t>(args.integer("--seed", 0, "random seed"));
  const std::string out_dir = args.text("--out", "examples_out", "directory for the SVG/CSV plot");
  args.done();

  std::vector<Input> inputs;
  std::vector<Kind> kinds;
  Dataset data;
  try {
    inputs = parse_list<Input>(
        quick && input_flag == "all" ? "embedding" : input_flag,
        {{"onehot", Input::OneHot}, {"trigram", Input::Trigram}, {"embedding", Input::Embedding}}, "--input");
    kinds = parse_list<Kind>(tagger_flag, {{"ff", Kind::FeedForward}, {"lstm", Kind::LSTM}, {"bilstm", Kind::BiLSTM}},
                             "--tagger");
    data = real_data ? read_dataset(data_dir) : generate_dataset(sentences, 2002);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "slot_filling: %s\n", e.what());
    return 1;
  }

  std::set<std::string> tag_set;  // the tags the models can output: those seen in training
  int64_t train_words = 0;
  for (const auto& s : data.train) {
    tag_set.insert(s.tags.begin(), s.tags.end());
    train_words += static_cast<int64_t>(s.words.size());
  }
  const std::vector<std::string> tag_names(tag_set.begin(), tag_set.end());
  std::printf("data: %s; %zu / %zu / %zu sentences (train / valid / test), %lld training words, %zu tags\n",
              real_data ? data_dir.c_str() : "generated travel requests", data.train.size(), data.valid.size(),
              data.test.size(), static_cast<long long>(train_words), tag_names.size());

  // Sentences tagged by every model at the end: on generated data, two pairs that differ in one word, the
  // deciding word before the city and after it; on real data the first two test sentences.
  std::vector<Sentence> demo;
  if (real_data) {
    demo.assign(data.test.begin(), data.test.begin() + std::min<size_t>(2, data.test.size()));
  } else {
    const std::vector<std::string> w = {"i", "would", "like", "to", "arrive", "taipei", "on", "november", "2nd"},
                                   t = {"O", "O", "O", "O", "O", "B-dest", "O", "B-date", "I-date"},
                                   w2 = {"taipei", "is", "where", "i", "arrive", "on", "november", "2nd"},
                                   t2 = {"B-dest", "O", "O", "O", "O", "O", "B-date", "I-date"};
    demo = {{w, t}, {w, t}, {w2, t2}, {w2, t2}};
    demo[1].words[4] = demo[3].words[4] = "leave";
    demo[1].tags[5] = demo[3].tags[0] = "B-depart";
  }

  if (check) {
    const bool ok = spans_self_test();
    std::printf("check: span extraction and F1 on hand-checked cases: %s\n", ok ? "ok" : "FAILED");
    if (!ok) return 1;
  }

  std::map<std::pair<Kind, Input>, Result> results;
  for (Input input : inputs)
    for (Kind kind : kinds) results[{kind, input}] = run(kind, input, data, cfg, tag_names, demo);

  // ---- results table: tagger x input -> test F1 ----
  std::printf("\ntest slot F1 (exact span and type; model from the best validation epoch)\n\n| tagger |");
  for (Input input : inputs) std::printf(" %s |", input_name(input));
  std::printf("\n|---|");
  for (size_t i = 0; i < inputs.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (Kind kind : kinds) {
    std::printf("| %s |", kind_name(kind));
    for (Input input : inputs) std::printf(" %.4f |", results[{kind, input}].test_f1);
    std::printf("\n");
  }

  // ---- tagged sentences, in aligned columns ----
  std::printf("\ntags from each model (%s input):\n", input_name(inputs.back()));
  for (size_t d = 0; d < demo.size(); ++d) {
    std::vector<std::pair<std::string, std::vector<std::string>>> rows = {{"word", demo[d].words},
                                                                          {"reference", demo[d].tags}};
    for (Kind kind : kinds) rows.push_back({kind_name(kind), results[{kind, inputs.back()}].demo_tags[d]});
    for (size_t t = 0; t < demo[d].words.size(); ++t) {
      size_t width = 0;
      for (const auto& row : rows) width = std::max(width, characters(row.second[t]).size());
      for (auto& row : rows) row.second[t] += std::string(width - characters(row.second[t]).size(), ' ');
    }
    for (const auto& [name, cells] : rows) {
      std::string line = "  " + name + std::string(12 - std::min<size_t>(12, name.size()), ' ');
      for (const auto& cell : cells) line += " " + cell;
      line.erase(line.find_last_not_of(' ') + 1);
      std::printf("%s\n", line.c_str());
    }
    std::printf("\n");
  }

  // ---- validation F1 per epoch, one plot per input ----
  std::filesystem::create_directories(out_dir);
  for (Input input : inputs) {
    examples::LinePlot plot(std::string("Slot F1 on validation, ") + input_name(input) + " input", "epoch", "F1");
    for (Kind kind : kinds) {
      const auto& curve = results[{kind, input}].valid_curve;
      std::vector<double> epochs(curve.size());
      std::iota(epochs.begin(), epochs.end(), 1.0);
      plot.add(kind_name(kind), epochs, curve);
    }
    const std::string path = out_dir + "/slot_filling_" + (real_data ? "snips_" : "") + input_name(input) + ".svg";
    plot.save(path);
    std::printf("wrote %s\n", path.c_str());
  }

  if (check) {
    bool ok = kinds.size() == 3;
    for (Input input : inputs) {
      const double ff = results[{Kind::FeedForward, input}].test_f1, uni = results[{Kind::LSTM, input}].test_f1,
                   bi = results[{Kind::BiLSTM, input}].test_f1;
      const bool pass = bi > uni && uni >= ff && bi >= 0.9;
      std::printf("check (%s): BiLSTM %.4f > LSTM %.4f >= feed-forward %.4f, BiLSTM >= 0.9: %s\n", input_name(input),
                  bi, uni, ff, pass ? "ok" : "FAILED");
      ok = ok && pass;
    }
    if (!ok) return 1;
  }
  return 0;
}
