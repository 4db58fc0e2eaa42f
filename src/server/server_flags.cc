#include "src/server/server_flags.h"

#include <charconv>
#include <optional>

#include "src/core/text.h"
#include "src/server/server_log.h"

namespace pki::server {
namespace {

enum class FlagKind { kBool, kString };

struct FlagDef {
  const char* name;
  FlagKind kind;
  bool ServerFlags::*bool_field;
  std::string ServerFlags::*string_field;
};

const FlagDef kFlags[] = {
    {"dev", FlagKind::kBool, &ServerFlags::dev, nullptr},
    {"version", FlagKind::kBool, &ServerFlags::version, nullptr},
    {"help", FlagKind::kBool, &ServerFlags::help, nullptr},
    {"h", FlagKind::kBool, &ServerFlags::help, nullptr},
    {"dev-root-token-id", FlagKind::kString, nullptr, &ServerFlags::dev_root_token_id},
    {"dev-listen-address", FlagKind::kString, nullptr, &ServerFlags::dev_listen_address},
    {"data-dir", FlagKind::kString, nullptr, &ServerFlags::data_dir},
    {"plugin", FlagKind::kString, nullptr, &ServerFlags::plugin_path},
    {"config", FlagKind::kString, nullptr, &ServerFlags::config_file},
    {"audit-log", FlagKind::kString, nullptr, &ServerFlags::audit_log_path},
    {"log-level", FlagKind::kString, nullptr, &ServerFlags::log_level},
};

const FlagDef* FindFlag(const std::string& name) {
  for (const auto& f : kFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

}  // namespace

Result<ServerFlags> ParseServerFlags(const std::vector<std::string>& args, const EnvLookup& env) {
  ServerFlags flags;
  if (const char* v = env("VAULT_DEV_ROOT_TOKEN_ID"); v != nullptr && *v != '\0') flags.dev_root_token_id = v;
  if (const char* v = env("VAULT_DEV_LISTEN_ADDRESS"); v != nullptr && *v != '\0') flags.dev_listen_address = v;
  if (const char* v = env("VAULT_LOG_LEVEL"); v != nullptr && *v != '\0') flags.log_level = v;

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) return Status::BadRequest("unexpected argument: " + args[i + 1]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') return Status::BadRequest("unexpected argument: " + arg);
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      value = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    const FlagDef* def = FindFlag(body);
    if (def == nullptr) return Status::BadRequest("flag provided but not defined: -" + body);
    flags.given.insert(def->name);
    if (def->kind == FlagKind::kBool) {
      bool b = true;
      if (value) {
        std::optional<bool> parsed = ParseGoBool(*value);
        if (!parsed) return Status::BadRequest("invalid boolean value \"" + *value + "\" for -" + body);
        b = *parsed;
      }
      flags.*(def->bool_field) = b;
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return Status::BadRequest("flag needs an argument: -" + body);
      value = args[++i];
    }
    flags.*(def->string_field) = *value;
  }
  return flags;
}

Status ValidateServerFlags(const ServerFlags& flags) {
  if (!flags.log_level.empty() && !ParseLogLevel(flags.log_level)) {
    return Status::BadRequest("unknown log level \"" + flags.log_level +
                              "\": use trace, debug, info, warn or error");
  }
  if (flags.dev && !flags.config_file.empty()) {
    return Status::BadRequest("-dev and -config cannot be used together");
  }
  if (flags.given.count("config") != 0 && flags.config_file.empty()) {
    return Status::BadRequest("-config must name a file");
  }
  if (!flags.config_file.empty()) {
    for (const char* dev_only : {"dev-root-token-id", "dev-listen-address"}) {
      if (flags.given.count(dev_only) != 0) {
        return Status::BadRequest(std::string("-") + dev_only + " applies only with -dev");
      }
    }
    if (flags.given.count("data-dir") != 0) {
      return Status::BadRequest("-data-dir applies only with -dev: set data_dir in the config file");
    }
    return Status::Ok();
  }
  if (!flags.dev) return Status::BadRequest("either -dev or -config=FILE is required");
  if (flags.data_dir.empty()) return Status::BadRequest("-data-dir must not be empty");
  auto hp = SplitHostPort(flags.dev_listen_address);
  if (!hp.ok()) return hp.status();
  return Status::Ok();
}

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& address) {
  std::string host, port;
  if (!address.empty() && address[0] == '[') {
    size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return Status::BadRequest("invalid listen address \"" + address + "\": want [host]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) {
      return Status::BadRequest("invalid listen address \"" + address + "\": want host:port");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.empty()) host = "0.0.0.0";
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return Status::BadRequest("invalid port in listen address \"" + address + "\"");
  }
  return std::make_pair(host, static_cast<uint16_t>(value));
}

std::string ServerUsage() {
  return "Usage: pki-server -dev [options]\n"
         "       pki-server -config=FILE [-plugin=PATH] [-log-level=LEVEL] [-audit-log=PATH]\n"
         "       pki-server operator backup [options] PATH   (see pki-server operator backup -h)\n"
         "\n"
         "  Starts a Vault-compatible server for the PKI secrets engine: with -dev, a development server\n"
         "  with PKI mounted at pki/; with -config, a server as the JSON file describes (listeners with\n"
         "  TLS, data directory, mounts; see docs/deploy.md).\n"
         "\n"
         "Options:\n"
         "  -config=FILE                  The JSON configuration file. Excludes -dev.\n"
         "  -dev                          Run a development server: plain HTTP, one root token.\n"
         "  -dev-root-token-id=TOKEN      The root token (default: random, printed at start-up;\n"
         "                                env VAULT_DEV_ROOT_TOKEN_ID).\n"
         "  -dev-listen-address=ADDR      host:port to listen on (default 127.0.0.1:8200;\n"
         "                                env VAULT_DEV_LISTEN_ADDRESS).\n"
         "  -data-dir=DIR                 Where mounts and their data persist (default ./data; -dev only).\n"
         "  -plugin=PATH                  The pki-plugin executable launched for each PKI mount\n"
         "                                (default: the config file's \"plugin\", else pki-plugin next to\n"
         "                                pki-server).\n"
         "  -audit-log=PATH               Append an audit log (Vault's file audit format, secrets\n"
         "                                HMAC'd) to PATH; SIGHUP reopens it (docs/audit.md). Overrides\n"
         "                                the config file's audit_log.\n"
         "  -log-level=LEVEL              trace, debug, info, warn or error (env VAULT_LOG_LEVEL;\n"
         "                                default: the config file's log_level, else info).\n"
         "  -version                      Print the version and exit.\n";
}

}  // namespace pki::server
