#include "src/server/host_services.h"

#include <filesystem>
#include <limits>

namespace pki::server {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// App errors travel in the reply's err string with an OK gRPC status, as Vault's host answers.
std::string ErrText(const Status& s) { return s.message().empty() ? "storage error" : s.message(); }

}  // namespace

Status ListImmediateChildren(Storage* storage, std::string_view prefix, std::vector<std::string>* children) {
  std::string start_after;  // relative to prefix
  std::string folder;       // the folder emitted last ("a/"), whose subtree is being skipped
  std::vector<std::string> page;
  for (;;) {
    page.clear();
    RETURN_IF_ERROR(storage->List(prefix, start_after, 1, &page));
    if (page.empty()) return Status::Ok();
    const std::string& key = page.front();
    if (!folder.empty() && key.starts_with(folder)) {
      // Only a key with 0xff bytes (never in UTF-8) sorts past the fence set below: raise the fence past it.
      start_after = folder + std::string(key.size() - folder.size() + 1, '\xff');
      continue;
    }
    if (key.empty()) {  // the prefix itself is a key: not one of its children
      start_after = std::string(1, '\0');
      continue;
    }
    size_t slash = key.find('/');
    if (slash == std::string::npos) {
      children->push_back(key);
      start_after = key;
      continue;
    }
    folder = key.substr(0, slash + 1);
    children->push_back(folder);
    // Every key in the folder is folder + UTF-8 text, which sorts below folder + "\xff".
    start_after = folder + '\xff';
  }
}

int64_t SecondsToNanos(int64_t seconds) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / kNanosPerSecond;
  if (seconds > kMax) return std::numeric_limits<int64_t>::max();
  if (seconds < -kMax) return std::numeric_limits<int64_t>::min();
  return seconds * kNanosPerSecond;
}

// ---- StorageService

grpc::Status StorageService::List(grpc::ServerContext*, const pb::StorageListArgs* args,
                                  pb::StorageListReply* reply) {
  std::vector<std::string> children;
  Status s = ListImmediateChildren(storage_, args->prefix(), &children);
  if (!s.ok()) {
    reply->set_err(ErrText(s));
    return grpc::Status::OK;
  }
  for (auto& c : children) reply->add_keys(std::move(c));
  return grpc::Status::OK;
}

grpc::Status StorageService::Get(grpc::ServerContext*, const pb::StorageGetArgs* args, pb::StorageGetReply* reply) {
  std::string value;
  Status s = storage_->Get(args->key(), &value);
  if (s.IsNotFound()) return grpc::Status::OK;  // entry unset, err ""
  if (!s.ok()) {
    reply->set_err(ErrText(s));
    return grpc::Status::OK;
  }
  pb::StorageEntry* entry = reply->mutable_entry();
  entry->set_key(args->key());
  entry->set_value(std::move(value));
  return grpc::Status::OK;
}

grpc::Status StorageService::Put(grpc::ServerContext*, const pb::StoragePutArgs* args, pb::StoragePutReply* reply) {
  const std::string& key = args->entry().key();
  if (key.empty()) {
    reply->set_err("storage key cannot be empty");
    return grpc::Status::OK;
  }
  // seal_wrap asks for a second layer under a seal that can wrap; this host has no such seal (as Vault's open
  // source edition, which stores seal-wrapped entries as any other).
  Status s = storage_->Put(key, args->entry().value());
  if (!s.ok()) reply->set_err(ErrText(s));
  return grpc::Status::OK;
}

grpc::Status StorageService::Delete(grpc::ServerContext*, const pb::StorageDeleteArgs* args,
                                    pb::StorageDeleteReply* reply) {
  Status s = storage_->Delete(args->key());
  if (!s.ok()) reply->set_err(ErrText(s));
  return grpc::Status::OK;
}

// ---- SystemViewService

grpc::Status SystemViewService::DefaultLeaseTTL(grpc::ServerContext*, const pb::Empty*, pb::TTLReply* reply) {
  reply->set_ttl(SecondsToNanos(system_->DefaultLeaseTtl()));
  return grpc::Status::OK;
}

grpc::Status SystemViewService::MaxLeaseTTL(grpc::ServerContext*, const pb::Empty*, pb::TTLReply* reply) {
  reply->set_ttl(SecondsToNanos(system_->MaxLeaseTtl()));
  return grpc::Status::OK;
}

grpc::Status SystemViewService::Tainted(grpc::ServerContext*, const pb::Empty*, pb::TaintedReply* reply) {
  reply->set_tainted(false);
  return grpc::Status::OK;
}

grpc::Status SystemViewService::CachingDisabled(grpc::ServerContext*, const pb::Empty*,
                                                pb::CachingDisabledReply* reply) {
  reply->set_disabled(false);
  return grpc::Status::OK;
}

grpc::Status SystemViewService::ReplicationState(grpc::ServerContext*, const pb::Empty*,
                                                 pb::ReplicationStateReply* reply) {
  reply->set_state(0);
  return grpc::Status::OK;
}

grpc::Status SystemViewService::MlockEnabled(grpc::ServerContext*, const pb::Empty*, pb::MlockEnabledReply* reply) {
  reply->set_enabled(false);
  return grpc::Status::OK;
}

grpc::Status SystemViewService::LocalMount(grpc::ServerContext*, const pb::Empty*, pb::LocalMountReply* reply) {
  reply->set_local(false);
  return grpc::Status::OK;
}

// ---- MountHostStorage

Result<std::shared_ptr<RocksDBStorage>> MountHostStorage::Db() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return Status::Internal("the mount's host storage is closed");
  if (!db_) {
    auto opened = RocksDBStorage::Open(dir_);
    if (!opened.ok()) return opened.status().Annotate("opening the mount's host storage");
    db_ = std::move(opened).value();
  }
  return db_;
}

Status MountHostStorage::Open() { return Db().status(); }

Status MountHostStorage::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  return db_ ? db_->Flush() : Status::Ok();
}

Status MountHostStorage::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  if (!db_) return Status::Ok();
  Status st = db_->Flush();
  db_.reset();
  return st;
}

Result<bool> MountHostStorage::Checkpoint(const std::string& dir) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::error_code ec;
    // Opening it here would create an empty database only to copy it.
    if (!db_ && !closed_ && !std::filesystem::exists(dir_, ec)) return false;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<RocksDBStorage> db, Db());
  RETURN_IF_ERROR(db->Checkpoint(dir));
  return true;
}

Status MountHostStorage::Get(std::string_view key, std::string* value) {
  ASSIGN_OR_RETURN(std::shared_ptr<RocksDBStorage> db, Db());
  std::string sealed;
  RETURN_IF_ERROR(db->Get(key, &sealed));
  ASSIGN_OR_RETURN(*value, barrier_->Open(sealed));
  return Status::Ok();
}

Status MountHostStorage::Put(std::string_view key, std::string_view value) {
  ASSIGN_OR_RETURN(std::shared_ptr<RocksDBStorage> db, Db());
  ASSIGN_OR_RETURN(std::string sealed, barrier_->Seal(std::string(value)));
  return db->Put(key, sealed);
}

Status MountHostStorage::Delete(std::string_view key) {
  ASSIGN_OR_RETURN(std::shared_ptr<RocksDBStorage> db, Db());
  return db->Delete(key);
}

Status MountHostStorage::Write(const WriteBatch& batch) {
  ASSIGN_OR_RETURN(std::shared_ptr<RocksDBStorage> db, Db());
  WriteBatch sealed;
  for (const auto& op : batch.ops()) {
    if (op.kind == WriteBatch::Op::kDelete) {
      sealed.Delete(op.key);
      continue;
    }
    ASSIGN_OR_RETURN(std::string value, barrier_->Seal(op.value));
    sealed.Put(op.key, std::move(value));
  }
  return db->Write(sealed);
}

Status MountHostStorage::List(std::string_view prefix, std::string_view start_after, size_t limit,
                              std::vector<std::string>* keys) {
  ASSIGN_OR_RETURN(std::shared_ptr<RocksDBStorage> db, Db());
  return db->List(prefix, start_after, limit, keys);
}

}  // namespace pki::server
