// VaultApi: Vault's HTTP API over the server's mounts, independent of the socket layer.
//
// For each request: parse it (method, path, query, body) as Vault does, resolve the mount by longest prefix
// (the server's builtin backends, sys/ and auth/token/, come first), authorize it unless the mount lists the path
// as unauthenticated, call the backend, and render its answer (envelope, raw body or errors).
// Authorization, as Vault's CheckToken: the token must be live (known, unexpired, unrevoked, with uses left; a use
// is taken even when the request is then denied), its policies' ACL must grant the operation's capability on the
// full request path (POST/PUT need "update": no backend here declares an existence check, as none of Vault's PKI
// paths does), and paths the backend lists as root paths also need "sudo". Refusals are 403
// {"errors":["permission denied"]}. A token whose last use this was is revoked when the request ends.
// With an audit device, every request that reaches the router (all but the HTTP-level refusals, and sys/health,
// sys/seal-status and sys/leader, which Vault serves outside its router) is logged before it runs and after; a
// request whose request line cannot be written is not run, and a failed response line turns the answer into a
// 500, as in Vault. A refused request is logged with the error (a failure to log it is only reported on stderr,
// as Vault does).
// Thread-safe: holds no mutable state of its own; HttpServer calls Handle concurrently from its worker pool (and,
// for the requests ServesInline picks, from its I/O threads).
// Never throws: an exception escaping a backend, or the parsing and rendering around it, becomes a 500.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/engine/request.h"
#include "src/server/audit_log.h"
#include "src/server/http_message.h"
#include "src/server/logical_call.h"
#include "src/server/mount_table.h"
#include "src/server/policy_store.h"
#include "src/server/token_store.h"

namespace pki::server {

// A backend the server itself serves at a fixed path (sys/, auth/token/), ahead of the mount table.
struct BuiltinMount {
  std::string path;  // "sys/"
  std::string type;  // the envelope's mount_type: "system", "token"
  LogicalBackend* backend = nullptr;
  bool inject_data = false;  // responses also carry data's keys at the top level (Vault does so for sys/)
  // The mount point requests report (audit log, Request::mount_point) when it is not `path`: a sys/ sub-path served
  // by its own backend ("sys/audit-hash/" reports "sys/"). Empty: `path`.
  std::string mount_point = {};
};

// The outcome of the authorization step. The audit log records `token->accessor` (never the token itself).
struct Authorization {
  std::optional<TokenEntry> token;     // the caller's entry (accessor, policies, display name); none when open
  std::optional<HttpResponse> refusal;  // set when the request must not proceed (403, or 500 on storage failure)
};

// A request path as the ACL sees it after the backends' forgiveness: leading and repeated slashes dropped, trailing
// ones removed (one kept for a list), policy names lowercased as the policy endpoints do. "sys/mounts//x/" ->
// "sys/mounts/x", "sys/policies/acl/Web" -> "sys/policies/acl/web".
std::string CanonicalAclPath(std::string_view path, bool list);

class VaultApi {
 public:
  // Every pointer must outlive the VaultApi. `audit` may be null (no audit device).
  VaultApi(MountTable* mounts, std::vector<BuiltinMount> builtins, TokenStore* tokens, PolicyStore* policies,
           AuditLog* audit = nullptr);

  HttpResponse Handle(const HttpRequest& req) const;

  // Requests cheap and non-blocking enough to be answered on the listener's I/O thread instead of waiting for a
  // worker behind slow ones (key generation): GET and HEAD of sys/ paths (health, seal-status, leader, mounts,
  // tune, policies), which read in-memory state and a few RocksDB keys (the caller's token, a policy); the token
  // check writes only for limited-use or expired tokens. Writes to sys/ (mounting opens storage) are not. For
  // HttpServer::Options::run_inline.
  static bool ServesInline(const HttpRequest& req);

 private:
  struct Builtin {
    BuiltinMount mount;
    std::vector<std::string> unauthenticated;  // fetched once
    std::vector<std::string> root_paths;       // fetched once
  };
  // Where a request goes: a builtin backend or a mount, and the path relative to it.
  struct Target {
    LogicalBackend* backend;
    std::shared_ptr<Mount> mount;  // for mounts: keeps the engine alive while the request runs
    const std::vector<std::string>* unauthenticated;
    const std::vector<std::string>* root_paths;
    std::string relative;
    std::string mount_point;
    std::string mount_type;
    bool inject_data;
  };
  std::optional<Target> Route(const std::string& path) const;
  HttpResponse Dispatch(const HttpRequest& req) const;
  // Checks the request's token and policies (see the class comment). `target` is null for unknown paths.
  Authorization Authorize(const std::string& token, const LogicalCall& call, const Target* target) const;
  // Revokes `entry` if it is used up, logging a failure (the request's answer stands).
  void RevokeIfUsedUp(const TokenEntry& entry) const;
  // Calls the backend, turning an escaped exception into a 500 rather than a dead server thread.
  static Result<Response> CallBackend(LogicalBackend& backend, const Request& req);

  MountTable* const mounts_;
  std::vector<Builtin> builtins_;  // immutable after construction
  TokenStore* const tokens_;
  PolicyStore* const policies_;
  AuditLog* const audit_;  // null: no audit device
};

}  // namespace pki::server
