// ServerConfig: pki-server's configuration file (pki-server -config=FILE), JSON as Vault's JSON configuration,
// with // and /* */ comments allowed. Every key is documented in docs/deploy.md:
//   {"listeners": [{"address", "tls_disable", "tls_cert_file", "tls_key_file", "tls_client_ca_file",
//                   "tls_require_and_verify_client_cert", "tls_min_version", "max_request_size",
//                   "max_request_duration", "http_read_header_timeout", "http_read_timeout",
//                   "http_write_timeout", "http_idle_timeout"}],
//    "data_dir", "plugin", "log_level", "audit_log", "root_token_file",
//    "mounts": [{"path", "type", "description", "options", "config": {"default_lease_ttl", "max_lease_ttl"}}],
//    "policies": {"<name>": <policy in Vault's JSON form, as an object or as its text>},
//    "tokens": [{"id" | "id_file", "policies", "display_name"}]}
// Parsing is strict: an unknown or repeated key, a value of the wrong type or out of range fails with a message
// naming the key (a typo in a security setting must not pass silently). Files are not read here (the listeners
// read their certificates when they start); only paths are checked for being set.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/status.h"
#include "src/server/http_server.h"
#include "src/server/mount_setup.h"
#include "src/server/server_log.h"

namespace pki::server {

// Vault's listener defaults.
inline constexpr size_t kDefaultMaxRequestSize = 32 * 1024 * 1024;
inline constexpr std::chrono::milliseconds kDefaultMaxRequestDuration{90'000};
inline constexpr std::chrono::milliseconds kDefaultHttpReadHeaderTimeout{10'000};
inline constexpr std::chrono::milliseconds kDefaultHttpReadTimeout{30'000};
inline constexpr std::chrono::milliseconds kDefaultHttpIdleTimeout{300'000};

// A policy the file declares: written to the policy store at every start (the file wins over API edits).
struct ConfiguredPolicy {
  std::string name;  // normalised (lowercase)
  std::string text;  // Vault's JSON policy text, already checked to parse
};

// A token the file declares: held in memory only, valid while the file declares it. Its policies include
// "default" unless it is a root token, as auth/token/create's tokens do.
struct ConfiguredToken {
  std::string id;  // the token itself (from "id" or read from "id_file")
  std::vector<std::string> policies;
  std::string display_name;
};

struct ServerConfig {
  std::vector<ListenerOptions> listeners;  // at least one
  std::string data_dir;                    // required
  std::string plugin;                      // the pki-plugin executable; empty: next to pki-server
  std::optional<LogLevel> log_level;       // absent: info (unless -log-level says otherwise)
  std::string audit_log;                   // empty: no audit log
  std::string root_token_file;             // default: <data_dir>/root-token
  std::vector<ConfiguredMount> mounts;
  std::vector<ConfiguredPolicy> policies;
  std::vector<ConfiguredToken> tokens;
  std::vector<std::string> warnings;       // settings that are accepted but probably not what was meant
};

// Parses a configuration document. BadRequest naming the offending key ("listeners[0].tls_cert_file: ...").
// Token "id_file"s are read here (surrounding whitespace trimmed); messages name the file, never a token.
Result<ServerConfig> ParseServerConfig(std::string_view text);

// Reads and parses the file at `path`. A file that other users can read or that group/others can write is
// accepted with a warning in ServerConfig::warnings (it will hold tokens and policies).
Result<ServerConfig> LoadServerConfigFile(const std::string& path);

// The root token of a non-dev server, kept in a file.
struct RootTokenFile {
  std::string token;
  bool created = false;  // generated and written on this start
};

// Reads the root token from `path` (surrounding whitespace ignored), or, when the file does not exist, generates
// a random one ("hvs." and 24 alphanumerics) and writes it there with mode 0600, failing rather than replacing a
// file that appeared meanwhile. The parent directory must exist. Messages name the file, never the token.
// The steps, for a caller that writes the file only once everything else has started (DevServer):
Result<RootTokenFile> LoadOrCreateRootToken(const std::string& path);
// The token in `path` (surrounding whitespace ignored); nullopt when the file does not exist. Empty or several
// tokens: BadRequest. A file others can access logs a warning. `what` names the file in messages.
Result<std::optional<std::string>> ReadTokenFile(const std::string& path, const std::string& what);
// ReadTokenFile of the root token's file.
inline Result<std::optional<std::string>> ReadRootTokenFile(const std::string& path) {
  return ReadTokenFile(path, "root token file");
}
// A new random root token, "hvs." and 24 alphanumerics.
Result<std::string> NewRootToken();
// Whether `path` could be created: its directory exists and is writable (checked before anything else changes).
Status CheckRootTokenFileCreatable(const std::string& path);
// Writes `token` to the new file `path` (mode 0600, fsynced); fails if the file exists.
Status WriteRootTokenFile(const std::string& path, const std::string& token);

}  // namespace pki::server
