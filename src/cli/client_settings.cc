#include "src/cli/client_settings.h"

#include <cctype>
#include <fstream>
#include <iterator>

namespace pki::cli {

std::string EnvOr(const CliEnvironment& e, const std::string& key, const std::string& fallback) {
  auto it = e.env.find(key);
  return it == e.env.end() || it->second.empty() ? fallback : it->second;
}

std::string ResolveAddress(const std::string& flag, const CliEnvironment& e, const std::string& fallback) {
  std::string addr = !flag.empty() ? flag : EnvOr(e, "VAULT_ADDR", fallback);
  while (!addr.empty() && addr.back() == '/') addr.pop_back();
  return addr;
}

std::string ResolveToken(const CliEnvironment& e) {
  std::string token = EnvOr(e, "VAULT_TOKEN");
  if (token.empty() && !EnvOr(e, "HOME").empty()) {
    std::ifstream f(EnvOr(e, "HOME") + "/.vault-token");
    token.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(token.begin());
  return token;
}

TlsOptions ResolveTls(TlsOptions flags, const CliEnvironment& e) {
  if (flags.ca_cert.empty()) flags.ca_cert = EnvOr(e, "VAULT_CACERT");
  if (flags.ca_path.empty()) flags.ca_path = EnvOr(e, "VAULT_CAPATH");
  if (flags.client_cert.empty()) flags.client_cert = EnvOr(e, "VAULT_CLIENT_CERT");
  if (flags.client_key.empty()) flags.client_key = EnvOr(e, "VAULT_CLIENT_KEY");
  return flags;
}

}  // namespace pki::cli
