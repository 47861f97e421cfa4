// tests/support/fixtures.hpp: reader for the reference-value files written by tests/gen_fixtures.py (and
// the other tests/gen_*_fixtures.py scripts).
//
// Format (line based; blank lines and lines starting with '#' are ignored):
//
//   case <name>
//   tensor <role> <rank> <dims...> [<dtype>] : <values...>   (row-major values; a rank-0 tensor has no dims)
//   raises <text...>                                         (optional: torch raised this error)
//   ...
//   end
//
// <dtype> is optional: bool, int64, float32 or float64 (PyTorch's names). Without it the tensor is a
// floating one whose precision the reading test chooses (ops_reference.txt runs each case in float32 and
// in float64); files written before dtypes existed have no dtype tokens and stay valid. Values are numbers
// as strtod reads them (nan, inf, -inf included); int64 and bool tensors hold integers (bool: 0 or 1),
// which are also kept exactly in int_values (int64 beyond 2^53 does not round-trip through a double).
//
// Roles used by ops_reference.txt and dtype_reference.txt: in<i> (tensor inputs), num<i> (input i is a
// Python number, a C++ Scalar: a rank-0 line whose dtype says its kind, int64 / float64 / bool), out,
// w (upstream gradient), grad<i> (gradients of the differentiable inputs). Any malformed line throws
// std::runtime_error naming the file and the line.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace unroll_test {

struct FixtureTensor {
  std::vector<int64_t> shape;
  std::string dtype;                // "bool", "int64", "float32", "float64", or "" (floating, not fixed)
  std::vector<double> values;       // row-major
  std::vector<int64_t> int_values;  // the same values, exact, for int64 and bool tensors (else empty)
};

struct Case {
  std::string name;
  std::map<std::string, FixtureTensor> tensors;  // by role, ordered so in0, in1, ... come out sorted
  bool raises = false;                           // torch raised an error (a 'raises' line) ...
  std::string raises_message;                    // ... with this message

  bool has(const std::string& role) const { return tensors.count(role) != 0; }
  const FixtureTensor& at(const std::string& role) const {
    auto it = tensors.find(role);
    if (it == tensors.end()) throw std::runtime_error("fixture case '" + name + "' has no tensor '" + role + "'");
    return it->second;
  }
  // Number of inputs: roles in0, in1, ... (or num0, num1, ... for Python numbers) without gaps.
  int num_inputs() const {
    int n = 0;
    while (has("in" + std::to_string(n)) || has("num" + std::to_string(n))) ++n;
    return n;
  }
};

using Fixtures = std::unordered_map<std::string, Case>;

namespace detail {

[[noreturn]] inline void fixture_error(const std::string& path, int line, const std::string& what) {
  throw std::runtime_error(path + ":" + std::to_string(line) + ": " + what);
}

inline double parse_double(const std::string& tok, const std::string& path, int line) {
  const char* begin = tok.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  if (end == begin || *end != '\0' || errno == ERANGE) fixture_error(path, line, "bad number '" + tok + "'");
  return v;
}

inline int64_t parse_signed(const std::string& tok, const std::string& path, int line) {
  const char* begin = tok.c_str();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(begin, &end, 10);
  if (end == begin || *end != '\0' || errno == ERANGE) fixture_error(path, line, "bad integer '" + tok + "'");
  return static_cast<int64_t>(v);
}

inline bool is_dtype_name(const std::string& tok) {
  return tok == "bool" || tok == "int64" || tok == "float32" || tok == "float64";
}

inline int64_t parse_int(const std::string& tok, const std::string& path, int line) {
  const char* begin = tok.c_str();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(begin, &end, 10);
  if (end == begin || *end != '\0' || errno == ERANGE || v < 0)
    fixture_error(path, line, "bad non-negative integer '" + tok + "'");
  return static_cast<int64_t>(v);
}

}  // namespace detail

// Reads every case of a fixture file.
inline Fixtures load_fixtures(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open fixture file");
  Fixtures cases;
  Case current;
  bool in_case = false;
  int case_line = 0;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream ss(line);
    std::string keyword;
    if (!(ss >> keyword) || keyword[0] == '#') continue;
    if (keyword == "case") {
      if (in_case) detail::fixture_error(path, line_no, "'case' inside case '" + current.name + "' (missing 'end')");
      std::string name, extra;
      if (!(ss >> name) || (ss >> extra)) detail::fixture_error(path, line_no, "expected 'case <name>'");
      if (cases.count(name)) detail::fixture_error(path, line_no, "duplicate case '" + name + "'");
      current = Case{};
      current.name = name;
      in_case = true;
      case_line = line_no;
    } else if (keyword == "tensor") {
      if (!in_case) detail::fixture_error(path, line_no, "'tensor' outside a case");
      std::string role, tok;
      if (!(ss >> role >> tok))
        detail::fixture_error(path, line_no, "expected 'tensor <role> <rank> <dims...> [<dtype>] : <values...>'");
      if (current.tensors.count(role))
        detail::fixture_error(path, line_no, "duplicate tensor '" + role + "' in case '" + current.name + "'");
      const int64_t rank = detail::parse_int(tok, path, line_no);
      if (rank > 8) detail::fixture_error(path, line_no, "rank " + tok + " is too large");
      FixtureTensor t;
      int64_t count = 1;
      for (int64_t i = 0; i < rank; ++i) {
        if (!(ss >> tok)) detail::fixture_error(path, line_no, "expected " + std::to_string(rank) + " dims");
        t.shape.push_back(detail::parse_int(tok, path, line_no));
        count *= t.shape.back();
      }
      if (!(ss >> tok)) detail::fixture_error(path, line_no, "expected ':' after the dims");
      if (detail::is_dtype_name(tok)) {
        t.dtype = tok;
        if (!(ss >> tok)) detail::fixture_error(path, line_no, "expected ':' after the dtype");
      }
      if (tok != ":") detail::fixture_error(path, line_no, "expected ':' or a dtype after the dims, got '" + tok + "'");
      const bool integral = t.dtype == "int64" || t.dtype == "bool";
      t.values.reserve(static_cast<size_t>(count));
      while (ss >> tok) {
        if (integral) {
          const int64_t v = detail::parse_signed(tok, path, line_no);
          if (t.dtype == "bool" && v != 0 && v != 1)
            detail::fixture_error(path, line_no, "bad bool value '" + tok + "'");
          t.int_values.push_back(v);
          t.values.push_back(static_cast<double>(v));
        } else {
          t.values.push_back(detail::parse_double(tok, path, line_no));
        }
      }
      if (static_cast<int64_t>(t.values.size()) != count)
        detail::fixture_error(path, line_no,
                              "tensor '" + role + "' has " + std::to_string(t.values.size()) +
                                  " values, its shape needs " + std::to_string(count));
      current.tensors.emplace(role, std::move(t));
    } else if (keyword == "raises") {
      if (!in_case) detail::fixture_error(path, line_no, "'raises' outside a case");
      std::string text;
      std::getline(ss, text);
      current.raises = true;
      current.raises_message = text.empty() ? text : text.substr(1);
    } else if (keyword == "end") {
      if (!in_case) detail::fixture_error(path, line_no, "'end' outside a case");
      std::string extra;
      if (ss >> extra) detail::fixture_error(path, line_no, "unexpected text after 'end'");
      cases.emplace(current.name, std::move(current));
      in_case = false;
    } else {
      detail::fixture_error(path, line_no, "unknown keyword '" + keyword + "'");
    }
  }
  if (in_case) detail::fixture_error(path, case_line, "case '" + current.name + "' has no 'end'");
  return cases;
}

// The fixture reader keeps a case's tensors in a map; the parameters' order (PyTorch's state_dict order) is
// the order of the file's 'tensor param.<name>' lines, read here: case name -> parameter names in file order.
inline std::map<std::string, std::vector<std::string>> load_param_order(const std::string& path) {
  std::map<std::string, std::vector<std::string>> out;
  std::ifstream in(path);
  std::string line, current;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string keyword, word;
    if (!(ss >> keyword)) continue;
    if (keyword == "case" && (ss >> word)) {
      current = word;
      out[current];
    } else if (keyword == "tensor" && (ss >> word) && word.rfind("param.", 0) == 0) {
      out[current].push_back(word.substr(6));
    }
  }
  return out;
}

}  // namespace unroll_test
