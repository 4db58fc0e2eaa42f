#include "src/server/server_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace pki::server {

void LogLine(LogLevel level, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  const char* tag = level == LogLevel::kInfo ? "[INFO] " : level == LogLevel::kWarn ? "[WARN] " : "[ERROR]";
  char ms[8];
  std::snprintf(ms, sizeof(ms), ".%03dZ", static_cast<int>(millis));
  std::string line = std::string(stamp) + ms + " " + tag + " " + std::string(message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace pki::server
