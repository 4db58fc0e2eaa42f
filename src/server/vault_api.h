// VaultApi: Vault's HTTP API over the server's mounts, independent of the socket layer.
//
// For each request: parse it (method, path, query, body) as Vault does, resolve the mount by longest prefix
// (the server's builtin backends, sys/ and auth/token/, come first), require a valid token unless the mount lists
// the path as
// unauthenticated, call the backend, and render its answer (envelope, raw body or errors).
// With an audit device, every request that reaches the router (all but the HTTP-level refusals, and sys/health,
// sys/seal-status and sys/leader, which Vault serves outside its router) is logged before it runs and after; a
// request whose request line cannot be written is not run, and a failed response line turns the answer into a
// 500, as in Vault. A request refused for its token is logged with the error (a failure to log it is only
// reported on stderr, as Vault does).
// Thread-safe: holds no mutable state of its own; HttpServer calls Handle concurrently from its worker pool (and,
// for the requests ServesInline picks, from its I/O threads).
// Never throws: an exception escaping a backend, or the parsing and rendering around it, becomes a 500.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/engine/request.h"
#include "src/server/audit_log.h"
#include "src/server/http_message.h"
#include "src/server/mount_table.h"
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

class VaultApi {
 public:
  // Every pointer must outlive the VaultApi. `audit` may be null (no audit device). `root_accessor` is the root
  // token's accessor, which the audit log records for requests made with it.
  VaultApi(MountTable* mounts, std::vector<BuiltinMount> builtins, const TokenStore* tokens,
           AuditLog* audit = nullptr, std::string root_accessor = "");

  HttpResponse Handle(const HttpRequest& req) const;

  // Requests cheap and non-blocking enough to be answered on the listener's I/O thread instead of waiting for a
  // worker behind slow ones (key generation): GET and HEAD of sys/ paths (health, seal-status, leader, mounts,
  // tune), which read only in-memory state. Writes to sys/ (mounting opens storage) are not. For
  // HttpServer::Options::run_inline.
  static bool ServesInline(const HttpRequest& req);

 private:
  struct Builtin {
    BuiltinMount mount;
    std::vector<std::string> unauthenticated;  // fetched once
  };
  // Where a request goes: a builtin backend or a mount, and the path relative to it.
  struct Target {
    LogicalBackend* backend;
    std::shared_ptr<Mount> mount;  // for mounts: keeps the engine alive while the request runs
    const std::vector<std::string>* unauthenticated;
    std::string relative;
    std::string mount_point;
    std::string mount_type;
    bool inject_data;
  };
  std::optional<Target> Route(const std::string& path) const;
  HttpResponse Dispatch(const HttpRequest& req) const;
  // Who `token` is, or nullopt when it grants nothing: the seam between token resolution and the audit log. The
  // in-process store knows only the root token.
  std::optional<AuditAuth> Authenticate(const std::string& token) const;
  // Calls the backend, turning an escaped exception into a 500 rather than a dead server thread.
  static Result<Response> CallBackend(LogicalBackend& backend, const Request& req);

  MountTable* const mounts_;
  std::vector<Builtin> builtins_;  // immutable after construction
  const TokenStore* const tokens_;
  AuditLog* const audit_;  // null: no audit device
  const std::string root_accessor_;
};

}  // namespace pki::server
