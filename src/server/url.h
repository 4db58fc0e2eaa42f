// URL pieces of an HTTP request target, decoded as Go's net/url does for Vault (r.URL.Path, r.URL.Query()).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugin/vault_http.h"
#include "src/core/text.h"  // decoded text is arbitrary bytes: callers check IsValidUtf8

namespace pki::server {

// %XX decoding is shared with the plugin's publication listener (plugin/vault_http.h).
using plugin::PercentDecode;

// Splits an origin-form target ("/v1/pki/certs?list=true") at the first '?'.
struct RequestTarget {
  std::string raw_path;
  std::string raw_query;
};
RequestTarget SplitTarget(std::string_view target);

// Parses "a=1&b=2&a=3" into decoded (key, value) pairs in order. As Go's url.ParseQuery, pairs with a malformed
// escape or a ';' are skipped, and a key without '=' has an empty value.
std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view query);

}  // namespace pki::server
