// docs/ops.md names every public declaration of the installed headers.
//
// The public headers are the *.hpp files of framework/, layers/, optim/, data/ and distributed/ (not their
// detail/ folders, which are not installed). A small declaration scanner reads them (comments, string
// literals and preprocessor lines blanked out; parentheses, brackets and braces tracked) and collects, in
// every namespace under `unroll` except `detail` and anonymous ones:
//   - functions and function templates declared or defined at namespace scope;
//   - classes, structs and enums defined there (forward declarations do not count), type aliases
//     (`using X = ...`) and constexpr constants;
//   - the public and protected member functions of those classes (protected ones are the API of subclasses:
//     Module::register_parameter, Optimizer::buffer...). Constructors, destructors and nested types are
//     left out: a class's entry documents how it is constructed.
// Operator overloads (operator+, operator==, operator<<, operator bool...) and friend declarations are not
// collected: ops.md documents operators as groups next to the named ops they call.
//
// A name counts as documented when it appears as a whole word inside a `code span` or a fenced code block
// of docs/ops.md. The test prints every missing name with the declarations that introduced it.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#ifndef UNROLL_SOURCE_DIR
#error "UNROLL_SOURCE_DIR must name the source tree (tests/CMakeLists.txt defines it)"
#endif

namespace fs = std::filesystem;

namespace {

// Names that the scan finds but that are not API, each with the reason. Empty today: even the engine's
// internals in public headers (TensorImpl, Storage, Node, record) are documented, for people writing ops.
// Keep it short; prefer documenting a name to listing it here.
const std::set<std::string> kNotApi = {};

struct Declaration {
  std::string name;       // unqualified: "add", "fill_", "Linear"
  std::string qualified;  // "add", "Tensor::fill_", "layers::Linear"
  std::string kind;       // "function", "member function", "class", "enum", "type alias", "constant"
  std::string where;      // "framework/ops.hpp:23"
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Blanks out comments, string and character literals and preprocessor lines (keeping newlines, so line
// numbers stay right).
std::string strip_source(const std::string& s) {
  std::string out = s;
  size_t i = 0;
  bool line_start = true;
  auto blank = [&](size_t from, size_t to) {
    for (size_t k = from; k < to && k < out.size(); ++k)
      if (out[k] != '\n') out[k] = ' ';
  };
  while (i < s.size()) {
    const char c = s[i];
    if (line_start && (c == ' ' || c == '\t')) {
      ++i;
      continue;
    }
    if (line_start && c == '#') {  // a preprocessor line, with its backslash continuations
      size_t end = i;
      while (end < s.size() && (s[end] != '\n' || (end > 0 && s[end - 1] == '\\'))) ++end;
      blank(i, end);
      i = end;
      continue;
    }
    line_start = false;
    if (c == '\n') {
      line_start = true;
      ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
      size_t end = s.find('\n', i);
      if (end == std::string::npos) end = s.size();
      blank(i, end);
      i = end;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      size_t end = s.find("*/", i + 2);
      end = end == std::string::npos ? s.size() : end + 2;
      blank(i, end);
      i = end;
    } else if (c == '"' || c == '\'') {
      size_t end = i + 1;
      while (end < s.size() && s[end] != c) end += s[end] == '\\' ? 2 : 1;
      blank(i + 1, end);  // keep the quotes: a literal stays one token-separating unit
      i = end + 1;
    } else {
      ++i;
    }
  }
  return out;
}

struct Token {
  std::string text;
  int line = 0;
};

bool is_identifier_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_identifier(const std::string& t) { return !t.empty() && is_identifier_start(t[0]); }

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> tokens;
  int line = 1;
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (is_identifier_start(c) || std::isdigit(static_cast<unsigned char>(c))) {
      const bool number = !is_identifier_start(c);  // 1e-5, 0.5f: one token
      size_t end = i;
      while (end < s.size() && (is_identifier_char(s[end]) || (number && s[end] == '.'))) ++end;
      tokens.push_back({s.substr(i, end - i), line});
      i = end;
    } else if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
      tokens.push_back({"::", line});
      i += 2;
    } else {
      tokens.push_back({std::string(1, c), line});
      ++i;
    }
  }
  return tokens;
}

// Reads the declarations of one header. `file` is the path shown in messages.
class Scanner {
 public:
  Scanner(std::vector<Token> tokens, std::string file, std::vector<Declaration>& out)
      : t_(std::move(tokens)), file_(std::move(file)), out_(out) {}

  void run() {
    Scope top;
    parse_scope(top);
  }

 private:
  struct Scope {
    bool is_class = false;
    bool public_namespace = false;  // a namespace under unroll, not detail, not anonymous
    bool record_members = false;    // a class whose public/protected member functions are collected
    std::vector<std::string> path;  // namespace (and class) names from the top
    std::string class_name;
    std::string access;  // "public", "protected" or "private" inside classes
  };

  std::string qualify(const Scope& scope, const std::string& name) const {
    std::string q;
    for (size_t k = 1; k < scope.path.size(); ++k) q += scope.path[k] + "::";  // path[0] is "unroll"
    return q + name;
  }

  void add(const Scope& scope, const std::string& name, const std::string& kind, int line) {
    out_.push_back({name, qualify(scope, name), kind, file_ + ":" + std::to_string(line)});
  }

  bool at_end() const { return i_ >= t_.size(); }

  // Skips a balanced group starting at the opening token t_[i_] ("{", "(" or "[").
  void skip_group() {
    int depth = 0;
    do {
      const std::string& x = t_[i_].text;
      if (x == "{" || x == "(" || x == "[") ++depth;
      if (x == "}" || x == ")" || x == "]") --depth;
      ++i_;
    } while (!at_end() && depth > 0);
  }

  // Parses declarations until the scope's closing brace (consumed) or the end of the file.
  void parse_scope(Scope& scope) {
    while (!at_end()) {
      if (t_[i_].text == "}") {
        ++i_;
        return;
      }
      if (t_[i_].text == ";") {
        ++i_;
        continue;
      }
      if (scope.is_class && i_ + 1 < t_.size() && t_[i_ + 1].text == ":" &&
          (t_[i_].text == "public" || t_[i_].text == "protected" || t_[i_].text == "private")) {
        scope.access = t_[i_].text;
        i_ += 2;
        continue;
      }
      parse_statement(scope);
    }
  }

  // Collects the tokens of one declaration up to a ';' or '{' outside any parentheses.
  std::vector<Token> collect(std::string& ended_by) {
    std::vector<Token> stmt;
    int depth = 0;
    while (!at_end()) {
      const std::string& x = t_[i_].text;
      if (depth == 0 && (x == ";" || x == "{" || x == "}")) {
        ended_by = x;
        if (x != "}") ++i_;  // a '}' closes the enclosing scope: leave it to parse_scope
        return stmt;
      }
      if (x == "(" || x == "[" || (x == "{" && depth > 0)) ++depth;
      if (x == ")" || x == "]" || (x == "}" && depth > 0)) --depth;
      stmt.push_back(t_[i_]);
      ++i_;
    }
    ended_by = "";
    return stmt;
  }

  // Removes `template <...>` prefixes and [[attributes]] from the front of a declaration.
  static std::vector<Token> strip_prefixes(std::vector<Token> stmt) {
    bool changed = true;
    while (changed && !stmt.empty()) {
      changed = false;
      if (stmt[0].text == "template" && stmt.size() > 1 && stmt[1].text == "<") {
        size_t k = 1;
        int depth = 0;
        for (; k < stmt.size(); ++k) {
          if (stmt[k].text == "<") ++depth;
          if (stmt[k].text == ">" && --depth == 0) break;
        }
        stmt.erase(stmt.begin(), stmt.begin() + static_cast<std::ptrdiff_t>(std::min(k + 1, stmt.size())));
        changed = true;
      } else if (stmt[0].text == "[" && stmt.size() > 1 && stmt[1].text == "[") {
        size_t k = 2;
        while (k + 1 < stmt.size() && !(stmt[k].text == "]" && stmt[k + 1].text == "]")) ++k;
        stmt.erase(stmt.begin(), stmt.begin() + static_cast<std::ptrdiff_t>(std::min(k + 2, stmt.size())));
        changed = true;
      }
    }
    return stmt;
  }

  static bool contains(const std::vector<Token>& stmt, const std::string& text) {
    return std::any_of(stmt.begin(), stmt.end(), [&](const Token& x) { return x.text == text; });
  }

  // Whether this scope's declarations are collected at all.
  static bool records(const Scope& scope) { return scope.is_class ? scope.record_members : scope.public_namespace; }

  void parse_statement(Scope& scope) {
    std::string ended_by;
    std::vector<Token> stmt = strip_prefixes(collect(ended_by));
    if (stmt.empty()) {
      if (ended_by == "{") {  // a bare block
        --i_;
        skip_group();
      }
      return;
    }
    const std::string& first = stmt[0].text;

    if (first == "namespace") {
      if (ended_by != "{") return;  // a namespace alias
      Scope inner;
      inner.path = scope.path;
      bool anonymous = true;
      for (size_t k = 1; k < stmt.size(); ++k)
        if (is_identifier(stmt[k].text) && stmt[k].text != "inline") {
          inner.path.push_back(stmt[k].text);
          anonymous = false;
        }
      inner.public_namespace = !anonymous && !inner.path.empty() && inner.path[0] == "unroll" &&
                               std::find(inner.path.begin(), inner.path.end(), "detail") == inner.path.end();
      parse_scope(inner);
      return;
    }

    if (first == "using") {
      // `using Name = type;` is a type alias; `using namespace x;` and `using Base::Base;` are not API.
      if (!scope.is_class && records(scope) && stmt.size() > 2 && stmt[2].text == "=" && is_identifier(stmt[1].text))
        add(scope, stmt[1].text, "type alias", stmt[1].line);
      finish(ended_by);
      return;
    }

    if (first == "friend" || first == "static_assert" || first == "typedef") {
      finish(ended_by);
      return;
    }

    const bool is_enum = first == "enum";
    if (first == "class" || first == "struct" || first == "union" || is_enum) {
      if (!contains(stmt, "(")) {
        size_t k = 1;
        if (is_enum && k < stmt.size() && (stmt[k].text == "class" || stmt[k].text == "struct")) ++k;
        const Token name = k < stmt.size() ? stmt[k] : Token{};
        if (ended_by != "{") return;  // a forward declaration (or `struct X& x;`): not a definition
        const bool record = !scope.is_class && scope.public_namespace && is_identifier(name.text);
        if (record) add(scope, name.text, is_enum ? "enum" : "class", name.line);
        if (is_enum) {
          --i_;
          skip_group();
        } else {
          Scope inner;
          inner.is_class = true;
          inner.record_members = record;
          inner.path = scope.path;
          inner.path.push_back(name.text);
          inner.class_name = name.text;
          inner.access = first == "class" ? "private" : "public";
          parse_scope(inner);
        }
        finish_after_body();
        return;
      }
    }

    // Operator overloads (operator[], operator(), operator bool...): not collected; skip a body.
    if (contains(stmt, "operator")) {
      finish(ended_by);
      return;
    }

    // A function when the first '(' outside a decltype/noexcept/... comes before any '=' and follows a name.
    static const std::set<std::string> kNotNames = {"decltype", "alignas", "noexcept", "sizeof",     "requires",
                                                    "alignof",  "typeid",  "explicit", "static_cast"};
    size_t name_at = std::string::npos;
    bool assignment_first = false;
    for (size_t k = 0; k < stmt.size(); ++k) {
      if (stmt[k].text == "=") {
        assignment_first = true;
        break;
      }
      if (stmt[k].text == "(") {
        if (k > 0 && is_identifier(stmt[k - 1].text) && !kNotNames.count(stmt[k - 1].text)) {
          name_at = k - 1;
          break;
        }
        int depth = 0;  // skip decltype(...) and the like
        for (; k < stmt.size(); ++k) {
          if (stmt[k].text == "(") ++depth;
          if (stmt[k].text == ")" && --depth == 0) break;
        }
      }
    }

    if (name_at != std::string::npos && !assignment_first) {
      const Token& name = stmt[name_at];
      const std::string before = name_at > 0 ? stmt[name_at - 1].text : "";
      const bool qualified = before == "::";  // Tensor::shape() defined out of its class
      const bool destructor = before == "~";
      const bool constructor = scope.is_class && name.text == scope.class_name;
      if (records(scope) && !qualified && !destructor && !constructor) {
        if (!scope.is_class)
          add(scope, name.text, "function", name.line);
        else if (scope.access != "private")
          add(scope, name.text, "member function", name.line);
      }
      if (ended_by == "{") {  // the body
        --i_;
        skip_group();
      }
      return;
    }

    // A variable: skip a brace initializer and read on to the ';'.
    if (ended_by == "{") {
      --i_;
      skip_group();
      std::string rest_end;
      std::vector<Token> rest = collect(rest_end);
      stmt.insert(stmt.end(), rest.begin(), rest.end());
      ended_by = rest_end;
    }
    if (!scope.is_class && records(scope) && contains(stmt, "constexpr")) {
      for (size_t k = 1; k < stmt.size(); ++k)
        if ((stmt[k].text == "=" || stmt[k].text == "{") && is_identifier(stmt[k - 1].text)) {
          add(scope, stmt[k - 1].text, "constant", stmt[k - 1].line);
          break;
        }
    }
  }

  // After a using/friend/... declaration that ended with a '{' (a friend function's body), skip the body.
  void finish(const std::string& ended_by) {
    if (ended_by == "{") {
      --i_;
      skip_group();
    }
  }

  // After a class or enum body: the rest of the declaration up to ';' (`} name;` is not used here).
  void finish_after_body() {
    while (!at_end() && t_[i_].text != ";" && t_[i_].text != "}") ++i_;
    if (!at_end() && t_[i_].text == ";") ++i_;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  std::string file_;
  std::vector<Declaration>& out_;
};

std::vector<Declaration> scan_header(const std::string& text, const std::string& file) {
  std::vector<Declaration> out;
  Scanner(tokenize(strip_source(text)), file, out).run();
  return out;
}

// Every public header of the source tree, in a stable order.
std::vector<Declaration> scan_public_headers(const fs::path& root) {
  std::vector<fs::path> headers;
  for (const char* dir : {"framework", "layers", "optim", "data", "distributed"}) {
    const fs::path folder = root / dir;
    if (!fs::is_directory(folder)) continue;                  // data/ is optional
    for (const auto& entry : fs::directory_iterator(folder))  // not recursive: detail/ is not public
      if (entry.is_regular_file() && entry.path().extension() == ".hpp") headers.push_back(entry.path());
  }
  std::sort(headers.begin(), headers.end());
  std::vector<Declaration> all;
  for (const fs::path& h : headers) {
    const std::vector<Declaration> found = scan_header(read_file(h), fs::relative(h, root).generic_string());
    all.insert(all.end(), found.begin(), found.end());
  }
  return all;
}

// The identifiers inside `code spans` and fenced code blocks of a Markdown text.
std::set<std::string> code_identifiers(const std::string& markdown) {
  std::set<std::string> names;
  auto add_words = [&](const std::string& code) {
    for (size_t i = 0; i < code.size();) {
      if (is_identifier_start(code[i]) && (i == 0 || !is_identifier_char(code[i - 1]))) {
        size_t end = i;
        while (end < code.size() && is_identifier_char(code[end])) ++end;
        names.insert(code.substr(i, end - i));
        i = end;
      } else {
        ++i;
      }
    }
  };
  for (size_t i = 0; i < markdown.size();) {
    if (markdown.compare(i, 3, "```") == 0) {
      const size_t end = markdown.find("```", i + 3);
      add_words(markdown.substr(i + 3, end == std::string::npos ? std::string::npos : end - i - 3));
      i = end == std::string::npos ? markdown.size() : end + 3;
    } else if (markdown[i] == '`') {
      const size_t end = markdown.find('`', i + 1);
      if (end == std::string::npos) break;
      add_words(markdown.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      ++i;
    }
  }
  return names;
}

bool found(const std::vector<Declaration>& ds, const std::string& qualified, const std::string& kind) {
  return std::any_of(ds.begin(), ds.end(),
                     [&](const Declaration& d) { return d.qualified == qualified && d.kind == kind; });
}
bool found_name(const std::vector<Declaration>& ds, const std::string& qualified) {
  return std::any_of(ds.begin(), ds.end(), [&](const Declaration& d) { return d.qualified == qualified; });
}

}  // namespace

TEST_CASE("the scanner collects public declarations and nothing else") {
  const std::string header = R"(// a comment naming not_a_function(x);
#pragma once
#define MACRO(x) x
namespace unroll {
namespace detail {
Tensor hidden(const Tensor& x);
}
struct Forward;
class Widget {
 public:
  Widget(int n) : n_(n) {}
  ~Widget();
  int size() const { return n_; }
  int& operator[](int i) const { return n_; }
  Widget& at(int i) const {
    if (i > 0) throw 1;
    return *this;
  }
  template <class T = float>
  T* data();
  Widget& operator=(const Widget&) = delete;
  explicit operator bool() const { return true; }
  friend bool operator==(const Widget& a, const Widget& b) { return a.n_ == b.n_; }
  struct Nested { int nested_method(); };
 protected:
  virtual void hook() = 0;
 private:
  void secret();
  int n_ = 0;
  std::array<int, 2> dims_{};
};
inline int Widget::size2() const { return 1; }
enum class Mode : uint8_t { A = 0, B };
inline constexpr double kLimit = std::numeric_limits<double>::infinity();
constexpr int64_t kBytes = int64_t{1} << 40;
using Alias = std::function<void(int)>;
Tensor operator+(const Tensor& a, const Tensor& b);
template <class F>
decltype(auto) visit(Mode m, F&& f) { return f(); }
template <class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor make(S end, const std::vector<int>& axes = {}) { return {}; }
const char* label = "not_a_function(y);";
namespace {
int anonymous_helper();
}
}  // namespace unroll
namespace unroll::layers::init {
Tensor fill_(Tensor t, double v = 0);
}
namespace other {
int not_unroll();
}
)";
  const std::vector<Declaration> ds = scan_header(header, "x.hpp");
  std::set<std::string> got;
  for (const Declaration& d : ds) got.insert(d.qualified + " (" + d.kind + ")");
  const std::set<std::string> expected = {"Widget (class)",
                                          "Widget::size (member function)",
                                          "Widget::data (member function)",
                                          "Widget::at (member function)",
                                          "Widget::hook (member function)",
                                          "Mode (enum)",
                                          "kLimit (constant)",
                                          "kBytes (constant)",
                                          "Alias (type alias)",
                                          "visit (function)",
                                          "make (function)",
                                          "layers::init::fill_ (function)"};
  std::string listing;
  for (const std::string& g : got) listing += "\n  " + g;
  CHECK_MESSAGE(got == expected, "collected:" << listing);
}

TEST_CASE("the scanner finds the declarations of the real headers") {
  const std::vector<Declaration> ds = scan_public_headers(UNROLL_SOURCE_DIR);
  // A sample from every header family and every kind of declaration: if the scanner lost its way in a
  // header (and so found nothing to check), these fail.
  for (const auto& [qualified, kind] : std::vector<std::pair<std::string, std::string>>{
           {"add", "function"},
           {"scaled_dot_product_attention", "function"},
           {"layer_norm", "function"},
           {"einsum", "function"},
           {"arange", "function"},
           {"tensor", "function"},
           {"visit_dtype", "function"},
           {"Tensor", "class"},
           {"Tensor::fill_", "member function"},
           {"Tensor::set_grad", "member function"},
           {"Tensor::to_vector", "member function"},
           {"Generator::next_u64", "member function"},
           {"ValuesIndices", "class"},
           {"DType", "enum"},
           {"kFloat32", "constant"},
           {"BackwardFn", "type alias"},
           {"DetectAnomalyGuard", "class"},
           {"set_num_threads", "function"},
           {"gradcheck", "function"},
           {"layers::Linear", "class"},
           {"layers::Module::register_parameter", "member function"},
           {"layers::init::orthogonal_", "function"},
           {"layers::unroll_cell", "function"},
           {"optim::Adam", "class"},
           {"optim::clip_grad_norm", "function"},
           {"optim::ReduceLROnPlateau::step", "member function"},
           {"save_directory", "function"},
       })
    CHECK_MESSAGE(found(ds, qualified, kind), qualified << " (" << kind << ") was not found");
  // Every collected name is an identifier, never a keyword the scanner mistook for one.
  for (const Declaration& d : ds)
    for (const char* keyword : {"if", "for", "while", "return", "switch", "throw", "const", "class", "struct"})
      CHECK_MESSAGE(d.name != keyword, d.kind << " " << d.qualified << " (" << d.where << ")");
  // Not API: detail namespaces, private members, constructors, operators.
  for (const char* qualified :
       {"detail::throw_undefined_tensor", "throw_undefined_tensor", "Tensor::Tensor", "Generator::Engine",
        "layers::Module::collect", "operator+", "optim::LRScheduler::fields"})
    CHECK_MESSAGE(!found_name(ds, qualified), qualified << " should not be collected");
}

TEST_CASE("docs/ops.md documents every public declaration") {
  const fs::path root = UNROLL_SOURCE_DIR;
  const std::vector<Declaration> ds = scan_public_headers(root);
  const std::set<std::string> documented = code_identifiers(read_file(root / "docs" / "ops.md"));
  std::map<std::string, std::vector<const Declaration*>> missing;  // name -> its declarations
  for (const Declaration& d : ds)
    if (!documented.count(d.name) && !kNotApi.count(d.name)) missing[d.name].push_back(&d);
  for (const auto& [name, decls] : missing) {
    std::string where;
    for (const Declaration* d : decls) where += "\n    " + d->kind + " " + d->qualified + " (" + d->where + ")";
    FAIL_CHECK("docs/ops.md does not mention `" << name << "`, declared as:" << where);
  }
  MESSAGE(ds.size() << " public declarations scanned, " << missing.size() << " names missing from docs/ops.md");
}
