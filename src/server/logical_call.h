// LogicalCall: what an HTTP request asks of the logical layer (operation, path, data), parsed as Vault's
// http/logical.go does, before authentication and routing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "src/core/text.h"
#include "src/engine/request.h"
#include "src/server/http_message.h"

namespace pki::server {

// Bodies larger than this are refused with 413 (Vault's default max_request_size).
inline constexpr size_t kMaxRequestBodyBytes = 32 * 1024 * 1024;

// JSON bodies nested deeper than this (objects and arrays; the top-level object is depth 1) are refused with 400
// before they are parsed (Vault's default max_request_json_depth). Request data is copied, dumped and destroyed
// recursively downstream, so unbounded nesting would overflow the stack.
inline constexpr size_t kMaxRequestJsonDepth = 300;

struct LogicalCall {
  Operation operation = Operation::kRead;
  std::string path;            // after "/v1/", percent-decoded; list paths end in '/'
  Json data = Json::object();  // query parameters (GET, DELETE, LIST) or the body (POST, PUT, PATCH)
  bool head = false;           // a HEAD request: answered like a read, without a body
};

// An HTTP-level refusal, before any handler ran. `errors` may be empty: Vault then answers {"errors":[]}.
struct HttpError {
  int status = 400;
  std::vector<std::string> errors;
};

// JsonNestingExceeds (src/core/text.h) checks kMaxRequestJsonDepth.
using ::pki::JsonNestingExceeds;

// Method mapping: GET=read (GET ?list=<true> = list), POST/PUT=update, DELETE=delete, PATCH=patch (JSON
// merge-patch only), LIST=list, HEAD=read without body. Anything else is 405.
// Refused with 400 before any engine sees them: JSON nested deeper than kMaxRequestJsonDepth, and invalid UTF-8
// in the decoded path, in query parameters (of GET, LIST, DELETE) or in form fields, so that request data is
// always valid UTF-8 (nlohmann::json::dump throws on anything else).
std::variant<LogicalCall, HttpError> ParseLogicalCall(const HttpRequest& req);

}  // namespace pki::server
