#include "src/server/vault_api.h"

#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <variant>

#include "src/core/uuid.h"
#include "src/server/envelope.h"
#include "src/server/logical_call.h"
#include "src/server/server_log.h"

namespace pki::server {

VaultApi::VaultApi(MountTable* mounts, std::vector<BuiltinMount> builtins, const TokenStore* tokens,
                   AuditLog* audit, std::string root_accessor)
    : mounts_(mounts), tokens_(tokens), audit_(audit), root_accessor_(std::move(root_accessor)) {
  for (auto& b : builtins) {
    std::vector<std::string> unauthenticated = b.backend->UnauthenticatedPaths();
    builtins_.push_back(Builtin{std::move(b), std::move(unauthenticated)});
  }
}

Result<Response> VaultApi::CallBackend(LogicalBackend& backend, const Request& req) {
  try {
    return backend.HandleRequest(req);
  } catch (const std::exception& e) {
    LogLine(LogLevel::kError, "request to " + req.mount_point + req.path + " threw: " + e.what());
  } catch (...) {
    LogLine(LogLevel::kError, "request to " + req.mount_point + req.path + " threw a non-standard exception");
  }
  return Status::Internal("internal error");
}

std::optional<VaultApi::Target> VaultApi::Route(const std::string& path) const {
  for (const Builtin& b : builtins_) {
    const std::string& p = b.mount.path;
    if (path.compare(0, p.size(), p) == 0 || path + "/" == p) {
      return Target{b.mount.backend, nullptr, &b.unauthenticated, path.size() > p.size() ? path.substr(p.size()) : "",
                    b.mount.mount_point.empty() ? p : b.mount.mount_point, b.mount.type, b.mount.inject_data};
    }
  }
  auto match = mounts_->Resolve(path);
  if (!match) return std::nullopt;
  Mount* m = match->mount.get();
  return Target{&m->backend(), std::move(match->mount), &m->unauthenticated_paths(), std::move(match->relative_path),
                m->path(), m->type(), false};
}

namespace {

HttpResponse InternalError() { return RenderErrors(500, VaultErrorTexts(Status::Internal("internal error"))); }

// Paths Vault serves outside its logical router, so that its audit devices never see them.
bool Unaudited(const std::string& path) {
  return path == "sys/health" || path == "sys/seal-status" || path == "sys/leader";
}

std::string JoinErrors(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : "; ") + e;
  return out;
}

}  // namespace

bool VaultApi::ServesInline(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") return false;
  std::string_view path(req.target);
  path = path.substr(0, path.find('?'));
  // Percent-decoding keeps a literal "/v1/sys/" prefix, so these always route to SysBackend, whose reads and lists
  // answer from memory (the mount table under its shared lock, the clock, the cluster identity).
  return path == "/v1/sys" || path.rfind("/v1/sys/", 0) == 0;
}

HttpResponse VaultApi::Handle(const HttpRequest& http) const {
  HttpResponse out;
  // The request boundary: nothing may escape to the listener. Backends are already guarded (CallBackend); this
  // covers parsing, routing and rendering, which are not expected to throw.
  try {
    out = Dispatch(http);
  } catch (const std::exception& e) {  // nlohmann's type_error, parse_error, ... included
    LogLine(LogLevel::kError, http.method + " request threw: " + e.what());
    out = InternalError();
  } catch (...) {
    LogLine(LogLevel::kError, http.method + " request threw a non-standard exception");
    out = InternalError();
  }
  out.headers.emplace_back("Cache-Control", "no-store");
  return out;
}

std::optional<AuditAuth> VaultApi::Authenticate(const std::string& token) const {
  if (!tokens_->IsValid(token)) return std::nullopt;
  AuditAuth auth;
  auth.token = token;
  auth.accessor = root_accessor_;
  auth.display_name = "root";
  auth.policies = {"root"};
  return auth;
}

HttpResponse VaultApi::Dispatch(const HttpRequest& http) const {
  auto parsed = ParseLogicalCall(http);
  if (auto* err = std::get_if<HttpError>(&parsed)) return RenderErrors(err->status, err->errors);
  LogicalCall& call = std::get<LogicalCall>(parsed);
  std::optional<Target> target = Route(call.path);

  // Only sys/health answers HEAD (Vault's other HEAD requests are for ACME nonces, which the engine lacks).
  if (call.head && call.path != "sys/health") {
    return RenderErrors(405, {});
  }
  const std::string token = TokenStore::ClientToken(http);
  const std::optional<AuditAuth> auth = token.empty() ? std::nullopt : Authenticate(token);
  const std::string request_id = NewUuid();

  // The request's audit record, rendered once for both of its lines.
  AuditLog* const audit = Unaudited(call.path) ? nullptr : audit_;
  std::optional<AuditLog::Record> record;
  if (audit != nullptr) {
    AuditRequest entry;
    entry.id = request_id;
    entry.operation = call.operation;
    if (target) {
      entry.mount_point = target->mount_point;
      entry.mount_type = target->mount_type;
    }
    entry.path = call.path;
    entry.data = &call.data;
    entry.remote_address = http.remote_address;
    entry.remote_port = http.remote_port;
    entry.client_token = token;
    if (auth) entry.client_token_accessor = auth->accessor;
    record = audit->Prepare(auth ? &*auth : nullptr, entry);
  }
  // Writes the response line; false when it cannot be written (the client then gets a 500).
  auto log_response = [&](const HttpResponse& out, const Result<Response>* result, std::string error) {
    if (!record) return true;
    AuditOutcome outcome;
    outcome.status = out.status;
    outcome.error = std::move(error);
    if (result != nullptr && result->ok()) outcome.response = &result->value();
    if (result != nullptr && !result->ok()) outcome.error = JoinErrors(VaultErrorTexts(result->status()));
    Status st = audit->LogResponse(*record, outcome);
    if (!st.ok()) LogLine(LogLevel::kError, "failed to audit response to " + call.path + ": " + st.message());
    return st.ok();
  };

  // As Vault, the token is checked before routing fails: an unknown path without a token is 403, not 404.
  const bool open = target && MatchesSpecialPath(*target->unauthenticated, target->relative);
  if (!open && !auth) {
    if (record) {
      // As Vault: the refusal is logged, and a failure to log it does not change the answer.
      if (Status st = audit->LogRequest(*record, "permission denied"); !st.ok()) {
        LogLine(LogLevel::kError, "failed to audit request to " + call.path + ": " + st.message());
      }
    }
    return RenderErrors(403, {"permission denied"});
  }
  if (record) {
    if (Status st = audit->LogRequest(*record, ""); !st.ok()) {
      LogLine(LogLevel::kError, "failed to audit request to " + call.path + ": " + st.message());
      return InternalError();
    }
  }
  if (!target) {
    const std::string error = "no handler for route " + DumpJson(Json(call.path)) + ". route entry not found.";
    HttpResponse out = RenderErrors(404, {error});
    return log_response(out, nullptr, error) ? out : InternalError();
  }

  Request req;
  req.operation = call.operation;
  req.path = std::move(target->relative);
  req.data = std::move(call.data);
  req.mount_point = target->mount_point;
  Result<Response> result = CallBackend(*target->backend, req);
  if (!result.ok() && result.status().code() == StatusCode::kInternal) {
    LogLine(LogLevel::kError, std::string(OperationName(req.operation)) + " " + req.mount_point + req.path + ": " +
                                  result.status().message());
  }
  HttpResponse out = RenderLogicalResult(req.operation, result, {request_id, target->mount_type, target->inject_data});
  if (!log_response(out, &result, "")) return InternalError();
  if (call.head) out.body.clear();
  return out;
}

}  // namespace pki::server
