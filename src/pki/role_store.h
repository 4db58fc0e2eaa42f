// RoleStore: roles in a mount's Storage, one JSON entry per role under `roles/<name>`.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/core/status.h"
#include "src/pki/role.h"
#include "storage/storage.h"

namespace pki {

// Whether `name` is a valid role name: Vault's GenericNameRegex `\w(([\w-.]+)?\w)?` (ASCII word characters, with
// '-' and '.' allowed inside).
bool IsValidRoleName(std::string_view name);
// Ok for a valid role name, else BadRequest naming it.
Status ValidateRoleName(std::string_view name);

// Reads and writes roles; safe for concurrent use whenever the Storage is (every Storage implementation is). Writes
// are last-writer-wins, as in Vault. Storage stays the only source of truth: every Get reads the stored entry, and
// only the parsing of it is memoised (per name, keyed by the stored bytes), so a role changed behind the store's
// back (another plugin instance on host storage, a restore) is seen at once with no invalidation to miss.
class RoleStore {
 public:
  // The storage key prefix of roles (CONTRACT section 4).
  static constexpr std::string_view kPrefix = "roles/";

  // `storage` must outlive the store.
  explicit RoleStore(Storage* storage) : storage_(storage) {}

  // The role, or nullopt when absent. BadRequest for an invalid name; Internal for a malformed entry or a storage
  // failure. The returned entry's `name` is `name`.
  Result<std::optional<RoleEntry>> Get(const std::string& name) const;

  // Creates or replaces the role `name` with `role` (its own `name` member is ignored).
  Status Put(const std::string& name, const RoleEntry& role);

  // Deletes the role; deleting an absent role succeeds.
  Status Delete(const std::string& name);

  // Role names in lexicographic order, strictly after `after` (empty: from the start), at most `limit` of them
  // (0 or negative: all).
  Result<std::vector<std::string>> List(const std::string& after, int64_t limit) const;

 private:
  struct Parsed {
    std::string stored;  // the entry's bytes in storage
    RoleEntry role;
  };
  static constexpr size_t kMaxMemo = 256;  // roles whose parse is kept; beyond it the memo starts afresh

  Storage* storage_;  // not owned
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const Parsed>> memo_;  // by role name
};

}  // namespace pki
