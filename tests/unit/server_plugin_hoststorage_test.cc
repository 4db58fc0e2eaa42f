// The plugin's HostStorage (storage=host) against pki-server's StorageService over real gRPC: the engine's ordered,
// paged, recursive listing built from Vault's one-level pb.Storage lists, and what paging costs in host calls.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <random>

#include "plugin/host_storage.h"
#include "src/server/host_services.h"
#include "storage/memory_storage.h"

namespace pki::server {
namespace {

// Counts the pb.Storage List calls the host serves (each begins its walk of the folder from the start).
class CountingLists final : public Storage {
 public:
  explicit CountingLists(Storage* inner) : inner_(inner) {}
  Status Get(std::string_view k, std::string* v) override { return inner_->Get(k, v); }
  Status Put(std::string_view k, std::string_view v) override { return inner_->Put(k, v); }
  Status Delete(std::string_view k) override { return inner_->Delete(k); }
  Status Write(const WriteBatch& b) override { return inner_->Write(b); }
  Status List(std::string_view p, std::string_view a, size_t l, std::vector<std::string>* k) override {
    if (a.empty()) ++calls;
    return inner_->List(p, a, l, k);
  }
  std::atomic<int> calls{0};

 private:
  Storage* inner_;
};

class HostStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    host_ = std::make_unique<plugin::HostStorage>(server_->InProcessChannel(grpc::ChannelArguments()),
                                                  std::vector<std::string>{"key/"});
  }
  void TearDown() override { server_->Shutdown(); }

  // Pages of `limit` through the whole prefix, each continuing after the last key of the one before.
  std::vector<std::string> Paged(Storage* s, const std::string& prefix, size_t limit) {
    std::vector<std::string> all;
    std::string after;
    for (;;) {
      std::vector<std::string> page;
      EXPECT_TRUE(s->List(prefix, after, limit, &page).ok());
      if (page.empty()) return all;
      after = page.back();
      all.insert(all.end(), page.begin(), page.end());
    }
  }

  MemoryStorage mem_;
  CountingLists counting_{&mem_};
  StorageService service_{&counting_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<plugin::HostStorage> host_;
};

TEST_F(HostStorageTest, ListingsMatchOrderedStorageForEveryStartAndLimit) {
  // Nested folders with names around '/' in byte order ("a-b" < "a/" < "a0").
  std::mt19937 rng(7);
  const char* parts[] = {"a", "a-b", "a0", "b", "z"};
  for (int i = 0; i < 300; ++i) {
    std::string key = "idx/";
    int depth = 1 + static_cast<int>(rng() % 3);
    for (int d = 0; d < depth; ++d) key += std::string(parts[rng() % 5]) + (d + 1 < depth ? "/" : "");
    key += std::to_string(rng() % 50);
    ASSERT_TRUE(host_->Put(key, "v").ok());
  }
  std::vector<std::string> expected;
  ASSERT_TRUE(mem_.List("idx/", "", 0, &expected).ok());
  std::vector<std::string> got;
  ASSERT_TRUE(host_->List("idx/", "", 0, &got).ok());
  EXPECT_EQ(got, expected);
  for (size_t limit : {1u, 3u, 17u}) EXPECT_EQ(Paged(host_.get(), "idx/", limit), expected) << limit;
  for (size_t i = 0; i < expected.size(); i += 37) {
    std::vector<std::string> want, have;
    ASSERT_TRUE(mem_.List("idx/", expected[i], 5, &want).ok());
    ASSERT_TRUE(host_->List("idx/", expected[i], 5, &have).ok());
    EXPECT_EQ(have, want) << expected[i];
  }
}

TEST_F(HostStorageTest, ContinuationPagesDoNotRelistAFlatFolder) {
  WriteBatch batch;
  for (int i = 0; i < 2000; ++i) batch.Put("index/revoked/g/" + std::to_string(100000 + i), "x");
  ASSERT_TRUE(host_->Write(batch).ok());
  counting_.calls = 0;
  std::vector<std::string> all = Paged(host_.get(), "index/revoked/g/", 100);
  EXPECT_EQ(all.size(), 2000u);
  // One listing for the first page, reused by the 20 continuations (the last, empty page included).
  EXPECT_LE(counting_.calls.load(), 2);

  // A page that does not continue the last one lists afresh.
  std::vector<std::string> page;
  ASSERT_TRUE(host_->List("index/revoked/g/", "100500", 10, &page).ok());
  EXPECT_EQ(page.front(), "100501");
  EXPECT_GE(counting_.calls.load(), 2);
}

}  // namespace
}  // namespace pki::server
