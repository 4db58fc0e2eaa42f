// TokenStore: the server's in-process token store. In dev mode it knows one token, the root token.
//
// Tokens are kept only as SHA-256 digests and compared in constant time, so neither timing nor a memory dump of
// the comparison reveals the token. Immutable after construction: safe for concurrent use.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "src/server/http_message.h"

namespace pki::server {

class TokenStore {
 public:
  // `root_token` must not be empty.
  explicit TokenStore(std::string_view root_token);

  // Whether `token` grants access (it is the root token). The empty token never does.
  bool IsValid(std::string_view token) const;

  // The client token of a request, as Vault reads it: X-Vault-Token, else "Authorization: Bearer <token>".
  static std::string ClientToken(const HttpRequest& req);

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest Hash(std::string_view token);

  Digest root_digest_;
};

}  // namespace pki::server
