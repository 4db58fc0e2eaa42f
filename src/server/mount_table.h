// The mount table: which engine serves which path prefix, with its tunable lease TTLs.
//
// The table persists in the server's own storage (key "core/mounts", one JSON document rewritten on every
// change) and starts each mount's engine through a MountBackendFactory. Requests find their mount by longest
// prefix, as Vault's router does.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/engine/request.h"
#include "src/engine/system_view.h"
#include "src/server/mount_backend.h"
#include "storage/storage.h"

namespace pki::server {

// Vault's system-wide lease TTLs (768h), which apply where a mount's config says 0.
inline constexpr int64_t kSystemDefaultLeaseTtl = 768 * 3600;
inline constexpr int64_t kSystemMaxLeaseTtl = 768 * 3600;

// A mount's configured lease TTLs, in seconds; 0 means "the system value".
struct MountConfig {
  int64_t default_lease_ttl = 0;
  int64_t max_lease_ttl = 0;
};

// One row of the mount table, as persisted.
struct MountEntry {
  std::string path;  // "pki/": no leading slash, one trailing slash
  std::string type;  // "pki"
  std::string description;
  std::string uuid;
  std::string accessor;  // "pki_1a2b3c4d"
  std::map<std::string, std::string> options;
  bool local = false;
  bool seal_wrap = false;
  MountConfig config;

  Json ToJson() const;
  static Result<MountEntry> FromJson(const Json& j);
};

// A mount's SystemView. The TTLs change when the mount is tuned while requests run: thread-safe (atomics).
class MountSystemView final : public SystemView {
 public:
  explicit MountSystemView(MountConfig config) { Set(config); }
  // Effective values: the mount's own, or the system's where the mount says 0 (as Vault's dynamicSystemView).
  int64_t DefaultLeaseTtl() const override;
  int64_t MaxLeaseTtl() const override;
  void Set(MountConfig config);

 private:
  std::atomic<int64_t> default_lease_ttl_{0};  // configured value, 0 = system
  std::atomic<int64_t> max_lease_ttl_{0};      // configured value, 0 = system
};

// One live mount: its entry, its SystemView and its running engine. Shared (std::shared_ptr) between the table
// and the requests in flight, so an unmount never pulls the engine from under a request: the engine is closed,
// and its data removed after an unmount, when the last holder lets go. Thread-safe.
class Mount {
 public:
  Mount(MountEntry entry, std::string data_dir);
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  // A snapshot of the entry (description and TTLs may be retuned concurrently).
  MountEntry entry() const;
  const std::string& path() const { return path_; }
  const std::string& type() const { return type_; }
  LogicalBackend& backend() const { return *backend_; }
  const SystemView& system_view() const { return system_; }
  // The engine's unauthenticated path globs, fetched once when it started (as Vault fetches SpecialPaths).
  const std::vector<std::string>& unauthenticated_paths() const { return unauthenticated_; }
  // The engine's root path globs (sudo required), fetched once with the unauthenticated ones.
  const std::vector<std::string>& root_paths() const { return root_paths_; }
  bool Serving() const { return backend_ && backend_->Serving(); }
  // The engine's copy of the mount's data into `dir` (MountedBackend::Checkpoint).
  Result<std::vector<BackupItem>> Checkpoint(const std::string& dir) const;

 private:
  friend class MountTable;
  Status StartBackend(MountBackendFactory* factory);
  void SetTunables(MountConfig config, std::string description);
  Status CloseBackend();

  const std::string path_;
  const std::string type_;
  const std::string data_dir_;
  mutable std::mutex mu_;
  MountEntry entry_;         // guarded by mu_ (tune changes description and config)
  MountSystemView system_;   // lock-free; declared before backend_, which holds a pointer to it
  std::unique_ptr<MountedBackend> backend_;   // set once before the mount is published, then immutable
  std::vector<std::string> unauthenticated_;  // set with backend_, then immutable
  std::vector<std::string> root_paths_;       // set with backend_, then immutable
  std::atomic<bool> closed_{false};        // Close() already called on backend_
  std::atomic<bool> remove_data_{false};   // unmounted: remove data_dir_ once closed
};

// What a tune request changes; absent fields keep their value.
struct MountTune {
  std::optional<int64_t> default_lease_ttl;  // 0 = system
  std::optional<int64_t> max_lease_ttl;      // 0 = system
  std::optional<std::string> description;
};

// The table. Safe for concurrent use: lookups take a shared lock on the map; changes (mount, unmount, tune,
// close) are serialised by a second mutex held across the factory call and the write to storage.
class MountTable {
 public:
  // Loads the table from `storage` and starts every mount's engine. Mount data directories are created under
  // `mounts_dir`. `storage` and `factory` must outlive the table.
  static Result<std::unique_ptr<MountTable>> Open(Storage* storage, MountBackendFactory* factory,
                                                  std::string mounts_dir);
  ~MountTable();

  // Whether storage held a table when opened (false on a server's first start).
  bool loaded_from_storage() const { return loaded_from_storage_; }

  // The mount serving `path` (longest prefix; "pki" means "pki/"), with the path relative to it.
  struct Match {
    std::shared_ptr<Mount> mount;
    std::string relative_path;
  };
  std::optional<Match> Resolve(const std::string& path) const;

  // Every mount, ordered by path.
  std::vector<std::shared_ptr<Mount>> List() const;

  // The mount an existing mount path (or a path below it) belongs to, or null.
  std::shared_ptr<Mount> Find(const std::string& path) const;

  // The mount `path` would overlap (an existing mount above or below it), or "" when it is free.
  std::string Conflict(const std::string& path) const;

  // Adds a mount. `entry.path` must be sanitised ("pki/"); uuid and accessor are assigned here. Returns the
  // stored entry. BadRequest for an invalid, protected or taken path.
  Result<MountEntry> AddMount(MountEntry entry);

  // Removes the mount at exactly `path` and (once its last request finished) deletes its data. Removing an
  // absent mount succeeds, as in Vault.
  Status RemoveMount(const std::string& path);

  // Changes the tunables of the mount serving `path`. NotFound when there is none.
  Status TuneMount(const std::string& path, const MountTune& tune);

  // Whether every mount's engine is serving.
  bool AllServing() const;

  // Closes every engine (flushing its storage). The table is empty afterwards.
  Status Close();

  // Calls `fn` with every mount (ordered by path) while mounts, unmounts and tunes wait for it, so that the table
  // in storage stays the one `fn` was given (a backup copies both). Requests keep being served.
  Status WithChangesHeld(const std::function<Status(const std::vector<std::shared_ptr<Mount>>&)>& fn);

 private:
  MountTable(Storage* storage, MountBackendFactory* factory, std::string mounts_dir)
      : storage_(storage), factory_(factory), mounts_dir_(std::move(mounts_dir)) {}
  Status Load();
  // Writes `entries` as the table. Caller holds change_mu_.
  Status Persist(const std::vector<MountEntry>& entries);
  std::vector<MountEntry> EntriesLocked() const;
  std::string ConflictLocked(const std::string& path) const;
  Result<std::shared_ptr<Mount>> StartMount(const MountEntry& entry);

  Storage* const storage_;
  MountBackendFactory* const factory_;
  const std::string mounts_dir_;
  bool loaded_from_storage_ = false;  // set in Load, then immutable

  std::mutex change_mu_;  // serialises AddMount/RemoveMount/TuneMount/Close and the table's storage key
  mutable std::shared_mutex map_mu_;
  std::map<std::string, std::shared_ptr<Mount>> mounts_;  // guarded by map_mu_; keyed by mount path
};

// Normalises a user-given mount path as Vault's sanitizePath: no leading '/', exactly one trailing '/'.
std::string SanitizeMountPath(std::string path);

}  // namespace pki::server
