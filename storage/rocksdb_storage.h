// RocksDBStorage: the default durable Storage, one RocksDB database per mount.
//
// Durability: the write-ahead log is on and every write is synced (WriteOptions::sync = true) before it is
// acknowledged, so a certificate whose response reached a client survives a power loss. Thread-safe: RocksDB
// serialises writers itself; this class adds no locks.
//
// Bulk values (keys under kBulkPrefixes: the CRLs' DER chunks, crl/der/) live in a column family of their own
// with small memtables, so that a CRL of tens of megabytes is flushed to an SST file while it is being written
// instead of sitting whole in a memtable (and in the write-ahead log replayed into memtables at the next open).
// The split is invisible to callers: keys are routed by prefix, a batch spanning both families is still applied
// atomically, and List/Scan over a prefix that covers both merge them in key order. A database created before the
// split has its bulk keys moved into the family, in one batch, the first time it is opened.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/storage.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
struct Options;
}  // namespace rocksdb

namespace pki {

class RocksDBStorage final : public Storage {
 public:
  // Opens (creating when absent) the database in directory `path`.
  static Result<std::unique_ptr<RocksDBStorage>> Open(const std::string& path);
  // The options Open uses (table format, bloom filters, caches, memtables): for tools that write SST files to be
  // ingested into a mount's database (tests/bench/scale_bench.cc), so that they are built as the engine's own.
  static rocksdb::Options EngineOptions();
  ~RocksDBStorage() override;

  Status Get(std::string_view key, std::string* value) override;
  Status Put(std::string_view key, std::string_view value) override;
  Status Delete(std::string_view key) override;
  Status Write(const WriteBatch& batch) override;
  bool AtomicBatches() const override { return true; }
  // Logged in the WAL without waiting for its fsync; the next synced write makes it durable too.
  Status WriteUnsynced(const WriteBatch& batch) override;
  Status List(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys) override;
  Status Scan(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::pair<std::string, std::string>>* entries) override;
  Status ScanEach(std::string_view prefix, std::string_view start_after, size_t limit,
                  const std::function<Status(std::string_view key, std::string_view value)>& visit) override;
  // One range tombstone, synced: atomic and O(1) whatever the number of keys, and later scans of the range
  // skip it without visiting the deleted keys one by one.
  Status DeleteRange(std::string_view prefix, std::string_view from, std::string_view to) override;

  // Applies `batch` atomically but without the write-ahead log or a sync: for bulk loads (scale tests, offline
  // imports) that call Flush() before relying on the data, since a crash before that flush loses it. Never for
  // writes acknowledged to a client; those go through Write().
  Status WriteWithoutWal(const WriteBatch& batch);

  // Flushes memtables to SST files (used at clean shutdown).
  Status Flush();

  // Writes a consistent copy of the database, as of one point in time, into directory `dir` (which must not exist;
  // its parent must): a RocksDB checkpoint, with the table and blob files hard-linked when `dir` is on the same
  // file system (copied otherwise) and the rest copied. Memtables are flushed first, so every write acknowledged
  // before the call (synced, unsynced or WAL-less) is in the copy. Open(dir) opens it as a database of its own.
  // Safe while other threads read and write. `dir` is made 0700; a failure leaves no `dir` behind.
  Status Checkpoint(const std::string& dir);

  // Flushes, then compacts every family down to its last level, waiting for it (after a bulk load, so that the
  // loaded data is not left to background compactions competing with what runs next).
  Status CompactAll();

 private:
  RocksDBStorage(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles);
  rocksdb::ColumnFamilyHandle* FamilyOf(std::string_view key) const;
  // The families holding keys under `prefix`, in no particular order.
  std::vector<rocksdb::ColumnFamilyHandle*> FamiliesUnder(std::string_view prefix) const;
  Status WriteWith(const WriteBatch& batch, bool sync, bool wal);

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_ = nullptr;  // owned by db_
  rocksdb::ColumnFamilyHandle* bulk_ = nullptr;     // destroyed before db_ closes
};

}  // namespace pki
