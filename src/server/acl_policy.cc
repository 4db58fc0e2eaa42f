#include "src/server/acl_policy.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "src/core/text.h"
#include "src/crypto/x509.h"
#include "src/server/logical_call.h"

namespace pki::server {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Status ParseError(const std::string& msg) { return Status::BadRequest("failed to parse policy: " + msg); }

struct CapabilityName {
  const char* name;
  uint32_t bit;
};
constexpr CapabilityName kCapabilities[] = {{"deny", kCapDeny},     {"create", kCapCreate}, {"read", kCapRead},
                                            {"update", kCapUpdate}, {"delete", kCapDelete}, {"list", kCapList},
                                            {"sudo", kCapSudo},     {"patch", kCapPatch}};

// Whether `text` could be Go's standard base64 (the alphabet, '=' padding, line breaks), so worth decoding.
bool LooksBase64(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' || c == '\n' ||
          c == '\r')) {
      return false;
    }
  }
  return true;
}

Result<std::map<std::string, std::vector<Json>>> ParseParameterMap(const std::string& where, const Json& value) {
  if (!value.is_object()) return ParseError(where + " must be an object of parameter name to list of values");
  std::map<std::string, std::vector<Json>> out;
  for (const auto& [k, v] : value.items()) {
    if (!v.is_array()) {
      return ParseError(where + ": the values of " + GoQuote(k) + " must be a list (empty: any value)");
    }
    std::vector<Json>& values = out[Lower(k)];
    for (const auto& e : v) values.push_back(e);
  }
  return out;
}

Result<std::vector<std::string>> ParseStringList(const std::string& where, const Json& value) {
  if (!value.is_array()) return ParseError(where + " must be a list of strings");
  std::vector<std::string> out;
  for (const auto& e : value) {
    if (!e.is_string()) return ParseError(where + " must be a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<PathRule> ParseRule(const std::string& pattern, const Json& body) {
  const std::string where = "path " + GoQuote(pattern);
  if (!body.is_object()) return ParseError(where + ": must be an object");
  static const std::set<std::string> kUnsupported = {"min_wrapping_ttl", "max_wrapping_ttl", "mfa_methods",
                                                     "control_group",    "pagination_limit", "expiration",
                                                     "list_scan_response_keys_filter_path"};
  for (const auto& [k, v] : body.items()) {
    (void)v;
    if (k == "comment" || k == "policy" || k == "capabilities" || k == "allowed_parameters" ||
        k == "denied_parameters" || k == "required_parameters") {
      continue;
    }
    if (kUnsupported.count(k)) return ParseError(where + ": " + GoQuote(k) + " is not supported by this server");
    return ParseError(where + ": invalid key " + GoQuote(k));
  }

  PathRule rule;
  rule.path = pattern;
  if (!rule.path.empty() && rule.path.front() == '/') rule.path.erase(0, 1);
  if (rule.path.find("+*") != std::string::npos) {
    return ParseError(where + ": invalid use of wildcards ('+*' is forbidden)");
  }
  rule.has_segment_wildcards = rule.path == "+" || rule.path.find("/+") != std::string::npos ||
                               rule.path.rfind("+/", 0) == 0;
  if (!rule.path.empty() && rule.path.back() == '*' && !rule.has_segment_wildcards) {
    rule.path.pop_back();
    rule.is_prefix = true;
  }

  std::vector<std::string> capabilities;
  if (auto it = body.find("policy"); it != body.end()) {
    // The pre-0.5 shorthand, still accepted by Vault.
    if (!it->is_string()) return ParseError(where + ": \"policy\" must be a string");
    const std::string old = it->get<std::string>();
    if (old == "deny") {
      capabilities = {"deny"};
    } else if (old == "read") {
      capabilities = {"read", "list"};
    } else if (old == "write") {
      capabilities = {"create", "read", "update", "delete", "list"};
    } else if (old == "sudo") {
      capabilities = {"create", "read", "update", "delete", "list", "sudo"};
    } else {
      return ParseError(where + ": invalid policy " + GoQuote(old));
    }
  }
  if (auto it = body.find("capabilities"); it != body.end()) {
    ASSIGN_OR_RETURN(std::vector<std::string> caps, ParseStringList(where + ": capabilities", *it));
    capabilities.insert(capabilities.end(), caps.begin(), caps.end());
  }
  for (const std::string& cap : capabilities) {
    uint32_t bit = 0;
    for (const auto& c : kCapabilities) {
      if (cap == c.name) bit = c.bit;
    }
    if (bit == 0) return ParseError(where + ": invalid capability " + GoQuote(cap));
    if (bit == kCapDeny) {
      // Deny stands alone: parameters and other capabilities of the stanza are dropped, as Vault does.
      rule.permissions = PathPermissions{};
      rule.permissions.capabilities = kCapDeny;
      return rule;
    }
    rule.permissions.capabilities |= bit;
  }
  if (auto it = body.find("allowed_parameters"); it != body.end()) {
    ASSIGN_OR_RETURN(rule.permissions.allowed_parameters, ParseParameterMap(where + ": allowed_parameters", *it));
  }
  if (auto it = body.find("denied_parameters"); it != body.end()) {
    ASSIGN_OR_RETURN(rule.permissions.denied_parameters, ParseParameterMap(where + ": denied_parameters", *it));
  }
  if (auto it = body.find("required_parameters"); it != body.end()) {
    ASSIGN_OR_RETURN(rule.permissions.required_parameters,
                     ParseStringList(where + ": required_parameters", *it));
  }
  if (auto it = body.find("comment"); it != body.end() && !it->is_string()) {
    return ParseError(where + ": \"comment\" must be a string");
  }
  return rule;
}

// Merges `add` into `into` for the same pattern, as Vault's NewACL does for rules met again.
void MergeInto(PathPermissions* into, const PathPermissions& add) {
  if (into->capabilities & kCapDeny) return;
  if (add.capabilities & kCapDeny) {
    *into = PathPermissions{};
    into->capabilities = kCapDeny;
    return;
  }
  into->capabilities |= add.capabilities;
  auto merge_params = [](std::map<std::string, std::vector<Json>>* dst,
                         const std::map<std::string, std::vector<Json>>& src) {
    for (const auto& [key, values] : src) {
      auto it = dst->find(key);
      // An empty list (any value) absorbs every other list for the key.
      if (values.empty() || (it != dst->end() && it->second.empty())) {
        (*dst)[key] = {};
      } else if (it == dst->end()) {
        (*dst)[key] = values;
      } else {
        it->second.insert(it->second.begin(), values.begin(), values.end());
      }
    }
  };
  merge_params(&into->allowed_parameters, add.allowed_parameters);
  merge_params(&into->denied_parameters, add.denied_parameters);
  for (const auto& p : add.required_parameters) {
    if (std::find(into->required_parameters.begin(), into->required_parameters.end(), p) ==
        into->required_parameters.end()) {
      into->required_parameters.push_back(p);
    }
  }
}

bool ValueInList(const Json& value, const std::vector<Json>& list) {
  if (list.empty()) return true;
  for (const Json& e : list) {
    if (e.is_string() && value.is_string()) {
      if (GlobbedStringsMatch(e.get_ref<const std::string&>(), value.get_ref<const std::string&>())) return true;
    } else if (e == value) {
      return true;
    }
  }
  return false;
}

std::vector<std::string_view> SplitSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// Whether the parameters of a request satisfy `perms` (Vault's AllowOperation, parameter part).
bool ParametersAllowed(const PathPermissions& perms, const Json& data) {
  const bool has_data = data.is_object() && !data.empty();
  for (const auto& required : perms.required_parameters) {
    bool found = false;
    if (has_data) {
      for (const auto& [k, v] : data.items()) {
        (void)v;
        if (k == Lower(required)) found = true;
      }
    }
    if (!found) return false;
  }
  if (!has_data) return true;
  if (!perms.denied_parameters.empty()) {
    if (perms.denied_parameters.count("*")) return false;
    for (const auto& [k, v] : data.items()) {
      auto it = perms.denied_parameters.find(Lower(k));
      if (it != perms.denied_parameters.end() && ValueInList(v, it->second)) return false;
    }
  }
  if (perms.allowed_parameters.empty()) return true;
  const bool allowed_all = perms.allowed_parameters.count("*") != 0;
  if (perms.allowed_parameters.size() == 1 && allowed_all) return true;
  for (const auto& [k, v] : data.items()) {
    auto it = perms.allowed_parameters.find(Lower(k));
    if (it == perms.allowed_parameters.end()) {
      if (!allowed_all) return false;
      continue;
    }
    if (!ValueInList(v, it->second)) return false;
  }
  return true;
}

}  // namespace

bool GlobbedStringsMatch(std::string_view pattern, std::string_view value) {
  if (pattern.size() < 2) return pattern == value;
  const bool star_front = pattern.front() == '*';
  const bool star_back = pattern.back() == '*';
  if (star_front && star_back) {
    return value.find(pattern.substr(1, pattern.size() - 2)) != std::string_view::npos;
  }
  if (star_front) {
    std::string_view suffix = pattern.substr(1);
    return value.size() >= suffix.size() && value.substr(value.size() - suffix.size()) == suffix;
  }
  if (star_back) return value.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return pattern == value;
}

Result<AclPolicy> ParseAclPolicy(const std::string& name, std::string_view text) {
  std::string raw(text);
  if (LooksBase64(raw)) {
    if (auto decoded = Base64Decode(raw); decoded.ok()) raw = *decoded;
  }
  // The text travels as a string, past the request's own depth check: deep nesting would recurse when copied.
  if (JsonNestingExceeds(raw, kMaxRequestJsonDepth)) return ParseError("JSON nested too deeply");
  Json doc = Json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return ParseError(
        "the policy is not JSON: this server accepts only the JSON form of Vault's policy language "
        "({\"path\":{\"pki/issue/web\":{\"capabilities\":[\"update\"]}}}), not HCL");
  }
  if (!doc.is_object()) return ParseError("does not contain a root object");
  AclPolicy policy;
  policy.name = name;
  policy.raw = raw;
  for (const auto& [k, v] : doc.items()) {
    if (k == "name") continue;
    if (k != "path") return ParseError("invalid key " + GoQuote(k));
    // HCL's JSON form allows both {"path": {...}} and {"path": [{...}, {...}]}.
    std::vector<const Json*> blocks;
    if (v.is_object()) {
      blocks.push_back(&v);
    } else if (v.is_array()) {
      for (const auto& b : v) {
        if (!b.is_object()) return ParseError("\"path\" must be an object of path patterns");
        blocks.push_back(&b);
      }
    } else {
      return ParseError("\"path\" must be an object of path patterns");
    }
    for (const Json* block : blocks) {
      for (const auto& [pattern, body] : block->items()) {
        // A pattern may also hold a list of stanzas in HCL's JSON form.
        if (body.is_array()) {
          for (const auto& b : body) {
            ASSIGN_OR_RETURN(PathRule rule, ParseRule(pattern, b));
            policy.rules.push_back(std::move(rule));
          }
          continue;
        }
        ASSIGN_OR_RETURN(PathRule rule, ParseRule(pattern, body));
        policy.rules.push_back(std::move(rule));
      }
    }
  }
  return policy;
}

Result<std::shared_ptr<const Acl>> Acl::Build(const std::vector<std::shared_ptr<const AclPolicy>>& policies) {
  std::shared_ptr<Acl> acl(new Acl());
  for (const auto& policy : policies) {
    if (!policy) continue;
    if (policy->name == "root") {
      if (policies.size() != 1) return Status::BadRequest("other policies present along with root");
      acl->root_ = true;
    }
    for (const PathRule& rule : policy->rules) {
      auto& tree = rule.has_segment_wildcards ? acl->segment_ : rule.is_prefix ? acl->prefix_ : acl->exact_;
      auto it = tree.find(rule.path);
      if (it == tree.end()) {
        tree.emplace(rule.path, rule.permissions);
      } else {
        MergeInto(&it->second, rule.permissions);
      }
    }
  }
  return std::shared_ptr<const Acl>(std::move(acl));
}

const PathPermissions* Acl::MatchNonExact(std::string_view path) const {
  struct Candidate {
    size_t first_wildcard;
    bool is_prefix;
    int wildcards;
    std::string_view pattern;
    const PathPermissions* perms;
  };
  std::vector<Candidate> candidates;
  // The longest prefix rule.
  for (size_t len = path.size() + 1; len-- > 0;) {
    auto it = prefix_.find(path.substr(0, len));
    if (it != prefix_.end()) {
      if (segment_.empty()) return &it->second;
      candidates.push_back({len, true, 0, it->first, &it->second});
      break;
    }
  }
  if (segment_.empty()) return nullptr;

  const std::vector<std::string_view> parts = SplitSegments(path);
  for (const auto& [full, perms] : segment_) {
    if (full.empty()) continue;
    Candidate c{full.find('+'), false, 0, full, &perms};
    std::string_view pattern = full;
    if (pattern.back() == '*') {
      c.is_prefix = true;
      pattern.remove_suffix(1);
    }
    c.pattern = pattern;
    const std::vector<std::string_view> want = SplitSegments(pattern);
    if (parts.size() < want.size()) continue;
    if (!c.is_prefix && parts.size() != want.size()) continue;
    bool match = true;
    for (size_t i = 0; i < want.size() && match; ++i) {
      if (want[i] == "+") {
        ++c.wildcards;
      } else if (want[i] == parts[i]) {
        // equal segment
      } else if (c.is_prefix && i + 1 == want.size() && parts[i].substr(0, want[i].size()) == want[i]) {
        // the last segment of a prefix pattern matches the start of the path's segment
      } else {
        match = false;
      }
    }
    if (match) candidates.push_back(c);
  }
  if (candidates.empty()) return nullptr;
  // Vault's priority: the best candidate sorts last.
  auto less = [](const Candidate& a, const Candidate& b) {
    if (a.first_wildcard != b.first_wildcard) return a.first_wildcard < b.first_wildcard;
    if (a.is_prefix != b.is_prefix) return a.is_prefix;
    if (a.wildcards != b.wildcards) return a.wildcards > b.wildcards;
    if (a.pattern.size() != b.pattern.size()) return a.pattern.size() < b.pattern.size();
    return a.pattern < b.pattern;
  };
  return std::max_element(candidates.begin(), candidates.end(), less)->perms;
}

const PathPermissions* Acl::Match(std::string_view path, bool list) const {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  auto trimmed = [](std::string_view p) {
    if (!p.empty() && p.back() == '/') p.remove_suffix(1);
    return p;
  };
  if (auto it = exact_.find(path); it != exact_.end()) return &it->second;
  if (list) {
    if (auto it = exact_.find(trimmed(path)); it != exact_.end()) return &it->second;
  }
  if (const PathPermissions* p = MatchNonExact(path)) return p;
  if (list && !path.empty() && path.back() == '/') return MatchNonExact(trimmed(path));
  return nullptr;
}

AclDecision Acl::Check(Operation op, std::string_view path, const Json& data) const {
  AclDecision d;
  if (root_) {
    d.allowed = d.sudo = d.root = true;
    d.capabilities = ~0u & ~kCapDeny;
    return d;
  }
  const PathPermissions* perms = Match(path, op == Operation::kList);
  if (perms == nullptr) return d;
  d.capabilities = perms->capabilities;
  d.sudo = (perms->capabilities & kCapSudo) != 0;
  uint32_t needed = 0;
  switch (op) {
    case Operation::kRead: needed = kCapRead; break;
    case Operation::kList: needed = kCapList; break;
    case Operation::kUpdate: needed = kCapUpdate; break;
    case Operation::kCreate: needed = kCapCreate; break;
    case Operation::kDelete: needed = kCapDelete; break;
    case Operation::kPatch: needed = kCapPatch; break;
    case Operation::kRevoke: needed = kCapUpdate; break;
  }
  if ((perms->capabilities & kCapDeny) || (perms->capabilities & needed) == 0) return d;
  if (op == Operation::kRead || op == Operation::kUpdate || op == Operation::kCreate || op == Operation::kPatch) {
    if (!ParametersAllowed(*perms, data)) return d;
  }
  d.allowed = true;
  return d;
}

std::vector<std::string> Acl::Capabilities(std::string_view path) const {
  if (root_) return {"root"};
  const PathPermissions* perms = Match(path, /*list=*/true);
  const uint32_t caps = perms ? perms->capabilities : 0;
  std::vector<std::string> out;
  if (!(caps & kCapDeny)) {
    for (const auto& c : kCapabilities) {
      if (c.bit != kCapDeny && (caps & c.bit)) out.push_back(c.name);
    }
  }
  if (out.empty()) return {"deny"};
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pki::server
