#include "omnitune/core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "omnitune/core/enum_names.h"
#include "omnitune/core/error.h"

namespace omnitune {

namespace {

struct Logger {
  std::shared_ptr<spdlog::logger> sink = spdlog::stdout_logger_mt("omnitune");
  Logger() {
    set_rank(-1);
    sink->flush_on(spdlog::level::trace);
  }
  void set_rank(int rank) {
    std::string prefix = rank >= 0 ? "[rank " + std::to_string(rank) + "] " : "";
    sink->set_pattern("[%Y-%m-%d %H:%M:%S] " + prefix + "[%l] %v");
  }
};

Logger& logger() {
  static Logger instance;
  return instance;
}

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

LogLevel parse_log_level(const std::string& text) {
  static const EnumNames<LogLevel> names = {
      {LogLevel::kDebug, "debug"}, {LogLevel::kInfo, "info"}, {LogLevel::kWarn, "warn"}, {LogLevel::kError, "error"}};
  return parse_enum(names, text, "--log-level", "log level");
}

void set_log_level(LogLevel level) { logger().sink->set_level(to_spdlog(level)); }
void set_log_rank(int rank) { logger().set_rank(rank); }
void log(LogLevel level, const std::string& message) { logger().sink->log(to_spdlog(level), message); }

}  // namespace omnitune
