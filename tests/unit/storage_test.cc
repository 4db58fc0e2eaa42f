// Storage backends: the same contract for memory and RocksDB, plus RocksDB durability across reopen.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <rocksdb/db.h>

#include "storage/memory_storage.h"
#include "storage/rocksdb_storage.h"

namespace pki {
namespace {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("pki-storage-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

using Factory = std::function<std::unique_ptr<Storage>(const std::string& dir)>;

class StorageContract : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Storage> Make() {
    if (GetParam() == "memory") return std::make_unique<MemoryStorage>();
    auto s = RocksDBStorage::Open(dir_.path());
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }
  TempDir dir_;
};

TEST_P(StorageContract, GetPutDelete) {
  auto s = Make();
  std::string v;
  EXPECT_TRUE(s->Get("a", &v).IsNotFound());
  ASSERT_TRUE(s->Put("a", std::string("x\0y", 3)).ok());
  ASSERT_TRUE(s->Get("a", &v).ok());
  EXPECT_EQ(v, std::string("x\0y", 3));
  ASSERT_TRUE(s->Delete("a").ok());
  EXPECT_TRUE(s->Get("a", &v).IsNotFound());
  EXPECT_TRUE(s->Delete("never").ok());
}

TEST_P(StorageContract, BatchAppliesAllOps) {
  auto s = Make();
  ASSERT_TRUE(s->Put("gone", "1").ok());
  WriteBatch b;
  b.Put("k1", "v1");
  b.Put("k2", "v2");
  b.Delete("gone");
  ASSERT_TRUE(s->Write(b).ok());
  std::string v;
  EXPECT_TRUE(s->Get("k1", &v).ok());
  EXPECT_TRUE(s->Get("k2", &v).ok());
  EXPECT_TRUE(s->Get("gone", &v).IsNotFound());
}

TEST_P(StorageContract, ListIsOrderedPrefixedAndPaged) {
  auto s = Make();
  for (const char* k : {"certs/03", "certs/01", "certs/02", "certt/x", "cert/y", "certs/sub/04"}) {
    ASSERT_TRUE(s->Put(k, "").ok());
  }
  std::vector<std::string> keys;
  ASSERT_TRUE(s->List("certs/", "", 0, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"01", "02", "03", "sub/04"}));
  keys.clear();
  ASSERT_TRUE(s->List("certs/", "01", 2, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"02", "03"}));
  keys.clear();
  ASSERT_TRUE(s->List("certs/", "sub/04", 0, &keys).ok());
  EXPECT_TRUE(keys.empty());
  keys.clear();
  ASSERT_TRUE(s->List("none/", "", 0, &keys).ok());
  EXPECT_TRUE(keys.empty());
}

TEST_P(StorageContract, ScanReturnsValuesInListOrder) {
  auto s = Make();
  for (const char* k : {"idx/b", "idx/a", "idx/c", "idy/z"}) ASSERT_TRUE(s->Put(k, std::string("v-") + k).ok());
  std::vector<std::pair<std::string, std::string>> kv;
  ASSERT_TRUE(s->Scan("idx/", "a", 0, &kv).ok());
  ASSERT_EQ(kv.size(), 2u);
  EXPECT_EQ(kv[0], std::make_pair(std::string("b"), std::string("v-idx/b")));
  EXPECT_EQ(kv[1], std::make_pair(std::string("c"), std::string("v-idx/c")));
  kv.clear();
  ASSERT_TRUE(s->Scan("idx/", "", 1, &kv).ok());
  ASSERT_EQ(kv.size(), 1u);
  EXPECT_EQ(kv[0].first, "a");
}

// The default Scan (List, then Get per key), as backends without ordered iteration use it.
class ListOnly final : public Storage {
 public:
  Status Get(std::string_view k, std::string* v) override { return inner.Get(k, v); }
  Status Put(std::string_view k, std::string_view v) override { return inner.Put(k, v); }
  Status Delete(std::string_view k) override { return inner.Delete(k); }
  Status Write(const WriteBatch& b) override { return inner.Write(b); }
  Status List(std::string_view p, std::string_view a, size_t l, std::vector<std::string>* k) override {
    return inner.List(p, a, l, k);
  }
  MemoryStorage inner;
};

TEST(StorageDefaultScan, ListsThenReads) {
  ListOnly s;
  ASSERT_TRUE(s.Put("p/1", "one").ok());
  ASSERT_TRUE(s.Put("p/2", "two").ok());
  std::vector<std::pair<std::string, std::string>> kv;
  ASSERT_TRUE(s.Scan("p/", "", 0, &kv).ok());
  ASSERT_EQ(kv.size(), 2u);
  EXPECT_EQ(kv[1].second, "two");
}

TEST_P(StorageContract, ScanEachVisitsInOrderAndStopsOnError) {
  auto s = Make();
  for (const char* k : {"idx/b", "idx/a", "idx/c", "idy/z"}) ASSERT_TRUE(s->Put(k, std::string("v-") + k).ok());
  std::vector<std::pair<std::string, std::string>> seen;
  auto collect = [&](std::string_view k, std::string_view v) {
    seen.emplace_back(std::string(k), std::string(v));
    return Status::Ok();
  };
  ASSERT_TRUE(s->ScanEach("idx/", "a", 0, collect).ok());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"b", "v-idx/b"}, {"c", "v-idx/c"}}));
  seen.clear();
  ASSERT_TRUE(s->ScanEach("idx/", "", 2, collect).ok());
  EXPECT_EQ(seen.size(), 2u);
  size_t calls = 0;
  Status st = s->ScanEach("idx/", "", 0, [&](std::string_view, std::string_view) {
    ++calls;
    return Status::Internal("stop");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(calls, 1u);
}

TEST_P(StorageContract, DeleteRangeDeletesOnlyTheRange) {
  auto s = Make();
  for (const char* k : {"d/0001", "d/0002", "d/0003", "d/0004", "d/00041", "e/0001", "d0"}) ASSERT_TRUE(s->Put(k, "v").ok());
  ASSERT_TRUE(s->DeleteRange("d/", "0002", "0004").ok());
  std::vector<std::string> keys;
  ASSERT_TRUE(s->List("d/", "", 0, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"0001", "0004", "00041"}));
  ASSERT_TRUE(s->DeleteRange("d/", "", "0005").ok());  // from the start; already deleted keys are no matter
  keys.clear();
  ASSERT_TRUE(s->List("d/", "", 0, &keys).ok());
  EXPECT_TRUE(keys.empty());
  std::string v;
  EXPECT_TRUE(s->Get("e/0001", &v).ok());
  EXPECT_TRUE(s->Get("d0", &v).ok());
  EXPECT_TRUE(s->DeleteRange("e/", "1", "0").ok());  // an empty range
  EXPECT_TRUE(s->Get("e/0001", &v).ok());
}

// Keys under crl/der/ live in RocksDB's bulk column family: every operation must behave as if they did not.
TEST_P(StorageContract, BulkKeysListWithTheRest) {
  auto s = Make();
  for (const char* k : {"crl/der/g/1/000000", "crl/der/g/1/000001", "crl/seq/g", "crl/state/g", "crl/d", "crm"}) {
    ASSERT_TRUE(s->Put(k, std::string("v-") + k).ok());
  }
  std::vector<std::string> keys;
  ASSERT_TRUE(s->List("crl/", "", 0, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"d", "der/g/1/000000", "der/g/1/000001", "seq/g", "state/g"}));
  keys.clear();
  ASSERT_TRUE(s->List("crl/", "der/g/1/000000", 2, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"der/g/1/000001", "seq/g"}));
  keys.clear();
  ASSERT_TRUE(s->List("crl/der/g/", "", 0, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"1/000000", "1/000001"}));
  keys.clear();
  ASSERT_TRUE(s->List("", "crl/der/g/1/000001", 0, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"crl/seq/g", "crl/state/g", "crm"}));
  // One batch across both: all of it applies.
  WriteBatch b;
  b.Delete("crl/der/g/1/000000");
  b.Put("crl/der/g/2/000000", "new");
  b.Put("crl/state/g", "2");
  ASSERT_TRUE(s->Write(b).ok());
  std::string v;
  EXPECT_TRUE(s->Get("crl/der/g/1/000000", &v).IsNotFound());
  ASSERT_TRUE(s->Get("crl/der/g/2/000000", &v).ok());
  EXPECT_EQ(v, "new");
  ASSERT_TRUE(s->DeleteRange("crl/", "", "z").ok());
  keys.clear();
  ASSERT_TRUE(s->List("crl/", "", 0, &keys).ok());
  EXPECT_TRUE(keys.empty());
  EXPECT_TRUE(s->Get("crm", &v).ok());
}

TEST(StorageDefaultScan, ScanEachAndDeleteRangeOverListAndGet) {
  ListOnly s;
  for (int i = 0; i < 2500; ++i) {  // more than one page of the default DeleteRange
    char key[16];
    std::snprintf(key, sizeof key, "p/%05d", i);
    ASSERT_TRUE(s.Put(key, "v").ok());
  }
  ASSERT_TRUE(s.Put("q", "v").ok());
  size_t seen = 0;
  ASSERT_TRUE(s.ScanEach("p/", "", 0, [&](std::string_view, std::string_view v) {
                 seen += v == "v";
                 return Status::Ok();
               }).ok());
  EXPECT_EQ(seen, 2500u);
  ASSERT_TRUE(s.DeleteRange("p/", "00010", "02400").ok());
  std::vector<std::string> keys;
  ASSERT_TRUE(s.List("p/", "", 0, &keys).ok());
  ASSERT_EQ(keys.size(), 10u + 100u);
  EXPECT_EQ(keys[9], "00009");
  EXPECT_EQ(keys[10], "02400");
  std::string v;
  EXPECT_TRUE(s.Get("q", &v).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContract, ::testing::Values("memory", "rocksdb"));

// A database written before the bulk column family existed keeps its CRL chunks: the first open moves them.
TEST(RocksDBStorage, MovesBulkKeysOfAnOlderDatabase) {
  TempDir dir;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "crl/der/g/1/000000", "chunk0").ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "crl/state/g", "state").ok());
  }
  for (int round = 0; round < 2; ++round) {  // the second open finds nothing left to move
    auto s = RocksDBStorage::Open(dir.path());
    ASSERT_TRUE(s.ok()) << s.status().message();
    std::string v;
    ASSERT_TRUE((*s)->Get("crl/der/g/1/000000", &v).ok());
    EXPECT_EQ(v, "chunk0");
    std::vector<std::string> keys;
    ASSERT_TRUE((*s)->List("crl/", "", 0, &keys).ok());
    EXPECT_EQ(keys, (std::vector<std::string>{"der/g/1/000000", "state/g"}));
  }
}

// An upgrade whose first open stopped after RocksDB created the bulk family but before the move committed: the
// chunks still in the default family are found and moved by the next open.
TEST(RocksDBStorage, MovesBulkKeysLeftBehindByAnInterruptedUpgrade) {
  TempDir dir;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}, {"bulk", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.path(), families, &handles, &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[0], "crl/der/g/1/000000", "chunk0").ok());
    // A key in both families: the bulk family's copy was written later (every write goes there once it exists).
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[0], "crl/der/g/2/000000", "stale").ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[1], "crl/der/g/2/000000", "fresh").ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  auto s = RocksDBStorage::Open(dir.path());
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::string v;
  ASSERT_TRUE((*s)->Get("crl/der/g/1/000000", &v).ok());
  EXPECT_EQ(v, "chunk0");
  ASSERT_TRUE((*s)->Get("crl/der/g/2/000000", &v).ok());
  EXPECT_EQ(v, "fresh");
  std::vector<std::string> keys;
  ASSERT_TRUE((*s)->List("crl/der/", "", 0, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"g/1/000000", "g/2/000000"}));
}

TEST(RocksDBStorage, SurvivesReopen) {
  TempDir dir;
  {
    auto s = RocksDBStorage::Open(dir.path());
    ASSERT_TRUE(s.ok());
    WriteBatch b;
    b.Put("roles/web", "{}");
    ASSERT_TRUE((*s)->Write(b).ok());
  }
  auto s = RocksDBStorage::Open(dir.path());
  ASSERT_TRUE(s.ok());
  std::string v;
  EXPECT_TRUE((*s)->Get("roles/web", &v).ok());
  // A second open of the same directory fails cleanly (RocksDB's lock), not with a crash.
  auto second = RocksDBStorage::Open(dir.path());
  EXPECT_FALSE(second.ok());
}

std::string Seq(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08d", i);
  return buf;
}

// A checkpoint taken while a writer runs holds every write acknowledged before it began, however it was written
// (synced, unsynced, without the WAL, bulk family), and of the concurrent writer's sequential keys a prefix: one
// point in time. The copy opens as a database of its own, 0700, independent of the source.
TEST(RocksDBStorage, CheckpointIsAConsistentCopyTakenWhileWriting) {
  TempDir dir;
  TempDir copy;
  auto opened = RocksDBStorage::Open(dir.path());
  ASSERT_TRUE(opened.ok());
  RocksDBStorage& s = *opened.value();
  WriteBatch synced, unsynced, no_wal;
  synced.Put("certs/01", "a");
  synced.Put("crl/der/g/0000000000000001/000000", std::string(300000, 'x'));  // the bulk family
  unsynced.Put("certs/02", "b");
  no_wal.Put("certs/03", "c");
  ASSERT_TRUE(s.Write(synced).ok());
  ASSERT_TRUE(s.WriteUnsynced(unsynced).ok());
  ASSERT_TRUE(s.WriteWithoutWal(no_wal).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      ASSERT_TRUE(s.Put("seq/" + Seq(i), "v").ok());
      written.store(i + 1);
    }
  });
  while (written.load() < 50) std::this_thread::yield();
  const int acknowledged = written.load();
  Status made = s.Checkpoint(copy.path());
  stop.store(true);
  writer.join();
  ASSERT_TRUE(made.ok()) << made.message();

  struct stat st {};
  ASSERT_EQ(::stat(copy.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(s.Put("certs/04", "after").ok());  // the source goes on, apart from the copy

  auto restored = RocksDBStorage::Open(copy.path());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  std::string v;
  for (const char* key : {"certs/01", "certs/02", "certs/03", "crl/der/g/0000000000000001/000000"}) {
    EXPECT_TRUE((*restored)->Get(key, &v).ok()) << key;
  }
  EXPECT_EQ(v.size(), 300000u);
  EXPECT_TRUE((*restored)->Get("certs/04", &v).IsNotFound());
  std::vector<std::string> seq;
  ASSERT_TRUE((*restored)->List("seq/", "", 0, &seq).ok());
  ASSERT_GE(static_cast<int>(seq.size()), acknowledged);
  for (size_t i = 0; i < seq.size(); ++i) ASSERT_EQ(seq[i], Seq(static_cast<int>(i)));  // no gap: a prefix
}

TEST(RocksDBStorage, CheckpointRefusesAnExistingTarget) {
  TempDir dir;
  TempDir copy;
  auto s = RocksDBStorage::Open(dir.path());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Put("roles/web", "{}").ok());
  std::filesystem::create_directories(copy.path());
  { std::ofstream(copy.path() + "/keep") << "mine"; }
  Status st = (*s)->Checkpoint(copy.path());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("already exists"), std::string::npos) << st.message();
  EXPECT_TRUE(std::filesystem::exists(copy.path() + "/keep"));  // nothing of the caller's is touched
  // A parent that does not exist fails without leaving anything.
  const std::string orphan = copy.path() + "/no/such/dir";
  EXPECT_FALSE((*s)->Checkpoint(orphan).ok());
  EXPECT_FALSE(std::filesystem::exists(copy.path() + "/no"));
}

}  // namespace
}  // namespace pki
