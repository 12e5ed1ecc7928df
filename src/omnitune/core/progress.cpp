#include "omnitune/core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include <fmt/format.h>

#include "omnitune/core/log.h"

namespace omnitune {

namespace {
constexpr double kRedrawSeconds = 0.1;
constexpr int kBarWidth = 30;

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string format_duration(double seconds) {
  auto s = static_cast<int64_t>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

ProgressBar::ProgressBar(std::string label, int64_t total) : ProgressBar(std::move(label), total, Options{}) {}

ProgressBar::ProgressBar(std::string label, int64_t total, Options options)
    : label_(std::move(label)), total_(total), options_(std::move(options)) {
  if (!options_.clock) options_.clock = steady_seconds;
  if (!options_.write_tty)
    options_.write_tty = [](const std::string& s) {
      std::fputs(s.c_str(), stdout);
      std::fflush(stdout);
    };
  tty_ = options_.tty >= 0 ? options_.tty == 1 : isatty(fileno(stdout)) == 1;
  start_s_ = last_report_s_ = options_.clock();
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(int64_t n) {
  done_ += n;
  double now = options_.clock();
  double interval = tty_ ? kRedrawSeconds : options_.interval_s;
  if (done_ < total_ && now - last_report_s_ >= interval) {  // the last step is drawn by finish()
    last_report_s_ = now;
    report(false);
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  report(true);
}

void ProgressBar::clear() {
  if (!tty_ || finished_) return;
  options_.write_tty("\r\033[2K");
  last_report_s_ = -std::numeric_limits<double>::infinity();
}

std::string ProgressBar::status() const {
  double elapsed = options_.clock() - start_s_;
  double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string text =
      total_ > 0 ? fmt::format("{}/{} ({}%)", done_, total_, done_ * 100 / total_) : fmt::format("{}", done_);
  text += fmt::format(", {:.2f} {}/s", rate, options_.unit);
  if (total_ > 0 && done_ < total_ && rate > 0)
    text += ", ETA " + format_duration(static_cast<double>(total_ - done_) / rate);
  if (done_ >= total_ && total_ > 0) text += ", took " + format_duration(elapsed);
  return text;
}

void ProgressBar::report(bool final) {
  if (!tty_) {
    log_info(label_ + ": " + status());
    return;
  }
  int filled = total_ > 0 ? static_cast<int>(std::min<int64_t>(done_, total_) * kBarWidth / total_) : 0;
  std::string bar = std::string(filled, '#') + std::string(kBarWidth - filled, '.');
  options_.write_tty("\r\033[2K" + label_ + " [" + bar + "] " + status() + (final ? "\n" : ""));
}

}  // namespace omnitune
