// The plugin host's process layer: the go-plugin handshake line, the child's environment, and what a spawned child
// inherits (descriptors, signal state, working directory). Children here are /bin/sh scripts standing in for a
// plugin.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "plugin/automtls.h"
#include "src/server/plugin_process.h"

namespace pki::server {
namespace {

// A handshake certificate field: go-plugin's RawStdEncoding of a real certificate's DER.
std::string CertField() {
  static const std::string field = [] {
    auto id = plugin::GenerateTlsIdentity(1'700'000'000);
    EXPECT_TRUE(id.ok());
    return plugin::RawBase64(id->cert_der);
  }();
  return field;
}

TEST(HandshakeLineTest, ParsesGoPluginLine) {
  auto hs = ParseHandshakeLine("1|5|unix|/tmp/plugin123/plugin.sock|grpc|" + CertField() + "\n");
  ASSERT_TRUE(hs.ok()) << hs.status().message();
  EXPECT_EQ(hs->network, "unix");
  EXPECT_EQ(hs->address, "/tmp/plugin123/plugin.sock");
  EXPECT_FALSE(hs->server_cert_der.empty());
  EXPECT_EQ(plugin::RawBase64(hs->server_cert_der), CertField());
}

TEST(HandshakeLineTest, AcceptsTcpAndSurroundingWhitespace) {
  auto hs = ParseHandshakeLine("  1 | 5 | tcp | 127.0.0.1:10001 | grpc | " + CertField() + " \r\n");
  ASSERT_TRUE(hs.ok()) << hs.status().message();
  EXPECT_EQ(hs->network, "tcp");
  EXPECT_EQ(hs->address, "127.0.0.1:10001");
}

TEST(HandshakeLineTest, IgnoresMultiplexFieldWeDidNotAskFor) {
  EXPECT_TRUE(ParseHandshakeLine("1|5|unix|/p|grpc|" + CertField() + "|true").ok());
}

TEST(HandshakeLineTest, RefusesWrongCoreVersion) {
  auto hs = ParseHandshakeLine("2|5|unix|/p|grpc|" + CertField());
  ASSERT_FALSE(hs.ok());
  EXPECT_NE(hs.status().message().find("incompatible core API version"), std::string::npos);
}

TEST(HandshakeLineTest, RefusesWrongAppVersion) {
  auto hs = ParseHandshakeLine("1|4|unix|/p|grpc|" + CertField());
  ASSERT_FALSE(hs.ok());
  EXPECT_NE(hs.status().message().find("incompatible API version"), std::string::npos);
  EXPECT_NE(hs.status().message().find("plugin version 4"), std::string::npos);
}

TEST(HandshakeLineTest, RefusesMissingFields) {
  for (const char* line : {"", "hello", "1|5|unix", "1|5"}) {
    auto hs = ParseHandshakeLine(line);
    ASSERT_FALSE(hs.ok()) << line;
    EXPECT_NE(hs.status().message().find("unrecognized remote plugin message"), std::string::npos) << line;
  }
  // Protocol absent means go-plugin's netrpc; certificate absent means no AutoMTLS: both refused.
  EXPECT_FALSE(ParseHandshakeLine("1|5|unix|/p").ok());
  EXPECT_FALSE(ParseHandshakeLine("1|5|unix|/p|grpc").ok());
  EXPECT_FALSE(ParseHandshakeLine("1|5|unix|/p|grpc|").ok());
  EXPECT_FALSE(ParseHandshakeLine("1|5|unix||grpc|" + CertField()).ok());
}

TEST(HandshakeLineTest, RefusesNonGrpcProtocol) {
  auto hs = ParseHandshakeLine("1|5|unix|/p|netrpc|" + CertField());
  ASSERT_FALSE(hs.ok());
  EXPECT_NE(hs.status().message().find("requires grpc"), std::string::npos);
}

TEST(HandshakeLineTest, RefusesUnknownNetworkAndBadCertificates) {
  EXPECT_FALSE(ParseHandshakeLine("1|5|udp|/p|grpc|" + CertField()).ok());
  auto not_b64 = ParseHandshakeLine("1|5|unix|/p|grpc|***");
  ASSERT_FALSE(not_b64.ok());
  EXPECT_NE(not_b64.status().message().find("base64"), std::string::npos);
  auto not_cert = ParseHandshakeLine("1|5|unix|/p|grpc|" + plugin::RawBase64("definitely not DER"));
  ASSERT_FALSE(not_cert.ok());
  EXPECT_NE(not_cert.status().message().find("does not parse"), std::string::npos);
}

TEST(PluginEnvironmentTest, AddsHandshakeVariablesAndOverridesInheritedOnes) {
  const char* parent[] = {"PATH=/usr/bin", "PLUGIN_PROTOCOL_VERSIONS=3,4", "VAULT_BACKEND_PLUGIN=stale",
                          "HOME=/root", nullptr};
  std::vector<std::string> env = PluginEnvironment(parent, "-----BEGIN CERTIFICATE-----\nX\n", "/tmp/rt");
  auto count = [&](const std::string& key) {
    int n = 0;
    for (const auto& e : env) n += e.rfind(key + "=", 0) == 0;
    return n;
  };
  auto value = [&](const std::string& key) {
    for (const auto& e : env) {
      if (e.rfind(key + "=", 0) == 0) return e.substr(key.size() + 1);
    }
    return std::string("<unset>");
  };
  EXPECT_EQ(value("PATH"), "/usr/bin");
  EXPECT_EQ(value("HOME"), "/root");
  EXPECT_EQ(count("PLUGIN_PROTOCOL_VERSIONS"), 1);
  EXPECT_EQ(value("PLUGIN_PROTOCOL_VERSIONS"), "5");
  EXPECT_EQ(count("VAULT_BACKEND_PLUGIN"), 1);
  EXPECT_EQ(value("VAULT_BACKEND_PLUGIN"), kMagicCookieValue);
  EXPECT_EQ(value("VAULT_PLUGIN_AUTOMTLS_ENABLED"), "true");
  EXPECT_EQ(value("PLUGIN_MIN_PORT"), "10000");
  EXPECT_EQ(value("PLUGIN_MAX_PORT"), "25000");
  EXPECT_EQ(value("PLUGIN_CLIENT_CERT"), "-----BEGIN CERTIFICATE-----\nX\n");
  EXPECT_EQ(value("PLUGIN_UNIX_SOCKET_DIR"), "/tmp/rt");
  // Nothing key-like is handed to the child: only the certificate.
  for (const auto& e : env) EXPECT_EQ(e.find("PRIVATE KEY"), std::string::npos);
}

// Runs `script` under /bin/sh as a plugin would run, returning its first stdout line.
Result<std::string> RunScript(const std::string& script, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                              const std::string& work_dir = "") {
  PluginLaunch launch;
  launch.binary = "/bin/sh";
  launch.args = {"-c", script};
  launch.env = PluginEnvironment(environ, "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n", "");
  launch.work_dir = work_dir;
  launch.log_name = "test-plugin";
  ASSIGN_OR_RETURN(auto process, PluginProcess::Spawn(launch));
  return process->ReadHandshakeLine(timeout);
}

TEST(PluginProcessTest, ChildSeesTheHandshakeEnvironment) {
  auto line = RunScript(
      "echo \"$VAULT_BACKEND_PLUGIN|$PLUGIN_PROTOCOL_VERSIONS|$VAULT_PLUGIN_AUTOMTLS_ENABLED|$PLUGIN_MIN_PORT|"
      "$PLUGIN_MAX_PORT|${PLUGIN_CLIENT_CERT%%CERT*}\"");
  ASSERT_TRUE(line.ok()) << line.status().message();
  EXPECT_EQ(line.value(), std::string(kMagicCookieValue) + "|5|true|10000|25000|-----BEGIN ");
}

TEST(PluginProcessTest, ChildInheritsNoDescriptorsBeyondStdio) {
  // A descriptor the server holds without O_CLOEXEC, as a listening socket might be.
  int leaked = ::dup2(STDIN_FILENO, 57);
  ASSERT_EQ(leaked, 57);
  ASSERT_EQ(::fcntl(leaked, F_SETFD, 0), 0);
  auto line = RunScript("if [ -e /proc/$$/fd/57 ]; then echo leaked; else echo clean; fi");
  ::close(leaked);
  ASSERT_TRUE(line.ok()) << line.status().message();
  EXPECT_EQ(line.value(), "clean");
}

TEST(PluginProcessTest, ChildStartsWithDefaultSignalState) {
  // pki-server blocks SIGTERM/SIGINT in every thread and ignores SIGPIPE; none of that may reach the plugin.
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  auto old_pipe = std::signal(SIGPIPE, SIG_IGN);
  auto line = RunScript("grep -E '^Sig(Blk|Ign)' /proc/self/status | cut -f2 | tr '\\n' ' '");
  std::signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ASSERT_TRUE(line.ok()) << line.status().message();
  // "<blocked> <ignored> " as hex masks; bit n-1 is signal n. Only the standard signals (1-31) matter: the C
  // library reserves the first real-time ones for itself.
  std::istringstream masks(line.value());
  std::string blocked, ignored;
  masks >> blocked >> ignored;
  EXPECT_EQ(std::stoull(blocked, nullptr, 16) & 0x7fffffffULL, 0u) << line.value();
  EXPECT_EQ(std::stoull(ignored, nullptr, 16) & 0x7fffffffULL, 0u) << line.value();
}

TEST(PluginProcessTest, ChildRunsInTheMountDirectory) {
  std::string dir = std::filesystem::temp_directory_path() / ("plugin-cwd-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto line = RunScript("pwd", std::chrono::seconds(10), dir);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(line.ok()) << line.status().message();
  EXPECT_EQ(line.value(), dir);
}

TEST(PluginProcessTest, StderrDoesNotDisturbTheHandshake) {
  auto line = RunScript("echo '{\"@level\":\"info\",\"@message\":\"starting\"}' >&2; echo plain >&2; echo '1|5|unix'");
  ASSERT_TRUE(line.ok()) << line.status().message();
  EXPECT_EQ(line.value(), "1|5|unix");
}

TEST(PluginProcessTest, UnterminatedLastLineCounts) {
  auto line = RunScript("printf 'no newline'");
  ASSERT_TRUE(line.ok()) << line.status().message();
  EXPECT_EQ(line.value(), "no newline");
}

TEST(PluginProcessTest, ExitBeforeHandshakeIsReportedWithStatus) {
  auto line = RunScript("echo 'not meant to be executed directly' >&2; exit 3");
  ASSERT_FALSE(line.ok());
  EXPECT_NE(line.status().message().find("exited before completing the handshake"), std::string::npos);
  EXPECT_NE(line.status().message().find("exit status 3"), std::string::npos);
}

TEST(PluginProcessTest, HandshakeTimeoutAndKill) {
  PluginLaunch launch;
  launch.binary = "/bin/sh";
  launch.args = {"-c", "exec sleep 60"};
  launch.env = PluginEnvironment(environ, "", "");
  auto process = PluginProcess::Spawn(launch);
  ASSERT_TRUE(process.ok()) << process.status().message();
  auto start = std::chrono::steady_clock::now();
  auto line = process.value()->ReadHandshakeLine(std::chrono::milliseconds(200));
  ASSERT_FALSE(line.ok());
  EXPECT_NE(line.status().message().find("timed out"), std::string::npos);
  EXPECT_FALSE(process.value()->Exited());
  process.value()->Kill();
  EXPECT_TRUE(process.value()->WaitExit(std::chrono::seconds(5)));
  EXPECT_EQ(process.value()->ExitDescription(), "killed by signal 9");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(PluginProcessTest, DestructorKillsAndReapsARunningChild) {
  PluginLaunch launch;
  launch.binary = "/bin/sh";
  launch.args = {"-c", "exec sleep 60"};
  launch.env = PluginEnvironment(environ, "", "");
  auto process = PluginProcess::Spawn(launch);
  ASSERT_TRUE(process.ok());
  pid_t pid = process.value()->pid();
  process.value().reset();
  // Reaped: the pid is no longer our child.
  EXPECT_EQ(::kill(pid, 0), -1);
}

TEST(PluginProcessTest, MissingBinaryFailsToSpawn) {
  PluginLaunch launch;
  launch.binary = "/nonexistent/pki-plugin";
  auto process = PluginProcess::Spawn(launch);
  ASSERT_FALSE(process.ok());
  EXPECT_NE(process.status().message().find("cannot execute /nonexistent/pki-plugin"), std::string::npos);
}

}  // namespace
}  // namespace pki::server
