// examples/common/args.hpp: command-line flags for the example programs (not part of the library).
//
//   Args args(argc, argv, "memory: the seeds' hand-worked RNN");
//   const int steps = args.integer("--steps", 500, "training steps");
//   const bool check = args.flag("--check", "exit 1 unless the expected result is reached");
//   args.done();  // handles --help, rejects unknown flags
//
// Every example accepts --help and --seed; a program (unlike the library) may print and exit.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace examples {

class Args {
 public:
  Args(int argc, char** argv, std::string description) : description_(std::move(description)) {
    program_ = argc > 0 ? argv[0] : "example";
    for (int i = 1; i < argc; ++i) args_.emplace_back(argv[i]);
    used_.assign(args_.size(), false);
  }

  bool flag(const std::string& name, const std::string& help) {
    help_ += "  " + pad(name) + help + "\n";
    for (size_t i = 0; i < args_.size(); ++i)
      if (args_[i] == name) return used_[i] = true;
    return false;
  }

  std::string text(const std::string& name, const std::string& fallback, const std::string& help) {
    help_ += "  " + pad(name + " S") + help + " (default: " + (fallback.empty() ? "none" : fallback) + ")\n";
    for (size_t i = 0; i + 1 < args_.size(); ++i)
      if (args_[i] == name) {
        used_[i] = used_[i + 1] = true;
        return args_[i + 1];
      }
    for (size_t i = 0; i < args_.size(); ++i)
      if (args_[i] == name) fail("flag " + name + " needs a value");
    return fallback;
  }

  int64_t integer(const std::string& name, int64_t fallback, const std::string& help) {
    const std::string value = text(name, std::to_string(fallback), help);
    char* end = nullptr;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (end == value.c_str() || *end) fail("flag " + name + " needs an integer, got '" + value + "'");
    return v;
  }

  double number(const std::string& name, double fallback, const std::string& help) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%g", fallback);
    const std::string value = text(name, buffer, help);
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end) fail("flag " + name + " needs a number, got '" + value + "'");
    return v;
  }

  // Call after declaring every flag: prints --help, rejects anything not declared.
  void done() {
    bool help = false;
    for (size_t i = 0; i < args_.size(); ++i)
      if (args_[i] == "--help" || args_[i] == "-h") help = used_[i] = true;
    if (help) {
      std::printf("%s\n\nusage: %s [flags]\n%s  %s%s\n", description_.c_str(), program_.c_str(), help_.c_str(),
                  pad("--help").c_str(), "show this text");
      std::exit(0);
    }
    for (size_t i = 0; i < args_.size(); ++i)
      if (!used_[i]) fail("unknown argument '" + args_[i] + "'");
  }

 private:
  static std::string pad(std::string s) {
    s.resize(std::max<size_t>(s.size() + 2, 22), ' ');
    return s;
  }
  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s (try --help)\n", program_.c_str(), message.c_str());
    std::exit(2);
  }

  std::string description_, program_, help_;
  std::vector<std::string> args_;
  std::vector<bool> used_;
};

}  // namespace examples
