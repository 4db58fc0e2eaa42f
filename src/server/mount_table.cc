#include "src/server/mount_table.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "src/core/uuid.h"
#include "src/server/random_id.h"
#include "src/server/server_log.h"
#include "src/server/url.h"

namespace pki::server {
namespace {

constexpr char kTableKey[] = "core/mounts";
constexpr int kTableVersion = 1;

// Vault refuses to mount below these (vault/mount.go protectedMounts).
constexpr const char* kProtectedPrefixes[] = {"sys/", "auth/", "audit/", "cubbyhole/", "identity/"};

bool HasPrefix(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Vault's validateMountPath: the path must already be clean (no empty, "." or ".." segments) and printable.
Status ValidateMountPath(const std::string& path) {
  if (path.empty() || path == "/") return Status::BadRequest("path cannot be blank");
  // The table is stored as JSON, which holds only UTF-8 (and a mount path is matched byte for byte).
  if (!IsValidUtf8(path)) return Status::BadRequest("path must be valid UTF-8");
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) return Status::BadRequest("path cannot contain non-printable characters");
  }
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    std::string segment = path.substr(start, slash - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return Status::BadRequest("path '" + path + "' is not a clean path");
    }
    start = slash + 1;
  }
  return Status::Ok();
}

Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create directory " + dir + ": " + ec.message());
  if (::chmod(dir.c_str(), 0700) != 0) return Status::Internal("cannot set permissions of " + dir);
  return Status::Ok();
}

Result<int64_t> JsonInt(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return int64_t{0};
  if (!it->is_number_integer()) return Status::Internal(std::string("mount table: ") + key + " is not an integer");
  return it->get<int64_t>();
}

}  // namespace

std::string SanitizeMountPath(std::string path) {
  while (!path.empty() && path.front() == '/') path.erase(path.begin());
  while (path.size() > 1 && path.back() == '/' && path[path.size() - 2] == '/') path.pop_back();
  if (path.empty() || path.back() != '/') path.push_back('/');
  return path;
}

// ---- MountEntry

Json MountEntry::ToJson() const {
  return Json{{"path", path},
              {"type", type},
              {"description", description},
              {"uuid", uuid},
              {"accessor", accessor},
              {"options", options},
              {"local", local},
              {"seal_wrap", seal_wrap},
              {"config", {{"default_lease_ttl", config.default_lease_ttl}, {"max_lease_ttl", config.max_lease_ttl}}}};
}

Result<MountEntry> MountEntry::FromJson(const Json& j) {
  if (!j.is_object()) return Status::Internal("mount table: entry is not an object");
  MountEntry e;
  try {
    e.path = j.at("path").get<std::string>();
    e.type = j.at("type").get<std::string>();
    e.description = j.value("description", "");
    e.uuid = j.at("uuid").get<std::string>();
    e.accessor = j.value("accessor", "");
    e.options = j.value("options", std::map<std::string, std::string>{});
    e.local = j.value("local", false);
    e.seal_wrap = j.value("seal_wrap", false);
  } catch (const Json::exception& ex) {
    return Status::Internal(std::string("mount table: malformed entry: ") + ex.what());
  }
  const Json config = j.value("config", Json::object());
  ASSIGN_OR_RETURN(e.config.default_lease_ttl, JsonInt(config, "default_lease_ttl"));
  ASSIGN_OR_RETURN(e.config.max_lease_ttl, JsonInt(config, "max_lease_ttl"));
  if (e.path.empty() || e.path.back() != '/' || e.uuid.empty()) {
    return Status::Internal("mount table: entry without a valid path or uuid");
  }
  return e;
}

// ---- MountSystemView

int64_t MountSystemView::DefaultLeaseTtl() const {
  int64_t v = default_lease_ttl_.load();
  return v != 0 ? v : kSystemDefaultLeaseTtl;
}

int64_t MountSystemView::MaxLeaseTtl() const {
  int64_t v = max_lease_ttl_.load();
  return v != 0 ? v : kSystemMaxLeaseTtl;
}

void MountSystemView::Set(MountConfig config) {
  default_lease_ttl_.store(config.default_lease_ttl);
  max_lease_ttl_.store(config.max_lease_ttl);
}

// ---- Mount

Mount::Mount(MountEntry entry, std::string data_dir)
    : path_(entry.path),
      type_(entry.type),
      data_dir_(std::move(data_dir)),
      entry_(std::move(entry)),
      system_(entry_.config) {}

Mount::~Mount() {
  if (backend_ && !closed_.load()) {
    Status st = CloseBackend();
    if (!st.ok()) LogLine(LogLevel::kError, "mount " + path_ + ": close failed: " + st.message());
  }
  if (remove_data_.load()) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
    if (ec) LogLine(LogLevel::kError, "mount " + path_ + ": cannot remove " + data_dir_ + ": " + ec.message());
  }
}

MountEntry Mount::entry() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entry_;
}

Status Mount::StartBackend(MountBackendFactory* factory) {
  MountSpec spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    spec = MountSpec{entry_.path, entry_.type, entry_.uuid, entry_.options, data_dir_};
  }
  ASSIGN_OR_RETURN(backend_, factory->Start(spec, &system_));
  unauthenticated_ = backend_->UnauthenticatedPaths();
  root_paths_ = backend_->RootPaths();
  return Status::Ok();
}

void Mount::SetTunables(MountConfig config, std::string description) {
  std::lock_guard<std::mutex> lock(mu_);
  entry_.config = config;
  entry_.description = std::move(description);
  system_.Set(config);
}

Result<std::vector<BackupItem>> Mount::Checkpoint(const std::string& dir) const {
  if (!backend_ || closed_.load()) return Status::Internal("mount " + path_ + " is closed");
  return backend_->Checkpoint(dir);
}

Status Mount::CloseBackend() {
  if (!backend_ || closed_.exchange(true)) return Status::Ok();
  return backend_->Close();
}

// ---- MountTable

Result<std::unique_ptr<MountTable>> MountTable::Open(Storage* storage, MountBackendFactory* factory,
                                                     std::string mounts_dir) {
  RETURN_IF_ERROR(MakePrivateDir(mounts_dir));
  std::unique_ptr<MountTable> table(new MountTable(storage, factory, std::move(mounts_dir)));
  RETURN_IF_ERROR(table->Load());
  return table;
}

MountTable::~MountTable() {
  Status st = Close();
  if (!st.ok()) LogLine(LogLevel::kError, "closing mounts: " + st.message());
}

Status MountTable::Load() {
  std::lock_guard<std::mutex> change(change_mu_);
  std::string raw;
  Status st = storage_->Get(kTableKey, &raw);
  if (st.IsNotFound()) return Status::Ok();
  RETURN_IF_ERROR(st);
  loaded_from_storage_ = true;
  Json doc = Json::parse(raw, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array()) {
    return Status::Internal("mount table in storage is malformed");
  }
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || version->get<int64_t>() != kTableVersion) {
    return Status::Internal("mount table has an unknown version");  // (value() would throw on a non-number)
  }
  for (const Json& j : doc["entries"]) {
    ASSIGN_OR_RETURN(MountEntry entry, MountEntry::FromJson(j));
    auto mount = StartMount(entry);
    if (!mount.ok()) return mount.status().Annotate("starting mount " + entry.path);
    std::unique_lock<std::shared_mutex> lock(map_mu_);
    mounts_[entry.path] = std::move(mount).value();
  }
  return Status::Ok();
}

Result<std::shared_ptr<Mount>> MountTable::StartMount(const MountEntry& entry) {
  std::string dir = mounts_dir_ + "/" + entry.uuid;
  auto mount = std::make_shared<Mount>(entry, dir);
  RETURN_IF_ERROR(MakePrivateDir(dir));
  RETURN_IF_ERROR(mount->StartBackend(factory_));
  return mount;
}

Status MountTable::Persist(const std::vector<MountEntry>& entries) {
  Json doc = {{"version", kTableVersion}, {"entries", Json::array()}};
  for (const auto& e : entries) doc["entries"].push_back(e.ToJson());
  std::string raw;
  try {
    raw = doc.dump();  // strict: an entry that cannot be stored faithfully is refused, not silently altered
  } catch (const Json::exception& ex) {
    return Status::BadRequest(std::string("mount table: cannot store entry: ") + ex.what());
  }
  return storage_->Put(kTableKey, raw);
}

std::vector<MountEntry> MountTable::EntriesLocked() const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  std::vector<MountEntry> out;
  for (const auto& [path, mount] : mounts_) out.push_back(mount->entry());
  return out;
}

std::optional<MountTable::Match> MountTable::Resolve(const std::string& path) const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  auto longest = [this](const std::string& p) -> std::shared_ptr<Mount> {
    std::shared_ptr<Mount> best;
    for (const auto& [mount_path, mount] : mounts_) {
      if (HasPrefix(p, mount_path) && (!best || mount_path.size() > best->path().size())) best = mount;
    }
    return best;
  };
  std::shared_ptr<Mount> m = longest(path);
  if (!m && (path.empty() || path.back() != '/')) {
    // As Vault's router: "pki" means "pki/".
    m = longest(path + "/");
    if (m) return Match{m, ""};
  }
  if (!m) return std::nullopt;
  return Match{m, path.substr(m->path().size())};
}

std::vector<std::shared_ptr<Mount>> MountTable::List() const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  std::vector<std::shared_ptr<Mount>> out;
  for (const auto& [path, mount] : mounts_) out.push_back(mount);
  return out;
}

std::shared_ptr<Mount> MountTable::Find(const std::string& path) const {
  auto match = Resolve(path);
  return match ? match->mount : nullptr;
}

std::string MountTable::ConflictLocked(const std::string& path) const {
  for (const auto& [mount_path, mount] : mounts_) {
    if (HasPrefix(path, mount_path) || HasPrefix(mount_path, path)) return mount_path;
  }
  return "";
}

std::string MountTable::Conflict(const std::string& path) const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  return ConflictLocked(path);
}

Result<MountEntry> MountTable::AddMount(MountEntry entry) {
  RETURN_IF_ERROR(ValidateMountPath(entry.path));
  for (const char* p : kProtectedPrefixes) {
    if (HasPrefix(entry.path, p)) return Status::PermissionDenied("cannot mount \"" + entry.path + "\"");
  }
  std::lock_guard<std::mutex> change(change_mu_);
  if (std::string taken = Conflict(entry.path); !taken.empty()) {
    return Status::BadRequest("path is already in use at " + taken);
  }
  entry.uuid = NewUuid();
  ASSIGN_OR_RETURN(std::string suffix, RandomHex(8));
  entry.accessor = entry.type + "_" + suffix;

  auto started = StartMount(entry);
  if (!started.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(mounts_dir_ + "/" + entry.uuid, ec);
    return started.status();
  }
  std::shared_ptr<Mount> mount = std::move(started).value();
  std::vector<MountEntry> entries = EntriesLocked();
  entries.push_back(entry);
  Status st = Persist(entries);
  if (!st.ok()) {
    mount->remove_data_.store(true);  // the destructor closes the engine and removes its directory
    return st;
  }
  std::unique_lock<std::shared_mutex> lock(map_mu_);
  mounts_[entry.path] = std::move(mount);
  return entry;
}

Status MountTable::RemoveMount(const std::string& path) {
  std::lock_guard<std::mutex> change(change_mu_);
  std::shared_ptr<Mount> mount;
  std::vector<MountEntry> remaining;
  {
    std::shared_lock<std::shared_mutex> lock(map_mu_);
    auto it = mounts_.find(path);
    if (it == mounts_.end()) return Status::Ok();
    mount = it->second;
    for (const auto& [p, m] : mounts_) {
      if (p != path) remaining.push_back(m->entry());
    }
  }
  RETURN_IF_ERROR(Persist(remaining));
  {
    std::unique_lock<std::shared_mutex> lock(map_mu_);
    mounts_.erase(path);
  }
  // Requests that found the mount before it left the map still hold it: wait for them, so that closing its
  // storage and removing its data happen here, on the worker serving the unmount, and never on a thread (such as
  // an I/O thread answering a sys/ read) that merely drops the last reference.
  while (mount.use_count() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  mount->remove_data_.store(true);
  mount.reset();  // ~Mount: closes the engine and removes its directory
  return Status::Ok();
}

Status MountTable::TuneMount(const std::string& path, const MountTune& tune) {
  std::lock_guard<std::mutex> change(change_mu_);
  std::shared_ptr<Mount> mount = Find(path);
  if (!mount) return Status::NotFound("no mount at " + path);
  MountEntry current = mount->entry();
  MountConfig config = current.config;
  if (tune.default_lease_ttl) config.default_lease_ttl = *tune.default_lease_ttl;
  if (tune.max_lease_ttl) config.max_lease_ttl = *tune.max_lease_ttl;
  if (config.default_lease_ttl != 0 && config.max_lease_ttl != 0 && config.max_lease_ttl < config.default_lease_ttl) {
    return Status::BadRequest("backend max lease TTL of " + std::to_string(config.max_lease_ttl) +
                              " would be less than backend default lease TTL of " +
                              std::to_string(config.default_lease_ttl));
  }
  std::string description = tune.description ? *tune.description : current.description;
  std::vector<MountEntry> entries = EntriesLocked();
  for (auto& e : entries) {
    if (e.path == mount->path()) {
      e.config = config;
      e.description = description;
    }
  }
  RETURN_IF_ERROR(Persist(entries));
  mount->SetTunables(config, std::move(description));
  return Status::Ok();
}

bool MountTable::AllServing() const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  for (const auto& [path, mount] : mounts_) {
    if (!mount->Serving()) return false;
  }
  return true;
}

Status MountTable::WithChangesHeld(
    const std::function<Status(const std::vector<std::shared_ptr<Mount>>&)>& fn) {
  std::lock_guard<std::mutex> change(change_mu_);
  return fn(List());
}

Status MountTable::Close() {
  std::lock_guard<std::mutex> change(change_mu_);
  std::map<std::string, std::shared_ptr<Mount>> mounts;
  {
    std::unique_lock<std::shared_mutex> lock(map_mu_);
    mounts.swap(mounts_);
  }
  Status first;
  for (auto& [path, mount] : mounts) {
    Status st = mount->CloseBackend();
    if (!st.ok() && first.ok()) first = st.Annotate("closing mount " + path);
  }
  return first;
}

}  // namespace pki::server
