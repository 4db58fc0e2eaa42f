// pki-server: the Vault-compatible HTTP host for the PKI secrets engine.
//
// Usage: pki-server -dev [-dev-root-token-id=T] [-dev-listen-address=127.0.0.1:8200] [-data-dir=DIR] [-plugin=PATH]
//        pki-server -config=FILE [-plugin=PATH] [-log-level=LEVEL]   (FILE: see server_config.h, docs/deploy.md)
//        either with [-audit-log=PATH]
//        pki-server operator backup [-address=ADDR ...] PATH   (a client of a running server: src/cli/operator_backup.h)
// Each PKI mount is served by a pki-plugin child process (found next to pki-server unless -plugin says otherwise),
// launched and supervised over HashiCorp go-plugin's gRPC protocol as Vault does (src/server/plugin_host.h).
// Stops cleanly on SIGTERM or SIGINT: no new connections, requests in flight answered, plugins shut down, storage
// flushed, exit 0. SIGHUP reopens the audit log (log rotation) and reads the
// listeners' TLS certificates and keys again.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "plugin/tls.h"
#include "src/cli/operator_backup.h"
#include "src/server/dev_server.h"
#include "src/server/plugin_host.h"
#include "src/server/server_config.h"
#include "src/server/server_flags.h"
#include "src/server/server_log.h"
#include "src/server/version.h"

extern char** environ;

namespace pki::server {
namespace {

constexpr int kExitUsage = 2;

std::string AuditLogName(const std::string& path) { return path.empty() ? "(none)" : path; }

std::string MountList(const DevServer& server) {
  std::string mounts;
  for (const auto& m : server.mounts()) mounts += (mounts.empty() ? "" : ", ") + m.path + " (" + m.type + ")";
  return mounts.empty() ? "(none)" : mounts;
}

void PrintDevBanner(const DevServer& server, const std::string& plugin_binary, const std::string& audit_log) {
  const std::string addr = "http://" + server.address();
  std::cout << "==> pki-server configuration:\n\n"
            << "             Api Address: " << addr << "\n"
            << "                Data Dir: " << server.layout().root << "\n"
            << "               Log Level: " << LogLevelName(GetLogLevel()) << "\n"
            << "                  Mounts: " << MountList(server) << "\n"
            << "                  Plugin: " << plugin_binary << " (one process per mount)\n"
            << "               Audit Log: " << AuditLogName(audit_log) << "\n"
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

// The banner of a configured server names the root token's file, never the token.
void PrintConfigBanner(const DevServer& server, const std::string& plugin_binary, const std::string& config_file,
                       const std::string& token_file, bool token_created, const std::string& audit_log) {
  std::cout << "==> pki-server configuration:\n\n"
            << "             Config File: " << config_file << "\n";
  const HttpServer& http = server.http();
  for (size_t i = 0; i < http.listener_count(); ++i) {
    std::cout << "                Listener: " << (http.tls(i) ? "https://" : "http://") << http.address(i)
              << (http.tls(i) ? " (TLS)" : " (plain HTTP, TLS disabled)") << "\n";
  }
  std::cout << "                Data Dir: " << server.layout().root << "\n"
            << "               Log Level: " << LogLevelName(GetLogLevel()) << "\n"
            << "                  Mounts: " << MountList(server) << "\n"
            << "                  Plugin: " << plugin_binary << " (one process per mount)\n"
            << "               Audit Log: " << AuditLogName(audit_log) << "\n"
            << "              Root Token: " << (token_created ? "generated and written to " : "read from ")
            << token_file << "\n"
            << "                 Threads: " << server.threads() << " I/O, " << server.worker_threads()
            << " request workers\n"
            << "                 Version: pki-server v" << kServerVersion << "\n\n"
            << "==> pki-server started! Log data will stream in below:\n"
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

// Runs until SIGTERM or SIGINT (blocked in every thread, received here). SIGHUP reopens the audit log (the old
// file has been moved away by log rotation: a new one starts at the same path) and reloads the TLS certificates.
int ServeUntilStopped(DevServer& server, const sigset_t& signals) {
  for (;;) {
    int signo = 0;
    sigwait(&signals, &signo);
    if (signo == SIGHUP) {
      if (Status st = server.ReopenAuditLog(); !st.ok()) {
        LogLine(LogLevel::kError, "SIGHUP: " + st.message() + " (requests fail until it can be written)");
      } else if (server.audit_enabled()) {
        LogLine(LogLevel::kInfo, "SIGHUP: audit log reopened");
      }
      Status st = server.ReloadTls();
      if (st.ok()) {
        LogLine(LogLevel::kInfo, "SIGHUP: TLS certificates and keys reloaded");
      } else {
        LogLine(LogLevel::kError, "SIGHUP: reloading TLS failed, keeping the current certificates: " + st.message());
      }
      continue;
    }
    LogLine(LogLevel::kInfo, std::string("shutdown triggered by ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
                                 ": finishing requests in flight");
    break;
  }
  if (Status st = server.Stop(); !st.ok()) {
    LogLine(LogLevel::kError, "shutdown: " + st.message());
    return 1;
  }
  LogLine(LogLevel::kInfo, "shutdown complete");
  return 0;
}

// `pki-server operator ...`: a client of a running server, as `vault operator` is of vault.
int RunOperatorCommand(const std::vector<std::string>& args) {
  cli::CliEnvironment env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  env.transport = [](const cli::TlsOptions& tls) { return cli::NewCurlTransport(tls); };
  env.out = &std::cout;
  env.err = &std::cerr;
  return cli::RunOperator(args, env);
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "operator") return RunOperatorCommand({args.begin() + 1, args.end()});
  plugin::TuneGrpcRuntime();
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
  if (!flags.log_level.empty()) SetLogLevel(*ParseLogLevel(flags.log_level));

  const bool configured = !flags.config_file.empty();
  ServerConfig config;
  if (configured) {
    auto loaded = LoadServerConfigFile(flags.config_file);
    if (!loaded.ok()) {
      std::cerr << "pki-server: error loading configuration from " << flags.config_file << ": "
                << loaded.status().message() << "\n";
      return 1;
    }
    config = std::move(loaded).value();
    if (flags.log_level.empty() && config.log_level) SetLogLevel(*config.log_level);
    for (const auto& w : config.warnings) LogLine(LogLevel::kWarn, w);
  }

  const std::string plugin_path = !flags.plugin_path.empty() ? flags.plugin_path : config.plugin;
  Result<std::string> plugin_binary = ResolvePluginBinary(plugin_path);
  if (!plugin_binary.ok()) {
    std::cerr << "pki-server: " << plugin_binary.status().message()
              << "\nBuild the pki-plugin target, or pass -plugin=PATH.\n";
    return 1;
  }

  // Block the stop signals before any thread starts, so that every thread inherits the mask and only sigwait
  // below receives them. Writes to closed sockets must not kill the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  DevServerOptions options;
  if (configured) {
    options.data_dir = config.data_dir;
    options.listeners = config.listeners;
    options.mounts = config.mounts;
    options.policies = config.policies;
    options.tokens = config.tokens;
    options.mount_default_pki = false;
    options.audit_log_path = !flags.audit_log_path.empty() ? flags.audit_log_path : config.audit_log;
    // Read, or generated and written once the listeners are up and the mounts ready (DevServer::Start).
    options.root_token_file = config.root_token_file;
  } else {
    auto host_port = SplitHostPort(flags.dev_listen_address).value();
    options.data_dir = flags.data_dir;
    options.root_token = flags.dev_root_token_id;
    options.listen_host = host_port.first;
    options.listen_port = host_port.second;
    options.audit_log_path = flags.audit_log_path;
  }
  auto server = DevServer::Start(options, MakePluginFactory(plugin_binary.value()));
  if (!server.ok()) {
    std::cerr << "pki-server: error starting server: " << server.status().message() << "\n";
    return 1;
  }
  if (configured) {
    PrintConfigBanner(*server.value(), plugin_binary.value(), flags.config_file, config.root_token_file,
                      server.value()->root_token_generated(), options.audit_log_path);
  } else {
    PrintDevBanner(*server.value(), plugin_binary.value(), options.audit_log_path);
  }
  return ServeUntilStopped(*server.value(), signals);
}

}  // namespace
}  // namespace pki::server

int main(int argc, char** argv) {
  // Everything this process creates (RocksDB's tables, WALs and manifests, key files, the audit log) is its own
  // service account's alone; the plugins it launches inherit the mask.
  umask(077);
  return pki::server::Main(argc, argv);
}
