#include "src/server/token_store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace pki::server {

TokenStore::TokenStore(std::string_view root_token) : root_digest_(Hash(root_token)) {}

TokenStore::Digest TokenStore::Hash(std::string_view token) {
  Digest d{};
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

bool TokenStore::IsValid(std::string_view token) const {
  if (token.empty()) return false;
  Digest d = Hash(token);
  return CRYPTO_memcmp(d.data(), root_digest_.data(), d.size()) == 0;
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

}  // namespace pki::server
