// tests/support/fixtures.hpp: reader for the reference-value files written by tests/gen_fixtures.py.
//
// Format (line based; blank lines and lines starting with '#' are ignored):
//
//   case <name>
//   tensor <role> <rank> <dims...> : <values...>     (row-major values; a rank-0 tensor has no dims)
//   ...
//   end
//
// Roles used by ops_reference.txt: in<i> (inputs), out, w (upstream gradient), grad<i> (gradients of the
// differentiable inputs). Any malformed line throws std::runtime_error naming the file and the line.
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
  std::vector<double> values;  // row-major
};

struct Case {
  std::string name;
  std::map<std::string, FixtureTensor> tensors;  // by role, ordered so in0, in1, ... come out sorted

  bool has(const std::string& role) const { return tensors.count(role) != 0; }
  const FixtureTensor& at(const std::string& role) const {
    auto it = tensors.find(role);
    if (it == tensors.end()) throw std::runtime_error("fixture case '" + name + "' has no tensor '" + role + "'");
    return it->second;
  }
  // Number of inputs: roles in0, in1, ... without gaps.
  int num_inputs() const {
    int n = 0;
    while (has("in" + std::to_string(n))) ++n;
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
      if (!(ss >> role >> tok)) detail::fixture_error(path, line_no, "expected 'tensor <role> <rank> <dims...> : <values...>'");
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
      if (!(ss >> tok) || tok != ":") detail::fixture_error(path, line_no, "expected ':' after the dims");
      t.values.reserve(static_cast<size_t>(count));
      while (ss >> tok) t.values.push_back(detail::parse_double(tok, path, line_no));
      if (static_cast<int64_t>(t.values.size()) != count)
        detail::fixture_error(path, line_no,
                              "tensor '" + role + "' has " + std::to_string(t.values.size()) + " values, its shape needs " +
                                  std::to_string(count));
      current.tensors.emplace(role, std::move(t));
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

}  // namespace unroll_test
