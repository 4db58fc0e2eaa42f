// Durations as Vault spells them: "72h", "1h30m", "90s", "3d", or a plain count of seconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "src/core/status.h"

namespace pki {

// Parses Go's time.ParseDuration syntax plus Vault's "<n>d" days and bare integers (seconds). The result is
// truncated to whole seconds. An empty string is 0.
Result<int64_t> ParseDurationSeconds(std::string_view text);

// As ParseDurationSeconds, in whole milliseconds (tidy's pause_duration takes "500ms", as Vault's does).
Result<int64_t> ParseDurationMillis(std::string_view text);

// Formats whole seconds as Go's time.Duration.String() does ("768h0m0s", "1m30s", "30s", "0s").
std::string FormatGoDuration(int64_t seconds);
// Formats milliseconds as Go's time.Duration.String() does ("0s", "500ms", "1.5s", "1m0.25s").
std::string FormatGoDurationMillis(int64_t millis);

}  // namespace pki
