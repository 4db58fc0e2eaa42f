// ServerFlags: pki-server's command line, parsed as Go's flag package does for `vault server` ("-flag=value",
// "-flag value", "--flag" spellings; booleans take "=false").
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "src/core/status.h"

namespace pki::server {

struct ServerFlags {
  bool dev = false;
  bool version = false;
  bool help = false;
  std::string dev_root_token_id;                     // empty: a random token, printed at start-up
  std::string dev_listen_address = "127.0.0.1:8200";
  std::string data_dir = "./data";
  std::string plugin_path;  // the pki-plugin executable; empty: pki-plugin next to pki-server
  std::string config_file;  // -config: the JSON configuration file (see server_config.h); excludes -dev
  std::string log_level;    // -log-level (env VAULT_LOG_LEVEL); empty: the config file's, else info
  std::string audit_log_path;  // -audit-log: the audit log file (docs/audit.md); empty: none
  std::set<std::string> given;  // the flags given on the command line, by name ("data-dir")
};

// Environment lookup, injectable for tests; returns nullptr when unset.
using EnvLookup = std::function<const char*(const char*)>;

// Parses `args` (without the program name). As `vault server`, VAULT_DEV_ROOT_TOKEN_ID,
// VAULT_DEV_LISTEN_ADDRESS and VAULT_LOG_LEVEL supply defaults that flags override. BadRequest with a one-line
// reason on bad usage.
Result<ServerFlags> ParseServerFlags(const std::vector<std::string>& args, const EnvLookup& env);

// Whether the flags describe a server this build can run: -dev (with its -dev-* flags and -data-dir) or
// -config=FILE (which sets the data directory and listeners itself), not both; a valid -log-level.
Status ValidateServerFlags(const ServerFlags& flags);

// Splits "127.0.0.1:8200", "[::1]:8200" or "localhost:8200" into host and port.
Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& address);

// The usage text for -help.
std::string ServerUsage();

}  // namespace pki::server
