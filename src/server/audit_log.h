// AuditLog: pki-server's audit device, shaped as Vault's file audit device (docs/audit.md).
//
// Every request that reaches the router gets one JSON line before it runs ("type":"request") and one after
// ("type":"response"), in Vault's file-audit format. Secrets are HMAC'd as Vault does ("hmac-sha256:<hex>", keyed
// by a per-server random key kept in the server's sys storage): the client token always, and in request and
// response data every string value except those under a fixed allowlist of non-secret keys (kAuditClearKeys).
// Token accessors are written in clear (Vault's hmac_accessor=false). Raw responses (CRLs, PEM) are recorded by
// content type and size, never in full.
//
// Thread-safe: the key is immutable after construction; lines are handed to the sink, which serialises writes.
// A failed write is returned to the caller, who must fail the request (VaultApi does, as Vault).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "src/core/status.h"
#include "src/engine/request.h"
#include "storage/storage.h"

namespace pki::server {

// Who made a request, as the token store resolved its token: the seam between token resolution and the audit
// log. VaultApi fills it for every authenticated request; a token store with more than the root token fills the
// entry's own accessor, name and policies.
struct AuditAuth {
  std::string token;         // the client token; only its HMAC is ever written
  std::string accessor;      // written in clear: it names the token without granting anything
  std::string display_name;  // "root"
  std::vector<std::string> policies;
  std::string token_type = "service";
};

// One request as the audit log records it.
struct AuditRequest {
  std::string id;  // the request id, also the envelope's request_id
  Operation operation = Operation::kRead;
  std::string mount_type;   // "pki", "system", "token"; empty when no mount matched
  std::string mount_point;  // "pki/"
  std::string path;         // the full logical path: "pki/issue/web"
  const Json* data = nullptr;  // request data (query or body); not owned, only read while the record is built
  std::string remote_address;  // the peer's IP address, "127.0.0.1"; empty: not over a socket
  uint16_t remote_port = 0;
  std::string client_token;  // the token the client presented (valid or not); only its HMAC is written
  std::string client_token_accessor;
};

// How a request ended, for its response line.
struct AuditOutcome {
  int status = 0;                      // the HTTP status the client is answered with
  const Response* response = nullptr;  // the engine's response, when it gave one (not owned)
  std::string error;                   // the error texts ("; "-joined); empty: none
};

// Keys whose string values are written in clear, at any depth (the nearest enclosing object key decides, as in
// Vault's audit_non_hmac_*_keys): identifiers, names and validity facts an operator searches for. Every other
// string value is HMAC'd. RFC 3339 timestamps are always in clear, as Vault leaves them.
extern const std::span<const std::string_view> kAuditClearKeys;

// Where audit lines go: one call per complete line (ending in '\n'). Thread-safe: lines never interleave.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual Status Append(std::string_view line) = 0;
  // Closes and reopens the destination (log rotation). After a failed reopen every Append fails until a later
  // Append or Reopen succeeds in opening it again.
  virtual Status Reopen() = 0;
};

// A file opened O_APPEND (created with mode 0600; an existing regular file is set to 0600, as Vault does), one
// write(2) per line under a mutex. As Vault's file device: a failed write closes the file, reopens it and retries
// once; while the file cannot be opened, every Append tries again and fails.
class AuditFileSink final : public AuditSink {
 public:
  // Fails when `path` cannot be opened for appending (so that a server does not start without its audit log).
  static Result<std::unique_ptr<AuditFileSink>> Open(std::string path);
  ~AuditFileSink() override;

  Status Append(std::string_view line) override;
  Status Reopen() override;

 private:
  explicit AuditFileSink(std::string path) : path_(std::move(path)) {}
  Status OpenLocked();   // requires mu_
  void CloseLocked();    // requires mu_

  const std::string path_;
  std::mutex mu_;
  int fd_ = -1;  // guarded by mu_; -1: closed (the last open failed)
};

// The server's audit device: formats lines and hands them to its sink.
class AuditLog {
 public:
  // The device name, as `vault audit enable file` would name it; sys/audit-hash/<name> selects it.
  static constexpr std::string_view kDeviceName = "file/";

  // The device writing to the file `path`, keyed by the HMAC key stored in `sys_storage` (created on first use).
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, Storage* sys_storage);

  // Reads the HMAC key from `storage`, or creates, stores and returns 32 random bytes.
  static Result<std::string> LoadOrCreateKey(Storage* storage);

  // `hmac_key` must not be empty.
  AuditLog(std::unique_ptr<AuditSink> sink, std::string_view hmac_key);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // "hmac-sha256:<hex>" of `input` under the device's key: what the log writes for `input`.
  std::string Hash(std::string_view input) const;

  // A request's auth and request blocks, rendered once and shared by its two lines.
  struct Record {
    std::string auth;     // JSON object
    std::string request;  // JSON object
    std::string mount_point;
    std::string mount_type;
  };
  // `auth` is null for a request without a valid token.
  Record Prepare(const AuditAuth* auth, const AuditRequest& req) const;

  // Writes the request line (before the request runs). `error` (empty: none) records why it was refused.
  Status LogRequest(const Record& record, std::string_view error);
  // Writes the response line.
  Status LogResponse(const Record& record, const AuditOutcome& outcome);

  // Reopens the sink (SIGHUP).
  Status Reopen() { return sink_->Reopen(); }

  // Appends `value` as JSON to `out`, HMAC'ing string values as the log does (`clear`: the enclosing key is on the
  // allowlist). Exposed for tests.
  void AppendHashedJson(std::string* out, const Json& value, bool clear) const;

 private:
  std::unique_ptr<AuditSink> sink_;
  EVP_MAC* mac_ = nullptr;           // owned; immutable
  EVP_MAC_CTX* key_template_ = nullptr;  // owned; initialised with the key, only duplicated (never updated)
};

// Whether `s` is an RFC 3339 timestamp as Go's time.Time.UnmarshalText accepts it ("2024-05-01T10:00:00Z",
// fractional seconds and numeric offsets included).
bool IsRfc3339Timestamp(std::string_view s);

// Vault's sys/audit-hash/<device>: POST {"input"} answers {"hash"}, the HMAC the device writes for the input, so
// that operators can search the log for a known value (a token) without the key ever leaving the server. Served
// as a builtin at "sys/audit-hash/" (paths relative to it: the device name). Thread-safe.
class AuditHashBackend final : public LogicalBackend {
 public:
  // `audit` may be null (no audit device: every name is unknown); it must outlive the backend.
  explicit AuditHashBackend(const AuditLog* audit) : audit_(audit) {}
  Result<Response> HandleRequest(const Request& req) override;
  std::vector<std::string> UnauthenticatedPaths() const override { return {}; }

 private:
  const AuditLog* const audit_;
};

}  // namespace pki::server
