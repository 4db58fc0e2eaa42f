#include "storage/rocksdb_storage.h"

#include <sys/stat.h>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace pki {
namespace {

// Scans of at least this many keys (or unbounded ones) do not fill the block cache.
constexpr size_t kLongScan = 1000;
// Keys whose values are written and replaced in bulk, kept in their own column family (see the header).
constexpr std::string_view kBulkPrefixes[] = {"crl/der/"};
constexpr char kBulkFamily[] = "bulk";
// The bulk family's memtables: small, flushed one at a time as soon as one is full, so a CRL being written
// occupies at most a few of them (a write stalls while kBulkMemtables are waiting to be flushed).
constexpr size_t kBulkMemtableBytes = 4 << 20;
constexpr int kBulkMemtables = 3;
// The write-ahead log kept for replay at open. Without a bound RocksDB keeps it until every family flushes, which
// the default family's large memtables rarely do while CRL chunks stream through the log: the replay (reading the
// whole log at every open) would grow with each CRL built. Past this size RocksDB flushes the families holding
// the oldest log.
constexpr uint64_t kMaxWalBytes = 128ull << 20;

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

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

bool IsBulkKey(std::string_view key) {
  for (std::string_view p : kBulkPrefixes) {
    if (key.substr(0, p.size()) == p) return true;
  }
  return false;
}

// Whether some bulk key can start with `prefix` (the prefix lies within a bulk prefix, or covers one).
bool MayHoldBulkKeys(std::string_view prefix) {
  for (std::string_view p : kBulkPrefixes) {
    if (prefix.substr(0, p.size()) == p || p.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

// Whether every key starting with `prefix` is a bulk key.
bool OnlyBulkKeys(std::string_view prefix) { return IsBulkKey(prefix); }

// The smallest key greater than every key starting with `prefix`; empty when there is none (all 0xff).
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace

RocksDBStorage::RocksDBStorage(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : db_(db), default_(handles.at(0)), bulk_(handles.at(1)) {}

RocksDBStorage::~RocksDBStorage() {
  if (db_) {
    db_->DestroyColumnFamilyHandle(default_);
    db_->DestroyColumnFamilyHandle(bulk_);
  }
}

rocksdb::Options RocksDBStorage::EngineOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction();
  options.max_total_wal_size = kMaxWalBytes;
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

  rocksdb::ColumnFamilyOptions bulk(options);
  bulk.write_buffer_size = kBulkMemtableBytes;
  bulk.max_write_buffer_number = kBulkMemtables;
  bulk.min_write_buffer_number_to_merge = 1;
  bulk.compression = rocksdb::kNoCompression;  // DER of random serials and signatures: nothing to gain
  bulk.compression_per_level.clear();
  bulk.table_factory.reset(rocksdb::NewBlockBasedTableFactory(rocksdb::BlockBasedTableOptions()));
  // The values go to blob files when a memtable is flushed, the SST files keep only references: compactions (of
  // a family whose every value is replaced at each CRL build) rewrite references, not the CRLs, and a blob file is
  // dropped once no SST refers to it. Many small L0 files are then cheap, so they do not slow writes down early.
  bulk.enable_blob_files = true;
  bulk.min_blob_size = 4096;
  bulk.enable_blob_garbage_collection = true;
  bulk.level0_file_num_compaction_trigger = 4;
  bulk.level0_slowdown_writes_trigger = 48;
  bulk.level0_stop_writes_trigger = 64;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, options}, {kBulkFamily, bulk}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  // A new database directory is private to this user (RocksDB would create it 0755); its parents and an existing
  // directory are left as they are.
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST && errno != ENOENT) {
    return Status::Internal("cannot create storage directory " + path + ": " + std::strerror(errno));
  }
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &handles, &db);
  if (!s.ok()) return Status::Internal("cannot open storage at " + path + ": " + s.ToString());
  std::unique_ptr<RocksDBStorage> storage(new RocksDBStorage(db, handles));
  // Bulk keys left in the default family (a database from before the bulk family, or a first open after the
  // upgrade that was interrupted before this move committed) are moved at every open: one seek per prefix when
  // there are none, and the move is one synced batch, so it is redone until it has happened. Once the bulk family
  // exists every write goes there, so a key it already holds is newer than the default family's copy, which is
  // only deleted.
  {
    rocksdb::WriteBatch move;
    for (std::string_view p : kBulkPrefixes) {
      const std::string end = PrefixEnd(p);
      rocksdb::Slice upper(end);
      rocksdb::ReadOptions read;
      if (!end.empty()) read.iterate_upper_bound = &upper;  // no walk past the prefix's deleted keys
      read.fill_cache = false;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read, storage->default_));
      for (it->Seek(ToSlice(p)); it->Valid() && it->key().starts_with(ToSlice(p)); it->Next()) {
        std::string existing;
        rocksdb::Status found = db->Get(rocksdb::ReadOptions(), storage->bulk_, it->key(), &existing);
        if (found.IsNotFound()) {
          move.Put(storage->bulk_, it->key(), it->value());
        } else if (!found.ok()) {
          return FromRocks(found);
        }
        move.Delete(storage->default_, it->key());
      }
      if (Status st = FromRocks(it->status()); !st.ok()) return st;
    }
    if (move.Count() > 0) {
      if (Status st = FromRocks(db->Write(SyncedWrites(), &move)); !st.ok()) return st;
    }
  }
  return storage;
}

rocksdb::ColumnFamilyHandle* RocksDBStorage::FamilyOf(std::string_view key) const {
  return IsBulkKey(key) ? bulk_ : default_;
}

std::vector<rocksdb::ColumnFamilyHandle*> RocksDBStorage::FamiliesUnder(std::string_view prefix) const {
  if (OnlyBulkKeys(prefix)) return {bulk_};
  if (MayHoldBulkKeys(prefix)) return {default_, bulk_};
  return {default_};
}

Status RocksDBStorage::Get(std::string_view key, std::string* value) {
  return FromRocks(db_->Get(rocksdb::ReadOptions(), FamilyOf(key), ToSlice(key), value));
}

Status RocksDBStorage::Put(std::string_view key, std::string_view value) {
  return FromRocks(db_->Put(SyncedWrites(), FamilyOf(key), ToSlice(key), ToSlice(value)));
}

Status RocksDBStorage::Delete(std::string_view key) {
  return FromRocks(db_->Delete(SyncedWrites(), FamilyOf(key), ToSlice(key)));
}

Status RocksDBStorage::WriteWith(const WriteBatch& batch, bool sync, bool wal) {
  rocksdb::WriteBatch wb;
  for (const auto& op : batch.ops()) {
    if (op.kind == WriteBatch::Op::kPut) {
      wb.Put(FamilyOf(op.key), op.key, op.value);
    } else {
      wb.Delete(FamilyOf(op.key), op.key);
    }
  }
  rocksdb::WriteOptions w;
  w.sync = sync;
  w.disableWAL = !wal;
  return FromRocks(db_->Write(w, &wb));
}

Status RocksDBStorage::Write(const WriteBatch& batch) { return WriteWith(batch, true, true); }

Status RocksDBStorage::WriteUnsynced(const WriteBatch& batch) { return WriteWith(batch, false, true); }

Status RocksDBStorage::WriteWithoutWal(const WriteBatch& batch) { return WriteWith(batch, false, false); }

Status RocksDBStorage::DeleteRange(std::string_view prefix, std::string_view from, std::string_view to) {
  if (from >= to) return Status::Ok();
  const std::string begin = std::string(prefix) + std::string(from);
  const std::string end = std::string(prefix) + std::string(to);
  rocksdb::WriteBatch wb;
  // A range spanning bulk and other keys is cut in both families alike (each holds only its own keys).
  for (rocksdb::ColumnFamilyHandle* family : FamiliesUnder(prefix)) wb.DeleteRange(family, begin, end);
  return FromRocks(db_->Write(SyncedWrites(), &wb));
}

namespace {

// Visits the keys under `prefix` after prefix+start_after, at most `limit` (0: all), in key order across
// `families` (whose key sets are disjoint).
template <typename Visit>
Status IteratePrefix(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                     std::string_view prefix, std::string_view start_after, size_t limit, Visit visit) {
  const std::string start = std::string(prefix) + std::string(start_after);
  // Bounded by the prefix's end, so that the iterator stops there instead of skipping deleted keys beyond it
  // (after a pruned index, possibly millions of them) to find the first live key past the prefix.
  const std::string end = PrefixEnd(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions read;
  if (!end.empty()) read.iterate_upper_bound = &upper;
  // A long scan (a CRL build reads its whole revoked index) would cycle the block cache through blocks read once:
  // they are not cached, which keeps the cache (and the resident memory) for the point reads.
  if (limit == 0 || limit >= kLongScan) read.fill_cache = false;
  // Iterators over two families share one snapshot: a batch writing to both is seen whole or not at all, as one
  // iterator would see it.
  const rocksdb::Snapshot* snapshot = families.size() > 1 ? db->GetSnapshot() : nullptr;
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~Release() {
      if (snapshot) db->ReleaseSnapshot(snapshot);
    }
  } release{db, snapshot};
  read.snapshot = snapshot;
  std::vector<std::unique_ptr<rocksdb::Iterator>> its;
  for (rocksdb::ColumnFamilyHandle* family : families) {
    its.emplace_back(db->NewIterator(read, family));
    rocksdb::Iterator* it = its.back().get();
    it->Seek(start);
    if (!start_after.empty() && it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  }
  const rocksdb::Slice pfx(prefix.data(), prefix.size());
  size_t n = 0;
  for (;;) {
    rocksdb::Iterator* next = nullptr;
    for (auto& it : its) {
      if (!it->Valid() || !it->key().starts_with(pfx)) continue;
      if (!next || it->key().compare(next->key()) < 0) next = it.get();
    }
    if (!next || (limit != 0 && n == limit)) break;
    const rocksdb::Slice value = next->value();
    RETURN_IF_ERROR(visit(std::string_view(next->key().data() + prefix.size(), next->key().size() - prefix.size()),
                          std::string_view(value.data(), value.size())));
    ++n;
    next->Next();
  }
  for (auto& it : its) RETURN_IF_ERROR(FromRocks(it->status()));
  return Status::Ok();
}

}  // namespace

Status RocksDBStorage::List(std::string_view prefix, std::string_view start_after, size_t limit,
                            std::vector<std::string>* keys) {
  return IteratePrefix(db_.get(), FamiliesUnder(prefix), prefix, start_after, limit,
                       [&](std::string_view key, std::string_view) {
                         keys->emplace_back(key);
                         return Status::Ok();
                       });
}

Status RocksDBStorage::Scan(std::string_view prefix, std::string_view start_after, size_t limit,
                            std::vector<std::pair<std::string, std::string>>* entries) {
  return IteratePrefix(db_.get(), FamiliesUnder(prefix), prefix, start_after, limit,
                       [&](std::string_view key, std::string_view value) {
                         entries->emplace_back(std::string(key), std::string(value));
                         return Status::Ok();
                       });
}

Status RocksDBStorage::ScanEach(std::string_view prefix, std::string_view start_after, size_t limit,
                                const std::function<Status(std::string_view key, std::string_view value)>& visit) {
  return IteratePrefix(db_.get(), FamiliesUnder(prefix), prefix, start_after, limit, visit);
}

Status RocksDBStorage::Flush() {
  rocksdb::FlushOptions options;
  return FromRocks(db_->Flush(options, {default_, bulk_}));
}

Status RocksDBStorage::Checkpoint(const std::string& dir) {
  // RocksDB refuses an existing directory too, but after work; this also keeps a caller's file from being named.
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0) return Status::BadRequest("checkpoint target " + dir + " already exists");
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw)));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: always flush, so the copy holds what reached the memtables whether or not it went
  // through the WAL (the live WAL files are copied as well). RocksDB builds the copy in dir + ".tmp", removed on
  // failure, and renames it into place last.
  Status made = FromRocks(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0));
  if (!made.ok()) return made.Annotate("checkpoint to " + dir);
  if (::chmod(dir.c_str(), 0700) != 0) {
    const std::string reason = std::strerror(errno);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return Status::Internal("cannot set permissions of checkpoint " + dir + ": " + reason);
  }
  return Status::Ok();
}

Status RocksDBStorage::CompactAll() {
  RETURN_IF_ERROR(Flush());
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* family : {default_, bulk_}) {
    RETURN_IF_ERROR(FromRocks(db_->CompactRange(options, family, nullptr, nullptr)));
  }
  return Status::Ok();
}

}  // namespace pki
