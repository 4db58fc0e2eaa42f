// `pki-server operator backup [flags] PATH`: asks a running pki-server to write a backup of its data directory to
// PATH, a new directory on the server's machine (POST /v1/sys/storage/backup; a root token, or one with sudo on
// that path). A client like `vault operator raft snapshot save`: env VAULT_ADDR (default http://127.0.0.1:8200),
// VAULT_TOKEN (else ~/.vault-token), VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY,
// VAULT_SKIP_VERIFY, and the flags -address, -ca-cert, -ca-path, -client-cert, -client-key, -tls-skip-verify.
// Prints what was written; exit 0 on success, 1 for bad usage, 2 when the server or the connection fails (with
// the server's error messages).
#pragma once

#include <string>
#include <vector>

#include "src/cli/pkictl.h"

namespace pki::cli {

// Runs `pki-server operator ...` with `args` (after "operator"). Returns the exit code.
int RunOperator(const std::vector<std::string>& args, CliEnvironment& env);

// The usage text of `pki-server operator backup`.
std::string OperatorBackupUsage();

}  // namespace pki::cli
