// The vault CLI's client settings, shared by pkictl and `pki-server operator`: a flag over its environment
// variable over a default.
#pragma once

#include <optional>
#include <string>

#include "src/cli/pkictl.h"

namespace pki::cli {

// The variable's value, or `fallback` when it is unset or empty.
std::string EnvOr(const CliEnvironment& e, const std::string& key, const std::string& fallback = "");

// `flag`, else VAULT_ADDR, else `fallback`; trailing slashes dropped.
std::string ResolveAddress(const std::string& flag, const CliEnvironment& e, const std::string& fallback);

// VAULT_TOKEN, else ~/.vault-token (vault's default token helper); surrounding whitespace dropped.
std::string ResolveToken(const CliEnvironment& e);

// `flags` with each empty file setting taken from VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT or
// VAULT_CLIENT_KEY; skip_verify stays as given.
TlsOptions ResolveTls(TlsOptions flags, const CliEnvironment& e);

}  // namespace pki::cli
