// TokenBackend: the part of Vault's token auth method (auth/token/) that clients use to check their token:
// lookup-self, which `vault login`, `vault token lookup` and hvac's is_authenticated() call.
// Immutable after construction: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/engine/request.h"

namespace pki::server {

class TokenBackend final : public LogicalBackend {
 public:
  // `root_token` is the one token of a dev server; `accessor` names it without revealing it.
  TokenBackend(std::string root_token, std::string accessor, int64_t creation_time);

  // Paths relative to "auth/token/": "lookup-self" (read or update). Only reached with a valid token.
  Result<Response> HandleRequest(const Request& req) override;
  std::vector<std::string> UnauthenticatedPaths() const override { return {}; }

 private:
  const std::string root_token_;
  const std::string accessor_;
  const int64_t creation_time_;
};

}  // namespace pki::server
