#include "storage/storage.h"

namespace pki {

Status Storage::Scan(std::string_view prefix, std::string_view start_after, size_t limit,
                     std::vector<std::pair<std::string, std::string>>* entries) {
  std::vector<std::string> keys;
  RETURN_IF_ERROR(List(prefix, start_after, limit, &keys));
  std::string full(prefix);
  for (auto& key : keys) {
    full.resize(prefix.size());
    full += key;
    std::string value;
    Status s = Get(full, &value);
    if (s.IsNotFound()) continue;
    RETURN_IF_ERROR(s);
    entries->emplace_back(std::move(key), std::move(value));
  }
  return Status::Ok();
}

Status Storage::ScanEach(std::string_view prefix, std::string_view start_after, size_t limit,
                         const std::function<Status(std::string_view key, std::string_view value)>& visit) {
  std::vector<std::pair<std::string, std::string>> entries;
  RETURN_IF_ERROR(Scan(prefix, start_after, limit, &entries));
  for (const auto& [key, value] : entries) RETURN_IF_ERROR(visit(key, value));
  return Status::Ok();
}

Status Storage::DeleteRange(std::string_view prefix, std::string_view from, std::string_view to) {
  if (from >= to) return Status::Ok();
  constexpr size_t kPage = 1000;
  std::string after;  // List starts strictly after this; the first page starts at `from` itself
  bool first = true;
  for (;;) {
    std::vector<std::string> keys;
    if (first && !from.empty()) {
      // Keys sort after prefix+from's predecessor: list after `from` and check `from` itself separately.
      std::string unused;
      std::string full = std::string(prefix) + std::string(from);
      Status s = Get(full, &unused);
      if (s.ok()) keys.emplace_back(from);
      else if (!s.IsNotFound()) return s;
      after = std::string(from);
    }
    first = false;
    RETURN_IF_ERROR(List(prefix, after, kPage, &keys));
    WriteBatch batch;
    bool past_end = false;
    for (const auto& k : keys) {
      if (k >= to) {
        past_end = true;
        break;
      }
      batch.Delete(std::string(prefix) + k);
      after = k;
    }
    if (!batch.empty()) RETURN_IF_ERROR(Write(batch));
    if (past_end || keys.size() < kPage) return Status::Ok();
  }
}

}  // namespace pki
