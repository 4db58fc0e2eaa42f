// DevServer: pki-server assembled (in dev mode, or as a config file describes): the data directory, the server's
// own storage, the mount table (PKI mounted at pki/ on a dev server's first start; the declared mounts ensured),
// the root token, the Vault API and the HTTP/TLS listeners; and its clean stop.
//
// Data layout under the data directory (mode 0700):
//   sys/            RocksDB: the mount table, the cluster identity, ACL policies (policy/) and tokens (token/; only
//                   their SHA-256 digests; the dev root token is never stored)
//   mounts/<uuid>/  one directory per mount, owned by its engine: with the plugin host, the working directory of
//                   the mount's pki-plugin (rocksdb/ and rocksdb.seal-key for storage=rocksdb, host-storage/ for
//                   the host's storage)
//   (sys/ also holds the audit log's HMAC key, "core/audit-hmac-key", which never leaves the server)
//   pki-seal.key    the server's barrier key, sealing what plugins keep in the host's storage; also the seal key
//                   the in-process engine shared between mounts (mode 0600): mounts created then keep using it
// POST sys/storage/backup copies all of it, while serving, into a new directory of the same layout (backup.h).
// Start and Stop are called from one controlling thread; the server itself runs on the listener's threads:
// requests are handled on its worker pool, reads of sys/ (health, mounts, ...) on its I/O threads (see HttpServer
// and VaultApi::ServesInline).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/server/audit_log.h"
#include "src/server/backup.h"
#include "src/server/http_server.h"
#include "src/server/mount_backend.h"
#include "src/server/mount_setup.h"
#include "src/server/mount_table.h"
#include "src/server/server_config.h"
#include "src/server/policy_backend.h"
#include "src/server/policy_store.h"
#include "src/server/sys_backend.h"
#include "src/server/token_backend.h"
#include "src/server/token_store.h"
#include "src/server/vault_api.h"
#include "storage/rocksdb_storage.h"

namespace pki::server {

// Where a data directory keeps what.
struct DataLayout {
  std::string root;
  std::string sys_dir;        // <root>/sys
  std::string mounts_dir;     // <root>/mounts
  std::string seal_key_file;  // <root>/pki-seal.key
  static DataLayout For(const std::string& root);
};

inline constexpr int kDefaultWorkersPerCore = 16;
inline constexpr int kMinDefaultWorkers = 32;

struct DevServerOptions {
  std::string data_dir = "./data";
  std::string root_token;  // empty: a random token (see root_token_generated())
  // Non-empty (a configured server): the root token is read from this file, or, when it does not exist, generated
  // and written there (mode 0600) once everything else has started, just before serving. root_token is ignored.
  std::string root_token_file;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8200;  // 0: any free port
  int threads = 0;              // I/O threads; 0: hardware concurrency, at least 2
  // Request handler threads; 0: kDefaultWorkersPerCore per hardware thread, at least kMinDefaultWorkers. A
  // worker mostly waits (for a plugin's answer over gRPC, for fsync), so there are many more than cores: with 2
  // workers on 2 cores, issuance ran at ~1,300/s (stored) and ~1,800/s (no_store); with 32, ~2,450 and ~3,400.
  int worker_threads = 0;
  // Where to listen, plain or TLS. Empty: one plain listener on listen_host:listen_port.
  std::vector<ListenerOptions> listeners;
  // First start (no mount table in storage yet): mount PKI at pki/. Dev mode; a config file lists its mounts.
  bool mount_default_pki = true;
  // Ensured at every start (see EnsureMounts): mounted when absent, tuned when present.
  std::vector<ConfiguredMount> mounts;
  // From the config file: policies written at every start, tokens held in memory (see server_config.h).
  std::vector<ConfiguredPolicy> policies;
  std::vector<ConfiguredToken> tokens;
  std::string audit_log_path;  // the audit log file (-audit-log, config key "audit_log"; docs/audit.md); empty: none
};

// Creates the data directory `dir` with mode 0700 (parents 0755 as needed). An existing directory is left as it
// is (it may be shared, e.g. /tmp), with a warning when others can access it.
Status PrepareDataDir(const std::string& dir);

// Builds the engine factory once the data directory exists (factories may keep files in it).
using FactoryMaker = std::function<Result<std::unique_ptr<MountBackendFactory>>(const DataLayout&)>;

class DevServer {
 public:
  // In this order, so that a start refused for a listener (a TLS file, a key that does not match, a port in use)
  // changes nothing on disk: reads the TLS files and binds every listener; prepares the data directory and reads
  // the root token file; opens storage, the audit log and the mounts (ensuring the declared ones); writes the
  // configured policies; writes a new root token file; then serves.
  static Result<std::unique_ptr<DevServer>> Start(const DevServerOptions& options, const FactoryMaker& make_factory);
  ~DevServer();

  const std::string& root_token() const { return root_token_; }
  // The root token was generated on this start (and, with root_token_file, written there).
  bool root_token_generated() const { return root_token_generated_; }
  // The first listener's bound address, "127.0.0.1:8200"; every listener's through http().
  std::string address() const { return http_->address(); }
  const HttpServer& http() const { return *http_; }
  int threads() const { return http_->threads(); }
  int worker_threads() const { return http_->worker_threads(); }
  const DataLayout& layout() const { return layout_; }
  std::vector<MountEntry> mounts() const;
  // The server's tokens and policies (for start-up configuration: PolicyStore::PutPolicy, TokenStore::EnsureToken).
  TokenStore* tokens() const { return tokens_.get(); }
  PolicyStore* policies() const { return policies_.get(); }

  // Whether an audit device is enabled (DevServerOptions::audit_log_path).
  bool audit_enabled() const { return audit_ != nullptr; }

  // Closes and reopens the audit log file (log rotation; main.cc calls it on SIGHUP). Ok without an audit device.
  // On failure requests fail with 500 until the file can be opened again (each request retries).
  Status ReopenAuditLog();

  // Reads the listeners' TLS certificates and keys again (SIGHUP); nothing changes when one fails.
  Status ReloadTls() { return http_->ReloadTls(); }

  // Stops accepting, finishes requests in flight (up to 30 s), closes every mount's engine and flushes storage.
  // Idempotent; returns the first failure.
  Status Stop();

 private:
  DevServer() = default;

  DataLayout layout_;
  std::string root_token_;
  bool root_token_generated_ = false;
  // Declaration order is teardown order reversed: the listener goes first, the server's storage last.
  std::unique_ptr<RocksDBStorage> sys_storage_;
  std::unique_ptr<MountBackendFactory> factory_;
  std::unique_ptr<MountTable> mounts_;
  std::unique_ptr<PolicyStore> policies_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<PolicyBackend> policy_backend_;
  std::unique_ptr<DataDirBackup> backup_;
  std::unique_ptr<SysBackend> sys_;
  std::unique_ptr<TokenBackend> token_auth_;
  std::unique_ptr<AuditLog> audit_;  // null: no audit device
  std::unique_ptr<AuditHashBackend> audit_hash_;
  std::unique_ptr<VaultApi> api_;
  std::unique_ptr<HttpServer> http_;
  bool stopped_ = false;
};

}  // namespace pki::server
