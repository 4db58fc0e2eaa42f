#include "src/server/mount_setup.h"

#include <memory>

#include "src/server/server_log.h"

namespace pki::server {
namespace {

std::string FormatOptions(const std::map<std::string, std::string>& options) {
  if (options.empty()) return "{}";
  std::string out = "{";
  for (const auto& [k, v] : options) out += (out.size() > 1 ? ", " : "") + k + "=" + v;
  return out + "}";
}

// The TTLs a mount would have after `tune`, checked as MountTable::TuneMount and sys/mounts check them.
Status CheckTtls(const std::string& path, MountConfig config, const MountTune& tune) {
  if (tune.default_lease_ttl) config.default_lease_ttl = *tune.default_lease_ttl;
  if (tune.max_lease_ttl) config.max_lease_ttl = *tune.max_lease_ttl;
  const int64_t max = config.max_lease_ttl != 0 ? config.max_lease_ttl : kSystemMaxLeaseTtl;
  if (config.default_lease_ttl > max) {
    return Status::BadRequest("mount " + path + ": default_lease_ttl of " + std::to_string(config.default_lease_ttl) +
                              "s would be greater than max_lease_ttl of " + std::to_string(max) + "s");
  }
  return Status::Ok();
}

}  // namespace

Status EnsureMounts(MountTable* table, const std::vector<ConfiguredMount>& wanted) {
  // Check everything first.
  std::vector<bool> present(wanted.size(), false);
  for (size_t i = 0; i < wanted.size(); ++i) {
    const ConfiguredMount& w = wanted[i];
    std::shared_ptr<Mount> existing = table->Find(w.path);
    if (existing && existing->path() == w.path) {
      MountEntry e = existing->entry();
      if (e.type != w.type) {
        return Status::BadRequest("mount " + w.path + " exists with type \"" + e.type +
                                  "\" but the config file declares type \"" + w.type + "\"");
      }
      if (e.options != w.options) {
        return Status::BadRequest("mount " + w.path + " exists with options " + FormatOptions(e.options) +
                                  " but the config file declares " + FormatOptions(w.options) +
                                  ": options are fixed when a mount is created; change the config file to match");
      }
      RETURN_IF_ERROR(CheckTtls(w.path, e.config, w.tune));
      present[i] = true;
      continue;
    }
    if (std::string taken = table->Conflict(w.path); !taken.empty()) {
      return Status::BadRequest("mount " + w.path + " declared in the config file overlaps the existing mount " +
                                taken);
    }
    RETURN_IF_ERROR(CheckTtls(w.path, MountConfig{}, w.tune));
  }

  std::vector<std::string> added;
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (present[i]) continue;
    const ConfiguredMount& w = wanted[i];
    MountEntry entry;
    entry.path = w.path;
    entry.type = w.type;
    entry.description = w.tune.description.value_or("");
    entry.options = w.options;
    entry.config.default_lease_ttl = w.tune.default_lease_ttl.value_or(0);
    entry.config.max_lease_ttl = w.tune.max_lease_ttl.value_or(0);
    auto result = table->AddMount(std::move(entry));
    if (!result.ok()) {
      for (const std::string& path : added) {
        if (Status st = table->RemoveMount(path); !st.ok()) {
          LogLine(LogLevel::kError, "removing mount " + path + " again: " + st.message());
        }
      }
      return result.status().Annotate("mounting " + w.path + " from the config file");
    }
    added.push_back(w.path);
    LogLine(LogLevel::kInfo, "mounted " + w.type + " at " + w.path + " (declared in the config file)");
  }
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (!present[i]) continue;
    const ConfiguredMount& w = wanted[i];
    if (!w.tune.description && !w.tune.default_lease_ttl && !w.tune.max_lease_ttl) continue;
    RETURN_IF_ERROR(table->TuneMount(w.path, w.tune).Annotate("tuning " + w.path + " as the config file declares"));
  }
  return Status::Ok();
}

}  // namespace pki::server
