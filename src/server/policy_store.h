// PolicyStore: the server's named ACL policies, persisted in its own storage under "policy/<name>" (JSON
// {"name","policy"} holding the text as written), and the compiled ACL of a set of policy names.
//
// Builtin policies: "root" (never stored; cannot be written or deleted; compiles to the allow-all ACL) and
// "default" (written on first start with what a token needs to manage itself on this server: lookup-self,
// renew-self, revoke-self and sys/capabilities-self; it may be rewritten but not deleted). Names are lowercased
// and trimmed as Vault does.
//
// Thread-safe: a shared mutex guards the caches; writes go to storage first, then drop the caches. Policies are
// read from storage lazily, when a token names them (never all at start-up).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/server/acl_policy.h"
#include "storage/storage.h"

namespace pki::server {

// The JSON text of the builtin "default" policy.
extern const char kDefaultPolicyText[];

// Vault's name normalisation: lowercase, surrounding spaces trimmed.
std::string NormalizePolicyName(std::string_view name);

class PolicyStore {
 public:
  // Writes the default policy when storage has none. `storage` must outlive the store.
  static Result<std::unique_ptr<PolicyStore>> Open(Storage* storage);

  // Parses and stores `text` as policy `name` (normalised). BadRequest for an empty name, "root", or text that
  // does not parse. Upserts: the config file's policies come through here too.
  Status PutPolicy(const std::string& name, const std::string& text);

  // The stored text of `name` ("" for root), or nullopt when there is no such policy.
  Result<std::optional<std::string>> GetPolicyText(const std::string& name);

  // Deletes `name`; deleting an absent policy succeeds. BadRequest for "root" and "default".
  Status DeletePolicy(const std::string& name);

  // Stored policy names, sorted ("root" is not stored and not listed).
  Result<std::vector<std::string>> ListPolicies();

  // The ACL of a token holding `policies`. Names without a stored policy grant nothing (as in Vault).
  Result<std::shared_ptr<const Acl>> AclFor(const std::vector<std::string>& policies);

 private:
  explicit PolicyStore(Storage* storage) : storage_(storage) {}
  // The parsed policy `name` (normalised), or null when absent.
  Result<std::shared_ptr<const AclPolicy>> Load(const std::string& name);
  void DropCaches();

  Storage* const storage_;
  std::mutex write_mu_;  // serialises PutPolicy/DeletePolicy with their cache drops
  mutable std::shared_mutex mu_;
  // Guarded by mu_. Absent policies are cached as null.
  std::map<std::string, std::shared_ptr<const AclPolicy>> policies_;
  std::map<std::string, std::shared_ptr<const Acl>> acls_;  // guarded by mu_; keyed by the joined sorted names
  uint64_t generation_ = 0;  // guarded by mu_; bumped by every write, so a read racing a write is not cached
};

}  // namespace pki::server
