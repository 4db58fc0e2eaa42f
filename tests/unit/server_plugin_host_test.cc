// PluginFactory end to end: mounts served by real pki-plugin children (the binary built next to this test), and
// by scripts standing in for misbehaving plugins. The real-plugin tests need pki-plugin built next to them (CMake builds it first).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "src/core/clock.h"
#include "src/core/uuid.h"
#include "src/server/in_process_pki.h"
#include "src/server/mount_table.h"
#include "src/server/plugin_host.h"

namespace pki::server {
namespace {

namespace fs = std::filesystem;

// The live children of this process (every thread's), from /proc.
std::set<pid_t> Children() {
  std::set<pid_t> out;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "children");
    pid_t pid;
    while (in >> pid) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      std::getline(stat, line);
      size_t paren = line.rfind(')');
      if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z') out.insert(pid);
    }
  }
  return out;
}

std::string ChildExe(pid_t pid) {
  std::error_code ec;
  return fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename().string();
}

template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/plugin-host-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

MountSpec Spec(const TempDir& dir, std::map<std::string, std::string> options = {}) {
  MountSpec spec;
  spec.path = "pki/";
  spec.type = "pki";
  spec.uuid = NewUuid();
  spec.options = std::move(options);
  spec.data_dir = dir.path() + "/mount";
  fs::create_directories(spec.data_dir);
  return spec;
}

Request Req(Operation op, std::string path, Json data = Json::object()) {
  Request r;
  r.operation = op;
  r.path = std::move(path);
  r.data = std::move(data);
  r.mount_point = "pki/";
  return r;
}

TEST(SetupConfigTest, RocksDbByDefaultUnderTheMountDirectory) {
  TempDir dir;
  MountSpec spec = Spec(dir);
  PluginHostOptions options;
  auto config = SetupConfig(spec, options);
  EXPECT_EQ(config["plugin_name"], "pki-plugin");
  EXPECT_EQ(config["plugin_type"], "secret");
  EXPECT_EQ(config["rocksdb_path"], spec.data_dir + "/rocksdb");
  EXPECT_EQ(config.count("storage"), 0u);
}

TEST(SetupConfigTest, OptionsPassThroughAndWinOverDefaults) {
  TempDir dir;
  PluginHostOptions options;
  auto host = SetupConfig(Spec(dir, {{"storage", "host"}}), options);
  EXPECT_EQ(host["storage"], "host");
  EXPECT_EQ(host.count("rocksdb_path"), 0u);
  auto explicit_path = SetupConfig(Spec(dir, {{"rocksdb_path", "/srv/pki"}}), options);
  EXPECT_EQ(explicit_path["rocksdb_path"], "/srv/pki");
}

TEST(SetupConfigTest, MountFromTheInProcessEraKeepsItsDatabaseAndKey) {
  TempDir dir;
  MountSpec spec = Spec(dir);
  std::ofstream(spec.data_dir + "/CURRENT") << "MANIFEST-000001\n";
  PluginHostOptions options;
  options.legacy_seal_key_file = dir.path() + "/pki-seal.key";
  auto config = SetupConfig(spec, options);
  EXPECT_EQ(config["rocksdb_path"], spec.data_dir);
  EXPECT_EQ(config["seal_key_file"], dir.path() + "/pki-seal.key");
}

TEST(ResolvePluginBinaryTest, RefusesMissingAndNonExecutableFiles) {
  auto missing = ResolvePluginBinary("/nonexistent/pki-plugin");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("not found"), std::string::npos);
  TempDir dir;
  std::string file = dir.path() + "/pki-plugin";
  std::ofstream(file) << "#!/bin/sh\n";
  EXPECT_FALSE(ResolvePluginBinary(file).ok());
  fs::permissions(file, fs::perms::owner_all);
  auto ok = ResolvePluginBinary(file);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok.value(), file);
}

// Options for a factory: a barrier for host storage, as pki-server's main gives it.
PluginHostOptions FactoryOptions() {
  PluginHostOptions options;
  options.barrier = NewAesGcmSealer(std::string(32, 'b'));
  return options;
}

// A script standing in for a plugin.
std::string WriteScript(const TempDir& dir, const std::string& body) {
  std::string path = dir.path() + "/fake-plugin";
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

TEST(PluginFactoryTest, WrongHandshakeFailsTheMountAndLeavesNoChild) {
  TempDir dir;
  PluginHostOptions options = FactoryOptions();
  options.plugin_binary = WriteScript(dir, "echo '1|4|unix|/nowhere|grpc|'; exec sleep 60");
  PluginFactory factory(options);
  MountSystemView view(MountConfig{});
  auto before = Children();
  auto backend = factory.Start(Spec(dir), &view);
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), StatusCode::kInternal);
  EXPECT_NE(backend.status().message().find("incompatible API version"), std::string::npos);
  EXPECT_EQ(Children(), before);
}

TEST(PluginFactoryTest, PathOptionsFromTheApiAreRefused) {
  TempDir dir;
  PluginHostOptions options = FactoryOptions();
  options.plugin_binary = WriteScript(dir, "exec sleep 60");
  PluginFactory factory(options);
  MountSystemView view(MountConfig{});
  auto before = Children();
  for (const char* option : {"rocksdb_path", "seal_key_file"}) {
    auto backend = factory.Start(Spec(dir, {{option, "/etc/somewhere"}}), &view);
    ASSERT_FALSE(backend.ok());
    EXPECT_EQ(backend.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(backend.status().message().find(option), std::string::npos);
  }
  EXPECT_EQ(Children(), before);
}

TEST(PluginFactoryTest, SilentPluginTimesOut) {
  TempDir dir;
  PluginHostOptions options = FactoryOptions();
  options.plugin_binary = WriteScript(dir, "exec sleep 60");
  options.handshake_timeout = std::chrono::milliseconds(300);
  PluginFactory factory(options);
  MountSystemView view(MountConfig{});
  auto before = Children();
  auto backend = factory.Start(Spec(dir), &view);
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.status().message().find("timed out"), std::string::npos);
  EXPECT_EQ(Children(), before);
}

// ---- with the real pki-plugin

class RealPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto path = DefaultPluginPath();
    ASSERT_TRUE(path.ok() && ::access(path->c_str(), X_OK) == 0) << "pki-plugin must be built next to the tests";
    options_.plugin_binary = path.value();
  }

  std::unique_ptr<MountedBackend> StartMount(const MountSpec& spec) {
    factory_ = std::make_unique<PluginFactory>(options_);
    auto backend = factory_->Start(spec, &view_);
    EXPECT_TRUE(backend.ok()) << backend.status().message();
    return backend.ok() ? std::move(backend).value() : nullptr;
  }

  // A mount like `spec` started on `copy` (a checkpoint laid out as its data directory) answers `path` with data.
  void ExpectServesFromCopy(const MountSpec& spec, const std::string& copy, const std::string& path) {
    MountSpec restored = spec;
    restored.data_dir = copy;
    auto again = StartMount(restored);
    ASSERT_NE(again, nullptr);
    auto r = again->HandleRequest(Req(Operation::kRead, path));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_FALSE(r->nil) << path;
    ASSERT_TRUE(again->Close().ok());
  }

  // The pki-plugin child serving the backend just started.
  pid_t PluginChild() {
    pid_t found = 0;
    for (pid_t pid : Children()) {
      if (ChildExe(pid) == "pki-plugin") found = pid;
    }
    return found;
  }

  TempDir dir_;
  PluginHostOptions options_ = FactoryOptions();
  MountSystemView view_{MountConfig{}};
  std::unique_ptr<PluginFactory> factory_;
};

// storage/checkpoint, the plugin's own path, refuses what it must; MountedBackend::Checkpoint lays a mount's copy
// out as its data directory (the plugin's checkpoint and seal key, the host storage's checkpoint), and a mount
// started on that copy has the data.
TEST_F(RealPluginTest, CheckpointsAMountThroughItsPlugin) {
  MountSpec spec = Spec(dir_);
  auto backend = StartMount(spec);
  ASSERT_NE(backend, nullptr);
  auto roots = backend->RootPaths();
  EXPECT_NE(std::find(roots.begin(), roots.end(), "storage/checkpoint"), roots.end());
  ASSERT_TRUE(backend->HandleRequest(Req(Operation::kUpdate, "root/generate/internal",
                                         {{"common_name", "Copied Root"}, {"ttl", "24h"}}))
                  .ok());
  fs::create_directories(dir_.path() + "/out/taken");
  struct Case {
    Operation op;
    Json data;
    std::string error;
  };
  const Case cases[] = {
      {Operation::kUpdate, Json::object(), "missing path"},
      {Operation::kUpdate, {{"path", "rel/cp"}}, "absolute"},
      {Operation::kUpdate, {{"path", dir_.path() + "/out/taken/"}}, "already exists"},
      {Operation::kUpdate, {{"path", dir_.path() + "/out/none/cp"}}, "does not exist"},
      {Operation::kUpdate, {{"path", spec.data_dir + "/rocksdb/cp"}}, "outside the mount's database"},
  };
  for (const Case& c : cases) {
    auto r = backend->HandleRequest(Req(c.op, "storage/checkpoint", c.data));
    ASSERT_FALSE(r.ok()) << c.data.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest) << c.data.dump();
    EXPECT_NE(r.status().message().find(c.error), std::string::npos) << r.status().message();
  }
  auto read = backend->HandleRequest(Req(Operation::kRead, "storage/checkpoint"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kUnsupportedOperation);
  EXPECT_FALSE(fs::exists(spec.data_dir + "/rocksdb/cp"));

  const std::string copy = dir_.path() + "/out/mount-copy";
  auto items = backend->Checkpoint(copy);
  ASSERT_TRUE(items.ok()) << items.status().message();
  std::vector<std::string> written;
  for (const BackupItem& item : items.value()) written.push_back(item.path);
  EXPECT_EQ(written, (std::vector<std::string>{"rocksdb", "rocksdb.seal-key"}));  // the host storage never used
  EXPECT_EQ(fs::status(copy + "/rocksdb.seal-key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE(backend->Checkpoint(copy).ok());  // exists now
  ASSERT_TRUE(backend->Close().ok());
  backend.reset();

  ExpectServesFromCopy(spec, copy, "cert/ca");
}

TEST_F(RealPluginTest, HostStorageMountsAreCheckpointedByTheHost) {
  MountSpec spec = Spec(dir_, {{"storage", "host"}});
  auto backend = StartMount(spec);
  ASSERT_NE(backend, nullptr);
  ASSERT_TRUE(backend->HandleRequest(Req(Operation::kUpdate, "roles/web", {{"ttl", "1h"}})).ok());
  auto refused = backend->HandleRequest(
      Req(Operation::kUpdate, "storage/checkpoint", {{"path", dir_.path() + "/cp"}}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(refused.status().message().find("storage=host"), std::string::npos);

  const std::string copy = dir_.path() + "/mount-copy";
  auto items = backend->Checkpoint(copy);
  ASSERT_TRUE(items.ok()) << items.status().message();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ(items->at(0).path, "host-storage");
  ASSERT_TRUE(backend->Close().ok());
  backend.reset();

  ExpectServesFromCopy(spec, copy, "roles/web");
}

TEST_F(RealPluginTest, ServesRequestsAndShutsDownOnClose) {
  MountSpec spec = Spec(dir_);
  auto backend = StartMount(spec);
  ASSERT_NE(backend, nullptr);
  EXPECT_TRUE(backend->Serving());
  auto unauth = backend->UnauthenticatedPaths();
  EXPECT_NE(std::find(unauth.begin(), unauth.end(), "ca/pem"), unauth.end());
  pid_t child = PluginChild();
  ASSERT_NE(child, 0);

  auto root = backend->HandleRequest(
      Req(Operation::kUpdate, "root/generate/internal", {{"common_name", "Test Root"}, {"ttl", "24h"}}));
  ASSERT_TRUE(root.ok()) << root.status().message();
  EXPECT_TRUE(root->data.contains("certificate"));

  // A 400 from the plugin comes back as a 400.
  auto bad = backend->HandleRequest(Req(Operation::kUpdate, "roles/web", {{"ttl", "not a duration"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  // A read of nothing is a nil response.
  auto none = backend->HandleRequest(Req(Operation::kRead, "roles/absent"));
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_TRUE(none->nil);
  // Raw responses keep their content type.
  auto pem = backend->HandleRequest(Req(Operation::kRead, "ca/pem"));
  ASSERT_TRUE(pem.ok()) << pem.status().message();
  ASSERT_TRUE(pem->raw.has_value());
  EXPECT_NE(pem->raw->body.find("BEGIN CERTIFICATE"), std::string::npos);

  EXPECT_TRUE(fs::exists(spec.data_dir + "/rocksdb"));
  ASSERT_TRUE(backend->Close().ok());
  EXPECT_FALSE(backend->Serving());
  EXPECT_EQ(Children().count(child), 0u);
  auto after = backend->HandleRequest(Req(Operation::kRead, "ca/pem"));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kInternal);
}

TEST_F(RealPluginTest, HostStorageHoldsTheMountsData) {
  MountSpec spec = Spec(dir_, {{"storage", "host"}});
  auto backend = StartMount(spec);
  ASSERT_NE(backend, nullptr);
  auto role = backend->HandleRequest(Req(Operation::kUpdate, "roles/web", {{"allow_any_name", true}}));
  ASSERT_TRUE(role.ok()) << role.status().message();
  auto list = backend->HandleRequest(Req(Operation::kList, "roles"));
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->data["keys"], Json::array({"web"}));
  ASSERT_TRUE(backend->Close().ok());
  EXPECT_TRUE(fs::exists(spec.data_dir + "/host-storage/CURRENT"));
  EXPECT_FALSE(fs::exists(spec.data_dir + "/rocksdb"));

  // The data is the host's: a new plugin over the same mount reads it back.
  auto again = StartMount(spec);
  ASSERT_NE(again, nullptr);
  auto read = again->HandleRequest(Req(Operation::kRead, "roles/web"));
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->data["allow_any_name"], true);
  ASSERT_TRUE(again->Close().ok());
}

TEST_F(RealPluginTest, RefusedOptionsFailTheMountWith400) {
  auto before = Children();
  factory_ = std::make_unique<PluginFactory>(options_);
  auto backend = factory_->Start(Spec(dir_, {{"storage", "floppy"}}), &view_);
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(backend.status().message().find("floppy"), std::string::npos);
  EXPECT_EQ(Children(), before);
}

TEST_F(RealPluginTest, DeadPluginIsRestartedAndKeepsItsData) {
  MountSpec spec = Spec(dir_);
  auto backend = StartMount(spec);
  ASSERT_NE(backend, nullptr);
  ASSERT_TRUE(backend->HandleRequest(Req(Operation::kUpdate, "roles/web", {{"allow_any_name", true}})).ok());
  pid_t first = PluginChild();
  ASSERT_NE(first, 0);

  ASSERT_EQ(::kill(first, SIGKILL), 0);
  EXPECT_TRUE(Eventually([&] { return !backend->Serving(); }));
  EXPECT_TRUE(Eventually([&] { return backend->Serving(); }));
  pid_t second = PluginChild();
  EXPECT_NE(second, 0);
  EXPECT_NE(second, first);

  auto read = backend->HandleRequest(Req(Operation::kRead, "roles/web"));
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->data["allow_any_name"], true);
  ASSERT_TRUE(backend->Close().ok());
  EXPECT_TRUE(Children().empty() || Children().count(second) == 0);
}

TEST_F(RealPluginTest, LeaseTtlsReachThePluginThroughTheSystemView) {
  view_.Set(MountConfig{3600, 7200});
  auto backend = StartMount(Spec(dir_));
  ASSERT_NE(backend, nullptr);
  ASSERT_TRUE(backend->HandleRequest(Req(Operation::kUpdate, "root/generate/internal",
                                         {{"common_name", "Root"}, {"ttl", "2h"}}))
                  .ok());
  ASSERT_TRUE(backend->HandleRequest(Req(Operation::kUpdate, "roles/web", {{"allow_any_name", true}})).ok());
  // No ttl in the request or the role: the mount's default lease TTL (1h, sent as nanoseconds) applies.
  auto leaf = backend->HandleRequest(Req(Operation::kUpdate, "issue/web", {{"common_name", "a.example.com"}}));
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  ASSERT_TRUE(leaf->data["expiration"].is_number_integer());
  int64_t lifetime = leaf->data["expiration"].get<int64_t>() - std::time(nullptr);
  EXPECT_NEAR(lifetime, 3600, 120);
  ASSERT_TRUE(backend->Close().ok());
}

TEST_F(RealPluginTest, MountFromTheInProcessEraKeepsItsCa) {
  // A mount written by the engine when it ran inside pki-server: RocksDB in the mount directory itself, CA key
  // sealed with the server-wide key.
  MountSpec spec = Spec(dir_);
  const std::string seal_key = dir_.path() + "/pki-seal.key";
  std::string ca_pem;
  {
    auto in_process = InProcessPkiFactory::Create(seal_key, &SystemClock::Instance());
    ASSERT_TRUE(in_process.ok()) << in_process.status().message();
    auto old = in_process.value()->Start(spec, &view_);
    ASSERT_TRUE(old.ok()) << old.status().message();
    auto root = old.value()->HandleRequest(
        Req(Operation::kUpdate, "root/generate/internal", {{"common_name", "Old Root"}, {"ttl", "24h"}}));
    ASSERT_TRUE(root.ok()) << root.status().message();
    ca_pem = root->data["certificate"].get<std::string>();
    ASSERT_TRUE(old.value()->HandleRequest(Req(Operation::kUpdate, "roles/web", {{"allow_any_name", true}})).ok());
    ASSERT_TRUE(old.value()->Close().ok());
  }

  options_.legacy_seal_key_file = seal_key;
  auto backend = StartMount(spec);
  ASSERT_NE(backend, nullptr);
  auto pem = backend->HandleRequest(Req(Operation::kRead, "ca/pem"));
  ASSERT_TRUE(pem.ok()) << pem.status().message();
  ASSERT_TRUE(pem->raw.has_value());
  EXPECT_EQ(pem->raw->body.substr(0, 200), ca_pem.substr(0, 200));
  // Issuing needs the unsealed CA key.
  auto leaf = backend->HandleRequest(
      Req(Operation::kUpdate, "issue/web", {{"common_name", "a.example.com"}, {"ttl", "1h"}}));
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  EXPECT_EQ(leaf->data["issuing_ca"].get<std::string>().substr(0, 200), ca_pem.substr(0, 200));
  // Its copy has the same layout: the database is the directory; the seal key is the server's, which a backup
  // copies itself, so the plugin's copy of it is not left beside the directory.
  fs::create_directories(dir_.path() + "/out");
  auto items = backend->Checkpoint(dir_.path() + "/out/copy");
  ASSERT_TRUE(items.ok()) << items.status().message();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ(items->at(0).path, "");
  EXPECT_TRUE(fs::exists(dir_.path() + "/out/copy/CURRENT"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/out/copy.seal-key"));
  ASSERT_TRUE(backend->Close().ok());
  EXPECT_FALSE(fs::exists(spec.data_dir + "/rocksdb"));
}

}  // namespace
}  // namespace pki::server
