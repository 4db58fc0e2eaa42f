// pkictl: the vault CLI's verbs for the paths this project serves (read, write, patch, list, delete, status,
// secrets enable|disable|list|tune), with its flags, environment, output and exit codes (0 success, 1 local
// error such as bad arguments, 2 an error from the server or the connection). Works against pki-server or Vault.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "src/cli/cli_input.h"
#include "src/cli/http_client.h"

namespace pki::cli {

struct CliEnvironment {
  std::map<std::string, std::string> env;  // VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, VAULT_SKIP_VERIFY, HOME, ...
  InputSources input;
  std::function<std::unique_ptr<HttpTransport>(const TlsOptions&)> transport;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool out_is_terminal = false;  // -field prints a trailing newline only to a terminal, as vault does
};

// Runs pkictl with `args` (without the program name). Returns the exit code.
int RunPkictl(const std::vector<std::string>& args, CliEnvironment& env);

}  // namespace pki::cli
