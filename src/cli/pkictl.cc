#include "src/cli/pkictl.h"

#include "src/cli/client_settings.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>
#include <curl/curl.h>

#include "src/cli/cli_output.h"
#include "src/core/text.h"

namespace pki::cli {
namespace {

using Json = nlohmann::json;

constexpr int kOk = 0;
constexpr int kLocalError = 1;
constexpr int kRemoteError = 2;

struct Globals {
  std::string format;
  std::string field;
  std::string address;
  std::string ca_cert;
  std::string ca_path;
  std::string client_cert;
  std::string client_key;
  bool skip_verify = false;
  bool force = false;  // write/patch without data
};

std::string UrlEscape(const std::string& s) {
  std::string out;
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

constexpr size_t kMaxDepth = 512;

// How deeply `text` nests arrays and objects (outside strings): bounded before parsing, since a value nested
// hundreds of thousands deep would exhaust the stack when copied or destroyed.
size_t NestingDepth(const std::string& text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

// The path with each segment percent-encoded ('#', '?', spaces), as vault sets url.URL.Path.
std::string EscapePath(const std::string& path) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    out += UrlEscape(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::string TrimTrailingSlash(std::string p) {
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

// One command's conversation with the server, and vault's ways of reporting it.
class Session {
 public:
  Session(CliEnvironment& env, Globals g) : env_(env), g_(std::move(g)) {
    addr_ = ResolveAddress(g_.address, env, "https://127.0.0.1:8200");
    token_ = ResolveToken(env);
    TlsOptions flags;
    flags.ca_cert = g_.ca_cert;
    flags.ca_path = g_.ca_path;
    flags.client_cert = g_.client_cert;
    flags.client_key = g_.client_key;
    flags.skip_verify = g_.skip_verify;
    TlsOptions tls = ResolveTls(flags, env);
    client_cert_without_key_ = tls.client_cert.empty() != tls.client_key.empty();
    transport_ = env.transport(tls);
    if (g_.format.empty()) g_.format = EnvOr(env, "VAULT_FORMAT", "table");
    for (auto& c : g_.format) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }

  // Settings that are wrong before any request: exit 1 with the reason.
  int CheckSettings() {
    if (g_.format != "table" && g_.format != "json") {
      err() << "Invalid output format: " << g_.format << "\n";
      return kLocalError;
    }
    if (client_cert_without_key_) {
      err() << "Both a client certificate and a client key must be given (-client-cert and -client-key, or "
               "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)\n";
      return kLocalError;
    }
    for (unsigned char c : token_) {
      if (c < 0x21 || c > 0x7e) {
        err() << "The token contains a non-printable character; check VAULT_TOKEN or ~/.vault-token\n";
        return kLocalError;
      }
    }
    return kOk;
  }

  std::ostream& out() { return *env_.out; }
  std::ostream& err() { return *env_.err; }
  const Globals& globals() const { return g_; }

  // Sends one request; on success stores the parsed body (null when empty) in *secret and returns -1, else prints
  // vault's error and returns the exit code. `missing_is_empty` (read, list): a 404 is "No value found", unless
  // its body still carries data, as vault's client reads it.
  int Call(const std::string& method, const std::string& path, const Json& body, const std::string& verb,
           Json* secret, bool missing_is_empty = false, const std::string& query = "",
           const std::string& content_type = "application/json") {
    HttpRequest req;
    req.method = method;
    req.url = addr_ + "/v1/" + EscapePath(path) + (query.empty() ? "" : "?" + query);
    req.token = token_;
    req.content_type = content_type;
    // Invalid UTF-8 in a value (a binary @file) is sent with U+FFFD in its place, as Go's encoder does.
    if (!body.is_null()) req.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    const std::string shown = TrimTrailingSlash(path);
    auto resp = transport_->Send(req);
    if (!resp.ok()) {
      err() << "Error " << verb << " " << shown << ": " << method << " " << req.url << ": "
            << resp.status().message() << "\n";
      return kRemoteError;
    }
    Json parsed;
    if (!resp->body.empty()) {
      if (NestingDepth(resp->body) > kMaxDepth) {
        parsed = Json::value_t::discarded;
      } else {
        parsed = Json::parse(resp->body, nullptr, false);
      }
    }
    if (resp->status == 404 && missing_is_empty) {
      if (parsed.is_object() && parsed.contains("data") && !parsed["data"].is_null()) {
        *secret = std::move(parsed);
        return -1;
      }
      err() << "No value found at " << shown << "\n";
      return kRemoteError;
    }
    if (resp->status >= 300) {
      err() << "Error " << verb << " " << shown << ": Error making API request.\n\nURL: " << method << " "
            << req.url << "\nCode: " << resp->status << ". ";
      if (parsed.is_object() && parsed.contains("errors") && parsed["errors"].is_array()) {
        err() << "Errors:\n\n";
        for (const auto& e : parsed["errors"]) err() << "* " << TableValue(e) << "\n";
      } else {
        err() << "Raw Message:\n\n" << resp->body << "\n";
      }
      return kRemoteError;
    }
    if (!resp->body.empty() && parsed.is_discarded()) {
      err() << "Error " << verb << " " << shown << ": the server's answer is not JSON (or nested too deeply)\n";
      return kRemoteError;
    }
    *secret = std::move(parsed);
    return -1;
  }

  // Prints a secret as -format/-field ask; `list` selects the keys table.
  int Print(const Json& secret, bool list = false) {
    if (!g_.field.empty()) {
      auto v = RawField(secret, g_.field, g_.format == "json");
      if (!v.ok()) {
        err() << v.status().message() << "\n";
        return kLocalError;
      }
      out() << *v;
      if (env_.out_is_terminal) out() << "\n";
      return kOk;
    }
    if (g_.format == "json") {
      Json shown = secret;
      if (list) {
        shown = Json::array();
        if (secret.is_object() && secret.contains("data") && secret["data"].is_object() &&
            secret["data"].contains("keys")) {
          shown = secret["data"]["keys"];
        }
      }
      out() << shown.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
      return kOk;
    }
    err() << WarningsBlock(secret);
    out() << (list ? KeysTable(secret) : DataTable(secret));
    return kOk;
  }

 private:
  CliEnvironment& env_;
  Globals g_;
  std::string addr_;
  std::string token_;
  std::unique_ptr<HttpTransport> transport_;
  bool client_cert_without_key_ = false;  // one of -client-cert/-client-key given without the other
};

std::string TrimSlashes(std::string p) {
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

// PATH then data arguments (read, write, patch).
int PathAndData(Session& s, const std::vector<std::string>& args, const InputSources& in, std::string* path,
                Json* data) {
  if (args.empty()) {
    s.err() << "Not enough arguments (expected 1, got 0)\n";
    return kLocalError;
  }
  *path = TrimSlashes(args[0]);
  auto parsed = ParseDataArgs({args.begin() + 1, args.end()}, in);
  if (!parsed.ok()) {
    s.err() << parsed.status().message() << "\n";
    return kLocalError;
  }
  *data = std::move(parsed).value();
  return kOk;
}

// PATH alone (list, delete).
int OnePath(Session& s, const std::vector<std::string>& args, std::string* path) {
  if (args.size() != 1) {
    s.err() << "Too " << (args.empty() ? "few" : "many") << " arguments (expected 1, got " << args.size() << ")\n";
    return kLocalError;
  }
  *path = TrimSlashes(args[0]);
  return kOk;
}

int Read(Session& s, const std::vector<std::string>& args, const InputSources& in) {
  std::string path;
  Json data;
  if (int rc = PathAndData(s, args, in, &path, &data); rc != kOk) return rc;
  std::string query;
  for (auto it = data.begin(); it != data.end(); ++it) {
    const Json values = it->is_array() ? *it : Json::array({*it});
    for (const auto& v : values) {
      if (v.is_object() || v.is_array()) {
        s.err() << "Invalid value for query parameter \"" << it.key() << "\": a list or object\n";
        return kLocalError;
      }
      const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
      query += (query.empty() ? "" : "&") + UrlEscape(it.key()) + "=" + UrlEscape(text);
    }
  }
  Json secret;
  if (int rc = s.Call("GET", path, Json(), "reading", &secret, true, query); rc >= 0) return rc;
  if (secret.is_null()) {
    s.err() << "No value found at " << path << "\n";
    return kRemoteError;
  }
  return s.Print(secret);
}

// write and patch: data in, and either the answer or vault's "Success!" line out.
int Write(Session& s, const std::vector<std::string>& args, const InputSources& in, bool patch) {
  std::string path;
  Json data;
  if (int rc = PathAndData(s, args, in, &path, &data); rc != kOk) return rc;
  if (data.empty() && !s.globals().force) {
    s.err() << "Must supply data or use -force\n";
    return kLocalError;
  }
  Json secret;
  const std::string method = patch ? "PATCH" : "PUT";
  const std::string type = patch ? "application/merge-patch+json" : "application/json";
  if (int rc = s.Call(method, path, data, patch ? "patching data at" : "writing data to", &secret, false, "", type); rc >= 0) {
    return rc;
  }
  const bool has_data = secret.is_object() && ((secret.contains("data") && !secret["data"].is_null()) ||
                                                (secret.contains("auth") && secret["auth"].is_object()));
  if (!has_data) {
    if (!s.globals().field.empty()) {
      s.err() << "Field \"" << s.globals().field << "\" not present in secret\n";
      return kLocalError;
    }
    if (s.globals().format != "table") {
      if (!secret.is_null()) return s.Print(secret);  // warnings only: the answer as it is
      return kOk;                                     // nothing to print, as vault
    }
    if (!secret.is_null()) s.err() << WarningsBlock(secret);
    s.out() << "Success! Data written to: " << path << "\n";
    return kOk;
  }
  return s.Print(secret);
}

int List(Session& s, const std::vector<std::string>& args) {
  std::string path;
  if (int rc = OnePath(s, args, &path); rc != kOk) return rc;
  Json secret;
  if (int rc = s.Call("LIST", path + "/", Json(), "listing", &secret, true); rc >= 0) return rc;
  if (secret.is_null() || !secret.contains("data") || !secret["data"].is_object() ||
      secret["data"].value("keys", Json::array()).empty()) {
    s.err() << "No value found at " << path << "\n";
    return kRemoteError;
  }
  return s.Print(secret, /*list=*/true);
}

int Delete(Session& s, const std::vector<std::string>& args) {
  std::string path;
  if (int rc = OnePath(s, args, &path); rc != kOk) return rc;
  Json secret;
  if (int rc = s.Call("DELETE", path, Json(), "deleting", &secret); rc >= 0) return rc;
  if (s.globals().format != "table") return secret.is_null() ? kOk : s.Print(secret);
  if (!secret.is_null()) s.err() << WarningsBlock(secret);
  s.out() << "Success! Data deleted (if it existed) at: " << path << "\n";
  return kOk;
}

int StatusCmd(Session& s) {
  Json st;
  // Exit 2 is kept for "sealed", as vault's status: failing to ask is 1.
  if (int rc = s.Call("GET", "sys/seal-status", Json(), "checking seal status", &st); rc >= 0) return kLocalError;
  if (!st.is_object()) st = Json::object();
  const bool sealed = !st.contains("sealed") || !st["sealed"].is_boolean() || st["sealed"].get<bool>();
  if (!s.globals().field.empty()) {
    if (int rc = s.Print(Json{{"data", st}}); rc != kOk) return rc;
  } else if (s.globals().format == "json") {
    s.out() << st.dump(2) << "\n";
  } else {
    auto text = [&](const char* k) { return st.contains(k) ? TableValue(st[k]) : std::string("n/a"); };
    s.out() << Columns({{"Key", "Value"},
                        {"Seal Type", text("type")},
                        {"Initialized", text("initialized")},
                        {"Sealed", text("sealed")},
                        {"Total Shares", text("n")},
                        {"Threshold", text("t")},
                        {"Version", text("version")},
                        {"Build Date", text("build_date")},
                        {"Storage Type", text("storage_type")},
                        {"Cluster Name", text("cluster_name")},
                        {"Cluster ID", text("cluster_id")},
                        {"HA Enabled", "false"}});
  }
  return sealed ? kRemoteError : kOk;
}

struct MountFlags {
  std::string path, description, default_lease_ttl, max_lease_ttl;
  std::vector<std::string> options;
};

int SecretsEnable(Session& s, const std::string& type, const MountFlags& f) {
  std::string path = TrimSlashes(f.path.empty() ? type : f.path);
  Json body = {{"type", type}};
  if (!f.description.empty()) body["description"] = f.description;
  Json config = Json::object();
  if (!f.default_lease_ttl.empty()) config["default_lease_ttl"] = f.default_lease_ttl;
  if (!f.max_lease_ttl.empty()) config["max_lease_ttl"] = f.max_lease_ttl;
  if (!config.empty()) body["config"] = config;
  if (!f.options.empty()) {
    Json options = Json::object();
    for (const auto& o : f.options) {
      size_t eq = o.find('=');
      if (eq == std::string::npos || eq == 0) {
        s.err() << "Invalid -options value \"" << o << "\": expected K=V\n";
        return kLocalError;
      }
      options[o.substr(0, eq)] = o.substr(eq + 1);
    }
    body["options"] = options;
  }
  Json secret;
  if (int rc = s.Call("POST", "sys/mounts/" + path, body, "enabling", &secret); rc >= 0) return rc;
  s.out() << "Success! Enabled the " << type << " secrets engine at: " << path << "/\n";
  return kOk;
}

int SecretsDisable(Session& s, const std::string& path_arg) {
  const std::string path = TrimSlashes(path_arg);
  Json secret;
  if (int rc = s.Call("DELETE", "sys/mounts/" + path, Json(), "disabling secrets engine at", &secret); rc >= 0) {
    return rc;
  }
  s.out() << "Success! Disabled the secrets engine (if it existed) at: " << path << "/\n";
  return kOk;
}

int SecretsTune(Session& s, const std::string& path_arg, const MountFlags& f) {
  const std::string path = TrimSlashes(path_arg);
  Json body = Json::object();
  if (!f.default_lease_ttl.empty()) body["default_lease_ttl"] = f.default_lease_ttl;
  if (!f.max_lease_ttl.empty()) body["max_lease_ttl"] = f.max_lease_ttl;
  if (!f.description.empty()) body["description"] = f.description;
  Json secret;
  if (int rc = s.Call("POST", "sys/mounts/" + path + "/tune", body, "tuning secrets engine", &secret); rc >= 0) {
    return rc;
  }
  s.out() << "Success! Tuned the secrets engine at: " << path << "/\n";
  return kOk;
}

int SecretsList(Session& s) {
  Json secret;
  if (int rc = s.Call("GET", "sys/mounts", Json(), "listing secrets engines", &secret); rc >= 0) return rc;
  Json mounts = secret.is_object() && secret.contains("data") && secret["data"].is_object() ? secret["data"] : secret;
  if (s.globals().format == "json") {
    s.out() << mounts.dump(2) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows = {{"Path", "Type", "Accessor", "Description"}};
  if (mounts.is_object()) {
    for (auto it = mounts.begin(); it != mounts.end(); ++it) {
      if (!it->is_object()) continue;
      auto text = [&](const char* k) {
        auto f = it->find(k);
        return f != it->end() && f->is_string() ? f->get<std::string>() : std::string();
      };
      rows.push_back({it.key(), text("type"), text("accessor"), text("description")});
    }
  }
  s.out() << Columns(rows);
  return kOk;
}

}  // namespace

// The command itself; RunPkictl turns any exception into an error.
static int RunCommand(const std::vector<std::string>& raw_args, CliEnvironment& env);

int RunPkictl(const std::vector<std::string>& raw_args, CliEnvironment& env) {
  try {
    return RunCommand(raw_args, env);
  } catch (const std::exception& e) {
    *env.err << "Error: " << e.what() << "\n";
    return kRemoteError;
  }
}

static int RunCommand(const std::vector<std::string>& raw_args, CliEnvironment& env) {
  CLI::App app{"pkictl: the vault CLI's verbs for a PKI secrets engine (pki-server or Vault)", "pkictl"};
  app.require_subcommand(1);
  Globals g;
  auto add_globals = [&](CLI::App* cmd) {
    cmd->add_option("--format", g.format, "Output format: table or json (VAULT_FORMAT)");
    cmd->add_option("--field", g.field, "Print only this field of the answer, raw");
    cmd->add_option("--address", g.address, "Server address (VAULT_ADDR)");
    cmd->add_option("--ca-cert", g.ca_cert, "PEM file of CAs to trust (VAULT_CACERT)");
    cmd->add_option("--ca-path", g.ca_path, "Directory of PEM CAs to trust (VAULT_CAPATH)");
    cmd->add_option("--client-cert", g.client_cert, "PEM client certificate for TLS (VAULT_CLIENT_CERT)");
    cmd->add_option("--client-key", g.client_key, "PEM private key of -client-cert (VAULT_CLIENT_KEY)");
    cmd->add_flag("--tls-skip-verify", g.skip_verify, "Do not verify the server's certificate (VAULT_SKIP_VERIFY)");
  };
  std::vector<std::string> args;
  auto verb = [&](const char* name, const char* help) {
    CLI::App* cmd = app.add_subcommand(name, help);
    add_globals(cmd);
    cmd->add_option("args", args, "PATH and data (K=V, K=@file, K=-, or - for a JSON object on stdin)");
    return cmd;
  };
  CLI::App* read = verb("read", "Read data (GET)");
  CLI::App* write = verb("write", "Write data (PUT)");
  CLI::App* patch = verb("patch", "Patch data (PATCH, JSON merge patch)");
  for (CLI::App* cmd : {write, patch}) cmd->add_flag("--force", g.force, "Allow the request without data (-f)");
  CLI::App* list = verb("list", "List keys (LIST)");
  CLI::App* del = verb("delete", "Delete data (DELETE)");
  CLI::App* status = app.add_subcommand("status", "Seal status of the server");
  add_globals(status);

  CLI::App* secrets = app.add_subcommand("secrets", "Mount, unmount, list and tune secrets engines");
  secrets->require_subcommand(1);
  MountFlags mf;
  std::string mount_arg;
  CLI::App* enable = secrets->add_subcommand("enable", "Enable a secrets engine");
  add_globals(enable);
  enable->add_option("--path", mf.path, "Where to mount (default: the type)");
  enable->add_option("--description", mf.description, "Description");
  enable->add_option("--default-lease-ttl", mf.default_lease_ttl, "Default lease TTL");
  enable->add_option("--max-lease-ttl", mf.max_lease_ttl, "Maximum lease TTL");
  enable->add_option("--options", mf.options, "Mount option K=V (repeatable)");
  enable->add_option("type", mount_arg, "Engine type (pki)")->required();
  CLI::App* disable = secrets->add_subcommand("disable", "Disable a secrets engine");
  add_globals(disable);
  disable->add_option("path", mount_arg, "Mount path")->required();
  CLI::App* tune = secrets->add_subcommand("tune", "Tune a secrets engine");
  add_globals(tune);
  tune->add_option("--description", mf.description, "Description");
  tune->add_option("--default-lease-ttl", mf.default_lease_ttl, "Default lease TTL");
  tune->add_option("--max-lease-ttl", mf.max_lease_ttl, "Maximum lease TTL");
  tune->add_option("path", mount_arg, "Mount path")->required();
  CLI::App* slist = secrets->add_subcommand("list", "List secrets engines");
  add_globals(slist);

  std::vector<std::string> normalized = NormalizeFlags(raw_args);
  std::vector<std::string> reversed(normalized.rbegin(), normalized.rend());  // CLI11 consumes from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    *env.out << app.help();
    return kOk;
  } catch (const CLI::ParseError& e) {
    // Help for a subcommand arrives as CallForHelp too; everything else is a usage error.
    *env.err << e.what() << "\n" << "Run pkictl --help for usage.\n";
    return kLocalError;
  }

  if (auto skip = env.env.find("VAULT_SKIP_VERIFY"); skip != env.env.end() && !skip->second.empty()) {
    std::optional<bool> v = ParseGoBool(skip->second);
    if (!v) {
      *env.err << "Invalid value for VAULT_SKIP_VERIFY: " << skip->second << "\n";
      return kLocalError;
    }
    g.skip_verify = g.skip_verify || *v;
  }
  Session s(env, g);
  if (int rc = s.CheckSettings(); rc != kOk) return rc;
  if (*read) return Read(s, args, env.input);
  if (*write) return Write(s, args, env.input, /*patch=*/false);
  if (*patch) return Write(s, args, env.input, /*patch=*/true);
  if (*list) return List(s, args);
  if (*del) return Delete(s, args);
  if (*status) return StatusCmd(s);
  if (*enable) return SecretsEnable(s, mount_arg, mf);
  if (*disable) return SecretsDisable(s, mount_arg);
  if (*tune) return SecretsTune(s, mount_arg, mf);
  if (*slist) return SecretsList(s);
  *env.err << "unknown command\n";
  return kLocalError;
}

}  // namespace pki::cli
