// examples/common/progress.hpp: training progress for the examples: a bar with metrics, throughput and
// ETA on a terminal; plain lines (every ~10%) when the output is a file or a pipe.
//
//   Progress progress(total_steps, "tokens");
//   for (...) { ...; progress.update(step + 1, tokens_this_step, {{"loss", loss}, {"ppl", std::exp(loss)}}); }
//   progress.finish();
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace examples {

class Progress {
 public:
  Progress(int64_t total, std::string unit = "steps")
      : total_(total), unit_(std::move(unit)), tty_(isatty(fileno(stdout))), start_(Clock::now()) {}

  // step: steps done so far (1..total); work: units processed in this call (tokens, sequences...).
  void update(int64_t step, double work, const std::vector<std::pair<std::string, double>>& metrics) {
    work_ += work;
    const double elapsed = seconds();
    const double rate = elapsed > 0 ? work_ / elapsed : 0;
    const double eta = step > 0 ? elapsed * (total_ - step) / step : 0;
    std::string line;
    for (const auto& [name, value] : metrics) line += format("  %s %.4g", name.c_str(), value);
    line += format("  %.3g %s/s  ETA %s", rate, unit_.c_str(), clock_text(eta).c_str());
    const int percent = total_ > 0 ? static_cast<int>(100 * step / total_) : 100;
    if (tty_) {
      const int filled = percent / 5;
      std::printf("\r[%s%s] %3d%% %lld/%lld%s   ", std::string(filled, '#').c_str(), std::string(20 - filled, '.').c_str(),
                  percent, static_cast<long long>(step), static_cast<long long>(total_), line.c_str());
      std::fflush(stdout);
    } else if (percent >= next_percent_ || step == total_) {
      std::printf("%3d%% %lld/%lld%s\n", percent, static_cast<long long>(step), static_cast<long long>(total_),
                  line.c_str());
      std::fflush(stdout);
      while (next_percent_ <= percent) next_percent_ += 10;
    }
  }

  void finish() {
    if (tty_) std::printf("\n");
    std::printf("done in %s\n", clock_text(seconds()).c_str());
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  template <class... A>
  static std::string format(const char* f, A... a) {
    char buffer[256];
    std::snprintf(buffer, sizeof buffer, f, a...);
    return buffer;
  }
  static std::string clock_text(double s) {
    const long long t = static_cast<long long>(s + 0.5);
    return t >= 3600 ? format("%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60) : format("%02lld:%02lld", t / 60, t % 60);
  }

  int64_t total_;
  std::string unit_;
  bool tty_;
  Clock::time_point start_;
  double work_ = 0;
  int next_percent_ = 0;
};

}  // namespace examples
