// examples/common/progress.hpp: training progress for the examples: a bar with metrics, throughput and
// ETA on a terminal; plain lines (every ~10%) when the output is a file or a pipe.
//
//   Progress progress(total_steps, "tokens");
//   for (...) {
//     ...;
//     progress.update(step + 1, tokens_this_step, {{"loss", loss}, {"ppl", std::exp(loss)}});
//     if (validate_now) { progress.pause(); validate(); progress.resume(); }  // not counted as training time
//   }
//   progress.finish();
//
// The throughput and the ETA come from the last 30 s of training (or all of it, when shorter), so that a
// slow start (a busy machine, a cold cache) or a change of speed does not skew them for the rest of the run.
// Paused intervals count neither in seconds() nor in the rates.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace examples {

class Progress {
 public:
  Progress(int64_t total, std::string unit = "steps")
      : total_(total), unit_(std::move(unit)), tty_(isatty(fileno(stdout))), start_(Clock::now()) {
    recent_.push_back({0, 0, 0});
  }

  // step: steps done so far (1..total); work: units processed in this call (tokens, sequences...).
  void update(int64_t step, double work, const std::vector<std::pair<std::string, double>>& metrics) {
    work_ += work;
    const double now = seconds();
    recent_.push_back({now, step, work_});
    while (recent_.size() > 2 && recent_[1].time <= now - kWindowSeconds) recent_.pop_front();
    const Sample& from = recent_.front();  // the last sample at least kWindowSeconds old, or the start
    const double span = now - from.time;
    const double rate = span > 0 ? (work_ - from.work) / span : 0;
    const double eta = step > from.step ? span * static_cast<double>(total_ - step) / (step - from.step) : 0;
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

  // The time between pause() and resume() (a validation pass) is left out of seconds() and of the rates.
  void pause() {
    if (!paused_) paused_ = true, pause_start_ = Clock::now();
  }
  void resume() {
    if (paused_) paused_ = false, paused_seconds_ += elapsed(pause_start_);
  }

  void finish() {
    if (tty_) std::printf("\n");
    std::printf("done in %s\n", clock_text(seconds()).c_str());
  }

  // Seconds since construction, paused intervals left out.
  double seconds() const { return elapsed(start_) - paused_seconds_ - (paused_ ? elapsed(pause_start_) : 0); }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr double kWindowSeconds = 30;
  struct Sample {
    double time;  // seconds()
    int64_t step;
    double work;  // units processed up to then
  };
  static double elapsed(Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  }
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
  Clock::time_point start_, pause_start_;
  bool paused_ = false;
  double paused_seconds_ = 0;
  double work_ = 0;
  std::deque<Sample> recent_;  // (time, step, work) of the updates of the last kWindowSeconds, oldest first
  int next_percent_ = 0;
};

}  // namespace examples
