#include "src/cli/operator_backup.h"

#include <algorithm>
#include <iomanip>
#include <optional>

#include <nlohmann/json.hpp>

#include "src/cli/client_settings.h"
#include "src/core/text.h"

namespace pki::cli {
namespace {

using Json = nlohmann::json;

constexpr int kOk = 0;
constexpr int kUsage = 1;
constexpr int kRemoteError = 2;

struct BackupFlags {
  std::string address;
  TlsOptions tls;
  std::optional<bool> skip_verify;
  bool help = false;
  std::vector<std::string> positional;
};

// Go's flag package: "-name=value", "-name value", "--name" alike; flags stop at the first other argument or "--".
Result<BackupFlags> ParseFlags(const std::vector<std::string>& args) {
  BackupFlags f;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "h" || name == "help") {
      f.help = true;
      continue;
    }
    if (name == "tls-skip-verify") {
      std::optional<bool> b = value ? ParseGoBool(*value) : std::optional<bool>(true);
      if (!b) return Status::BadRequest("invalid boolean value \"" + *value + "\" for -tls-skip-verify");
      f.skip_verify = *b;
      continue;
    }
    std::string* target = name == "address"       ? &f.address
                          : name == "ca-cert"     ? &f.tls.ca_cert
                          : name == "ca-path"     ? &f.tls.ca_path
                          : name == "client-cert" ? &f.tls.client_cert
                          : name == "client-key"  ? &f.tls.client_key
                                                  : nullptr;
    if (target == nullptr) return Status::BadRequest("flag provided but not defined: -" + name);
    if (!value) {
      if (i + 1 >= args.size()) return Status::BadRequest("flag needs an argument: -" + name);
      value = args[++i];
    }
    *target = *value;
  }
  f.positional.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return f;
}

int Backup(const std::vector<std::string>& args, CliEnvironment& env) {
  Result<BackupFlags> parsed = ParseFlags(args);
  if (!parsed.ok()) {
    *env.err << parsed.status().message() << "\n\n" << OperatorBackupUsage();
    return kUsage;
  }
  BackupFlags& f = parsed.value();
  if (f.help) {
    *env.out << OperatorBackupUsage();
    return kOk;
  }
  if (f.positional.size() != 1 || f.positional[0].empty()) {
    *env.err << "Expected exactly one argument, the backup directory (got " << f.positional.size() << ")\n\n"
             << OperatorBackupUsage();
    return kUsage;
  }
  const std::string path = f.positional[0];
  // The server resolves the path on its own machine: a relative one would mean its working directory.
  if (path.front() != '/') {
    *env.err << "The backup path must be absolute (it names a directory on the server's machine): " << path << "\n";
    return kUsage;
  }

  const std::string addr = ResolveAddress(f.address, env, "http://127.0.0.1:8200");
  const std::string token = ResolveToken(env);
  TlsOptions tls = ResolveTls(f.tls, env);
  tls.skip_verify = f.skip_verify.value_or(ParseGoBool(EnvOr(env, "VAULT_SKIP_VERIFY", "false")).value_or(false));
  if (tls.client_cert.empty() != tls.client_key.empty()) {
    *env.err << "Both a client certificate and a client key must be given (-client-cert and -client-key, or "
                "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)\n";
    return kUsage;
  }

  HttpRequest req;
  req.method = "POST";
  req.url = addr + "/v1/sys/storage/backup";
  req.token = token;
  req.body = Json{{"path", path}}.dump(-1, ' ', false, Json::error_handler_t::replace);
  Result<HttpResponse> resp = env.transport(tls)->Send(req);
  if (!resp.ok()) {
    *env.err << "Error writing the backup to " << path << ": POST " << req.url << ": " << resp.status().message()
             << "\n";
    return kRemoteError;
  }
  Json body = Json::parse(resp->body, nullptr, false);
  if (resp->status >= 300) {
    *env.err << "Error writing the backup to " << path << ": Code: " << resp->status << ".";
    if (body.is_object() && body.contains("errors") && body["errors"].is_array() && !body["errors"].empty()) {
      *env.err << " Errors:\n\n";
      for (const Json& e : body["errors"]) {
        *env.err << "* " << (e.is_string() ? e.get<std::string>() : e.dump()) << "\n";
      }
    } else {
      *env.err << " Raw response: " << resp->body.substr(0, 512) << "\n";
    }
    return kRemoteError;
  }
  const Json data = body.is_object() ? body.value("data", Json::object()) : Json::object();
  if (!data.is_object() || !data.contains("contents") || !data["contents"].is_array()) {
    *env.err << "Error writing the backup to " << path << ": the server's answer lists no contents\n";
    return kRemoteError;
  }
  *env.out << "Backup written to " << data.value("path", path) << " on the server's machine:\n\n";
  size_t width = 0;
  for (const Json& item : data["contents"]) width = std::max(width, item.value("path", std::string()).size());
  for (const Json& item : data["contents"]) {
    const std::string mount = item.value("mount", std::string());
    *env.out << "  " << std::left << std::setw(static_cast<int>(width)) << item.value("path", std::string()) << "  "
             << item.value("kind", std::string()) << (mount.empty() ? "" : " (" + mount + ")") << "\n";
  }
  *env.out << "\nThe seal keys (*.seal-key, pki-seal.key) are in it: keep the backup as private as the data "
              "directory.\nTo restore, start pki-server with the backup as its data directory (docs/deploy.md).\n";
  return kOk;
}

}  // namespace

std::string OperatorBackupUsage() {
  return "Usage: pki-server operator backup [options] PATH\n"
         "\n"
         "  Asks the running pki-server at VAULT_ADDR to write a backup of its data directory to PATH, a new\n"
         "  directory on the SERVER's machine (an absolute path outside the data directory; its parent must\n"
         "  exist). The server keeps serving meanwhile. Needs a root token (or sudo on sys/storage/backup) in\n"
         "  VAULT_TOKEN. Restore by starting pki-server with PATH as its data directory (docs/deploy.md).\n"
         "\n"
         "Options:\n"
         "  -address=ADDR        The server's address (env VAULT_ADDR; default http://127.0.0.1:8200).\n"
         "  -ca-cert=FILE        PEM file of CAs to trust (env VAULT_CACERT).\n"
         "  -ca-path=DIR         Directory of PEM CAs to trust (env VAULT_CAPATH).\n"
         "  -client-cert=FILE    PEM client certificate for TLS (env VAULT_CLIENT_CERT).\n"
         "  -client-key=FILE     Its PEM private key (env VAULT_CLIENT_KEY).\n"
         "  -tls-skip-verify     Do not verify the server's certificate (env VAULT_SKIP_VERIFY).\n";
}

int RunOperator(const std::vector<std::string>& args, CliEnvironment& env) {
  if (!args.empty() && args[0] == "backup") return Backup({args.begin() + 1, args.end()}, env);
  const bool help = !args.empty() && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help");
  (help ? *env.out : *env.err) << "Usage: pki-server operator backup [options] PATH\n\n"
                                  "  backup    Write a backup of the running server's data directory to PATH\n";
  return help ? kOk : kUsage;
}

}  // namespace pki::cli
