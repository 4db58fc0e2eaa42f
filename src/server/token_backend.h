// TokenBackend: Vault's token auth method (auth/token/) over the TokenStore. Paths relative to "auth/token/":
//   create, create-orphan        POST: a child (or orphan) token; answers with Vault's "auth" block
//   lookup-self                  GET/POST: the caller's token
//   lookup                       POST {token} (GET ?token=): any token
//   lookup-accessor              POST {accessor}: a token by accessor (its id is not shown)
//   renew-self, renew            POST {increment} / {token, increment}
//   renew-accessor               POST {accessor, increment}
//   revoke-self, revoke          POST / {token}: the token and all its descendants
//   revoke-accessor              POST {accessor}
// Creation follows Vault's rules: a token with limited uses cannot create tokens; without sudo on the creation
// path the child's policies must be a subset of the parent's, and no_parent is refused; only a root token creates
// root tokens; TTLs default to 768h and are capped by 768h and explicit_max_ttl. Periodic and batch tokens and
// custom ids are not supported (400).
// VaultApi authorizes every request before it arrives here; the caller's token comes in Request::client_token.
// Thread-safe: all state lives in the stores.
#pragma once

#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/engine/request.h"
#include "src/server/policy_store.h"
#include "src/server/token_store.h"

namespace pki::server {

class TokenBackend final : public LogicalBackend {
 public:
  // Every pointer must outlive the backend.
  TokenBackend(TokenStore* tokens, PolicyStore* policies, const Clock* clock)
      : tokens_(tokens), policies_(policies), clock_(clock) {}

  Result<Response> HandleRequest(const Request& req) override;
  std::vector<std::string> UnauthenticatedPaths() const override { return {}; }
  // As Vault's token store (neither path is served here; declared so a policy cannot reach them without sudo).
  std::vector<std::string> RootPaths() const override { return {"revoke-orphan/*", "accessors*"}; }

  // Vault's lookup data of `entry` ("id" is `id`: the token for lookups by token, "" by accessor).
  Json LookupData(const TokenEntry& entry, const std::string& id) const;

 private:
  Result<Response> Create(const Request& req, bool orphan);
  Result<Response> Lookup(const std::string& token);
  Result<Response> Renew(const std::string& token, const Json& increment);
  // Renews `entry`; the auth block shows `token` as client_token ("" when renewed by accessor, as Vault does).
  Result<Response> RenewEntry(const TokenEntry& entry, const std::string& token, const Json& increment);
  Json AuthBlock(const std::string& id, const TokenEntry& entry) const;

  TokenStore* const tokens_;
  PolicyStore* const policies_;
  const Clock* const clock_;
};

}  // namespace pki::server
