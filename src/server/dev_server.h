// DevServer: pki-server in dev mode, assembled: the data directory, the server's own storage, the mount table
// (PKI mounted at pki/ on first start), the root token, the Vault API and the HTTP listener; and its clean stop.
//
// Data layout under the data directory (mode 0700):
//   sys/            RocksDB: the mount table, the cluster identity, ACL policies (policy/) and tokens (token/; only
//                   their SHA-256 digests; the dev root token is never stored)
//   mounts/<uuid>/  one directory per mount, owned by its engine: with the plugin host, the working directory of
//                   the mount's pki-plugin (rocksdb/ and rocksdb.seal-key for storage=rocksdb, host-storage/ for
//                   the host's storage)
//   pki-seal.key    the seal key the in-process engine shared between mounts (mode 0600); mounts created then
//                   keep using it
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
#include "src/server/http_server.h"
#include "src/server/mount_backend.h"
#include "src/server/mount_table.h"
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

struct DevServerOptions {
  std::string data_dir = "./data";
  std::string root_token;  // empty: a random token (see root_token_generated())
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8200;  // 0: any free port
  int threads = 0;              // I/O threads; 0: hardware concurrency, at least 2
  int worker_threads = 0;       // request handler threads; 0: hardware concurrency, at least 2
};

// Builds the engine factory once the data directory exists (factories may keep files in it).
using FactoryMaker = std::function<Result<std::unique_ptr<MountBackendFactory>>(const DataLayout&)>;

class DevServer {
 public:
  static Result<std::unique_ptr<DevServer>> Start(const DevServerOptions& options, const FactoryMaker& make_factory);
  ~DevServer();

  const std::string& root_token() const { return root_token_; }
  bool root_token_generated() const { return root_token_generated_; }
  // The bound listen address, "127.0.0.1:8200".
  std::string address() const { return http_->address(); }
  int threads() const { return http_->threads(); }
  int worker_threads() const { return http_->worker_threads(); }
  const DataLayout& layout() const { return layout_; }
  std::vector<MountEntry> mounts() const;
  // The server's tokens and policies (for start-up configuration: PolicyStore::PutPolicy, TokenStore::EnsureToken).
  TokenStore* tokens() const { return tokens_.get(); }
  PolicyStore* policies() const { return policies_.get(); }

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
  std::unique_ptr<SysBackend> sys_;
  std::unique_ptr<TokenBackend> token_auth_;
  std::unique_ptr<VaultApi> api_;
  std::unique_ptr<HttpServer> http_;
  bool stopped_ = false;
};

}  // namespace pki::server
