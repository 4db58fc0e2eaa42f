#include "src/server/token_store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <deque>

#include "src/core/duration.h"
#include "src/server/policy_store.h"
#include "src/server/random_id.h"
#include "src/server/server_log.h"

namespace pki::server {
namespace {

constexpr char kIdPrefix[] = "token/id/";
constexpr char kAccessorPrefix[] = "token/accessor/";
constexpr char kParentPrefix[] = "token/parent/";
constexpr size_t kTokenRandomChars = 24;
constexpr size_t kAccessorChars = 24;
// A bound on ancestor chains (each level was created by a live token, so real chains are far shorter).
constexpr int kMaxDepth = 4096;

std::string IdKey(const std::string& digest) { return kIdPrefix + digest; }
std::string AccessorKey(std::string_view accessor) { return kAccessorPrefix + std::string(accessor); }
std::string ParentKey(const std::string& parent, const std::string& child) {
  return kParentPrefix + parent + "/" + child;
}

}  // namespace

Json TokenEntry::ToJson() const {
  return Json{{"accessor", accessor},
              {"policies", policies},
              {"display_name", display_name},
              {"path", path},
              {"meta", meta},
              {"num_uses", num_uses},
              {"creation_time", creation_time},
              {"ttl", ttl},
              {"expire_time", expire_time},
              {"explicit_max_ttl", explicit_max_ttl},
              {"renewable", renewable},
              {"parent", parent},
              {"parent_static", parent_static}};
}

Result<TokenEntry> TokenEntry::FromJson(const Json& j) {
  if (!j.is_object()) return Status::Internal("token entry is not an object");
  try {
    TokenEntry e;
    e.accessor = j.at("accessor").get<std::string>();
    e.policies = j.at("policies").get<std::vector<std::string>>();
    e.display_name = j.at("display_name").get<std::string>();
    e.path = j.at("path").get<std::string>();
    e.meta = j.value("meta", Json());
    e.num_uses = j.at("num_uses").get<int64_t>();
    e.creation_time = j.at("creation_time").get<int64_t>();
    e.ttl = j.at("ttl").get<int64_t>();
    e.expire_time = j.at("expire_time").get<int64_t>();
    e.explicit_max_ttl = j.at("explicit_max_ttl").get<int64_t>();
    e.renewable = j.at("renewable").get<bool>();
    e.parent = j.at("parent").get<std::string>();
    e.parent_static = j.value("parent_static", false);
    return e;
  } catch (const Json::exception&) {
    return Status::Internal("token entry is corrupt");
  }
}

std::string TokenStore::Digest(std::string_view token) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), d, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 0x0f]);
  }
  return out;
}

std::string TokenStore::ClientToken(const HttpRequest& req) {
  std::string_view v = req.Header("X-Vault-Token");
  if (!v.empty()) return std::string(v);
  std::string_view auth = req.Header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.substr(0, kBearer.size()) != kBearer) return "";
  auth.remove_prefix(kBearer.size());
  while (!auth.empty() && (auth.front() == ' ' || auth.front() == '\t')) auth.remove_prefix(1);
  while (!auth.empty() && (auth.back() == ' ' || auth.back() == '\t')) auth.remove_suffix(1);
  return std::string(auth);
}

Status TokenStore::EnsureToken(std::string_view id, std::vector<std::string> policies, std::string display_name) {
  if (id.empty()) return Status::BadRequest("a token id must not be empty");
  for (auto& p : policies) p = NormalizePolicyName(p);
  policies.erase(std::remove(policies.begin(), policies.end(), ""), policies.end());
  std::sort(policies.begin(), policies.end());
  policies.erase(std::unique(policies.begin(), policies.end()), policies.end());
  if (std::find(policies.begin(), policies.end(), "root") != policies.end()) policies = {"root"};
  TokenEntry e;
  e.digest = Digest(id);
  ASSIGN_OR_RETURN(e.accessor, RandomAlphanumeric(kAccessorChars));
  e.policies = std::move(policies);
  e.display_name = std::move(display_name);
  e.path = e.root() ? "auth/token/root" : "auth/token/create";
  e.creation_time = clock_->Now();
  e.is_static = true;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = statics_.find(e.digest); it != statics_.end()) e.accessor = it->second.accessor;
  statics_[e.digest] = std::move(e);
  return Status::Ok();
}

std::optional<TokenEntry> TokenStore::StaticEntry(const std::string& digest) const {
  // Every static digest is compared, each in constant time, so the comparison reveals nothing of the token.
  const TokenEntry* found = nullptr;
  for (const auto& [d, e] : statics_) {
    if (d.size() == digest.size() && CRYPTO_memcmp(d.data(), digest.data(), d.size()) == 0) found = &e;
  }
  if (!found) return std::nullopt;
  return *found;
}

Result<std::optional<TokenEntry>> TokenStore::ReadEntry(const std::string& digest) {
  std::string value;
  Status st = storage_->Get(IdKey(digest), &value);
  if (st.IsNotFound()) return std::optional<TokenEntry>();
  if (!st.ok()) return st;
  Json j = Json::parse(value, nullptr, false);
  if (j.is_discarded()) return Status::Internal("token entry is corrupt");
  ASSIGN_OR_RETURN(TokenEntry e, TokenEntry::FromJson(j));
  e.digest = digest;
  return std::optional<TokenEntry>(std::move(e));
}

Result<std::optional<TokenEntry>> TokenStore::FindByDigest(const std::string& digest, bool allow_used_up) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto e = StaticEntry(digest)) return e;
  }
  // Stored tokens are found by their digest: the key lookup compares digests, never the token itself.
  ASSIGN_OR_RETURN(std::optional<TokenEntry> entry, ReadEntry(digest));
  if (!entry) return entry;
  if (Expired(*entry)) {
    RETURN_IF_ERROR(RevokeTree(digest));
    return std::optional<TokenEntry>();
  }
  if (entry->num_uses < 0 && !allow_used_up) return std::optional<TokenEntry>();
  // A child lives only as long as its ancestors: stored ones must be live, and a static one (the dev root token, a
  // configured token) must still be registered in this process: a start with another root token id, or without
  // a token the config file used to declare, ends that token's descendants here, when they are met.
  const TokenEntry* cur = &*entry;
  std::optional<TokenEntry> ancestor;
  for (int depth = 0; !cur->parent.empty() && !cur->parent_static; ++depth) {
    if (depth == kMaxDepth) return Status::Internal("token ancestry too deep");
    ASSIGN_OR_RETURN(std::optional<TokenEntry> parent, ReadEntry(cur->parent));
    if (!parent) {
      RETURN_IF_ERROR(RevokeTree(digest));
      return std::optional<TokenEntry>();
    }
    if (Expired(*parent)) {
      RETURN_IF_ERROR(RevokeTree(parent->digest));
      return std::optional<TokenEntry>();
    }
    ancestor = std::move(parent);
    cur = &*ancestor;
  }
  if (cur->parent_static) {
    bool registered;
    {
      std::lock_guard<std::mutex> lock(mu_);
      registered = StaticEntry(cur->parent).has_value();
    }
    if (!registered) {
      const std::string top = cur->digest;
      RETURN_IF_ERROR(RevokeTree(top));
      return std::optional<TokenEntry>();
    }
  }
  return entry;
}

Result<std::optional<TokenEntry>> TokenStore::Find(std::string_view token) {
  if (token.empty()) return std::optional<TokenEntry>();
  return FindByDigest(Digest(token), /*allow_used_up=*/false);
}

std::optional<TokenEntry> TokenStore::Lookup(std::string_view token) {
  auto found = Find(token);
  if (!found.ok()) {
    LogLine(LogLevel::kError, "token lookup failed: " + found.status().message());
    return std::nullopt;
  }
  return *found;
}

Result<std::optional<TokenEntry>> TokenStore::FindIncludingUsedUp(std::string_view token) {
  if (token.empty()) return std::optional<TokenEntry>();
  return FindByDigest(Digest(token), /*allow_used_up=*/true);
}

Result<std::optional<TokenEntry>> TokenStore::FindByAccessor(std::string_view accessor) {
  if (accessor.empty()) return std::optional<TokenEntry>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [d, e] : statics_) {
      if (e.accessor == accessor) return std::optional<TokenEntry>(e);
    }
  }
  std::string digest;
  Status st = storage_->Get(AccessorKey(accessor), &digest);
  if (st.IsNotFound()) return std::optional<TokenEntry>();
  if (!st.ok()) return st;
  return FindByDigest(digest, /*allow_used_up=*/false);
}

Result<std::optional<TokenEntry>> TokenStore::Use(const TokenEntry& entry) {
  if (entry.is_static || entry.num_uses == 0) return std::optional<TokenEntry>(entry);
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::optional<TokenEntry> cur, ReadEntry(entry.digest));
  if (!cur || cur->num_uses <= 0) return std::optional<TokenEntry>();
  cur->num_uses = cur->num_uses == 1 ? -1 : cur->num_uses - 1;
  RETURN_IF_ERROR(storage_->Put(IdKey(cur->digest), cur->ToJson().dump()));
  return cur;
}

Result<std::pair<std::string, TokenEntry>> TokenStore::Create(const TokenSpec& spec) {
  ASSIGN_OR_RETURN(std::string random, RandomAlphanumeric(kTokenRandomChars));
  std::string id = "hvs." + random;
  TokenEntry e;
  e.digest = Digest(id);
  ASSIGN_OR_RETURN(e.accessor, RandomAlphanumeric(kAccessorChars));
  e.policies = spec.policies;
  e.display_name = spec.display_name;
  e.path = spec.path;
  e.meta = spec.meta;
  e.num_uses = spec.num_uses;
  e.creation_time = clock_->Now();
  e.ttl = spec.ttl;
  e.expire_time = spec.ttl > 0 ? e.creation_time + spec.ttl : 0;
  e.explicit_max_ttl = spec.explicit_max_ttl;
  e.renewable = spec.renewable;

  std::lock_guard<std::mutex> lock(mu_);
  WriteBatch batch;
  if (spec.parent != nullptr) {
    // The parent must still be there now that no revocation can run.
    bool alive = false;
    if (spec.parent->is_static) {
      alive = StaticEntry(spec.parent->digest).has_value();
    } else {
      ASSIGN_OR_RETURN(std::optional<TokenEntry> parent, ReadEntry(spec.parent->digest));
      alive = parent && !Expired(*parent);
    }
    if (!alive) return Status::BadRequest("parent token lookup failed: no parent found");
    e.parent = spec.parent->digest;
    e.parent_static = spec.parent->is_static;
    batch.Put(ParentKey(e.parent, e.digest), "");
  }
  batch.Put(IdKey(e.digest), e.ToJson().dump());
  batch.Put(AccessorKey(e.accessor), e.digest);
  RETURN_IF_ERROR(storage_->Write(batch));
  return std::make_pair(std::move(id), std::move(e));
}

Result<std::pair<TokenEntry, std::string>> TokenStore::Renew(const TokenEntry& entry, int64_t increment) {
  if (entry.is_static || !entry.renewable || entry.expire_time == 0) {
    return Status::BadRequest("lease is not renewable");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::optional<TokenEntry> cur, ReadEntry(entry.digest));
  if (!cur || Expired(*cur)) return Status::BadRequest("token not found");
  const int64_t now = clock_->Now();
  int64_t ttl = increment > 0 ? increment : cur->ttl;
  int64_t max_ttl = kTokenMaxTtl;
  if (cur->explicit_max_ttl > 0 && cur->explicit_max_ttl < max_ttl) max_ttl = cur->explicit_max_ttl;
  const int64_t max_time = cur->creation_time + max_ttl;
  std::string warning;
  if (now + ttl > max_time) {
    int64_t capped = std::max<int64_t>(0, max_time - now);
    warning = "TTL of \"" + FormatGoDuration(ttl) + "\" exceeded the effective max_ttl of \"" +
              FormatGoDuration(capped) + "\"; TTL value is capped accordingly";
    ttl = capped;
  }
  cur->expire_time = now + ttl;
  RETURN_IF_ERROR(storage_->Put(IdKey(cur->digest), cur->ToJson().dump()));
  return std::make_pair(std::move(*cur), std::move(warning));
}

Status TokenStore::CollectTree(const std::string& root, WriteBatch* batch, std::vector<std::string>* statics) {
  std::deque<std::string> queue{root};
  while (!queue.empty()) {
    std::string digest = std::move(queue.front());
    queue.pop_front();
    if (statics_.count(digest)) {
      statics->push_back(digest);
    } else {
      ASSIGN_OR_RETURN(std::optional<TokenEntry> e, ReadEntry(digest));
      if (e) {
        batch->Delete(IdKey(digest));
        batch->Delete(AccessorKey(e->accessor));
        if (!e->parent.empty()) batch->Delete(ParentKey(e->parent, digest));
      }
    }
    const std::string prefix = kParentPrefix + digest + "/";
    std::vector<std::string> children;
    RETURN_IF_ERROR(storage_->List(prefix, "", 0, &children));
    for (auto& child : children) {
      batch->Delete(prefix + child);
      queue.push_back(std::move(child));
    }
  }
  return Status::Ok();
}

Status TokenStore::RevokeTreeLocked(const std::string& digest) {
  WriteBatch batch;
  std::vector<std::string> statics;
  RETURN_IF_ERROR(CollectTree(digest, &batch, &statics));
  if (!batch.empty()) RETURN_IF_ERROR(storage_->Write(batch));
  for (const auto& d : statics) statics_.erase(d);
  return Status::Ok();
}

Status TokenStore::RevokeTree(const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  return RevokeTreeLocked(digest);
}

Status TokenStore::RevokeUsedUp(const TokenEntry& entry) {
  if (entry.num_uses >= 0 || entry.is_static) return Status::Ok();
  return RevokeTree(entry.digest);
}

}  // namespace pki::server
