#include "storage/memory_storage.h"

namespace pki {

Status MemoryStorage::Get(std::string_view key, std::string* value) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return Status::NotFound();
  *value = it->second;
  return Status::Ok();
}

Status MemoryStorage::Put(std::string_view key, std::string_view value) {
  std::lock_guard<std::mutex> lock(mu_);
  data_[std::string(key)] = std::string(value);
  return Status::Ok();
}

Status MemoryStorage::Delete(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = data_.find(key);
  if (it != data_.end()) data_.erase(it);
  return Status::Ok();
}

Status MemoryStorage::Write(const WriteBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& op : batch.ops()) {
    if (op.kind == WriteBatch::Op::kPut) {
      data_[op.key] = op.value;
    } else {
      data_.erase(op.key);
    }
  }
  return Status::Ok();
}

Status MemoryStorage::List(std::string_view prefix, std::string_view start_after, size_t limit,
                           std::vector<std::string>* keys) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string start = std::string(prefix) + std::string(start_after);
  auto it = data_.lower_bound(start);
  if (!start_after.empty() && it != data_.end() && it->first == start) ++it;
  size_t n = 0;
  for (; it != data_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (limit != 0 && n == limit) break;
    keys->push_back(it->first.substr(prefix.size()));
    ++n;
  }
  return Status::Ok();
}

Status MemoryStorage::Scan(std::string_view prefix, std::string_view start_after, size_t limit,
                           std::vector<std::pair<std::string, std::string>>* entries) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string start = std::string(prefix) + std::string(start_after);
  auto it = data_.lower_bound(start);
  if (!start_after.empty() && it != data_.end() && it->first == start) ++it;
  size_t n = 0;
  for (; it != data_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (limit != 0 && n == limit) break;
    entries->emplace_back(it->first.substr(prefix.size()), it->second);
    ++n;
  }
  return Status::Ok();
}

size_t MemoryStorage::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_.size();
}

}  // namespace pki
