#include "src/server/vault_api.h"

#include <cctype>
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

VaultApi::VaultApi(MountTable* mounts, std::vector<BuiltinMount> builtins, TokenStore* tokens,
                   PolicyStore* policies, AuditLog* audit)
    : mounts_(mounts), tokens_(tokens), policies_(policies), audit_(audit) {
  for (auto& b : builtins) {
    std::vector<std::string> unauthenticated = b.backend->UnauthenticatedPaths();
    std::vector<std::string> root_paths = b.backend->RootPaths();
    builtins_.push_back(Builtin{std::move(b), std::move(unauthenticated), std::move(root_paths)});
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
      return Target{b.mount.backend,
                    nullptr,
                    &b.unauthenticated,
                    &b.root_paths,
                    path.size() > p.size() ? path.substr(p.size()) : "",
                    b.mount.mount_point.empty() ? p : b.mount.mount_point,
                    b.mount.type,
                    b.mount.inject_data};
    }
  }
  auto match = mounts_->Resolve(path);
  if (!match) return std::nullopt;
  Mount* m = match->mount.get();
  return Target{&m->backend(), std::move(match->mount), &m->unauthenticated_paths(), &m->root_paths(),
                std::move(match->relative_path), m->path(), m->type(), false};
}

namespace {

HttpResponse InternalError() { return RenderErrors(500, VaultErrorTexts(Status::Internal("internal error"))); }
HttpResponse PermissionDenied() { return RenderErrors(403, {"permission denied"}); }

}  // namespace

std::string CanonicalAclPath(std::string_view path, bool list) {
  std::string out;
  out.reserve(path.size() + 1);
  for (char c : path) {
    if (c == '/' && (out.empty() || out.back() == '/')) continue;  // leading and repeated slashes
    out.push_back(c);
  }
  while (!out.empty() && out.back() == '/') out.pop_back();
  // Policy names are case-insensitive (the policy backends lowercase them): "sys/policy/WEB" is "sys/policy/web".
  for (std::string_view prefix : {"sys/policy/", "sys/policies/acl/"}) {
    if (out.compare(0, prefix.size(), prefix) == 0) {
      for (size_t i = prefix.size(); i < out.size(); ++i) {
        out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
      }
    }
  }
  if (list) out.push_back('/');
  return out;
}

namespace {

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

HttpResponse VaultApi::Dispatch(const HttpRequest& http) const {
  auto parsed = ParseLogicalCall(http);
  if (auto* err = std::get_if<HttpError>(&parsed)) return RenderErrors(err->status, err->errors);
  LogicalCall& call = std::get<LogicalCall>(parsed);
  std::optional<Target> target = Route(call.path);

  // Only sys/health answers HEAD (Vault's other HEAD requests are for ACME nonces, which the engine lacks).
  if (call.head && call.path != "sys/health") {
    return RenderErrors(405, {});
  }
  const std::string request_id = NewUuid();
  const std::string token = TokenStore::ClientToken(http);
  AuditLog* const audit = Unaudited(call.path) ? nullptr : audit_;

  // As Vault, the token is checked before routing fails: an unknown path without a token is 403, not 404.
  const bool open = target && MatchesSpecialPath(*target->unauthenticated, target->relative);
  Authorization auth;
  if (!open) {
    auth = Authorize(token, call, target ? &*target : nullptr);
  } else if (audit != nullptr && !token.empty()) {
    // Open paths take no use of a token, but the audit log still names the caller that sent one.
    auth.token = tokens_->Lookup(token);
  }

  // The request's audit record, rendered once for both of its lines.
  std::optional<AuditLog::Record> record;
  if (audit != nullptr) {
    std::optional<AuditAuth> who;
    if (auth.token) {
      who = AuditAuth{token, auth.token->accessor, auth.token->display_name, auth.token->policies, "service"};
    }
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
    if (who) entry.client_token_accessor = who->accessor;
    record = audit->Prepare(who ? &*who : nullptr, entry);
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

  if (auth.refusal) {
    if (record) {
      // As Vault: the refusal is logged, and a failure to log it does not change the answer.
      const std::string error = auth.refusal->status == 403 ? "permission denied" : "internal error";
      if (Status st = audit->LogRequest(*record, error); !st.ok()) {
        LogLine(LogLevel::kError, "failed to audit request to " + call.path + ": " + st.message());
      }
    }
    return std::move(*auth.refusal);
  }
  if (record) {
    if (Status st = audit->LogRequest(*record, ""); !st.ok()) {
      LogLine(LogLevel::kError, "failed to audit request to " + call.path + ": " + st.message());
      if (auth.token && !open) RevokeIfUsedUp(*auth.token);
      return InternalError();
    }
  }
  if (!target) {
    if (auth.token) RevokeIfUsedUp(*auth.token);
    const std::string error = "no handler for route " + DumpJson(Json(call.path)) + ". route entry not found.";
    HttpResponse out = RenderErrors(404, {error});
    return log_response(out, nullptr, error) ? out : InternalError();
  }

  Request req;
  req.operation = call.operation;
  req.path = std::move(target->relative);
  req.data = std::move(call.data);
  req.mount_point = target->mount_point;
  // Only the server's own backends (auth/token/, sys/capabilities-self) see the caller's token; mounted engines
  // never do.
  if (auth.token && !open && !target->mount) req.client_token = token;
  Result<Response> result = CallBackend(*target->backend, req);
  if (auth.token && !open) RevokeIfUsedUp(*auth.token);
  if (!result.ok() && result.status().code() == StatusCode::kInternal) {
    LogLine(LogLevel::kError, std::string(OperationName(req.operation)) + " " + req.mount_point + req.path + ": " +
                                  result.status().message());
  }
  HttpResponse out = RenderLogicalResult(req.operation, result, {request_id, target->mount_type, target->inject_data});
  if (!log_response(out, &result, "")) return InternalError();
  if (call.head) out.body.clear();
  return out;
}

Authorization VaultApi::Authorize(const std::string& token, const LogicalCall& call, const Target* target) const {
  Authorization out;
  auto internal = [&](const Status& st) {
    LogLine(LogLevel::kError, "authorizing a request to " + call.path + ": " + st.message());
    out.refusal = InternalError();
    return out;
  };
  auto found = tokens_->Find(token);
  if (!found.ok()) return internal(found.status());
  if (!found->has_value()) {
    out.refusal = PermissionDenied();
    return out;
  }
  // A use is taken before the policy check, as Vault does: denied requests count too.
  auto used = tokens_->Use(**found);
  if (!used.ok()) return internal(used.status());
  if (!used->has_value()) {
    out.refusal = PermissionDenied();
    return out;
  }
  out.token = std::move(**used);
  auto acl = policies_->AclFor(out.token->policies);
  if (!acl.ok()) return internal(acl.status());
  // Backends forgive extra slashes (trailing ones, a mount path's leading ones), so a request is checked both as
  // written and in its canonical form: "pki/roles/web/" or "sys/mounts//x" must not slip past a rule written for
  // "pki/roles/web" or "sys/mounts/x", nor "pki/root/" past the sudo that "root" needs.
  const bool list = call.operation == Operation::kList;
  const std::string canonical = CanonicalAclPath(call.path, list);
  AclDecision decision = (*acl)->Check(call.operation, call.path, call.data);
  if (canonical != call.path) {
    const AclDecision other = (*acl)->Check(call.operation, canonical, call.data);
    decision.allowed = decision.allowed && other.allowed;
    decision.sudo = decision.sudo && other.sudo;
  }
  const bool root_path =
      target != nullptr && (MatchesSpecialPath(*target->root_paths, target->relative) ||
                            MatchesSpecialPath(*target->root_paths, CanonicalAclPath(target->relative, false)));
  if (!decision.allowed || (root_path && !decision.sudo)) {
    RevokeIfUsedUp(*out.token);
    out.refusal = PermissionDenied();
  }
  return out;
}

void VaultApi::RevokeIfUsedUp(const TokenEntry& entry) const {
  Status st = tokens_->RevokeUsedUp(entry);
  if (!st.ok()) LogLine(LogLevel::kError, "revoking a used-up token failed: " + st.message());
}

}  // namespace pki::server
