// What pki-server serves to a plugin over the broker, as Vault serves it: pb.Storage (the mount's own storage, with
// Vault's physical semantics) and pb.SystemView (the mount's lease TTLs). Both are stateless adapters over objects
// the mount owns; they are safe for concurrent calls (gRPC's sync server calls them from its thread pool).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "backend.grpc.pb.h"
#include "src/crypto/sealer.h"
#include "src/engine/system_view.h"
#include "storage/rocksdb_storage.h"
#include "storage/storage.h"

namespace pki::server {

// Vault's List: the immediate children of `prefix`, sorted, sub-folders as "name/" once each. Built on the
// recursive ordered List without reading any subtree: after a key "a/b/c" it emits "a/" and resumes after the
// whole "a/" folder, so the cost is one bounded List call per child.
Status ListImmediateChildren(Storage* storage, std::string_view prefix, std::vector<std::string>* children);

// Seconds (the SystemView's unit) as Go's time.Duration (nanoseconds), saturating instead of overflowing.
int64_t SecondsToNanos(int64_t seconds);

class StorageService final : public pb::Storage::Service {
 public:
  // `storage` outlives the service.
  explicit StorageService(Storage* storage) : storage_(storage) {}

  grpc::Status List(grpc::ServerContext*, const pb::StorageListArgs* args, pb::StorageListReply* reply) override;
  grpc::Status Get(grpc::ServerContext*, const pb::StorageGetArgs* args, pb::StorageGetReply* reply) override;
  grpc::Status Put(grpc::ServerContext*, const pb::StoragePutArgs* args, pb::StoragePutReply* reply) override;
  grpc::Status Delete(grpc::ServerContext*, const pb::StorageDeleteArgs* args, pb::StorageDeleteReply* reply) override;

 private:
  Storage* const storage_;
};

// DefaultLeaseTTL and MaxLeaseTTL from the mount's SystemView (retunable at runtime, so read on every call); the
// plain facts of a single-node server for Tainted, CachingDisabled, ReplicationState, MlockEnabled and LocalMount;
// UNIMPLEMENTED for the rest (response wrapping, identity, ...), which a PKI plugin does not use.
class SystemViewService final : public pb::SystemView::Service {
 public:
  // `system` outlives the service.
  explicit SystemViewService(const SystemView* system) : system_(system) {}

  grpc::Status DefaultLeaseTTL(grpc::ServerContext*, const pb::Empty*, pb::TTLReply* reply) override;
  grpc::Status MaxLeaseTTL(grpc::ServerContext*, const pb::Empty*, pb::TTLReply* reply) override;
  grpc::Status Tainted(grpc::ServerContext*, const pb::Empty*, pb::TaintedReply* reply) override;
  grpc::Status CachingDisabled(grpc::ServerContext*, const pb::Empty*, pb::CachingDisabledReply* reply) override;
  grpc::Status ReplicationState(grpc::ServerContext*, const pb::Empty*, pb::ReplicationStateReply* reply) override;
  grpc::Status MlockEnabled(grpc::ServerContext*, const pb::Empty*, pb::MlockEnabledReply* reply) override;
  grpc::Status LocalMount(grpc::ServerContext*, const pb::Empty*, pb::LocalMountReply* reply) override;

 private:
  const SystemView* const system_;
};

// The storage pki-server keeps for one mount: a RocksDB in `dir`, opened on first use. A storage=host mount opens
// it at once (Open); a storage=rocksdb mount, whose plugin keeps its own database, pays nothing unless the plugin
// uses the host's storage anyway. Every value is sealed with `barrier` (AES-256-GCM) on the way to disk, as Vault's
// barrier encrypts what reaches its physical storage: the plugin leaves CA keys to the host's barrier. Thread-safe.
class MountHostStorage final : public Storage {
 public:
  // `barrier` outlives the storage.
  MountHostStorage(std::string dir, const KeySealer* barrier) : dir_(std::move(dir)), barrier_(barrier) {}

  // Opens the database now (idempotent).
  Status Open();
  // Flushes the database if it was opened.
  Status Flush();
  // Flushes and closes the database, releasing its lock; later calls fail. Idempotent.
  Status Close();
  // Writes a RocksDB checkpoint of the database into `dir` (RocksDBStorage::Checkpoint; values stay sealed with
  // the barrier key). False, writing nothing, when the database was never created (a storage=rocksdb mount whose
  // plugin never used the host's storage).
  Result<bool> Checkpoint(const std::string& dir);

  Status Get(std::string_view key, std::string* value) override;
  Status Put(std::string_view key, std::string_view value) override;
  Status Delete(std::string_view key) override;
  Status Write(const WriteBatch& batch) override;
  Status List(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys) override;

 private:
  // The database, opened if need be. Shared so that Close() never pulls it from under a call in flight.
  Result<std::shared_ptr<RocksDBStorage>> Db();

  const std::string dir_;
  const KeySealer* const barrier_;
  std::mutex mu_;
  std::shared_ptr<RocksDBStorage> db_;  // guarded by mu_
  bool closed_ = false;                 // guarded by mu_
};

}  // namespace pki::server
