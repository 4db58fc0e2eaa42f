// Vault's ACL policy language (JSON form) and the ACL a token's policies compile to, as vault/policy.go and
// vault/acl.go define them.
//
// A policy is {"path": {"<pattern>": {"capabilities": [...], "allowed_parameters": {...},
// "denied_parameters": {...}, "required_parameters": [...]}}}. Patterns: a trailing '*' makes a prefix rule
// ("pki/roles/*"; '*' anywhere else is a literal), a "+" segment matches exactly one path segment ("pki/+/web").
// When several rules match a path: an exact rule wins, then the best of the prefix and segment-wildcard rules by
// Vault's priority (later first wildcard, then non-prefix over prefix, then fewer '+' segments, then the longer
// pattern). Rules for the same pattern in several policies merge (capabilities OR-ed, parameter lists joined); a
// "deny" anywhere wins over everything for that pattern.
// HCL is not parsed (no Debian library does): only the JSON form is accepted.
//
// AclPolicy and Acl are immutable values once built: safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/status.h"
#include "src/engine/request.h"

namespace pki::server {

// Capability bits, as Vault's cap2Int.
enum Capability : uint32_t {
  kCapDeny = 1u << 0,
  kCapCreate = 1u << 1,
  kCapRead = 1u << 2,
  kCapUpdate = 1u << 3,
  kCapDelete = 1u << 4,
  kCapList = 1u << 5,
  kCapSudo = 1u << 6,
  kCapPatch = 1u << 7,
};

// What one rule grants on the paths it matches. Parameter maps are keyed by lowercased parameter name; an empty
// value list means "any value"; an empty map means "no restriction".
struct PathPermissions {
  uint32_t capabilities = 0;
  std::map<std::string, std::vector<Json>> allowed_parameters;
  std::map<std::string, std::vector<Json>> denied_parameters;
  std::vector<std::string> required_parameters;
};

// One "path" stanza after parsing.
struct PathRule {
  std::string path;                    // without a leading '/'; prefix rules without their trailing '*'
  bool is_prefix = false;              // ended in '*' (and has no '+' segment)
  bool has_segment_wildcards = false;  // has a "+" segment; then `path` keeps a trailing '*' if it had one
  PathPermissions permissions;
};

struct AclPolicy {
  std::string name;
  std::string raw;  // the text as written (after base64 decoding)
  std::vector<PathRule> rules;
};

// Parses policy text. Accepts base64 of the text too, as Vault's sys/policy endpoints do. BadRequest, starting
// with "failed to parse policy: ", for HCL or other non-JSON text, unknown keys, unknown capabilities, invalid
// wildcards, and for the stanza keys this server does not implement (wrapping TTLs, MFA, control groups,
// pagination, expiration).
Result<AclPolicy> ParseAclPolicy(const std::string& name, std::string_view text);

// The decision for one request.
struct AclDecision {
  bool allowed = false;     // the operation's capability is granted and the parameters pass
  bool sudo = false;        // the matching rule grants sudo (or the ACL is root)
  bool root = false;        // the ACL is the root policy's
  uint32_t capabilities = 0;
};

// The compiled policies of one token.
class Acl {
 public:
  // Compiles `policies` (null entries are skipped). A policy named "root" makes a root ACL that allows
  // everything; it must then be the only one (BadRequest otherwise, as Vault's NewACL).
  static Result<std::shared_ptr<const Acl>> Build(const std::vector<std::shared_ptr<const AclPolicy>>& policies);

  bool root() const { return root_; }

  // Whether `op` on `path` (the full request path, "pki/issue/web"; list paths end in '/') is allowed with
  // request parameters `data`. kCreate, kUpdate, kRead and kPatch check the parameter rules; kRevoke needs update.
  AclDecision Check(Operation op, std::string_view path, const Json& data) const;

  // The capability names on `path` as Vault's ACL.Capabilities lists them: {"root"} for a root ACL, {"deny"}
  // when nothing is granted; otherwise sorted.
  std::vector<std::string> Capabilities(std::string_view path) const;

 private:
  Acl() = default;
  // The permissions of the rule that governs `path`, or null when none matches. `list` adds Vault's list
  // fallbacks (the path without its trailing '/').
  const PathPermissions* Match(std::string_view path, bool list) const;
  const PathPermissions* MatchNonExact(std::string_view path) const;

  bool root_ = false;
  std::map<std::string, PathPermissions, std::less<>> exact_;
  std::map<std::string, PathPermissions, std::less<>> prefix_;
  std::map<std::string, PathPermissions, std::less<>> segment_;  // keyed by the pattern, '*' kept
};

// Vault's strutil.GlobbedStringsMatch: `pattern` may start and/or end with '*'.
bool GlobbedStringsMatch(std::string_view pattern, std::string_view value);

}  // namespace pki::server
