// storage=host: the engine's Storage and SystemView served by the host (Vault, OpenBao, pki-server) over the
// broker connection, through pb.Storage and pb.SystemView.
//
// The engine cannot tell this storage from RocksDB, with two differences a host imposes:
//   - pb.Storage has no transactions: a WriteBatch is applied op by op, in order (Vault's own engines have the
//     same limit). The engine orders its batches so that an interrupted one leaves no dangling reference.
//   - pb.Storage lists one level at a time (folders end in "/"), whole, without ranges or pages; an ordered
//     recursive listing with a start key walks the folders, skipping every subtree that sorts before the start
//     key. A paged walk through a large folder (a CRL build reading the revoked index 10k at a time) would
//     re-list the folder for every page, so the listing of a paged walk is kept for its continuation pages: a
//     call whose start key is the last key the previous page returned, within a minute, reads the kept listing.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "backend.grpc.pb.h"
#include "src/engine/system_view.h"
#include "storage/storage.h"

namespace pki::plugin {

class HostStorage final : public Storage {
 public:
  // `seal_wrap_prefixes`: keys under these prefixes are written with seal_wrap set (Vault seal-wraps them when the
  // mount declares them in SpecialPaths.seal_wrap_storage).
  HostStorage(std::shared_ptr<grpc::Channel> channel, std::vector<std::string> seal_wrap_prefixes);

  Status Get(std::string_view key, std::string* value) override;
  Status Put(std::string_view key, std::string_view value) override;
  Status Delete(std::string_view key) override;
  Status Write(const WriteBatch& batch) override;
  Status List(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys) override;

 private:
  // Folder (full key prefix) -> its sorted children, as listed by the host.
  using FolderListings = std::map<std::string, std::shared_ptr<const std::vector<std::string>>>;

  // The sorted children of `folder`: from `reuse` when there, else from the host.
  Result<std::shared_ptr<const std::vector<std::string>>> ListFolder(const std::string& folder,
                                                                     const FolderListings& reuse);
  // Appends keys below `dir` (relative to `prefix`) that sort after start_after, depth first in key order,
  // recording the folder listings it used in *used.
  Status Walk(const std::string& prefix, const std::string& dir, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys, size_t* added, const FolderListings& reuse, FolderListings* used);

  // The folder listings of the last paged walk, for its continuation pages.
  struct Paging {
    std::string prefix;
    FolderListings folders;
    std::string last_returned;
    std::chrono::steady_clock::time_point listed;
  };

  std::unique_ptr<pb::Storage::Stub> stub_;
  const std::vector<std::string> seal_wrap_prefixes_;
  std::mutex paging_mu_;
  Paging paging_;  // guarded by paging_mu_
};

// The mount's lease TTLs as the host reports them (pb.SystemView, nanoseconds on the wire). When the host cannot
// answer, Vault's defaults (768h) are used and the failure is logged once.
class HostSystemView final : public SystemView {
 public:
  explicit HostSystemView(std::shared_ptr<grpc::Channel> channel);
  int64_t DefaultLeaseTtl() const override;
  int64_t MaxLeaseTtl() const override;

 private:
  std::unique_ptr<pb::SystemView::Stub> stub_;
};

}  // namespace pki::plugin
