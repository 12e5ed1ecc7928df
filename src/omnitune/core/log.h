// core/log: leveled log lines on stdout, "[time] [rank R] [level] message" (rank shown once set).
// The API takes finished strings so no formatting library leaks into headers.
#pragma once

#include <string>

namespace omnitune {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

LogLevel parse_log_level(const std::string& text);  // debug|info|warn|error, else Error
void set_log_level(LogLevel level);
void set_log_rank(int rank);  // adds "[rank R]" to every line; -1 removes it
void log(LogLevel level, const std::string& message);

inline void log_debug(const std::string& m) { log(LogLevel::kDebug, m); }
inline void log_info(const std::string& m) { log(LogLevel::kInfo, m); }
inline void log_warn(const std::string& m) { log(LogLevel::kWarn, m); }
inline void log_error(const std::string& m) { log(LogLevel::kError, m); }

}  // namespace omnitune
