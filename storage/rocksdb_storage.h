// RocksDBStorage: the default durable Storage, one RocksDB database per mount.
//
// Durability: the write-ahead log is on and every write is synced (WriteOptions::sync = true) before it is
// acknowledged, so a certificate whose response reached a client survives a power loss. Thread-safe: RocksDB
// serialises writers itself; this class adds no locks.
#pragma once

#include <memory>
#include <string>

#include "storage/storage.h"

namespace rocksdb {
class DB;
struct Options;
}

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
  // Logged in the WAL without waiting for its fsync; the next synced write makes it durable too.
  Status WriteUnsynced(const WriteBatch& batch) override;
  Status List(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys) override;
  Status Scan(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::pair<std::string, std::string>>* entries) override;

  // Applies `batch` atomically but without the write-ahead log or a sync: for bulk loads (scale tests, offline
  // imports) that call Flush() before relying on the data, since a crash before that flush loses it. Never for
  // writes acknowledged to a client; those go through Write().
  Status WriteWithoutWal(const WriteBatch& batch);

  // Flushes memtables to SST files (used at clean shutdown).
  Status Flush();

 private:
  explicit RocksDBStorage(rocksdb::DB* db);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace pki
