// ServerLog: the server's log lines on stderr, in Vault's shape ("2024-05-01T10:00:00.000Z [INFO]  message").
// Thread-safe: each line is written with one call. Messages must not contain secrets.
#pragma once

#include <string_view>

namespace pki::server {

enum class LogLevel { kInfo, kWarn, kError };

void LogLine(LogLevel level, std::string_view message);

}  // namespace pki::server
