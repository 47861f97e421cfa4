// examples/common/text_file.hpp: reading the examples' input text files (not part of the library).
//
//   const std::string text = examples::read_text_file(path);       // whole file: non-empty, valid UTF-8
//   const auto lines = examples::read_lines(path);                  // the same, split into lines
//   examples::check_text(text, name);                               // for text that came from elsewhere (gzip)
//
// A malformed file is refused with examples::DataError whose message names the file and the line:
//   "data/train/seq.in:12: invalid UTF-8 at byte 7"     (byte counted from 1 within the line)
//   "data/train/seq.in: empty file"
// slot_filling, word_lm and char_lm use these, so every example reads its --data files the same way and
// tests/examples (examples/CMakeLists.txt) check that each rejection reaches the user.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

// A malformed input file: the message names the file (and the line, when there is one).
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The length in bytes of the valid UTF-8 sequence at s[i], or 0 if it is not valid (overlong forms,
// surrogates and code points above U+10FFFF are invalid, as in the Unicode standard's table 3-7).
inline size_t utf8_length(const std::string& s, size_t i) {
  const auto byte = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  const unsigned c = byte(i);
  const auto cont = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned c1 = byte(i + 1);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return 0;  // overlong / surrogate
    return cont(i + 1) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned c1 = byte(i + 1);
    if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;  // overlong / above U+10FFFF
    return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// Throws DataError "<name>: empty file" for an empty text and "<name>:<line>: invalid UTF-8 at byte <b>"
// for the first byte that does not start a valid UTF-8 sequence (line and byte counted from 1).
inline void check_text(const std::string& text, const std::string& name) {
  if (text.empty()) throw DataError(name + ": empty file");
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    const size_t n = utf8_length(text, i);
    if (n == 0)
      throw DataError(name + ":" + std::to_string(line) + ": invalid UTF-8 at byte " +
                      std::to_string(i - line_start + 1));
    i += n;
  }
}

// The whole file, checked with check_text. Throws DataError when it is not a regular file (a FIFO or a
// device is refused before it is opened: opening a FIFO would wait for a writer, /dev/zero never ends), or
// cannot be opened or read.
inline std::string read_text_file(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw DataError(path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw DataError(path + ": read error");
  std::string text = s.str();
  check_text(text, path);
  return text;
}

// The lines of a text file checked with check_text, without their "\n" (or "\r\n").
inline std::vector<std::string> read_lines(const std::string& path) {
  std::istringstream text(read_text_file(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

}  // namespace examples
