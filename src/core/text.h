// Small text helpers shared by the engine's error messages and name checks.
#pragma once

#include <string>
#include <string_view>

namespace pki {

// ASCII case-insensitive equality (Go's strings.EqualFold for ASCII input).
bool EqualFoldAscii(std::string_view a, std::string_view b);

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), i.e.
// exactly what nlohmann::json can dump without throwing.
bool IsValidUtf8(std::string_view text);

// Go's %q, close enough for error messages: quotes, backslashes, control bytes and invalid UTF-8 bytes escaped,
// so the result is always valid UTF-8.
std::string GoQuote(std::string_view s);

}  // namespace pki
