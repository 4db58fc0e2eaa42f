// pki-server: the Vault-compatible HTTP host for the PKI secrets engine.
//
// Usage: pki-server -dev [-dev-root-token-id=T] [-dev-listen-address=127.0.0.1:8200] [-data-dir=DIR] [-plugin=PATH]
//                   [-audit-log=PATH]
// Each PKI mount is served by a pki-plugin child process (found next to pki-server unless -plugin says otherwise),
// launched and supervised over HashiCorp go-plugin's gRPC protocol as Vault does (src/server/plugin_host.h).
// Stops cleanly on SIGTERM or SIGINT: no new connections, requests in flight answered, plugins shut down, storage
// flushed, exit 0. SIGHUP reopens the audit log (log rotation).
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "plugin/tls.h"
#include "src/server/dev_server.h"
#include "src/server/plugin_host.h"
#include "src/server/server_flags.h"
#include "src/server/server_log.h"
#include "src/server/version.h"

namespace pki::server {
namespace {

constexpr int kExitUsage = 2;

void PrintBanner(const DevServer& server, const std::string& plugin_binary, const std::string& audit_log) {
  std::string mounts;
  for (const auto& m : server.mounts()) mounts += (mounts.empty() ? "" : ", ") + m.path + " (" + m.type + ")";
  if (mounts.empty()) mounts = "(none)";
  const std::string addr = "http://" + server.address();
  std::cout << "==> pki-server configuration:\n\n"
            << "             Api Address: " << addr << "\n"
            << "                Data Dir: " << server.layout().root << "\n"
            << "                  Mounts: " << mounts << "\n"
            << "                  Plugin: " << plugin_binary << " (one process per mount)\n"
            << "               Audit Log: " << (audit_log.empty() ? "(none)" : audit_log) << "\n"
            << "                 Threads: " << server.threads() << " I/O, " << server.worker_threads()
            << " request workers\n"
            << "                 Version: pki-server v" << kServerVersion << "\n\n"
            << "==> pki-server started! Log data will stream in below:\n\n"
            << "WARNING! dev mode is enabled! In this mode the server listens on plain HTTP and accepts\n"
            << "the root token below for every request.\n\n"
            << "You may need to set the following environment variables:\n\n"
            << "    $ export VAULT_ADDR='" << addr << "'\n\n"
            << "The root token is displayed below:\n\n"
            << "Root Token: " << server.root_token() << "\n\n"
            << "Development mode should NOT be used in production installations!\n"
            << std::endl;
}

// Each PKI mount runs in its own pki-plugin child, over the plugin protocol Vault uses.
FactoryMaker MakePluginFactory(const std::string& plugin_binary) {
  return [plugin_binary](const DataLayout& layout) -> Result<std::unique_ptr<MountBackendFactory>> {
    RemoveStaleRuntimeDirs();
    PluginHostOptions options;
    options.plugin_binary = plugin_binary;
    options.legacy_seal_key_file = layout.seal_key_file;
    ASSIGN_OR_RETURN(std::unique_ptr<KeySealer> barrier, OpenAesGcmSealer(layout.seal_key_file));
    options.barrier = std::move(barrier);
    return std::unique_ptr<MountBackendFactory>(std::make_unique<PluginFactory>(std::move(options)));
  };
}

int Main(int argc, char** argv) {
  plugin::TuneGrpcRuntime();
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = ParseServerFlags(args, [](const char* name) { return std::getenv(name); });
  if (!parsed.ok()) {
    std::cerr << "pki-server: " << parsed.status().message() << "\nRun 'pki-server -help' for usage.\n";
    return kExitUsage;
  }
  const ServerFlags& flags = parsed.value();
  if (flags.help) {
    std::cout << ServerUsage();
    return 0;
  }
  if (flags.version) {
    std::cout << "pki-server v" << kServerVersion << "\n";
    return 0;
  }
  if (Status st = ValidateServerFlags(flags); !st.ok()) {
    std::cerr << "pki-server: " << st.message() << "\nRun 'pki-server -help' for usage.\n";
    return kExitUsage;
  }
  auto host_port = SplitHostPort(flags.dev_listen_address).value();
  Result<std::string> plugin_binary = ResolvePluginBinary(flags.plugin_path);
  if (!plugin_binary.ok()) {
    std::cerr << "pki-server: " << plugin_binary.status().message()
              << "\nBuild the pki-plugin target, or pass -plugin=PATH.\n";
    return 1;
  }

  // Block the stop signals and SIGHUP before any thread starts, so that every thread inherits the mask and only
  // sigwait below receives them. Writes to closed sockets must not kill the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  DevServerOptions options;
  options.data_dir = flags.data_dir;
  options.root_token = flags.dev_root_token_id;
  options.listen_host = host_port.first;
  options.listen_port = host_port.second;
  options.audit_log_path = flags.audit_log_path;
  auto server = DevServer::Start(options, MakePluginFactory(plugin_binary.value()));
  if (!server.ok()) {
    std::cerr << "pki-server: error starting server: " << server.status().message() << "\n";
    return 1;
  }
  PrintBanner(*server.value(), plugin_binary.value(), flags.audit_log_path);

  int signo = 0;
  while (sigwait(&signals, &signo) == 0 && signo == SIGHUP) {
    // Log rotation: the old file has been moved away; start a new one at the same path.
    if (Status st = server.value()->ReopenAuditLog(); !st.ok()) {
      LogLine(LogLevel::kError, "SIGHUP: " + st.message() + " (requests fail until it can be written)");
    } else if (server.value()->audit_enabled()) {
      LogLine(LogLevel::kInfo, "SIGHUP: audit log reopened");
    }
  }
  LogLine(LogLevel::kInfo, std::string("shutdown triggered by ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
                               ": finishing requests in flight");
  if (Status st = server.value()->Stop(); !st.ok()) {
    LogLine(LogLevel::kError, "shutdown: " + st.message());
    return 1;
  }
  LogLine(LogLevel::kInfo, "shutdown complete");
  return 0;
}

}  // namespace
}  // namespace pki::server

int main(int argc, char** argv) { return pki::server::Main(argc, argv); }
