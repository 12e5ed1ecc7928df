// core/progress: a progress bar with rate and ETA. On a terminal it redraws one line in place; when
// the output is not a terminal (a log file, CI) it writes a plain log line every `interval_s` seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace omnitune {

class ProgressBar {
 public:
  struct Options {
    std::string unit = "it";
    double interval_s = 10.0;                           // between log lines when not on a terminal
    int tty = -1;                                       // 1/0 forces terminal/log mode; -1 = isatty(stdout)
    std::function<void(const std::string&)> write_tty;  // default: stdout without newline
    std::function<double()> clock;                      // seconds; default: steady clock (tests inject one)
  };

  ProgressBar(std::string label, int64_t total);
  ProgressBar(std::string label, int64_t total, Options options);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void advance(int64_t n = 1);
  void finish();  // final line (also written by the destructor)
  // On a terminal: erases the bar so that a log line can take its line; the next advance() draws it again.
  void clear();

  // "12/40 (30%), 3.10 it/s, ETA 9s" — the text both modes show.
  std::string status() const;

 private:
  void report(bool final);
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  Options options_;
  bool tty_;
  bool finished_ = false;
  double start_s_;
  double last_report_s_;
};

std::string format_duration(double seconds);  // "9s", "4m05s", "2h03m"

}  // namespace omnitune
