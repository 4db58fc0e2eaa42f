// Tests for the TokenStore (src/server/token_store.h): creation and lookup, accessors, TTL expiry with a FakeClock,
// renewal caps, num_uses (also under concurrency), revocation of whole trees (orphans excepted), static tokens,
// persistence across a reopen of RocksDB, and that no raw token ever reaches storage.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "src/server/token_store.h"
#include "storage/memory_storage.h"
#include "storage/rocksdb_storage.h"

namespace pki::server {
namespace {

constexpr int64_t kStart = 1700000000;

TokenSpec Spec(std::vector<std::string> policies, int64_t ttl, const TokenEntry* parent = nullptr) {
  TokenSpec s;
  s.policies = std::move(policies);
  s.display_name = "token";
  s.path = "auth/token/create";
  s.ttl = ttl;
  s.renewable = true;
  s.parent = parent;
  return s;
}

class TokenStoreFlow : public ::testing::Test {
 protected:
  std::pair<std::string, TokenEntry> Create(const TokenSpec& spec) {
    auto r = store_.Create(spec);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.value();
  }
  bool Live(const std::string& token) { return store_.Lookup(token).has_value(); }
  size_t Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    EXPECT_TRUE(storage_.List(prefix, "", 0, &keys).ok());
    return keys.size();
  }

  MemoryStorage storage_;
  FakeClock clock_{kStart};
  TokenStore store_{&storage_, &clock_};
};

TEST_F(TokenStoreFlow, CreateLookupAndAccessor) {
  auto [id, entry] = Create(Spec({"default", "web"}, 3600));
  EXPECT_EQ(id.rfind("hvs.", 0), 0u);
  EXPECT_EQ(id.size(), 4u + 24u);
  EXPECT_EQ(entry.accessor.size(), 24u);
  auto found = store_.Lookup(id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->policies, (std::vector<std::string>{"default", "web"}));
  EXPECT_EQ(found->expire_time, kStart + 3600);
  EXPECT_EQ(found->digest, TokenStore::Digest(id));
  EXPECT_TRUE(found->orphan());
  auto by_accessor = store_.FindByAccessor(entry.accessor);
  ASSERT_TRUE(by_accessor.ok() && by_accessor->has_value());
  EXPECT_EQ((*by_accessor)->digest, entry.digest);
  EXPECT_FALSE(Live(id + "x"));
  EXPECT_FALSE(Live(""));
  EXPECT_FALSE(store_.FindByAccessor("nope")->has_value());
  auto [id2, entry2] = Create(Spec({"web"}, 3600));
  EXPECT_NE(id, id2);
  EXPECT_NE(entry.accessor, entry2.accessor);
}

TEST_F(TokenStoreFlow, ExpiredTokensAreRefusedAndRemovedWhenMet) {
  auto [id, entry] = Create(Spec({"web"}, 60));
  auto [forever, forever_entry] = Create(Spec({"root"}, 0));
  clock_.Advance(59);
  EXPECT_TRUE(Live(id));
  clock_.Advance(1);
  EXPECT_EQ(Keys("token/id/"), 2u);  // nothing removed before a lookup meets it
  EXPECT_FALSE(Live(id));
  EXPECT_EQ(Keys("token/id/"), 1u);
  EXPECT_EQ(Keys("token/accessor/"), 1u);
  EXPECT_FALSE(store_.FindByAccessor(entry.accessor)->has_value());
  clock_.Advance(10 * 365 * 86400);
  EXPECT_TRUE(Live(forever));  // ttl 0 never expires
}

TEST_F(TokenStoreFlow, RenewExtendsUpToTheMaxTtl) {
  TokenSpec spec = Spec({"web"}, 60);
  spec.explicit_max_ttl = 100;
  auto [id, entry] = Create(spec);
  clock_.Advance(50);
  auto renewed = store_.Renew(*store_.Lookup(id), 0);
  ASSERT_TRUE(renewed.ok()) << renewed.status().message();
  EXPECT_EQ(renewed->first.expire_time, kStart + 100);  // 50 + 60 would pass the explicit max of 100
  EXPECT_NE(renewed->second.find("capped"), std::string::npos);
  clock_.Advance(49);
  EXPECT_TRUE(Live(id));
  clock_.Advance(1);
  EXPECT_FALSE(Live(id));

  TokenSpec fixed = Spec({"web"}, 60);
  fixed.renewable = false;
  auto [id2, e2] = Create(fixed);
  EXPECT_EQ(store_.Renew(e2, 10).status().code(), StatusCode::kBadRequest);
  auto [id3, e3] = Create(Spec({"web"}, 60));
  auto longer = store_.Renew(e3, 3600);
  ASSERT_TRUE(longer.ok());
  EXPECT_EQ(longer->first.expire_time, clock_.Now() + 3600);
  EXPECT_TRUE(longer->second.empty());
}

TEST_F(TokenStoreFlow, NumUsesCountDownAndTheLastUseRevokes) {
  TokenSpec spec = Spec({"web"}, 3600);
  spec.num_uses = 2;
  auto [id, entry] = Create(spec);
  auto first = store_.Use(*store_.Lookup(id));
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->num_uses, 1);
  auto last = store_.Use(*store_.Lookup(id));
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->num_uses, -1);
  // Used up: refused to new requests, still visible to its own last request, revoked when it ends.
  EXPECT_FALSE(Live(id));
  EXPECT_TRUE(store_.FindIncludingUsedUp(id)->has_value());
  EXPECT_FALSE(store_.Use(entry)->has_value());
  ASSERT_TRUE(store_.RevokeUsedUp(**last).ok());
  EXPECT_FALSE(store_.FindIncludingUsedUp(id)->has_value());
  EXPECT_EQ(Keys("token/"), 0u);
}

TEST_F(TokenStoreFlow, ConcurrentUsesNeverExceedTheLimit) {
  TokenSpec spec = Spec({"web"}, 3600);
  spec.num_uses = 50;
  auto [id, entry] = Create(spec);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, id = id] {
      for (int i = 0; i < 20; ++i) {
        auto e = store_.FindIncludingUsedUp(id);
        if (!e.ok() || !e->has_value()) continue;
        auto used = store_.Use(**e);
        if (used.ok() && used->has_value()) ++granted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 50);
}

TEST_F(TokenStoreFlow, RevokingATokenRevokesItsTreeButNotOrphans) {
  auto [parent, parent_e] = Create(Spec({"web"}, 3600));
  auto [child, child_e] = Create(Spec({"web"}, 3600, &parent_e));
  auto [grandchild, grandchild_e] = Create(Spec({"web"}, 3600, &child_e));
  auto [sibling, sibling_e] = Create(Spec({"web"}, 3600, &parent_e));
  auto [orphan, orphan_e] = Create(Spec({"web"}, 3600));
  EXPECT_EQ(store_.Lookup(child)->parent, parent_e.digest);
  EXPECT_EQ(Keys("token/parent/"), 3u);

  ASSERT_TRUE(store_.Revoke(child).ok());
  EXPECT_FALSE(Live(child));
  EXPECT_FALSE(Live(grandchild));
  EXPECT_TRUE(Live(parent));
  EXPECT_TRUE(Live(sibling));
  ASSERT_TRUE(store_.Revoke(parent).ok());
  EXPECT_FALSE(Live(parent));
  EXPECT_FALSE(Live(sibling));
  EXPECT_TRUE(Live(orphan));
  // Every key of the revoked tokens is gone: only the orphan's entry and accessor remain.
  EXPECT_EQ(Keys("token/"), 2u);
  EXPECT_TRUE(store_.Revoke("hvs.unknown").ok());
  // A revoked parent cannot get new children.
  EXPECT_EQ(store_.Create(Spec({"web"}, 60, &parent_e)).status().code(), StatusCode::kBadRequest);
}

TEST_F(TokenStoreFlow, AChildDiesWhenItsParentExpires) {
  auto [parent, parent_e] = Create(Spec({"web"}, 60));
  auto [child, child_e] = Create(Spec({"web"}, 3600, &parent_e));
  clock_.Advance(61);
  EXPECT_FALSE(Live(child));
  EXPECT_FALSE(Live(parent));
  EXPECT_EQ(Keys("token/"), 0u);
}

TEST_F(TokenStoreFlow, StaticTokensLiveInMemoryAndTakeTheirChildrenAlong) {
  ASSERT_TRUE(store_.EnsureToken("dev-root", {"root"}, "root").ok());
  auto root = store_.Lookup("dev-root");
  ASSERT_TRUE(root.has_value());
  EXPECT_TRUE(root->root());
  EXPECT_TRUE(root->is_static);
  EXPECT_EQ(root->path, "auth/token/root");
  EXPECT_EQ(Keys("token/"), 0u);  // never stored
  auto [child, child_e] = Create(Spec({"web"}, 3600, &*root));
  EXPECT_TRUE(child_e.parent_static);
  // Re-registering keeps the accessor; the policies change.
  ASSERT_TRUE(store_.EnsureToken("dev-root", {"Web", "web"}, "ops").ok());
  EXPECT_EQ(store_.Lookup("dev-root")->accessor, root->accessor);
  EXPECT_EQ(store_.Lookup("dev-root")->policies, std::vector<std::string>{"web"});
  EXPECT_TRUE(store_.FindByAccessor(root->accessor)->has_value());
  ASSERT_TRUE(store_.Revoke("dev-root").ok());
  EXPECT_FALSE(Live("dev-root"));
  EXPECT_FALSE(Live(child));
  EXPECT_EQ(store_.EnsureToken("", {"root"}, "root").code(), StatusCode::kBadRequest);
}

// Every byte RocksDB wrote under `dir`.
std::string ReadAllFiles(const std::string& dir) {
  std::string all;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

TEST(TokenStorePersistence, SurvivesReopenAndNeverStoresTheToken) {
  char tmpl[] = "/tmp/token_store_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  FakeClock clock(kStart);
  std::string token, child, root_child;
  {
    auto storage = RocksDBStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    TokenStore store(storage->get(), &clock);
    ASSERT_TRUE(store.EnsureToken("dev-root-token-1", {"root"}, "root").ok());
    auto root = store.Lookup("dev-root-token-1");
    auto a = store.Create(Spec({"web"}, 3600));
    ASSERT_TRUE(a.ok());
    token = a->first;
    auto b = store.Create(Spec({"web"}, 3600, &a->second));
    ASSERT_TRUE(b.ok());
    child = b->first;
    auto c = store.Create(Spec({"web"}, 3600, &*root));
    ASSERT_TRUE(c.ok());
    root_child = c->first;
    // Neither keys nor values hold a raw token.
    std::vector<std::pair<std::string, std::string>> all;
    ASSERT_TRUE((*storage)->Scan("", "", 0, &all).ok());
    ASSERT_FALSE(all.empty());
    for (const auto& [k, v] : all) {
      for (const std::string& t : {token, child, root_child, std::string("dev-root-token-1")}) {
        EXPECT_EQ(k.find(t), std::string::npos) << k;
        EXPECT_EQ(v.find(t), std::string::npos) << k;
        EXPECT_EQ(k.find(t.substr(4)), std::string::npos) << k;
        EXPECT_EQ(v.find(t.substr(4)), std::string::npos) << k;
      }
    }
    ASSERT_TRUE((*storage)->Flush().ok());
  }
  // Nor do the files (WAL and tables).
  const std::string files = ReadAllFiles(dir);
  ASSERT_FALSE(files.empty());
  for (const std::string& t : {token, child, root_child, std::string("dev-root-token-1")}) {
    EXPECT_EQ(files.find(t.substr(4)), std::string::npos);
  }
  {
    auto storage = RocksDBStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    TokenStore store(storage->get(), &clock);
    ASSERT_TRUE(store.EnsureToken("dev-root-token-2", {"root"}, "root").ok());
    EXPECT_TRUE(store.Lookup(token).has_value());
    EXPECT_TRUE(store.Lookup(child).has_value());
    EXPECT_EQ(store.Lookup(child)->policies, std::vector<std::string>{"web"});
    // The old dev root token was never stored: a start with another id leaves it invalid, and its children
    // (stored) die with it when they are met, as children of a revoked token do.
    EXPECT_FALSE(store.Lookup("dev-root-token-1").has_value());
    EXPECT_FALSE(store.Lookup(root_child).has_value());
    ASSERT_TRUE(store.Revoke(token).ok());
    EXPECT_FALSE(store.Lookup(child).has_value());
  }
  {
    // Started again with the first id: the child it had is gone for good (revoked when met above).
    auto storage = RocksDBStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    TokenStore store(storage->get(), &clock);
    ASSERT_TRUE(store.EnsureToken("dev-root-token-1", {"root"}, "root").ok());
    EXPECT_FALSE(store.Lookup(root_child).has_value());
    auto root = store.Lookup("dev-root-token-1");
    auto c = store.Create(Spec({"web"}, 3600, &*root));
    ASSERT_TRUE(c.ok());
    root_child = c->first;
  }
  {
    // The same root token id again (scripts/run -dev-root-token-id=root): its children live on.
    auto storage = RocksDBStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    TokenStore store(storage->get(), &clock);
    ASSERT_TRUE(store.EnsureToken("dev-root-token-1", {"root"}, "root").ok());
    EXPECT_TRUE(store.Lookup(root_child).has_value());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pki::server
