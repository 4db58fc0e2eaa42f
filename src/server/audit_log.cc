#include "src/server/audit_log.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <new>
#include <unordered_set>

#include "src/server/envelope.h"

namespace pki::server {
namespace {

constexpr char kHmacKeyStorageKey[] = "core/audit-hmac-key";
constexpr size_t kHmacKeyBytes = 32;
constexpr std::string_view kHmacPrefix = "hmac-sha256:";

// Sorted only for the reader; lookups go through a hash set.
constexpr std::string_view kClearKeys[] = {
    // What a certificate is and names.
    "serial_number", "serial", "serial_numbers", "common_name", "alt_names", "ip_sans", "uri_sans", "other_sans",
    "user_ids", "exclude_cn_from_sans", "ou", "organization", "country", "locality", "province", "street_address",
    "postal_code",
    // Validity and revocation.
    "ttl", "max_ttl", "not_after", "not_before", "not_before_duration", "expiration", "revocation_time",
    "revocation_time_rfc3339", "this_update", "next_update",
    // Roles, issuers and keys by name or id (LIST answers' "keys" are role names, serials or ids).
    "role", "name", "keys", "issuer_ref", "issuer_id", "issuer_name", "key_ref", "key_id", "key_name", "default",
    "imported_issuers", "imported_keys", "existing_issuers", "existing_keys",
    // Key and output parameters.
    "key_type", "key_bits", "signature_bits", "private_key_type", "private_key_format", "format", "usage",
    "key_usage", "ext_key_usage", "ext_key_usage_oids",
    // Mounts and tidy state (sys/mounts, tidy-status).
    "type", "description", "path", "state",
};

bool IsClearKey(const std::string& key) {
  static const std::unordered_set<std::string_view> keys(std::begin(kClearKeys), std::end(kClearKeys));
  return keys.count(key) > 0;
}

void AppendJsonString(std::string* out, std::string_view s) {
  // Most values (names, serials, ids) are plain ASCII: quoted as they are. Anything else goes through the JSON
  // serialiser, which escapes and replaces invalid UTF-8.
  bool plain = true;
  for (unsigned char c : s) plain = plain && c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
  if (!plain) {
    *out += DumpJson(Json(s));
    return;
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

// ,"key":"value" (nothing when `value` is empty: Vault's omitempty).
void AppendField(std::string* out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  if (out->back() != '{') out->push_back(',');
  out->push_back('"');
  *out += key;
  *out += "\":";
  AppendJsonString(out, value);
}

void AppendRawField(std::string* out, std::string_view key, std::string_view json) {
  if (out->back() != '{') out->push_back(',');
  out->push_back('"');
  *out += key;
  *out += "\":";
  *out += json;
}

void AppendStringArray(std::string* out, std::string_view key, const std::vector<std::string>& values) {
  if (values.empty()) return;
  std::string json = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) json.push_back(',');
    AppendJsonString(&json, values[i]);
  }
  json.push_back(']');
  AppendRawField(out, key, json);
}

// Go's time.RFC3339Nano in UTC: fractional seconds without trailing zeros.
std::string NowRfc3339Nano() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[48];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (ts.tv_nsec != 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09ld", static_cast<long>(ts.tv_nsec));
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out.push_back('Z');
  return out;
}

bool Digits(std::string_view s, size_t pos, size_t count, int* value) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *value = v;
  return true;
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return out;
}

}  // namespace

const std::span<const std::string_view> kAuditClearKeys(kClearKeys);

bool IsRfc3339Timestamp(std::string_view s) {
  // 2006-01-02T15:04:05[.999999999](Z|+07:00)
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &month) || s[7] != '-' ||
      !Digits(s, 8, 2, &day) || s[10] != 'T' || !Digits(s, 11, 2, &hour) || s[13] != ':' ||
      !Digits(s, 14, 2, &minute) || s[16] != ':' || !Digits(s, 17, 2, &second)) {
    return false;
  }
  (void)year;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return false;
  size_t pos = 19;
  if (s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  if (pos < s.size() && s[pos] == 'Z') return pos + 1 == s.size();
  int oh, om;
  return pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && Digits(s, pos + 1, 2, &oh) &&
         s[pos + 3] == ':' && Digits(s, pos + 4, 2, &om) && oh <= 23 && om <= 59;
}

// ---- AuditFileSink

Result<std::unique_ptr<AuditFileSink>> AuditFileSink::Open(std::string path) {
  if (path.empty()) return Status::BadRequest("the audit log path is empty");
  // Reopened on SIGHUP: pinned to the directory it was named relative to.
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) return Status::BadRequest("invalid audit log path " + path);
  std::unique_ptr<AuditFileSink> sink(new AuditFileSink(abs.string()));
  std::lock_guard<std::mutex> lock(sink->mu_);
  RETURN_IF_ERROR(sink->OpenLocked());
  return sink;
}

AuditFileSink::~AuditFileSink() {
  std::lock_guard<std::mutex> lock(mu_);
  CloseLocked();
}

Status AuditFileSink::OpenLocked() {
  if (fd_ >= 0) return Status::Ok();
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot open audit log " + path_ + ": " + std::strerror(errno));
  fd_ = fd;
  return Status::Ok();
}

void AuditFileSink::CloseLocked() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status AuditFileSink::Append(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  int last_errno = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    RETURN_IF_ERROR(OpenLocked());
    std::string_view rest = line;
    while (!rest.empty()) {
      ssize_t n = ::write(fd_, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      rest.remove_prefix(static_cast<size_t>(n));
    }
    if (rest.empty()) return Status::Ok();
    last_errno = errno;
    // As Vault's file device: close, reopen (the file may have been replaced) and try once more.
    CloseLocked();
  }
  return Status::Internal("cannot write audit log " + path_ + ": " + std::strerror(last_errno));
}

Status AuditFileSink::Reopen() {
  std::lock_guard<std::mutex> lock(mu_);
  CloseLocked();
  return OpenLocked();
}

// ---- AuditLog

Result<std::string> AuditLog::LoadOrCreateKey(Storage* storage) {
  std::string key;
  Status st = storage->Get(kHmacKeyStorageKey, &key);
  if (st.ok()) {
    if (key.size() != kHmacKeyBytes) return Status::Internal("stored audit HMAC key has the wrong size");
    return key;
  }
  if (!st.IsNotFound()) return st.Annotate("reading the audit HMAC key");
  key.resize(kHmacKeyBytes);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return Status::Internal("cannot generate the audit HMAC key");
  }
  RETURN_IF_ERROR(storage->Put(kHmacKeyStorageKey, key).Annotate("storing the audit HMAC key"));
  return key;
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, Storage* sys_storage) {
  ASSIGN_OR_RETURN(std::string key, LoadOrCreateKey(sys_storage));
  ASSIGN_OR_RETURN(std::unique_ptr<AuditFileSink> sink, AuditFileSink::Open(path));
  return std::make_unique<AuditLog>(std::move(sink), key);
}

AuditLog::AuditLog(std::unique_ptr<AuditSink> sink, std::string_view hmac_key) : sink_(std::move(sink)) {
  mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac_ != nullptr) key_template_ = EVP_MAC_CTX_new(mac_);
  if (key_template_ != nullptr) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(key_template_, reinterpret_cast<const unsigned char*>(hmac_key.data()), hmac_key.size(),
                     params) != 1) {
      EVP_MAC_CTX_free(key_template_);
      key_template_ = nullptr;
    }
  }
}

AuditLog::~AuditLog() {
  EVP_MAC_CTX_free(key_template_);
  EVP_MAC_free(mac_);
}

std::string AuditLog::Hash(std::string_view input) const {
  // Without a working HMAC nothing may be written in its place: throwing fails the request (VaultApi turns it into
  // a 500 before the backend runs, or after, as a failed response line).
  if (key_template_ == nullptr) throw std::bad_alloc();
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(key_template_);
  if (ctx == nullptr) throw std::bad_alloc();
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  bool ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1 &&
            EVP_MAC_final(ctx, out, &len, sizeof(out)) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) throw std::bad_alloc();
  return std::string(kHmacPrefix) + Hex(out, len);
}

void AuditLog::AppendHashedJson(std::string* out, const Json& value, bool clear) const {
  switch (value.type()) {
    case Json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(out, it.key());
        out->push_back(':');
        // As Vault's hashWalker: the nearest enclosing key decides, arrays keep their key's verdict.
        AppendHashedJson(out, it.value(), IsClearKey(it.key()));
      }
      out->push_back('}');
      return;
    }
    case Json::value_t::array: {
      out->push_back('[');
      for (size_t i = 0; i < value.size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendHashedJson(out, value[i], clear);
      }
      out->push_back(']');
      return;
    }
    case Json::value_t::string: {
      const std::string& s = value.get_ref<const std::string&>();
      if (clear || IsRfc3339Timestamp(s)) {
        AppendJsonString(out, s);
      } else {
        out->push_back('"');
        *out += Hash(s);
        out->push_back('"');
      }
      return;
    }
    default:  // numbers, booleans, null: never secret, as in Vault (only strings are HMAC'd)
      *out += DumpJson(value);
  }
}

AuditLog::Record AuditLog::Prepare(const AuditAuth* auth, const AuditRequest& req) const {
  Record r;
  r.mount_point = req.mount_point;
  r.mount_type = req.mount_type;

  r.auth = "{";
  if (auth != nullptr) {
    if (!auth->token.empty()) AppendField(&r.auth, "client_token", Hash(auth->token));
    AppendField(&r.auth, "accessor", auth->accessor);
    AppendField(&r.auth, "display_name", auth->display_name);
    AppendStringArray(&r.auth, "policies", auth->policies);
    AppendStringArray(&r.auth, "token_policies", auth->policies);
    AppendField(&r.auth, "token_type", auth->token_type);
  }
  r.auth.push_back('}');

  std::string& q = r.request;
  q = "{";
  AppendField(&q, "id", req.id);
  AppendField(&q, "operation", OperationName(req.operation));
  AppendField(&q, "mount_point", req.mount_point);
  AppendField(&q, "mount_type", req.mount_type);
  if (!req.client_token.empty()) AppendField(&q, "client_token", Hash(req.client_token));
  AppendField(&q, "client_token_accessor", req.client_token_accessor);
  AppendRawField(&q, "namespace", "{\"id\":\"root\"}");
  AppendField(&q, "path", req.path);
  if (req.data != nullptr && !req.data->is_null() && !(req.data->is_object() && req.data->empty())) {
    std::string data;
    AppendHashedJson(&data, *req.data, false);
    AppendRawField(&q, "data", data);
  }
  AppendField(&q, "remote_address", req.remote_address);
  if (req.remote_port != 0) AppendRawField(&q, "remote_port", std::to_string(req.remote_port));
  q.push_back('}');
  return r;
}

Status AuditLog::LogRequest(const Record& record, std::string_view error) {
  std::string line;
  line.reserve(64 + record.auth.size() + record.request.size() + error.size());
  line = "{\"time\":\"" + NowRfc3339Nano() + "\",\"type\":\"request\",\"auth\":";
  line += record.auth;
  line += ",\"request\":";
  line += record.request;
  AppendField(&line, "error", error);
  line += "}\n";
  return sink_->Append(line);
}

Status AuditLog::LogResponse(const Record& record, const AuditOutcome& outcome) {
  std::string resp = "{";
  AppendField(&resp, "mount_point", record.mount_point);
  AppendField(&resp, "mount_type", record.mount_type);
  AppendRawField(&resp, "status", std::to_string(outcome.status));
  if (const Response* r = outcome.response; r != nullptr && !r->nil) {
    if (r->raw) {
      // Vault's http_* keys, with the body's size in place of the body: a CRL or PEM is public and large.
      std::string data = "{";
      AppendField(&data, "http_content_type", r->raw->content_type);
      AppendRawField(&data, "http_raw_body_bytes", std::to_string(r->raw->body.size()));
      AppendRawField(&data, "http_status_code", std::to_string(r->raw->status));
      data.push_back('}');
      AppendRawField(&resp, "data", data);
    } else if (!r->data.is_null() && !(r->data.is_object() && r->data.empty())) {
      std::string data;
      AppendHashedJson(&data, r->data, false);
      AppendRawField(&resp, "data", data);
    }
    if (r->auth.is_object()) {
      // A token created or renewed: as Vault's HashAuth, the token is HMAC'd and the rest (accessor, policies,
      // metadata, TTL) is written in clear.
      Json auth = r->auth;
      if (auto it = auth.find("client_token"); it != auth.end() && it->is_string() && !it->get<std::string>().empty()) {
        *it = Hash(it->get<std::string>());
      }
      AppendRawField(&resp, "auth", auth.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    AppendStringArray(&resp, "warnings", r->warnings);
  }
  resp.push_back('}');

  std::string line;
  line.reserve(96 + record.auth.size() + record.request.size() + resp.size() + outcome.error.size());
  line = "{\"time\":\"" + NowRfc3339Nano() + "\",\"type\":\"response\",\"auth\":";
  line += record.auth;
  line += ",\"request\":";
  line += record.request;
  line += ",\"response\":";
  line += resp;
  AppendField(&line, "error", outcome.error);
  line += "}\n";
  return sink_->Append(line);
}

// ---- AuditHashBackend

Result<Response> AuditHashBackend::HandleRequest(const Request& req) {
  if (req.operation != Operation::kUpdate && req.operation != Operation::kCreate) return Status::Unsupported();
  // Vault's sanitizePath: no leading slash, one trailing slash.
  std::string name = req.path;
  while (!name.empty() && name.front() == '/') name.erase(0, 1);
  if (name.empty()) return Status::NotFound("unsupported path");
  if (name.back() != '/') name.push_back('/');

  std::string input;
  if (auto it = req.data.find("input"); it != req.data.end() && !it->is_null()) {
    if (it->is_string()) {
      input = it->get<std::string>();
    } else if (it->is_number()) {
      input = it->dump();
    } else if (it->is_boolean()) {
      input = it->get<bool>() ? "1" : "0";  // Go's weak decoding of a bool into a string
    } else {
      return Status::BadRequest("error converting input to string");
    }
  }
  if (input.empty()) return Status::BadRequest("the \"input\" parameter is empty");
  if (audit_ == nullptr || name != AuditLog::kDeviceName) {
    return Status::BadRequest("unknown audit backend " + DumpJson(Json(name)));
  }
  return Response::Data({{"hash", audit_->Hash(input)}});
}

}  // namespace pki::server
