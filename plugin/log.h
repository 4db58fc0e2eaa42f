// The plugin's log: hclog JSON lines on stderr ({"@level","@message","@timestamp", key: value...}), which
// go-plugin hosts (Vault, OpenBao, pki-server) parse and re-log at the given level. stdout carries only the
// handshake line. Thread-safe; messages and values must not contain secrets.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pki::plugin {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void Log(LogLevel level, std::string_view message,
         const std::vector<std::pair<std::string, std::string>>& fields = {});

}  // namespace pki::plugin
