// ServerLog: the server's log lines on stderr, in Vault's shape ("2024-05-01T10:00:00.000Z [INFO]  message"),
// filtered by a process-wide minimum level (log_level in the config file, -log-level, VAULT_LOG_LEVEL).
// Thread-safe: each line is written with one call; the level is an atomic. Messages must not contain secrets.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pki::server {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };

// Writes `message` when `level` is at or above the minimum level.
void LogLine(LogLevel level, std::string_view message);

// The minimum level written (default kInfo). May be changed while other threads log.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Whether a line at `level` would be written (to skip building expensive debug messages).
bool LogEnabled(LogLevel level);

// Parses a level as Vault does (case-insensitive): trace, debug, info (or notice), warn (or warning), error (or
// err). nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// The level's name as ParseLogLevel takes it ("info").
const char* LogLevelName(LogLevel level);

// Lets a repeating message through at most once per `interval` (e.g. "accept failed: Too many open files", which
// would otherwise be logged for every attempt), counting the occurrences it held back. Not thread-safe: the owner
// serialises calls (e.g. on one strand).
class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // Whether to log the occurrence at `now`. When true, `*suppressed` is how many were held back since the last
  // one logged (to append to the message).
  bool Allow(std::chrono::steady_clock::time_point now, uint64_t* suppressed) {
    if (logged_once_ && now - last_ < interval_) {
      ++held_back_;
      return false;
    }
    logged_once_ = true;
    last_ = now;
    *suppressed = held_back_;
    held_back_ = 0;
    return true;
  }

 private:
  const std::chrono::steady_clock::duration interval_;
  bool logged_once_ = false;
  std::chrono::steady_clock::time_point last_{};
  uint64_t held_back_ = 0;
};

}  // namespace pki::server
