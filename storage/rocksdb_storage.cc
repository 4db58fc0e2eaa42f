#include "storage/rocksdb_storage.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/write_batch.h>

namespace pki {
namespace {

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound();
  return Status::Internal("storage: " + s.ToString());
}

rocksdb::WriteOptions SyncedWrites() {
  rocksdb::WriteOptions w;
  w.sync = true;
  return w;
}

}  // namespace

RocksDBStorage::RocksDBStorage(rocksdb::DB* db) : db_(db) {}
RocksDBStorage::~RocksDBStorage() = default;

rocksdb::Options RocksDBStorage::EngineOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction();
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Memory that does not grow with the number of records (docs/benchmarks.md, "Scale (10M)"): index and filter
  // blocks partitioned, so that a table file holds only their small top levels and the partitions are read through
  // one bounded block cache with the data blocks (RocksDB's default keeps every open file's whole index and filter
  // in memory, ~7 bytes per key). Index keys delta-encoded in runs of 16 (the default stores each whole): a
  // 10M-certificate mount's partitions (~50 MB) then fit the cache instead of being read again for every lookup.
  // cache_index_and_filter_blocks stays off: files written before this change (unpartitioned) keep their index and
  // filter in the table reader as before, rather than cycling multi-megabyte blocks through the cache (measured:
  // 9 GB read for 1,000 certificate reads at 10M) until compaction rewrites them.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.index_block_restart_interval = 16;
  table.block_cache = rocksdb::NewLRUCache(128 << 20);
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

Result<std::unique_ptr<RocksDBStorage>> RocksDBStorage::Open(const std::string& path) {
  rocksdb::Options options = EngineOptions();
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &db);
  if (!s.ok()) return Status::Internal("cannot open storage at " + path + ": " + s.ToString());
  return std::unique_ptr<RocksDBStorage>(new RocksDBStorage(db));
}

Status RocksDBStorage::Get(std::string_view key, std::string* value) {
  return FromRocks(db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), value));
}

Status RocksDBStorage::Put(std::string_view key, std::string_view value) {
  return FromRocks(db_->Put(SyncedWrites(), rocksdb::Slice(key.data(), key.size()),
                            rocksdb::Slice(value.data(), value.size())));
}

Status RocksDBStorage::Delete(std::string_view key) {
  return FromRocks(db_->Delete(SyncedWrites(), rocksdb::Slice(key.data(), key.size())));
}

namespace {

rocksdb::WriteBatch ToRocks(const WriteBatch& batch) {
  rocksdb::WriteBatch wb;
  for (const auto& op : batch.ops()) {
    if (op.kind == WriteBatch::Op::kPut) {
      wb.Put(op.key, op.value);
    } else {
      wb.Delete(op.key);
    }
  }
  return wb;
}

}  // namespace

Status RocksDBStorage::Write(const WriteBatch& batch) {
  rocksdb::WriteBatch wb = ToRocks(batch);
  return FromRocks(db_->Write(SyncedWrites(), &wb));
}

Status RocksDBStorage::WriteUnsynced(const WriteBatch& batch) {
  rocksdb::WriteBatch wb = ToRocks(batch);
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &wb));
}

Status RocksDBStorage::WriteWithoutWal(const WriteBatch& batch) {
  rocksdb::WriteBatch wb = ToRocks(batch);
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  return FromRocks(db_->Write(w, &wb));
}

namespace {

// Visits the keys under `prefix` after prefix+start_after, at most `limit` (0: all), in order.
template <typename Visit>
Status IteratePrefix(rocksdb::DB* db, std::string_view prefix, std::string_view start_after, size_t limit,
                     Visit visit) {
  std::string start = std::string(prefix) + std::string(start_after);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  it->Seek(start);
  if (!start_after.empty() && it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  size_t n = 0;
  rocksdb::Slice pfx(prefix.data(), prefix.size());
  for (; it->Valid(); it->Next()) {
    if (!it->key().starts_with(pfx)) break;
    if (limit != 0 && n == limit) break;
    visit(std::string_view(it->key().data() + prefix.size(), it->key().size() - prefix.size()), it->value());
    ++n;
  }
  return FromRocks(it->status());
}

}  // namespace

Status RocksDBStorage::List(std::string_view prefix, std::string_view start_after, size_t limit,
                            std::vector<std::string>* keys) {
  return IteratePrefix(db_.get(), prefix, start_after, limit,
                       [&](std::string_view key, const rocksdb::Slice&) { keys->emplace_back(key); });
}

Status RocksDBStorage::Scan(std::string_view prefix, std::string_view start_after, size_t limit,
                            std::vector<std::pair<std::string, std::string>>* entries) {
  return IteratePrefix(db_.get(), prefix, start_after, limit, [&](std::string_view key, const rocksdb::Slice& value) {
    entries->emplace_back(std::string(key), value.ToString());
  });
}

Status RocksDBStorage::Flush() { return FromRocks(db_->Flush(rocksdb::FlushOptions())); }

}  // namespace pki
