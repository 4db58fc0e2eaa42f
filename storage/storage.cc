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

}  // namespace pki
