// pki-plugin: the PKI engine as a Vault/OpenBao external secrets plugin, served over HashiCorp go-plugin's gRPC
// protocol. A host (Vault, OpenBao, pki-server) launches it; it is not meant to be run by hand.
//
// Life of the process: check the magic cookie, choose protocol version 5, make the AutoMTLS identity, listen on a
// private unix socket (or loopback tcp with --tcp), serve health/broker/controller/stdio/Backend/PluginVersion,
// print the handshake line, then wait until the host asks for shutdown (GRPCController/Shutdown), sends SIGTERM,
// or dies (PR_SET_PDEATHSIG, and a parent-pid check for hosts whose launching thread is gone).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "grpc_controller.grpc.pb.h"
#include "grpc_stdio.grpc.pb.h"
#include "plugin/automtls.h"
#include "plugin/backend_service.h"
#include "plugin/broker.h"
#include "plugin/handshake.h"
#include "plugin/log.h"
#include "plugin/tls.h"
#include "src/crypto/x509.h"

namespace pki::plugin {
namespace {

// Set once by whichever of the shutdown triggers fires first; the main thread waits on it.
class ShutdownLatch {
 public:
  void Trigger(const char* reason) {
    std::lock_guard<std::mutex> lock(mu_);
    if (reason_ != nullptr) return;
    reason_ = reason;
    cv_.notify_all();
  }
  const char* Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return reason_ != nullptr; });
    return reason_;
  }
  bool WaitFor(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, d, [&] { return reason_ != nullptr; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const char* reason_ = nullptr;
};

class ControllerService final : public ::plugin::GRPCController::Service {
 public:
  explicit ControllerService(ShutdownLatch* latch) : latch_(latch) {}
  // Replies first; the main thread stops the server once this call has returned.
  grpc::Status Shutdown(grpc::ServerContext*, const ::plugin::Empty*, ::plugin::Empty*) override {
    latch_->Trigger("host asked for shutdown");
    return grpc::Status::OK;
  }

 private:
  ShutdownLatch* latch_;
};

// The plugin logs to stderr itself, which hosts read directly; the stdio stream stays open and carries nothing.
class StdioService final : public ::plugin::GRPCStdio::Service {
 public:
  explicit StdioService(ShutdownLatch* latch) : latch_(latch) {}
  grpc::Status StreamStdio(grpc::ServerContext* ctx, const google::protobuf::Empty*,
                           grpc::ServerWriter<::plugin::StdioData>*) override {
    while (!ctx->IsCancelled() && !latch_->WaitFor(std::chrono::milliseconds(500))) {
    }
    return grpc::Status::OK;
  }

 private:
  ShutdownLatch* latch_;
};

constexpr char kUsage[] =
    "This binary is a plugin for Vault, OpenBao or pki-server and is not meant to be executed directly: "
    "register it with the host, which launches it.\n";

constexpr auto kHostConnectTimeout = std::chrono::seconds(60);

// go-plugin's tcp range: the first free port in [PLUGIN_MIN_PORT, PLUGIN_MAX_PORT], any port when unset.
Result<int> ChooseTcpPort(const char* min_env, const char* max_env) {
  int lo = min_env != nullptr ? std::atoi(min_env) : 0;
  int hi = max_env != nullptr ? std::atoi(max_env) : 0;
  if (lo <= 0 && hi <= 0) return 0;
  if (lo <= 0) lo = 1;
  if (hi < lo || hi > 65535) return Status::BadRequest("PLUGIN_MIN_PORT/PLUGIN_MAX_PORT do not form a port range");
  for (int port = lo; port <= hi; ++port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (free) return port;
  }
  return Status::Internal("no free port in " + std::to_string(lo) + "-" + std::to_string(hi));
}

struct Options {
  bool tcp = false;
};

int Usage(const char* what) {
  std::fprintf(stderr, "pki-plugin: %s\nusage: pki-plugin [--version] [--tcp]\n", what);
  return 2;
}

// Blocks the signals the signal thread handles, in every thread created after this call.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int Run(const Options& opts) {
  // The parent's death is delivered as SIGUSR1 and confirmed against the parent pid: PR_SET_PDEATHSIG fires when
  // the launching *thread* exits, which a multi-threaded host may do while alive.
  const pid_t parent = getppid();
  sigset_t signals = BlockShutdownSignals();
  prctl(PR_SET_PDEATHSIG, SIGUSR1);
  // Re-parented to init already: the host died before we could watch it.
  if (parent == 1 || getppid() != parent) return 1;
  std::signal(SIGPIPE, SIG_IGN);

  Result<int> version = NegotiateProtocolVersion(std::getenv("PLUGIN_PROTOCOL_VERSIONS"));
  if (!version.ok()) {
    Log(LogLevel::kError, version.status().message());
    return 1;
  }

  PeerTls tls;
  std::string cert_der;  // announced in the handshake line; empty without AutoMTLS
  if (const char* client_cert = std::getenv("PLUGIN_CLIENT_CERT"); client_cert != nullptr && *client_cert) {
    if (!ParseCertificatePem(client_cert).ok()) {
      Log(LogLevel::kError, "PLUGIN_CLIENT_CERT is not a PEM certificate");
      return 1;
    }
    Result<TlsIdentity> identity = GenerateTlsIdentity(std::time(nullptr));
    if (!identity.ok()) {
      Log(LogLevel::kError, "cannot create the AutoMTLS certificate", {{"error", identity.status().message()}});
      return 1;
    }
    tls.enabled = true;
    tls.own_cert_pem = identity->cert_pem;
    tls.own_key_pem = identity->key_pem;
    tls.peer_cert_pem = client_cert;
    cert_der = identity->cert_der;
  }

  std::string socket_dir;
  if (!opts.tcp) {
    Result<std::string> dir = MakeSocketDir(std::getenv("PLUGIN_UNIX_SOCKET_DIR"), std::getenv("TMPDIR"));
    if (!dir.ok()) {
      Log(LogLevel::kError, dir.status().message());
      return 1;
    }
    socket_dir = dir.value();
  }

  ShutdownLatch latch;
  SystemClock clock;
  BrokerService broker(tls);
  ControllerService controller(&latch);
  StdioService stdio(&latch);
  std::string working_dir = std::filesystem::current_path().string();
  BackendService backend(&broker, &clock, working_dir);
  VersionService version_service;

  TuneGrpcRuntime();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder);
  int selected_port = 0;
  std::string target = "unix:" + socket_dir + "/plugin.sock";
  if (opts.tcp) {
    Result<int> port = ChooseTcpPort(std::getenv("PLUGIN_MIN_PORT"), std::getenv("PLUGIN_MAX_PORT"));
    if (!port.ok()) {
      Log(LogLevel::kError, port.status().message());
      return 1;
    }
    target = "127.0.0.1:" + std::to_string(port.value());
  }
  builder.AddListeningPort(target, ServerCredentials(tls), &selected_port);
  builder.RegisterService(&broker);
  builder.RegisterService(&controller);
  builder.RegisterService(&stdio);
  builder.RegisterService(&backend);
  builder.RegisterService(&version_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || (opts.tcp && selected_port == 0)) {
    Log(LogLevel::kError, "cannot listen", {{"address", target}});
    if (!socket_dir.empty()) std::filesystem::remove_all(socket_dir);
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus("plugin", true);

  std::string network = opts.tcp ? "tcp" : "unix";
  std::string address = opts.tcp ? "127.0.0.1:" + std::to_string(selected_port) : socket_dir + "/plugin.sock";
  std::string line = HandshakeLine(version.value(), network, address, cert_der) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  // Nothing else may reach the host through stdout.
  if (FILE* devnull = std::freopen("/dev/null", "w", stdout); devnull == nullptr) std::fclose(stdout);
  Log(LogLevel::kInfo, "plugin serving", {{"network", network}, {"address", address}, {"tls", tls.enabled ? "mtls" : "none"}});

  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGTERM) {
        latch.Trigger("terminated");
        return;
      }
      if (sig == SIGUSR1 && getppid() != parent) {
        latch.Trigger("host exited");
        return;
      }
      // SIGINT goes to the whole terminal process group; the host decides when its plugins stop (go-plugin does
      // the same).
    }
  });
  // The host is gone when our parent changes, or when it closes the broker stream it opens on connecting (a
  // host that never connects within a minute, say one that died between spawning us and dialling, counts too).
  std::thread host_watch([&] {
    const auto deadline = std::chrono::steady_clock::now() + kHostConnectTimeout;
    while (!latch.WaitFor(std::chrono::seconds(1))) {
      if (getppid() != parent) latch.Trigger("host exited");
      if (broker.StreamEnded()) latch.Trigger("host closed its connection");
      if (!broker.StreamOpened() && std::chrono::steady_clock::now() > deadline) latch.Trigger("no host connected");
    }
  });

  const char* reason = latch.Wait();
  Log(LogLevel::kInfo, "shutting down", {{"reason", reason}});
  broker.Shutdown();
  // In-flight calls get a second, then the storage is flushed and closed. A handler still computing past that (an
  // 8192-bit key) is not waited for: every write it made is already synced, and a plugin that outlives its host
  // keeps the mount's RocksDB lock from the next plugin. So whatever still runs after 1.5 s ends with the process.
  ShutdownLatch stopped;
  std::thread stopper([&] {
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server->Wait();
    backend.Close();
    stopped.Trigger("stopped");
  });
  bool clean = stopped.WaitFor(std::chrono::milliseconds(1500));
  if (!socket_dir.empty()) std::filesystem::remove_all(socket_dir);
  if (!clean) {
    Log(LogLevel::kWarn, "exiting with calls still running");
    std::_Exit(0);
  }
  stopper.join();
  host_watch.join();
  // The signal thread may still be in sigwait: wake it.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return 0;
}

}  // namespace
}  // namespace pki::plugin

int main(int argc, char** argv) {
  // Its RocksDB files and seal key are the service account's alone, whoever launched it (Vault, pki-server).
  umask(077);
  pki::plugin::Options opts;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--version" || arg == "-version") {
      std::printf("pki-plugin %s\n", pki::plugin::PluginVersionString());
      return 0;
    }
    if (arg == "--tcp" || arg == "-tcp") {
      opts.tcp = true;
      continue;
    }
    return pki::plugin::Usage(("unknown argument " + arg).c_str());
  }
  if (!pki::plugin::HasMagicCookie(std::getenv(pki::plugin::kMagicCookieKey))) {
    std::fputs(pki::plugin::kUsage, stderr);
    return 1;
  }
  return pki::plugin::Run(opts);
}
