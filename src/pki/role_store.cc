#include "src/pki/role_store.h"

#include <cctype>

namespace pki {
namespace {

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::string Key(const std::string& name) { return std::string(RoleStore::kPrefix) + name; }

}  // namespace

bool IsValidRoleName(std::string_view name) {
  if (name.empty() || !IsWordChar(name.front()) || !IsWordChar(name.back())) return false;
  for (char c : name) {
    if (!IsWordChar(c) && c != '-' && c != '.') return false;
  }
  return true;
}

Status ValidateRoleName(std::string_view name) {
  if (IsValidRoleName(name)) return Status::Ok();
  return Status::BadRequest("invalid role name \"" + std::string(name) +
                            "\": it must match \\w(([\\w-.]+)?\\w)? (letters, digits, '_', and '-' or '.' inside)");
}

Result<std::optional<RoleEntry>> RoleStore::Get(const std::string& name) const {
  RETURN_IF_ERROR(ValidateRoleName(name));
  std::string value;
  Status st = storage_->Get(Key(name), &value);
  if (st.IsNotFound()) return std::optional<RoleEntry>();
  if (!st.ok()) return st.Annotate("failed to load role " + name);
  std::shared_ptr<const Parsed> hit;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = memo_.find(name);
    if (it != memo_.end()) hit = it->second;
  }
  if (hit && hit->stored == value) return std::optional<RoleEntry>(hit->role);
  Result<RoleEntry> role = ParseStoredRole(value);
  if (!role.ok()) return role.status().Annotate("failed decoding role " + name);
  role->name = name;
  auto parsed = std::make_shared<const Parsed>(Parsed{std::move(value), role.value()});
  std::lock_guard<std::mutex> lock(mu_);
  if (memo_.size() >= kMaxMemo && !memo_.count(name)) memo_.clear();
  memo_[name] = std::move(parsed);
  return std::optional<RoleEntry>(std::move(role).value());
}

Status RoleStore::Put(const std::string& name, const RoleEntry& role) {
  RETURN_IF_ERROR(ValidateRoleName(name));
  RoleEntry copy = role;
  copy.name = name;
  return storage_->Put(Key(name), SerializeRole(copy));
}

Status RoleStore::Delete(const std::string& name) {
  RETURN_IF_ERROR(ValidateRoleName(name));
  return storage_->Delete(Key(name));
}

Result<std::vector<std::string>> RoleStore::List(const std::string& after, int64_t limit) const {
  std::vector<std::string> keys;
  size_t max = limit > 0 ? static_cast<size_t>(limit) : 0;
  RETURN_IF_ERROR(storage_->List(kPrefix, after, max, &keys));
  return keys;
}

}  // namespace pki
