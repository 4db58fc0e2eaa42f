// MemoryStorage: an in-memory Storage for unit tests. Thread-safe (one mutex guards the map).
#pragma once

#include <map>
#include <mutex>

#include "storage/storage.h"

namespace pki {

class MemoryStorage final : public Storage {
 public:
  Status Get(std::string_view key, std::string* value) override;
  Status Put(std::string_view key, std::string_view value) override;
  Status Delete(std::string_view key) override;
  Status Write(const WriteBatch& batch) override;
  bool AtomicBatches() const override { return true; }
  Status List(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys) override;
  Status Scan(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::pair<std::string, std::string>>* entries) override;

  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> data_;  // guarded by mu_
};

}  // namespace pki
