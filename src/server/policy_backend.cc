#include "src/server/policy_backend.h"

#include "src/engine/fields.h"

namespace pki::server {
namespace {

constexpr char kAclPrefix[] = "policies/acl/";
constexpr char kOldPrefix[] = "policy/";

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

bool PolicyBackend::Serves(const std::string& path) {
  std::string p = path;
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p == "policy" || p == "policies/acl" || StartsWith(p, kOldPrefix) || StartsWith(p, kAclPrefix) ||
         p == "capabilities" || p == "capabilities-self" || p == "capabilities-accessor";
}

Result<Response> PolicyBackend::HandleRequest(const Request& req) {
  std::string path = req.path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  const Operation op = req.operation;
  const bool write = op == Operation::kUpdate || op == Operation::kCreate;

  if (path == "capabilities-self" || path == "capabilities" || path == "capabilities-accessor") {
    if (!write) return Status::Unsupported();
    const Json& data = req.data;
    auto field = [&](const char* name) {
      return data.is_object() && data.contains(name) && data[name].is_string() ? data[name].get<std::string>()
                                                                                : std::string();
    };
    std::optional<TokenEntry> token;
    if (path == "capabilities-self") {
      ASSIGN_OR_RETURN(token, tokens_->Find(req.client_token));
    } else if (path == "capabilities") {
      const std::string t = field("token");
      if (t.empty()) return Status::BadRequest("missing token");
      ASSIGN_OR_RETURN(token, tokens_->Find(t));
    } else {
      const std::string a = field("accessor");
      if (a.empty()) return Status::BadRequest("missing accessor");
      ASSIGN_OR_RETURN(token, tokens_->FindByAccessor(a));
    }
    return Capabilities(token, data);
  }

  const bool old_api = path == "policy" || StartsWith(path, kOldPrefix);
  if (path == "policy" || path == "policies/acl") {
    if (op == Operation::kList || (old_api && op == Operation::kRead)) return List(old_api);
    return Status::Unsupported();
  }
  const std::string name = path.substr(old_api ? sizeof(kOldPrefix) - 1 : sizeof(kAclPrefix) - 1);
  switch (op) {
    case Operation::kRead: return Read(name, old_api);
    case Operation::kCreate:
    case Operation::kUpdate: return Write(name, req.data, old_api);
    case Operation::kDelete:
      RETURN_IF_ERROR(policies_->DeletePolicy(name));
      return Response::Nil();
    default: return Status::Unsupported();
  }
}

Result<Response> PolicyBackend::List(bool old_api) {
  ASSIGN_OR_RETURN(std::vector<std::string> keys, policies_->ListPolicies());
  keys.push_back("root");
  Json data{{"keys", keys}};
  if (old_api) data["policies"] = keys;
  return Response::Data(std::move(data));
}

Result<Response> PolicyBackend::Read(const std::string& raw_name, bool old_api) {
  const std::string name = NormalizePolicyName(raw_name);
  ASSIGN_OR_RETURN(std::optional<std::string> text, policies_->GetPolicyText(name));
  if (!text) return Response::Nil();
  return Response::Data({{"name", name}, {old_api ? "rules" : "policy", *text}});
}

Result<Response> PolicyBackend::Write(const std::string& raw_name, const Json& data, bool old_api) {
  Response r;
  const std::string name = NormalizePolicyName(raw_name);
  if (!name.empty() && name != raw_name) r.warnings.push_back("policy name was converted to " + name);
  auto text_of = [&](const char* key) -> Result<std::string> {
    if (!data.is_object() || !data.contains(key) || data[key].is_null()) return std::string();
    if (!data[key].is_string()) {
      std::string message = "'";
      message.append(key).append("' must be a string");
      return Status::BadRequest(message);
    }
    return data[key].get<std::string>();
  };
  ASSIGN_OR_RETURN(std::string text, text_of("policy"));
  if (text.empty() && old_api) {
    ASSIGN_OR_RETURN(text, text_of("rules"));
    if (!text.empty()) r.warnings.push_back("'rules' is deprecated, please use 'policy' instead");
  }
  RETURN_IF_ERROR(policies_->PutPolicy(raw_name, text));
  if (r.warnings.empty()) return Response::Nil();
  return r;
}

Result<Response> PolicyBackend::Capabilities(const std::optional<TokenEntry>& token, const Json& data) {
  const Json* raw = nullptr;
  if (data.is_object()) {
    if (auto it = data.find("paths"); it != data.end() && !it->is_null()) raw = &*it;
    if (auto it = data.find("path"); raw == nullptr && it != data.end()) raw = &*it;
  }
  std::vector<std::string> paths;
  if (raw != nullptr) {
    ASSIGN_OR_RETURN(Json parsed, ParseField("paths", FieldType::kCommaStringSlice, *raw));
    paths = parsed.get<std::vector<std::string>>();
  }
  if (paths.empty()) return Status::BadRequest("missing paths");
  if (!token) return Status::BadRequest("invalid token");
  ASSIGN_OR_RETURN(std::shared_ptr<const Acl> acl, policies_->AclFor(token->policies));
  Json out = Json::object();
  for (const auto& p : paths) {
    if (token->policies.empty()) {
      out[p] = {"deny"};
    } else {
      out[p] = acl->Capabilities(p);
    }
  }
  if (paths.size() == 1) out["capabilities"] = out[paths[0]];
  return Response::Data(std::move(out));
}

}  // namespace pki::server
