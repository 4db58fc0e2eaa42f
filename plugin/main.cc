// pki-plugin: the PKI engine as a Vault/OpenBao external secrets plugin, served over HashiCorp go-plugin's gRPC
// protocol. A host (Vault, OpenBao, pki-server) launches it; it is not meant to be run by hand.
//
// Life of the process: check the magic cookie, choose protocol version 5, make the AutoMTLS identity, listen on a
// private unix socket (or loopback tcp with --tcp), serve health/broker/controller/stdio/Backend/PluginVersion,
// print the handshake line, then wait until the host asks for shutdown (GRPCController/Shutdown), sends SIGTERM,
// or dies (PR_SET_PDEATHSIG, and a parent-pid check for hosts whose launching thread is gone).
#include <signal.h>
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
  if (getppid() != parent) return 1;  // the host died before we could watch it
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
  std::string target = opts.tcp ? "127.0.0.1:0" : "unix:" + socket_dir + "/plugin.sock";
  if (opts.tcp) {
    const char* min_env = std::getenv("PLUGIN_MIN_PORT");
    if (min_env != nullptr && std::atoi(min_env) > 0) target = "127.0.0.1:" + std::to_string(std::atoi(min_env));
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
  std::thread parent_watch([&] {
    while (!latch.WaitFor(std::chrono::seconds(1))) {
      if (getppid() != parent) latch.Trigger("host exited");
    }
  });

  const char* reason = latch.Wait();
  Log(LogLevel::kInfo, "shutting down", {{"reason", reason}});
  broker.Shutdown();
  // Under the 2 s a go-plugin host waits before it kills: in-flight calls get one second to finish.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server->Wait();
  backend.Close();
  if (!socket_dir.empty()) std::filesystem::remove_all(socket_dir);
  parent_watch.join();
  // The signal thread may still be in sigwait: wake it.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return 0;
}

}  // namespace
}  // namespace pki::plugin

int main(int argc, char** argv) {
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
