#include "src/pki/stored_json.h"

namespace pki {

Result<std::optional<Json>> ReadJsonObject(Storage* storage, const std::string& key) {
  std::string value;
  Status s = storage->Get(key, &value);
  if (s.IsNotFound()) return std::optional<Json>();
  RETURN_IF_ERROR(s);
  Json j = Json::parse(value, nullptr, false);
  if (!j.is_object()) return Status::Internal("corrupt " + key + " entry");
  return std::optional<Json>(std::move(j));
}

}  // namespace pki
