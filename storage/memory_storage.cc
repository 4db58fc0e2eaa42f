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

namespace {

// Visits the entries under `prefix` after prefix+start_after, at most `limit` (0: all), in order. Caller holds mu_.
template <typename Map, typename Visit>
void VisitPrefix(const Map& data, std::string_view prefix, std::string_view start_after, size_t limit, Visit visit) {
  std::string start = std::string(prefix) + std::string(start_after);
  auto it = data.lower_bound(start);
  if (!start_after.empty() && it != data.end() && it->first == start) ++it;
  size_t n = 0;
  for (; it != data.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (limit != 0 && n == limit) break;
    visit(it->first.substr(prefix.size()), it->second);
    ++n;
  }
}

}  // namespace

Status MemoryStorage::List(std::string_view prefix, std::string_view start_after, size_t limit,
                           std::vector<std::string>* keys) {
  std::lock_guard<std::mutex> lock(mu_);
  VisitPrefix(data_, prefix, start_after, limit, [&](std::string key, const std::string&) {
    keys->push_back(std::move(key));
  });
  return Status::Ok();
}

Status MemoryStorage::Scan(std::string_view prefix, std::string_view start_after, size_t limit,
                           std::vector<std::pair<std::string, std::string>>* entries) {
  std::lock_guard<std::mutex> lock(mu_);
  VisitPrefix(data_, prefix, start_after, limit, [&](std::string key, const std::string& value) {
    entries->emplace_back(std::move(key), value);
  });
  return Status::Ok();
}

size_t MemoryStorage::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_.size();
}

}  // namespace pki
