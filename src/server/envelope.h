// Vault's HTTP rendering of logical results: the success envelope, the {"errors":[...]} body and the mapping of
// Status codes to HTTP statuses (Vault's http/logical.go, sdk/logical/response_util.go).
#pragma once

#include <string>
#include <vector>

#include "plugin/vault_http.h"
#include "src/core/status.h"
#include "src/engine/request.h"
#include "src/server/http_message.h"

namespace pki::server {

// Per-request facts the envelope carries besides the engine's response.
struct EnvelopeContext {
  std::string request_id;   // a fresh UUID
  std::string mount_type;   // "pki", or "system" for sys/ paths
  bool inject_data = false; // also copy data's keys to the top level, as Vault does for sys/ paths
};

// Status codes and error texts as Vault renders them, shared with the plugin's publication listener.
using plugin::HttpStatusFor;
using plugin::VaultErrorTexts;

// {"errors":[...]} with `http_status`.
HttpResponse RenderErrors(int http_status, const std::vector<std::string>& errors);

// Renders the result of `operation` as Vault does:
//  - errors: the Status's HTTP status and errors body;
//  - raw responses: their own status, content type and body (a 200 with an empty body becomes 204);
//  - nil responses: 404 {"errors":[]} for read, list and patch, 204 for other writes;
//  - list responses without data, or whose "keys" is empty (or null with nothing else beside): 404 {"errors":[]};
//    "keys" that are not strings: 500 {"errors":[]};
//  - otherwise the envelope with 200, or the response's own status when set (e.g. 202).
// Empty data renders as "data":null (a Vault response without Data), no warnings as "warnings":null.
HttpResponse RenderLogicalResult(Operation operation, const Result<Response>& result, const EnvelopeContext& ctx);

// Serialises JSON for a response body: invalid UTF-8 is replaced rather than thrown on.
std::string DumpJson(const Json& value);

}  // namespace pki::server
