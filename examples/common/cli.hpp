// examples/common/cli.hpp: command-line flags and exit codes of the example programs, on CLI11 (not part of
// the library).
//
//   int main(int argc, char** argv) {
//     return examples::run_example("memory", [&] {
//       examples::Cli cli("memory", "the seeds' hand-worked RNN");
//       int64_t steps = 500;                                          // the default, shown by --help
//       cli.count("--steps", steps, "training steps");                // an integer >= 1
//       double lr = 0.1;
//       cli.number("--lr", lr, "learning rate", examples::positive);  // finite and > 0
//       bool check = false;
//       cli.flag("--check", check, "exit 1 unless the expected result is reached");
//       cli.parse(argc, argv);  // --help: the generated help, exit 0; a bad flag: one line on stderr, exit 2
//       ...
//       return 0;
//     });
//   }
//
// Every value is checked while it is parsed: integers are decimal and must fit in 64 bits (no silent
// clamping, no octal "010"), numbers must be finite ("nan" and "inf" are refused), and both must lie in the
// option's range. A default that depends on another flag (--quick, --preset) is read before the options are
// declared with peek() / peek_flag(), so --help shows the defaults of the mode asked for.
//
// Exit codes, the same in every example: 0 done; 1 training failed (diverged, or --check not met);
// 2 the input was refused (a flag, a data file, a checkpoint), with one line "program: what is wrong" on
// stderr. A program (unlike the library) may print and exit.
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "common/text_file.hpp"  // DataError

namespace examples {

// A bad combination of flags found after parsing (a preset name, --epochs x steps per epoch too large...):
// run_example prints it as "program: message" and exits with code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The largest width, batch or length an option takes (2^24): products of a few of them stay far from
// overflowing 64 bits, and the library refuses a tensor too large to allocate with a message of its own.
inline constexpr int64_t kMaxSize = int64_t{1} << 24;

// The interval a floating-point option must lie in; min/max are excluded when the flag says so.
struct Range {
  double min = -std::numeric_limits<double>::infinity(), max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;
  std::string text() const {  // "> 0", "in [0, 1)", ">= 0"
    char lo[32], hi[32];
    std::snprintf(lo, sizeof lo, "%g", min);
    std::snprintf(hi, sizeof hi, "%g", max);
    if (std::isinf(max)) return std::string(min_open ? "> " : ">= ") + lo;
    if (std::isinf(min)) return std::string(max_open ? "< " : "<= ") + hi;
    return std::string("in ") + (min_open ? "(" : "[") + lo + ", " + hi + (max_open ? ")" : "]");
  }
};
inline const Range positive{0, std::numeric_limits<double>::infinity(), true, false};     // rates, clips, ...
inline const Range non_negative{0, std::numeric_limits<double>::infinity(), false, false};
inline const Range probability{0, 1, false, true};                                        // dropout: [0, 1)
inline const Range any_finite{};

class Cli {
 public:
  Cli(std::string program, const std::string& description) : program_(std::move(program)), app_(description, program_) {
    app_.get_formatter()->column_width(30);
  }

  // Widths, counts, lengths: an integer in [min, max] (default: >= 1).
  CLI::Option* count(const std::string& name, int64_t& value, const std::string& help, int64_t min = 1,
                     int64_t max = std::numeric_limits<int64_t>::max()) {
    return app_.add_option(name, value, help)
        ->transform(CLI::Validator([=](std::string& s) { return check_integer(s, min, max); }, range_text(min, max)))
        ->type_name("N")
        ->capture_default_str();
  }
  // A 64-bit unsigned integer (random seeds): every value from 0 to 2^64 - 1.
  CLI::Option* seed(const std::string& name, uint64_t& value, const std::string& help) {
    return app_.add_option(name, value, help)
        ->transform(CLI::Validator([](std::string& s) { return check_unsigned(s); }, ""))
        ->type_name("N")
        ->capture_default_str();
  }
  // A finite floating-point number in `range`.
  CLI::Option* number(const std::string& name, double& value, const std::string& help, const Range& range) {
    return app_.add_option(name, value, help)
        ->transform(CLI::Validator([=](std::string& s) { return check_number(s, range); }, range.text()))
        ->type_name("X")
        ->capture_default_str();
  }
  CLI::Option* text(const std::string& name, std::string& value, const std::string& help) {
    return app_.add_option(name, value, help)->type_name("TEXT")->capture_default_str();
  }
  // One of `choices`.
  CLI::Option* choice(const std::string& name, std::string& value, const std::vector<std::string>& choices,
                      const std::string& help) {
    return app_.add_option(name, value, help)->check(CLI::IsMember(choices))->type_name("NAME")->capture_default_str();
  }
  CLI::Option* flag(const std::string& name, bool& value, const std::string& help) {
    return app_.add_flag(name, value, help);
  }

  // Parses argv against the options declared: --help prints the generated help and exits 0; anything wrong
  // (an unknown flag, a missing or malformed value, a value out of range) prints one line and exits 2.
  void parse(int argc, char** argv) {
    try {
      app_.parse(argc, argv);
    } catch (const CLI::Success&) {  // --help
      std::printf("%s", app_.help().c_str());
      std::exit(0);
    } catch (const CLI::ParseError& e) {
      fail(e.what());
    }
  }
  bool given(const std::string& name) const { return app_.get_option(name)->count() > 0; }

  // The value of `name` on the command line before the options are declared (the last one given, as parse()
  // will take it), for defaults that depend on it. parse() still checks it.
  std::optional<std::string> peek(int argc, char** argv, const std::string& name) const {
    std::optional<std::string> value;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--") break;
      if (arg == name && i + 1 < argc) value = argv[++i];
      if (arg.rfind(name + "=", 0) == 0) value = arg.substr(name.size() + 1);
    }
    return value;
  }
  bool peek_flag(int argc, char** argv, const std::string& name) const {
    for (int i = 1; i < argc && std::string(argv[i]) != "--"; ++i)
      if (argv[i] == name) return true;
    return false;
  }

  [[noreturn]] void fail(const std::string& message) const {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s (try --help)\n", program_.c_str(), message.c_str());
    std::exit(2);
  }
  CLI::App& app() { return app_; }

 private:
  static std::string range_text(int64_t min, int64_t max) {
    if (max == std::numeric_limits<int64_t>::max()) return ">= " + std::to_string(min);
    return "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  }
  // Each check leaves the canonical decimal text in `s` for CLI11 to convert, or returns the complaint.
  static std::string check_integer(std::string& s, int64_t min, int64_t max) {
    const std::string original = s;
    size_t digits = s[0] == '-' || s[0] == '+' ? 1 : 0;
    if (s.size() == digits || s.find_first_not_of("0123456789", digits) != std::string::npos)
      return "'" + original + "' is not a whole decimal number";
    errno = 0;
    const long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == ERANGE) return original + " does not fit in a 64-bit integer";
    if (v < min || v > max) return original + " is out of range (must be " + range_text(min, max) + ")";
    s = std::to_string(v);
    return "";
  }
  static std::string check_unsigned(std::string& s) {
    const std::string original = s;
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
      return "'" + original + "' is not a whole non-negative decimal number";
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
    if (errno == ERANGE) return original + " does not fit in 64 bits";
    s = std::to_string(v);
    return "";
  }
  static std::string check_number(std::string& s, const Range& range) {
    const std::string original = s;
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    const bool hex = s.find_first_of("xX") != std::string::npos;
    if (s.empty() || end != s.c_str() + s.size() || std::isspace(static_cast<unsigned char>(s[0])) || hex)
      return "'" + original + "' is not a number";
    if (errno == ERANGE) return original + " is out of the range of a double";
    if (!std::isfinite(v)) return original + " is not a finite number";
    const bool low = range.min_open ? v <= range.min : v < range.min;
    const bool high = range.max_open ? v >= range.max : v > range.max;
    if (low || high) return original + " is out of range (must be " + range.text() + ")";
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%.17g", v);
    s = buffer;
    return "";
  }

  std::string program_;
  CLI::App app_;
};

// Runs an example's body: its return value is the exit code; a refused input (UsageError, DataError,
// unroll::IoError, or unroll::Error from a checkpoint that does not fit the model) prints one line and
// returns 2; any other failure (distributed::TimeoutError when a rank dies, no memory) prints one line and
// returns 1.
template <class Body>
int run_example(const char* program, Body&& body) {
  const auto report = [&](const std::exception& e, int code) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return code;
  };
  try {
    return body();
  } catch (const UsageError& e) {
    return report(e, 2);
  } catch (const DataError& e) {
    return report(e, 2);
  } catch (const unroll::IoError& e) {
    return report(e, 2);
  } catch (const unroll::Error& e) {
    return report(e, 2);
  } catch (const std::exception& e) {
    return report(e, 1);
  }
}

}  // namespace examples
