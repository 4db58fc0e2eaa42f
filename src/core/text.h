// Small text helpers shared by the engine, the server and pkictl (error messages, name checks, Go syntax).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pki {

// ASCII case-insensitive equality (Go's strings.EqualFold for ASCII input).
bool EqualFoldAscii(std::string_view a, std::string_view b);

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), i.e.
// exactly what nlohmann::json can dump without throwing.
bool IsValidUtf8(std::string_view text);

// Go's strconv.ParseBool: "1", "t", "T", "TRUE", "true", "True" and their false counterparts; nullopt for
// anything else (Vault reads boolean fields, ?list= and VAULT_SKIP_VERIFY with it).
std::optional<bool> ParseGoBool(std::string_view text);

// Go's %q, close enough for error messages: quotes, backslashes, control bytes and invalid UTF-8 bytes escaped,
// so the result is always valid UTF-8.
std::string GoQuote(std::string_view s);
// `parts` joined by `sep`.
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
// `s` split at each `sep`, empty pieces dropped and spaces around pieces trimmed (Vault's comma lists).
std::vector<std::string> Split(std::string_view s, char sep);

// Whether the JSON text `text` nests objects/arrays deeper than `limit`. One iterative pass over the bytes,
// skipping string contents (with their escapes); it never recurses and does not validate the JSON otherwise.
// nlohmann::json parses iteratively but copies and dumps recursively: callers refuse deeper input before parsing.
bool JsonNestingExceeds(std::string_view text, size_t limit);

}  // namespace pki
