// What pki-server serves a plugin over the broker: pb.Storage with Vault's physical semantics over the mount's
// storage, pb.SystemView with TTLs in nanoseconds, and the broker itself, dialled by the plugin's own broker code
// over AutoMTLS.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "backend.grpc.pb.h"
#include "plugin/automtls.h"
#include "plugin/broker.h"
#include "plugin/tls.h"
#include "src/server/host_broker.h"
#include "src/server/host_services.h"
#include "src/server/mount_table.h"
#include "storage/memory_storage.h"

namespace pki::server {
namespace {

// Counts the calls a storage receives, to show List never walks a subtree.
class CountingStorage final : public Storage {
 public:
  explicit CountingStorage(Storage* inner) : inner_(inner) {}
  Status Get(std::string_view k, std::string* v) override { return inner_->Get(k, v); }
  Status Put(std::string_view k, std::string_view v) override { return inner_->Put(k, v); }
  Status Delete(std::string_view k) override { return inner_->Delete(k); }
  Status Write(const WriteBatch& b) override { return inner_->Write(b); }
  Status List(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys) override {
    ++list_calls;
    max_limit_seen = std::max(max_limit_seen, limit);
    if (limit == 0) unbounded_calls++;
    return inner_->List(prefix, start_after, limit, keys);
  }
  int list_calls = 0;
  int unbounded_calls = 0;
  size_t max_limit_seen = 0;

 private:
  Storage* inner_;
};

void Fill(MemoryStorage* s, const std::vector<std::string>& keys) {
  for (const auto& k : keys) EXPECT_TRUE(s->Put(k, "v:" + k).ok());
}

std::vector<std::string> Children(Storage* s, const std::string& prefix) {
  std::vector<std::string> out;
  Status st = ListImmediateChildren(s, prefix, &out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(HostStorageListTest, ImmediateChildrenSortedWithFolders) {
  MemoryStorage s;
  Fill(&s, {"roles/web", "roles/db", "certs/01", "certs/02", "certs/03", "config/issuers",
                            "config/urls", "index/expiry/0001/aa", "index/expiry/0002/bb", "top"});
  EXPECT_EQ(Children(&s, ""), (std::vector<std::string>{"certs/", "config/", "index/", "roles/", "top"}));
  EXPECT_EQ(Children(&s, "roles/"), (std::vector<std::string>{"db", "web"}));
  EXPECT_EQ(Children(&s, "index/"), (std::vector<std::string>{"expiry/"}));
  EXPECT_EQ(Children(&s, "index/expiry/"), (std::vector<std::string>{"0001/", "0002/"}));
  EXPECT_TRUE(Children(&s, "nothing/").empty());
  // A prefix without a trailing slash lists as Vault's physical backends do: by raw prefix.
  EXPECT_EQ(Children(&s, "rol"), (std::vector<std::string>{"es/"}));
}

TEST(HostStorageListTest, FolderAndKeyOfTheSameName) {
  // "a" and "a/x" coexist; so do names that sort around '/' ("a-b" < "a/" < "a0").
  MemoryStorage s;
  Fill(&s, {"a", "a/x", "a/y/z", "a-b", "a0"});
  EXPECT_EQ(Children(&s, ""), (std::vector<std::string>{"a", "a-b", "a/", "a0"}));
  EXPECT_EQ(Children(&s, "a/"), (std::vector<std::string>{"x", "y/"}));
}

TEST(HostStorageListTest, KeyEqualToPrefixIsNotAChild) {
  MemoryStorage s;
  Fill(&s, {"roles/", "roles/web"});
  EXPECT_EQ(Children(&s, "roles/"), (std::vector<std::string>{"web"}));
}

TEST(HostStorageListTest, KeysWithHighBytesDoNotRepeatAFolder) {
  MemoryStorage s;
  Fill(&s, {"a/\xff\xff", "a/\xff\xff\xff/z", "b"});
  EXPECT_EQ(Children(&s, ""), (std::vector<std::string>{"a/", "b"}));
}

TEST(HostStorageListTest, CostIsOneBoundedCallPerChildNotPerKey) {
  MemoryStorage mem;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(mem.Put("certs/" + std::to_string(10000 + i), "x").ok());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(mem.Put("index/expiry/" + std::to_string(10000 + i), "").ok());
  ASSERT_TRUE(mem.Put("roles/web", "r").ok());
  CountingStorage counting(&mem);
  EXPECT_EQ(Children(&counting, ""), (std::vector<std::string>{"certs/", "index/", "roles/"}));
  EXPECT_EQ(counting.list_calls, 4);  // three children and the empty page that ends the walk
  EXPECT_EQ(counting.unbounded_calls, 0);
  EXPECT_EQ(counting.max_limit_seen, 1u);
}

TEST(StorageServiceTest, GetPutDeleteListWithVaultSemantics) {
  MemoryStorage mem;
  StorageService svc(&mem);

  pb::StorageGetArgs get;
  get.set_key("roles/web");
  pb::StorageGetReply got;
  ASSERT_TRUE(svc.Get(nullptr, &get, &got).ok());
  EXPECT_FALSE(got.has_entry());  // absent: entry unset, no error
  EXPECT_EQ(got.err(), "");

  pb::StoragePutArgs put;
  put.mutable_entry()->set_key("roles/web");
  put.mutable_entry()->set_value(std::string("bin\0ary", 7));
  put.mutable_entry()->set_seal_wrap(true);
  pb::StoragePutReply put_reply;
  ASSERT_TRUE(svc.Put(nullptr, &put, &put_reply).ok());
  EXPECT_EQ(put_reply.err(), "");

  got.Clear();
  ASSERT_TRUE(svc.Get(nullptr, &get, &got).ok());
  ASSERT_TRUE(got.has_entry());
  EXPECT_EQ(got.entry().key(), "roles/web");
  EXPECT_EQ(got.entry().value(), std::string("bin\0ary", 7));

  ASSERT_TRUE(mem.Put("roles/sub/deep", "x").ok());
  pb::StorageListArgs list;
  list.set_prefix("roles/");
  pb::StorageListReply listed;
  ASSERT_TRUE(svc.List(nullptr, &list, &listed).ok());
  EXPECT_EQ(std::vector<std::string>(listed.keys().begin(), listed.keys().end()),
            (std::vector<std::string>{"sub/", "web"}));

  pb::StorageDeleteArgs del;
  del.set_key("roles/web");
  pb::StorageDeleteReply del_reply;
  ASSERT_TRUE(svc.Delete(nullptr, &del, &del_reply).ok());
  EXPECT_EQ(del_reply.err(), "");
  got.Clear();
  ASSERT_TRUE(svc.Get(nullptr, &get, &got).ok());
  EXPECT_FALSE(got.has_entry());

  // Deleting what is absent succeeds, as in Vault.
  ASSERT_TRUE(svc.Delete(nullptr, &del, &del_reply).ok());
  EXPECT_EQ(del_reply.err(), "");
}

// A storage that fails every call: the failure travels in err with an OK gRPC status.
class FailingStorage final : public Storage {
 public:
  Status Get(std::string_view, std::string*) override { return Status::Internal("disk on fire"); }
  Status Put(std::string_view, std::string_view) override { return Status::Internal("disk on fire"); }
  Status Delete(std::string_view) override { return Status::Internal("disk on fire"); }
  Status Write(const WriteBatch&) override { return Status::Internal("disk on fire"); }
  Status List(std::string_view, std::string_view, size_t, std::vector<std::string>*) override {
    return Status::Internal("disk on fire");
  }
};

TEST(StorageServiceTest, AppErrorsTravelInErr) {
  FailingStorage failing;
  StorageService svc(&failing);
  pb::StorageGetArgs get;
  get.set_key("k");
  pb::StorageGetReply got;
  ASSERT_TRUE(svc.Get(nullptr, &get, &got).ok());
  EXPECT_EQ(got.err(), "disk on fire");
  pb::StorageListArgs list;
  pb::StorageListReply listed;
  ASSERT_TRUE(svc.List(nullptr, &list, &listed).ok());
  EXPECT_EQ(listed.err(), "disk on fire");
  pb::StoragePutArgs put;
  put.mutable_entry()->set_key("k");
  pb::StoragePutReply put_reply;
  ASSERT_TRUE(svc.Put(nullptr, &put, &put_reply).ok());
  EXPECT_EQ(put_reply.err(), "disk on fire");
  pb::StorageDeleteArgs del;
  pb::StorageDeleteReply del_reply;
  ASSERT_TRUE(svc.Delete(nullptr, &del, &del_reply).ok());
  EXPECT_EQ(del_reply.err(), "disk on fire");
}

TEST(SystemViewServiceTest, LeaseTtlsInNanoseconds) {
  MountSystemView view(MountConfig{3600, 7200});
  SystemViewService svc(&view);
  pb::Empty empty;
  pb::TTLReply ttl;
  ASSERT_TRUE(svc.DefaultLeaseTTL(nullptr, &empty, &ttl).ok());
  EXPECT_EQ(ttl.ttl(), int64_t{3600} * 1'000'000'000);
  ASSERT_TRUE(svc.MaxLeaseTTL(nullptr, &empty, &ttl).ok());
  EXPECT_EQ(ttl.ttl(), int64_t{7200} * 1'000'000'000);
  // A tune is seen by the next call.
  view.Set(MountConfig{0, 0});
  ASSERT_TRUE(svc.MaxLeaseTTL(nullptr, &empty, &ttl).ok());
  EXPECT_EQ(ttl.ttl(), kSystemMaxLeaseTtl * 1'000'000'000);

  pb::LocalMountReply local;
  ASSERT_TRUE(svc.LocalMount(nullptr, &empty, &local).ok());
  EXPECT_FALSE(local.local());
  pb::TaintedReply tainted;
  ASSERT_TRUE(svc.Tainted(nullptr, &empty, &tainted).ok());
  EXPECT_FALSE(tainted.tainted());
}

TEST(SystemViewServiceTest, SecondsToNanosSaturates) {
  EXPECT_EQ(SecondsToNanos(0), 0);
  EXPECT_EQ(SecondsToNanos(768 * 3600), int64_t{768} * 3600 * 1'000'000'000);
  EXPECT_EQ(SecondsToNanos(std::numeric_limits<int64_t>::max()), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(SecondsToNanos(std::numeric_limits<int64_t>::min()), std::numeric_limits<int64_t>::min());
}

TEST(MountHostStorageTest, OpensOnFirstUseOnly) {
  std::string dir = std::filesystem::temp_directory_path() / ("host-storage-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    auto barrier = NewAesGcmSealer(std::string(32, 'k'));
    MountHostStorage s(dir, barrier.get());
    EXPECT_TRUE(s.Flush().ok());
    EXPECT_FALSE(std::filesystem::exists(dir));  // never used: nothing on disk
    ASSERT_TRUE(s.Put("roles/web", "r").ok());
    EXPECT_TRUE(std::filesystem::exists(dir));
    std::string v;
    ASSERT_TRUE(s.Get("roles/web", &v).ok());
    EXPECT_EQ(v, "r");
    EXPECT_TRUE(s.Flush().ok());
  }
  std::filesystem::remove_all(dir);
}

TEST(MountHostStorageTest, EveryValueIsSealedOnDisk) {
  std::string dir = std::filesystem::temp_directory_path() / ("host-storage-sealed-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string secret = "-----BEGIN PRIVATE KEY----- not for disk";
  {
    auto barrier = NewAesGcmSealer(std::string(32, 'k'));
    MountHostStorage s(dir, barrier.get());
    ASSERT_TRUE(s.Put("key/1", secret).ok());
    WriteBatch batch;
    batch.Put("key/2", secret);
    ASSERT_TRUE(s.Write(batch).ok());
    std::string v;
    ASSERT_TRUE(s.Get("key/2", &v).ok());
    EXPECT_EQ(v, secret);
    ASSERT_TRUE(s.Close().ok());
  }
  auto raw = RocksDBStorage::Open(dir);
  ASSERT_TRUE(raw.ok());
  for (const char* key : {"key/1", "key/2"}) {
    std::string stored;
    ASSERT_TRUE(raw.value()->Get(key, &stored).ok());
    EXPECT_EQ(stored.find("PRIVATE KEY"), std::string::npos) << key;
  }
  raw.value().reset();
  std::filesystem::remove_all(dir);
}

// The host broker against the plugin's broker code, over AutoMTLS on unix sockets: the plugin serves GRPCBroker,
// the host announces a listener serving pb.Storage, and the plugin dials it by id.
class HostBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto host_id = plugin::GenerateTlsIdentity(std::time(nullptr));
    auto plugin_id = plugin::GenerateTlsIdentity(std::time(nullptr));
    ASSERT_TRUE(host_id.ok() && plugin_id.ok());
    host_tls_ = {true, host_id->cert_pem, host_id->key_pem, plugin_id->cert_pem};
    plugin_tls_ = {true, plugin_id->cert_pem, plugin_id->key_pem, host_id->cert_pem};

    char tmpl[] = "/tmp/broker-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    plugin_broker_ = std::make_unique<plugin::BrokerService>(plugin_tls_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_ + "/plugin.sock", plugin::ServerCredentials(plugin_tls_));
    builder.RegisterService(plugin_broker_.get());
    plugin_server_ = builder.BuildAndStart();
    ASSERT_NE(plugin_server_, nullptr);
    channel_ = plugin::Dial("unix", dir_ + "/plugin.sock", host_tls_);
    ASSERT_TRUE(channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)));
  }

  void TearDown() override {
    if (plugin_broker_) plugin_broker_->Shutdown();
    if (plugin_server_) plugin_server_->Shutdown(std::chrono::system_clock::now());
    std::filesystem::remove_all(dir_);
  }

  plugin::PeerTls host_tls_, plugin_tls_;
  std::string dir_;
  std::unique_ptr<plugin::BrokerService> plugin_broker_;
  std::unique_ptr<grpc::Server> plugin_server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(HostBrokerTest, PluginDialsTheAnnouncedStorage) {
  MemoryStorage mem;
  ASSERT_TRUE(mem.Put("roles/web", "role").ok());
  auto broker = HostBroker::Open(channel_, host_tls_, dir_);
  ASSERT_TRUE(broker.ok()) << broker.status().message();
  uint32_t id = broker.value()->NextId();
  EXPECT_EQ(id, 1u);
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<StorageService>(&mem));
  ASSERT_TRUE(broker.value()->AcceptAndServe(id, std::move(services)).ok());

  auto conn = plugin_broker_->Dial(id, std::chrono::seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  auto stub = pb::Storage::NewStub(conn.value());
  pb::StorageGetArgs get;
  get.set_key("roles/web");
  pb::StorageGetReply got;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = stub->Get(&ctx, get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.entry().value(), "role");
  EXPECT_TRUE(broker.value()->StreamOpen());
  EXPECT_EQ(broker.value()->NextId(), 2u);

  broker.value()->Close();
  EXPECT_FALSE(broker.value()->StreamOpen());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/broker-1.sock"));
}

TEST_F(HostBrokerTest, ListenerRefusesAClientWithoutThePluginCertificate) {
  MemoryStorage mem;
  auto broker = HostBroker::Open(channel_, host_tls_, dir_);
  ASSERT_TRUE(broker.ok());
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<StorageService>(&mem));
  ASSERT_TRUE(broker.value()->AcceptAndServe(1, std::move(services)).ok());

  // Someone else's certificate, even one the host would trust as a CA of its own, is not the plugin's.
  auto stranger = plugin::GenerateTlsIdentity(std::time(nullptr));
  ASSERT_TRUE(stranger.ok());
  plugin::PeerTls tls{true, stranger->cert_pem, stranger->key_pem, host_tls_.own_cert_pem};
  auto channel = plugin::Dial("unix", dir_ + "/broker-1.sock", tls);
  auto stub = pb::Storage::NewStub(channel);
  pb::StorageGetArgs get;
  get.set_key("x");
  pb::StorageGetReply got;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_FALSE(stub->Get(&ctx, get, &got).ok());
}

TEST_F(HostBrokerTest, StreamEndIsNoticed) {
  auto broker = HostBroker::Open(channel_, host_tls_, dir_);
  ASSERT_TRUE(broker.ok());
  // The plugin side ends the stream (as a dying plugin's would).
  plugin_broker_->Shutdown();
  plugin_server_->Shutdown(std::chrono::system_clock::now());
  for (int i = 0; i < 200 && broker.value()->StreamOpen(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(broker.value()->StreamOpen());
  std::vector<std::unique_ptr<grpc::Service>> none;
  EXPECT_FALSE(broker.value()->AcceptAndServe(1, std::move(none)).ok());
}

}  // namespace
}  // namespace pki::server
