// PluginProcess: one pki-plugin child, launched as HashiCorp go-plugin's client launches a plugin.
//
// The child gets the parent's environment plus the go-plugin/Vault handshake variables, /dev/null as stdin, pipes
// as stdout and stderr, the mount's data directory as working directory, its own process group (a Ctrl-C on the
// terminal reaches only pki-server, which then stops its plugins in order), default signal dispositions and an
// empty signal mask, and no descriptor of ours beyond 0-2 (the server's listening sockets stay with the server).
//
// Its first stdout line is the go-plugin handshake (ParseHandshakeLine); the rest of stdout is drained and
// discarded; stderr lines are forwarded into the server's log, tagged with the mount.
//
// Thread-safety: ReadHandshakeLine, Exited, WaitExit, Kill and ExitDescription may be called from any thread; the
// owner (PluginConnection) calls them from its supervisor thread. The destructor kills and reaps a child still
// running, so no PluginProcess leaves a zombie or an orphan behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "plugin/handshake.h"
#include "src/core/status.h"

namespace pki::server {

// go-plugin's handshake constants for a Vault secrets-engine plugin, shared with the plugin's side.
using plugin::kAppProtocolVersion;
using plugin::kCoreProtocolVersion;
using plugin::kMagicCookieKey;
using plugin::kMagicCookieValue;

// What a plugin announces on its first stdout line.
struct PluginHandshake {
  std::string network;          // "unix" or "tcp"
  std::string address;          // socket path or host:port
  std::string server_cert_der;  // the plugin's AutoMTLS certificate
};

// Parses `CORE|APP|NETWORK|ADDR|PROTOCOL|CERT` as go-plugin's client does: core version 1, app version 5,
// network unix or tcp, protocol grpc, and (AutoMTLS being required) a RawStd base64 DER certificate that parses.
// Every failure is Internal, with a message naming the offending field (never echoing the certificate).
Result<PluginHandshake> ParseHandshakeLine(std::string_view line);

// The child's environment: `parent` (a NULL-terminated environ) without the variables set here, then
// VAULT_BACKEND_PLUGIN, PLUGIN_PROTOCOL_VERSIONS=5, PLUGIN_MIN_PORT/PLUGIN_MAX_PORT,
// VAULT_PLUGIN_AUTOMTLS_ENABLED=true, VAULT_PLUGIN_METADATA_MODE=false, PLUGIN_CLIENT_CERT=`client_cert_pem` (the
// host's certificate: public) and, unless empty, PLUGIN_UNIX_SOCKET_DIR=`socket_dir` (where the plugin makes its
// socket).
std::vector<std::string> PluginEnvironment(const char* const* parent, const std::string& client_cert_pem,
                                           const std::string& socket_dir);

struct PluginLaunch {
  std::string binary;                // absolute path of the executable
  std::vector<std::string> args;     // argv[1..]
  std::vector<std::string> env;      // complete "K=V" list
  std::string work_dir;              // empty: inherit the server's
  std::string log_name;              // prefix of forwarded log lines, e.g. "plugin pki/"
};

class PluginProcess {
 public:
  // Starts the child. Fails (Internal) when the binary cannot be executed.
  static Result<std::unique_ptr<PluginProcess>> Spawn(const PluginLaunch& launch);
  ~PluginProcess();
  PluginProcess(const PluginProcess&) = delete;
  PluginProcess& operator=(const PluginProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Waits up to `timeout` for the first stdout line (without its line end). Fails when the child closes stdout or
  // exits first, or on timeout (the caller then kills the child).
  Result<std::string> ReadHandshakeLine(std::chrono::milliseconds timeout);

  // Whether the child has exited; reaps it when it has. Never blocks.
  bool Exited();
  // Waits up to `timeout` for the child to exit (reaping it). Returns whether it did.
  bool WaitExit(std::chrono::milliseconds timeout);
  // SIGKILL, unless the child is already reaped (its pid may then belong to someone else).
  void Kill();
  // "exit status 1", "killed by signal 9", or "running".
  std::string ExitDescription() const;

 private:
  PluginProcess(pid_t pid, int stdout_fd, int stderr_fd, int wake_fd_read, int wake_fd_write, std::string log_name);
  // The output pump thread: forwards stderr lines to the log, hands over the first stdout line, drains the rest.
  void Pump();
  void ForwardStderrLine(std::string_view line) const;
  bool ReapLocked(int options);

  const pid_t pid_;
  const int stdout_fd_;  // read ends, owned; closed by the destructor after the pump stopped
  const int stderr_fd_;
  const int wake_read_fd_;   // self-pipe that stops the pump
  const int wake_write_fd_;
  const std::string log_name_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool reaped_ = false;             // guarded by mu_: waitpid returned the child
  int wait_status_ = 0;             // guarded by mu_: valid once reaped_
  std::optional<std::string> handshake_line_;  // guarded by mu_
  bool stdout_closed_ = false;      // guarded by mu_: EOF on stdout before a full first line
  std::thread pump_;                // started last in the constructor
};

}  // namespace pki::server
