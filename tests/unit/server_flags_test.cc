// Tests for pki-server's command-line parsing.
#include <gtest/gtest.h>

#include <map>

#include "src/server/server_flags.h"

namespace pki::server {
namespace {

Result<ServerFlags> Parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return ParseServerFlags(args, [env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(ServerFlagsTest, Defaults) {
  auto f = Parse({"-dev"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->dev);
  EXPECT_EQ(f->dev_listen_address, "127.0.0.1:8200");
  EXPECT_EQ(f->data_dir, "./data");
  EXPECT_TRUE(f->dev_root_token_id.empty());
  EXPECT_TRUE(f->plugin_path.empty());
  EXPECT_TRUE(ValidateServerFlags(*f).ok());
}

TEST(ServerFlagsTest, EverySpelling) {
  auto f = Parse({"--dev", "-dev-root-token-id=root", "--dev-listen-address", "0.0.0.0:8300", "-data-dir", "/d",
                  "--plugin=/bin/pki-plugin"});
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_TRUE(f->dev);
  EXPECT_EQ(f->dev_root_token_id, "root");
  EXPECT_EQ(f->dev_listen_address, "0.0.0.0:8300");
  EXPECT_EQ(f->data_dir, "/d");
  EXPECT_EQ(f->plugin_path, "/bin/pki-plugin");
  EXPECT_FALSE(Parse({"-dev=false"})->dev);
  EXPECT_TRUE(Parse({"--version"})->version);
  EXPECT_TRUE(Parse({"-h"})->help);
}

TEST(ServerFlagsTest, AuditLogPath) {
  EXPECT_TRUE(Parse({"-dev"})->audit_log_path.empty());
  EXPECT_EQ(Parse({"-dev", "-audit-log=/var/log/pki/audit.log"})->audit_log_path, "/var/log/pki/audit.log");
  EXPECT_EQ(Parse({"-dev", "--audit-log", "a.log"})->audit_log_path, "a.log");
  EXPECT_FALSE(Parse({"-dev", "-audit-log"}).ok());
  EXPECT_NE(ServerUsage().find("-audit-log"), std::string::npos);
}

TEST(ServerFlagsTest, EnvironmentGivesDefaultsThatFlagsOverride) {
  std::map<std::string, std::string> env = {{"VAULT_DEV_ROOT_TOKEN_ID", "envtok"},
                                            {"VAULT_DEV_LISTEN_ADDRESS", "127.0.0.1:9999"}};
  auto f = Parse({"-dev"}, env);
  EXPECT_EQ(f->dev_root_token_id, "envtok");
  EXPECT_EQ(f->dev_listen_address, "127.0.0.1:9999");
  f = Parse({"-dev", "-dev-root-token-id=flag"}, env);
  EXPECT_EQ(f->dev_root_token_id, "flag");
}

TEST(ServerFlagsTest, BadUsage) {
  EXPECT_FALSE(Parse({"-nope"}).ok());
  EXPECT_FALSE(Parse({"-data-dir"}).ok());
  EXPECT_FALSE(Parse({"-dev=maybe"}).ok());
  EXPECT_FALSE(Parse({"server"}).ok());
  EXPECT_FALSE(Parse({"-"}).ok());
  Status neither = ValidateServerFlags(*Parse({}));
  EXPECT_FALSE(neither.ok());
  EXPECT_NE(neither.message().find("either -dev or -config=FILE is required"), std::string::npos);
  Status both = ValidateServerFlags(*Parse({"-dev", "-config=/etc/pki.json"}));
  EXPECT_FALSE(both.ok());
  EXPECT_NE(both.message().find("-dev and -config cannot be used together"), std::string::npos);
  EXPECT_FALSE(ValidateServerFlags(*Parse({"-dev", "-dev-listen-address=nope"})).ok());
  EXPECT_FALSE(ValidateServerFlags(*Parse({"-config="})).ok());
}

TEST(ServerFlagsTest, ConfigFile) {
  auto f = Parse({"-config", "/etc/pki-server/config.json", "-plugin=/p", "-log-level=debug"},
                 {{"VAULT_DEV_ROOT_TOKEN_ID", "ignored"}});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->config_file, "/etc/pki-server/config.json");
  EXPECT_EQ(f->log_level, "debug");
  EXPECT_TRUE(ValidateServerFlags(*f).ok()) << ValidateServerFlags(*f).message();
  // Settings the config file owns, or that only dev mode has, are refused with it.
  Status st = ValidateServerFlags(*Parse({"-config=/c.json", "-data-dir=/d"}));
  EXPECT_NE(st.message().find("set data_dir in the config file"), std::string::npos);
  st = ValidateServerFlags(*Parse({"-config=/c.json", "-dev-root-token-id=t"}));
  EXPECT_NE(st.message().find("-dev-root-token-id applies only with -dev"), std::string::npos);
  EXPECT_FALSE(ValidateServerFlags(*Parse({"-config=/c.json", "-dev-listen-address=127.0.0.1:1"})).ok());
}

TEST(ServerFlagsTest, LogLevel) {
  EXPECT_TRUE(Parse({"-dev"})->log_level.empty());
  EXPECT_EQ(Parse({"-dev"}, {{"VAULT_LOG_LEVEL", "warn"}})->log_level, "warn");
  EXPECT_EQ(Parse({"-dev", "-log-level", "trace"}, {{"VAULT_LOG_LEVEL", "warn"}})->log_level, "trace");
  EXPECT_TRUE(ValidateServerFlags(*Parse({"-dev", "-log-level=ERROR"})).ok());
  Status st = ValidateServerFlags(*Parse({"-dev", "-log-level=loud"}));
  EXPECT_NE(st.message().find("unknown log level \"loud\""), std::string::npos);
}

TEST(ServerFlagsTest, SplitHostPort) {
  EXPECT_EQ(SplitHostPort("127.0.0.1:8200").value(), std::make_pair(std::string("127.0.0.1"), uint16_t{8200}));
  EXPECT_EQ(SplitHostPort("[::1]:0").value(), std::make_pair(std::string("::1"), uint16_t{0}));
  EXPECT_EQ(SplitHostPort("localhost:1").value().first, "localhost");
  EXPECT_EQ(SplitHostPort(":8200").value().first, "0.0.0.0");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "h:65536", "h:-1", "::1:80", "[::1]80", "h:8x"}) {
    EXPECT_FALSE(SplitHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace pki::server
