// Storage: the one interface between the PKI engine and durable state.
//
// Keys are byte strings ordered lexicographically; the engine uses '/'-separated logical keys (docs/design.md lists
// them). The interface is deliberately narrow so that it can be served by RocksDB, by memory (tests) and by a host's
// storage over the plugin broker.
//
// Implementations are safe for concurrent use from multiple threads without external synchronization.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/status.h"

namespace pki {

// A set of puts and deletes, applied in order by Storage::Write: all or none of them where the backend says
// AtomicBatches(), otherwise op by op (a crash can leave a prefix).
class WriteBatch {
 public:
  struct Op {
    enum Kind { kPut, kDelete } kind;
    std::string key;
    std::string value;
  };
  void Put(std::string key, std::string value) { ops_.push_back({Op::kPut, std::move(key), std::move(value)}); }
  void Delete(std::string key) { ops_.push_back({Op::kDelete, std::move(key), {}}); }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }

 private:
  std::vector<Op> ops_;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Reads `key` into *value. Returns NotFound when absent.
  virtual Status Get(std::string_view key, std::string* value) = 0;
  virtual Status Put(std::string_view key, std::string_view value) = 0;
  // Deleting an absent key succeeds.
  virtual Status Delete(std::string_view key) = 0;
  // Applies every op of `batch`, in order, durably; atomically where AtomicBatches().
  virtual Status Write(const WriteBatch& batch) = 0;
  // Whether a batch lands all or nothing, also across a crash (RocksDB, memory). A host's storage over the
  // broker applies the ops one by one (Vault's storage has no transactions): the engine then orders each batch's
  // ops so that a prefix leaves nothing it cannot find again, and checks instead of relying on pairs of keys.
  virtual bool AtomicBatches() const { return false; }
  // As Write, but the backend may acknowledge before the batch is durable: for work that is redone when lost
  // (tidy). Batches still land whole and in order, so a crash loses at most a suffix of them. Default: Write.
  virtual Status WriteUnsynced(const WriteBatch& batch) { return Write(batch); }
  // Appends to *keys, in order, the keys under `prefix` that sort strictly after prefix+start_after, with the
  // prefix removed, at most `limit` of them (0 = no limit). Keys at any depth below the prefix are listed.
  virtual Status List(std::string_view prefix, std::string_view start_after, size_t limit,
                      std::vector<std::string>* keys) = 0;
  // As List, with each key's value: appends (key without prefix, value) pairs. The default lists and then reads
  // each key (a key deleted in between is skipped); backends with ordered iteration read both in one pass.
  virtual Status Scan(std::string_view prefix, std::string_view start_after, size_t limit,
                      std::vector<std::pair<std::string, std::string>>* entries);
  // As Scan, handing each (key without prefix, value) to `visit` instead of collecting copies; the views are
  // valid during the call only. A non-OK status from `visit` stops the scan and is returned. The default scans
  // into a vector first; backends with ordered iteration visit their own buffers.
  virtual Status ScanEach(std::string_view prefix, std::string_view start_after, size_t limit,
                          const std::function<Status(std::string_view key, std::string_view value)>& visit);
  // Deletes every key prefix+k with `from` <= k < `to` (bytewise), durably as Write, for pruning an index whose
  // keys need not be read. Atomic where the backend deletes ranges natively (RocksDB: one range tombstone, whatever
  // the number of keys); the default lists the keys and deletes them in synced batches, so a crash may leave a
  // part deleted: callers must tolerate that (pruning is redone by the next call).
  virtual Status DeleteRange(std::string_view prefix, std::string_view from, std::string_view to);
};

}  // namespace pki
