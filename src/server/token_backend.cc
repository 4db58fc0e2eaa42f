#include "src/server/token_backend.h"

#include <algorithm>
#include <cctype>

#include "src/core/duration.h"
#include "src/core/text.h"
#include "src/crypto/x509.h"
#include "src/engine/fields.h"

namespace pki::server {
namespace {

const FieldSchemas& CreateFields() {
  static const FieldSchemas kFields = {
      {"policies", {FieldType::kCommaStringSlice, nullptr, "policies of the token"}},
      {"meta", {FieldType::kMap, nullptr, "string metadata"}},
      {"no_parent", {FieldType::kBool, nullptr, "create an orphan (needs sudo)"}},
      {"no_default_policy", {FieldType::kBool, nullptr, "do not add the default policy"}},
      {"ttl", {FieldType::kDuration, nullptr, "time to live"}},
      {"lease", {FieldType::kDuration, nullptr, "deprecated: ttl"}},
      {"explicit_max_ttl", {FieldType::kDuration, nullptr, "hard limit on the life of the token"}},
      {"display_name", {FieldType::kString, nullptr, "name shown for the token"}},
      {"num_uses", {FieldType::kInt, nullptr, "uses allowed; 0 = unlimited"}},
      {"renewable", {FieldType::kBool, true, "whether the token may be renewed"}},
      {"type", {FieldType::kString, nullptr, "service"}},
      {"period", {FieldType::kDuration, nullptr, "not supported"}},
      {"id", {FieldType::kString, nullptr, "not supported"}},
  };
  return kFields;
}

// Vault's policyutil.SanitizePolicies: lowercased, trimmed, empty names dropped, "root" alone when present,
// "default" added on request, sorted and unique.
std::vector<std::string> SanitizePolicies(std::vector<std::string> policies, bool add_default) {
  std::vector<std::string> out;
  for (auto& p : policies) {
    std::string n = NormalizePolicyName(p);
    if (n.empty()) continue;
    if (n == "root") return {"root"};
    out.push_back(std::move(n));
  }
  if (add_default && std::find(out.begin(), out.end(), "default") == out.end()) out.push_back("default");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Vault's display name: "token-" + the name, anything outside [A-Za-z0-9-] replaced by '-', no trailing '-'.
std::string SanitizeDisplayName(const std::string& name) {
  std::string full = "token-" + name;
  for (char& c : full) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '-';
  }
  while (!full.empty() && full.back() == '-') full.pop_back();
  return full;
}

std::string StringField(const Json& data, const char* name) {
  if (!data.is_object()) return "";
  auto it = data.find(name);
  if (it == data.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

Json TokenBackend::AuthBlock(const std::string& id, const TokenEntry& e) const {
  const int64_t now = clock_->Now();
  const int64_t lease = e.expire_time == 0 ? 0 : std::max<int64_t>(0, e.expire_time - now);
  return Json{{"client_token", id},
              {"accessor", e.accessor},
              {"policies", e.policies},
              {"token_policies", e.policies},
              {"metadata", e.meta},
              {"lease_duration", lease},
              {"renewable", e.renewable && e.expire_time != 0},
              {"entity_id", ""},
              {"token_type", "service"},
              {"orphan", e.orphan()},
              {"mfa_requirement", nullptr},
              {"num_uses", e.num_uses}};
}

Json TokenBackend::LookupData(const TokenEntry& e, const std::string& id) const {
  const int64_t now = clock_->Now();
  Json out{{"accessor", e.accessor},
           {"creation_time", e.creation_time},
           {"creation_ttl", e.ttl},
           {"display_name", e.display_name},
           {"entity_id", ""},
           {"expire_time", nullptr},
           {"explicit_max_ttl", e.explicit_max_ttl},
           {"id", id},
           {"meta", e.meta},
           {"num_uses", e.num_uses},
           {"orphan", e.orphan()},
           {"path", e.path},
           {"policies", e.policies},
           {"ttl", 0},
           {"type", "service"}};
  if (e.expire_time != 0) {
    out["expire_time"] = FormatRfc3339(e.expire_time);
    out["ttl"] = std::max<int64_t>(0, e.expire_time - now);
    out["issue_time"] = FormatRfc3339(e.creation_time);
    out["renewable"] = e.renewable;
  }
  return out;
}

Result<Response> TokenBackend::HandleRequest(const Request& req) {
  const std::string& path = req.path;
  const Operation op = req.operation;
  const bool write = op == Operation::kUpdate || op == Operation::kCreate;
  if (path == "create" || path == "create-orphan") {
    if (!write) return Status::Unsupported();
    return Create(req, path == "create-orphan");
  }
  if (path == "lookup-self") {
    if (op != Operation::kRead && !write) return Status::Unsupported();
    return Lookup(req.client_token);
  }
  if (path == "lookup") {
    if (op != Operation::kRead && !write) return Status::Unsupported();
    std::string token = StringField(req.data, "token");
    return Lookup(token.empty() ? req.client_token : token);
  }
  if (path == "lookup-accessor") {
    if (!write) return Status::Unsupported();
    const std::string accessor = StringField(req.data, "accessor");
    if (accessor.empty()) return Status::BadRequest("missing accessor");
    ASSIGN_OR_RETURN(std::optional<TokenEntry> e, tokens_->FindByAccessor(accessor));
    if (!e) return Status::BadRequest("invalid accessor");
    return Response::Data(LookupData(*e, ""));
  }
  if (path == "renew-self" || path == "renew") {
    if (!write) return Status::Unsupported();
    std::string token = path == "renew" ? StringField(req.data, "token") : req.client_token;
    if (token.empty()) return Status::BadRequest("missing token ID");
    return Renew(token, req.data.is_object() ? req.data.value("increment", Json()) : Json());
  }
  if (path == "renew-accessor") {
    if (!write) return Status::Unsupported();
    const std::string accessor = StringField(req.data, "accessor");
    if (accessor.empty()) return Status::BadRequest("missing accessor");
    ASSIGN_OR_RETURN(std::optional<TokenEntry> e, tokens_->FindByAccessor(accessor));
    if (!e) return Status::BadRequest("invalid accessor");
    return RenewEntry(*e, "", req.data.is_object() ? req.data.value("increment", Json()) : Json());
  }
  if (path == "revoke-self") {
    if (!write) return Status::Unsupported();
    RETURN_IF_ERROR(tokens_->Revoke(req.client_token));
    return Response::Nil();
  }
  if (path == "revoke") {
    if (!write) return Status::Unsupported();
    const std::string token = StringField(req.data, "token");
    if (token.empty()) return Status::BadRequest("missing token ID");
    RETURN_IF_ERROR(tokens_->Revoke(token));
    return Response::Nil();
  }
  if (path == "revoke-accessor") {
    if (!write) return Status::Unsupported();
    const std::string accessor = StringField(req.data, "accessor");
    if (accessor.empty()) return Status::BadRequest("missing accessor");
    ASSIGN_OR_RETURN(std::optional<TokenEntry> e, tokens_->FindByAccessor(accessor));
    if (!e) return Status::BadRequest("invalid accessor");
    RETURN_IF_ERROR(tokens_->RevokeTree(e->digest));
    return Response::Nil();
  }
  return Status::NotFound("unsupported path");
}

Result<Response> TokenBackend::Lookup(const std::string& token) {
  if (token.empty()) return Status::BadRequest("missing token ID");
  ASSIGN_OR_RETURN(std::optional<TokenEntry> e, tokens_->FindIncludingUsedUp(token));
  if (!e) return Status::PermissionDenied("bad token");
  return Response::Data(LookupData(*e, token));
}

Result<Response> TokenBackend::Renew(const std::string& token, const Json& increment_raw) {
  ASSIGN_OR_RETURN(std::optional<TokenEntry> e, tokens_->Find(token));
  if (!e) return Status::BadRequest("token not found");
  return RenewEntry(*e, token, increment_raw);
}

Result<Response> TokenBackend::RenewEntry(const TokenEntry& entry, const std::string& token,
                                          const Json& increment_raw) {
  int64_t increment = 0;
  if (!increment_raw.is_null()) {
    ASSIGN_OR_RETURN(Json parsed, ParseField("increment", FieldType::kDuration, increment_raw));
    increment = parsed.get<int64_t>();
  }
  ASSIGN_OR_RETURN(auto renewed, tokens_->Renew(entry, increment));
  Response r;
  r.auth = AuthBlock(token, renewed.first);
  if (!renewed.second.empty()) r.warnings.push_back(renewed.second);
  return r;
}

Result<Response> TokenBackend::Create(const Request& req, bool orphan) {
  ASSIGN_OR_RETURN(std::optional<TokenEntry> parent, tokens_->Find(req.client_token));
  if (!parent) return Status::BadRequest("parent token lookup failed: no parent found");
  std::vector<std::string> ignored;
  ASSIGN_OR_RETURN(FieldData d, FieldData::Parse(&CreateFields(), req.data, &ignored));

  // A token with limited uses could escape its limit through children.
  if (parent->num_uses != 0) return Status::BadRequest("restricted use token cannot generate child tokens");
  const std::string type = d.GetString("type");
  if (type == "batch") return Status::BadRequest("batch tokens are not supported by this server");
  if (!type.empty() && type != "service") return Status::BadRequest("invalid 'token_type' value");
  if (d.GetDuration("period") != 0) return Status::BadRequest("periodic tokens are not supported by this server");
  if (!d.GetString("id").empty()) return Status::BadRequest("custom token ids are not supported by this server");
  const int64_t num_uses = d.GetInt("num_uses");
  if (num_uses < 0) return Status::BadRequest("number of uses cannot be negative");
  Json meta = nullptr;
  if (d.Has("meta")) {
    meta = d.Get("meta");
    for (const auto& [k, v] : meta.items()) {
      if (!v.is_string()) return Status::BadRequest("meta values must be strings (key " + GoQuote(k) + ")");
    }
  }

  ASSIGN_OR_RETURN(std::shared_ptr<const Acl> parent_acl, policies_->AclFor(parent->policies));
  const bool sudo = parent_acl->Check(Operation::kUpdate, "auth/token/" + req.path, req.data).sudo;

  // Policies, as Vault's resolveTokenPolicies without token roles.
  const bool no_default = d.GetBool("no_default_policy");
  std::vector<std::string> requested = d.GetStrings("policies");
  bool add_default = false;
  std::vector<std::string> policies;
  if (requested.empty()) {
    policies = SanitizePolicies(parent->policies, false);  // inherit; "default" only if the parent has it
  } else if (!sudo) {
    std::vector<std::string> want = SanitizePolicies(requested, false);
    std::vector<std::string> have = SanitizePolicies(parent->policies, false);
    for (const auto& p : want) {
      if (!Contains(have, p)) return Status::BadRequest("child policies must be subset of parent");
    }
    policies = std::move(want);
    add_default = !no_default && Contains(parent->policies, "default");
  } else {
    policies = SanitizePolicies(requested, false);
    add_default = !no_default;
  }
  policies = SanitizePolicies(policies, add_default);
  if (no_default) policies.erase(std::remove(policies.begin(), policies.end(), "default"), policies.end());
  const bool root = Contains(policies, "root");
  if (root && !parent->root()) {
    return Status::BadRequest("root tokens may not be created without parent token being root");
  }

  TokenSpec spec;
  if (d.GetBool("no_parent")) {
    if (!sudo) return Status::BadRequest("root or sudo privileges required to create orphan token");
    orphan = true;
  }
  spec.parent = orphan ? nullptr : &*parent;
  spec.policies = policies;
  spec.path = "auth/token/" + req.path;
  spec.display_name = d.GetString("display_name").empty() ? "token" : SanitizeDisplayName(d.GetString("display_name"));
  spec.meta = meta;
  spec.num_uses = num_uses;

  // TTLs, as Vault's CalculateTTL with the system default and maximum (768h).
  std::vector<std::string> warnings;
  int64_t ttl = d.GetDuration("ttl");
  if (ttl == 0) ttl = d.GetDuration("lease");
  const int64_t explicit_max = d.GetDuration("explicit_max_ttl");
  if (ttl > 0 || !root) {
    if (ttl == 0) ttl = kTokenDefaultTtl;
    int64_t max_ttl = kTokenMaxTtl;
    if (explicit_max > 0 && explicit_max < max_ttl) max_ttl = explicit_max;
    if (ttl > max_ttl) {
      warnings.push_back("TTL of \"" + FormatGoDuration(ttl) + "\" exceeded the effective max_ttl of \"" +
                         FormatGoDuration(max_ttl) + "\"; TTL value is capped accordingly");
      ttl = max_ttl;
    }
  }
  if (ttl == 0 && explicit_max > 0) ttl = explicit_max;
  bool renewable = d.GetBool("renewable");
  if (ttl == 0) {
    if (parent->expire_time != 0) {
      return Status::BadRequest("expiring root tokens cannot create non-expiring root tokens");
    }
    renewable = false;
  }
  spec.ttl = ttl;
  spec.explicit_max_ttl = explicit_max;
  spec.renewable = renewable;

  ASSIGN_OR_RETURN(auto created, tokens_->Create(spec));
  for (const auto& p : policies) {
    if (p == "root") continue;
    ASSIGN_OR_RETURN(std::optional<std::string> text, policies_->GetPolicyText(p));
    if (!text) warnings.push_back("Policy \"" + p + "\" does not exist");
  }
  Response r;
  r.auth = AuthBlock(created.first, created.second);
  r.warnings = std::move(warnings);
  return r;
}

}  // namespace pki::server
