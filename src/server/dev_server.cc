#include "src/server/dev_server.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "src/core/clock.h"
#include "src/server/server_log.h"

namespace pki::server {

Status PrepareDataDir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::BadRequest("data directory " + dir + " is not a directory");
    if ((st.st_mode & 077) != 0) {
      LogLine(LogLevel::kWarn, "data directory " + dir + " is accessible to other users; 0700 is recommended");
    }
    return Status::Ok();
  }
  if (errno != ENOENT) return Status::Internal("cannot access data directory " + dir + ": " + std::strerror(errno));
  // Parents as needed; only the data directory itself is made private.
  std::string path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    if (path.empty()) continue;
    if (::mkdir(path.c_str(), pos == std::string::npos ? 0700 : 0755) != 0 && errno != EEXIST) {
      return Status::Internal("cannot create data directory " + path + ": " + std::strerror(errno));
    }
  }
  if (::chmod(dir.c_str(), 0700) != 0) return Status::Internal("cannot set permissions of " + dir);
  return Status::Ok();
}

DataLayout DataLayout::For(const std::string& root) {
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return DataLayout{r, r + "/sys", r + "/mounts", r + "/pki-seal.key"};
}

Result<std::unique_ptr<DevServer>> DevServer::Start(const DevServerOptions& options,
                                                    const FactoryMaker& make_factory) {
  std::unique_ptr<DevServer> server(new DevServer());
  server->layout_ = DataLayout::For(options.data_dir);
  const DataLayout& layout = server->layout_;

  // The listeners first: a bad TLS file or a busy port must fail the start before anything changes on disk.
  HttpServer::Options http;
  http.listeners = options.listeners;
  http.host = options.listen_host;
  http.port = options.listen_port;
  http.threads = options.threads;
  http.worker_threads = options.worker_threads;
  if (http.worker_threads <= 0) {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    http.worker_threads = std::max(kMinDefaultWorkers, kDefaultWorkersPerCore * cores);
  }
  http.run_inline = &VaultApi::ServesInline;
  ASSIGN_OR_RETURN(server->http_, HttpServer::Listen(http));

  RETURN_IF_ERROR(PrepareDataDir(layout.root));
  // The root token file is read now (an empty one fails the start here) but a new one is written only at the end.
  bool write_root_token_file = false;
  if (!options.root_token_file.empty()) {
    ASSIGN_OR_RETURN(std::optional<std::string> existing, ReadRootTokenFile(options.root_token_file));
    if (existing) {
      server->root_token_ = std::move(*existing);
    } else {
      RETURN_IF_ERROR(CheckRootTokenFileCreatable(options.root_token_file));
      ASSIGN_OR_RETURN(server->root_token_, NewRootToken());
      server->root_token_generated_ = true;
      write_root_token_file = true;
    }
  } else {
    server->root_token_ = options.root_token;
    if (server->root_token_.empty()) {
      ASSIGN_OR_RETURN(server->root_token_, NewRootToken());
      server->root_token_generated_ = true;
    }
  }
  if (::mkdir(layout.sys_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::Internal("cannot create " + layout.sys_dir + ": " + std::strerror(errno));
  }
  auto sys_storage = RocksDBStorage::Open(layout.sys_dir);
  if (!sys_storage.ok()) return sys_storage.status().Annotate("opening " + layout.sys_dir);
  server->sys_storage_ = std::move(sys_storage).value();
  ASSIGN_OR_RETURN(ClusterIdentity cluster, LoadOrCreateClusterIdentity(server->sys_storage_.get()));
  // Before any engine starts: a server that cannot audit does not start (as Vault's file device).
  if (!options.audit_log_path.empty()) {
    auto audit = AuditLog::Open(options.audit_log_path, server->sys_storage_.get());
    if (!audit.ok()) return audit.status().Annotate("enabling the audit log");
    server->audit_ = std::move(audit).value();
    LogLine(LogLevel::kInfo, "audit log enabled: " + options.audit_log_path);
  }

  ASSIGN_OR_RETURN(server->factory_, make_factory(layout));
  ASSIGN_OR_RETURN(server->mounts_,
                   MountTable::Open(server->sys_storage_.get(), server->factory_.get(), layout.mounts_dir));
  if (options.mount_default_pki && !server->mounts_->loaded_from_storage()) {
    MountEntry pki;
    pki.path = "pki/";
    pki.type = "pki";
    auto added = server->mounts_->AddMount(pki);
    if (!added.ok()) return added.status().Annotate("mounting pki/");
    LogLine(LogLevel::kInfo, "first start: mounted the PKI secrets engine at pki/");
  }
  RETURN_IF_ERROR(EnsureMounts(server->mounts_.get(), options.mounts));

  const Clock* clock = &SystemClock::Instance();
  ASSIGN_OR_RETURN(server->policies_, PolicyStore::Open(server->sys_storage_.get()));
  server->tokens_ = std::make_unique<TokenStore>(server->sys_storage_.get(), clock);
  // The root token lives in memory only: a later start with another id leaves the old one invalid.
  RETURN_IF_ERROR(server->tokens_->EnsureToken(server->root_token_, {"root"}, "root"));
  for (const ConfiguredPolicy& p : options.policies) {
    if (Status st = server->policies_->PutPolicy(p.name, p.text); !st.ok()) {
      return st.Annotate("writing the configured policy \"" + p.name + "\"");
    }
  }
  for (const ConfiguredToken& t : options.tokens) {
    if (t.id == server->root_token_) return Status::BadRequest("a configured token is the root token");
    if (Status st = server->tokens_->EnsureToken(t.id, t.policies, t.display_name); !st.ok()) {
      return Status::BadRequest("registering a configured token failed: " + st.message());
    }
  }
  if (!options.policies.empty() || !options.tokens.empty()) {
    LogLine(LogLevel::kInfo, "configuration: " + std::to_string(options.policies.size()) + " policies written, " +
                                 std::to_string(options.tokens.size()) + " tokens registered");
  }
  server->policy_backend_ = std::make_unique<PolicyBackend>(server->policies_.get(), server->tokens_.get());
  server->backup_ =
      std::make_unique<DataDirBackup>(layout.root, server->sys_storage_.get(), server->mounts_.get());
  server->sys_ = std::make_unique<SysBackend>(server->mounts_.get(), cluster, clock, server->policy_backend_.get(),
                                              server->backup_.get());
  server->token_auth_ = std::make_unique<TokenBackend>(server->tokens_.get(), server->policies_.get(), clock);
  server->audit_hash_ = std::make_unique<AuditHashBackend>(server->audit_.get());
  std::vector<BuiltinMount> builtins = {
      {"sys/audit-hash/", "system", server->audit_hash_.get(), /*inject_data=*/true, /*mount_point=*/"sys/"},
      {"sys/", "system", server->sys_.get(), /*inject_data=*/true},
      {"auth/token/", "token", server->token_auth_.get(), false}};
  server->api_ = std::make_unique<VaultApi>(server->mounts_.get(), std::move(builtins), server->tokens_.get(),
                                            server->policies_.get(), server->audit_.get());

  if (write_root_token_file) {
    RETURN_IF_ERROR(WriteRootTokenFile(options.root_token_file, server->root_token_));
    LogLine(LogLevel::kInfo, "first start: generated a root token and wrote it to " + options.root_token_file);
  }
  VaultApi* api = server->api_.get();
  server->http_->Serve([api](const HttpRequest& req) { return api->Handle(req); });
  return server;
}

DevServer::~DevServer() {
  Status st = Stop();
  if (!st.ok()) LogLine(LogLevel::kError, "stopping: " + st.message());
}

std::vector<MountEntry> DevServer::mounts() const {
  std::vector<MountEntry> out;
  if (!mounts_) return out;
  for (const auto& m : mounts_->List()) out.push_back(m->entry());
  return out;
}

Status DevServer::ReopenAuditLog() {
  if (!audit_) return Status::Ok();
  return audit_->Reopen();
}

Status DevServer::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  if (http_) http_->Shutdown(std::chrono::seconds(30));
  Status first;
  if (mounts_) {
    Status st = mounts_->Close();
    if (!st.ok()) first = st;
  }
  if (sys_storage_) {
    Status st = sys_storage_->Flush();
    if (!st.ok() && first.ok()) first = st.Annotate("flushing " + layout_.sys_dir);
  }
  return first;
}

}  // namespace pki::server
