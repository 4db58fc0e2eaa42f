#include "src/server/sys_backend.h"

#include "src/core/text.h"
#include "src/core/uuid.h"
#include "src/engine/fields.h"
#include "src/server/envelope.h"
#include "src/server/policy_backend.h"
#include "src/server/random_id.h"
#include "src/server/version.h"

namespace pki::server {
namespace {

constexpr char kClusterKey[] = "core/cluster";
constexpr std::string_view kMountsPrefix = "mounts/";
constexpr std::string_view kTuneSuffix = "/tune";

// Mounts whose settings Vault refuses to tune (vault/mount.go untunableMounts), and that cannot be unmounted.
constexpr const char* kSystemPrefixes[] = {"sys/", "audit/", "cubbyhole/", "identity/"};

bool IsSystemPath(const std::string& path) {
  for (const char* p : kSystemPrefixes) {
    if (path.compare(0, std::char_traits<char>::length(p), p) == 0) return true;
  }
  return false;
}

// Serialises a status body; invalid UTF-8 (not expected here) is replaced rather than thrown on.
std::string DumpOrdered(const nlohmann::ordered_json& body) {
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

bool IsWrite(Operation op) { return op == Operation::kUpdate || op == Operation::kCreate; }

std::string Quoted(const std::string& s) { return DumpJson(Json(s)); }

// An error with an HTTP status that Status has no code for (409), rendered as Vault renders it.
Response ErrorWithStatus(int status, const std::string& message) {
  return Response::Raw("application/json", DumpJson(Json{{"errors", {message}}}) + "\n", status);
}

// A boolean field as Vault's TypeBool: JSON bool or a ParseBool string.
Result<bool> BoolField(const Json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) {
    if (auto b = ParseGoBool(it->get<std::string>())) return *b;
  }
  return Status::BadRequest(std::string("Field validation failed: error converting input for field \"") + key +
                            "\": cannot parse as a boolean");
}

Result<std::string> StringField(const Json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return Status::BadRequest(std::string("Field validation failed: error converting input for field \"") + key +
                              "\": expected a string");
  }
  return it->get<std::string>();
}

Json MountInfo(const Mount& mount) {
  MountEntry e = mount.entry();
  Json options = nullptr;
  if (!e.options.empty()) options = e.options;
  return Json{{"type", e.type},
              {"description", e.description},
              {"accessor", e.accessor},
              {"uuid", e.uuid},
              {"local", e.local},
              {"seal_wrap", e.seal_wrap},
              {"external_entropy_access", false},
              {"options", options},
              {"plugin_version", ""},
              {"running_plugin_version", ""},
              {"running_sha256", ""},
              {"config",
               {{"default_lease_ttl", mount.system_view().DefaultLeaseTtl()},
                {"max_lease_ttl", mount.system_view().MaxLeaseTtl()},
                {"force_no_cache", false}}}};
}

}  // namespace

Result<ClusterIdentity> LoadOrCreateClusterIdentity(Storage* storage) {
  std::string raw;
  Status st = storage->Get(kClusterKey, &raw);
  if (st.ok()) {
    Json j = Json::parse(raw, nullptr, false);
    if (j.is_object() && j.contains("name") && j["name"].is_string() && j.contains("id") && j["id"].is_string()) {
      return ClusterIdentity{j["name"].get<std::string>(), j["id"].get<std::string>()};
    }
    return Status::Internal("cluster identity in storage is malformed");
  }
  if (!st.IsNotFound()) return st;
  ClusterIdentity id;
  ASSIGN_OR_RETURN(std::string suffix, RandomHex(8));
  id.name = "pki-cluster-" + suffix;
  id.id = NewUuid();
  RETURN_IF_ERROR(storage->Put(kClusterKey, Json{{"name", id.name}, {"id", id.id}}.dump()));
  return id;
}

Result<std::optional<int64_t>> ParseLeaseTtl(const Json& value) {
  if (value.is_null()) return std::optional<int64_t>();
  if (value.is_string() && value.get<std::string>().empty()) return std::optional<int64_t>();
  if (value.is_string() && value.get<std::string>() == "system") return std::optional<int64_t>(0);
  if (!value.is_string() && !value.is_number()) {
    return Status::BadRequest("lease TTL must be a duration string or a number of seconds");
  }
  // The engine's own duration rules: Go syntax or seconds, not negative, at most Go's largest duration.
  ASSIGN_OR_RETURN(Json seconds, ParseField("lease_ttl", FieldType::kDuration, value));
  return std::optional<int64_t>(seconds.get<int64_t>());
}

SysBackend::SysBackend(MountTable* mounts, ClusterIdentity cluster, const Clock* clock, LogicalBackend* policies,
                       DataDirBackup* backup)
    : mounts_(mounts), cluster_(std::move(cluster)), clock_(clock), policies_(policies), backup_(backup) {}

std::vector<std::string> SysBackend::RootPaths() const {
  return {"auth/*",           "remount",          "audit",          "audit/*",
          "raw",              "raw/*",            "rotate",         "config/cors",
          "config/auditing/*", "config/ui/headers/*", "plugins/catalog/*", "revoke-prefix/*",
          "revoke-force/*",   "leases/revoke-prefix/*", "leases/revoke-force/*", "leases/lookup/*",
          // Ours, in the spirit of Vault's sudo-only storage/raft/snapshot: it copies every secret.
          "storage/backup"};
}

Result<Response> SysBackend::HandleRequest(const Request& req) {
  if (policies_ != nullptr && PolicyBackend::Serves(req.path)) return policies_->HandleRequest(req);
  std::string path = req.path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  const Operation op = req.operation;

  if (path == "health") {
    if (op != Operation::kRead) return Status::Unsupported();
    return Health();
  }
  if (path == "seal-status" || path == "leader") {
    if (op != Operation::kRead) return Status::Unsupported();
    return path == "leader" ? Leader() : SealStatus();
  }
  if (path == "mounts") {
    if (op != Operation::kRead) return Status::Unsupported();
    return ReadMounts();
  }
  if (path == "storage/backup" && backup_ != nullptr) {
    if (!IsWrite(op)) return Status::Unsupported();
    return Backup(req.data);
  }
  if (path.compare(0, kMountsPrefix.size(), kMountsPrefix) != 0) return Status::NotFound("unsupported path");
  std::string rest = path.substr(kMountsPrefix.size());
  if (rest.size() > kTuneSuffix.size() && rest.compare(rest.size() - kTuneSuffix.size(), kTuneSuffix.size(),
                                                       kTuneSuffix) == 0) {
    std::string mount_path = SanitizeMountPath(rest.substr(0, rest.size() - kTuneSuffix.size()));
    if (op == Operation::kRead) return ReadTune(mount_path);
    if (IsWrite(op)) return WriteTune(mount_path, req.data);
    return Status::Unsupported();
  }
  std::string mount_path = SanitizeMountPath(rest);
  if (op == Operation::kRead) return ReadMount(mount_path);
  if (IsWrite(op)) return EnableMount(mount_path, req.data);
  if (op == Operation::kDelete) return DisableMount(mount_path);
  return Status::Unsupported();
}

Result<Response> SysBackend::Health() const {
  const bool serving = mounts_->AllServing();
  nlohmann::ordered_json body = {{"initialized", true},
                                 {"sealed", false},
                                 {"standby", false},
                                 {"performance_standby", false},
                                 {"replication_performance_mode", "disabled"},
                                 {"replication_dr_mode", "disabled"},
                                 {"server_time_utc", clock_->Now()},
                                 {"version", kServerVersion},
                                 {"enterprise", false},
                                 {"cluster_name", cluster_.name},
                                 {"cluster_id", cluster_.id},
                                 {"echo_duration_ms", 0},
                                 {"clock_skew_ms", 0},
                                 {"replication_primary_canary_age_ms", 0}};
  // 503 while a mount's engine cannot serve (a plugin that died), so load balancers route elsewhere.
  return Response::Raw("application/json", DumpOrdered(body) + "\n", serving ? 200 : 503);
}

Result<Response> SysBackend::SealStatus() const {
  nlohmann::ordered_json body = {{"type", "shamir"},     {"initialized", true},    {"sealed", false},
                                 {"t", 1},               {"n", 1},                 {"progress", 0},
                                 {"nonce", ""},          {"version", kServerVersion}, {"build_date", ""},
                                 {"migration", false},   {"cluster_name", cluster_.name}, {"cluster_id", cluster_.id},
                                 {"recovery_seal", false}, {"storage_type", "rocksdb"}};
  return Response::Raw("application/json", DumpOrdered(body) + "\n");
}

Result<Response> SysBackend::Leader() {
  nlohmann::ordered_json body = {{"ha_enabled", false},
                                 {"is_self", false},
                                 {"active_time", "0001-01-01T00:00:00Z"},
                                 {"leader_address", ""},
                                 {"leader_cluster_address", ""},
                                 {"performance_standby", false},
                                 {"performance_standby_last_remote_wal", 0}};
  return Response::Raw("application/json", DumpOrdered(body) + "\n");
}

Result<Response> SysBackend::ReadMounts() const {
  Json data = Json::object();
  for (const auto& mount : mounts_->List()) data[mount->path()] = MountInfo(*mount);
  return Response::Data(std::move(data));
}

Result<Response> SysBackend::ReadMount(const std::string& path) const {
  std::shared_ptr<Mount> mount = mounts_->Find(path);
  if (!mount) return Status::BadRequest("No secret engine mount at " + path);
  return Response::Data(MountInfo(*mount));
}

Result<Response> SysBackend::EnableMount(const std::string& path, const Json& data) {
  MountEntry entry;
  entry.path = path;
  ASSIGN_OR_RETURN(entry.type, StringField(data, "type"));
  ASSIGN_OR_RETURN(entry.description, StringField(data, "description"));
  ASSIGN_OR_RETURN(entry.local, BoolField(data, "local"));
  ASSIGN_OR_RETURN(entry.seal_wrap, BoolField(data, "seal_wrap"));

  Json config = data.value("config", Json::object());
  if (config.is_null()) config = Json::object();
  if (!config.is_object()) return Status::BadRequest("unable to convert given mount config information");
  auto default_ttl = ParseLeaseTtl(config.value("default_lease_ttl", Json()));
  if (!default_ttl.ok()) {
    return Status::BadRequest("unable to parse default TTL of " + DumpJson(config["default_lease_ttl"]) + ": " +
                              default_ttl.status().message());
  }
  auto max_ttl = ParseLeaseTtl(config.value("max_lease_ttl", Json()));
  if (!max_ttl.ok()) {
    return Status::BadRequest("unable to parse max TTL of " + DumpJson(config["max_lease_ttl"]) + ": " +
                              max_ttl.status().message());
  }
  entry.config.default_lease_ttl = default_ttl->value_or(0);
  entry.config.max_lease_ttl = max_ttl->value_or(0);
  if (entry.config.max_lease_ttl != 0 && entry.config.default_lease_ttl > entry.config.max_lease_ttl) {
    return Status::BadRequest("given default lease TTL greater than given max lease TTL");
  }
  if (entry.config.max_lease_ttl == 0 && entry.config.default_lease_ttl > kSystemMaxLeaseTtl) {
    return Status::BadRequest("given default lease TTL greater than system max lease TTL of " +
                              std::to_string(kSystemMaxLeaseTtl));
  }

  Json options = data.value("options", Json::object());
  if (options.is_null()) options = Json::object();
  if (!options.is_object()) return Status::BadRequest("options must be a map of strings");
  for (const auto& [k, v] : options.items()) {
    if (v.is_string()) {
      entry.options[k] = v.get<std::string>();
    } else if (v.is_number() || v.is_boolean()) {
      entry.options[k] = v.dump();
    } else {
      return Status::BadRequest("options must be a map of strings");
    }
  }

  if (entry.type.empty()) return Status::BadRequest("backend type must be specified as a string");
  if (entry.type == "plugin") {
    ASSIGN_OR_RETURN(std::string plugin_name, StringField(data, "plugin_name"));
    std::string config_plugin;
    if (auto it = config.find("plugin_name"); it != config.end() && it->is_string()) config_plugin = *it;
    entry.type = !config_plugin.empty() ? config_plugin : plugin_name;
    if (entry.type.empty()) return Status::BadRequest("plugin_name must be provided for plugin backend");
  }
  if (entry.type != "pki") {
    return Status::BadRequest("secrets engine type " + Quoted(entry.type) +
                              " is not supported: this server mounts only \"pki\"");
  }
  if (auto it = entry.options.find("version"); it != entry.options.end() && !it->second.empty()) {
    return Status::BadRequest("secrets engine " + Quoted(entry.type) + " does not allow setting a version");
  }

  if (std::string taken = mounts_->Conflict(path); !taken.empty()) {
    return ErrorWithStatus(409, "path is already in use at " + taken);
  }
  auto added = mounts_->AddMount(std::move(entry));
  if (!added.ok()) return added.status();
  return Response::Nil();
}

Result<Response> SysBackend::DisableMount(const std::string& path) {
  if (IsSystemPath(path) || path.compare(0, 5, "auth/") == 0) {
    return Status::BadRequest("cannot unmount " + Quoted(path));
  }
  RETURN_IF_ERROR(mounts_->RemoveMount(path));
  return Response::Nil();
}

Result<Response> SysBackend::ReadTune(const std::string& path) const {
  std::shared_ptr<Mount> mount = mounts_->Find(path);
  if (!mount) return Status::BadRequest("cannot fetch sysview for path " + Quoted(path));
  MountEntry e = mount->entry();
  Json data = {{"description", e.description},
               {"default_lease_ttl", mount->system_view().DefaultLeaseTtl()},
               {"max_lease_ttl", mount->system_view().MaxLeaseTtl()},
               {"force_no_cache", false}};
  if (!e.options.empty()) data["options"] = e.options;
  return Response::Data(std::move(data));
}

Result<Response> SysBackend::WriteTune(const std::string& path, const Json& data) {
  if (IsSystemPath(path)) return Status::BadRequest("cannot tune " + Quoted(path));
  MountTune tune;
  ASSIGN_OR_RETURN(tune.default_lease_ttl, ParseLeaseTtl(data.value("default_lease_ttl", Json())));
  ASSIGN_OR_RETURN(tune.max_lease_ttl, ParseLeaseTtl(data.value("max_lease_ttl", Json())));
  if (data.contains("description")) {
    ASSIGN_OR_RETURN(std::string description, StringField(data, "description"));
    tune.description = std::move(description);
  }
  Status st = mounts_->TuneMount(path, tune);
  if (st.IsNotFound()) return Status::BadRequest("tune of path " + Quoted(path) + " failed: no mount entry found");
  RETURN_IF_ERROR(st);
  return Response::Nil();
}

Result<Response> SysBackend::Backup(const Json& data) {
  ASSIGN_OR_RETURN(std::string path, StringField(data, "path"));
  ASSIGN_OR_RETURN(Json written, backup_->Write(path));
  return Response::Data(std::move(written));
}

}  // namespace pki::server
