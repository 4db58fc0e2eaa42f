// Tests for pki-server's configuration file (server_config.h), the mounts it declares (mount_setup.h) and the
// root token file.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "src/server/mount_setup.h"
#include "src/server/server_config.h"
#include "src/server/server_log.h"
#include "storage/memory_storage.h"

namespace pki::server {
namespace {

Json Minimal() {
  return Json::parse(R"({
    "listeners": [{"address": "127.0.0.1:8200", "tls_disable": true}],
    "data_dir": "/var/lib/pki-server"
  })");
}

Result<ServerConfig> Parse(const Json& j) { return ParseServerConfig(j.dump()); }

// The error message of parsing `j`, which must fail.
std::string ErrorOf(const Json& j) {
  auto r = Parse(j);
  EXPECT_FALSE(r.ok()) << j.dump();
  return r.ok() ? "" : r.status().message();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ServerConfigTest, EveryKey) {
  auto r = ParseServerConfig(R"({
    // comments are allowed
    "listeners": [
      {"address": "0.0.0.0:8200", "tls_disable": false,
       "tls_cert_file": "/etc/pki-server/tls.crt", "tls_key_file": "/etc/pki-server/tls.key",
       "tls_client_ca_file": "/etc/pki-server/clients.pem", "tls_require_and_verify_client_cert": true,
       "tls_min_version": "tls13", "max_request_size": 1048576, "max_request_duration": "1m30s"},
      {"address": "[::1]:8300", "tls_disable": "true", "max_request_duration": 5}
    ],
    "data_dir": "/var/lib/pki-server/",
    "plugin": "/usr/local/bin/pki-plugin",
    "log_level": "DEBUG",
    "audit_log": "/var/log/pki-server/audit.log",
    /* several mounts */
    "mounts": [
      {"path": "/pki", "type": "pki", "description": "root CA", "options": {"storage": "rocksdb"},
       "config": {"default_lease_ttl": "768h", "max_lease_ttl": 315360000}},
      {"path": "pki-int/", "type": "pki", "config": {"max_lease_ttl": "system"}}
    ]
  })");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const ServerConfig& c = r.value();
  ASSERT_EQ(c.listeners.size(), 2u);
  const ListenerOptions& tls = c.listeners[0];
  EXPECT_EQ(tls.host, "0.0.0.0");
  EXPECT_EQ(tls.port, 8200);
  ASSERT_TRUE(tls.tls.has_value());
  EXPECT_EQ(tls.tls->cert_file, "/etc/pki-server/tls.crt");
  EXPECT_EQ(tls.tls->key_file, "/etc/pki-server/tls.key");
  EXPECT_EQ(tls.tls->client_ca_file, "/etc/pki-server/clients.pem");
  EXPECT_TRUE(tls.tls->require_client_cert);
  EXPECT_EQ(tls.tls->min_version, "tls13");
  EXPECT_EQ(tls.max_body_bytes, 1048576u);
  EXPECT_EQ(tls.request_timeout, std::chrono::seconds(90));
  const ListenerOptions& plain = c.listeners[1];
  EXPECT_EQ(plain.host, "::1");
  EXPECT_EQ(plain.port, 8300);
  EXPECT_FALSE(plain.tls.has_value());
  EXPECT_EQ(plain.max_body_bytes, kDefaultMaxRequestSize);
  EXPECT_EQ(plain.request_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.data_dir, "/var/lib/pki-server/");
  EXPECT_EQ(c.root_token_file, "/var/lib/pki-server/root-token");
  EXPECT_EQ(c.plugin, "/usr/local/bin/pki-plugin");
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.audit_log, "/var/log/pki-server/audit.log");
  ASSERT_EQ(c.mounts.size(), 2u);
  EXPECT_EQ(c.mounts[0].path, "pki/");
  EXPECT_EQ(c.mounts[0].type, "pki");
  EXPECT_EQ(c.mounts[0].tune.description, "root CA");
  EXPECT_EQ(c.mounts[0].options, (std::map<std::string, std::string>{{"storage", "rocksdb"}}));
  EXPECT_EQ(c.mounts[0].tune.default_lease_ttl, 768 * 3600);
  EXPECT_EQ(c.mounts[0].tune.max_lease_ttl, 315360000);
  EXPECT_EQ(c.mounts[1].path, "pki-int/");
  EXPECT_FALSE(c.mounts[1].tune.description.has_value());
  EXPECT_FALSE(c.mounts[1].tune.default_lease_ttl.has_value());
  EXPECT_EQ(c.mounts[1].tune.max_lease_ttl, 0);  // "system"
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ServerConfigTest, Defaults) {
  Json j = Minimal();
  j["listeners"][0] = {{"tls_cert_file", "c.pem"}, {"tls_key_file", "k.pem"}};
  auto r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const ListenerOptions& l = r->listeners[0];
  EXPECT_EQ(l.host, "127.0.0.1");
  EXPECT_EQ(l.port, 8200);
  ASSERT_TRUE(l.tls.has_value());  // TLS is on unless disabled, as in Vault
  EXPECT_EQ(l.tls->min_version, "tls12");
  EXPECT_FALSE(l.tls->require_client_cert);
  EXPECT_TRUE(l.tls->client_ca_file.empty());
  EXPECT_EQ(l.max_body_bytes, 32u * 1024 * 1024);
  EXPECT_EQ(l.request_timeout, std::chrono::seconds(90));
  // Vault's http_* listener defaults.
  EXPECT_EQ(l.header_timeout, std::chrono::seconds(10));
  EXPECT_EQ(l.read_timeout, std::chrono::seconds(30));
  EXPECT_EQ(l.write_timeout, std::chrono::seconds(0));
  EXPECT_EQ(l.idle_timeout, std::chrono::minutes(5));
  EXPECT_FALSE(r->log_level.has_value());
  EXPECT_TRUE(r->plugin.empty());
  EXPECT_TRUE(r->audit_log.empty());
  EXPECT_TRUE(r->mounts.empty());
  // 0 means the default for both limits, as in Vault.
  j["listeners"][0]["max_request_size"] = 0;
  j["listeners"][0]["max_request_duration"] = "0s";
  r = Parse(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->listeners[0].max_body_bytes, 32u * 1024 * 1024);
  EXPECT_EQ(r->listeners[0].request_timeout, std::chrono::seconds(90));
  j["root_token_file"] = "/run/secrets/root";
  EXPECT_EQ(Parse(j)->root_token_file, "/run/secrets/root");
}

TEST(ServerConfigTest, UnknownKeysAreNamed) {
  Json j = Minimal();
  j["listener"] = Json::array();
  EXPECT_TRUE(Contains(ErrorOf(j), "unknown key \"listener\""));
  j = Minimal();
  j["listeners"][0]["tls_cert"] = "/etc/tls.crt";
  EXPECT_TRUE(Contains(ErrorOf(j), "unknown key \"listeners[0].tls_cert\""));
  j = Minimal();
  j["mounts"] = {{{"path", "pki"}, {"type", "pki"}, {"local", true}}};
  EXPECT_TRUE(Contains(ErrorOf(j), "unknown key \"mounts[0].local\""));
  j = Minimal();
  j["mounts"] = {{{"path", "pki"}, {"type", "pki"}, {"config", {{"max_lease_tll", "1h"}}}}};
  EXPECT_TRUE(Contains(ErrorOf(j), "unknown key \"mounts[0].config.max_lease_tll\""));
  j = Minimal();
  j["token"] = Json::array();
  EXPECT_TRUE(Contains(ErrorOf(j), "unknown key \"token\""));
}

TEST(ServerConfigTest, RepeatedKeysAreRefused) {
  auto r = ParseServerConfig(R"({"listeners": [{"tls_disable": true, "tls_disable": false}], "data_dir": "/d"})");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "\"tls_disable\" appears twice"));
  // The same key in two different objects is fine.
  EXPECT_TRUE(ParseServerConfig(R"({"listeners": [{"tls_disable": true}, {"tls_disable": true,
                                   "address": ":1"}], "data_dir": "/d"})").ok());
}

TEST(ServerConfigTest, BadTypes) {
  struct Case {
    const char* pointer;
    Json value;
    const char* expected;
  };
  const Case cases[] = {
      {"/listeners", Json::object(), "listeners: must be a non-empty array"},
      {"/listeners", Json::array(), "listeners: must be a non-empty array"},
      {"/listeners/0", "127.0.0.1:8200", "listeners[0]: must be an object"},
      {"/listeners/0/address", 8200, "listeners[0].address: must be a string"},
      {"/listeners/0/address", "localhost", "listeners[0].address: invalid listen address"},
      {"/listeners/0/address", "127.0.0.1:99999", "listeners[0].address: invalid port"},
      {"/listeners/0/tls_disable", "maybe", "listeners[0].tls_disable: must be true or false"},
      {"/listeners/0/tls_disable", 1, "listeners[0].tls_disable: must be true or false"},
      {"/listeners/0/max_request_size", "32MB", "listeners[0].max_request_size: must be a whole number"},
      {"/listeners/0/max_request_size", 1.5, "listeners[0].max_request_size: must be a whole number"},
      {"/listeners/0/max_request_size", -1, "listeners[0].max_request_size: must not be negative"},
      {"/listeners/0/max_request_duration", true, "listeners[0].max_request_duration: must be a duration"},
      {"/listeners/0/max_request_duration", "90 seconds", "listeners[0].max_request_duration:"},
      {"/listeners/0/max_request_duration", "-5s", "listeners[0].max_request_duration:"},
      {"/data_dir", "", "data_dir: must not be empty"},
      {"/data_dir", Json::array(), "data_dir: must be a string"},
      {"/plugin", 1, "plugin: must be a string"},
      {"/log_level", "verbose", "log_level: \"verbose\" is not a log level"},
      {"/log_level", 3, "log_level: must be a string"},
      {"/audit_log", false, "audit_log: must be a string"},
      {"/root_token_file", Json::object(), "root_token_file: must be a string"},
      {"/mounts", Json::object(), "mounts: must be an array"},
      {"/mounts", Json::array({"pki/"}), "mounts[0]: must be an object"},
  };
  for (const Case& c : cases) {
    Json j = Minimal();
    j[Json::json_pointer(c.pointer)] = c.value;
    EXPECT_TRUE(Contains(ErrorOf(j), c.expected)) << c.pointer << " = " << c.value.dump() << ": " << ErrorOf(j);
  }
  Json j = Minimal();
  j.erase("data_dir");
  EXPECT_TRUE(Contains(ErrorOf(j), "data_dir: required"));
  j = Minimal();
  j.erase("listeners");
  EXPECT_TRUE(Contains(ErrorOf(j), "listeners: required"));
  EXPECT_TRUE(Contains(ParseServerConfig("[]").status().message(), "must be a JSON object"));
  EXPECT_TRUE(Contains(ParseServerConfig("{\"listeners\": [").status().message(), "not valid JSON"));
}

TEST(ServerConfigTest, DurationsAsGoWritesThem) {
  const std::pair<Json, int64_t> cases[] = {{"90s", 90'000}, {"1h30m", 5'400'000}, {"1.5s", 1'500}, {"250ms", 250},
                                            {"2d", 172'800'000}, {30, 30'000}, {"45", 45'000}};
  for (const auto& [value, millis] : cases) {
    Json j = Minimal();
    j["listeners"][0]["max_request_duration"] = value;
    auto r = Parse(j);
    ASSERT_TRUE(r.ok()) << value.dump() << ": " << r.status().message();
    EXPECT_EQ(r->listeners[0].request_timeout.count(), millis) << value.dump();
  }
  for (const char* bad : {"1x", "h", "1h-5m", "--1s", "5 s"}) {
    Json j = Minimal();
    j["listeners"][0]["max_request_duration"] = bad;
    EXPECT_FALSE(Parse(j).ok()) << bad;
  }
}

TEST(ServerConfigTest, HttpTimeouts) {
  Json j = Minimal();
  j["listeners"][0]["http_read_header_timeout"] = "2s";
  j["listeners"][0]["http_read_timeout"] = "1m";
  j["listeners"][0]["http_write_timeout"] = 45;
  j["listeners"][0]["http_idle_timeout"] = "1h30m";
  auto r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const ListenerOptions& l = r->listeners[0];
  EXPECT_EQ(l.header_timeout, std::chrono::seconds(2));
  EXPECT_EQ(l.read_timeout, std::chrono::minutes(1));
  EXPECT_EQ(l.write_timeout, std::chrono::seconds(45));
  EXPECT_EQ(l.idle_timeout, std::chrono::minutes(90));
  EXPECT_EQ(l.request_timeout, std::chrono::seconds(90));  // max_request_duration is separate
  // 0 means the default, as in Vault (for http_write_timeout the default is 0: no limit).
  for (const char* key : {"http_read_header_timeout", "http_read_timeout", "http_write_timeout", "http_idle_timeout"}) {
    j["listeners"][0][key] = "0s";
  }
  r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->listeners[0].header_timeout, std::chrono::seconds(10));
  EXPECT_EQ(r->listeners[0].read_timeout, std::chrono::seconds(30));
  EXPECT_EQ(r->listeners[0].write_timeout, std::chrono::seconds(0));
  EXPECT_EQ(r->listeners[0].idle_timeout, std::chrono::minutes(5));
  for (const char* key : {"http_read_header_timeout", "http_read_timeout", "http_write_timeout", "http_idle_timeout"}) {
    for (const Json& bad : {Json("10 seconds"), Json("-1s"), Json(-3), Json(true), Json(1.5)}) {
      Json b = Minimal();
      b["listeners"][0][key] = bad;
      EXPECT_TRUE(Contains(ErrorOf(b), "listeners[0]." + std::string(key) + ":")) << key << " = " << bad.dump();
    }
  }
}

TEST(ServerConfigTest, TlsSettings) {
  Json j = Minimal();
  j["listeners"][0] = {{"address", "127.0.0.1:8200"}};
  EXPECT_TRUE(Contains(ErrorOf(j), "tls_cert_file and tls_key_file are required unless tls_disable is true"));
  j["listeners"][0]["tls_cert_file"] = "/c.pem";
  EXPECT_TRUE(Contains(ErrorOf(j), "tls_cert_file and tls_key_file are required"));
  j["listeners"][0]["tls_key_file"] = "/k.pem";
  EXPECT_TRUE(Parse(j).ok());
  j["listeners"][0]["tls_require_and_verify_client_cert"] = true;
  EXPECT_TRUE(Contains(ErrorOf(j), "listeners[0].tls_require_and_verify_client_cert: needs tls_client_ca_file"));
  j["listeners"][0]["tls_client_ca_file"] = "/ca.pem";
  EXPECT_TRUE(Parse(j).ok());
  for (const char* old : {"tls10", "tls11", "TLS12", "1.2"}) {
    j["listeners"][0]["tls_min_version"] = old;
    EXPECT_TRUE(Contains(ErrorOf(j), "listeners[0].tls_min_version: \"" + std::string(old) +
                                         "\" is not supported: use tls12 or tls13"))
        << old;
  }
  // TLS settings on a plain listener are accepted (as Vault does) with a warning, whatever their values.
  j = Minimal();
  j["listeners"][0]["tls_cert_file"] = "/c.pem";
  j["listeners"][0]["tls_min_version"] = "tls10";
  auto r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->listeners[0].tls.has_value());
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_TRUE(Contains(r->warnings[0], "listeners[0].tls_cert_file is ignored"));
  EXPECT_TRUE(Contains(r->warnings[1], "listeners[0].tls_min_version is ignored"));
}

TEST(ServerConfigTest, Mounts) {
  auto mounts = [](Json list) {
    Json j = Minimal();
    j["mounts"] = std::move(list);
    return j;
  };
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"type", "pki"}}})), "mounts[0].path: required"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki/"}}})), "mounts[0].type: required"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "kv/"}, {"type", "kv"}}})), "\"kv\" is not supported"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "sys/pki"}, {"type", "pki"}}})), "\"sys/pki/\" is reserved"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "/"}, {"type", "pki"}}})), "mounts[0].path: must name"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"}, {"options", {{"n", 1}}}}})),
                       "mounts[0].options.n: must be a string"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"}, {"options", "storage=host"}}})),
                       "mounts[0].options: must be an object"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"}, {"options", {{"version", "2"}}}}})),
                       "does not allow setting a version"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"}, {"description", 5}}})),
                       "mounts[0].description: must be a string"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"}, {"config", {{"max_lease_ttl", "ten"}}}}})),
                       "mounts[0].config.max_lease_ttl:"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"}, {"config", {{"max_lease_ttl", -1}}}}})),
                       "mounts[0].config.max_lease_ttl:"));
  EXPECT_TRUE(Contains(
      ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"},
                       {"config", {{"default_lease_ttl", "2h"}, {"max_lease_ttl", "1h"}}}}})),
      "default_lease_ttl is greater than max_lease_ttl"));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"}}, {{"path", "pki/int"}, {"type", "pki"}}})),
                       "mounts[1].path: \"pki/int/\" overlaps the mount \"pki/\""));
  EXPECT_TRUE(Contains(ErrorOf(mounts({{{"path", "pki"}, {"type", "pki"}}, {{"path", "pki/"}, {"type", "pki"}}})),
                       "overlaps"));
  // "pki/" and "pki-int/" do not overlap.
  EXPECT_TRUE(Parse(mounts({{{"path", "pki"}, {"type", "pki"}}, {{"path", "pki-int"}, {"type", "pki"}}})).ok());
}

TEST(ServerConfigTest, PoliciesAndTokens) {
  Json j = Minimal();
  j["policies"] = Json::parse(R"({"Web-Issuer": {"path": {"pki/issue/web": {"capabilities": ["update"]}}},
                                   "reader": "{\"path\": {\"pki/cert/*\": {\"capabilities\": [\"read\"]}}}"})");
  j["tokens"] = Json::parse(R"([{"id": "svc-token-0123456789", "policies": ["Web-Issuer"]}])");
  auto r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->policies.size(), 2u);
  EXPECT_EQ(r->policies[0].name, "web-issuer");  // normalised as Vault does
  EXPECT_TRUE(Contains(r->policies[0].text, "pki/issue/web"));
  EXPECT_EQ(r->policies[1].name, "reader");
  ASSERT_EQ(r->tokens.size(), 1u);
  EXPECT_EQ(r->tokens[0].id, "svc-token-0123456789");
  EXPECT_EQ(r->tokens[0].policies, (std::vector<std::string>{"web-issuer", "default"}));
  EXPECT_EQ(r->tokens[0].display_name, "config");

  auto with = [](const char* key, Json value) {
    Json c = Minimal();
    c[key] = std::move(value);
    return c;
  };
  EXPECT_TRUE(Contains(ErrorOf(with("policies", Json::array())), "policies: must be an object"));
  EXPECT_TRUE(Contains(ErrorOf(with("policies", Json::parse(R"({"root": {"path": {}}})"))), "built in"));
  EXPECT_TRUE(Contains(ErrorOf(with("policies", {{"p", 5}})), "policies.p: must be a policy object"));
  EXPECT_TRUE(Contains(ErrorOf(with("policies", {{"p", "path \"pki/*\" { capabilities = [\"read\"] }"}})),
                       "policies.p: failed to parse policy"));
  EXPECT_TRUE(Contains(
      ErrorOf(with("policies", Json::parse(R"({"p": {"path": {"pki/*": {"capabilities": ["fly"]}}}})"))),
      "policies.p:"));
  EXPECT_TRUE(Contains(ErrorOf(with("tokens", {{{"policies", {"a"}}}})), "exactly one of \"id\" and \"id_file\""));
  EXPECT_TRUE(Contains(ErrorOf(with("tokens", {{{"id", "short"}, {"policies", {"a"}}}})), "at least 16"));
  EXPECT_TRUE(
      Contains(ErrorOf(with("tokens", {{{"id", "0123456789abcdef0"}, {"policies", Json::array()}}})), "non-empty"));
  EXPECT_TRUE(Contains(ErrorOf(with("tokens", {{{"id", "0123456789 abcdef0"}, {"policies", {"a"}}}})), "printable"));
  EXPECT_TRUE(Contains(ErrorOf(with("tokens", {{{"id", "0123456789abcdef0"}, {"policies", {"a"}}, {"ttl", "1h"}}})),
                       "unknown key \"tokens[0].ttl\""));
  EXPECT_TRUE(Contains(ErrorOf(with("tokens", {{{"id", "0123456789abcdef0"}, {"policies", {"a"}}},
                                               {{"id", "0123456789abcdef0"}, {"policies", {"b"}}}})),
                       "declared twice"));
  const std::string missing = ErrorOf(with("tokens", {{{"id_file", "/nonexistent/t"}, {"policies", {"a"}}}}));
  EXPECT_TRUE(Contains(missing, "tokens[0].id_file: cannot read /nonexistent/t")) << missing;
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/server_config_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  std::string dir_;
};

using ServerConfigFileTest = TempDir;

TEST_F(ServerConfigFileTest, LoadWarnsAboutPermissions) {
  const std::string path = dir_ + "/config.json";
  Write(path, Minimal().dump(), 0600);
  auto r = LoadServerConfigFile(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->warnings.empty());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  r = LoadServerConfigFile(path);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(Contains(r->warnings[0], "readable by other users"));
  ASSERT_EQ(::chmod(path.c_str(), 0660), 0);
  r = LoadServerConfigFile(path);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(Contains(r->warnings[0], "writable"));
  auto missing = LoadServerConfigFile(dir_ + "/absent.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), "No such file"));
}

TEST_F(ServerConfigFileTest, RootTokenIsCreatedOnceThenRead) {
  const std::string path = dir_ + "/root-token";
  auto first = LoadOrCreateRootToken(path);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->token.rfind("hvs.", 0), 0u);
  EXPECT_EQ(first->token.size(), 28u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadOrCreateRootToken(path);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->token, first->token);

  // An operator's own token, with a trailing newline.
  Write(path, "  my-root-token\n", 0600);
  EXPECT_EQ(LoadOrCreateRootToken(path)->token, "my-root-token");
  Write(path, "\n", 0600);
  auto empty = LoadOrCreateRootToken(path);
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(Contains(empty.status().message(), "is empty"));
  Write(path, "two tokens", 0600);
  EXPECT_FALSE(LoadOrCreateRootToken(path).ok());
  // A missing directory is an error naming the file, not a token.
  auto nodir = LoadOrCreateRootToken(dir_ + "/no/such/dir/root-token");
  ASSERT_FALSE(nodir.ok());
  EXPECT_TRUE(Contains(nodir.status().message(), dir_ + "/no/such/dir/root-token"));
}

TEST(ServerLogTest, Levels) {
  EXPECT_EQ(ParseLogLevel("trace"), LogLevel::kTrace);
  EXPECT_EQ(ParseLogLevel("Debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("notice"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("WARNING"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("err"), LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("").has_value());
  EXPECT_FALSE(ParseLogLevel("fatal").has_value());
  const LogLevel before = GetLogLevel();
  SetLogLevel(LogLevel::kWarn);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarn));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  testing::internal::CaptureStderr();
  LogLine(LogLevel::kInfo, "hidden line");
  LogLine(LogLevel::kError, "shown line");
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(Contains(out, "hidden line"));
  EXPECT_TRUE(Contains(out, "[ERROR] shown line"));
  SetLogLevel(LogLevel::kTrace);
  testing::internal::CaptureStderr();
  LogLine(LogLevel::kDebug, "debug line");
  EXPECT_TRUE(Contains(testing::internal::GetCapturedStderr(), "[DEBUG] debug line"));
  SetLogLevel(before);
}

// EnsureMounts against a real MountTable with engines that do nothing.
class NullEngine final : public MountedBackend {
 public:
  Result<Response> HandleRequest(const Request&) override { return Response::Data(Json::object()); }
  std::vector<std::string> UnauthenticatedPaths() const override { return {}; }
  bool Serving() const override { return true; }
  Status Close() override { return Status::Ok(); }
};

class NullFactory final : public MountBackendFactory {
 public:
  Result<std::unique_ptr<MountedBackend>> Start(const MountSpec& spec, const SystemView*) override {
    if (spec.options.count("fail") != 0) return Status::Internal("engine refused to start");
    return std::unique_ptr<MountedBackend>(new NullEngine());
  }
};

class EnsureMountsTest : public TempDir {
 protected:
  void SetUp() override {
    TempDir::SetUp();
    auto table = MountTable::Open(&storage_, &factory_, dir_);
    ASSERT_TRUE(table.ok()) << table.status().message();
    table_ = std::move(table).value();
  }
  void TearDown() override {
    if (table_) {
      EXPECT_TRUE(table_->Close().ok());
    }
    table_.reset();
    TempDir::TearDown();
  }
  static ConfiguredMount Pki(std::string path, std::map<std::string, std::string> options = {}) {
    ConfiguredMount m;
    m.path = std::move(path);
    m.options = std::move(options);
    return m;
  }
  std::vector<std::string> Paths() const {
    std::vector<std::string> out;
    for (const auto& m : table_->List()) out.push_back(m->path());
    return out;
  }
  MemoryStorage storage_;
  NullFactory factory_;
  std::unique_ptr<MountTable> table_;
};

TEST_F(EnsureMountsTest, MountsWhatIsAbsentAndTunesWhatExists) {
  ConfiguredMount root = Pki("pki/", {{"storage", "rocksdb"}});
  root.tune.description = "root CA";
  root.tune.default_lease_ttl = 3600;
  root.tune.max_lease_ttl = 7200;
  ASSERT_TRUE(EnsureMounts(table_.get(), {root, Pki("pki-int/")}).ok());
  EXPECT_EQ(Paths(), (std::vector<std::string>{"pki-int/", "pki/"}));
  MountEntry e = table_->Find("pki/")->entry();
  EXPECT_EQ(e.description, "root CA");
  EXPECT_EQ(e.options.at("storage"), "rocksdb");
  EXPECT_EQ(e.config.default_lease_ttl, 3600);
  EXPECT_EQ(e.config.max_lease_ttl, 7200);
  const std::string uuid = e.uuid;

  // Next start: the same mount, retuned; absent tunables keep their value.
  ConfiguredMount retuned = Pki("pki/", {{"storage", "rocksdb"}});
  retuned.tune.max_lease_ttl = 86400;
  ASSERT_TRUE(EnsureMounts(table_.get(), {retuned}).ok());
  e = table_->Find("pki/")->entry();
  EXPECT_EQ(e.uuid, uuid);  // not remounted
  EXPECT_EQ(e.description, "root CA");
  EXPECT_EQ(e.config.default_lease_ttl, 3600);
  EXPECT_EQ(e.config.max_lease_ttl, 86400);
  EXPECT_EQ(Paths().size(), 2u);  // pki-int/ is not declared any more, and stays
}

TEST_F(EnsureMountsTest, MismatchesFailBeforeAnyChange) {
  ASSERT_TRUE(EnsureMounts(table_.get(), {Pki("pki/", {{"storage", "rocksdb"}})}).ok());

  ConfiguredMount tuned = Pki("pki/", {{"storage", "rocksdb"}});
  tuned.tune.description = "changed";
  Status st = EnsureMounts(table_.get(), {Pki("new/"), tuned, Pki("pki/", {{"storage", "host"}})});
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "mount pki/ exists with options {storage=rocksdb}"));
  EXPECT_TRUE(Contains(st.message(), "{storage=host}"));
  EXPECT_EQ(Paths(), std::vector<std::string>{"pki/"});  // new/ not mounted
  EXPECT_EQ(table_->Find("pki/")->entry().description, "");

  st = EnsureMounts(table_.get(), {Pki("pki/sub/")});
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "overlaps the existing mount pki/"));

  ConfiguredMount too_long = Pki("pki/", {{"storage", "rocksdb"}});
  too_long.tune.default_lease_ttl = 10 * 768 * 3600;  // above the system max, with no mount max
  st = EnsureMounts(table_.get(), {too_long});
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "default_lease_ttl"));
}

TEST_F(EnsureMountsTest, MountsAddedAreRemovedWhenALaterOneFails) {
  Status st = EnsureMounts(table_.get(), {Pki("a/"), Pki("b/", {{"fail", "1"}})});
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "mounting b/ from the config file: engine refused to start"));
  EXPECT_TRUE(Paths().empty());
}

}  // namespace
}  // namespace pki::server
