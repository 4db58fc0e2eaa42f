#include "src/server/server_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>

#include "src/core/duration.h"
#include "src/core/text.h"
#include "src/server/acl_policy.h"
#include "src/server/policy_store.h"
#include "src/server/random_id.h"
#include "src/server/server_flags.h"
#include "src/server/sys_backend.h"

namespace pki::server {
namespace {

Status KeyError(const std::string& key, const std::string& problem) { return Status::BadRequest(key + ": " + problem); }

std::string Join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// One JSON object of the file, read key by key with the key's full name ("listeners[0].address") in errors.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string name) : object_(object), name_(std::move(name)) {}

  // Fails on the first key not in `allowed`.
  Status OnlyKeys(std::initializer_list<const char*> allowed) const {
    for (const auto& [key, value] : object_.items()) {
      bool known = false;
      for (const char* a : allowed) known = known || key == a;
      if (!known) return Status::BadRequest("unknown key \"" + Join(name_, key) + "\"");
    }
    return Status::Ok();
  }

  bool Has(const char* key) const { return object_.contains(key) && !object_[key].is_null(); }
  std::string Name(const char* key) const { return Join(name_, key); }
  const Json& Get(const char* key) const { return object_[key]; }

  Result<std::string> String(const char* key, bool required = false) const {
    if (!Has(key)) {
      if (required) return KeyError(Name(key), "required");
      return std::string();
    }
    if (!Get(key).is_string()) return KeyError(Name(key), "must be a string");
    std::string value = Get(key).get<std::string>();
    if (required && value.empty()) return KeyError(Name(key), "must not be empty");
    return value;
  }

  // JSON true/false, or a string Go's strconv.ParseBool takes (Vault's configs often say "true").
  Result<bool> Bool(const char* key, bool fallback) const {
    if (!Has(key)) return fallback;
    const Json& v = Get(key);
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_string()) {
      if (auto b = ParseGoBool(v.get<std::string>())) return *b;
    }
    return KeyError(Name(key), "must be true or false");
  }

 private:
  const Json& object_;
  std::string name_;
};

// A listener duration as Vault's parseutil.ParseDurationSecond reads it: Go syntax ("90s", "1m30s", "500ms") or
// a number of seconds. Absent: nullopt. Negative values are refused.
Result<std::optional<std::chrono::milliseconds>> ListenerDuration(const ObjectReader& r, const char* key) {
  if (!r.Has(key)) return std::optional<std::chrono::milliseconds>();
  const Json& v = r.Get(key);
  Result<int64_t> millis = Status::BadRequest("");
  if (v.is_number_integer()) {
    millis = v.get<int64_t>() * 1000;
  } else if (v.is_string()) {
    millis = ParseDurationMillis(v.get<std::string>());
  } else {
    return KeyError(r.Name(key), "must be a duration such as \"90s\" or a number of seconds");
  }
  if (!millis.ok()) return KeyError(r.Name(key), millis.status().message());
  if (*millis < 0) return KeyError(r.Name(key), "must not be negative");
  return std::optional<std::chrono::milliseconds>(std::chrono::milliseconds(*millis));
}

// Sets `*out` from `key` unless it is absent or 0 (0 means the default, as in Vault).
Status DurationOrDefault(const ObjectReader& r, const char* key, std::chrono::milliseconds* out) {
  ASSIGN_OR_RETURN(std::optional<std::chrono::milliseconds> d, ListenerDuration(r, key));
  if (d && d->count() > 0) *out = *d;
  return Status::Ok();
}

Result<ListenerOptions> ParseListener(const Json& j, const std::string& name, std::vector<std::string>* warnings) {
  if (!j.is_object()) return KeyError(name, "must be an object");
  ObjectReader r(j, name);
  RETURN_IF_ERROR(r.OnlyKeys({"address", "tls_disable", "tls_cert_file", "tls_key_file", "tls_client_ca_file",
                              "tls_require_and_verify_client_cert", "tls_min_version", "max_request_size",
                              "max_request_duration", "http_read_header_timeout", "http_read_timeout",
                              "http_write_timeout", "http_idle_timeout"}));
  ListenerOptions l;
  ASSIGN_OR_RETURN(std::string address, r.String("address"));
  if (address.empty()) address = "127.0.0.1:8200";
  auto host_port = SplitHostPort(address);
  if (!host_port.ok()) return KeyError(r.Name("address"), host_port.status().message());
  l.host = host_port->first;
  l.port = host_port->second;

  ASSIGN_OR_RETURN(bool tls_disable, r.Bool("tls_disable", false));
  ListenerTls tls;
  ASSIGN_OR_RETURN(tls.cert_file, r.String("tls_cert_file"));
  ASSIGN_OR_RETURN(tls.key_file, r.String("tls_key_file"));
  ASSIGN_OR_RETURN(tls.client_ca_file, r.String("tls_client_ca_file"));
  ASSIGN_OR_RETURN(tls.require_client_cert, r.Bool("tls_require_and_verify_client_cert", false));
  ASSIGN_OR_RETURN(std::string min_version, r.String("tls_min_version"));
  if (min_version.empty()) min_version = "tls12";
  // Checked only where TLS is on: on a tls_disable listener the key is ignored with a warning (below).
  if (!tls_disable && min_version != "tls12" && min_version != "tls13") {
    return KeyError(r.Name("tls_min_version"), "\"" + min_version + "\" is not supported: use tls12 or tls13");
  }
  tls.min_version = min_version;
  if (tls_disable) {
    for (const char* key : {"tls_cert_file", "tls_key_file", "tls_client_ca_file",
                            "tls_require_and_verify_client_cert", "tls_min_version"}) {
      if (r.Has(key)) {
        warnings->push_back(r.Name(key) + " is ignored: the listener has tls_disable set and serves plain HTTP");
      }
    }
  } else {
    if (tls.cert_file.empty() || tls.key_file.empty()) {
      return KeyError(name, "tls_cert_file and tls_key_file are required unless tls_disable is true");
    }
    if (tls.require_client_cert && tls.client_ca_file.empty()) {
      return KeyError(r.Name("tls_require_and_verify_client_cert"),
                      "needs tls_client_ca_file, the CA certificates client certificates must chain to");
    }
    l.tls = std::move(tls);
  }

  l.max_body_bytes = kDefaultMaxRequestSize;
  if (r.Has("max_request_size")) {
    const Json& v = r.Get("max_request_size");
    if (!v.is_number_integer()) return KeyError(r.Name("max_request_size"), "must be a whole number of bytes");
    int64_t size = v.get<int64_t>();
    if (size < 0) {
      return KeyError(r.Name("max_request_size"), "must not be negative (this server always limits request sizes)");
    }
    if (size > 0) l.max_body_bytes = static_cast<size_t>(size);
  }

  l.request_timeout = kDefaultMaxRequestDuration;
  RETURN_IF_ERROR(DurationOrDefault(r, "max_request_duration", &l.request_timeout));
  l.header_timeout = kDefaultHttpReadHeaderTimeout;
  RETURN_IF_ERROR(DurationOrDefault(r, "http_read_header_timeout", &l.header_timeout));
  l.read_timeout = kDefaultHttpReadTimeout;
  RETURN_IF_ERROR(DurationOrDefault(r, "http_read_timeout", &l.read_timeout));
  l.idle_timeout = kDefaultHttpIdleTimeout;
  RETURN_IF_ERROR(DurationOrDefault(r, "http_idle_timeout", &l.idle_timeout));
  // Vault's default 0 means no limit of its own (max_request_duration still bounds a response's write).
  ASSIGN_OR_RETURN(std::optional<std::chrono::milliseconds> write_timeout, ListenerDuration(r, "http_write_timeout"));
  l.write_timeout = write_timeout.value_or(std::chrono::milliseconds(0));
  return l;
}

Result<std::optional<int64_t>> ParseTtl(const ObjectReader& r, const char* key) {
  if (!r.Has(key)) return std::optional<int64_t>();
  auto ttl = ParseLeaseTtl(r.Get(key));
  if (!ttl.ok()) return KeyError(r.Name(key), ttl.status().message());
  return ttl.value();
}

Result<ConfiguredMount> ParseMount(const Json& j, const std::string& name) {
  if (!j.is_object()) return KeyError(name, "must be an object");
  ObjectReader r(j, name);
  RETURN_IF_ERROR(r.OnlyKeys({"path", "type", "description", "options", "config"}));
  ConfiguredMount m;
  ASSIGN_OR_RETURN(std::string path, r.String("path", /*required=*/true));
  m.path = SanitizeMountPath(path);
  if (m.path == "/") return KeyError(r.Name("path"), "must name a mount path such as \"pki/\"");
  for (const char* reserved : {"sys/", "auth/", "audit/", "cubbyhole/", "identity/"}) {
    if (m.path.rfind(reserved, 0) == 0) return KeyError(r.Name("path"), "\"" + m.path + "\" is reserved");
  }
  ASSIGN_OR_RETURN(m.type, r.String("type", /*required=*/true));
  if (m.type != "pki") {
    return KeyError(r.Name("type"),
                    "secrets engine type \"" + m.type + "\" is not supported: this server mounts only \"pki\"");
  }
  if (r.Has("description")) {
    ASSIGN_OR_RETURN(std::string description, r.String("description"));
    m.tune.description = std::move(description);
  }
  if (r.Has("options")) {
    const Json& options = r.Get("options");
    if (!options.is_object()) return KeyError(r.Name("options"), "must be an object of strings");
    for (const auto& [k, v] : options.items()) {
      if (!v.is_string()) return KeyError(r.Name("options") + "." + k, "must be a string");
      m.options[k] = v.get<std::string>();
    }
    if (m.options.count("version") != 0) {
      return KeyError(r.Name("options") + ".version", "secrets engine \"pki\" does not allow setting a version");
    }
  }
  if (r.Has("config")) {
    const Json& config = r.Get("config");
    if (!config.is_object()) return KeyError(r.Name("config"), "must be an object");
    ObjectReader c(config, r.Name("config"));
    RETURN_IF_ERROR(c.OnlyKeys({"default_lease_ttl", "max_lease_ttl"}));
    ASSIGN_OR_RETURN(m.tune.default_lease_ttl, ParseTtl(c, "default_lease_ttl"));
    ASSIGN_OR_RETURN(m.tune.max_lease_ttl, ParseTtl(c, "max_lease_ttl"));
    const int64_t def = m.tune.default_lease_ttl.value_or(0);
    const int64_t max = m.tune.max_lease_ttl.value_or(0);
    if (def != 0 && max != 0 && def > max) {
      return KeyError(r.Name("config"), "default_lease_ttl is greater than max_lease_ttl");
    }
  }
  return m;
}

Result<ConfiguredPolicy> ParsePolicyEntry(const std::string& name, const Json& body) {
  const std::string key = "policies." + name;
  ConfiguredPolicy p;
  p.name = NormalizePolicyName(name);
  if (p.name.empty()) return KeyError(key, "a policy needs a name");
  if (p.name == "root") return KeyError(key, "the root policy is built in and cannot be declared");
  if (body.is_object()) {
    p.text = body.dump();
  } else if (body.is_string()) {
    p.text = body.get<std::string>();
  } else {
    return KeyError(key, "must be a policy object ({\"path\": {...}}) or its JSON text");
  }
  auto parsed = ParseAclPolicy(p.name, p.text);
  if (!parsed.ok()) return KeyError(key, parsed.status().message());
  return p;
}

// Tokens shorter than this are refused: a configured token is a long-lived credential.
constexpr size_t kMinConfiguredTokenLength = 16;

Result<ConfiguredToken> ParseToken(const Json& j, const std::string& name) {
  if (!j.is_object()) return KeyError(name, "must be an object");
  ObjectReader r(j, name);
  RETURN_IF_ERROR(r.OnlyKeys({"id", "id_file", "policies", "display_name"}));
  ConfiguredToken t;
  if (r.Has("id") == r.Has("id_file")) return KeyError(name, "needs exactly one of \"id\" and \"id_file\"");
  if (r.Has("id")) {
    ASSIGN_OR_RETURN(t.id, r.String("id", /*required=*/true));
  } else {
    ASSIGN_OR_RETURN(std::string path, r.String("id_file", /*required=*/true));
    auto read = ReadTokenFile(path, "token file");
    if (!read.ok()) return KeyError(r.Name("id_file"), read.status().message());
    if (!*read) return KeyError(r.Name("id_file"), "cannot read " + path + ": " + std::strerror(ENOENT));
    t.id = std::move(**read);
  }
  if (t.id.size() < kMinConfiguredTokenLength) {
    return KeyError(name, "the token must be at least " + std::to_string(kMinConfiguredTokenLength) + " characters");
  }
  for (unsigned char c : t.id) {
    if (c <= 0x20 || c >= 0x7f) return KeyError(name, "the token must be printable ASCII without spaces");
  }
  if (!r.Has("policies") || !r.Get("policies").is_array() || r.Get("policies").empty()) {
    return KeyError(r.Name("policies"), "must be a non-empty array of policy names");
  }
  for (const Json& p : r.Get("policies")) {
    if (!p.is_string() || NormalizePolicyName(p.get<std::string>()).empty()) {
      return KeyError(r.Name("policies"), "must hold policy names (strings)");
    }
    t.policies.push_back(NormalizePolicyName(p.get<std::string>()));
  }
  // As auth/token/create does: every token but a root token also has the default policy (lookup-self, ...).
  if (std::find(t.policies.begin(), t.policies.end(), "root") == t.policies.end() &&
      std::find(t.policies.begin(), t.policies.end(), "default") == t.policies.end()) {
    t.policies.push_back("default");
  }
  ASSIGN_OR_RETURN(t.display_name, r.String("display_name"));
  if (t.display_name.empty()) t.display_name = "config";
  return t;
}

// Records the first key that appears twice in one object (nlohmann::json would keep the last silently).
class DuplicateKeyCheck {
 public:
  bool operator()(int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys_.empty()) keys_.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys_.empty() && parsed.is_string() && !keys_.back().insert(parsed.get<std::string>()).second &&
            duplicate_.empty()) {
          duplicate_ = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  }
  const std::string& duplicate() const { return duplicate_; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string duplicate_;
};

}  // namespace

Result<ServerConfig> ParseServerConfig(std::string_view text) {
  auto check = std::make_shared<DuplicateKeyCheck>();
  Json doc;
  try {
    doc = Json::parse(
        text.begin(), text.end(),
        [check](int depth, Json::parse_event_t event, Json& parsed) { return (*check)(depth, event, parsed); },
        /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const Json::exception& e) {
    // nlohmann's parse errors give the line and column, never more of the text than the offending token.
    std::string what = e.what();
    if (size_t p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return Status::BadRequest("not valid JSON: " + what);
  }
  if (!check->duplicate().empty()) {
    return Status::BadRequest("key \"" + check->duplicate() + "\" appears twice in one object");
  }
  if (!doc.is_object()) return Status::BadRequest("the configuration must be a JSON object");

  ServerConfig config;
  ObjectReader r(doc, "");
  RETURN_IF_ERROR(r.OnlyKeys({"listeners", "data_dir", "plugin", "log_level", "audit_log", "root_token_file",
                              "mounts", "policies", "tokens"}));
  if (!r.Has("listeners")) return KeyError("listeners", "required: at least one listener");
  const Json& listeners = r.Get("listeners");
  if (!listeners.is_array() || listeners.empty()) {
    return KeyError("listeners", "must be a non-empty array of listener objects");
  }
  for (size_t i = 0; i < listeners.size(); ++i) {
    ASSIGN_OR_RETURN(ListenerOptions l,
                     ParseListener(listeners[i], "listeners[" + std::to_string(i) + "]", &config.warnings));
    config.listeners.push_back(std::move(l));
  }
  ASSIGN_OR_RETURN(config.data_dir, r.String("data_dir", /*required=*/true));
  ASSIGN_OR_RETURN(config.plugin, r.String("plugin"));
  if (r.Has("log_level")) {
    ASSIGN_OR_RETURN(std::string level, r.String("log_level"));
    config.log_level = ParseLogLevel(level);
    if (!config.log_level) {
      return KeyError("log_level", "\"" + level + "\" is not a log level: use trace, debug, info, warn or error");
    }
  }
  ASSIGN_OR_RETURN(config.audit_log, r.String("audit_log"));
  ASSIGN_OR_RETURN(config.root_token_file, r.String("root_token_file"));
  if (config.root_token_file.empty()) {
    std::string dir = config.data_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    config.root_token_file = dir + "/root-token";
  }
  if (r.Has("mounts")) {
    const Json& mounts = r.Get("mounts");
    if (!mounts.is_array()) return KeyError("mounts", "must be an array of mount objects");
    for (size_t i = 0; i < mounts.size(); ++i) {
      const std::string name = "mounts[" + std::to_string(i) + "]";
      ASSIGN_OR_RETURN(ConfiguredMount m, ParseMount(mounts[i], name));
      for (const auto& other : config.mounts) {
        const std::string& a = other.path;
        if (m.path.rfind(a, 0) == 0 || a.rfind(m.path, 0) == 0) {
          return KeyError(name + ".path", "\"" + m.path + "\" overlaps the mount \"" + a + "\" declared before it");
        }
      }
      config.mounts.push_back(std::move(m));
    }
  }
  if (r.Has("policies")) {
    const Json& policies = r.Get("policies");
    if (!policies.is_object()) return KeyError("policies", "must be an object of policy name to policy");
    for (const auto& [name, body] : policies.items()) {
      ASSIGN_OR_RETURN(ConfiguredPolicy p, ParsePolicyEntry(name, body));
      config.policies.push_back(std::move(p));
    }
  }
  if (r.Has("tokens")) {
    const Json& tokens = r.Get("tokens");
    if (!tokens.is_array()) return KeyError("tokens", "must be an array of token objects");
    for (size_t i = 0; i < tokens.size(); ++i) {
      ASSIGN_OR_RETURN(ConfiguredToken t, ParseToken(tokens[i], "tokens[" + std::to_string(i) + "]"));
      for (const auto& other : config.tokens) {
        if (other.id == t.id) return KeyError("tokens[" + std::to_string(i) + "]", "the same token is declared twice");
      }
      config.tokens.push_back(std::move(t));
    }
  }
  return config;
}

Result<ServerConfig> LoadServerConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::BadRequest("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::BadRequest("cannot read " + path);
  auto config = ParseServerConfig(text.str());
  if (!config.ok()) return config.status();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & S_IROTH) != 0) {
      config->warnings.push_back("the config file " + path +
                                 " is readable by other users; 0640 or 0600 is recommended");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      config->warnings.push_back("the config file " + path + " is writable by other users than its owner");
    }
  }
  return config;
}

Result<std::optional<std::string>> ReadTokenFile(const std::string& path, const std::string& what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Status::Internal("cannot open the " + what + " " + path + ": " + std::strerror(errno));
  }
  std::string token;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0 && token.size() < 4096) token.append(buf, static_cast<size_t>(n));
  int read_errno = errno;
  struct stat st {};
  const bool open_mode = ::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0;
  ::close(fd);
  if (n < 0) return Status::Internal("cannot read the " + what + " " + path + ": " + std::strerror(read_errno));
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  size_t start = 0;
  while (start < token.size() && std::isspace(static_cast<unsigned char>(token[start]))) ++start;
  token = token.substr(start);
  if (token.empty()) return Status::BadRequest("the " + what + " " + path + " is empty");
  for (char c : token) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return Status::BadRequest("the " + what + " " + path + " holds more than one token");
    }
  }
  if (open_mode) {
    LogLine(LogLevel::kWarn, "the " + what + " " + path + " is accessible to other users; 0600 is recommended");
  }
  return std::optional<std::string>(std::move(token));
}

Result<std::string> NewRootToken() {
  ASSIGN_OR_RETURN(std::string random, RandomAlphanumeric(24));
  return "hvs." + random;
}

Status CheckRootTokenFileCreatable(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return Status::BadRequest("cannot create the root token file " + path + ": " + dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::BadRequest("cannot create the root token file " + path + ": " + dir + " is not a directory");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::BadRequest("cannot create the root token file " + path + ": " + dir + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status WriteRootTokenFile(const std::string& path, const std::string& token) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot create the root token file " + path + ": " + std::strerror(errno));
  std::string content = token + "\n";
  const bool written = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
                       ::fsync(fd) == 0;
  int write_errno = errno;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return Status::Internal("cannot write the root token file " + path + ": " + std::strerror(write_errno));
  }
  return Status::Ok();
}

Result<RootTokenFile> LoadOrCreateRootToken(const std::string& path) {
  ASSIGN_OR_RETURN(std::optional<std::string> existing, ReadRootTokenFile(path));
  if (existing) return RootTokenFile{std::move(*existing), false};
  ASSIGN_OR_RETURN(std::string token, NewRootToken());
  RETURN_IF_ERROR(WriteRootTokenFile(path, token));
  return RootTokenFile{std::move(token), true};
}

}  // namespace pki::server
