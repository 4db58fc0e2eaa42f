#include "src/server/backup.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "src/core/private_file.h"
#include "src/server/dev_server.h"
#include "src/server/random_id.h"
#include "src/server/server_log.h"

namespace pki::server {
namespace {

namespace fs = std::filesystem;

std::string Errno() { return std::strerror(errno); }

Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0) return Status::Internal("cannot create " + dir + ": " + Errno());
  // mkdir's mode is narrowed by the umask, never widened; this makes it exactly 0700.
  if (::chmod(dir.c_str(), 0700) != 0) return Status::Internal("cannot set permissions of " + dir + ": " + Errno());
  return Status::Ok();
}

// Whether `inner` is `outer` or lies below it, lexically, after both are made canonical as far as they exist.
bool IsWithin(const fs::path& inner, const fs::path& outer) {
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(inner, ec);
  if (ec) return false;
  const fs::path b = fs::weakly_canonical(outer, ec);
  if (ec) return false;
  auto ai = a.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
    if (bi->empty()) continue;  // a trailing separator
    if (ai == a.end() || *ai != *bi) return false;
  }
  return true;
}

Result<std::string> CheckTarget(const std::string& path, const std::string& data_dir) {
  if (path.empty()) return Status::BadRequest("missing path: the directory to write the backup to");
  if (path.front() != '/' || path.find('\0') != std::string::npos) {
    return Status::BadRequest("path must be an absolute path on the server's machine");
  }
  std::string clean = fs::path(path).lexically_normal().string();
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  if (clean == "/") return Status::BadRequest("path must name a new directory");
  struct stat st {};
  if (::lstat(clean.c_str(), &st) == 0) return Status::BadRequest("backup path " + clean + " already exists");
  const std::string parent = fs::path(clean).parent_path().string();
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::BadRequest("the parent directory " + parent + " does not exist");
  }
  // A backup inside the data directory would sit among the files it copies (and in the way of mounts' files).
  if (IsWithin(clean, data_dir)) return Status::BadRequest("the backup must not be inside the data directory");
  return clean;
}

Json Item(const std::string& path, const std::string& kind, const std::string& mount = "") {
  return Json{{"path", path}, {"kind", kind}, {"mount", mount}};
}

}  // namespace

Result<Json> DataDirBackup::Write(const std::string& path) {
  const DataLayout layout = DataLayout::For(data_dir_);
  ASSIGN_OR_RETURN(const std::string target, CheckTarget(path, layout.root));
  ASSIGN_OR_RETURN(std::string suffix, RandomHex(8));
  const std::string tmp = target + ".tmp-" + suffix;
  RETURN_IF_ERROR(MakeDir(tmp));

  Json contents = Json::array();
  Status st = mounts_->WithChangesHeld([&](const std::vector<std::shared_ptr<Mount>>& mounts) -> Status {
    RETURN_IF_ERROR(sys_storage_->Checkpoint(tmp + "/sys"));
    contents.push_back(Item("sys", "RocksDB checkpoint of the server's database (mount table, tokens, policies)"));
    RETURN_IF_ERROR(MakeDir(tmp + "/mounts"));
    for (const std::shared_ptr<Mount>& mount : mounts) {
      const MountEntry entry = mount->entry();
      const std::string rel = "mounts/" + entry.uuid;
      auto items = mount->Checkpoint(tmp + "/" + rel);
      if (!items.ok()) return items.status().Annotate("backing up mount " + entry.path);
      for (const BackupItem& item : items.value()) {
        contents.push_back(Item(item.path.empty() ? rel : rel + "/" + item.path, item.kind, entry.path));
      }
    }
    return Status::Ok();
  });
  // The key files are read once the databases are copied: none of them changes after it is created.
  struct KeyFile {
    std::string name;
    std::string kind;
  };
  const KeyFile key_files[] = {
      {"pki-seal.key", "the server's barrier key (seals host storage; the seal key of mounts from before plugins)"},
      {"root-token", "the root token of a configured server"}};
  for (const KeyFile& f : key_files) {
    if (!st.ok()) break;
    const std::string from = layout.root + "/" + f.name;
    struct stat info {};
    if (::lstat(from.c_str(), &info) != 0) continue;
    st = CopyPrivateFile(from, tmp + "/" + f.name);
    if (st.ok()) contents.push_back(Item(f.name, f.kind));
  }
  if (st.ok()) st = SyncDirectory(tmp);
  if (st.ok() && ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    st = errno == EEXIST ? Status::BadRequest("backup path " + target + " already exists")
                         : Status::Internal("cannot rename " + tmp + " to " + target + ": " + Errno());
  }
  if (!st.ok()) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    if (ec) LogLine(LogLevel::kError, "backup: cannot remove " + tmp + ": " + ec.message());
    LogLine(LogLevel::kError, "backup to " + target + " failed: " + st.message());
    return st;
  }
  if (Status synced = SyncDirectory(fs::path(target).parent_path().string()); !synced.ok()) {
    LogLine(LogLevel::kWarn, "backup: " + synced.message());
  }
  LogLine(LogLevel::kInfo, "backup written to " + target + " (" + std::to_string(contents.size()) + " items)");
  return Json{{"path", target}, {"contents", std::move(contents)}};
}

}  // namespace pki::server
