#include "src/server/policy_store.h"

#include <algorithm>
#include <cctype>

#include "src/core/text.h"

namespace pki::server {
namespace {

constexpr char kPolicyPrefix[] = "policy/";

// A cache of compiled ACLs for this many distinct policy sets at most; beyond that it starts over.
constexpr size_t kMaxCachedAcls = 1024;

}  // namespace

const char kDefaultPolicyText[] = R"({
  "path": {
    "auth/token/lookup-self": {
      "comment": "Allow tokens to look up their own properties",
      "capabilities": ["read"]
    },
    "auth/token/renew-self": {
      "comment": "Allow tokens to renew themselves",
      "capabilities": ["update"]
    },
    "auth/token/revoke-self": {
      "comment": "Allow tokens to revoke themselves",
      "capabilities": ["update"]
    },
    "sys/capabilities-self": {
      "comment": "Allow a token to look up its own capabilities on a path",
      "capabilities": ["update"]
    }
  }
}
)";

std::string NormalizePolicyName(std::string_view name) {
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front()))) name.remove_prefix(1);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<std::unique_ptr<PolicyStore>> PolicyStore::Open(Storage* storage) {
  std::unique_ptr<PolicyStore> store(new PolicyStore(storage));
  std::string existing;
  Status st = storage->Get(std::string(kPolicyPrefix) + "default", &existing);
  if (st.IsNotFound()) {
    RETURN_IF_ERROR(store->PutPolicy("default", kDefaultPolicyText));
  } else if (!st.ok()) {
    return st.Annotate("reading the default policy");
  }
  return store;
}

Status PolicyStore::PutPolicy(const std::string& raw_name, const std::string& text) {
  const std::string name = NormalizePolicyName(raw_name);
  if (name.empty()) return Status::BadRequest("policy name must be provided in the URL");
  if (name == "root") return Status::BadRequest("cannot update \"root\" policy");
  if (text.empty()) return Status::BadRequest("'policy' parameter not supplied or empty");
  ASSIGN_OR_RETURN(AclPolicy parsed, ParseAclPolicy(name, text));
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(storage_->Put(kPolicyPrefix + name, Json({{"name", name}, {"policy", parsed.raw}}).dump()));
  DropCaches();
  return Status::Ok();
}

Result<std::optional<std::string>> PolicyStore::GetPolicyText(const std::string& raw_name) {
  const std::string name = NormalizePolicyName(raw_name);
  if (name == "root") return std::optional<std::string>("");
  ASSIGN_OR_RETURN(std::shared_ptr<const AclPolicy> p, Load(name));
  if (!p) return std::optional<std::string>();
  return std::optional<std::string>(p->raw);
}

Status PolicyStore::DeletePolicy(const std::string& raw_name) {
  const std::string name = NormalizePolicyName(raw_name);
  if (name == "root") return Status::BadRequest("cannot delete \"root\" policy");
  if (name == "default") return Status::BadRequest("cannot delete default policy");
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(storage_->Delete(kPolicyPrefix + name));
  DropCaches();
  return Status::Ok();
}

Result<std::vector<std::string>> PolicyStore::ListPolicies() {
  std::vector<std::string> keys;
  RETURN_IF_ERROR(storage_->List(kPolicyPrefix, "", 0, &keys));
  return keys;
}

void PolicyStore::DropCaches() {
  std::unique_lock lock(mu_);
  policies_.clear();
  acls_.clear();
  ++generation_;
}

Result<std::shared_ptr<const AclPolicy>> PolicyStore::Load(const std::string& name) {
  uint64_t generation = 0;
  {
    std::shared_lock lock(mu_);
    if (auto it = policies_.find(name); it != policies_.end()) return it->second;
    generation = generation_;
  }
  std::shared_ptr<const AclPolicy> policy;
  if (name == "root") {
    auto root = std::make_shared<AclPolicy>();
    root->name = "root";
    policy = root;
  } else {
    std::string value;
    Status st = storage_->Get(kPolicyPrefix + name, &value);
    if (!st.ok() && !st.IsNotFound()) return st;
    if (st.ok()) {
      Json doc = Json::parse(value, nullptr, false);
      if (doc.is_discarded() || !doc.is_object() || !doc.contains("policy") || !doc["policy"].is_string()) {
        return Status::Internal("stored policy " + GoQuote(name) + " is corrupt");
      }
      auto parsed = ParseAclPolicy(name, doc["policy"].get<std::string>());
      if (!parsed.ok()) return Status::Internal("stored policy " + GoQuote(name) + " no longer parses");
      policy = std::make_shared<AclPolicy>(std::move(parsed).value());
    }
  }
  std::unique_lock lock(mu_);
  // A write since the read above may have changed the policy: then the value read is not cached.
  if (generation == generation_) policies_.emplace(name, policy);
  return policy;
}

Result<std::shared_ptr<const Acl>> PolicyStore::AclFor(const std::vector<std::string>& names) {
  std::vector<std::string> sorted;
  for (const auto& n : names) sorted.push_back(NormalizePolicyName(n));
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string key;  // length-prefixed names: no two sets share a key, whatever the names contain
  for (const auto& n : sorted) key += std::to_string(n.size()) + ":" + n;
  uint64_t generation = 0;
  {
    std::shared_lock lock(mu_);
    if (auto it = acls_.find(key); it != acls_.end()) return it->second;
    generation = generation_;
  }
  std::vector<std::shared_ptr<const AclPolicy>> policies;
  for (const auto& n : sorted) {
    ASSIGN_OR_RETURN(std::shared_ptr<const AclPolicy> p, Load(n));
    if (p) policies.push_back(std::move(p));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Acl> acl, Acl::Build(policies));
  std::unique_lock lock(mu_);
  if (generation != generation_) return acl;
  if (acls_.size() >= kMaxCachedAcls) acls_.clear();
  acls_.emplace(key, acl);
  return acl;
}

}  // namespace pki::server
