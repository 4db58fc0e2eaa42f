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
  EXPECT_FALSE(ValidateServerFlags(*Parse({})).ok());  // -dev is required
  Status config = ValidateServerFlags(*Parse({"-dev", "-config=/etc/pki.json"}));
  EXPECT_FALSE(config.ok());
  EXPECT_NE(config.message().find("-config is not supported yet"), std::string::npos);
  EXPECT_FALSE(ValidateServerFlags(*Parse({"-dev", "-dev-listen-address=nope"})).ok());
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
