// seq2seq_attention: a sequence-to-sequence model with attention, the tenth tutorial (docs/attention.md).
//
// The task: a calendar date written in one of twelve surface forms goes in, the same date in ISO form comes out:
//
//   "wednesday, march 3rd 2021"  "3 Mar 2021"  "03/03/2021"  "March 3, 2021"  "2021.3.3"  "wed 3 march 21" ...
//     -> "2021-03-03"
//
// Words are tokens, digits and punctuation are tokens of their own ("3rd" is "3" "rd"), and the output is
// read one character at a time. The dates are real calendar dates between 1950 and 2049 (the weekday is
// the right one; a two-digit year 50..99 is 19xx, 00..49 is 20xx), drawn by a seed; the held-out dates are
// never seen in training, in any form.
//
// The model (Bahdanau et al. 2015; Luong et al. 2015):
//
//   source ids [S, N] -> Embedding -> bidirectional GRU/LSTM (ragged batch) -> encoder outputs [S, N, 2H]
//   decoder step t:  x_t = [embedding of the previous output token ; previous attentional vector]   [N, E+2H]
//                    h_t = cell(x_t, h_{t-1})                                                       [N, 2H]
//                    context_t, weights_t = attention(query h_t, keys = values = encoder outputs)   [N, 2H], [N, S]
//                    a_t = tanh(W_c [h_t ; context_t]),  logits_t = W_o a_t                          [N, C]
//
// trained with teacher forcing (the decoder reads the true previous character), decoded greedily and with
// beam search. It prints the held-out exact-match accuracy of both and writes the attention weights of a
// few held-out examples as a heat map (seq2seq_attention_heatmap.svg + .csv in --out).
//
// Shape legend: S = source tokens, T = target characters (10 + <eos>), N = batch, E = --embed, H = --hidden
// (per encoder direction), D = 2H (decoder state and encoder output), C = output vocabulary, K = --beam.
//
//   ./build/examples/seq2seq_attention                        # under a minute: >= 95% exact match
//   ./build/examples/seq2seq_attention --preset long          # a larger model, more steps
//   ./build/examples/seq2seq_attention --attention dot --cell lstm
//   ./build/examples/seq2seq_attention --steps 50 --time      # time per training step only (bench/compare_seq2seq)
//   ./build/examples/seq2seq_attention --check                # the test: exit 1 below the stated accuracy
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <unroll/unroll.hpp>
#include <utility>
#include <vector>

#include "common/cli.hpp"
#include "common/progress.hpp"

using namespace unroll;
namespace fs = std::filesystem;

// ---- the task: dates in many surface forms -> YYYY-MM-DD ---------------------------------------------------

struct Example {
  std::vector<std::string> source;  // tokens, e.g. {"tuesday", ",", "march", "3", "rd", "2", "0", "2", "1"}
  std::vector<std::string> target;  // the 10 characters of "2021-03-03"
};

// Surface forms of the dates 1950-01-01 + day, day in [0, kDays).
class DateWriter {
 public:
  static constexpr int64_t kDays = 36525;  // 1950-01-01 .. 2049-12-31

  explicit DateWriter(uint64_t seed) : gen_(seed) {}

  Example example(int64_t day) {
    using namespace std::chrono;
    const sys_days date = sys_days{year{1950} / January / 1} + days{day};
    const year_month_day ymd{date};
    const int y = static_cast<int>(ymd.year()), m = static_cast<int>(static_cast<unsigned>(ymd.month())),
              d = static_cast<int>(static_cast<unsigned>(ymd.day()));
    const int wd = static_cast<int>(weekday{date}.iso_encoding()) - 1;  // 0 = monday
    static const char* months[] = {"january", "february", "march",     "april",   "may",      "june",
                                   "july",    "august",   "september", "october", "november", "december"};
    static const char* weekdays[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
    const bool title = gen_.below(3) == 0;  // "March" rather than "march"
    const auto name = [&](std::string w) {  // the full name or its first three letters
      if (gen_.below(2)) w = w.substr(0, 3);
      if (title) w[0] = static_cast<char>(w[0] - 'a' + 'A');
      return std::vector<std::string>{w};
    };
    const auto month = name(months[m - 1]), wday = name(weekdays[wd]);
    const auto D = digits(d, 1), DD = digits(d, 2), M = digits(m, 1), MM = digits(m, 2), YYYY = digits(y, 4),
               YY = digits(y % 100, 2);
    const std::vector<std::string> ord = cat({D,
                                              {d % 10 == 1 && d != 11   ? "st"
                                               : d % 10 == 2 && d != 12 ? "nd"
                                               : d % 10 == 3 && d != 13 ? "rd"
                                                                        : "th"}});
    std::vector<std::string> source;
    switch (gen_.below(12)) {
      case 0:
        source = cat({wday, {","}, month, ord, YYYY});
        break;  // tuesday, march 3rd 2021
      case 1:
        source = cat({D, month, YYYY});
        break;  // 3 mar 2021
      case 2:
        source = cat({MM, {"/"}, DD, {"/"}, YYYY});
        break;  // 03/03/2021 (month first)
      case 3:
        source = cat({month, D, {","}, YYYY});
        break;  // march 3, 2021
      case 4:
        source = cat({YYYY, {"."}, M, {"."}, D});
        break;  // 2021.3.3
      case 5:
        source = cat({wday, D, month, YY});
        break;  // sat 3 march 21
      case 6:
        source = cat({{"the"}, ord, {"of"}, month, YYYY});
        break;  // the 3rd of march 2021
      case 7:
        source = cat({DD, {"."}, MM, {"."}, YYYY});
        break;  // 03.03.2021 (day first)
      case 8:
        source = cat({YYYY, {"-"}, MM, {"-"}, DD});
        break;  // 2021-03-03
      case 9:
        source = cat({YYYY, MM, DD});
        break;  // 20210303
      case 10:
        source = cat({wday, {","}, D, month, YYYY});
        break;  // tue, 3 mar 2021
      default:
        source = cat({ord, month, YYYY});
        break;  // 3rd march 2021
    }
    return {source, cat({digits(y, 4), {"-"}, MM, {"-"}, DD})};
  }

 private:
  static std::vector<std::string> digits(int v, int width) {  // 3, width 2 -> {"0", "3"}
    std::string s = std::to_string(v);
    s.insert(0, std::max<int>(0, width - static_cast<int>(s.size())), '0');
    std::vector<std::string> out;
    for (char c : s) out.push_back(std::string(1, c));
    return out;
  }
  static std::vector<std::string> cat(std::initializer_list<std::vector<std::string>> parts) {
    std::vector<std::string> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  }
  Generator gen_;
};

// The held-out dates are the first `test_size` of a shuffle of all days; the training examples are drawn
// (date and form) from the others, so no held-out date appears in training in any form.
struct Task {
  std::vector<Example> train, test;
};

Task make_task(int64_t train_size, int64_t test_size, uint64_t seed) {
  std::vector<int64_t> days(DateWriter::kDays);
  std::iota(days.begin(), days.end(), 0);
  Generator gen(seed);
  for (size_t i = days.size(); i > 1; --i) std::swap(days[i - 1], days[gen.below(i)]);
  DateWriter writer(seed + 1);
  Task task;
  for (int64_t i = 0; i < test_size; ++i) task.test.push_back(writer.example(days[i]));
  const uint64_t pool = days.size() - test_size;
  for (int64_t i = 0; i < train_size; ++i) task.train.push_back(writer.example(days[test_size + gen.below(pool)]));
  return task;
}

// ---- model -------------------------------------------------------------------------------------------------
struct Seq2SeqOptions {
  int64_t source_vocab = 0, target_vocab = 0;  // input tokens, output characters C
  int64_t embed = 32, hidden = 64;             // E, H (per encoder direction; the decoder's state is D = 2H)
  std::string cell = "gru";                    // gru | lstm, encoder and decoder
  std::string attention = "additive";          // additive | general | dot
  int64_t bos = 0;                             // the id the decoder reads before the first character
};

class Seq2Seq : public layers::Module {
 public:
  struct Memory {         // what the decoder attends to
    Tensor keys;          // [S, N, D] encoder outputs ([S, N, D] projected once for additive attention)
    Tensor values, mask;  // [S, N, D] encoder outputs; bool [S, N], true at real tokens
  };
  struct Decoder {        // the decoder's running state
    layers::State state;  // h (and c for LSTM): [N, D]
    Tensor feed;          // the last attentional vector a_{t-1}: [N, D]
  };

  explicit Seq2Seq(const Seq2SeqOptions& o)
      : source_embed(layers::EmbeddingOptions{.num_embeddings = o.source_vocab, .embedding_dim = o.embed}),
        target_embed(layers::EmbeddingOptions{.num_embeddings = o.target_vocab, .embedding_dim = o.embed}),
        bridge(layers::LinearOptions{.in_features = 2 * o.hidden, .out_features = 2 * o.hidden}),
        combine(layers::LinearOptions{.in_features = 4 * o.hidden, .out_features = 2 * o.hidden}),
        out(layers::LinearOptions{.in_features = 2 * o.hidden, .out_features = o.target_vocab}),
        o_(o) {
    const int64_t D = 2 * o.hidden;
    if (o.cell == "gru") {
      encoder = std::make_unique<layers::GRU>(
          layers::GRUOptions{.input_size = o.embed, .hidden_size = o.hidden, .bidirectional = true});
      decoder = std::make_unique<layers::GRUCell>(layers::GRUCellOptions{.input_size = o.embed + D, .hidden_size = D});
    } else {
      encoder = std::make_unique<layers::LSTM>(
          layers::LSTMOptions{.input_size = o.embed, .hidden_size = o.hidden, .bidirectional = true});
      decoder =
          std::make_unique<layers::LSTMCell>(layers::LSTMCellOptions{.input_size = o.embed + D, .hidden_size = D});
    }
    if (o.attention == "additive")
      additive = std::make_unique<layers::AdditiveAttention>(
          layers::AdditiveAttentionOptions{.query_size = D, .key_size = D, .hidden_size = D});
    else
      multiplicative = std::make_unique<layers::MultiplicativeAttention>(layers::MultiplicativeAttentionOptions{
          .query_size = D,
          .score = o.attention == "dot" ? layers::MultiplicativeScore::Dot : layers::MultiplicativeScore::General});
    register_module("source_embed", source_embed), register_module("target_embed", target_embed);
    register_module("encoder", *encoder), register_module("decoder", *decoder);
    if (additive) register_module("attention", *additive);
    if (multiplicative) register_module("attention", *multiplicative);
    register_module("bridge", bridge), register_module("combine", combine), register_module("out", out);
  }
  std::string describe() const override { return "Seq2Seq(" + o_.cell + ", " + o_.attention + ")"; }

  // source ids [S, N], lengths [N], mask bool [S, N] -> the memory and the decoder's first state.
  std::pair<Memory, Decoder> encode(const Tensor& source, const Tensor& lengths, const Tensor& mask) {
    // Padded steps are skipped: the backward direction starts at each sequence's own last token.
    auto [outputs, last] = encoder->forward(source_embed(source), {}, lengths);  // [S, N, D]; h [2, N, H]
    const Tensor h = tanh(bridge(concat(unbind(last.h, 0), 1)));                 // both directions' last: [N, D]
    Memory memory{additive ? additive->project_keys(outputs) : outputs, outputs, mask};
    return {memory, {{h, o_.cell == "lstm" ? zeros_like(h) : Tensor()}, zeros_like(h)}};
  }

  // One decoder step: the previous tokens [N] -> logits [N, C] and attention weights [N, S].
  std::pair<Tensor, Tensor> step(const Tensor& previous, Decoder& d, const Memory& m) {
    d.state = (*decoder)(concat({target_embed(previous), d.feed}, 1), d.state);  // input feeding: [N, E + D]
    auto [context, weights] = additive ? additive->forward_projected(d.state.h, m.keys, m.values, m.mask)
                                       : multiplicative->forward(d.state.h, m.keys, m.values, m.mask);
    d.feed = tanh(combine(concat({d.state.h, context}, 1)));  // [N, D]
    return {out(d.feed), weights};
  }

  // Teacher forcing: step t reads the true character t - 1. Mean cross-entropy per target character.
  Tensor loss(const data::Batch& b) {  // b.targets [T, N], -100 after each target's end
    auto [memory, d] = encode(b.inputs, b.lengths, b.mask);
    Tensor previous = full({b.inputs.size(1)}, o_.bos);
    std::vector<Tensor> logits;
    for (const Tensor& target : unbind(b.targets, 0)) {
      logits.push_back(step(previous, d, memory).first);  // [N, C]
      previous = masked_fill(target, lt(target, 0), o_.bos);
    }
    return cross_entropy(concat(logits, 0), reshape(b.targets, {-1}), {.ignore_index = -100});
  }

  std::unique_ptr<layers::RecurrentNetwork> encoder;  // bidirectional, hidden H per direction
  std::unique_ptr<layers::Cell> decoder;              // state D = 2H
  std::unique_ptr<layers::AdditiveAttention> additive;
  std::unique_ptr<layers::MultiplicativeAttention> multiplicative;
  layers::Embedding source_embed, target_embed;
  layers::Linear bridge, combine, out;  // D -> D (first decoder state), 2D -> D (a_t), D -> C

 private:
  Seq2SeqOptions o_;
};
// ---- end of model ------------------------------------------------------------------------------------------

// ---- decoding: greedy and beam search ----------------------------------------------------------------------
struct Decoded {
  std::vector<std::vector<int64_t>> tokens;  // [N] the characters up to <eos>
  std::vector<std::vector<float>> weights;   // [N] the attention weights of each step, row-major [steps, S]
};

// The most likely character at every step, for the whole batch at once.
Decoded greedy(Seq2Seq& model, const data::Batch& b, int64_t bos, int64_t eos, int64_t max_len) {
  NoGradGuard no_grad;
  auto [memory, d] = model.encode(b.inputs, b.lengths, b.mask);
  const int64_t N = b.inputs.size(1), S = b.inputs.size(0);
  Decoded out{std::vector<std::vector<int64_t>>(N), std::vector<std::vector<float>>(N)};
  std::vector<bool> done(N, false);
  Tensor previous = full({N}, bos);
  for (int64_t t = 0; t < max_len; ++t) {
    auto [logits, weights] = model.step(previous, d, memory);
    previous = argmax(logits, 1);
    const auto ids = previous.to_vector<int64_t>();
    const auto w = weights.to_vector<float>();  // [N, S]
    for (int64_t n = 0; n < N; ++n) {
      if (done[n]) continue;
      out.weights[n].insert(out.weights[n].end(), w.begin() + n * S, w.begin() + (n + 1) * S);
      done[n] = ids[n] == eos;
      if (!done[n]) out.tokens[n].push_back(ids[n]);
    }
  }
  return out;
}

// Beam search for example n of the batch: the K best partial outputs are kept at each step (scored by the
// sum of their log-probabilities); one that ends with <eos> is set aside; the search stops when K have ended.
// The answer is the ended output with the best mean log-probability per character.
std::vector<int64_t> beam_search(Seq2Seq& model, const data::Batch& b, int64_t n, int64_t K, int64_t bos, int64_t eos,
                                 int64_t max_len) {
  NoGradGuard no_grad;
  const int64_t S = b.lengths.data<int64_t>()[n];
  const Tensor source = narrow(narrow(b.inputs, 1, n, 1), 0, 0, S);  // [S, 1]: this example alone, unpadded
  auto [memory, d] = model.encode(source, narrow(b.lengths, 0, n, 1), narrow(narrow(b.mask, 1, n, 1), 0, 0, S));
  struct Hypothesis {
    std::vector<int64_t> tokens;
    double score;  // sum of log-probabilities
  };
  std::vector<Hypothesis> beams = {{{}, 0.0}}, ended;
  for (int64_t t = 0; t <= max_len && !beams.empty() && static_cast<int64_t>(ended.size()) < K; ++t) {
    const int64_t B = static_cast<int64_t>(beams.size());
    const Tensor rows = zeros({B}, kInt64);  // every live hypothesis reads the same memory: [S, B, D]
    const Seq2Seq::Memory m{index_select(memory.keys, 1, rows), index_select(memory.values, 1, rows), Tensor()};
    std::vector<int64_t> previous;
    for (const auto& h : beams) previous.push_back(h.tokens.empty() ? bos : h.tokens.back());
    const Tensor logp = log_softmax(model.step(tensor(previous, {B}), d, m).first, 1);  // [B, C]
    const int64_t C = logp.size(1);
    const auto lp = logp.to_vector<float>();
    std::vector<std::pair<double, int64_t>> candidates;  // (score, b * C + c)
    for (int64_t i = 0; i < B * C; ++i) candidates.push_back({beams[i / C].score + lp[i], i});
    std::partial_sort(candidates.begin(), candidates.begin() + std::min(K, B * C), candidates.end(),
                      [](const auto& a, const auto& z) { return a.first > z.first; });
    std::vector<Hypothesis> next;
    std::vector<int64_t> parents;
    for (int64_t k = 0; k < std::min(K, B * C); ++k) {
      const auto [score, i] = candidates[k];
      Hypothesis h{beams[i / C].tokens, score};
      if (i % C == eos || t == max_len) {
        ended.push_back(h);
      } else {
        h.tokens.push_back(i % C);
        next.push_back(h), parents.push_back(i / C);
      }
    }
    if (next.empty()) break;
    const Tensor keep = tensor(parents, {static_cast<int64_t>(parents.size())});  // the rows that go on
    d.state.h = index_select(d.state.h, 0, keep);
    if (d.state.c.defined()) d.state.c = index_select(d.state.c, 0, keep);
    d.feed = index_select(d.feed, 0, keep);
    beams = std::move(next);
  }
  const auto mean = [](const Hypothesis& h) { return h.score / static_cast<double>(h.tokens.size() + 1); };
  const auto best =
      std::max_element(ended.begin(), ended.end(), [&](const auto& a, const auto& z) { return mean(a) < mean(z); });
  return best == ended.end() ? std::vector<int64_t>{} : best->tokens;
}
// ---- end of decoding ---------------------------------------------------------------------------------------

// ---- the heat map: one panel per example, rows = output characters, columns = input tokens -----------------
struct Panel {
  std::vector<std::string> source, output;
  std::vector<float> weights;  // [output.size(), source.size()] row-major
};

std::string xml(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

void save_heatmap(const std::vector<Panel>& panels, const std::string& svg_path, const std::string& csv_path) {
  // Two panels per row, each panel_w x panel_h: input labels (label) above the grid, row labels left of it.
  const double cell = 26, left = 60, top = 40, label = 70, gap = 30;
  size_t max_s = 1, max_t = 1;
  for (const auto& p : panels) max_s = std::max(max_s, p.source.size()), max_t = std::max(max_t, p.output.size());
  const double panel_w = left + cell * static_cast<double>(max_s) + 60,
               panel_h = label + cell * static_cast<double>(max_t) + gap;
  const double width = std::max(500.0, 2 * panel_w),
               height = top + panel_h * static_cast<double>((panels.size() + 1) / 2);
  std::ofstream svg(svg_path), csv(csv_path);
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='10' y='22' font-size='14'>Attention weights: rows = output characters, columns = input "
         "tokens</text>\n";
  csv << "example,output_step,output_token,input_step,input_token,weight\n";
  for (size_t e = 0; e < panels.size(); ++e) {
    const Panel& p = panels[e];
    const size_t S = p.source.size();
    const double x0 = panel_w * static_cast<double>(e % 2) + left,
                 y0 = top + panel_h * static_cast<double>(e / 2) + label;
    for (size_t s = 0; s < S; ++s)  // the input tokens, written upwards above their columns
      svg << "<text transform='translate(" << x0 + cell * (static_cast<double>(s) + 0.5) + 4 << "," << y0 - 6
          << ") rotate(-60)'>" << xml(p.source[s]) << "</text>\n";
    for (size_t r = 0; r < p.output.size(); ++r) {
      svg << "<text x='" << x0 - 8 << "' y='" << y0 + cell * (static_cast<double>(r) + 0.5) + 4
          << "' text-anchor='end'>" << xml(p.output[r]) << "</text>\n";
      for (size_t s = 0; s < S; ++s) {
        const double w = p.weights[r * S + s];
        const int shade = static_cast<int>(std::lround(255 * (1 - std::clamp(w, 0.0, 1.0))));
        svg << "<rect x='" << x0 + cell * static_cast<double>(s) << "' y='" << y0 + cell * static_cast<double>(r)
            << "' width='" << cell << "' height='" << cell << "' fill='rgb(" << shade << "," << shade
            << ",255)' stroke='#eee'/>\n";
        csv << e << ',' << r << ",\"" << p.output[r] << "\"," << s << ",\"" << p.source[s] << "\"," << w << '\n';
      }
    }
  }
  svg << "</svg>\n";
  if (!svg || !csv) throw examples::UsageError("cannot write " + svg_path + " or " + csv_path);
}

// ---- the program -------------------------------------------------------------------------------------------

// Defaults of the flags: "default" (the tutorial's run, under a minute), "quick" (the sanitizer test: a few
// steps, only the loss must fall), "long" (a larger model, more steps).
struct Preset {
  int64_t steps, batch, embed, hidden, train_size, test_size;
  double lr, min_accuracy;  // --check: greedy and beam exact match at least this (quick: the loss halves)
};

Preset preset(const std::string& name) {
  if (name == "quick") return {60, 32, 16, 32, 2000, 100, 5e-3, 0};
  if (name == "long") return {2000, 64, 48, 128, 128000, 1000, 2e-3, 0.99};
  return {400, 64, 32, 64, 25600, 1000, 3e-3, 0.95};
}

std::string join(const std::vector<std::string>& tokens, const char* sep) {
  std::string s;
  for (size_t i = 0; i < tokens.size(); ++i) s += (i ? sep : "") + tokens[i];
  return s;
}

int run(int argc, char** argv) {
  examples::Cli cli("seq2seq_attention",
                    "seq2seq_attention: dates in many forms -> YYYY-MM-DD, a GRU/LSTM "
                    "encoder-decoder with attention, greedy and beam-search decoding");
  const std::vector<std::string> presets = {"default", "quick", "long"};
  std::string preset_name = cli.peek(argc, argv, "--preset").value_or("default");
  const bool known = std::find(presets.begin(), presets.end(), preset_name) != presets.end();
  const Preset p = preset(known ? preset_name : "default");  // parse() refuses an unknown name
  const int64_t kMax = examples::kMaxSize;
  cli.choice("--preset", preset_name, presets, "the defaults of the flags below (quick: the sanitizer test)");
  Seq2SeqOptions mo{.embed = p.embed, .hidden = p.hidden};
  cli.choice("--cell", mo.cell, {"gru", "lstm"}, "encoder and decoder cell");
  cli.choice("--attention", mo.attention, {"additive", "general", "dot"}, "attention score");
  cli.count("--embed", mo.embed, "embedding size E (source tokens and output characters)", 1, kMax);
  cli.count("--hidden", mo.hidden, "encoder hidden size H per direction (the decoder's is 2H)", 1, kMax);
  int64_t steps = p.steps, batch = p.batch, train_size = p.train_size, test_size = p.test_size, beam = 4, show = 8;
  cli.count("--steps", steps, "optimizer steps", 1);
  cli.count("--batch", batch, "examples per step N", 1, kMax);
  cli.count("--train-size", train_size, "training examples (dates not held out, random forms)", 1, kMax);
  cli.count("--test-size", test_size, "held-out dates (one form each)", 1, 10000);
  cli.count("--beam", beam, "beam width K of beam search", 1, 100);
  cli.count("--show", show, "held-out examples to print", 0, 1000);
  double lr = p.lr, clip = 1.0;
  cli.number("--lr", lr, "Adam learning rate", examples::positive);
  cli.number("--clip", clip, "clip the gradient's global norm to this", examples::positive);
  uint64_t seed = 1;
  cli.seed("--seed", seed, "random seed (data, weights, batches)");
  std::string out = "examples_out";
  cli.text("--out", out, "directory for the heat map (SVG + CSV)");
  bool check = false, time_only = false;
  cli.flag("--check", check, "exit 1 unless greedy and beam exact match reach the preset's accuracy");
  cli.flag("--time", time_only, "train --steps steps, print the median time per step, no evaluation");
  cli.parse(argc, argv);

  // ---- the data ----
  const Task task = make_task(train_size, test_size, seed);
  std::vector<std::vector<std::string>> sources, targets;
  for (const auto& e : task.train) sources.push_back(e.source), targets.push_back(e.target);
  const auto source_vocab = data::Vocabulary::build(sources, {.eos_token = ""});
  const auto target_vocab = data::Vocabulary::build(targets, {.extra_specials = {"<bos>"}});
  const int64_t eos = target_vocab.eos_index(), bos = target_vocab["<bos>"], max_len = 12;
  const auto dataset = [&](const std::vector<Example>& examples) {
    data::SequenceDataset d;
    for (const auto& e : examples) {
      d.inputs.push_back(source_vocab.lookup_indices(e.source));
      d.targets.push_back(target_vocab.lookup_indices(e.target));
      d.targets.back().push_back(eos);
    }
    return d;
  };
  const data::Loader train(dataset(task.train), {.batch_size = batch, .seed = seed});
  const data::Loader test(dataset(task.test), {.batch_size = 250, .shuffle = false, .bucket_batches = 1});
  std::printf(
      "task: %zu training examples, %zu held-out dates (never seen in training); %lld source tokens, "
      "%lld output characters\n",
      task.train.size(), task.test.size(), static_cast<long long>(source_vocab.size()),
      static_cast<long long>(target_vocab.size()));
  for (int i = 0; i < 3; ++i)
    std::printf("  %-32s -> %s\n", join(task.train[i].source, " ").c_str(), join(task.train[i].target, "").c_str());

  // ---- the model ----
  manual_seed(seed);
  mo.source_vocab = source_vocab.size(), mo.target_vocab = target_vocab.size(), mo.bos = bos;
  Seq2Seq model(mo);
  optim::Adam opt(model.parameters(), {.lr = lr});
  std::printf(
      "model: embedding %lld -> bidirectional %s 2 x %lld -> %s attention -> %s decoder %lld: %lld "
      "parameters\n",
      static_cast<long long>(mo.embed), mo.cell.c_str(), static_cast<long long>(mo.hidden), mo.attention.c_str(),
      mo.cell.c_str(), static_cast<long long>(2 * mo.hidden), static_cast<long long>(model.num_parameters()));
  std::printf("training: %lld steps of %lld examples, Adam lr %g, clip %g, teacher forcing\n",
              static_cast<long long>(steps), static_cast<long long>(batch), lr, clip);

  // ---- training ----
  examples::Progress progress(steps, "examples");
  std::vector<double> step_ms;
  std::vector<double> losses;
  for (int64_t step = 0, epoch = 1; step < steps; ++epoch) {
    for (const data::Batch& b : train.epoch(epoch)) {
      if (step == steps) break;
      const auto start = std::chrono::steady_clock::now();
      const Tensor loss = model.loss(b);
      opt.zero_grad();
      loss.backward();
      optim::clip_grad_norm(model.parameters(), clip);
      opt.step();
      const double value = loss.item<float>();
      step_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      if (!std::isfinite(value)) {
        std::fprintf(stderr, "seq2seq_attention: training diverged at step %lld\n", static_cast<long long>(step + 1));
        return 1;
      }
      losses.push_back(value);
      progress.update(++step, static_cast<double>(b.indices.size()), {{"loss", value}});
    }
  }
  progress.finish();
  if (time_only) {
    std::vector<double> sorted(step_ms.begin() + std::min<size_t>(5, step_ms.size() - 1), step_ms.end());
    std::sort(sorted.begin(), sorted.end());
    std::printf("step_ms=%.3f\n", sorted[sorted.size() / 2]);
    return 0;
  }

  // ---- evaluation: exact match of the whole date, greedy and beam search ----
  model.eval();
  const auto start = std::chrono::steady_clock::now();
  int64_t greedy_right = 0, beam_right = 0, mistakes_shown = 0;
  std::vector<Panel> panels;
  std::vector<bool> form_drawn(4, false);
  for (const auto& indices : test.plan(1)) {
    const data::Batch b = test.batch(indices);
    const Decoded g = greedy(model, b, bos, eos, max_len);
    for (size_t n = 0; n < indices.size(); ++n) {
      const Example& e = task.test[indices[n]];
      const auto greedy_out = target_vocab.lookup_tokens(g.tokens[n]);
      const auto beam_out = target_vocab.lookup_tokens(beam_search(model, b, n, beam, bos, eos, max_len));
      greedy_right += greedy_out == e.target, beam_right += beam_out == e.target;
      // The first show/2 held-out examples (random forms), and up to show/2 mistakes of either decoder.
      const bool mistake = greedy_out != e.target || beam_out != e.target;
      if (indices[n] < show / 2 || (mistake && mistakes_shown < show / 2)) {
        std::printf("  %-34s -> greedy %-11s beam %-11s %s\n", join(e.source, " ").c_str(),
                    join(greedy_out, "").c_str(), join(beam_out, "").c_str(),
                    mistake ? ("(true " + join(e.target, "") + ")").c_str() : "");
        mistakes_shown += mistake;
      }
      // The heat map: a form with words, a month-first, a day-first and a year-first example.
      const int kind = std::isalpha(static_cast<unsigned char>(e.source[0][0])) ? 0
                       : e.source.size() > 2 && e.source[2] == "/"              ? 1
                       : e.source.size() > 2 && e.source[2] == "."              ? 2
                       : e.source.size() > 4 && e.source[4] == "."              ? 3
                                                                                : -1;
      if (kind >= 0 && !form_drawn[kind] && e.source.size() >= 8) {
        form_drawn[kind] = true;
        auto output = greedy_out;
        output.push_back("<eos>");
        const size_t S = e.source.size();
        std::vector<float> w;
        for (size_t r = 0; r < output.size(); ++r)  // each step's row [S_batch] cut to this example's S
          w.insert(w.end(), g.weights[n].begin() + r * b.inputs.size(0),
                   g.weights[n].begin() + r * b.inputs.size(0) + S);
        panels.push_back({e.source, output, w});
      }
    }
  }
  const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double greedy_acc = static_cast<double>(greedy_right) / static_cast<double>(task.test.size());
  const double beam_acc = static_cast<double>(beam_right) / static_cast<double>(task.test.size());
  std::printf("held-out exact match (%zu dates): greedy %.1f%%, beam search (K = %lld) %.1f%%  [%.1f s]\n",
              task.test.size(), 100 * greedy_acc, static_cast<long long>(beam), 100 * beam_acc, eval_seconds);

  fs::create_directories(out);
  const std::string svg = (fs::path(out) / "seq2seq_attention_heatmap.svg").string();
  save_heatmap(panels, svg, (fs::path(out) / "seq2seq_attention_heatmap.csv").string());
  std::printf("wrote %s (+ .csv): the attention weights of %zu held-out examples\n", svg.c_str(), panels.size());

  if (check) {
    const double first_loss = losses.front();  // the mean of the last 10 steps, against the first step
    const double last_loss = std::accumulate(losses.end() - std::min<size_t>(10, losses.size()), losses.end(), 0.0) /
                             static_cast<double>(std::min<size_t>(10, losses.size()));
    const bool ok =
        p.min_accuracy > 0 ? greedy_acc >= p.min_accuracy && beam_acc >= p.min_accuracy : last_loss < 0.5 * first_loss;
    if (p.min_accuracy > 0)
      std::printf("check: greedy and beam exact match >= %.0f%%: %s\n", 100 * p.min_accuracy, ok ? "ok" : "FAILED");
    else
      std::printf("check: the training loss halved (%.3f -> %.3f): %s\n", first_loss, last_loss, ok ? "ok" : "FAILED");
    if (!ok) return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::run_example("seq2seq_attention", [&] { return run(argc, argv); });
}
