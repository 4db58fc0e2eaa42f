#include "plugin/host_storage.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "plugin/log.h"

namespace pki::plugin {
namespace {

constexpr auto kStorageDeadline = std::chrono::seconds(60);
constexpr int64_t kVaultDefaultTtlSeconds = 768 * 3600;

void SetDeadline(grpc::ClientContext* ctx) { ctx->set_deadline(std::chrono::system_clock::now() + kStorageDeadline); }

Status TransportError(const char* op, const grpc::Status& s) {
  return Status::Internal(std::string("host storage ") + op + " failed: " + s.error_message());
}

Status AppError(const char* op, const std::string& err) {
  return Status::Internal(std::string("host storage ") + op + " failed: " + err);
}

}  // namespace

HostStorage::HostStorage(std::shared_ptr<grpc::Channel> channel, std::vector<std::string> seal_wrap_prefixes)
    : stub_(pb::Storage::NewStub(channel)), seal_wrap_prefixes_(std::move(seal_wrap_prefixes)) {}

Status HostStorage::Get(std::string_view key, std::string* value) {
  pb::StorageGetArgs args;
  args.set_key(std::string(key));
  pb::StorageGetReply reply;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->Get(&ctx, args, &reply);
  if (!s.ok()) return TransportError("get", s);
  if (!reply.err().empty()) return AppError("get", reply.err());
  if (!reply.has_entry()) return Status::NotFound();
  *value = reply.entry().value();
  return Status::Ok();
}

Status HostStorage::Put(std::string_view key, std::string_view value) {
  pb::StoragePutArgs args;
  pb::StorageEntry* e = args.mutable_entry();
  e->set_key(std::string(key));
  e->set_value(std::string(value));
  for (const auto& p : seal_wrap_prefixes_) {
    if (key.substr(0, p.size()) == p) e->set_seal_wrap(true);
  }
  pb::StoragePutReply reply;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->Put(&ctx, args, &reply);
  if (!s.ok()) return TransportError("put", s);
  if (!reply.err().empty()) return AppError("put", reply.err());
  return Status::Ok();
}

Status HostStorage::Delete(std::string_view key) {
  pb::StorageDeleteArgs args;
  args.set_key(std::string(key));
  pb::StorageDeleteReply reply;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->Delete(&ctx, args, &reply);
  if (!s.ok()) return TransportError("delete", s);
  if (!reply.err().empty()) return AppError("delete", reply.err());
  return Status::Ok();
}

Status HostStorage::Write(const WriteBatch& batch) {
  for (const auto& op : batch.ops()) {
    Status s = op.kind == WriteBatch::Op::kPut ? Put(op.key, op.value) : Delete(op.key);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status HostStorage::List(std::string_view prefix, std::string_view start_after, size_t limit,
                         std::vector<std::string>* keys) {
  constexpr auto kPagingLifetime = std::chrono::minutes(1);
  const auto now = std::chrono::steady_clock::now();
  FolderListings reuse;
  auto listed_at = now;
  {
    std::lock_guard<std::mutex> lock(paging_mu_);
    // A continuation page of the last paged walk reads that walk's folder listings instead of the host's.
    if (limit != 0 && !start_after.empty() && paging_.prefix == prefix && paging_.last_returned == start_after &&
        now - paging_.listed < kPagingLifetime) {
      reuse = paging_.folders;
      listed_at = paging_.listed;
    }
  }
  FolderListings used;
  size_t added = 0;
  const size_t before = keys->size();
  RETURN_IF_ERROR(Walk(std::string(prefix), "", start_after, limit, keys, &added, reuse, &used));
  if (limit != 0 && keys->size() > before) {
    std::lock_guard<std::mutex> lock(paging_mu_);
    paging_ = Paging{std::string(prefix), std::move(used), keys->back(), listed_at};
  }
  return Status::Ok();
}

Result<std::shared_ptr<const std::vector<std::string>>> HostStorage::ListFolder(const std::string& folder,
                                                                                const FolderListings& reuse) {
  if (auto it = reuse.find(folder); it != reuse.end()) return it->second;
  pb::StorageListArgs args;
  args.set_prefix(folder);
  pb::StorageListReply reply;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->List(&ctx, args, &reply);
  if (!s.ok()) return TransportError("list", s);
  if (!reply.err().empty()) return AppError("list", reply.err());
  auto children = std::make_shared<std::vector<std::string>>(reply.keys().begin(), reply.keys().end());
  // Depth-first over children sorted as strings (a folder "a/" keeps its trailing slash) yields the keys in
  // byte order: everything under "a/" shares that prefix.
  std::sort(children->begin(), children->end());
  return std::shared_ptr<const std::vector<std::string>>(std::move(children));
}

Status HostStorage::Walk(const std::string& prefix, const std::string& dir, std::string_view start_after,
                         size_t limit, std::vector<std::string>* keys, size_t* added, const FolderListings& reuse,
                         FolderListings* used) {
  ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<std::string>> children, ListFolder(prefix + dir, reuse));
  (*used)[prefix + dir] = children;
  // Children sorting at or before start_after (without holding it) are skipped by a binary search, not a scan:
  // a continuation page over a large flat folder costs O(log n + page).
  // Skipped: children sorting before start_after that do not hold it. They form a prefix of the sorted children
  // (anything between a folder "a/" and a start key under it also starts with "a/"), found by binary search: a
  // continuation page over a large flat folder costs O(log n + page), not O(n).
  auto first = std::partition_point(children->begin(), children->end(), [&](const std::string& child) {
    std::string full = dir + child;
    return std::string_view(full) < start_after && start_after.substr(0, full.size()) != full;
  });
  for (auto it = first; it != children->end(); ++it) {
    if (limit != 0 && *added >= limit) return Status::Ok();
    const std::string& child = *it;
    std::string full = dir + child;
    if (!child.empty() && child.back() == '/') {
      // Skip a folder whose whole subtree sorts at or before start_after.
      bool holds_start = start_after.substr(0, full.size()) == full;
      if (!holds_start && std::string_view(full) < start_after) continue;
      RETURN_IF_ERROR(Walk(prefix, full, start_after, limit, keys, added, reuse, used));
    } else if (std::string_view(full) > start_after) {
      keys->push_back(std::move(full));
      ++*added;
    }
  }
  return Status::Ok();
}

HostSystemView::HostSystemView(std::shared_ptr<grpc::Channel> channel)
    : stub_(pb::SystemView::NewStub(channel)) {}

namespace {

int64_t AskTtl(pb::SystemView::Stub* stub, bool max) {
  static std::atomic<bool> warned{false};
  pb::Empty req;
  pb::TTLReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = max ? stub->MaxLeaseTTL(&ctx, req, &reply) : stub->DefaultLeaseTTL(&ctx, req, &reply);
  if (!s.ok() || reply.ttl() <= 0) {
    if (!s.ok() && !warned.exchange(true)) {
      Log(LogLevel::kWarn, "host did not report lease TTLs; using 768h", {{"error", s.error_message()}});
    }
    return kVaultDefaultTtlSeconds;
  }
  return reply.ttl() / 1000000000;
}

}  // namespace

int64_t HostSystemView::DefaultLeaseTtl() const { return AskTtl(stub_.get(), false); }
int64_t HostSystemView::MaxLeaseTtl() const { return AskTtl(stub_.get(), true); }

}  // namespace pki::plugin
