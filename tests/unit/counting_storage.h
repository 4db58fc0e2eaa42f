// CountingStorage: a Storage decorator that counts calls and the keys they touch, so that tests assert work in
// keys read rather than in time. Thread-safe when the wrapped storage is (the counters are atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "storage/storage.h"

namespace pki::testing {

class CountingStorage final : public Storage {
 public:
  struct Counts {
    uint64_t gets = 0;          // Get calls, found or not
    uint64_t lists = 0;         // List calls
    uint64_t scans = 0;         // Scan calls
    uint64_t keys_listed = 0;   // keys returned by List
    uint64_t keys_scanned = 0;  // entries returned by Scan
    uint64_t writes = 0;        // Put, Delete and Write calls

    // Every key read or returned: what a page, a start-up or a request costs the storage.
    uint64_t keys_touched() const { return gets + keys_listed + keys_scanned; }
  };

  explicit CountingStorage(Storage* inner) : inner_(inner) {}

  Counts counts() const {
    Counts c;
    c.gets = gets_;
    c.lists = lists_;
    c.scans = scans_;
    c.keys_listed = keys_listed_;
    c.keys_scanned = keys_scanned_;
    c.writes = writes_;
    return c;
  }
  void Reset() { gets_ = lists_ = scans_ = keys_listed_ = keys_scanned_ = writes_ = 0; }

  Status Get(std::string_view key, std::string* value) override {
    ++gets_;
    return inner_->Get(key, value);
  }
  Status Put(std::string_view key, std::string_view value) override {
    ++writes_;
    return inner_->Put(key, value);
  }
  Status Delete(std::string_view key) override {
    ++writes_;
    return inner_->Delete(key);
  }
  Status Write(const WriteBatch& batch) override {
    ++writes_;
    return inner_->Write(batch);
  }
  Status WriteUnsynced(const WriteBatch& batch) override {
    ++writes_;
    return inner_->WriteUnsynced(batch);
  }
  Status List(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys) override {
    ++lists_;
    const size_t before = keys->size();
    Status s = inner_->List(prefix, start_after, limit, keys);
    keys_listed_ += keys->size() - before;
    return s;
  }
  Status Scan(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::pair<std::string, std::string>>* entries) override {
    ++scans_;
    const size_t before = entries->size();
    Status s = inner_->Scan(prefix, start_after, limit, entries);
    keys_scanned_ += entries->size() - before;
    return s;
  }

 private:
  Storage* inner_;
  std::atomic<uint64_t> gets_{0}, lists_{0}, scans_{0}, keys_listed_{0}, keys_scanned_{0}, writes_{0};
};

}  // namespace pki::testing
