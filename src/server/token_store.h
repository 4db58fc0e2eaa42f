// TokenStore: Vault-style service tokens for pki-server.
//
// A token is "hvs." + 24 random characters (OpenSSL RAND). It is never stored, logged or returned after creation:
// the store keeps its SHA-256 digest (hex) and compares digests in constant time. Layout in the server's storage:
//   token/id/<digest>                  the entry (JSON, see TokenEntry)
//   token/accessor/<accessor>          <digest>
//   token/parent/<parent digest>/<digest>  ""   (the children of a token, so revoking a tree never scans)
// Every change touching several keys is one WriteBatch.
//
// Static tokens (the dev root token, tokens a config file declares) live in memory only, for the life of the
// process: a later start with another id leaves no trace of the old one. Their children are stored as usual.
//
// Expiry is lazy: an expired token (or one whose stored ancestor expired) is refused and its tree revoked when a
// lookup meets it; nothing scans the store at start-up. num_uses counts down atomically per request; a token whose
// last use is taken is marked used up (num_uses -1), refused to every later request, and revoked by the caller
// once its last request ends (RevokeUsedUp).
//
// Thread-safe: reads go straight to storage; every read-modify-write (use counts, renewals, creation under a
// parent, revocation) holds mu_, and the static tokens are guarded by it too.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/status.h"
#include "src/engine/request.h"
#include "src/server/http_message.h"
#include "storage/storage.h"

namespace pki::server {

// Vault's system default and maximum token TTL (768h).
inline constexpr int64_t kTokenDefaultTtl = 768 * 3600;
inline constexpr int64_t kTokenMaxTtl = 768 * 3600;

// What the store knows of a token. This is the struct the authorization step hands on (an audit log records its
// accessor; the raw token is never part of it).
struct TokenEntry {
  std::string digest;     // hex SHA-256 of the token: its storage key
  std::string accessor;   // names the token without granting anything
  std::vector<std::string> policies;  // sorted, lowercased
  std::string display_name;           // "token-<name>", "root"
  std::string path;                   // "auth/token/create", "auth/token/create-orphan", "auth/token/root"
  Json meta = nullptr;                // object of string values, or null
  int64_t num_uses = 0;               // uses left; 0 = unlimited; -1 = used up (revoked after its last request)
  int64_t creation_time = 0;          // Unix seconds
  int64_t ttl = 0;                    // the TTL at creation (or last renewal), seconds; 0 = never expires
  int64_t expire_time = 0;            // Unix seconds; 0 = never
  int64_t explicit_max_ttl = 0;       // seconds from creation; 0 = none beyond the system maximum
  bool renewable = false;
  std::string parent;          // the parent's digest; "" for an orphan
  bool parent_static = false;  // the parent is a static (in-memory) token
  bool is_static = false;      // an in-memory token (dev root token, config tokens); never persisted

  bool orphan() const { return parent.empty(); }
  bool root() const { return policies.size() == 1 && policies[0] == "root"; }
  Json ToJson() const;
  static Result<TokenEntry> FromJson(const Json& j);
};

// What Create stores, chosen by the token backend.
struct TokenSpec {
  std::vector<std::string> policies;  // final, sanitised
  std::string display_name;
  std::string path;
  Json meta = nullptr;
  int64_t num_uses = 0;
  int64_t ttl = 0;  // 0: never expires
  int64_t explicit_max_ttl = 0;
  bool renewable = false;
  const TokenEntry* parent = nullptr;  // null: orphan
};

class TokenStore {
 public:
  // `storage` and `clock` must outlive the store.
  TokenStore(Storage* storage, const Clock* clock) : storage_(storage), clock_(clock) {}

  // Registers a static token: `id` with `policies`, held in memory only (the dev root token: {"root"}). Calling
  // again with the same id replaces its policies. BadRequest for an empty id.
  Status EnsureToken(std::string_view id, std::vector<std::string> policies, std::string display_name);

  // The entry of a token that may make a request now: known, not expired, not revoked, not used up, with every
  // stored ancestor alive. Storage errors are Internal. Meeting an expired token revokes it (and its tree).
  Result<std::optional<TokenEntry>> Find(std::string_view token);
  // Find, with storage errors logged and reported as "no token": the seam for callers that only need the entry.
  std::optional<TokenEntry> Lookup(std::string_view token);
  // As Find, but also returns a used-up token (num_uses -1), for the token's own last request (lookup-self).
  Result<std::optional<TokenEntry>> FindIncludingUsedUp(std::string_view token);
  // The live entry named by `accessor`.
  Result<std::optional<TokenEntry>> FindByAccessor(std::string_view accessor);

  // Takes one use of a limited-use token (num_uses > 0): returns the updated entry, with num_uses -1 when that was
  // the last; nullopt when the token was used up or revoked meanwhile. Unlimited tokens are returned unchanged.
  Result<std::optional<TokenEntry>> Use(const TokenEntry& entry);

  // Creates a token: a fresh id and accessor, stored with its parent link. Returns the token id and its entry.
  // BadRequest when the parent is gone.
  Result<std::pair<std::string, TokenEntry>> Create(const TokenSpec& spec);

  // Extends a renewable token's life by `increment` seconds (0: its original TTL), capped by its explicit max TTL
  // and the system maximum since creation. Returns the updated entry and a warning when capped.
  Result<std::pair<TokenEntry, std::string>> Renew(const TokenEntry& entry, int64_t increment);

  // Revokes the token with `digest` and all its descendants (one WriteBatch). Revoking an absent token succeeds.
  Status RevokeTree(const std::string& digest);
  Status Revoke(std::string_view token) { return RevokeTree(Digest(token)); }
  // Revokes `entry` (and its tree) when it is used up (num_uses -1): called when its last request ended.
  Status RevokeUsedUp(const TokenEntry& entry);

  // Hex SHA-256 of a token.
  static std::string Digest(std::string_view token);

  // The client token of a request, as Vault reads it: X-Vault-Token, else "Authorization: Bearer <token>".
  static std::string ClientToken(const HttpRequest& req);

 private:
  // Reads a stored entry; nullopt when absent.
  Result<std::optional<TokenEntry>> ReadEntry(const std::string& digest);
  Result<std::optional<TokenEntry>> FindByDigest(const std::string& digest, bool allow_used_up);
  std::optional<TokenEntry> StaticEntry(const std::string& digest) const;  // caller holds mu_
  bool Expired(const TokenEntry& e) const { return e.expire_time != 0 && clock_->Now() >= e.expire_time; }
  // Adds the deletes of `digest`'s tree to `batch`; caller holds mu_.
  Status CollectTree(const std::string& digest, WriteBatch* batch, std::vector<std::string>* static_digests);
  Status RevokeTreeLocked(const std::string& digest);

  Storage* const storage_;
  const Clock* const clock_;
  std::mutex mu_;  // serialises read-modify-write of entries, and guards statics_
  std::map<std::string, TokenEntry> statics_;  // guarded by mu_; by digest
};

}  // namespace pki::server
