#include "unroll/data/vocabulary.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "unroll/framework/detail/check.hpp"
#include "unroll/optim/detail/npz.hpp"  // write_file_atomic, shared with the checkpoints

namespace unroll::data {

namespace {

constexpr const char* kHeader = "unroll-vocabulary 1";

// Counts tokens, remembering the order in which they were first seen.
struct Counts {
  std::unordered_map<std::string, int64_t> position;  // token -> index in `tokens`
  std::vector<std::string> tokens;                    // first-seen order
  std::vector<int64_t> counts;

  void add(const std::string& token) {
    const auto [it, added] = position.emplace(token, static_cast<int64_t>(tokens.size()));
    if (added) {
      tokens.push_back(token);
      counts.push_back(0);
    }
    ++counts[it->second];
  }
};

// Backslash, the bytes below 0x20 and 0x7f escaped; every other byte as it is.
std::string escape(const std::string& token) {
  std::string out;
  for (const char ch : token) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    } else {
      out += ch;
    }
  }
  return out;
}

[[noreturn]] void malformed(const std::string& path, size_t line, const std::string& what) {
  throw IoError(fmt::format("Vocabulary::load: {}:{}: {}", path, line, what));
}

int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

// The inverse of escape(); a raw control byte or an unknown escape is an error.
std::string unescape(const std::string& text, const std::string& path, size_t line) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f)
      malformed(path, line, fmt::format("unescaped control byte 0x{:02x} in the token", byte));
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) malformed(path, line, "the token ends with a lone backslash");
    switch (text[i]) {
      case '\\':
        out += '\\';
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'x': {
        const int hi = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) malformed(path, line, "\\x in the token is not followed by two hex digits");
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        malformed(path, line, fmt::format("unknown escape '\\{}' in the token", text[i]));
    }
  }
  return out;
}

// A whole non-negative decimal number (no sign, no spaces) below 2^62, or nullopt.
std::optional<int64_t> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (const char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    value = value * 10 + (ch - '0');
  }
  return value;
}

}  // namespace

int64_t Vocabulary::add(const std::string& token, int64_t count) {
  const int64_t id = size();
  index_.emplace(token, id);
  tokens_.push_back(token);
  counts_.push_back(count);
  return id;
}

Vocabulary Vocabulary::build(const std::vector<std::string>& tokens, const VocabularyOptions& options) {
  return build(std::vector<std::vector<std::string>>{tokens}, options);
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& sequences, const VocabularyOptions& options) {
  detail::check(options.min_freq >= 1, "Vocabulary::build: min_freq must be >= 1, got {}", options.min_freq);
  detail::check(options.max_size >= 0, "Vocabulary::build: max_size must be >= 0 (0: no limit), got {}",
                options.max_size);
  Counts counts;
  for (const auto& sequence : sequences)
    for (const auto& token : sequence) counts.add(token);
  const auto count_of = [&](const std::string& token) -> int64_t {
    const auto it = counts.position.find(token);
    return it == counts.position.end() ? 0 : counts.counts[it->second];
  };

  Vocabulary v;
  std::vector<std::string> specials;
  for (const std::string* s : {&options.pad_token, &options.unk_token, &options.eos_token})
    if (!s->empty()) specials.push_back(*s);
  specials.insert(specials.end(), options.extra_specials.begin(), options.extra_specials.end());
  for (const auto& s : specials) {
    if (v.contains(s)) detail::fail("Vocabulary::build: the special token '{}' is named twice", s);
    v.add(s, count_of(s));
  }
  if (options.max_size > 0 && options.max_size < v.size())
    detail::fail("Vocabulary::build: max_size {} is smaller than the {} special tokens", options.max_size, v.size());
  if (!options.pad_token.empty()) v.pad_ = v.index_.at(options.pad_token);
  if (!options.unk_token.empty()) v.unk_ = v.index_.at(options.unk_token);
  if (!options.eos_token.empty()) v.eos_ = v.index_.at(options.eos_token);

  std::vector<int64_t> order;  // positions in `counts` of the tokens that qualify, in first-seen order
  for (size_t i = 0; i < counts.tokens.size(); ++i)
    if (counts.counts[i] >= options.min_freq && !v.contains(counts.tokens[i])) order.push_back(static_cast<int64_t>(i));
  if (options.order == TokenOrder::ByFrequency) {
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return counts.counts[a] != counts.counts[b] ? counts.counts[a] > counts.counts[b]
                                                  : counts.tokens[a] < counts.tokens[b];
    });
  } else if (options.order == TokenOrder::Sorted) {
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return counts.tokens[a] < counts.tokens[b]; });
  }
  for (const int64_t i : order) {
    if (options.max_size > 0 && v.size() >= options.max_size) break;
    v.add(counts.tokens[i], counts.counts[i]);
  }
  return v;
}

std::optional<int64_t> Vocabulary::find(const std::string& token) const {
  const auto it = index_.find(token);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

int64_t Vocabulary::index(const std::string& token) const {
  const auto it = index_.find(token);
  if (it != index_.end()) return it->second;
  if (unk_ < 0) detail::fail("Vocabulary: '{}' is not in the vocabulary and it has no unknown token", token);
  return unk_;
}

const std::string& Vocabulary::token(int64_t id) const {
  detail::check(id >= 0 && id < size(), "Vocabulary: id {} is outside [0, {})", id, size());
  return tokens_[static_cast<size_t>(id)];
}

int64_t Vocabulary::count(int64_t id) const {
  detail::check(id >= 0 && id < size(), "Vocabulary::count: id {} is outside [0, {})", id, size());
  return counts_[static_cast<size_t>(id)];
}

int64_t Vocabulary::pad_index() const {
  detail::check(pad_ >= 0, "Vocabulary::pad_index: the vocabulary has no padding token");
  return pad_;
}
int64_t Vocabulary::unk_index() const {
  detail::check(unk_ >= 0, "Vocabulary::unk_index: the vocabulary has no unknown token");
  return unk_;
}
int64_t Vocabulary::eos_index() const {
  detail::check(eos_ >= 0, "Vocabulary::eos_index: the vocabulary has no end-of-sequence token");
  return eos_;
}

std::vector<int64_t> Vocabulary::lookup_indices(const std::vector<std::string>& tokens, int64_t* num_unknown) const {
  std::vector<int64_t> ids;
  ids.reserve(tokens.size());
  int64_t unknown = 0;
  for (const auto& token : tokens) {
    const auto it = index_.find(token);
    if (it != index_.end()) {
      ids.push_back(it->second);
    } else {
      ids.push_back(index(token));  // <unk>, or the error naming the token
      ++unknown;
    }
  }
  if (num_unknown) *num_unknown += unknown;
  return ids;
}

std::vector<std::string> Vocabulary::lookup_tokens(const std::vector<int64_t>& ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const int64_t id : ids) out.push_back(token(id));
  return out;
}

Tensor Vocabulary::encode(const std::vector<std::string>& tokens, int64_t* num_unknown) const {
  const std::vector<int64_t> ids = lookup_indices(tokens, num_unknown);
  return tensor(ids, {static_cast<int64_t>(ids.size())});
}

std::vector<std::string> Vocabulary::decode(const Tensor& ids) const {
  detail::check_defined("Vocabulary::decode", ids);
  detail::check(ids.dtype() == kInt64 && ids.dim() == 1, "Vocabulary::decode: expected a 1-D int64 tensor, got {} {}",
                name(ids.dtype()), ids.shape());
  return lookup_tokens(ids.to_vector<int64_t>());
}

bool Vocabulary::operator==(const Vocabulary& other) const {
  return tokens_ == other.tokens_ && counts_ == other.counts_ && pad_ == other.pad_ && unk_ == other.unk_ &&
         eos_ == other.eos_;
}

void Vocabulary::save(const std::string& path) const {
  const auto role = [](int64_t id) { return id < 0 ? std::string("-") : std::to_string(id); };
  std::string text =
      fmt::format("{}\nsize {}\npad {}\nunk {}\neos {}\n", kHeader, size(), role(pad_), role(unk_), role(eos_));
  for (size_t i = 0; i < tokens_.size(); ++i) text += fmt::format("{}\t{}\n", escape(tokens_[i]), counts_[i]);
  try {
    detail::write_file_atomic(path, text);
  } catch (const IoError& e) {
    throw IoError(fmt::format("Vocabulary::save: {}", e.what()));
  }
}

Vocabulary Vocabulary::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) throw IoError(fmt::format("Vocabulary::load: {}: no such file", path));
  if (!fs::is_regular_file(status)) throw IoError(fmt::format("Vocabulary::load: {}: not a regular file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("Vocabulary::load: {}: cannot open", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("Vocabulary::load: {}: read error", path));
  const std::string text = buffer.str();

  // The lines, each of which must end with '\n' (a file cut short loses its last newline).
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) malformed(path, lines.size() + 1, "the last line has no newline (truncated file?)");
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (lines.empty()) malformed(path, 1, "empty file");
  if (lines[0] != kHeader) malformed(path, 1, fmt::format("expected the header '{}'", kHeader));

  // "<key> <value>" on line `line` (counted from 1); value: a number, or "-" when `allow_none` (-> -1).
  const auto field = [&](size_t line, const char* key, bool allow_none) -> int64_t {
    if (line > lines.size()) malformed(path, line, fmt::format("missing the '{}' line", key));
    const std::string& s = lines[line - 1];
    const std::string prefix = std::string(key) + " ";
    if (s.compare(0, prefix.size(), prefix) != 0) malformed(path, line, fmt::format("expected '{} ...'", key));
    const std::string value = s.substr(prefix.size());
    if (allow_none && value == "-") return -1;
    const auto number = parse_count(value);
    if (!number) malformed(path, line, fmt::format("'{}' is not a whole non-negative number", value));
    return *number;
  };
  const int64_t size = field(2, "size", false);
  const int64_t roles[3] = {field(3, "pad", true), field(4, "unk", true), field(5, "eos", true)};
  const size_t first = 6;  // line of id 0
  const int64_t found = static_cast<int64_t>(lines.size()) - static_cast<int64_t>(first - 1);
  if (found < size)
    malformed(path, lines.size() + 1, fmt::format("missing token lines: 'size' says {}, the file has {}", size, found));
  if (found > size)
    malformed(path, first + static_cast<size_t>(size),
              fmt::format("a line after the {} tokens 'size' announces", size));
  const char* role_names[3] = {"pad", "unk", "eos"};
  for (int r = 0; r < 3; ++r) {
    if (roles[r] >= size) malformed(path, 3 + r, fmt::format("id {} is outside [0, {})", roles[r], size));
    for (int q = 0; q < r; ++q)
      if (roles[r] >= 0 && roles[r] == roles[q])
        malformed(path, 3 + r, fmt::format("{} and {} are both id {}", role_names[q], role_names[r], roles[r]));
  }

  Vocabulary v;
  for (size_t line = first; line <= lines.size(); ++line) {
    const std::string& s = lines[line - 1];
    const size_t tab = s.rfind('\t');
    if (tab == std::string::npos) malformed(path, line, "expected '<token>\\t<count>'");
    const auto count = parse_count(s.substr(tab + 1));
    if (!count)
      malformed(path, line, fmt::format("the count '{}' is not a whole non-negative number", s.substr(tab + 1)));
    const std::string token = unescape(s.substr(0, tab), path, line);
    if (v.contains(token))
      malformed(path, line, fmt::format("the token '{}' is already id {}", escape(token), v.index_.at(token)));
    v.add(token, *count);
  }
  v.pad_ = roles[0];
  v.unk_ = roles[1];
  v.eos_ = roles[2];
  return v;
}

}  // namespace unroll::data
