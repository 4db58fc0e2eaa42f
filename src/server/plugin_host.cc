#include "src/server/plugin_host.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "backend.grpc.pb.h"
#include "grpc_controller.grpc.pb.h"
#include "grpc_health.grpc.pb.h"
#include "plugin/automtls.h"
#include "plugin/tls.h"
#include "plugin/wire.h"
#include "src/core/uuid.h"
#include "src/crypto/x509.h"
#include "src/server/host_broker.h"
#include "src/server/host_services.h"
#include "src/server/plugin_process.h"
#include "src/server/server_log.h"

extern char** environ;

namespace pki::server {
namespace {

// logical.TypeLogical: a secrets engine.
constexpr uint32_t kTypeLogical = 1;

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kHealthTimeout = std::chrono::seconds(5);
constexpr auto kSetupTimeout = std::chrono::seconds(60);  // the plugin opens (and may recover) its storage
constexpr auto kShortCallTimeout = std::chrono::seconds(10);
constexpr auto kRequestTimeout = std::chrono::minutes(5);
constexpr auto kCleanupTimeout = std::chrono::seconds(30);
constexpr auto kShutdownGrace = std::chrono::seconds(2);  // go-plugin's wait between Shutdown and SIGKILL

// The supervisor's rhythm: how often it looks for the child's exit, and pings it.
constexpr auto kWatchInterval = std::chrono::milliseconds(100);
constexpr auto kPingInterval = std::chrono::seconds(2);
constexpr auto kPingTimeout = std::chrono::seconds(2);
constexpr int kMaxFailedPings = 5;  // then the child is killed and replaced
// A child that ran at least this long before dying restarts after the shortest backoff again.
constexpr auto kStableRun = std::chrono::seconds(10);

// Unix socket paths are limited to 108 bytes: a long TMPDIR falls back to /tmp.
constexpr size_t kMaxRuntimeBase = 48;
constexpr char kRuntimeDirPrefix[] = "pki-server-";

using SteadyClock = std::chrono::steady_clock;

void SetDeadline(grpc::ClientContext* ctx, std::chrono::milliseconds d) {
  ctx->set_deadline(std::chrono::system_clock::now() + d);
}

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "canceled";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "deadline exceeded";
    case grpc::StatusCode::UNIMPLEMENTED: return "unimplemented";
    case grpc::StatusCode::UNAVAILABLE: return "unavailable";
    case grpc::StatusCode::INTERNAL: return "internal";
    case grpc::StatusCode::UNAUTHENTICATED: return "unauthenticated";
    default: return "error";
  }
}

// A transport failure talking to the plugin. gRPC's text names sockets and peers, never request data.
Status TransportError(const std::string& what, const grpc::Status& s) {
  return Status::Internal(what + ": " + GrpcCodeName(s.error_code()) +
                          (s.error_message().empty() ? "" : ": " + s.error_message()));
}

std::string RuntimeBase() {
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0' && std::strlen(t) <= kMaxRuntimeBase) {
    return t;
  }
  return "/tmp";
}

// A private directory (0700) for this connection's sockets: the broker's listener and, through
// PLUGIN_UNIX_SOCKET_DIR, the plugin's own. Removing it after the child is gone leaves nothing behind even when
// the child was killed. The server's pid in the name lets a later server remove what a killed one left.
Result<std::string> MakeRuntimeDir() {
  const std::string base = RuntimeBase();
  std::string dir = base + "/" + kRuntimeDirPrefix + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    return Status::Internal("cannot create a runtime directory in " + base + ": " + std::strerror(errno));
  }
  return dir;
}

// One plugin process and the connection to it, from launch to exit. Requests share it (shared_ptr) with the
// supervisor, which alone launches, watches and shuts it down.
class PluginConnection {
 public:
  struct Context {
    const PluginHostOptions* options;
    const MountSpec* spec;
    const SystemView* system;
    Storage* host_storage;
  };

  // Launches and initializes a plugin. On failure the child is already shut down.
  static Result<std::shared_ptr<PluginConnection>> Launch(const Context& ctx);

  ~PluginConnection() { Shutdown(/*graceful=*/false); }

  Result<Response> HandleRequest(const Request& req) const;
  const std::vector<std::string>& unauthenticated_paths() const { return unauthenticated_; }
  const std::vector<std::string>& root_paths() const { return root_paths_; }
  pid_t pid() const { return process_->pid(); }
  std::string ExitDescription() const { return process_->ExitDescription(); }

  // Whether the child has exited (reaping it).
  bool Exited() { return process_->Exited(); }
  // Whether the child answers its health check as SERVING, and still holds the broker stream.
  bool Ping() const;
  // The child's health service answers "plugin" SERVING within `timeout`.
  Status CheckHealth(std::chrono::milliseconds timeout) const;
  void Kill() { process_->Kill(); }

  // graceful: Cleanup, end the broker stream, GRPCController/Shutdown and up to 2 s for the exit. Then, either way:
  // SIGKILL if still running, reap, stop the broker listeners, remove the runtime directory. Idempotent.
  void Shutdown(bool graceful);

 private:
  PluginConnection(std::string runtime_dir, std::string mount_path)
      : runtime_dir_(std::move(runtime_dir)), mount_path_(std::move(mount_path)) {}
  Status Connect(const Context& ctx);

  const std::string runtime_dir_;
  const std::string mount_path_;  // for log lines
  std::unique_ptr<PluginProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Backend::Stub> backend_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<::plugin::GRPCController::Stub> controller_;
  std::unique_ptr<HostBroker> broker_;
  std::vector<std::string> unauthenticated_;  // set by Connect, then immutable
  std::vector<std::string> root_paths_;       // set by Connect, then immutable
  bool set_up_ = false;                       // Setup succeeded: Cleanup is owed at shutdown
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_
};

Result<std::shared_ptr<PluginConnection>> PluginConnection::Launch(const Context& ctx) {
  ASSIGN_OR_RETURN(std::string runtime_dir, MakeRuntimeDir());
  std::shared_ptr<PluginConnection> conn(new PluginConnection(std::move(runtime_dir), ctx.spec->path));
  Status st = conn->Connect(ctx);
  if (!st.ok()) {
    conn->Shutdown(/*graceful=*/conn->channel_ != nullptr);
    return st;
  }
  return conn;
}

Status PluginConnection::Connect(const Context& ctx) {
  const PluginHostOptions& options = *ctx.options;
  const MountSpec& spec = *ctx.spec;

  // AutoMTLS: a fresh identity per launch, as go-plugin makes per client. Its key never leaves this process.
  ASSIGN_OR_RETURN(plugin::TlsIdentity identity, plugin::GenerateTlsIdentity(std::time(nullptr)));
  PluginLaunch launch;
  launch.binary = options.plugin_binary;
  launch.env = PluginEnvironment(environ, identity.cert_pem, runtime_dir_);
  launch.work_dir = spec.data_dir;
  launch.log_name = "plugin " + spec.path;
  ASSIGN_OR_RETURN(process_, PluginProcess::Spawn(launch));

  ASSIGN_OR_RETURN(std::string line, process_->ReadHandshakeLine(options.handshake_timeout));
  ASSIGN_OR_RETURN(PluginHandshake hs, ParseHandshakeLine(line));

  plugin::PeerTls tls;
  tls.enabled = true;
  tls.own_cert_pem = identity.cert_pem;
  tls.own_key_pem = identity.key_pem;
  tls.peer_cert_pem = DerToPem(hs.server_cert_der, "CERTIFICATE");
  channel_ = plugin::Dial(hs.network, hs.address, tls);
  if (!channel_->WaitForConnected(std::chrono::system_clock::now() + kConnectTimeout)) {
    return Status::Internal("cannot connect to the plugin at " + hs.address);
  }
  backend_ = pb::Backend::NewStub(channel_);
  health_ = grpc::health::v1::Health::NewStub(channel_);
  controller_ = ::plugin::GRPCController::NewStub(channel_);

  RETURN_IF_ERROR(CheckHealth(kHealthTimeout));

  ASSIGN_OR_RETURN(broker_, HostBroker::Open(channel_, tls, runtime_dir_));
  const uint32_t broker_id = broker_->NextId();
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<StorageService>(ctx.host_storage));
  services.push_back(std::make_unique<SystemViewService>(ctx.system));
  RETURN_IF_ERROR(broker_->AcceptAndServe(broker_id, std::move(services)));

  {
    pb::SetupArgs args;
    args.set_broker_id(broker_id);
    for (const auto& [k, v] : SetupConfig(spec, options)) (*args.mutable_config())[k] = v;
    args.set_backenduuid(spec.uuid);
    pb::SetupReply reply;
    grpc::ClientContext c;
    SetDeadline(&c, kSetupTimeout);
    grpc::Status s = backend_->Setup(&c, args, &reply);
    if (!s.ok()) return TransportError("plugin setup failed", s);
    // The plugin's refusal of the mount's configuration is the operator's to fix.
    if (!reply.err().empty()) return Status::BadRequest(reply.err());
    set_up_ = true;
  }
  {
    pb::TypeReply reply;
    grpc::ClientContext c;
    SetDeadline(&c, kShortCallTimeout);
    grpc::Status s = backend_->Type(&c, pb::Empty(), &reply);
    if (!s.ok()) return TransportError("plugin type query failed", s);
    if (reply.type() != kTypeLogical) {
      return Status::BadRequest("plugin is not a secrets engine (backend type " + std::to_string(reply.type()) + ")");
    }
  }
  {
    pb::SpecialPathsReply reply;
    grpc::ClientContext c;
    SetDeadline(&c, kShortCallTimeout);
    grpc::Status s = backend_->SpecialPaths(&c, pb::Empty(), &reply);
    if (!s.ok()) return TransportError("plugin special paths query failed", s);
    for (const auto& p : reply.paths().unauthenticated()) unauthenticated_.push_back(p);
    for (const auto& p : reply.paths().root()) root_paths_.push_back(p);
  }
  {
    pb::InitializeReply reply;
    grpc::ClientContext c;
    SetDeadline(&c, kSetupTimeout);
    grpc::Status s = backend_->Initialize(&c, pb::InitializeArgs(), &reply);
    // Vault tolerates plugins built before Initialize existed.
    if (!s.ok() && s.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      return TransportError("plugin initialization failed", s);
    }
    if (reply.has_err()) return plugin::FromProtoError(reply.err()).Annotate("plugin initialization failed");
  }
  return Status::Ok();
}

Result<Response> PluginConnection::HandleRequest(const Request& req) const {
  pb::HandleRequestArgs args;
  *args.mutable_request() = plugin::ToProtoRequest(req, NewUuid());
  pb::HandleRequestReply reply;
  grpc::ClientContext c;
  SetDeadline(&c, kRequestTimeout);
  grpc::Status s = backend_->HandleRequest(&c, args, &reply);
  if (!s.ok()) return TransportError("plugin request failed", s);
  return plugin::FromProtoReply(reply);
}

Status PluginConnection::CheckHealth(std::chrono::milliseconds timeout) const {
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("plugin");
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext c;
  SetDeadline(&c, timeout);
  grpc::Status s = health_->Check(&c, req, &resp);
  if (!s.ok()) return TransportError("plugin health check failed", s);
  if (resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return Status::Internal("plugin health check: not serving");
  }
  return Status::Ok();
}

bool PluginConnection::Ping() const { return broker_->StreamOpen() && CheckHealth(kPingTimeout).ok(); }

void PluginConnection::Shutdown(bool graceful) {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  const bool running = process_ && !process_->Exited();
  if (graceful && running && backend_) {
    if (set_up_) {
      grpc::ClientContext c;
      SetDeadline(&c, kCleanupTimeout);
      pb::Empty out;
      grpc::Status s = backend_->Cleanup(&c, pb::Empty(), &out);
      if (!s.ok()) {
        LogLine(LogLevel::kWarn, "plugin for mount " + mount_path_ + ": cleanup failed: " + s.error_message());
      }
    }
    // The plugin's server stops only once no call is open on it, the broker stream included.
    if (broker_) broker_->EndStream();
    grpc::ClientContext c;
    SetDeadline(&c, kShutdownGrace);
    ::plugin::Empty out;
    grpc::Status ignored = controller_->Shutdown(&c, ::plugin::Empty(), &out);  // the exit is what counts
    (void)ignored;
    // The plugin's server stops gracefully: a GOAWAY and a ping that this side must answer. Nothing else polls the
    // connection now, so watching its state does, until the plugin is gone.
    const auto deadline = SteadyClock::now() + kShutdownGrace;
    while (!process_->Exited() && SteadyClock::now() < deadline) {
      channel_->WaitForStateChange(channel_->GetState(false),
                                   std::chrono::system_clock::now() + std::chrono::milliseconds(20));
    }
  }
  if (process_ && !process_->Exited()) {
    if (graceful && running) {
      LogLine(LogLevel::kWarn, "plugin for mount " + mount_path_ + " did not exit within 2 s of shutdown; killing it");
    }
    process_->Kill();
    process_->WaitExit(std::chrono::seconds(5));
  }
  // With the plugin gone, its connections to the broker listeners are closed and they stop at once.
  if (broker_) broker_->Close();
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir_, ec);
}

// The MountedBackend of one mount: the current PluginConnection and the supervisor thread that keeps one running.
class PluginBackend final : public MountedBackend {
 public:
  PluginBackend(const PluginHostOptions& options, MountSpec spec, const SystemView* system,
                std::unique_ptr<MountHostStorage> host_storage)
      : options_(options), spec_(std::move(spec)), system_(system), host_storage_(std::move(host_storage)) {}
  ~PluginBackend() override {
    Status st = Close();
    (void)st;
  }

  // Starts the supervisor and waits for the first launch.
  Status Start();

  Result<Response> HandleRequest(const Request& req) override;
  std::vector<std::string> UnauthenticatedPaths() const override;
  std::vector<std::string> RootPaths() const override;
  bool Serving() const override { return serving_.load(); }
  Status Close() override;
  Result<std::vector<BackupItem>> Checkpoint(const std::string& dir) override;

 private:
  void Supervise(std::promise<Status> started);
  Result<std::shared_ptr<PluginConnection>> Launch();
  void Install(const std::shared_ptr<PluginConnection>& conn);
  // Waits `d` unless Close() is called meanwhile; returns false when it was.
  bool SleepUnlessStopping(std::chrono::milliseconds d);

  const PluginHostOptions options_;
  const MountSpec spec_;
  const SystemView* const system_;
  const std::unique_ptr<MountHostStorage> host_storage_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // conn_ installed, or stopping_
  std::shared_ptr<PluginConnection> conn_;     // guarded by mu_; null while no plugin is up
  std::vector<std::string> unauthenticated_;   // guarded by mu_
  std::vector<std::string> root_paths_;        // guarded by mu_
  bool stopping_ = false;                      // guarded by mu_
  std::atomic<bool> serving_{false};           // alive, connected and answering pings
  std::thread supervisor_;
  std::atomic<bool> closed_{false};
};

Status PluginBackend::Start() {
  std::promise<Status> started;
  std::future<Status> result = started.get_future();
  supervisor_ = std::thread([this, p = std::move(started)]() mutable { Supervise(std::move(p)); });
  Status st = result.get();
  if (!st.ok()) {
    supervisor_.join();  // it returned after reporting the failure
    closed_.store(true);
  }
  return st;
}

Result<std::shared_ptr<PluginConnection>> PluginBackend::Launch() {
  PluginConnection::Context ctx{&options_, &spec_, system_, host_storage_.get()};
  return PluginConnection::Launch(ctx);
}

void PluginBackend::Install(const std::shared_ptr<PluginConnection>& conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    conn_ = conn;
    unauthenticated_ = conn->unauthenticated_paths();
    root_paths_ = conn->root_paths();
  }
  serving_.store(true);
  cv_.notify_all();
}

bool PluginBackend::SleepUnlessStopping(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

void PluginBackend::Supervise(std::promise<Status> started) {
  Result<std::shared_ptr<PluginConnection>> first = Launch();
  if (!first.ok()) {
    started.set_value(first.status());
    return;
  }
  std::shared_ptr<PluginConnection> conn = std::move(first).value();
  Install(conn);
  started.set_value(Status::Ok());

  auto backoff = options_.restart_backoff_min;
  auto launched_at = SteadyClock::now();
  auto next_ping = launched_at + kPingInterval;
  int failed_pings = 0;
  while (SleepUnlessStopping(kWatchInterval)) {
    if (conn && !conn->Exited()) {
      if (SteadyClock::now() < next_ping) continue;
      next_ping = SteadyClock::now() + kPingInterval;
      if (conn->Ping()) {
        failed_pings = 0;
        serving_.store(true);
        continue;
      }
      serving_.store(false);
      if (++failed_pings == kMaxFailedPings) {
        LogLine(LogLevel::kError, "plugin for mount " + spec_.path + " stopped answering health checks; killing it");
        conn->Kill();
      }
      continue;
    }

    if (conn) {
      // The child died: take it out of service, then start another.
      serving_.store(false);
      {
        std::lock_guard<std::mutex> lock(mu_);
        conn_.reset();
      }
      LogLine(LogLevel::kError, "plugin for mount " + spec_.path + " (pid " + std::to_string(conn->pid()) +
                                    ") exited: " + conn->ExitDescription() + "; restarting");
      conn->Shutdown(/*graceful=*/false);
      conn.reset();
      if (SteadyClock::now() - launched_at >= kStableRun) backoff = options_.restart_backoff_min;
      if (!SleepUnlessStopping(backoff)) break;
    }

    Result<std::shared_ptr<PluginConnection>> next = Launch();
    backoff = std::min(backoff * 2, options_.restart_backoff_max);
    if (!next.ok()) {
      LogLine(LogLevel::kError, "restarting the plugin for mount " + spec_.path + " failed: " +
                                    next.status().message() + "; next attempt in " +
                                    std::to_string(backoff.count()) + " ms");
      if (!SleepUnlessStopping(backoff)) break;
      continue;
    }
    conn = std::move(next).value();
    launched_at = SteadyClock::now();
    next_ping = launched_at + kPingInterval;
    failed_pings = 0;
    Install(conn);
    LogLine(LogLevel::kInfo, "plugin for mount " + spec_.path + " restarted (pid " + std::to_string(conn->pid()) + ")");
  }

  serving_.store(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    conn_.reset();
  }
  if (conn) conn->Shutdown(/*graceful=*/true);
}

Result<Response> PluginBackend::HandleRequest(const Request& req) {
  std::shared_ptr<PluginConnection> conn;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, options_.request_wait, [&] { return conn_ != nullptr || stopping_; });
    conn = conn_;
  }
  if (!conn) return Status::Internal("plugin is not running");
  return conn->HandleRequest(req);
}

std::vector<std::string> PluginBackend::UnauthenticatedPaths() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unauthenticated_;
}

std::vector<std::string> PluginBackend::RootPaths() const {
  std::lock_guard<std::mutex> lock(mu_);
  return root_paths_;
}

Result<std::vector<BackupItem>> PluginBackend::Checkpoint(const std::string& dir) {
  const std::map<std::string, std::string> config = SetupConfig(spec_, options_);
  auto rocksdb_path = config.find("rocksdb_path");
  // A mount from before the plugin host has its RocksDB as the data directory itself (SetupConfig).
  const bool legacy = rocksdb_path != config.end() && rocksdb_path->second == spec_.data_dir;
  std::vector<BackupItem> items;
  std::error_code ec;
  auto fail = [&](const Status& st) {
    std::filesystem::remove_all(dir, ec);
    std::filesystem::remove(dir + ".seal-key", ec);
    return st;
  };
  if (!legacy && ::mkdir(dir.c_str(), 0700) != 0) {
    return Status::Internal("cannot create " + dir + ": " + std::strerror(errno));
  }
  if (rocksdb_path != config.end()) {
    // The database is open in the plugin process, which alone can checkpoint it.
    Request req;
    req.operation = Operation::kUpdate;
    req.path = "storage/checkpoint";
    req.mount_point = spec_.path;
    req.data = Json{{"path", legacy ? dir : dir + "/rocksdb"}};
    Result<Response> done = HandleRequest(req);
    if (!done.ok()) return fail(done.status().Annotate("checkpoint by the plugin of mount " + spec_.path));
    if (legacy) {
      // Its seal key is the server's legacy key file, which the backup copies itself.
      std::filesystem::remove(dir + ".seal-key", ec);
      items.push_back({"", "RocksDB checkpoint, written by the mount's plugin"});
    } else {
      items.push_back({"rocksdb", "RocksDB checkpoint, written by the mount's plugin"});
      items.push_back({"rocksdb.seal-key", "the key sealing the mount's CA keys, copied by its plugin"});
    }
  }
  Result<bool> host = host_storage_->Checkpoint(dir + "/host-storage");
  if (!host.ok()) return fail(host.status().Annotate("checkpoint of the host storage of mount " + spec_.path));
  if (host.value()) items.push_back({"host-storage", "RocksDB checkpoint of the mount's host storage"});
  return items;
}

Status PluginBackend::Close() {
  if (closed_.exchange(true)) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  return host_storage_->Close();
}

}  // namespace

std::map<std::string, std::string> SetupConfig(const MountSpec& spec, const PluginHostOptions& options) {
  std::map<std::string, std::string> config = spec.options;
  config["plugin_name"] = options.plugin_name;
  config["plugin_type"] = "secret";
  auto storage = config.find("storage");
  const bool rocksdb = storage == config.end() || storage->second == "rocksdb";
  if (rocksdb && config.count("rocksdb_path") == 0) {
    std::error_code ec;
    if (std::filesystem::exists(spec.data_dir + "/CURRENT", ec)) {
      // A mount from before the plugin host: its RocksDB is the data directory itself, sealed with the key that
      // the in-process engine shared between mounts.
      config["rocksdb_path"] = spec.data_dir;
      if (!options.legacy_seal_key_file.empty() && config.count("seal_key_file") == 0) {
        config["seal_key_file"] = options.legacy_seal_key_file;
      }
    } else {
      config["rocksdb_path"] = spec.data_dir + "/rocksdb";
    }
  }
  return config;
}

void RemoveStaleRuntimeDirs() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(RuntimeBase(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kRuntimeDirPrefix, 0) != 0) continue;
    // "pki-server-<pid>-XXXXXX": only a dead server's, and only our own.
    const std::string rest = name.substr(std::strlen(kRuntimeDirPrefix));
    const size_t dash = rest.find('-');
    if (dash == std::string::npos || dash == 0) continue;
    char* end = nullptr;
    // Named: strtol's end pointer points into it, and is read after the call.
    const std::string pid_text = rest.substr(0, dash);
    const long pid = std::strtol(pid_text.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || pid <= 0) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    std::filesystem::remove_all(entry.path(), rm);
  }
}

Result<std::string> DefaultPluginPath() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return Status::Internal("cannot find the pki-server executable: " + ec.message());
  return (self.parent_path() / "pki-plugin").string();
}

Result<std::string> ResolvePluginBinary(const std::string& path) {
  std::string p = path;
  if (p.empty()) {
    ASSIGN_OR_RETURN(p, DefaultPluginPath());
  }
  std::error_code ec;
  // The child starts in its mount's directory: a relative path would name another file there.
  std::filesystem::path abs = std::filesystem::absolute(p, ec);
  if (ec) return Status::BadRequest("invalid plugin path " + p);
  struct stat st {};
  if (::stat(abs.c_str(), &st) != 0) {
    return Status::BadRequest("plugin binary not found at " + abs.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode) || ::access(abs.c_str(), X_OK) != 0) {
    return Status::BadRequest("plugin binary " + abs.string() + " is not an executable file");
  }
  return abs.string();
}

Result<std::unique_ptr<MountedBackend>> PluginFactory::Start(const MountSpec& spec, const SystemView* system) {
  if (spec.type != "pki") return Status::BadRequest("unsupported secrets engine type \"" + spec.type + "\"");
  // Where a mount's files live is pki-server's decision, not an API caller's: these would name any path on disk.
  for (const char* placed : {"rocksdb_path", "seal_key_file"}) {
    if (spec.options.count(placed) > 0) {
      return Status::BadRequest(std::string("the mount option ") + placed +
                                " is set by pki-server (each mount's files live in its own data directory)");
    }
  }
  if (!options_.barrier) return Status::Internal("the plugin host has no storage barrier");
  auto host_storage = std::make_unique<MountHostStorage>(spec.data_dir + "/host-storage", options_.barrier.get());
  if (auto it = spec.options.find("storage"); it != spec.options.end() && it->second == "host") {
    RETURN_IF_ERROR(host_storage->Open());
  }
  auto backend = std::make_unique<PluginBackend>(options_, spec, system, std::move(host_storage));
  RETURN_IF_ERROR(backend->Start());
  return std::unique_ptr<MountedBackend>(std::move(backend));
}

}  // namespace pki::server
