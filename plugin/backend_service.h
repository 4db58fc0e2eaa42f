// pb.Backend over the PKI engine: what Vault's SDK does for a Go plugin (sdk/plugin/grpc_backend_server.go), for
// our engine.
//
// Setup reads the mount options and builds one engine over the storage they name:
//   storage=rocksdb (default)  a node-local RocksDB at rocksdb_path (default <cwd>/pki-plugin-data/<backend UUID>);
//                              CA keys sealed with the AES-256-GCM key in seal_key_file (default
//                              <rocksdb_path>.seal-key, created 0600 when absent).
//   storage=host               the host's storage over the broker (pb.Storage); CA keys rely on the host's
//                              barrier and are declared in SpecialPaths.seal_wrap_storage.
// publish_address=HOST:PORT (optional) also serves the mount's CRLs, CA and OCSP over plain HTTP on that address
// (plugin/publish.h) for as long as the mount's engine lives; a Setup whose address cannot be bound is refused.
// Either way the mount's lease TTLs come from the host's pb.SystemView over the broker.
// One path is the adapter's own rather than the engine's: storage/checkpoint (a backup of a storage=rocksdb
// mount's database, declared in SpecialPaths.root so that a host requires sudo for it; see Checkpoint below).
// Type and SpecialPaths answer before Setup; a Setup without a backend UUID or storage options (Vault's
// registration probe) builds nothing, and requests then fail until a real Setup.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>

#include "backend.grpc.pb.h"
#include "logical_version.grpc.pb.h"
#include "plugin/broker.h"
#include "src/core/clock.h"
#include "src/engine/request.h"

namespace pki::plugin {

class BackendService final : public pb::Backend::Service {
 public:
  // `broker` and `clock` outlive the service. `working_dir` anchors the default RocksDB path.
  BackendService(BrokerService* broker, const Clock* clock, std::string working_dir);
  ~BackendService() override;

  grpc::Status Setup(grpc::ServerContext*, const pb::SetupArgs* args, pb::SetupReply* reply) override;
  grpc::Status Initialize(grpc::ServerContext*, const pb::InitializeArgs*, pb::InitializeReply* reply) override;
  grpc::Status Type(grpc::ServerContext*, const pb::Empty*, pb::TypeReply* reply) override;
  grpc::Status SpecialPaths(grpc::ServerContext*, const pb::Empty*, pb::SpecialPathsReply* reply) override;
  grpc::Status HandleRequest(grpc::ServerContext*, const pb::HandleRequestArgs* args,
                             pb::HandleRequestReply* reply) override;
  grpc::Status HandleExistenceCheck(grpc::ServerContext*, const pb::HandleExistenceCheckArgs*,
                                    pb::HandleExistenceCheckReply* reply) override;
  grpc::Status InvalidateKey(grpc::ServerContext*, const pb::InvalidateKeyArgs* args, pb::Empty*) override;
  grpc::Status Cleanup(grpc::ServerContext*, const pb::Empty*, pb::Empty*) override;

  // Flushes and closes the mount's storage (at process exit, when the host never called Cleanup).
  void Close();

  struct Mount;  // one Setup's engine and what it runs on

 private:
  // storage/checkpoint (update; field `path`, an absolute directory that must not exist): writes a RocksDB
  // checkpoint of a storage=rocksdb mount's database there and a copy of its seal key to `<path>.seal-key`
  // (0600). A storage=host mount answers 400: its data is in the host's storage. Caller holds mu_ shared.
  static Result<Response> Checkpoint(const Mount& mount, const Request& req);

  BrokerService* const broker_;
  const Clock* const clock_;
  const std::string working_dir_;
  const pb::Paths special_;  // SpecialPaths' answer, the same for every mount

  // Requests hold it shared; Setup, Cleanup and Close exclusively, so that an engine is never torn down under a
  // request. The publication listener's requests do not take it: the mount stops its listener (waiting for them)
  // before it lets go of the engine.
  std::shared_mutex mu_;
  std::unique_ptr<Mount> mount_;  // guarded by mu_
};

// logical.PluginVersion: the version Vault records at registration.
class VersionService final : public logical::PluginVersion::Service {
 public:
  grpc::Status Version(grpc::ServerContext*, const logical::Empty*, logical::VersionReply* reply) override;
};

// The plugin's semantic version ("v0.1.0").
const char* PluginVersionString();

}  // namespace pki::plugin
