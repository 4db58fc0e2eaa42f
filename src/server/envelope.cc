#include "src/server/envelope.h"

namespace pki::server {
namespace {

constexpr char kJsonType[] = "application/json";

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = kJsonType;
  r.body = std::move(body);
  r.body.push_back('\n');  // Go's json.Encoder ends each value with a newline
  return r;
}

HttpResponse NoContent() {
  HttpResponse r;
  r.status = 204;
  return r;
}

// Vault's list rule (sdk/logical/response_util.go): 404 unless there is something to show. Returns 0 to render
// normally, or the status to answer with an empty errors body.
int ListStatus(const Response& resp) {
  bool no_data = resp.data.is_null() || (resp.data.is_object() && resp.data.empty());
  if (no_data) return resp.warnings.empty() ? 404 : 0;
  if (!resp.data.is_object()) return 0;
  auto keys = resp.data.find("keys");
  if (keys == resp.data.end()) return 0;  // other data: shown as is
  if (keys->is_null()) return resp.data.size() > 1 || !resp.warnings.empty() ? 0 : 404;
  if (!keys->is_array()) return 500;
  for (const auto& k : *keys) {
    if (!k.is_string()) return 500;
  }
  return keys->empty() ? 404 : 0;
}

HttpResponse RenderRaw(const RawBody& raw) {
  HttpResponse r;
  r.status = raw.status;
  if (r.status == 200 && raw.body.empty()) r.status = 204;
  if (r.status == 204) return r;
  r.content_type = raw.content_type;
  r.body = raw.body;
  if (!raw.cache_control.empty()) r.headers.emplace_back("Cache-Control", raw.cache_control);
  return r;
}

}  // namespace

std::string DumpJson(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

HttpResponse RenderErrors(int http_status, const std::vector<std::string>& errors) {
  Json body = Json::object({{"errors", Json::array()}});
  for (const auto& e : errors) body["errors"].push_back(e);
  return JsonResponse(http_status, DumpJson(body));
}

HttpResponse RenderLogicalResult(Operation operation, const Result<Response>& result, const EnvelopeContext& ctx) {
  if (!result.ok()) {
    return RenderErrors(HttpStatusFor(result.status().code()), VaultErrorTexts(result.status()));
  }
  const Response& resp = result.value();
  if (resp.raw) return RenderRaw(*resp.raw);
  if (resp.nil) {
    bool reads = operation == Operation::kRead || operation == Operation::kList || operation == Operation::kPatch;
    return reads ? RenderErrors(404, {}) : NoContent();
  }
  if (operation == Operation::kList) {
    if (int status = ListStatus(resp); status != 0) return RenderErrors(status, {});
  }

  bool no_data = resp.data.is_null() || (resp.data.is_object() && resp.data.empty());
  Json warnings = nullptr;
  if (!resp.warnings.empty()) warnings = resp.warnings;
  // Built by hand to keep Vault's field order (logical.HTTPResponse).
  std::string body = "{\"request_id\":" + DumpJson(ctx.request_id) +
                     ",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,\"data\":" +
                     (no_data ? std::string("null") : DumpJson(resp.data)) +
                     ",\"wrap_info\":null,\"warnings\":" + DumpJson(warnings) +
                     ",\"auth\":" + DumpJson(resp.auth) + ",\"mount_type\":" + DumpJson(ctx.mount_type);
  if (ctx.inject_data && resp.data.is_object()) {
    static const char* const kEnvelopeKeys[] = {"request_id", "lease_id", "renewable", "lease_duration", "data",
                                                "wrap_info",  "warnings", "auth",      "mount_type"};
    for (const auto& [k, v] : resp.data.items()) {
      bool taken = false;
      for (const char* e : kEnvelopeKeys) taken = taken || k == e;
      if (!taken) body += "," + DumpJson(k) + ":" + DumpJson(v);
    }
  }
  body += "}";
  return JsonResponse(resp.status != 0 ? resp.status : 200, std::move(body));
}

}  // namespace pki::server
