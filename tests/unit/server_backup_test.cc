// POST sys/storage/backup through the real server (DevServer, Beast listener, tokens, ACL) with the PKI engine in
// process: who may call it, which paths it refuses (each in Vault's error envelope, nothing written), what a
// backup holds and its permissions, a server started from it, and a failed backup leaving nothing behind.
// tests/integration/test_backup.py covers the same with pki-plugin children, under load, through the CLI.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/core/clock.h"
#include "src/server/dev_server.h"
#include "src/server/in_process_pki.h"
#include "tests/unit/http_test_client.h"

namespace pki::server {
namespace {

using Json = nlohmann::json;
using pki::testing::HttpTestClient;

constexpr char kRootToken[] = "s.backup-test-root";

Result<std::unique_ptr<MountBackendFactory>> InProcess(const DataLayout& layout) {
  ASSIGN_OR_RETURN(std::unique_ptr<InProcessPkiFactory> f,
                   InProcessPkiFactory::Create(layout.seal_key_file, &SystemClock::Instance()));
  return std::unique_ptr<MountBackendFactory>(std::move(f));
}

// An engine that serves but cannot be copied (MountedBackend::Checkpoint's default).
class UncopyableEngine final : public MountedBackend {
 public:
  Result<Response> HandleRequest(const Request&) override { return Response::Data(Json::object()); }
  std::vector<std::string> UnauthenticatedPaths() const override { return {}; }
  bool Serving() const override { return true; }
  Status Close() override { return Status::Ok(); }
};

class UncopyableFactory final : public MountBackendFactory {
 public:
  Result<std::unique_ptr<MountedBackend>> Start(const MountSpec&, const SystemView*) override {
    return std::unique_ptr<MountedBackend>(new UncopyableEngine());
  }
};

int Mode(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/server_backup_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/out");
    Start(dir_ + "/data", InProcess);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start(const std::string& data_dir, const FactoryMaker& maker) {
    client_.reset();
    server_.reset();
    DevServerOptions options;
    options.data_dir = data_dir;
    options.root_token = kRootToken;
    options.listen_port = 0;
    auto started = DevServer::Start(options, maker);
    ASSERT_TRUE(started.ok()) << started.status().message();
    server_ = std::move(started).value();
    client_ = std::make_unique<HttpTestClient>(server_->http().port());
  }

  HttpTestClient::Response Call(const std::string& method, const std::string& path, const Json& body,
                                const std::string& token = kRootToken) {
    return client_->Send(method, "/v1/" + path, body.is_null() ? "" : body.dump(), token,
                         body.is_null() ? "" : "application/json");
  }
  HttpTestClient::Response Backup(const Json& body, const std::string& token = kRootToken) {
    return Call("POST", "sys/storage/backup", body, token);
  }

  // A token whose policy grants `capabilities` on sys/storage/backup.
  std::string TokenWith(const Json& capabilities) {
    const std::string name = "backup-" + std::to_string(policies_++);
    Json policy = {{"path", {{"sys/storage/backup", {{"capabilities", capabilities}}}}}};
    auto put = Call("PUT", "sys/policy/" + name, Json{{"policy", policy.dump()}});
    EXPECT_EQ(put.result_int(), 204) << put.body();
    auto created = Call("POST", "auth/token/create", Json{{"policies", {name}}, {"ttl", "1h"}});
    EXPECT_EQ(created.result_int(), 200) << created.body();
    return Json::parse(created.body())["auth"]["client_token"].get<std::string>();
  }

  // The first error of a Vault error envelope (and the envelope's shape).
  static std::string Error(const HttpTestClient::Response& r) {
    Json body = Json::parse(r.body(), nullptr, false);
    EXPECT_TRUE(body.is_object() && body.contains("errors") && body["errors"].is_array()) << r.body();
    if (!body.is_object() || !body["errors"].is_array() || body["errors"].empty()) return "";
    return body["errors"][0].get<std::string>();
  }

  std::string dir_;
  int policies_ = 0;
  std::unique_ptr<DevServer> server_;
  std::unique_ptr<HttpTestClient> client_;
};

TEST_F(BackupTest, OnlyRootOrSudoMayBackUp) {
  const std::string target = dir_ + "/out/b";
  EXPECT_EQ(Backup({{"path", target}}, "").result_int(), 403);
  EXPECT_EQ(Backup({{"path", target}}, "s.never-issued").result_int(), 403);
  auto no_sudo = Backup({{"path", target}}, TokenWith({"create", "update"}));
  EXPECT_EQ(no_sudo.result_int(), 403);
  EXPECT_EQ(Error(no_sudo), "permission denied");
  EXPECT_FALSE(std::filesystem::exists(target));
  auto sudo = Backup({{"path", target}}, TokenWith({"update", "sudo"}));
  EXPECT_EQ(sudo.result_int(), 200) << sudo.body();
  EXPECT_TRUE(std::filesystem::is_directory(target));
}

TEST_F(BackupTest, RefusesBadPathsWithoutWritingAnything) {
  std::filesystem::create_directories(dir_ + "/out/existing");
  { std::ofstream(dir_ + "/out/existing/mine") << "keep"; }
  { std::ofstream(dir_ + "/out/file") << "keep"; }
  struct Case {
    Json body;
    std::string error;
  };
  const Case cases[] = {
      {Json::object(), "missing path"},
      {{{"path", ""}}, "missing path"},
      {{{"path", 7}}, "expected a string"},
      {{{"path", "relative/dir"}}, "must be an absolute path"},
      {{{"path", dir_ + "/out/existing"}}, "already exists"},
      {{{"path", dir_ + "/out/existing/"}}, "already exists"},
      {{{"path", dir_ + "/out/file"}}, "already exists"},
      {{{"path", dir_ + "/out/no/such/parent"}}, "does not exist"},
      {{{"path", dir_ + "/data/backup"}}, "inside the data directory"},
      {{{"path", dir_ + "/data/mounts/../b"}}, "inside the data directory"},
      {{{"path", "/"}}, "new directory"},
  };
  for (const Case& c : cases) {
    auto r = Backup(c.body);
    EXPECT_EQ(r.result_int(), 400) << c.body.dump() << ": " << r.body();
    EXPECT_NE(Error(r).find(c.error), std::string::npos) << c.body.dump() << ": " << r.body();
  }
  EXPECT_EQ(Entries(dir_ + "/out"), (std::vector<std::string>{"existing", "file"}));
  EXPECT_EQ(Entries(dir_ + "/out/existing"), std::vector<std::string>{"mine"});
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/data/backup"));
  // Only writes back up; a read of the path is not a backup.
  EXPECT_EQ(Call("GET", "sys/storage/backup", nullptr).result_int(), 405);
}

TEST_F(BackupTest, ABackupIsADataDirectoryAServerStartsFrom) {
  ASSERT_EQ(Call("POST", "pki/root/generate/internal", {{"common_name", "Backup Root"}, {"key_type", "ec"}})
                .result_int(),
            200);
  const Json role = {{"allowed_domains", "example.com"}, {"allow_subdomains", true}, {"key_type", "ec"}, {"ttl", "1h"}};
  ASSERT_EQ(Call("POST", "pki/roles/web", role).result_int(), 200);
  auto issued = Call("POST", "pki/issue/web", {{"common_name", "a.example.com"}});
  ASSERT_EQ(issued.result_int(), 200) << issued.body();
  const std::string serial = Json::parse(issued.body())["data"]["serial_number"];
  const std::string uuid = server_->mounts().at(0).uuid;

  const std::string target = dir_ + "/out/b1";
  auto r = Backup({{"path", target}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  Json data = Json::parse(r.body())["data"];
  EXPECT_EQ(data["path"], target);
  std::set<std::string> listed;
  for (const Json& item : data["contents"]) listed.insert(item["path"].get<std::string>());
  EXPECT_EQ(listed, (std::set<std::string>{"sys", "mounts/" + uuid, "pki-seal.key"}));
  EXPECT_EQ(Mode(target), 0700);
  EXPECT_EQ(Mode(target + "/sys"), 0700);
  EXPECT_EQ(Mode(target + "/mounts"), 0700);
  EXPECT_EQ(Mode(target + "/pki-seal.key"), 0600);
  EXPECT_EQ(Entries(dir_ + "/out"), std::vector<std::string>{"b1"});  // no staging directory left
  // A second backup to the same path is refused; the first is untouched.
  auto again = Backup({{"path", target}});
  EXPECT_EQ(again.result_int(), 400);
  EXPECT_NE(Error(again).find("already exists"), std::string::npos);

  // Written after the backup: not in it.
  auto later = Call("POST", "pki/issue/web", {{"common_name", "b.example.com"}});
  ASSERT_EQ(later.result_int(), 200);
  const std::string later_serial = Json::parse(later.body())["data"]["serial_number"];

  Start(target, InProcess);
  EXPECT_EQ(server_->mounts().at(0).uuid, uuid);
  EXPECT_EQ(Call("GET", "pki/cert/" + serial, nullptr, "").result_int(), 200);
  EXPECT_EQ(Call("GET", "pki/cert/" + later_serial, nullptr, "").result_int(), 404);
  // The CA key opened with the copied seal key: issuing works.
  EXPECT_EQ(Call("POST", "pki/issue/web", {{"common_name", "c.example.com"}}).result_int(), 200);
}

TEST_F(BackupTest, AFailedBackupLeavesNothing) {
  Start(dir_ + "/data2", [](const DataLayout&) -> Result<std::unique_ptr<MountBackendFactory>> {
    return std::unique_ptr<MountBackendFactory>(new UncopyableFactory());
  });
  const std::string target = dir_ + "/out/failed";
  auto r = Backup({{"path", target}});
  EXPECT_EQ(r.result_int(), 500) << r.body();
  EXPECT_NE(Error(r).find("backing up mount pki/"), std::string::npos) << r.body();
  EXPECT_TRUE(Entries(dir_ + "/out").empty());
}

}  // namespace
}  // namespace pki::server
