#include "src/server/server_log.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace pki::server {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::kInfo};

const char* Tag(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "[TRACE]";
    case LogLevel::kDebug: return "[DEBUG]";
    case LogLevel::kInfo: return "[INFO] ";
    case LogLevel::kWarn: return "[WARN] ";
    case LogLevel::kError: return "[ERROR]";
  }
  return "[INFO] ";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_min_level.store(level, std::memory_order_relaxed); }

LogLevel GetLogLevel() { return g_min_level.load(std::memory_order_relaxed); }

bool LogEnabled(LogLevel level) { return level >= GetLogLevel(); }

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "trace") return LogLevel::kTrace;
  if (n == "debug") return LogLevel::kDebug;
  if (n == "info" || n == "notice") return LogLevel::kInfo;
  if (n == "warn" || n == "warning") return LogLevel::kWarn;
  if (n == "error" || n == "err") return LogLevel::kError;
  return std::nullopt;
}

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

void LogLine(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof(ms), ".%03dZ", static_cast<int>(millis));
  std::string line = std::string(stamp) + ms + " " + Tag(level) + " " + std::string(message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace pki::server
