#include "src/server/plugin_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

#include "plugin/automtls.h"
#include "src/crypto/x509.h"
#include "src/server/server_log.h"

namespace pki::server {
namespace {

// go-plugin's default port range, only meaningful to a plugin listening on tcp.
constexpr char kMinPort[] = "10000";
constexpr char kMaxPort[] = "25000";
// A stderr line longer than this is forwarded in pieces; a first stdout line longer than this is no handshake.
constexpr size_t kMaxLine = 16 * 1024;

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

// A short, printable rendering of an unexpected line for error messages.
std::string Excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > 80) out += "...";
  return out;
}

// Closes the descriptors it holds unless released.
class FdSet {
 public:
  ~FdSet() {
    for (int fd : fds_) ::close(fd);
  }
  void Add(int fd) { fds_.push_back(fd); }
  void Release() { fds_.clear(); }

 private:
  std::vector<int> fds_;
};

Status MakePipe(int fds[2], FdSet* owner) {
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Status::Internal(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  owner->Add(fds[0]);
  owner->Add(fds[1]);
  return Status::Ok();
}

// hclog's level names; anything unknown is logged at info.
LogLevel LevelFromName(std::string_view name) { return ParseLogLevel(name).value_or(LogLevel::kInfo); }

}  // namespace

Result<PluginHandshake> ParseHandshakeLine(std::string_view line) {
  line = Trim(line);
  std::vector<std::string_view> parts = Split(line, '|');
  if (parts.size() < 4) return Status::Internal("unrecognized remote plugin message: " + Excerpt(line));
  for (auto& p : parts) p = Trim(p);
  if (parts[0] != std::to_string(kCoreProtocolVersion)) {
    return Status::Internal("incompatible core API version with plugin: plugin version " + Excerpt(parts[0]) +
                            ", core version " + std::to_string(kCoreProtocolVersion));
  }
  if (parts[1] != std::to_string(kAppProtocolVersion)) {
    return Status::Internal("incompatible API version with plugin: plugin version " + Excerpt(parts[1]) +
                            ", host versions [" + std::to_string(kAppProtocolVersion) + "]");
  }
  PluginHandshake hs;
  hs.network = std::string(parts[2]);
  hs.address = std::string(parts[3]);
  if (hs.network != "unix" && hs.network != "tcp") {
    return Status::Internal("plugin announced unsupported network \"" + Excerpt(parts[2]) + "\"");
  }
  if (hs.address.empty()) return Status::Internal("plugin announced an empty address");
  // go-plugin treats a missing protocol as its legacy netrpc; this host speaks gRPC only.
  std::string_view protocol = parts.size() > 4 ? parts[4] : "netrpc";
  if (protocol != "grpc") {
    return Status::Internal("plugin speaks protocol \"" + Excerpt(protocol) + "\", but this host requires grpc");
  }
  std::string_view cert = parts.size() > 5 ? parts[5] : "";
  if (cert.empty()) return Status::Internal("plugin sent no TLS certificate, but the host requested AutoMTLS");
  Result<std::string> der = plugin::DecodeRawBase64(std::string(cert));
  if (!der.ok() || der->empty()) return Status::Internal("plugin's TLS certificate is not valid base64");
  if (!ParseCertificateDer(der.value()).ok()) return Status::Internal("plugin's TLS certificate does not parse");
  hs.server_cert_der = std::move(der.value());
  // A 7th field (broker multiplexing) is only meaningful when the host asked for it, which this host does not.
  return hs;
}

std::vector<std::string> PluginEnvironment(const char* const* parent, const std::string& client_cert_pem,
                                           const std::string& socket_dir) {
  std::vector<std::pair<std::string, std::string>> ours = {
      {kMagicCookieKey, kMagicCookieValue},
      {"PLUGIN_PROTOCOL_VERSIONS", std::to_string(kAppProtocolVersion)},
      {"PLUGIN_MIN_PORT", kMinPort},
      {"PLUGIN_MAX_PORT", kMaxPort},
      {"VAULT_PLUGIN_AUTOMTLS_ENABLED", "true"},
      {"VAULT_PLUGIN_METADATA_MODE", "false"},
      {"PLUGIN_CLIENT_CERT", client_cert_pem},
      {"PLUGIN_UNIX_SOCKET_DIR", socket_dir},
  };
  std::vector<std::string> env;
  for (const char* const* e = parent; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (const auto& [k, v] : ours) overridden = overridden || key == k;
    // The server's own credentials (a root token given through the environment) are not the plugin's business.
    bool secret = key == "VAULT_TOKEN" || key == "VAULT_DEV_ROOT_TOKEN_ID" || key == "BAO_TOKEN" ||
                  key == "BAO_DEV_ROOT_TOKEN_ID";
    if (!overridden && !secret) env.emplace_back(kv);
  }
  for (const auto& [k, v] : ours) {
    if (!v.empty()) env.push_back(k + "=" + v);
  }
  return env;
}

Result<std::unique_ptr<PluginProcess>> PluginProcess::Spawn(const PluginLaunch& launch) {
  FdSet fds;
  int out[2], err[2], wake[2];
  RETURN_IF_ERROR(MakePipe(out, &fds));
  RETURN_IF_ERROR(MakePipe(err, &fds));
  RETURN_IF_ERROR(MakePipe(wake, &fds));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  if (!launch.work_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, launch.work_dir.c_str());
  // Whatever the server has open (listening sockets, RocksDB files, other plugins' pipes) stays with the server,
  // including descriptors another thread opened without O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  // The server blocks SIGINT/SIGTERM in every thread and ignores SIGPIPE; the plugin starts from defaults.
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(launch.binary.c_str()));
  for (const auto& a : launch.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : launch.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, launch.binary.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::Internal("cannot execute " + launch.binary + ": " + std::strerror(rc));

  // The child holds its own copies of the write ends; ours must go so that its exit reads as EOF.
  ::close(out[1]);
  ::close(err[1]);
  fds.Release();
  for (int fd : {out[0], err[0], wake[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<PluginProcess>(new PluginProcess(pid, out[0], err[0], wake[0], wake[1], launch.log_name));
}

PluginProcess::PluginProcess(pid_t pid, int stdout_fd, int stderr_fd, int wake_fd_read, int wake_fd_write,
                             std::string log_name)
    : pid_(pid),
      stdout_fd_(stdout_fd),
      stderr_fd_(stderr_fd),
      wake_read_fd_(wake_fd_read),
      wake_write_fd_(wake_fd_write),
      log_name_(std::move(log_name)),
      pump_([this] { Pump(); }) {}

PluginProcess::~PluginProcess() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ReapLocked(0);
    }
  }
  // The pump drains what the child wrote before it died, then stops.
  char byte = 1;
  while (::write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  pump_.join();
  for (int fd : {stdout_fd_, stderr_fd_, wake_read_fd_, wake_write_fd_}) ::close(fd);
}

Result<std::string> PluginProcess::ReadHandshakeLine(std::chrono::milliseconds timeout) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return handshake_line_.has_value() || stdout_closed_; });
    if (handshake_line_) return *handshake_line_;
    if (!stdout_closed_) {
      return Status::Internal("timed out after " + std::to_string(timeout.count() / 1000) +
                              " s waiting for the plugin's handshake");
    }
  }
  // stdout closed: the plugin is most likely exiting; say how, if it does so promptly.
  WaitExit(std::chrono::milliseconds(1000));
  return Status::Internal("plugin exited before completing the handshake (" + ExitDescription() + ")");
}

bool PluginProcess::ReapLocked(int options) {
  if (reaped_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, options);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    reaped_ = true;
    wait_status_ = status;
  } else if (r < 0 && errno == ECHILD) {
    reaped_ = true;  // someone else reaped it; it is gone either way
  }
  return reaped_;
}

bool PluginProcess::Exited() {
  std::lock_guard<std::mutex> lock(mu_);
  return ReapLocked(WNOHANG);
}

bool PluginProcess::WaitExit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (Exited()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void PluginProcess::Kill() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!reaped_) ::kill(pid_, SIGKILL);
}

std::string PluginProcess::ExitDescription() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!reaped_) return "running";
  if (WIFEXITED(wait_status_)) return "exit status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) return "killed by signal " + std::to_string(WTERMSIG(wait_status_));
  return "exited";
}

void PluginProcess::ForwardStderrLine(std::string_view line) const {
  line = Trim(line);
  if (line.empty()) return;
  // hclog's JSON lines ({"@level","@message",...}) are re-logged at their level with their fields, as go-plugin
  // does; other lines at the level of a "[WARN]"-style prefix.
  if (line.front() == '{') {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("@message")) {
      LogLevel level = j.contains("@level") && j["@level"].is_string()
                           ? LevelFromName(j["@level"].get<std::string>())
                           : LogLevel::kInfo;
      std::string msg = j["@message"].is_string() ? j["@message"].get<std::string>() : j["@message"].dump();
      for (const auto& [k, v] : j.items()) {
        if (!k.empty() && k.front() == '@') continue;
        msg += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
      }
      LogLine(level, log_name_ + ": " + msg);
      return;
    }
  }
  LogLevel level = LogLevel::kInfo;
  if (line.find("[ERROR]") != std::string_view::npos) {
    level = LogLevel::kError;
  } else if (line.find("[WARN]") != std::string_view::npos) {
    level = LogLevel::kWarn;
  }
  LogLine(level, log_name_ + ": " + std::string(line));
}

void PluginProcess::Pump() {
  std::string out_buf, err_buf;
  bool out_open = true, err_open = true, first_line_done = false, stopping = false;
  char buf[4096];

  auto on_stdout = [&](std::string_view data) {
    if (first_line_done) return;  // drained and discarded, as go-plugin does
    out_buf.append(data);
    size_t nl = out_buf.find('\n');
    if (nl == std::string::npos && out_buf.size() <= kMaxLine) return;
    std::string line = out_buf.substr(0, std::min(nl, kMaxLine));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    first_line_done = true;
    out_buf.clear();
    std::lock_guard<std::mutex> lock(mu_);
    handshake_line_ = std::move(line);
    cv_.notify_all();
  };
  auto on_stderr = [&](std::string_view data) {
    err_buf.append(data);
    size_t nl;
    while ((nl = err_buf.find('\n')) != std::string::npos) {
      ForwardStderrLine(std::string_view(err_buf).substr(0, nl));
      err_buf.erase(0, nl + 1);
    }
    if (err_buf.size() > kMaxLine) {
      ForwardStderrLine(err_buf);
      err_buf.clear();
    }
  };
  // At EOF a last unterminated line still counts (as for Go's bufio.Scanner); without one, waiters learn that no
  // handshake is coming.
  auto stdout_ended = [&] {
    if (first_line_done) return;
    if (!out_buf.empty()) {
      on_stdout("\n");
      return;
    }
    first_line_done = true;
    std::lock_guard<std::mutex> lock(mu_);
    stdout_closed_ = true;
    cv_.notify_all();
  };
  // Reads what is available now; false at EOF or on error.
  auto drain = [&](int fd, auto& sink) {
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        sink(std::string_view(buf, static_cast<size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  };

  while ((out_open || err_open) && !stopping) {
    pollfd fds[3] = {{out_open ? stdout_fd_ : -1, POLLIN, 0},
                     {err_open ? stderr_fd_ : -1, POLLIN, 0},
                     {wake_read_fd_, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) stopping = true;  // still drain what is there below
    if (out_open && (fds[0].revents != 0 || stopping)) {
      out_open = drain(stdout_fd_, on_stdout);
      if (!out_open) stdout_ended();
    }
    if (err_open && (fds[1].revents != 0 || stopping)) err_open = drain(stderr_fd_, on_stderr);
  }
  if (!err_buf.empty()) ForwardStderrLine(err_buf);
  stdout_ended();
}

}  // namespace pki::server
