// PolicyBackend: the sys/ paths of ACL policies and capabilities, in Vault's shapes (paths relative to "sys/"):
//   policies/acl                 LIST: {keys} (stored policies, then "root")
//   policies/acl/<name>          GET: {name, policy}; PUT/POST {policy}; DELETE
//   policy                       GET or LIST: {policies, keys} (the older API hvac's sys.list_policies uses)
//   policy/<name>                GET: {name, rules}; PUT/POST {policy} or {rules}; DELETE
//   capabilities-self            POST {paths} or {path}: the caller's capabilities on each path
//   capabilities                 POST {token, paths}: another token's
//   capabilities-accessor        POST {accessor, paths}: a token's, by accessor
// Capabilities answer {"<path>": [...], ...} plus "capabilities" when one path was asked (Vault's
// compatibility key). SysBackend forwards these paths here.
// Thread-safe: all state lives in the stores.
#pragma once

#include <string>
#include <vector>

#include "src/engine/request.h"
#include "src/server/policy_store.h"
#include "src/server/token_store.h"

namespace pki::server {

class PolicyBackend final : public LogicalBackend {
 public:
  // Both stores must outlive the backend.
  PolicyBackend(PolicyStore* policies, TokenStore* tokens) : policies_(policies), tokens_(tokens) {}

  // Whether SysBackend should forward the sys/-relative `path` here.
  static bool Serves(const std::string& path);

  Result<Response> HandleRequest(const Request& req) override;
  std::vector<std::string> UnauthenticatedPaths() const override { return {}; }

 private:
  Result<Response> List(bool old_api);
  Result<Response> Read(const std::string& name, bool old_api);
  Result<Response> Write(const std::string& name, const Json& data, bool old_api);
  Result<Response> Capabilities(const std::optional<TokenEntry>& token, const Json& data);

  PolicyStore* const policies_;
  TokenStore* const tokens_;
};

}  // namespace pki::server
