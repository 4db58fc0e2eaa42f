// The logical request and response, shaped like Vault's logical.Request / logical.Response.
//
// Transports (the HTTP server, the plugin's gRPC adapter) translate their wire forms into these and back; the
// engine never sees HTTP or gRPC.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/core/status.h"

namespace pki {

using Json = nlohmann::json;

// kRevoke is Vault's lease revocation: the host revokes a secret the engine issued with a lease (a role with
// generate_lease); it carries no path of its own, only the secret's internal data.
enum class Operation { kRead, kUpdate, kCreate, kDelete, kList, kPatch, kRevoke };

const char* OperationName(Operation op);

struct Request {
  Operation operation = Operation::kRead;
  std::string path;        // mount-relative, no leading slash, e.g. "issue/web"
  Json data = Json::object();  // body fields (and query parameters for reads)
  std::string mount_point; // e.g. "pki/", for lease ids and messages
  Json secret_internal_data;  // kRevoke: the internal data of the secret being revoked
  // The caller's token, for the host's own token and policy backends (auth/token/, sys/capabilities-self). Never
  // sent to plugins and never logged.
  std::string client_token;
};

// A leased secret (Vault's logical.Secret): the host's lease manager revokes it when the lease ends, by sending a
// kRevoke request with `internal_data` back to the engine.
struct Lease {
  std::string secret_type;  // which of the engine's secret kinds ("pki")
  int64_t ttl_seconds = 0;
  bool renewable = false;
  Json internal_data = Json::object();
};

// A response whose body is not Vault's JSON envelope (DER/PEM certificates, CRLs, OCSP).
struct RawBody {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string cache_control;  // the Cache-Control header; empty: none (Vault's http_raw_cache_control)
};

struct Response {
  // A handler that found nothing returns a "nil" response: the transport answers 404 {"errors":[]} to reads and
  // lists, and 204 to writes, as Vault does.
  bool nil = false;
  Json data = Json::object();
  std::vector<std::string> warnings;
  std::optional<RawBody> raw;
  std::optional<Lease> lease;
  int status = 0;  // non-zero overrides the default 200/204 (e.g. 202 for async operations)
  // Vault's "auth" block (a token created or renewed by the host's token backend); null for engines.
  Json auth = nullptr;

  static Response Nil() {
    Response r;
    r.nil = true;
    return r;
  }
  static Response Data(Json d) {
    Response r;
    r.data = std::move(d);
    return r;
  }
  static Response Raw(std::string content_type, std::string body, int status = 200) {
    Response r;
    r.raw = RawBody{status, std::move(content_type), std::move(body), {}};
    return r;
  }
};

// The engine's entry point, served in-process or behind the plugin protocol. Thread-safe.
class LogicalBackend {
 public:
  virtual ~LogicalBackend() = default;
  virtual Result<Response> HandleRequest(const Request& req) = 0;
  // Mount-relative path patterns that need no token (Vault's SpecialPaths.Unauthenticated: a trailing '*' is a
  // prefix match, '+' matches one segment).
  virtual std::vector<std::string> UnauthenticatedPaths() const = 0;
  // Paths that need a root token or sudo capability (Vault's SpecialPaths.Root).
  virtual std::vector<std::string> RootPaths() const { return {}; }
  // Paths whose request bodies are binary, passed to the engine base64-encoded under "http_raw_body" (Vault's
  // SpecialPaths.Binary).
  virtual std::vector<std::string> BinaryPaths() const { return {}; }
  // Another node changed storage `key` (Vault's InvalidateKey on standbys): drop what is cached from it.
  virtual void InvalidateKey(std::string_view key) { (void)key; }
};

// Whether `path` matches one of Vault's special-path patterns ("cert/*", "issuer/+/pem", "ca").
bool MatchesSpecialPath(const std::vector<std::string>& patterns, const std::string& path);

}  // namespace pki
