// fuzz_ops: a property-based fuzzer for every public op in framework/ops.hpp and the main layers.
//
// Each case draws an op, random shapes (empty tensors, zero-size axes, rank 0 to 8, broadcastable and
// mismatched pairs), dtypes (every input may be bool, int64, float32 or float64; a case works mostly in
// float32 or mostly in float64, its modules converted to it), axes (negative and out of range), indices
// (int64 mostly, out of range or negative; now and then float or bool, which must be refused), conditions
// and masks (bool mostly), values (NaN, Inf, 1e30, denormals, int64's extremes...), C++ numbers of every
// kind, options, now and then an undefined Tensor() as an input, and sometimes absurd sizes such as
// [2^40, 2^40]. Besides the ops it drives every layer: Linear, Embedding, Dropout, the seven cells (RNN,
// LSTM, GRU, PeepholeLSTM, CoupledLSTM, IRNN, Jordan), LSTM/GRU/RNN, Sequential, the
// Unidirectional/Bidirectional/Stacked wrappers, unroll_cell and reverse_sequences (random lengths,
// including out-of-range ones and ones of the wrong dtype) and the init:: helpers. It then checks the
// properties every call must have:
//   1. it returns, or throws unroll::Error / unroll::IoError; anything else fails, std::bad_alloc included
//      (an absurd size must be refused with unroll::Error before anything is allocated) and a crash fails
//      the process (the sanitizer build turns memory errors and undefined behaviour into crashes);
//   2. every result reads back as many elements as its shape says (in its dtype), and only floating results
//      require grad;
//   3. backward() from every result that requires grad works (an unroll::Error there is an engine bug,
//      except an "anomaly:" report when the case turned anomaly mode on), and every leaf's gradient has
//      the leaf's shape and dtype;
//   4. afterwards, live_node_count() and live_buffer_count() are back where they started (no leak).
//
//   fuzz_ops [--seed S] [--time SECONDS] [--iterations N] [--case I] [--corpus FILE] [--verbose]
//
// The seed is printed first; a failure prints the case and the command that replays exactly that case
// (`--seed S --case I --verbose`). tests/fuzz/corpus.txt lists interesting shapes, values and absurd
// sizes the generator draws from. CTest runs it with a time budget (tests/CMakeLists.txt).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

using namespace unroll;

namespace {

// ---- what to print when the process dies in a case ---------------------------------------------------
char g_crash_note[8192] = "";  // the current case, kept in a static buffer so a signal handler can print it

void print_crash_note() {
  const char* head = "\nfuzz_ops: crashed in case: ";
  [[maybe_unused]] ssize_t r = write(2, head, std::strlen(head));
  r = write(2, g_crash_note, std::strlen(g_crash_note));
  r = write(2, "\n", 1);
}

void on_fatal_signal(int sig) {
  print_crash_note();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_crash_reporting() {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(print_crash_note);  // keep the sanitizer's own report and add ours
#else
  for (int sig : {SIGSEGV, SIGFPE, SIGBUS, SIGILL, SIGABRT}) std::signal(sig, on_fatal_signal);
#endif
}

// ---- corpus ------------------------------------------------------------------------------------------
struct Corpus {
  std::vector<Shape> shapes, absurd;
  std::vector<double> values;
  std::vector<int64_t> ints;
};
Corpus g_corpus;

Shape parse_shape(const std::string& text) {
  Shape s;
  std::string digits;
  for (char ch : text + ",") {
    if (std::isdigit(static_cast<unsigned char>(ch)) || ch == '-') {
      digits += ch;
    } else if ((ch == ',' || ch == ']') && !digits.empty()) {
      s.push_back(std::stoll(digits));
      digits.clear();
    }
  }
  return s;
}

void load_corpus(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "fuzz_ops: cannot read corpus %s\n", path.c_str());
    std::exit(2);
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string kind, rest;
    words >> kind;
    std::getline(words, rest);
    if (kind == "shape") g_corpus.shapes.push_back(parse_shape(rest));
    if (kind == "absurd") g_corpus.absurd.push_back(parse_shape(rest));
    if (kind == "value") g_corpus.values.push_back(std::strtod(rest.c_str(), nullptr));
    if (kind == "int") g_corpus.ints.push_back(static_cast<int64_t>(std::strtoll(rest.c_str(), nullptr, 10)));
  }
  if (g_corpus.shapes.empty() || g_corpus.values.empty() || g_corpus.ints.empty() || g_corpus.absurd.empty()) {
    std::fprintf(stderr, "fuzz_ops: corpus %s has no shapes, values, ints or absurd sizes\n", path.c_str());
    std::exit(2);
  }
}

// ---- randomness (portable: only raw mt19937_64 bits, no std distributions) ---------------------------
class Rng {
 public:
  explicit Rng(uint64_t seed) : bits_(seed) {}
  uint64_t bits() { return bits_(); }
  int64_t between(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(bits_() % static_cast<uint64_t>(hi - lo + 1));
  }
  double unit() { return static_cast<double>(bits_() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  double normal() {  // Box-Muller
    const double u = unit() + 1e-300, v = unit();
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(between(0, static_cast<int64_t>(v.size()) - 1))];
  }

 private:
  std::mt19937_64 bits_;
};

uint64_t mix(uint64_t x) {  // splitmix64 finalizer: one well-spread seed per case
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string str(const Shape& s) { return to_string(s); }

// ---- one case ----------------------------------------------------------------------------------------
struct Case {
  Rng rng;
  std::string note;            // what the case did so far (printed on failure)
  std::vector<Tensor> leaves;  // inputs that require grad
  // Modules made by the case live until after its backward, as in a user's program (a checkpointed
  // unroll_cell re-runs its cell during backward).
  std::vector<std::shared_ptr<void>> modules;
  bool anomaly = false;
  // The case's floating dtype: most floating inputs have it, and modules are converted to it.
  DType floating = kFloat32;

  template <class M, class... Args>
  M& module(Args&&... args) {
    auto m = std::make_shared<M>(std::forward<Args>(args)...);
    if (floating != kFloat32) m->to(floating);
    modules.push_back(m);
    return *m;
  }

  explicit Case(uint64_t seed) : rng(seed) {}

  void log(const std::string& text) {
    note += text;
    std::snprintf(g_crash_note, sizeof g_crash_note, "%s", note.c_str());
  }

  // A random shape: a third from the corpus, the rest rank 0..4 with small (often 0 or 1) dims.
  Shape shape(int max_rank = 4) {
    if (rng.chance(0.3)) {
      const Shape& s = rng.pick(g_corpus.shapes);
      if (s.size() <= max_rank || rng.chance(0.3)) return s;
    }
    const int64_t rank = rng.between(0, max_rank);
    Shape s;
    for (int64_t i = 0; i < rank; ++i) s.push_back(dim());
    return s;
  }
  int64_t dim() {
    const int64_t r = rng.between(0, 19);
    return r == 0 ? 0 : r < 5 ? 1 : r < 17 ? rng.between(2, 4) : rng.between(5, 9);
  }
  // Usually the same shape, often a broadcastable variant, sometimes anything.
  Shape like(const Shape& s) {
    const double r = rng.unit();
    if (r < 0.45) return s;
    if (r < 0.8) {
      Shape out;
      const int drop = s.size() > 0 && rng.chance(0.3) ? static_cast<int>(rng.between(0, s.size())) : 0;
      for (int i = drop; i < s.size(); ++i) out.push_back(rng.chance(0.3) ? 1 : s[i]);
      if (out.size() < Shape::kMaxRank && rng.chance(0.1)) out.insert(0, rng.between(1, 3));
      return out;
    }
    return shape();
  }
  // A shape over kMaxTensorBytes (2^40 bytes) for every dtype, bool's 1-byte elements included: more than
  // 2^40 elements.
  Shape absurd() {
    if (rng.chance(0.6)) return rng.pick(g_corpus.absurd);
    Shape s;
    const int64_t rank = rng.between(1, 4);
    for (int64_t i = 0; i < rank; ++i) s.push_back(rng.between(1, 3));
    s[static_cast<int>(rng.between(0, rank - 1))] = int64_t{1} << rng.between(41, 62);
    return s;
  }
  int axis(int rank) {
    if (rank > 0 && rng.chance(0.85)) return static_cast<int>(rng.between(-rank, rank - 1));
    return static_cast<int>(rng.between(-rank - 3, rank + 2));
  }
  double value() {
    if (rng.chance(0.1)) return rng.pick(g_corpus.values);
    return rng.normal() * (rng.chance(0.1) ? 100 : 1);
  }
  // The dtype of an op's data input: mostly the case's floating dtype, sometimes the other floating one
  // (mixed precision), int64 or bool (every op must compute, promote or refuse them with unroll::Error).
  DType data_dtype() {
    const double r = rng.unit();
    if (r < 0.7) return floating;
    if (r < 0.8) return floating == kFloat32 ? kFloat64 : kFloat32;
    return r < 0.92 ? kInt64 : kBool;
  }

  // Values for a tensor of `dtype`: floating ones mostly normal, sometimes scaled far up or down, sometimes
  // with specials; int64 small, now and then int64's extremes; bool fair coins.
  Tensor values(const Shape& s, DType dtype, bool* special_out = nullptr) {
    Tensor t = empty(s, dtype);
    const double scale = rng.chance(0.8) ? 1 : rng.chance(0.5) ? 1e-3 : 1e4;
    const bool special = rng.chance(0.12);
    visit_dtype(dtype, [&]<class T>() {
      T* p = t.data<T>();
      for (int64_t i = 0, n = t.numel(); i < n; ++i) {
        if constexpr (std::is_same_v<T, bool>) {
          p[i] = rng.chance(0.5);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          p[i] = special && rng.chance(0.3) ? rng.pick(g_corpus.ints) : rng.between(-5, 5);
        } else {
          p[i] = static_cast<T>(special && rng.chance(0.3) ? rng.pick(g_corpus.values) : rng.normal() * scale);
        }
      }
    });
    if (special_out) *special_out = special;
    return t;
  }
  // An op input: random values of a random dtype (or the one given); usually a leaf that requires grad when
  // floating; now and then an undefined Tensor() (which every op and layer must refuse with unroll::Error).
  Tensor input(const Shape& s, const char* name, double grad_chance = 0.65, std::optional<DType> dtype = {}) {
    if (rng.chance(0.015)) {
      log(std::string(" ") + name + "=undefined");
      return Tensor();
    }
    bool special = false;
    Tensor t = values(s, dtype ? *dtype : data_dtype(), &special);
    const bool grad = t.is_floating_point() && rng.chance(grad_chance);
    if (grad) {
      t.requires_grad_();
      leaves.push_back(t);
    }
    log(fmt_input(name, t, special));
    return t;
  }
  // An input that is mostly of the case's floating dtype (what layers take).
  Tensor floating_input(const Shape& s, const char* name) {
    return input(s, name, 0.65, rng.chance(0.9) ? floating : data_dtype());
  }
  std::string fmt_input(const char* name, const Tensor& t, bool special) {
    return std::string(" ") + name + "=" + str(t.shape()) +
           (t.dtype() == kFloat32 ? "" : std::string(unroll::name(t.dtype()))) + (t.requires_grad() ? "{grad}" : "") +
           (special ? "{special values}" : "");
  }
  // Integral positions in [0, limit), sometimes out of range or negative: an int64 tensor, or now and then
  // a float32 / float64 / bool one holding the same positions (which index ops must refuse).
  Tensor index(const Shape& s, int64_t limit, const char* name) {
    const double r = rng.unit();
    const DType dtype = r < 0.88 ? kInt64 : r < 0.94 ? floating : r < 0.97 ? kBool : kFloat64;
    Tensor t = empty(s, kInt64);
    const bool bad = rng.chance(0.12);
    for (int64_t i = 0, n = t.numel(); i < n; ++i) {
      int64_t v = limit > 0 ? rng.between(0, limit - 1) : 0;
      if (bad && rng.chance(0.4)) {
        const int64_t kind = rng.between(0, 3);
        v = kind == 0 ? limit : kind == 1 ? -1 : kind == 2 ? rng.pick(g_corpus.ints) : v + (int64_t{1} << 40);
      }
      t.data<int64_t>()[i] = v;
    }
    if (dtype != kInt64) t = t.to(dtype);
    log(std::string(" ") + name + "=" + str(s) + (dtype == kInt64 ? "" : std::string(unroll::name(dtype))) + "<" +
        std::to_string(limit) + (bad ? "{bad}" : ""));
    return t;
  }
  // A condition or mask: bool, or now and then a 0/1 tensor of another dtype (which must be refused).
  Tensor condition(const Shape& s, const char* name) {
    const double r = rng.unit();
    const DType dtype = r < 0.9 ? kBool : r < 0.95 ? kInt64 : floating;
    Tensor t = values(s, kBool).to(dtype);
    log(std::string(" ") + name + "=" + str(s) + std::string(unroll::name(dtype)));
    return t;
  }
  int64_t integer(int64_t lo, int64_t hi, const char* name) {
    const int64_t v = rng.between(lo, hi);
    log(std::string(" ") + name + "=" + std::to_string(v));
    return v;
  }
  bool flag(const char* name) {
    const bool v = rng.chance(0.5);
    log(std::string(" ") + name + "=" + (v ? "1" : "0"));
    return v;
  }
  double real_value(const char* name) {
    const double v = value();
    log(std::string(" ") + name + "=" + fmt_double(v));
    return v;
  }
  // A C++ number handed to an op: mostly floating, sometimes an integer (extremes included) or a bool.
  Scalar number(const char* name) {
    const double r = rng.unit();
    if (r < 0.7) return Scalar(real_value(name));
    if (r < 0.9) {
      const int64_t v = rng.chance(0.8) ? rng.between(-4, 4) : rng.pick(g_corpus.ints);
      log(std::string(" ") + name + "=" + std::to_string(v) + "(int)");
      return Scalar(v);
    }
    const bool v = rng.chance(0.5);
    log(std::string(" ") + name + "=" + (v ? "true" : "false"));
    return Scalar(v);
  }
  static std::string fmt_double(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }
  int logged_axis(int rank, const char* name = "axis") {
    const int a = axis(rank);
    log(std::string(" ") + name + "=" + std::to_string(a));
    return a;
  }
  Shape logged_shape(const Shape& s, const char* name) {
    log(std::string(" ") + name + "=" + str(s));
    return s;
  }
  DType logged_dtype(const char* name) {
    const DType d = static_cast<DType>(rng.between(0, 3));
    log(std::string(" ") + name + "=" + unroll::name(d));
    return d;
  }
};

using Outputs = std::vector<Tensor>;
using Runner = std::function<Outputs(Case&)>;

// A cell of any of the seven kinds, sizes as given (possibly zero, negative or huge: the constructor must
// refuse those). Its parameters become leaves of the case.
std::shared_ptr<layers::Cell> make_cell(Case& c, int64_t in, int64_t hidden) {
  const bool bias = c.rng.chance(0.8);
  std::shared_ptr<layers::Cell> cell;
  const layers::LSTMCellOptions lstm{.input_size = in, .hidden_size = hidden, .bias = bias};
  switch (c.integer(0, 6, "cell")) {
    case 0:
      cell = std::make_shared<layers::RNNCell>(
          layers::RNNCellOptions{.input_size = in, .hidden_size = hidden, .bias = bias});
      break;
    case 1:
      cell = std::make_shared<layers::LSTMCell>(lstm);
      break;
    case 2:
      cell = std::make_shared<layers::GRUCell>(
          layers::GRUCellOptions{.input_size = in, .hidden_size = hidden, .bias = bias});
      break;
    case 3:
      cell = std::make_shared<layers::PeepholeLSTMCell>(lstm);
      break;
    case 4:
      cell = std::make_shared<layers::CoupledLSTMCell>(lstm);
      break;
    case 5: {
      const std::vector<double> scales = {1, 0.01, 0, -1, 1e30, 1e300, std::numeric_limits<double>::quiet_NaN()};
      const double scale = c.rng.pick(scales), input_std = c.rng.chance(0.8) ? 0.001 : c.rng.pick(scales);
      c.log(" recurrent_scale=" + Case::fmt_double(scale) + " input_std=" + Case::fmt_double(input_std));
      cell = std::make_shared<layers::IRNNCell>(layers::IRNNCellOptions{
          .input_size = in, .hidden_size = hidden, .recurrent_scale = scale, .input_std = input_std});
      break;
    }
    default: {
      const int64_t out = c.rng.chance(0.9) ? c.integer(0, 4, "output_size") : hidden;
      cell = std::make_shared<layers::JordanCell>(
          layers::JordanCellOptions{.input_size = in, .hidden_size = hidden, .output_size = out});
      break;
    }
  }
  if (c.floating != kFloat32) cell->to(c.floating);
  c.modules.push_back(cell);
  for (const Tensor& p : cell->parameters()) c.leaves.push_back(p);
  return cell;
}

// A layer size: usually small, sometimes zero, negative or absurd.
int64_t layer_size(Case& c, const char* name) {
  const double r = c.rng.unit();
  if (r < 0.03) {
    const int64_t v = int64_t{1} << c.rng.between(40, 62);  // over kMaxTensorBytes: must be refused
    c.log(std::string(" ") + name + "=" + std::to_string(v));
    return v;
  }
  return c.integer(r < 0.1 ? -1 : 1, 4, name);
}

// Sequence lengths for a batch of n sequences of t steps: undefined, valid, or bad (out of range, negative,
// not int64; wrong shape).
Tensor lengths(Case& c, int64_t t, int64_t n) {
  const double r = c.rng.unit();
  if (r < 0.35) return Tensor();
  if (r < 0.4) return c.index(c.shape(2), t + 1, "lengths");
  return c.index(Shape{n}, t + 1, "lengths");
}

// ---- the ops -----------------------------------------------------------------------------------------
std::vector<std::pair<std::string, Runner>> make_runners() {
  std::vector<std::pair<std::string, Runner>> r;
  auto reg = [&r](std::string name, Runner f) { r.emplace_back(std::move(name), std::move(f)); };

  // elementwise, binary (broadcasting, type promotion)
  using Binary = Tensor (*)(const Tensor&, const Tensor&);
  for (auto [name, f] :
       std::vector<std::pair<const char*, Binary>>{{"add", &unroll::add},
                                                   {"sub", &unroll::sub},
                                                   {"mul", &unroll::mul},
                                                   {"div", &unroll::div},
                                                   {"pow_tensor", static_cast<Binary>(&unroll::pow)}}) {
    reg(name, [f](Case& c) {
      const Tensor a = c.input(c.shape(), "a");
      const Tensor b = c.input(c.like(a.shape()), "b");
      return Outputs{f(a, b)};
    });
  }
  reg("scalar_operators", [](Case& c) {
    const Tensor a = c.input(c.shape(), "a");
    const Scalar s = c.number("s");
    return Outputs{a + s, s + a, a - s, s - a, a * s, s * a, a / s, s / a, -a};
  });
  // comparisons and logical ops (bool results, nothing recorded)
  for (auto [name, f] : std::vector<std::pair<const char*, Binary>>{{"eq", &unroll::eq},
                                                                    {"ne", &unroll::ne},
                                                                    {"lt", &unroll::lt},
                                                                    {"le", &unroll::le},
                                                                    {"gt", &unroll::gt},
                                                                    {"ge", &unroll::ge},
                                                                    {"logical_and", &unroll::logical_and},
                                                                    {"logical_or", &unroll::logical_or},
                                                                    {"logical_xor", &unroll::logical_xor}}) {
    reg(name, [f](Case& c) {
      const Tensor a = c.input(c.shape(), "a");
      const Tensor b = c.input(c.like(a.shape()), "b");
      return Outputs{f(a, b), logical_not(a)};
    });
  }
  reg("compare_number", [](Case& c) {
    const Tensor a = c.input(c.shape(), "a");
    const Scalar s = c.number("s");
    return Outputs{a == s, a != s, a<s, a <= s, a> s, a >= s};
  });
  reg("to", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const DType d = c.logged_dtype("dtype");
    const Tensor y = x.to(d);
    return Outputs{y, to(y, c.logged_dtype("back"))};
  });
  // elementwise, unary
  using Unary = Tensor (*)(const Tensor&);
  for (auto [name, f] : std::vector<std::pair<const char*, Unary>>{{"neg", &unroll::neg},
                                                                   {"exp", &unroll::exp},
                                                                   {"log", &unroll::log},
                                                                   {"sqrt", &unroll::sqrt},
                                                                   {"abs", &unroll::abs},
                                                                   {"tanh", &unroll::tanh},
                                                                   {"sigmoid", &unroll::sigmoid},
                                                                   {"relu", &unroll::relu},
                                                                   {"clone", &unroll::clone}}) {
    reg(name, [f](Case& c) { return Outputs{f(c.input(c.shape(), "x"))}; });
  }
  reg("pow_scalar", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const std::vector<double> exponents = {0, 1, 2, 3, -1, 0.5, -0.5, 1e30, std::numeric_limits<double>::quiet_NaN()};
    if (c.rng.chance(0.4)) return Outputs{pow(x, c.number("exponent"))};
    const double e = c.rng.pick(exponents);
    if (c.rng.chance(0.5) && e == std::floor(e) && std::abs(e) < 10) {  // the same exponent as an integer
      c.log(" exponent=" + std::to_string(static_cast<int64_t>(e)) + "(int)");
      return Outputs{pow(x, static_cast<int64_t>(e))};
    }
    c.log(" exponent=" + Case::fmt_double(e));
    return Outputs{pow(x, e)};
  });
  reg("clamp", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const Scalar lo = c.number("min");
    if (c.rng.chance(0.2)) return Outputs{clamp(x, lo, c.number("max"))};
    if (!lo.is_floating_point() && c.rng.chance(0.5)) {  // integer bounds keep an int64 x int64
      int64_t hi = 0;                                    // lo + 0..5, saturating (lo may be int64's maximum)
      if (__builtin_add_overflow(lo.to_int64(), c.rng.between(0, 5), &hi)) hi = std::numeric_limits<int64_t>::max();
      c.log(" max=" + std::to_string(hi) + "(int)");
      return Outputs{clamp(x, lo, hi)};
    }
    const double hi = lo.to_double() + std::abs(c.value());
    c.log(" max=" + Case::fmt_double(hi));
    return Outputs{clamp(x, lo, hi)};
  });
  reg("where", [](Case& c) {
    const Tensor a = c.input(c.shape(), "a");
    const Tensor b = c.input(c.like(a.shape()), "b");
    const Tensor cond = c.condition(c.like(a.shape()), "condition");
    if (c.rng.chance(0.15)) return Outputs{where(cond, a, c.number("b_number")), where(cond, c.number("a_number"), b)};
    return Outputs{where(cond, a, b)};
  });
  reg("masked_fill", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const Tensor mask = c.condition(c.like(x.shape()), "mask");
    return Outputs{masked_fill(x, mask, c.number("value"))};
  });

  // linear algebra
  reg("matmul", [](Case& c) {
    const bool ta = c.flag("ta"), tb = c.flag("tb");
    const int64_t m = c.dim(), k = c.dim(), n = c.dim();
    Shape a = ta ? Shape{k, m} : Shape{m, k};
    Shape b = tb ? Shape{n, k} : Shape{k, n};
    const int64_t form = c.rng.between(0, 3);
    if (form == 1) {  // leading dims folded into M
      a.insert(0, c.dim());
      if (c.rng.chance(0.5)) a.insert(0, c.dim());
    } else if (form == 2) {  // batched
      const int64_t batch = c.dim();
      a.insert(0, batch);
      b.insert(0, c.rng.chance(0.9) ? batch : c.dim());
    } else if (form == 3) {  // anything
      a = c.shape();
      b = c.shape();
    }
    if (c.rng.chance(0.1)) b[b.size() > 0 ? c.rng.between(0, b.size() - 1) : 0] += 1;  // mismatch
    return Outputs{matmul(c.input(a, "a"), c.input(b, "b"), ta, tb)};
  });
  reg("addmm", [](Case& c) {
    const bool ta = c.flag("ta"), tb = c.flag("tb");
    const int64_t m = c.dim(), k = c.dim(), n = c.dim();
    Shape a = ta ? Shape{k, m} : Shape{m, k};
    const Shape b = tb ? Shape{n, k} : Shape{k, n};
    if (!ta && c.rng.chance(0.2)) a.insert(0, c.dim());  // leading dims folded into M
    if (c.rng.chance(0.1)) a = c.shape();                 // anything
    // input: a bias row, a column, the product's shape, or any shape (mostly refused)
    const Shape product = a.size() == 3 ? Shape{a[0], m, n} : Shape{m, n};
    const int64_t form = c.rng.between(0, 3);
    const Shape input = form == 0 ? Shape{n} : form == 1 ? Shape{m, 1} : form == 2 ? product : c.shape();
    return Outputs{addmm(c.input(input, "input"), c.input(a, "a"), c.input(b, "b"), ta, tb)};
  });
  reg("linear", [](Case& c) {
    const int64_t in = c.dim(), out = c.dim();
    Shape xs = c.shape(3);
    if (c.rng.chance(0.85)) {
      if (xs.size() == 0) xs.push_back(in);
      xs[xs.size() - 1] = in;
    }
    const Tensor x = c.input(xs, "x");
    const Tensor w = c.input(c.rng.chance(0.9) ? Shape{out, in} : c.shape(), "weight");
    const Tensor b = c.rng.chance(0.3) ? Tensor() : c.input(c.rng.chance(0.9) ? Shape{out} : c.shape(), "bias");
    return Outputs{linear(x, w, b)};
  });

  // shape
  reg("reshape", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    Shape target;
    const double r = c.rng.unit();
    if (r < 0.3) {
      target = {x.numel()};
    } else if (r < 0.5) {
      target = {-1};
      if (x.numel() > 0 && x.numel() % 2 == 0) target = {2, -1};
    } else if (r < 0.6) {
      target = c.absurd();
    } else if (r < 0.7) {
      target = {0, -1};
    } else {
      target = c.shape();
      if (target.size() > 0 && c.rng.chance(0.3)) target[static_cast<int>(c.rng.between(0, target.size() - 1))] = -1;
    }
    c.logged_shape(target, "shape");
    return Outputs{reshape(x, target)};
  });
  reg("flatten", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int s = c.logged_axis(x.dim(), "start"), e = c.logged_axis(x.dim(), "end");
    return Outputs{flatten(x, s, e)};
  });
  reg("unsqueeze", [](Case& c) {
    const Tensor x = c.input(c.shape(8), "x");
    return Outputs{unsqueeze(x, c.logged_axis(x.dim() + 1))};
  });
  reg("squeeze", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    return Outputs{squeeze(x, c.logged_axis(x.dim()))};
  });
  reg("permute", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    std::vector<int> axes(x.dim());
    for (int i = 0; i < x.dim(); ++i) axes[i] = i;
    for (int i = x.dim() - 1; i > 0; --i) std::swap(axes[i], axes[c.rng.between(0, i)]);
    if (c.rng.chance(0.15)) {
      if (!axes.empty() && c.rng.chance(0.5))
        axes[0] = c.axis(x.dim());
      else
        axes.push_back(c.axis(x.dim()));
    }
    std::string list;
    for (int a : axes) list += std::to_string(a) + ",";
    c.log(" axes=" + list);
    return Outputs{permute(x, axes)};
  });
  reg("transpose", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    return Outputs{transpose(x, c.logged_axis(x.dim()), c.logged_axis(x.dim()))};
  });
  reg("narrow", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    const int64_t n = x.dim() > 0 ? x.shape()[((a % x.dim()) + x.dim()) % x.dim()] : 0;
    const int64_t start = c.integer(-n - 2, n + 2, "start"), length = c.integer(-1, n + 1, "length");
    return Outputs{narrow(x, a, start, length)};
  });
  reg("slice", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    const int64_t start = c.integer(-6, 6, "start"), end = c.integer(-6, 8, "end");
    const int64_t step = c.rng.chance(0.9) ? c.integer(1, 3, "step") : c.integer(-2, 0, "step");
    return Outputs{slice(x, a, start, end, step)};
  });
  reg("concat", [](Case& c) {
    const Shape s = c.shape();
    const int a = c.logged_axis(s.size());
    std::vector<Tensor> xs;
    const int64_t count = c.rng.between(c.rng.chance(0.05) ? 0 : 1, 3);
    for (int64_t i = 0; i < count; ++i) {
      Shape si = s;
      if (si.size() > 0 && c.rng.chance(0.8))
        si[((a % si.size()) + si.size()) % si.size()] = c.dim();
      else if (c.rng.chance(0.3))
        si = c.shape();
      xs.push_back(c.input(si, "x"));
    }
    return Outputs{concat(xs, a)};
  });
  reg("stack", [](Case& c) {
    const Shape s = c.shape(7);
    std::vector<Tensor> xs;
    const int64_t count = c.rng.between(c.rng.chance(0.05) ? 0 : 1, 3);
    for (int64_t i = 0; i < count; ++i) xs.push_back(c.input(c.rng.chance(0.9) ? s : c.shape(), "x"));
    return Outputs{stack(xs, c.logged_axis(s.size() + 1))};
  });
  reg("split", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    if (c.rng.chance(0.5)) return split(x, c.integer(-1, 4, "split_size"), a);
    std::vector<int64_t> sizes;
    const int64_t n = x.dim() > 0 ? x.shape()[((a % x.dim()) + x.dim()) % x.dim()] : 0;
    int64_t left = n;
    while (left > 0 && sizes.size() < 8) {
      sizes.push_back(c.rng.between(0, left));
      left -= sizes.back();
    }
    if (c.rng.chance(0.2)) sizes.push_back(c.rng.between(-1, 2));
    std::string list;
    for (int64_t s : sizes) list += std::to_string(s) + ",";
    c.log(" sizes=" + list);
    return split(x, sizes, a);
  });
  reg("chunk", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    return chunk(x, c.integer(-1, 5, "chunks"), c.logged_axis(x.dim()));
  });
  reg("unbind", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    return unbind(x, c.logged_axis(x.dim()));
  });
  reg("flip", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    return Outputs{flip(x, c.logged_axis(x.dim()))};
  });
  reg("expand", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    Shape target;
    const double r = c.rng.unit();
    if (r < 0.5) {  // a valid broadcast target
      target = x.shape();
      for (int i = 0; i < target.size(); ++i)
        if (target[i] == 1 && c.rng.chance(0.5)) target[i] = c.dim();
      if (target.size() < Shape::kMaxRank && c.rng.chance(0.4)) target.insert(0, c.dim());
      if (target.size() > 0 && c.rng.chance(0.2)) target[target.size() - 1] = -1;
    } else if (r < 0.62 && x.dim() < Shape::kMaxRank) {  // a valid target, but absurdly large
      target = x.shape();
      target.insert(0, int64_t{1} << c.rng.between(41, 62));  // over 2^40 bytes even for bool
    } else {
      target = c.shape();
    }
    return Outputs{expand(x, c.logged_shape(target, "shape"))};
  });
  reg("repeat", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    std::vector<int64_t> repeats;
    const int64_t count = c.integer(std::max(x.dim() - 1, 0), std::min(x.dim() + 2, Shape::kMaxRank + 1), "count");
    std::string list;
    for (int64_t i = 0; i < count; ++i) {
      repeats.push_back(c.rng.chance(0.03) ? int64_t{1} << c.rng.between(40, 62) : c.rng.between(-1, 3));
      list += std::to_string(repeats.back()) + ",";
    }
    c.log(" repeats=" + list);
    return Outputs{repeat(x, repeats)};
  });
  reg("pad", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    std::vector<int64_t> pads;
    const int64_t count = c.integer(0, 2 * x.dim() + 1, "count");
    std::string list;
    for (int64_t i = 0; i < count; ++i) {
      pads.push_back(c.rng.chance(0.02) ? int64_t{1} << c.rng.between(40, 62) : c.rng.between(-3, 3));
      list += std::to_string(pads.back()) + ",";
    }
    c.log(" pads=" + list);
    return Outputs{pad(x, pads, c.number("value"))};
  });
  reg("einsum", [](Case& c) {
    // a random equation over a few letters (sizes per letter, sometimes 1 to broadcast, sometimes wrong),
    // maybe with "...", maybe with an explicit output, now and then malformed
    const std::string letters = "ijkA";
    int64_t size[4];
    for (int64_t& s : size) s = c.dim();
    const int64_t operands = c.integer(c.rng.chance(0.03) ? 0 : 1, 3, "operands");
    const bool ellipsis = c.rng.chance(0.2);
    const Shape lead = c.shape(2);
    std::string equation;
    std::vector<Tensor> xs;
    std::string seen;
    for (int64_t o = 0; o < operands; ++o) {
      std::string term;
      Shape shape;
      if (ellipsis && c.rng.chance(0.7)) {
        term += "...";
        for (int64_t d : lead) shape.push_back(c.rng.chance(0.2) ? 1 : d);
      }
      for (int64_t i = 0, n = c.rng.between(0, 3); i < n; ++i) {
        const int64_t l = c.rng.between(0, 3);
        term += letters[l];
        seen += letters[l];
        shape.push_back(c.rng.chance(0.1) ? 1 : c.rng.chance(0.05) ? size[l] + 1 : size[l]);
      }
      if (shape.size() > 0 && c.rng.chance(0.03)) shape.push_back(2);  // one dim too many
      equation += (o ? "," : "") + term;
      xs.push_back(c.floating_input(shape, "operand"));
    }
    if (c.rng.chance(0.6)) {
      equation += "->";
      if (ellipsis && c.rng.chance(0.6)) equation += "...";
      for (char l : letters)
        if (seen.find(l) != std::string::npos && c.rng.chance(0.5)) equation += l;
      if (c.rng.chance(0.03)) equation += c.rng.chance(0.5) ? "z" : "i";  // absent, or perhaps repeated
    }
    if (c.rng.chance(0.02)) equation += c.rng.chance(0.5) ? "1" : ".";
    c.log(" equation=\"" + equation + "\"");
    return Outputs{einsum(equation, xs)};
  });

  // indexing
  reg("index_select", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    const int64_t n = x.dim() > 0 ? x.shape()[((a % x.dim()) + x.dim()) % x.dim()] : 1;
    const Shape is = c.rng.chance(0.9) ? Shape{c.dim()} : c.shape();
    return Outputs{index_select(x, a, c.index(is, n, "index"))};
  });
  reg("embedding", [](Case& c) {
    const Tensor w = c.input(c.rng.chance(0.9) ? Shape{c.dim(), c.dim()} : c.shape(), "weight");
    const int64_t v = w.dim() > 0 ? w.shape()[0] : 1;
    return Outputs{embedding(w, c.index(c.shape(c.rng.chance(0.05) ? 8 : 3), v, "indices"))};
  });
  reg("gather", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    Shape is = x.shape();
    for (int i = 0; i < is.size(); ++i) is[i] = c.rng.between(0, is[i] + (c.rng.chance(0.1) ? 2 : 0));
    if (c.rng.chance(0.1)) is = c.shape();
    const int64_t n = x.dim() > 0 ? x.shape()[((a % x.dim()) + x.dim()) % x.dim()] : 1;
    return Outputs{gather(x, a, c.index(is, n, "index"))};
  });
  for (const int mode : {0, 1, 2}) {  // scatter, scatter with a number, scatter_add
    reg(mode == 0 ? "scatter" : mode == 1 ? "scatter_value" : "scatter_add", [mode](Case& c) {
      const Tensor x = c.input(c.shape(), "x");
      const int a = c.logged_axis(x.dim());
      const int64_t n = x.dim() > 0 ? x.shape()[((a % x.dim()) + x.dim()) % x.dim()] : 1;
      Shape is = x.shape();
      for (int i = 0; i < is.size(); ++i) is[i] = c.rng.between(0, is[i] + (c.rng.chance(0.1) ? 2 : 0));
      if (c.rng.chance(0.1)) is = c.shape();
      const Tensor index = c.index(is, n, "index");
      if (mode == 1) return Outputs{scatter(x, a, index, c.number("value"))};
      Shape ss = is;
      for (int i = 0; i < ss.size(); ++i) ss[i] += c.rng.chance(0.2) ? 1 : 0;
      const Tensor src = c.input(c.rng.chance(0.9) ? ss : c.shape(), "src", 0.65,
                                 c.rng.chance(0.9) && x.defined() ? std::optional<DType>(x.dtype()) : std::nullopt);
      return Outputs{mode == 0 ? scatter(x, a, index, src) : scatter_add(x, a, index, src)};
    });
  }
  reg("index_add", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    const int64_t n = x.dim() > 0 ? x.shape()[((a % x.dim()) + x.dim()) % x.dim()] : 1;
    const int64_t k = c.dim();
    const Tensor index = c.index(c.rng.chance(0.9) ? Shape{k} : c.shape(), n, "index");
    Shape ss = x.defined() ? x.shape() : Shape{};
    if (ss.size() > 0 && c.rng.chance(0.9)) ss[((a % ss.size()) + ss.size()) % ss.size()] = k;
    const Tensor source = c.input(c.rng.chance(0.9) ? ss : c.shape(), "source", 0.65,
                                  c.rng.chance(0.9) && x.defined() ? std::optional<DType>(x.dtype()) : std::nullopt);
    return Outputs{index_add(x, a, index, source, c.number("alpha"))};
  });
  reg("one_hot", [](Case& c) {
    const int64_t classes = c.integer(0, 5, "classes");
    const Tensor indices = c.index(c.shape(c.rng.chance(0.05) ? 8 : 3), std::max<int64_t>(classes, 1), "indices");
    int64_t num_classes = c.rng.chance(0.3) ? -1 : c.integer(-2, classes + 1, "num_classes");
    // Inferred from a value like 2^31, the class count asks for 2^37 bytes: under the 2^40-byte limit, so
    // the machine's allocator decides (std::bad_alloc, docs/reliability.md "Not guaranteed"). Such a
    // value is tried with an explicit count instead, which must refuse it.
    if (num_classes == -1 && indices.dtype() == kInt64 && indices.numel() > 0 &&
        max(indices).item<int64_t>() >= (int64_t{1} << 20))
      num_classes = classes;
    return Outputs{one_hot(indices, num_classes)};
  });

  // reductions
  reg("sum_all", [](Case& c) { return Outputs{sum(c.input(c.shape(), "x"))}; });
  reg("mean_all", [](Case& c) { return Outputs{mean(c.input(c.shape(), "x"))}; });
  reg("max_all", [](Case& c) { return Outputs{max(c.input(c.shape(), "x"))}; });
  for (const bool is_mean : {false, true}) {
    reg(is_mean ? "mean_axes" : "sum_axes", [is_mean](Case& c) {
      const Tensor x = c.input(c.shape(), "x");
      std::vector<int> axes;
      const int64_t count = c.rng.between(0, std::min(3, x.dim() + 1));
      std::string list;
      for (int64_t i = 0; i < count; ++i) {
        axes.push_back(c.axis(x.dim()));
        list += std::to_string(axes.back()) + ",";
      }
      c.log(" axes=" + list);
      const bool keep = c.flag("keepdim");
      return Outputs{is_mean ? mean(x, axes, keep) : sum(x, axes, keep)};
    });
  }
  reg("max_axis", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    const ValuesIndices r = max(x, a, c.flag("keepdim"));
    return Outputs{r.values, r.indices};
  });
  reg("argmax", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    return Outputs{argmax(x, a, c.flag("keepdim"))};
  });
  reg("log_softmax", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    return Outputs{log_softmax(x, c.logged_axis(x.dim()))};
  });
  reg("softmax", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    return Outputs{softmax(x, c.logged_axis(x.dim()))};
  });
  reg("min_all", [](Case& c) { return Outputs{min(c.input(c.shape(), "x"))}; });
  reg("min_axis", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    const ValuesIndices r = min(x, a, c.flag("keepdim"));
    return Outputs{r.values, r.indices};
  });
  reg("argmin", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(x.dim());
    return Outputs{argmin(x, a, c.flag("keepdim"))};
  });
  // axes for the reductions over several axes: none (all), some (maybe repeated or out of range)
  const auto axes_of = [](Case& c, int rank) {
    std::vector<int> axes;
    const int64_t count = c.rng.between(0, std::min(3, rank + 1));
    std::string list;
    for (int64_t i = 0; i < count; ++i) {
      axes.push_back(c.axis(rank));
      list += std::to_string(axes.back()) + ",";
    }
    c.log(" axes=" + list);
    return axes;
  };
  reg("logsumexp", [axes_of](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const std::vector<int> axes = axes_of(c, x.dim());
    return Outputs{logsumexp(x, axes, c.flag("keepdim"))};
  });
  for (const bool is_std : {false, true}) {
    reg(is_std ? "std" : "var", [is_std, axes_of](Case& c) {
      const Tensor x = c.input(c.shape(), "x");
      const std::vector<int> axes = axes_of(c, x.dim());
      const bool unbiased = c.flag("unbiased"), keep = c.flag("keepdim");
      return Outputs{is_std ? unroll::std(x, axes, unbiased, keep) : var(x, axes, unbiased, keep)};
    });
  }
  reg("norm", [axes_of](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const std::vector<double> ps = {1, 2, INFINITY, 1, 2, INFINITY, 3, 0, -INFINITY};
    const double p = c.rng.pick(ps);
    c.log(" p=" + Case::fmt_double(p));
    const std::vector<int> axes = axes_of(c, x.dim());
    return Outputs{norm(x, p, axes, c.flag("keepdim"))};
  });
  reg("cumsum", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    return Outputs{cumsum(x, c.logged_axis(std::max(x.dim(), 1)))};
  });
  reg("sort", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(std::max(x.dim(), 1));
    const ValuesIndices r = sort(x, a, c.flag("descending"));
    return Outputs{r.values, r.indices, argsort(x, a, c.flag("descending"))};
  });
  reg("topk", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const int a = c.logged_axis(std::max(x.dim(), 1));
    const int64_t n = x.dim() > 0 ? x.shape()[((a % x.dim()) + x.dim()) % x.dim()] : 1;
    const int64_t k = c.integer(c.rng.chance(0.05) ? -1 : 0, n + (c.rng.chance(0.05) ? 1 : 0), "k");
    const ValuesIndices r = topk(x, k, a, c.flag("largest"));
    return Outputs{r.values, r.indices};
  });

  // maximum / minimum (broadcasting, promotion) and the new pointwise functions
  for (auto [name, f] : std::vector<std::pair<const char*, Binary>>{{"maximum", &unroll::maximum},
                                                                    {"minimum", &unroll::minimum}}) {
    reg(name, [f](Case& c) {
      const Tensor a = c.input(c.shape(), "a");
      const Tensor b = c.input(c.like(a.shape()), "b");
      return Outputs{f(a, b)};
    });
  }
  for (auto [name, f] : std::vector<std::pair<const char*, Unary>>{{"log1p", &unroll::log1p},
                                                                   {"expm1", &unroll::expm1},
                                                                   {"sin", &unroll::sin},
                                                                   {"cos", &unroll::cos},
                                                                   {"sign", &unroll::sign},
                                                                   {"floor", &unroll::floor},
                                                                   {"ceil", &unroll::ceil},
                                                                   {"round", &unroll::round},
                                                                   {"silu", &unroll::silu}}) {
    reg(name, [f](Case& c) { return Outputs{f(c.input(c.shape(), "x"))}; });
  }
  reg("activations", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    switch (c.integer(0, 3, "activation")) {
      case 0: {
        const double beta = c.rng.chance(0.05) ? 0 : c.real_value("beta"), threshold = c.real_value("threshold");
        return Outputs{softplus(x, beta, threshold)};
      }
      case 1: {
        const std::vector<std::string> modes = {"none", "tanh", "none", "tanh", "erf", ""};
        const std::string mode = c.rng.pick(modes);
        c.log(" approximate=" + mode);
        return Outputs{gelu(x, mode)};
      }
      case 2:
        return Outputs{elu(x, c.real_value("alpha"))};
      default:
        return Outputs{leaky_relu(x, c.real_value("negative_slope"))};
    }
  });
  reg("layer_norm", [](Case& c) {
    const Tensor x = c.floating_input(c.shape(), "x");
    Shape ns;
    const int nd = static_cast<int>(c.integer(x.dim() > 0 ? 1 : 0, std::max(x.dim(), 1), "normalized_dims"));
    for (int i = x.dim() - nd; i < x.dim(); ++i) ns.push_back(i >= 0 ? x.shape()[i] : 1);
    if (c.rng.chance(0.1)) ns = c.shape(2);
    c.logged_shape(ns, "normalized_shape");
    const Tensor w = c.rng.chance(0.3) ? Tensor() : c.floating_input(c.rng.chance(0.9) ? ns : c.shape(), "weight");
    const Tensor b = c.rng.chance(0.3) ? Tensor() : c.floating_input(c.rng.chance(0.9) ? ns : c.shape(), "bias");
    const double eps = c.rng.chance(0.9) ? 1e-5 : c.real_value("eps");
    return Outputs{layer_norm(x, ns, w, b, eps)};
  });
  reg("scaled_dot_product_attention", [](Case& c) {
    const int64_t l = c.dim(), s = c.dim(), e = c.dim(), ev = c.dim();
    Shape batch;
    for (int64_t i = 0, n = c.integer(0, 2, "batch_dims"); i < n; ++i) batch.push_back(c.dim());
    const auto with_batch = [&](std::initializer_list<int64_t> tail) {
      Shape out = batch;
      for (int64_t d : tail) out.push_back(d);
      return c.rng.chance(0.93) ? out : c.shape();
    };
    const Tensor q = c.floating_input(with_batch({l, e}), "query");
    const Tensor k = c.floating_input(with_batch({s, e}), "key");
    const Tensor v = c.floating_input(with_batch({s, ev}), "value");
    Tensor mask;
    const bool causal = c.rng.chance(0.2);
    c.log(causal ? " causal" : "");
    if (c.rng.chance(causal ? 0.1 : 0.5)) {
      const Shape ms = c.rng.chance(0.6) ? Shape{l, s} : c.rng.chance(0.7) ? with_batch({l, s}) : c.shape();
      mask = c.rng.chance(0.7) ? c.condition(ms, "attn_mask") : c.input(ms, "attn_mask");
    }
    const std::vector<double> ps = {0, 0, 0, 0.3, 0.9, 1, -0.1};
    const double p = c.rng.pick(ps);
    c.log(" dropout_p=" + Case::fmt_double(p));
    Generator gen(c.rng.bits());
    return Outputs{scaled_dot_product_attention(q, k, v, mask, p, causal, gen)};
  });

  // in-place ops: on tensors outside any graph they must compute or refuse with unroll::Error; on a leaf
  // that requires grad, grad mode on, they must refuse; and a backward through a graph that recorded a tensor
  // since modified in place must throw unroll::Error naming the modification, never compute
  reg("in_place", [](Case& c) {
    Tensor x = c.input(c.shape(), "x");
    const bool no_grad = c.flag("no_grad");
    const Tensor other = c.input(c.like(x.defined() ? x.shape() : Shape{}), "other");
    std::optional<NoGradGuard> guard;
    if (no_grad) guard.emplace();
    switch (c.integer(0, 7, "op")) {
      case 0:
        x.fill_(c.number("value"));
        break;
      case 1:
        x.zero_();
        break;
      case 2:
        x.copy_(other);
        break;
      case 3:
        x.add_(other, c.number("alpha"));
        break;
      case 4:
        x.add_(c.number("other"));
        break;
      case 5:
        x.mul_(other);
        break;
      case 6:
        x.mul_(c.number("other"));
        break;
      default: {
        const Scalar lo = c.number("min");
        x.clamp_(lo, lo.to_double() + std::abs(c.value()));
        break;
      }
    }
    return Outputs{x};
  });
  reg("version_check", [](Case& c) {
    Tensor x = c.floating_input(c.shape(), "x");
    if (!x.requires_grad()) return Outputs{x};
    const Tensor y = mul(exp(x), x);
    const int modify = static_cast<int>(c.integer(0, 2, "modify"));  // nothing, x, or y
    {
      NoGradGuard no_grad;
      if (modify == 1) x.mul_(2);
      if (modify == 2) y.detach().add_(1);
    }
    std::string error;
    try {
      backward({y}, {ones_like(y)});
    } catch (const Error& e) {
      error = e.what();
    }
    x.zero_grad();
    if (c.anomaly && error.rfind("anomaly:", 0) == 0) return Outputs{};
    const bool refused = error.find("was modified in place") != std::string::npos;
    if (modify != 0 && !refused)
      throw std::logic_error("backward did not refuse a graph whose tensor was modified in place: " + error);
    if (modify == 0 && !error.empty()) throw std::logic_error("backward threw for an unmodified graph: " + error);
    return Outputs{};
  });

  // losses
  for (const bool ce : {false, true}) {
    reg(ce ? "cross_entropy" : "nll_loss", [ce](Case& c) {
      const int64_t n = c.dim(), classes = c.dim();
      const Tensor x = c.input(c.rng.chance(0.9) ? Shape{n, classes} : c.shape(), "input");
      Tensor t = c.index(c.rng.chance(0.9) ? Shape{n} : c.shape(), classes, "targets");
      CrossEntropyOptions options;
      options.reduction = static_cast<Reduction>(c.integer(0, 2, "reduction"));
      if (c.rng.chance(0.3)) {
        options.ignore_index = c.integer(-2, classes, "ignore_index");
        if (n > 0 && t.dtype() == kInt64 && c.rng.chance(0.5)) t.data<int64_t>()[0] = options.ignore_index;
      }
      return Outputs{ce ? cross_entropy(x, t, options) : nll_loss(x, t, options)};
    });
  }
  reg("mse_loss", [](Case& c) {
    const Tensor a = c.input(c.shape(), "input");
    const Tensor b = c.input(c.rng.chance(0.9) ? a.shape() : c.shape(), "target");
    return Outputs{mse_loss(a, b, static_cast<Reduction>(c.integer(0, 2, "reduction")))};
  });
  reg("binary_cross_entropy_with_logits", [](Case& c) {
    const Tensor a = c.input(c.shape(), "logits");
    const Tensor b = c.input(c.rng.chance(0.9) ? a.shape() : c.shape(), "targets");
    return Outputs{binary_cross_entropy_with_logits(a, b, static_cast<Reduction>(c.integer(0, 2, "reduction")))};
  });

  // random
  reg("random", [](Case& c) {
    Generator gen(c.rng.bits());
    const Shape s = c.rng.chance(0.08) ? c.absurd() : c.shape();
    c.logged_shape(s, "shape");
    const double a = c.real_value("a"), b = c.real_value("b");
    const DType dtype = c.rng.chance(0.5) ? c.floating : c.logged_dtype("dtype");  // int64/bool: refused
    switch (c.integer(0, 5, "which")) {
      case 0:
        return Outputs{rand(s, gen), randn(s, gen), rand(s, dtype, gen), randn(s, dtype, gen)};
      case 1:
        return Outputs{uniform(s, a, b, dtype, gen)};
      case 2:
        return Outputs{normal(s, a, b, dtype, gen)};
      case 3: {
        const int64_t low = c.rng.chance(0.9) ? c.integer(-5, 5, "low") : c.rng.pick(g_corpus.ints);
        int64_t high = c.rng.pick(g_corpus.ints);
        if (c.rng.chance(0.9) && __builtin_add_overflow(low, c.integer(-1, 9, "span"), &high))  // low may be extreme
          high = std::numeric_limits<int64_t>::max();
        return Outputs{randint(low, high, s, gen)};
      }
      case 4:
        return Outputs{uniform(s, std::min(a, b), std::max(a, b), dtype)};
      default:
        return Outputs{uniform(s, std::min(a, b), std::max(a, b))};
    }
  });
  reg("dropout", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x");
    const std::vector<double> ps = {0, 0.5, 1, 0.999, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()};
    const double p = c.rng.pick(ps);
    c.log(" p=" + Case::fmt_double(p));
    Generator gen(c.rng.bits());
    return Outputs{dropout(x, p, c.flag("training"), gen)};
  });

  // creation
  reg("creation", [](Case& c) {
    const Shape s = c.rng.chance(0.15) ? c.absurd() : c.shape();
    c.logged_shape(s, "shape");
    const DType dtype = c.logged_dtype("dtype");
    switch (c.integer(0, 5, "which")) {
      case 0: {
        // empty()'s values are uninitialized: a bool one may hold any byte, which is not a bool to read back
        const Tensor uninitialized = empty(s, dtype);
        return Outputs{empty(s),        zeros(s),      ones(s), dtype == kBool ? Tensor() : uninitialized,
                       zeros(s, dtype), ones(s, dtype)};
      }
      case 1:
        return Outputs{full(s, c.number("value")), full(s, c.number("value2"), dtype)};
      case 2: {
        const Tensor x = c.input(c.shape(), "x");
        return Outputs{zeros_like(x), ones_like(x), ones_like(x, dtype), scalar(c.number("value")),
                       scalar(c.number("value2"), dtype)};
      }
      case 3: {
        std::vector<double> values(static_cast<size_t>(c.rng.between(0, 12)));
        for (double& v : values) v = c.value();
        c.log(" values=" + std::to_string(values.size()));
        if (c.rng.chance(0.3)) {
          std::vector<int64_t> ints(values.size());
          for (int64_t& v : ints) v = c.rng.chance(0.8) ? c.rng.between(-9, 9) : c.rng.pick(g_corpus.ints);
          return Outputs{tensor(ints, s), tensor(ints, s, dtype)};
        }
        return Outputs{tensor(values, s), tensor(values, s, dtype)};
      }
      case 4: {
        const std::vector<double> edges = {0,
                                           1,
                                           -1,
                                           5,
                                           1e30,
                                           -1e30,
                                           1e300,
                                           std::numeric_limits<double>::infinity(),
                                           std::numeric_limits<double>::quiet_NaN(),
                                           0.1};
        const double start = c.rng.pick(edges), end = c.rng.pick(edges), step = c.rng.pick(edges);
        c.log(" arange(" + Case::fmt_double(start) + ", " + Case::fmt_double(end) + ", " + Case::fmt_double(step) +
              ")");
        return Outputs{arange(start, end, step, dtype)};
      }
      default:
        return Outputs{arange(c.integer(-3, 10, "end"))};
    }
  });
  reg("tensor_access", [](Case& c) {
    Tensor x = c.input(c.shape(), "x");
    std::vector<int64_t> idx;
    for (int i = 0; i < x.dim() + (c.rng.chance(0.1) ? 1 : 0); ++i)
      idx.push_back(c.rng.between(-4, i < x.dim() ? x.shape()[i] + 1 : 3));
    c.log(" accessors");
    (void)x.to_string();
    // typed access with the tensor's own element type, now and then with another (refused)
    const DType as = c.rng.chance(0.9) && x.defined() ? x.dtype() : c.logged_dtype("read_as");
    visit_dtype(as, [&]<class T>() {
      (void)x.to_vector<T>();
      (void)x.size(c.axis(x.dim()));
      if (c.rng.chance(0.3)) (void)x.item<T>();
      switch (idx.size()) {  // at() takes an initializer_list
        case 0:
          (void)x.at<T>({});
          break;
        case 1:
          (void)x.at<T>({idx[0]});
          break;
        case 2:
          (void)x.at<T>({idx[0], idx[1]});
          break;
        case 3:
          (void)x.at<T>({idx[0], idx[1], idx[2]});
          break;
        case 4:
          (void)x.at<T>({idx[0], idx[1], idx[2], idx[3]});
          break;
        default:
          (void)x.at<T>({idx[0], idx[1], idx[2], idx[3], idx[4]});
          break;
      }
    });
    return Outputs{x.t()};
  });
  reg("graph_tools", [](Case& c) {
    const Tensor x = c.input(c.shape(), "x", 0.9);
    Outputs outs =
        checkpoint([](const std::vector<Tensor>& in) { return std::vector<Tensor>{tanh(in[0]) * 2 + in[0]}; }, {x});
    if (outs[0].requires_grad()) (void)to_dot(outs[0]);
    return outs;
  });

  // layers
  reg("Linear", [](Case& c) {
    const bool huge = c.rng.chance(0.05);
    const int64_t in = huge ? int64_t{1} << 40 : c.integer(-1, 5, "in"), out = huge ? 3 : c.integer(-1, 5, "out");
    if (huge) c.log(" in=2^40");
    auto& lin =
        c.module<layers::Linear>(layers::LinearOptions{.in_features = in, .out_features = out, .bias = c.flag("bias")});
    Shape xs = c.shape(3);
    if (c.rng.chance(0.85)) {
      if (xs.size() == 0) xs.push_back(in);
      xs[xs.size() - 1] = in;
    }
    Outputs outs{lin(c.floating_input(xs, "x"))};
    for (const Tensor& p : lin.parameters()) c.leaves.push_back(p);
    return outs;
  });
  reg("Embedding", [](Case& c) {
    const bool huge = c.rng.chance(0.05);
    const int64_t v = huge ? int64_t{1} << 40 : c.integer(-1, 6, "V"),
                  d = huge ? int64_t{1} << 40 : c.integer(-1, 4, "D");
    if (huge) c.log(" V=D=2^40");
    const int64_t pad = c.rng.chance(0.7) ? -1 : c.integer(-2, v + 1, "padding_idx");
    auto& emb = c.module<layers::Embedding>(
        layers::EmbeddingOptions{.num_embeddings = v, .embedding_dim = d, .padding_idx = pad});
    Outputs outs{emb(c.index(c.shape(3), v, "indices"))};
    c.leaves.push_back(emb.weight);
    return outs;
  });
  reg("Dropout", [](Case& c) {
    const std::vector<double> ps = {0, 0.3, 1, -0.5, 2, std::numeric_limits<double>::quiet_NaN()};
    const double p = c.rng.pick(ps);
    c.log(" p=" + Case::fmt_double(p));
    auto& drop = c.module<layers::Dropout>(p);
    if (c.flag("eval")) drop.eval();
    return Outputs{drop(c.floating_input(c.shape(), "x"))};
  });
  reg("cell", [](Case& c) {
    const int64_t in = c.integer(0, 4, "input_size"), hidden = c.integer(0, 4, "hidden_size");
    const bool bias = c.flag("bias");
    std::shared_ptr<layers::Cell> cell;
    switch (c.integer(0, 3, "kind")) {
      case 0:
        cell = std::make_shared<layers::RNNCell>(
            layers::RNNCellOptions{.input_size = in, .hidden_size = hidden, .bias = bias});
        break;
      case 1:
        cell = std::make_shared<layers::RNNCell>(layers::RNNCellOptions{
            .input_size = in, .hidden_size = hidden, .bias = bias, .nonlinearity = layers::Nonlinearity::ReLU});
        break;
      case 2:
        cell = std::make_shared<layers::LSTMCell>(
            layers::LSTMCellOptions{.input_size = in, .hidden_size = hidden, .bias = bias});
        break;
      default:
        cell = std::make_shared<layers::GRUCell>(
            layers::GRUCellOptions{.input_size = in, .hidden_size = hidden, .bias = bias});
        break;
    }
    if (c.floating != kFloat32) cell->to(c.floating);
    c.modules.push_back(cell);
    const int64_t n = c.dim();
    const Tensor x = c.floating_input(c.rng.chance(0.85) ? Shape{n, in} : c.shape(), "x");
    layers::State state;
    if (c.rng.chance(0.5)) {
      state.h = c.floating_input(c.rng.chance(0.85) ? Shape{n, hidden} : c.shape(), "h");
      if (c.rng.chance(0.6)) state.c = c.floating_input(c.rng.chance(0.85) ? Shape{n, hidden} : c.shape(), "c");
    }
    for (const Tensor& p : cell->parameters()) c.leaves.push_back(p);
    const layers::State next = state.h.defined() ? (*cell)(x, state) : (*cell)(x);
    return Outputs{next.h, next.c};
  });
  reg("recurrent_module", [](Case& c) {
    const int64_t in = c.integer(0, 4, "input_size"), hidden = c.integer(0, 4, "hidden_size");
    const int64_t layers_n = c.integer(c.rng.chance(0.05) ? -1 : 1, 3, "num_layers");
    const bool bidir = c.flag("bidirectional"), batch_first = c.flag("batch_first"), bias = c.flag("bias");
    const std::vector<double> dropouts = {0, 0.3, -0.1, 1};
    const double p = c.rng.pick(dropouts);
    c.log(" dropout=" + Case::fmt_double(p));
    std::shared_ptr<layers::RecurrentNetwork> net;
    const int64_t kind = c.integer(0, 2, "kind");
    if (kind == 0)
      net = std::make_shared<layers::LSTM>(layers::LSTMOptions{.input_size = in,
                                                               .hidden_size = hidden,
                                                               .num_layers = layers_n,
                                                               .bias = bias,
                                                               .batch_first = batch_first,
                                                               .dropout = p,
                                                               .bidirectional = bidir});
    else if (kind == 1)
      net = std::make_shared<layers::GRU>(layers::GRUOptions{.input_size = in,
                                                             .hidden_size = hidden,
                                                             .num_layers = layers_n,
                                                             .bias = bias,
                                                             .batch_first = batch_first,
                                                             .dropout = p,
                                                             .bidirectional = bidir});
    else
      net = std::make_shared<layers::RNN>(layers::RNNOptions{.input_size = in,
                                                             .hidden_size = hidden,
                                                             .num_layers = layers_n,
                                                             .bias = bias,
                                                             .batch_first = batch_first,
                                                             .dropout = p,
                                                             .bidirectional = bidir});
    if (c.floating != kFloat32) net->to(c.floating);
    c.modules.push_back(net);
    if (c.flag("eval")) net->eval();
    for (const Tensor& pr : net->parameters()) c.leaves.push_back(pr);
    const int64_t t = c.integer(0, 4, "T"), n = c.dim();
    Shape xs = batch_first ? Shape{n, t, in} : Shape{t, n, in};
    if (c.rng.chance(0.1)) xs = c.shape();
    const Tensor x = c.floating_input(xs, "x");
    layers::State state;
    const int64_t slots = layers_n * (bidir ? 2 : 1);
    if (c.rng.chance(0.3)) {
      state.h = c.floating_input(c.rng.chance(0.85) ? Shape{slots, n, hidden} : c.shape(), "h0");
      if (kind == 0) state.c = c.floating_input(c.rng.chance(0.85) ? Shape{slots, n, hidden} : c.shape(), "c0");
    }
    const Tensor lengths = c.rng.chance(0.3) ? c.index(Shape{n}, t + 1, "lengths") : Tensor();
    const layers::SequenceOutput out = (*net)(x, state, lengths);
    return Outputs{out.output, out.state.h, out.state.c};
  });
  reg("unroll_cell", [](Case& c) {
    const int64_t in = c.integer(1, 3, "input_size"), hidden = c.integer(1, 3, "hidden_size");
    auto& cell = c.module<layers::GRUCell>(layers::GRUCellOptions{.input_size = in, .hidden_size = hidden});
    for (const Tensor& p : cell.parameters()) c.leaves.push_back(p);
    const int64_t t = c.integer(0, 6, "T"), n = c.dim();
    const Tensor x = c.floating_input(c.rng.chance(0.9) ? Shape{t, n, in} : c.shape(), "x");
    const int64_t every = c.integer(-1, 4, "checkpoint_every");
    const layers::SequenceOutput out = layers::unroll_cell(cell, x, {}, {}, {.checkpoint_every = every});
    return Outputs{out.output, out.state.h};
  });

  // the other cells, stepped once (as nn.LSTMCell is), with random and mismatched shapes
  reg("cell_more", [](Case& c) {
    const int64_t in = layer_size(c, "input_size"), hidden = layer_size(c, "hidden_size");
    const std::shared_ptr<layers::Cell> cell = make_cell(c, in, hidden);
    const int64_t n = c.dim(), h = cell->output_size();
    layers::State state;
    if (c.rng.chance(0.6)) {
      state.h = c.floating_input(c.rng.chance(0.85) ? Shape{n, h} : c.shape(), "h");
      if (c.rng.chance(0.7)) state.c = c.floating_input(c.rng.chance(0.85) ? Shape{n, h} : c.shape(), "c");
    }
    if (c.rng.chance(0.25)) {  // step() directly, on a "projected" input of any shape
      const Tensor projected = c.floating_input(c.rng.chance(0.5) ? Shape{n, c.dim()} : c.shape(), "projected_x");
      const layers::State next = cell->step(projected, state.h.defined() ? state : cell->initial_state(n));
      return Outputs{next.h, next.c, cell->output(next)};
    }
    const Tensor x = c.floating_input(c.rng.chance(0.85) ? Shape{n, in} : c.shape(), "x");
    const layers::State next = state.h.defined() ? (*cell)(x, state) : (*cell)(x);
    return Outputs{next.h, next.c};
  });
  // unroll_cell over any cell with initial states, lengths and checkpointing
  reg("unroll_cell_any", [](Case& c) {
    const int64_t in = c.integer(1, 3, "input_size"), hidden = c.integer(1, 3, "hidden_size");
    const std::shared_ptr<layers::Cell> cell = make_cell(c, in, hidden);
    const int64_t t = c.integer(0, 5, "T"), n = c.dim(), h = cell->output_size();
    const Tensor x = c.floating_input(c.rng.chance(0.9) ? Shape{t, n, in} : c.shape(), "x");
    layers::State initial;
    if (c.rng.chance(0.4)) {
      initial.h = c.floating_input(c.rng.chance(0.8) ? Shape{n, h} : c.like(Shape{n, h}), "h0");
      if (c.rng.chance(0.6)) initial.c = c.floating_input(c.rng.chance(0.8) ? Shape{n, h} : c.like(Shape{n, h}), "c0");
    }
    const Tensor len = lengths(c, t, n);
    const int64_t every = c.rng.chance(0.7) ? 0 : c.integer(-1, 3, "checkpoint_every");
    const layers::SequenceOutput out = layers::unroll_cell(*cell, x, initial, len, {.checkpoint_every = every});
    return Outputs{out.output, out.state.h, out.state.c};
  });
  reg("reverse_sequences", [](Case& c) {
    const int64_t t = c.integer(0, 5, "T"), n = c.dim();
    Shape xs = c.rng.chance(0.8) ? Shape{t, n} : c.shape();
    if (xs.size() == 2 && c.rng.chance(0.6)) xs.push_back(c.dim());
    const Tensor x = c.floating_input(xs, "x");
    return Outputs{layers::reverse_sequences(x, lengths(c, t, n))};
  });
  // Unidirectional / Bidirectional / Stacked built from random cells; layer sizes may not fit together
  reg("sequence_wrappers", [](Case& c) {
    const int64_t in = c.integer(1, 3, "input_size");
    const auto direction = [&c](int64_t input_size) -> std::shared_ptr<layers::SequenceLayer> {
      if (c.rng.chance(0.02)) {
        c.log(" null_cell");
        return std::make_shared<layers::Unidirectional>(nullptr);
      }
      return std::make_shared<layers::Unidirectional>(make_cell(c, input_size, c.integer(1, 3, "hidden_size")));
    };
    const auto block = [&](int64_t input_size) -> std::shared_ptr<layers::SequenceLayer> {
      if (!c.flag("bidirectional")) return direction(input_size);
      return std::make_shared<layers::Bidirectional>(direction(input_size),
                                                     c.rng.chance(0.02) ? nullptr : direction(input_size));
    };
    std::shared_ptr<layers::SequenceLayer> net;
    if (c.flag("stacked")) {
      std::vector<std::shared_ptr<layers::SequenceLayer>> parts;
      int64_t size = in;
      for (int64_t i = 0, k = c.integer(0, 3, "layers"); i < k; ++i) {
        parts.push_back(block(size));
        size = c.rng.chance(0.9) ? parts.back()->output_size() : c.integer(1, 4, "next_input_size");
      }
      const std::vector<double> dropouts = {0, 0.5, -0.1, 1, std::numeric_limits<double>::quiet_NaN()};
      const double p = c.rng.pick(dropouts);
      c.log(" dropout=" + Case::fmt_double(p));
      net = std::make_shared<layers::Stacked>(std::move(parts), p);
    } else {
      net = block(in);
    }
    c.modules.push_back(net);
    if (c.flag("eval")) net->eval();
    const int64_t t = c.integer(0, 4, "T"), n = c.dim(), slots = net->state_slots();
    const Tensor x = c.floating_input(c.rng.chance(0.9) ? Shape{t, n, in} : c.shape(), "x");
    layers::State state;
    if (c.rng.chance(0.3)) {
      const int64_t h = c.integer(1, 3, "state_hidden");
      state.h = c.floating_input(c.rng.chance(0.8) ? Shape{slots, n, h} : c.shape(), "h0");
      if (c.rng.chance(0.5)) state.c = c.floating_input(c.rng.chance(0.8) ? Shape{slots, n, h} : c.shape(), "c0");
    }
    const layers::SequenceOutput out = (*net)(x, state, lengths(c, t, n));
    return Outputs{out.output, out.state.h, out.state.c};
  });
  reg("Sequential", [](Case& c) {
    auto& net = c.module<layers::Sequential>();
    const int64_t in = c.integer(0, 4, "in");
    int64_t size = in;
    for (int64_t i = 0, k = c.integer(0, 4, "modules"); i < k; ++i) {
      switch (c.integer(0, 5, "module")) {
        case 0: {
          const int64_t out = c.integer(c.rng.chance(0.05) ? -1 : 0, 4, "out");
          const int64_t from = c.rng.chance(0.9) ? size : c.integer(0, 4, "mismatched_in");
          net.emplace<layers::Linear>(layers::LinearOptions{.in_features = from, .out_features = out});
          size = out;
          break;
        }
        case 1:
          net.emplace<layers::Tanh>();
          break;
        case 2:
          net.emplace<layers::ReLU>();
          break;
        case 3:
          net.emplace<layers::Sigmoid>();
          break;
        case 4:
          net.emplace<layers::Dropout>(0.5);
          break;
        default:
          net.push_back(nullptr);
          break;  // must throw
      }
    }
    if (c.floating != kFloat32) net.to(c.floating);
    for (const Tensor& p : net.parameters()) c.leaves.push_back(p);
    if (c.flag("eval")) net.eval();
    if (c.rng.chance(0.1)) (void)net[static_cast<size_t>(c.integer(0, 5, "index"))];
    if (c.rng.chance(0.1)) (void)net.at<layers::Linear>(static_cast<size_t>(c.integer(0, 5, "index_as_linear")));
    const Tensor x = c.floating_input(c.rng.chance(0.85) ? Shape{c.dim(), in} : c.shape(), "x");
    return Outputs{net(x)};
  });
  reg("init", [](Case& c) {
    Shape s = c.shape();
    if (c.rng.chance(0.02)) s = c.absurd();  // cannot be allocated: refused by empty() before init runs
    Tensor t = c.input(s, "tensor", 0.5);
    const std::vector<double> numbers = {0,
                                         1,
                                         -1,
                                         0.5,
                                         1e30,
                                         -1e30,
                                         1e300,
                                         std::numeric_limits<double>::infinity(),
                                         std::numeric_limits<double>::quiet_NaN()};
    const auto number = [&c, &numbers](const char* name) {
      const double v = c.rng.chance(0.7) ? c.rng.normal() : c.rng.pick(numbers);
      c.log(std::string(" ") + name + "=" + Case::fmt_double(v));
      return v;
    };
    const std::vector<std::string_view> modes = {"fan_in", "fan_out", "fan_sideways", ""};
    const std::vector<std::string_view> nonlinearities = {"linear", "tanh",     "relu", "leaky_relu", "sigmoid", "selu",
                                                          "conv2d", "softsign", ""};
    const std::string_view mode = c.rng.chance(0.8) ? modes[c.rng.between(0, 1)] : c.rng.pick(modes);
    const std::string_view nonlinearity = c.rng.pick(nonlinearities);
    c.log(" mode=" + std::string(mode) + " nonlinearity=" + std::string(nonlinearity));
    namespace init = layers::init;
    switch (c.integer(0, 12, "init")) {
      case 0:
        init::uniform_(t, number("a"), number("b"));
        break;
      case 1:
        init::normal_(t, number("mean"), number("std"));
        break;
      case 2:
        init::constant_(t, number("value"));
        break;
      case 3:
        init::zeros_(t);
        break;
      case 4:
        init::ones_(t);
        break;
      case 5:
        init::eye_(t);
        break;
      case 6:
        init::xavier_uniform_(t, number("gain"));
        break;
      case 7:
        init::xavier_normal_(t, number("gain"));
        break;
      case 8:
        init::kaiming_uniform_(t, number("a"), mode, nonlinearity);
        break;
      case 9:
        init::kaiming_normal_(t, number("a"), mode, nonlinearity);
        break;
      case 10:
        init::orthogonal_(t, number("gain"));
        break;
      case 11:
        (void)init::calculate_fan_in_and_fan_out(t);
        break;
      default:
        (void)init::calculate_gain(nonlinearity, number("param"));
        break;
    }
    return Outputs{t};
  });
  return r;
}

// ---- the driver --------------------------------------------------------------------------------------
struct Stats {
  int64_t cases = 0, worked = 0, refused = 0, backward_passes = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> per_op;  // worked, refused
};

struct Failure {
  std::string what;
};

// Runs case `index` of `seed`; returns an empty string when every property held.
std::string run_case(const std::vector<std::pair<std::string, Runner>>& runners, uint64_t seed, int64_t index,
                     Stats& stats, bool verbose) {
  Case c(mix(seed ^ mix(static_cast<uint64_t>(index))));
  const auto& [name, runner] = runners[static_cast<size_t>(c.rng.between(0, static_cast<int64_t>(runners.size()) - 1))];
  manual_seed(c.rng.bits());  // layers draw their initial weights and dropout masks from it
  c.anomaly = c.rng.chance(0.1);
  c.floating = c.rng.chance(0.25) ? kFloat64 : kFloat32;
  c.log("[fuzz_ops --seed " + std::to_string(seed) + " --case " + std::to_string(index) + " --verbose] " + name +
        (c.anomaly ? " (anomaly mode)" : "") + (c.floating == kFloat64 ? " (float64)" : "") + ":");
  const int64_t nodes = live_node_count(), buffers = live_buffer_count();
  std::string failure;
  {
    DetectAnomalyGuard anomaly(c.anomaly);
    Outputs outs;
    bool refused = false;
    try {
      outs = runner(c);
    } catch (const Error& e) {
      refused = true;
      if (verbose) std::printf("  refused: %s\n", e.what());
    } catch (const IoError& e) {
      refused = true;
    } catch (const std::bad_alloc&) {
      failure = "std::bad_alloc: an absurd size was not refused with unroll::Error before allocating";
    } catch (const std::exception& e) {
      failure = std::string("threw a non-unroll exception: ") + e.what();
    }
    auto& op_stats = stats.per_op[name];
    ++(refused ? op_stats.second : op_stats.first);
    ++(refused ? stats.refused : stats.worked);
    // property 2: results read back in full
    std::vector<Tensor> roots, seeds;
    for (const Tensor& out : outs) {
      if (!out.defined() || !failure.empty()) continue;
      if (out.impl()->storage == nullptr || out.impl()->storage->nbytes < out.numel() * out.element_size()) {
        failure = "a result of shape " + str(out.shape()) + " and dtype " + unroll::name(out.dtype()) +
                  " has a buffer smaller than its shape";
        break;
      }
      if (out.requires_grad() && !out.is_floating_point()) {
        failure = "a result of dtype " + std::string(unroll::name(out.dtype())) + " requires grad";
        break;
      }
      double checksum = 0;
      visit_dtype(out.dtype(), [&]<class T>() {
        for (T v : out.to_vector<T>()) checksum += static_cast<double>(v);
      });
      (void)checksum;
      if (out.requires_grad()) {
        try {
          // a seed of the result's dtype, now and then of the other floating dtype (the engine converts it)
          const DType seed_dtype = c.rng.chance(0.85) ? out.dtype() : out.dtype() == kFloat32 ? kFloat64 : kFloat32;
          seeds.push_back(c.values(out.shape(), seed_dtype));
        } catch (const Error& e) {  // every existing tensor's shape can be allocated again
          failure = "a result of shape " + str(out.shape()) + " cannot be allocated: " + e.what();
          break;
        }
        roots.push_back(out);
      }
    }
    // property 3: backward through every result
    if (failure.empty() && !roots.empty()) {
      c.log(" | backward");
      try {
        ++stats.backward_passes;
        backward(roots, seeds);
        for (const Tensor& leaf : c.leaves) {
          const Tensor g = leaf.grad();
          if (!g.defined()) continue;
          if (g.shape() != leaf.shape()) {
            failure = "a leaf of shape " + str(leaf.shape()) + " got a gradient of shape " + str(g.shape());
            break;
          }
          if (g.dtype() != leaf.dtype()) {
            failure = "a " + std::string(unroll::name(leaf.dtype())) + " leaf of shape " + str(leaf.shape()) +
                      " got a " + unroll::name(g.dtype()) + " gradient";
            break;
          }
          visit_dtype(g.dtype(), [&]<class T>() { (void)g.to_vector<T>(); });
        }
      } catch (const Error& e) {
        if (!(c.anomaly && std::string(e.what()).rfind("anomaly:", 0) == 0))
          failure = std::string("backward threw unroll::Error: ") + e.what();
      } catch (const std::exception& e) {
        failure = std::string("backward threw: ") + e.what();
      }
    }
    c.leaves.clear();
    c.modules.clear();
  }
  // property 4: nothing leaked
  if (failure.empty() && (live_node_count() != nodes || live_buffer_count() != buffers))
    failure = "leak: live nodes " + std::to_string(nodes) + " -> " + std::to_string(live_node_count()) +
              ", live buffers " + std::to_string(buffers) + " -> " + std::to_string(live_buffer_count());
  ++stats.cases;
  if (verbose || !failure.empty()) std::printf("case %lld: %s\n", static_cast<long long>(index), c.note.c_str());
  return failure;
}

int usage() {
  std::printf(
      "usage: fuzz_ops [--seed S] [--time SECONDS (30)] [--iterations N] [--case I] [--corpus FILE] [--verbose]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = std::random_device{}() ^
                  (static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) << 1);
  double budget = 30;
  int64_t iterations = -1, only_case = -1;
  bool verbose = false;
#ifdef UNROLL_FUZZ_CORPUS
  std::string corpus = UNROLL_FUZZ_CORPUS;
#else
  std::string corpus = "tests/fuzz/corpus.txt";
#endif
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--seed" && has_value)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--time" && has_value)
      budget = std::atof(argv[++i]);
    else if (arg == "--iterations" && has_value)
      iterations = std::atoll(argv[++i]);
    else if (arg == "--case" && has_value)
      only_case = std::atoll(argv[++i]);
    else if (arg == "--corpus" && has_value)
      corpus = argv[++i];
    else if (arg == "--verbose")
      verbose = true;
    else
      return usage();
  }
  load_corpus(corpus);
  install_crash_reporting();
  const auto runners = make_runners();
  std::printf("fuzz_ops: seed %llu, %zu ops, %zu corpus shapes, budget %g s\n", static_cast<unsigned long long>(seed),
              runners.size(), g_corpus.shapes.size(), budget);
  std::fflush(stdout);

  Stats stats;
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  for (int64_t i = only_case >= 0 ? only_case : 0;; ++i) {
    if (only_case >= 0 && i > only_case) break;
    if (only_case < 0 && ((iterations >= 0 && i >= iterations) || (iterations < 0 && elapsed() >= budget))) break;
    const std::string failure = run_case(runners, seed, i, stats, verbose);
    if (!failure.empty()) {
      std::printf("fuzz_ops: FAILED: %s\nreproduce: fuzz_ops --seed %llu --case %lld --verbose\n", failure.c_str(),
                  static_cast<unsigned long long>(seed), static_cast<long long>(i));
      return 1;
    }
  }
  std::printf("fuzz_ops: %lld cases in %.1f s: %lld ran, %lld refused with unroll::Error, %lld backward passes\n",
              static_cast<long long>(stats.cases), elapsed(), static_cast<long long>(stats.worked),
              static_cast<long long>(stats.refused), static_cast<long long>(stats.backward_passes));
  std::string never;
  for (const auto& [name, counts] : stats.per_op)
    if (counts.first == 0) never += " " + name;
  if (!never.empty() && stats.cases >= 2000)
    std::printf("fuzz_ops: note: never ran without an error:%s\n", never.c_str());
  return 0;
}
