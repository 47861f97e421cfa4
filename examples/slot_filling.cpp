// slot_filling: tag every word of a travel request with its slot, and see why a tagger needs memory of
// the words before a word (an RNN) and of the words after it (a bidirectional RNN).
//
//   "i would like to arrive taipei on november 2nd"   taipei = B-dest, november 2nd = B-date I-date
//   "leave taipei on november 2nd"                    taipei = B-depart
//   "taipei is where i arrive on november 2nd"        taipei = B-dest, but the word that says so comes later
//
// Three taggers: a feed-forward network that sees one word at a time, a unidirectional LSTM (the words so
// far) and a bidirectional LSTM (the whole sentence). Four ways to turn a word into a vector: 1-of-N with
// an "other" dimension for unknown words, a bag of letter trigrams (word hashing), a learned embedding, and
// a learned embedding beside learned vectors of the word's letter trigrams. Every model is trained jointly
// on the request's intent (one label per sentence, from the mean of the tagger's features over the words).
// The scores are the literature's: slot F1 (a predicted slot counts only if its type and its exact span
// match the reference), intent accuracy, and exact match (the intent and every tag of the sentence right).
//
//   ./slot_filling                                  all 12 tagger x input pairs on generated requests (~1 min)
//   ./slot_filling --input embedding --tagger bilstm
//   ./slot_filling --data DIR                       SNIPS or ATIS in the seq.in / seq.out / label layout
//                                                   (DIR/train, DIR/valid, DIR/test): a BiLSTM over
//                                                   embedding+trigram input
//   ./slot_filling ... --save CKPT / --resume CKPT  a checkpoint after every epoch / continue after its epoch
//
// Every model writes its test predictions as OUT/slot_filling_<data>_<tagger>_<input>.conll (token, gold tag,
// predicted tag; a blank line after each sentence, as CoNLL-2000's conlleval reads them) and the intents as
// the same name with _intents.txt (gold, predicted; one sentence a line).
//
// Shapes: T = time steps (words), N = batch (sentences), F = input features per word, K = letter trigrams
// per word, H = hidden size, D = directions, C = number of tags, I = number of intents.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
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

#include "common/checkpoint.hpp"
#include "common/cli.hpp"
#include "common/nan_guard.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/text_file.hpp"

using namespace unroll;

namespace {

struct Sentence {
  std::vector<std::string> words;
  std::vector<std::string> tags;  // one per word: O, B-<slot> or I-<slot>
  std::string intent;             // one per sentence: PlayMusic, BookRestaurant, ...
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

// One split: DIR/seq.in (words), DIR/seq.out (one tag per word), DIR/label (one intent per line).
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
    Sentence s{split_words(in[i]), split_words(out[i]), ""};
    if (s.words.empty()) throw DataError(in_path + ":" + line + ": empty sentence");
    if (s.tags.size() != s.words.size())
      throw DataError(out_path + ":" + line + ": " + std::to_string(s.tags.size()) + " tags for " +
                      std::to_string(s.words.size()) + " words in seq.in");
    for (const auto& tag : s.tags)
      if (!valid_tag(tag))
        throw DataError(out_path + ":" + line + ": bad tag '" + tag + "' (expected O, B-<slot> or I-<slot>)");
    const auto intent = split_words(labels[i]);
    if (intent.size() != 1) throw DataError(label_path + ":" + line + ": expected one intent label");
    s.intent = intent[0];
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
// arrive ..."); in the second half the words before the city are the same for both roles. The intent of a
// request follows from its template: "arrival" (it names a destination only), "departure" (an origin only)
// or "flight" (both).
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
    // The intent: what the traveller tells about, an arrival, a departure, or a flight from one city to another.
    const bool arrive = std::count(pattern.begin(), pattern.end(), "A") > 0;
    const bool leave = std::count(pattern.begin(), pattern.end(), "L") > 0;
    s.intent = arrive && leave ? "flight" : arrive ? "arrival" : "departure";
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

// What a model says about one sentence, and the three scores of the literature over a data set.
struct Prediction {
  std::vector<std::string> tags;
  std::string intent;
};

struct Evaluation {
  Score slots;  // slot F1 (exact span and type)
  int64_t intents_correct = 0, exact = 0, sentences = 0;
  double intent_accuracy() const { return sentences ? static_cast<double>(intents_correct) / sentences : 0; }
  // Sentence-level exact match ("semantic frame accuracy", Goo et al. 2018): the intent and every tag right.
  double exact_match() const { return sentences ? static_cast<double>(exact) / sentences : 0; }
};

Evaluation evaluate(const std::vector<Sentence>& data, const std::vector<Prediction>& predicted) {
  Evaluation e;
  for (size_t i = 0; i < data.size(); ++i) {
    add_score(e.slots, data[i].tags, predicted[i].tags);
    const bool intent = predicted[i].intent == data[i].intent;
    e.intents_correct += intent;
    e.exact += intent && predicted[i].tags == data[i].tags;
    ++e.sentences;
  }
  return e;
}

// ---- word encodings ------------------------------------------------------------------------------------

enum class Input { OneHot, Trigram, Embedding, EmbeddingTrigram };
const char* input_name(Input i) {
  switch (i) {
    case Input::OneHot:
      return "onehot";
    case Input::Trigram:
      return "trigram";
    case Input::Embedding:
      return "embedding";
    default:
      return "embedding+trigram";
  }
}

// Turns words into model inputs. onehot: float32 [T, N, V + 1] with 1 at the word's id (0 = "other", the
// vocabulary's <unk>);
// trigram: float32 [T, N, K] with 1 at every hashed letter trigram of the word; embedding: int64 ids [T, N]
// for a lookup; embedding+trigram: the ids, and the word's trigram buckets as int64 [T, N, K] for a second
// lookup (bucket + 1; 0 pads words with fewer trigrams).
class Encoder {
 public:
  Encoder(Input kind, const std::vector<Sentence>& train, int64_t min_count, int64_t max_vocab, int64_t trigram_dim)
      : kind_(kind), trigram_dim_(trigram_dim), vocab_(build_vocabulary(train, min_count, max_vocab)) {}

  // The training words seen at least min_count times, most frequent first (then by their bytes), at most
  // max_vocab of them (0: all), after id 0 = <unk>: "other", every word outside the vocabulary.
  static data::Vocabulary build_vocabulary(const std::vector<Sentence>& train, int64_t min_count, int64_t max_vocab) {
    std::vector<std::vector<std::string>> sentences;
    for (const auto& s : train) sentences.push_back(s.words);
    return data::Vocabulary::build(sentences, {.min_freq = min_count,
                                               .max_size = max_vocab > 0 ? max_vocab + 1 : 0,
                                               .pad_token = "",
                                               .unk_token = "<unk>",
                                               .eos_token = ""});
  }

  // Input features per word: F of the dense encodings, or the vocabulary size for a lookup table.
  int64_t size() const { return kind_ == Input::Trigram ? trigram_dim_ : vocab_.size(); }
  bool dense() const { return kind_ == Input::OneHot || kind_ == Input::Trigram; }
  bool trigram_lookup() const { return kind_ == Input::EmbeddingTrigram; }
  int64_t id(const std::string& word) const { return vocab_.index(word); }  // <unk> (0) outside the vocabulary

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

  // The dense encodings (onehot, trigram) of sentences, time-major: float32 [T, N, F]. Padding stays 0 (it
  // is masked). The lookups' ids [T, N] are the loader's padded inputs (make_batch).
  Tensor encode(const std::vector<const Sentence*>& batch, int64_t T) const {
    const int64_t N = static_cast<int64_t>(batch.size());
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

  // embedding+trigram: the trigram buckets of every word, + 1, as int64 [T, N, K] (K: the most trigrams a
  // word of the batch has); 0 where a word has fewer, and at padding.
  Tensor encode_trigrams(const std::vector<const Sentence*>& batch, int64_t T) const {
    const int64_t N = static_cast<int64_t>(batch.size());
    int64_t K = 1;
    for (const auto* s : batch)
      for (const auto& w : s->words) K = std::max<int64_t>(K, static_cast<int64_t>(characters(w).size()));
    std::vector<int64_t> ids(static_cast<size_t>(T * N * K), 0);
    for (int64_t n = 0; n < N; ++n)
      for (size_t t = 0; t < batch[n]->words.size(); ++t) {
        const std::vector<int64_t> buckets = trigrams(batch[n]->words[t]);
        for (size_t k = 0; k < buckets.size(); ++k) ids[(static_cast<int64_t>(t) * N + n) * K + k] = buckets[k] + 1;
      }
    return tensor(ids, {T, N, K});
  }

 private:
  Input kind_;
  int64_t trigram_dim_;
  data::Vocabulary vocab_;
};

// ---- the taggers ----------------------------------------------------------------------------------------

enum class Kind { FeedForward, LSTM, BiLSTM };
const char* kind_name(Kind k) { return k == Kind::FeedForward ? "feed-forward" : k == Kind::LSTM ? "LSTM" : "BiLSTM"; }
const char* kind_flag(Kind k) { return k == Kind::FeedForward ? "ff" : k == Kind::LSTM ? "lstm" : "bilstm"; }

struct TaggerOptions {
  int64_t input_size = 0;       // F, or the vocabulary size with a learned embedding
  bool embed = false;           // look ids up in a learned table first
  int64_t embedding_dim = 64;   // E
  int64_t trigram_buckets = 0;  // > 0: also a learned E-vector per trigram bucket, summed over the word's trigrams
  int64_t hidden = 64;          // H
  int64_t tags = 0;             // C
  int64_t intents = 0;          // I
  double dropout = 0;
};

// One batch of sentences, time-major and padded to the longest.
struct Batch {
  std::vector<const Sentence*> sentences;
  std::vector<size_t> index;  // where each sentence is in its data set
  Tensor input;               // float32 [T, N, F], or int64 ids [T, N]
  Tensor trigrams;            // embedding+trigram input only: int64 [T, N, K]
  Tensor lengths;             // int64 [N]
  Tensor mask;                // float32 [T, N, 1]: 1 at the words, 0 at padding
  Tensor targets;             // int64 tag ids [T*N], -100 at padding and at tags training never showed
  Tensor intents;             // int64 intent ids [N], -100 for an intent training never showed
  int64_t T = 0, words = 0;
};

struct TaggerOutput {
  Tensor slots;    // [T*N, C] tag scores of every word
  Tensor intents;  // [N, I] intent scores of every sentence
};

class Tagger : public layers::Module {
 public:
  Tagger(Kind kind, const TaggerOptions& o) : kind_(kind), options_(o) {
    using namespace layers;
    const int64_t F = !o.embed ? o.input_size : o.trigram_buckets > 0 ? 2 * o.embedding_dim : o.embedding_dim;
    if (o.embed) {
      embed_ = std::make_unique<Embedding>(
          EmbeddingOptions{.num_embeddings = o.input_size, .embedding_dim = o.embedding_dim});
      register_module("embed", *embed_);
    }
    if (o.trigram_buckets > 0) {
      trigram_embed_ = std::make_unique<Embedding>(EmbeddingOptions{
          .num_embeddings = o.trigram_buckets + 1, .embedding_dim = o.embedding_dim, .padding_idx = 0});
      register_module("trigram_embed", *trigram_embed_);
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
    intent_head_ = std::make_unique<Linear>(LinearOptions{.in_features = D * o.hidden, .out_features = o.intents});
    register_module("intent_head", *intent_head_);
  }
  std::string describe() const override { return std::string("Tagger(") + kind_name(kind_) + ")"; }

  // The batch's input [T, N, F] (or ids [T, N], and trigram buckets [T, N, K]) -> tag scores [T*N, C] and
  // intent scores [N, I].
  TaggerOutput forward(const Batch& b) {
    Tensor x = embed_ ? (*embed_)(b.input) : b.input;  // [T, N, E] or [T, N, F]
    if (trigram_embed_)  // [T, N, K, E] summed over the word's trigrams, beside the word's own vector: [T, N, 2E]
      x = concat({x, sum((*trigram_embed_)(b.trigrams), {2})}, 2);
    x = dropout(x, options_.dropout, is_training());
    Tensor h;
    if (hidden_) {
      h = tanh((*hidden_)(x));  // each word on its own: [T, N, H]
    } else {
      // Padded steps (t >= lengths[n]) are skipped; the backward direction of a BiLSTM reads each sentence
      // from its own last word, not from the padding.
      h = lstm_->forward(x, {}, b.lengths).output;  // [T, N, D*H]
    }
    h = dropout(h, options_.dropout, is_training());
    const Tensor logits = (*head_)(h);  // [T, N, C]
    // The intent reads the mean of the features over the sentence's words: [N, D*H] -> [N, I].
    const Tensor pooled = div(sum(mul(h, b.mask), {0}), sum(b.mask, {0}));
    return {reshape(logits, {-1, options_.tags}), (*intent_head_)(pooled)};
  }

 private:
  Kind kind_;
  TaggerOptions options_;
  std::unique_ptr<layers::Embedding> embed_, trigram_embed_;
  std::unique_ptr<layers::Linear> hidden_, head_, intent_head_;
  std::unique_ptr<layers::LSTM> lstm_;
};

// ---- training and evaluation ------------------------------------------------------------------------------

// The tags and intents the models can output: those of the training set, sorted (two vocabularies without
// special tokens: a label never seen in training has no id).
struct Labels {
  data::Vocabulary tag_vocab, intent_vocab;
  const std::vector<std::string>& tags;     // id -> tag
  const std::vector<std::string>& intents;  // id -> intent
  // Whether every I-x of the training set follows a B-x or an I-x (the BIO scheme called IOB2, as SNIPS and
  // ATIS are written). Only then does decoding keep to such sequences (decode_bio): in IOB1 data an I-x
  // after O is how a span starts.
  bool iob2 = true;
  explicit Labels(const std::vector<Sentence>& train)
      : tag_vocab(build(train, [](const Sentence& s) { return s.tags; })),
        intent_vocab(build(train, [](const Sentence& s) { return std::vector<std::string>{s.intent}; })),
        tags(tag_vocab.tokens()),
        intents(intent_vocab.tokens()) {
    for (const auto& s : train)
      for (size_t t = 0; t < s.tags.size(); ++t)
        if (s.tags[t][0] == 'I' && (t == 0 || s.tags[t - 1] == "O" || s.tags[t - 1].substr(2) != s.tags[t].substr(2)))
          iob2 = false;
  }
  Labels(const Labels&) = delete;

  // The id of a tag / an intent; -100 (cross_entropy's ignore_index) for one training never showed: it
  // cannot be learned, so it is left out of the loss.
  int64_t tag_id(const std::string& tag) const { return tag_vocab.find(tag).value_or(-100); }
  int64_t intent_id(const std::string& intent) const { return intent_vocab.find(intent).value_or(-100); }

 private:
  template <class Get>
  static data::Vocabulary build(const std::vector<Sentence>& train, Get get) {
    std::vector<std::vector<std::string>> labels;
    for (const auto& s : train) labels.push_back(get(s));
    return data::Vocabulary::build(
        labels, {.pad_token = "", .unk_token = "", .eos_token = "", .order = data::TokenOrder::Sorted});
  }
};

// A data set as the loader serves it: per sentence its word ids (encoder.id), tag ids and intent id.
data::SequenceDataset to_ids(const std::vector<Sentence>& sentences, const Encoder& encoder, const Labels& labels) {
  data::SequenceDataset d;
  for (const Sentence& s : sentences) {
    std::vector<int64_t> words, tags;
    for (const auto& w : s.words) words.push_back(encoder.id(w));
    for (const auto& tag : s.tags) tags.push_back(labels.tag_id(tag));
    d.inputs.push_back(std::move(words));
    d.targets.push_back(std::move(tags));
    d.labels.push_back(labels.intent_id(s.intent));
  }
  return d;
}

// The batch of the sentences `indices` of `data`: the loader pads the ids, tags, lengths and mask; the
// dense encodings and the trigrams are made here from the words.
Batch make_batch(const std::vector<Sentence>& data, const data::Loader& loader, const std::vector<int64_t>& indices,
                 const Encoder& encoder) {
  const data::Batch padded = loader.batch(indices);  // inputs [T, N], targets [T, N] (-100 at padding)
  Batch b;
  for (const int64_t i : indices) {
    b.sentences.push_back(&data[static_cast<size_t>(i)]);
    b.index.push_back(static_cast<size_t>(i));
    b.words += static_cast<int64_t>(data[static_cast<size_t>(i)].words.size());
  }
  b.T = padded.inputs.size(0);
  const int64_t N = static_cast<int64_t>(indices.size());
  b.input = encoder.dense() ? encoder.encode(b.sentences, b.T) : padded.inputs;
  if (encoder.trigram_lookup()) b.trigrams = encoder.encode_trigrams(b.sentences, b.T);
  b.lengths = padded.lengths;
  b.mask = unsqueeze(padded.mask.to(kFloat32), 2);  // [T, N, 1]
  b.targets = reshape(padded.targets, {b.T * N});
  b.intents = padded.labels;
  return b;
}

// The sentences of one split with their loader. Batches hold sentences of similar lengths (less padding):
// the loader shuffles, sorts runs of 50 batches by length and shuffles the batches (data/loader.hpp).
struct Split {
  const std::vector<Sentence>& sentences;
  data::Loader loader;
  Split(const std::vector<Sentence>& data, const Encoder& encoder, const Labels& labels,
        const data::LoaderOptions& options)
      : sentences(data), loader(to_ids(data, encoder, labels), options) {}

  // Every batch of `epoch` (the shuffling depends on the loader's seed and the epoch only, so a resumed run
  // shuffles as the uninterrupted one would).
  std::vector<Batch> batches(int64_t epoch, const Encoder& encoder) const {
    std::vector<Batch> out;
    for (const auto& indices : loader.plan(epoch)) out.push_back(make_batch(sentences, loader, indices, encoder));
    return out;
  }
};

// Decoding: the tag sequence with the largest sum of log-probabilities among the valid BIO sequences (an
// I-x only right after B-x or I-x), by dynamic programming over the words (Viterbi). Taking the most likely
// tag of each word on its own can produce an I-x after O, which the scorer reads as a span of its own,
// almost always a wrong one. Without labels.iob2 every sequence is valid, and this is that per-word choice.
// scores: log-probabilities [T][C] of one sentence -> tag ids [T].
std::vector<int64_t> decode_bio(const std::vector<std::vector<float>>& scores, const Labels& labels) {
  const size_t T = scores.size(), C = labels.tags.size();
  // follows[j][i]: tag j may come right after tag i; starts[j]: tag j may begin a sentence.
  std::vector<std::vector<char>> follows(C, std::vector<char>(C, 1));
  std::vector<char> starts(C, 1);
  for (size_t j = 0; j < C; ++j) {
    const std::string& tag = labels.tags[j];
    if (tag[0] != 'I' || !labels.iob2) continue;
    starts[j] = 0;
    for (size_t i = 0; i < C; ++i) {
      const std::string& before = labels.tags[i];
      follows[j][i] = before != "O" && before.compare(1, std::string::npos, tag, 1, std::string::npos) == 0;
    }
  }
  const float none = -std::numeric_limits<float>::infinity();
  std::vector<std::vector<float>> best(T, std::vector<float>(C, none));  // best[t][j]: of a path ending in j
  std::vector<std::vector<int64_t>> from(T, std::vector<int64_t>(C, -1));
  for (size_t j = 0; j < C; ++j)
    if (starts[j]) best[0][j] = scores[0][j];
  for (size_t t = 1; t < T; ++t)
    for (size_t j = 0; j < C; ++j)
      for (size_t i = 0; i < C; ++i)
        if (follows[j][i] && best[t - 1][i] > none && best[t - 1][i] + scores[t][j] > best[t][j]) {
          best[t][j] = best[t - 1][i] + scores[t][j];
          from[t][j] = static_cast<int64_t>(i);
        }
  std::vector<int64_t> path(T);
  path[T - 1] = std::max_element(best[T - 1].begin(), best[T - 1].end()) - best[T - 1].begin();
  for (size_t t = T - 1; t > 0; --t) path[t - 1] = from[t][path[t]];
  return path;
}

// The best valid tag sequence of every sentence (decode_bio) and its most likely intent, in the data set's
// order.
std::vector<Prediction> predict(Tagger& model, const std::vector<Batch>& batches, const Labels& labels) {
  NoGradGuard no_grad;
  model.eval();
  size_t count = 0;
  for (const auto& b : batches) count += b.sentences.size();
  std::vector<Prediction> out(count);
  const int64_t C = static_cast<int64_t>(labels.tags.size());
  for (const auto& b : batches) {
    const TaggerOutput scores = model.forward(b);
    const Tensor log_p = log_softmax(scores.slots, 1);     // [T*N, C]
    const Tensor best_intent = argmax(scores.intents, 1);  // int64 [N]
    const float* lp = log_p.data<float>();
    const int64_t* intent = best_intent.data<int64_t>();
    const int64_t N = static_cast<int64_t>(b.sentences.size());
    for (int64_t n = 0; n < N; ++n) {
      std::vector<std::vector<float>> sentence;  // [T][C] of this sentence's words
      for (size_t t = 0; t < b.sentences[n]->words.size(); ++t) {
        const float* row = lp + (static_cast<int64_t>(t) * N + n) * C;
        sentence.emplace_back(row, row + C);
      }
      Prediction& p = out[b.index[n]];
      for (int64_t tag : decode_bio(sentence, labels)) p.tags.push_back(labels.tags[tag]);
      p.intent = labels.intents[intent[n]];
    }
  }
  model.train();
  return out;
}

// Writes the predictions in CoNLL form, one word a line: "token gold predicted", a blank line after every
// sentence (what conlleval and seqeval read), and the intents beside it: "gold predicted", one a line.
void write_predictions(const std::string& conll, const std::string& intents, const std::vector<Sentence>& data,
                       const std::vector<Prediction>& predicted) {
  std::ofstream out(conll), out_intents(intents);
  for (size_t i = 0; i < data.size(); ++i) {
    for (size_t t = 0; t < data[i].words.size(); ++t)
      out << data[i].words[t] << ' ' << data[i].tags[t] << ' ' << predicted[i].tags[t] << '\n';
    out << '\n';
    out_intents << data[i].intent << ' ' << predicted[i].intent << '\n';
  }
  out.flush(), out_intents.flush();
  if (!out) throw IoError("cannot write " + conll);
  if (!out_intents) throw IoError("cannot write " + intents);
}

struct Config {
  int64_t epochs, batch, hidden, embedding_dim, min_count, max_vocab, trigram_dim;
  double lr, clip, dropout;
  uint64_t seed;
  std::string save, resume;  // checkpoint directories (one tagger and input only)
};

struct Result {
  Evaluation test;  // of the model of the best validation epoch
  double seconds = 0;
  int64_t best_epoch = 0, parameters = 0;
  std::vector<double> valid_curve;  // validation slot F1 after every epoch
  std::vector<Prediction> demo;     // the demonstration sentences, tagged
};

// ---- checkpoints ------------------------------------------------------------------------------------------

// The settings a checkpoint must share with the run that resumes it (int64; the seed keeps its bits).
using Settings = std::vector<std::pair<std::string, int64_t>>;
constexpr int64_t kMaxEpochs = 1000000;

// A copy of the parameter values (the model of the best validation epoch).
std::map<std::string, Tensor> copy_state(const layers::Module& model) {
  NoGradGuard no_grad;
  std::map<std::string, Tensor> copy;
  for (const auto& [name, value] : model.state_dict()) copy[name] = clone(value);
  return copy;
}

// After an epoch: the model, the optimizer, the best model so far (best.npz) and trainer.npz: the epoch, the
// best epoch and the settings (int64 scalars), the validation figures of every epoch so far (float64
// [epoch] each). Replaced as a whole (save_directory).
void save_checkpoint(const std::string& dir, const Tagger& model, const optim::Adam& opt,
                     const std::map<std::string, Tensor>& best, const Settings& settings, int64_t epoch,
                     int64_t best_epoch, const std::vector<std::vector<double>>& curves) {
  std::map<std::string, Tensor> t;
  for (const auto& [name, value] : settings) t[name] = scalar(value);
  t["epoch"] = scalar(epoch);
  t["best_epoch"] = scalar(best_epoch);
  t["valid_f1"] = tensor(curves[0], {epoch}, kFloat64);
  t["valid_intent"] = tensor(curves[1], {epoch}, kFloat64);
  t["valid_exact"] = tensor(curves[2], {epoch}, kFloat64);
  save_directory(dir, [&](const std::string& staging) {
    save(model, staging + "/model.npz");
    save(opt, staging + "/optimizer.npz");
    save_tensors(best, staging + "/best.npz");
    save_tensors(t, staging + "/trainer.npz");
  });
}

// Loads a checkpoint: returns the epoch it was written after; fills the best model, its epoch and the
// curves. Every entry of trainer.npz is checked first (common/checkpoint.hpp): the settings against this
// run's, the epoch in [1, kMaxEpochs], the best epoch in [1, epoch], every figure a fraction in [0, 1].
int64_t load_checkpoint(const std::string& dir, Tagger& model, optim::Adam& opt, const Settings& settings,
                        std::map<std::string, Tensor>& best, int64_t& best_epoch,
                        std::vector<std::vector<double>>& curves) {
  const std::string path = dir + "/trainer.npz";
  const std::map<std::string, Tensor> t = load_tensors(path);
  for (const auto& [name, value] : settings)
    if (examples::checkpoint_integer(t, path, name, std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max()) != value)
      throw examples::UsageError("--resume: " + dir + " was written with another " + name +
                                 " (the data, --tagger, --input, --batch, --hidden, --emb, --min-count, --max-vocab, "
                                 "--trigram-dim and --seed must match)");
  const int64_t epoch = examples::checkpoint_integer(t, path, "epoch", 1, kMaxEpochs);
  best_epoch = examples::checkpoint_integer(t, path, "best_epoch", 1, epoch);
  curves = {examples::checkpoint_values(t, path, "valid_f1", epoch, 0, 1),
            examples::checkpoint_values(t, path, "valid_intent", epoch, 0, 1),
            examples::checkpoint_values(t, path, "valid_exact", epoch, 0, 1)};
  const std::map<std::string, Tensor> saved_best = load_tensors(dir + "/best.npz");
  model.load_state_dict(saved_best);  // checks every name and shape before it changes anything
  best = copy_state(model);
  load(model, dir + "/model.npz");
  load(opt, dir + "/optimizer.npz");
  return epoch;
}

// Trains one tagger on one input, selects the epoch with the best validation slot F1 + intent accuracy, and
// scores that model on the test set (whose predictions it writes to `conll`).
Result run(Kind kind, Input input, const Dataset& data, const Config& cfg, const Labels& labels,
           const std::vector<Sentence>& demo, const std::string& conll) {
  const Encoder encoder(input, data.train, cfg.min_count, input == Input::OneHot ? cfg.max_vocab : 0, cfg.trigram_dim);
  const bool embed = input == Input::Embedding || input == Input::EmbeddingTrigram;
  manual_seed(cfg.seed);  // same initial weights whatever ran before
  Tagger model(kind, {.input_size = encoder.size(),
                      .embed = embed,
                      .embedding_dim = cfg.embedding_dim,
                      .trigram_buckets = encoder.trigram_lookup() ? cfg.trigram_dim : 0,
                      .hidden = cfg.hidden,
                      .tags = static_cast<int64_t>(labels.tags.size()),
                      .intents = static_cast<int64_t>(labels.intents.size()),
                      .dropout = cfg.dropout});
  optim::Adam opt(model.parameters(), {.lr = cfg.lr});
  // Training batches are shuffled by (seed, epoch); validation and test batches keep one order.
  const Split train(data.train, encoder, labels, {.batch_size = cfg.batch, .seed = cfg.seed});
  const auto valid = Split(data.valid, encoder, labels, {.batch_size = 64, .shuffle = false}).batches(0, encoder);
  const auto test = Split(data.test, encoder, labels, {.batch_size = 64, .shuffle = false}).batches(0, encoder);
  const Split demo_split(demo, encoder, labels, {.shuffle = false});
  std::vector<int64_t> demo_index(demo.size());
  std::iota(demo_index.begin(), demo_index.end(), int64_t{0});
  const std::vector<Batch> demo_batch = {make_batch(demo, demo_split.loader, demo_index, encoder)};

  Result r;
  r.parameters = model.num_parameters();
  const int64_t per_epoch = (static_cast<int64_t>(data.train.size()) + cfg.batch - 1) / cfg.batch;
  std::printf("-- %s tagger, %s input (%s %lld, %lld parameters)\n", kind_name(kind), input_name(input),
              encoder.dense() ? "features per word" : "vocabulary", static_cast<long long>(encoder.size()),
              static_cast<long long>(r.parameters));
  const Settings settings = {{"tagger", static_cast<int64_t>(kind)},
                             {"input", static_cast<int64_t>(input)},
                             {"vocabulary", encoder.size()},
                             {"tags", static_cast<int64_t>(labels.tags.size())},
                             {"intents", static_cast<int64_t>(labels.intents.size())},
                             {"train_sentences", static_cast<int64_t>(data.train.size())},
                             {"batch", cfg.batch},
                             {"hidden", cfg.hidden},
                             {"emb", cfg.embedding_dim},
                             {"trigram_dim", cfg.trigram_dim},
                             {"seed", static_cast<int64_t>(cfg.seed)}};
  std::map<std::string, Tensor> best = copy_state(model);
  std::vector<std::vector<double>> curves(3);  // validation slot F1, intent accuracy, exact match per epoch
  int64_t first_epoch = 1;
  if (!cfg.resume.empty()) {
    first_epoch = load_checkpoint(cfg.resume, model, opt, settings, best, r.best_epoch, curves) + 1;
    std::printf("resumed from %s after epoch %lld\n", cfg.resume.c_str(), static_cast<long long>(first_epoch - 1));
  }
  const auto selection = [&](int64_t epoch) { return curves[0][epoch - 1] + curves[1][epoch - 1]; };
  examples::Progress progress(std::max<int64_t>(0, cfg.epochs - first_epoch + 1) * per_epoch, "words");
  int64_t done = 0;
  for (int64_t epoch = first_epoch; epoch <= cfg.epochs; ++epoch) {
    int64_t step = (epoch - 1) * per_epoch;
    for (const Batch& b : train.batches(epoch, encoder)) {
      manual_seed(cfg.seed + 2 + static_cast<uint64_t>(step++));  // dropout masks depend on (seed, step) only
      const TaggerOutput out = model.forward(b);
      const Tensor slot_loss = cross_entropy(out.slots, b.targets, {.ignore_index = -100});  // mean over words
      const Tensor intent_loss = cross_entropy(out.intents, b.intents);                      // mean over sentences
      const Tensor loss = add(slot_loss, intent_loss);
      opt.zero_grad();
      loss.backward();
      optim::clip_grad_norm(model.parameters(), cfg.clip);
      opt.step();
      const double loss_value = loss.item();
      examples::stop_if_not_finite(loss_value, step);
      progress.update(++done, static_cast<double>(b.words),
                      {{"loss", loss_value}, {"valid F1", curves[0].empty() ? 0.0 : curves[0].back()}});
    }
    progress.pause();  // validation and checkpoints are not training time
    const Evaluation e = evaluate(data.valid, predict(model, valid, labels));
    curves[0].push_back(e.slots.f1());
    curves[1].push_back(e.intent_accuracy());
    curves[2].push_back(e.exact_match());
    if (r.best_epoch == 0 || selection(epoch) > selection(r.best_epoch)) {
      r.best_epoch = epoch;
      best = copy_state(model);
    }
    if (!cfg.save.empty()) save_checkpoint(cfg.save, model, opt, best, settings, epoch, r.best_epoch, curves);
    progress.resume();
  }
  r.seconds = progress.seconds();
  r.valid_curve = curves[0];
  if (r.best_epoch > 0) model.load_state_dict(best);
  // The test set is scored once, with the model of the best validation epoch: it never chooses anything.
  const std::vector<Prediction> predicted = predict(model, test, labels);
  r.test = evaluate(data.test, predicted);
  r.demo = predict(model, demo_batch, labels);
  write_predictions(conll, conll.substr(0, conll.size() - 6) + "_intents.txt", data.test, predicted);
  const int64_t b = r.best_epoch - 1;  // the validation figures of the chosen epoch, as measured then
  std::printf("   valid (best epoch %lld of %lld): slot F1 %.4f, intent accuracy %.4f, exact match %.4f\n",
              static_cast<long long>(r.best_epoch), static_cast<long long>(curves[0].size()), curves[0][b],
              curves[1][b], curves[2][b]);
  std::printf("   test: slot F1 %.4f, intent accuracy %.4f, exact match %.4f; %.1f s of training\n", r.test.slots.f1(),
              r.test.intent_accuracy(), r.test.exact_match(), r.seconds);
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
    if (it == known.end()) {
      std::string names;
      for (const auto& k : known) names += k.first + ", ";
      throw examples::UsageError(std::string(flag) + ": unknown value '" + item + "' (known: " + names + "all)");
    }
    if (std::find(out.begin(), out.end(), it->second) == out.end()) out.push_back(it->second);
  }
  if (out.empty()) throw examples::UsageError(std::string(flag) + ": empty list");
  return out;
}

// Tags and intents of `data` that the training set never shows: no model can predict them, so their spans
// count as missed and their sentences as wrong. Prints one line for the split.
void report_unseen(const char* split, const std::vector<Sentence>& data, const Labels& labels) {
  std::map<std::string, int64_t> tags, intents;  // unseen label -> words / sentences that have it
  for (const auto& s : data) {
    for (const auto& tag : s.tags)
      if (!labels.tag_vocab.contains(tag)) ++tags[tag];
    if (!labels.intent_vocab.contains(s.intent)) ++intents[s.intent];
  }
  if (tags.empty() && intents.empty()) {
    std::printf("%s: every tag and intent occurs in training\n", split);
    return;
  }
  std::string list;
  for (const auto& [tag, n] : tags) list += (list.empty() ? "" : ", ") + tag + " (" + std::to_string(n) + " words)";
  for (const auto& [intent, n] : intents)
    list += (list.empty() ? "" : ", ") + std::string("intent ") + intent + " (" + std::to_string(n) + " sentences)";
  std::printf("%s: %zu tags and %zu intents never seen in training, so never predicted: %s\n", split, tags.size(),
              intents.size(), list.c_str());
}

// A data set's name for the output files: the --data folder's name ("generated" without one).
std::string data_name(const std::string& dir) {
  if (dir.empty()) return "generated";
  std::string name = std::filesystem::weakly_canonical(dir).filename().string();
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '_';
  return name.empty() ? "data" : name;
}

}  // namespace

int run_slot_filling(int argc, char** argv) {
  examples::Cli cli("slot_filling",
                    "slot_filling: feed-forward vs LSTM vs BiLSTM taggers, four word encodings, joint intent; slot F1, "
                    "intent accuracy, exact match");
  // --data and --quick choose the defaults of the other flags (shown by --help).
  std::string data_dir = cli.peek(argc, argv, "--data").value_or("");
  bool quick = cli.peek_flag(argc, argv, "--quick"), check = false;
  const bool real_data = !data_dir.empty();
  const int64_t kMax = examples::kMaxSize;
  cli.text("--data", data_dir, "SNIPS-style directory with train/ valid/ test/ (seq.in, seq.out, label)");
  std::string input_flag = real_data ? "embedding+trigram" : quick ? "embedding" : "all";
  std::string tagger_flag = real_data ? "bilstm" : "all";
  cli.text("--input", input_flag, "onehot|trigram|embedding|embedding+trigram|all, or a comma list");
  cli.text("--tagger", tagger_flag, "ff|lstm|bilstm|all, or a comma list");
  cli.flag("--quick", quick, "800 generated sentences, embedding input only (a few seconds)");
  cli.flag("--check", check,
           "exit 1 unless BiLSTM F1 > LSTM F1 >= feed-forward F1, BiLSTM F1 >= 0.9 and BiLSTM intent accuracy >= 0.95");
  int64_t sentences = quick ? 800 : 2000;
  cli.count("--sentences", sentences, "generated training sentences", 1, 10000000);
  Config cfg{};
  cfg.epochs = real_data ? 20 : 6;
  cfg.batch = 32;
  cfg.hidden = real_data ? 200 : 32;
  cfg.embedding_dim = real_data ? 100 : 32;
  cfg.min_count = 2;
  cfg.max_vocab = real_data ? 2000 : 0;
  cfg.trigram_dim = real_data ? 2048 : 512;
  cfg.lr = real_data ? 2e-3 : 1e-2;
  cfg.clip = 5;
  cfg.dropout = real_data ? 0.3 : 0.0;
  cli.count("--epochs", cfg.epochs, "training epochs", 1, kMaxEpochs);
  cli.count("--batch", cfg.batch, "sentences per batch", 1, kMax);
  cli.count("--hidden", cfg.hidden, "hidden size H of every tagger (per direction)", 1, kMax);
  cli.count("--emb", cfg.embedding_dim, "embedding size E (embedding inputs; per trigram too)", 1, kMax);
  cli.count("--min-count", cfg.min_count, "words seen fewer times in training map to 'other'", 1);
  cli.count("--max-vocab", cfg.max_vocab, "onehot: keep only the most frequent words (0: all)", 0);
  cli.count("--trigram-dim", cfg.trigram_dim, "hashed letter-trigram buckets K", 1, kMax);
  cli.number("--lr", cfg.lr, "Adam learning rate", examples::positive);
  cli.number("--clip", cfg.clip, "gradient norm clip", examples::positive);
  cli.number("--dropout", cfg.dropout, "dropout on the inputs and on the hidden features", examples::probability);
  cli.seed("--seed", cfg.seed, "random seed");
  std::string out_dir = "examples_out";
  cli.text("--out", out_dir, "directory for the plots (SVG/CSV) and the test predictions (CoNLL)");
  cli.text("--save", cfg.save, "checkpoint directory, written after every epoch (one --tagger and --input)");
  cli.text("--resume", cfg.resume, "continue training after the epoch of this checkpoint");
  cli.parse(argc, argv);

  const std::vector<Input> inputs = parse_list<Input>(input_flag,
                                                      {{"onehot", Input::OneHot},
                                                       {"trigram", Input::Trigram},
                                                       {"embedding", Input::Embedding},
                                                       {"embedding+trigram", Input::EmbeddingTrigram}},
                                                      "--input");
  const std::vector<Kind> kinds = parse_list<Kind>(
      tagger_flag, {{"ff", Kind::FeedForward}, {"lstm", Kind::LSTM}, {"bilstm", Kind::BiLSTM}}, "--tagger");
  if ((!cfg.save.empty() || !cfg.resume.empty()) && inputs.size() * kinds.size() != 1)
    throw examples::UsageError("--save and --resume take one model: give one --tagger and one --input");
  const Dataset data = real_data ? read_dataset(data_dir) : generate_dataset(sentences, 2002);
  const std::string name = data_name(data_dir);

  const Labels labels(data.train);
  int64_t train_words = 0;
  for (const auto& s : data.train) train_words += static_cast<int64_t>(s.words.size());
  std::printf(
      "data: %s; %zu / %zu / %zu sentences (train / valid / test), %lld training words, %zu tags, %zu intents\n",
      real_data ? data_dir.c_str() : "generated travel requests", data.train.size(), data.valid.size(),
      data.test.size(), static_cast<long long>(train_words), labels.tags.size(), labels.intents.size());
  report_unseen("valid", data.valid, labels);
  report_unseen("test", data.test, labels);

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
    demo = {{w, t, "arrival"}, {w, t, "departure"}, {w2, t2, "arrival"}, {w2, t2, "departure"}};
    demo[1].words[4] = demo[3].words[4] = "leave";
    demo[1].tags[5] = demo[3].tags[0] = "B-depart";
  }

  if (check) {
    const bool ok = spans_self_test();
    std::printf("check: span extraction and F1 on hand-checked cases: %s\n", ok ? "ok" : "FAILED");
    if (!ok) return 1;
  }

  std::filesystem::create_directories(out_dir);
  std::map<std::pair<Kind, Input>, Result> results;
  for (Input input : inputs)
    for (Kind kind : kinds) {
      const std::string conll =
          out_dir + "/slot_filling_" + name + "_" + kind_flag(kind) + "_" + input_name(input) + ".conll";
      results[{kind, input}] = run(kind, input, data, cfg, labels, demo, conll);
    }

  // ---- results table: tagger x input -> test slot F1, intent accuracy, exact match ----
  std::printf("\ntest: slot F1 / intent accuracy / exact match (model from the best validation epoch)\n\n| tagger |");
  for (Input input : inputs) std::printf(" %s |", input_name(input));
  std::printf("\n|---|");
  for (size_t i = 0; i < inputs.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (Kind kind : kinds) {
    std::printf("| %s |", kind_name(kind));
    for (Input input : inputs) {
      const Evaluation& e = results[{kind, input}].test;
      std::printf(" %.4f / %.4f / %.4f |", e.slots.f1(), e.intent_accuracy(), e.exact_match());
    }
    std::printf("\n");
  }

  // ---- tagged sentences, in aligned columns ----
  std::printf("\ntags and intents from each model (%s input):\n", input_name(inputs.back()));
  for (size_t d = 0; d < demo.size(); ++d) {
    std::vector<std::pair<std::string, std::vector<std::string>>> rows = {{"word", demo[d].words},
                                                                          {"reference", demo[d].tags}};
    std::vector<std::string> intents = {"", demo[d].intent};
    for (Kind kind : kinds) {
      const Prediction& p = results[{kind, inputs.back()}].demo[d];
      rows.push_back({kind_name(kind), p.tags});
      intents.push_back(p.intent);
    }
    for (size_t t = 0; t < demo[d].words.size(); ++t) {
      size_t width = 0;
      for (const auto& row : rows) width = std::max(width, characters(row.second[t]).size());
      for (auto& row : rows) row.second[t] += std::string(width - characters(row.second[t]).size(), ' ');
    }
    for (size_t k = 0; k < rows.size(); ++k) {
      const auto& [label, cells] = rows[k];
      std::string line = "  " + label + std::string(12 - std::min<size_t>(12, label.size()), ' ');
      for (const auto& cell : cells) line += " " + cell;
      if (!intents[k].empty()) line += "   (" + intents[k] + ")";
      line.erase(line.find_last_not_of(' ') + 1);
      std::printf("%s\n", line.c_str());
    }
    std::printf("\n");
  }

  // ---- validation F1 per epoch, one plot per input; the predictions written ----
  for (Input input : inputs) {
    examples::LinePlot plot(std::string("Slot F1 on validation, ") + input_name(input) + " input", "epoch", "F1");
    for (Kind kind : kinds) {
      const auto& curve = results[{kind, input}].valid_curve;
      std::vector<double> epochs(curve.size());
      std::iota(epochs.begin(), epochs.end(), 1.0);
      plot.add(kind_name(kind), epochs, curve);
    }
    const std::string path =
        out_dir + "/slot_filling_" + (real_data ? name + "_" : std::string()) + input_name(input) + ".svg";
    plot.save(path);
    std::printf("wrote %s\n", path.c_str());
  }
  std::printf(
      "wrote the test predictions as %s/slot_filling_%s_<tagger>_<input>.conll (token gold predicted) and "
      "_intents.txt\n",
      out_dir.c_str(), name.c_str());

  if (check) {
    bool ok = kinds.size() == 3;
    for (Input input : inputs) {
      if (!ok) break;
      const double ff = results[{Kind::FeedForward, input}].test.slots.f1(),
                   uni = results[{Kind::LSTM, input}].test.slots.f1(),
                   bi = results[{Kind::BiLSTM, input}].test.slots.f1(),
                   intent = results[{Kind::BiLSTM, input}].test.intent_accuracy();
      const bool pass = bi > uni && uni >= ff && bi >= 0.9 && intent >= 0.95;
      std::printf(
          "check (%s): BiLSTM %.4f > LSTM %.4f >= feed-forward %.4f, BiLSTM >= 0.9, BiLSTM intent accuracy "
          "%.4f >= 0.95: %s\n",
          input_name(input), bi, uni, ff, intent, pass ? "ok" : "FAILED");
      ok = ok && pass;
    }
    if (!ok) return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_example("slot_filling", [&] { return run_slot_filling(argc, argv); });
}
