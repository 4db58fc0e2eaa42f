#include "src/pki/role.h"

#include <cctype>
#include <cstdio>

#include "src/core/text.h"
#include "src/pki/name_policy.h"

namespace pki {
namespace {

constexpr int kStoredRoleVersion = 1;

const char kWarnNoStoreAndLease[] =
    "mutually exclusive values no_store=true and generate_lease=true were both specified; no_store=true takes "
    "priority";
const char kWarnGenerateLease[] =
    "it is encouraged to disable generate_lease and rely on PKI's native capabilities when possible; this option "
    "can cause Vault-wide issues with large numbers of issued certificates";

// Parameters by kind, so that POST defaults, PATCH merging, the response and storage are written once each.
struct BoolParam {
  const char* name;
  bool RoleEntry::*member;
};
struct IntParam {
  const char* name;
  int64_t RoleEntry::*member;
};
struct StringParam {
  const char* name;
  std::string RoleEntry::*member;
};
struct ListParam {
  const char* name;
  std::vector<std::string> RoleEntry::*member;
};

// generate_lease and allow_token_displayname are handled apart: the first has Vault's no_store coupling, the second
// is response-only.
constexpr BoolParam kBoolParams[] = {
    {"allow_localhost", &RoleEntry::allow_localhost},
    {"allowed_domains_template", &RoleEntry::allowed_domains_template},
    {"allow_bare_domains", &RoleEntry::allow_bare_domains},
    {"allow_subdomains", &RoleEntry::allow_subdomains},
    {"allow_glob_domains", &RoleEntry::allow_glob_domains},
    {"allow_wildcard_certificates", &RoleEntry::allow_wildcard_certificates},
    {"allow_any_name", &RoleEntry::allow_any_name},
    {"enforce_hostnames", &RoleEntry::enforce_hostnames},
    {"allow_ip_sans", &RoleEntry::allow_ip_sans},
    {"allowed_uri_sans_template", &RoleEntry::allowed_uri_sans_template},
    {"server_flag", &RoleEntry::server_flag},
    {"client_flag", &RoleEntry::client_flag},
    {"code_signing_flag", &RoleEntry::code_signing_flag},
    {"email_protection_flag", &RoleEntry::email_protection_flag},
    {"use_pss", &RoleEntry::use_pss},
    {"use_csr_common_name", &RoleEntry::use_csr_common_name},
    {"use_csr_sans", &RoleEntry::use_csr_sans},
    {"no_store", &RoleEntry::no_store},
    {"no_store_metadata", &RoleEntry::no_store_metadata},
    {"require_cn", &RoleEntry::require_cn},
    {"basic_constraints_valid_for_non_ca", &RoleEntry::basic_constraints_valid_for_non_ca},
};

// Durations (seconds) and integers share a representation.
constexpr IntParam kIntParams[] = {
    {"ttl", &RoleEntry::ttl},
    {"max_ttl", &RoleEntry::max_ttl},
    {"not_before_duration", &RoleEntry::not_before_duration},
    {"key_bits", &RoleEntry::key_bits},
    {"signature_bits", &RoleEntry::signature_bits},
};

constexpr StringParam kStringParams[] = {
    {"key_type", &RoleEntry::key_type},
    {"serial_number_source", &RoleEntry::serial_number_source},
    {"not_after", &RoleEntry::not_after},
    {"issuer_ref", &RoleEntry::issuer_ref},
};

// policy_identifiers is handled apart (it may be a JSON document).
constexpr ListParam kListParams[] = {
    {"allowed_domains", &RoleEntry::allowed_domains},
    {"allowed_uri_sans", &RoleEntry::allowed_uri_sans},
    {"allowed_other_sans", &RoleEntry::allowed_other_sans},
    {"allowed_serial_numbers", &RoleEntry::allowed_serial_numbers},
    {"allowed_user_ids", &RoleEntry::allowed_user_ids},
    {"key_usage", &RoleEntry::key_usage},
    {"ext_key_usage", &RoleEntry::ext_key_usage},
    {"ext_key_usage_oids", &RoleEntry::ext_key_usage_oids},
    {"ou", &RoleEntry::ou},
    {"organization", &RoleEntry::organization},
    {"country", &RoleEntry::country},
    {"locality", &RoleEntry::locality},
    {"province", &RoleEntry::province},
    {"street_address", &RoleEntry::street_address},
    {"postal_code", &RoleEntry::postal_code},
    {"cn_validations", &RoleEntry::cn_validations},
};

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string ToLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}


// A JSON string literal as Go's encoding/json writes it (HTML-safe escaping of <, >, &, U+2028, U+2029), so
// that re-marshalled policy identifiers read back byte-for-byte as Vault returns them.
std::string GoJsonString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char buf[8];
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '<':
      case '>':
      case '&':
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

Json StringArray(const std::vector<std::string>& v) {
  Json a = Json::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

// Trims each element and drops empty ones, as a comma-string-slice field does.
std::vector<std::string> CleanList(const std::vector<std::string>& in, bool split_commas) {
  std::vector<std::string> out;
  for (const auto& item : in) {
    if (!split_commas) {
      std::string t = Trim(item);
      if (!t.empty()) out.push_back(t);
      continue;
    }
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      if (comma == std::string::npos) comma = item.size();
      std::string t = Trim(std::string_view(item).substr(start, comma - start));
      if (!t.empty()) out.push_back(t);
      start = comma + 1;
    }
  }
  return out;
}

// Reads one key of a policy-identifier object the way Go's json.Unmarshal matches struct fields
// (case-insensitively, last one wins). False when the value is neither a string nor null.
bool PolicyObjectField(const Json& obj, const char* field, std::string* out) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!EqualFoldAscii(it.key(), field)) continue;
    if (it.value().is_null()) continue;
    if (!it.value().is_string()) return false;
    *out = it.value().get<std::string>();
  }
  return true;
}

bool DecodePolicyObject(const Json& obj, PolicyIdentifier* out) {
  if (!obj.is_object()) return false;
  return PolicyObjectField(obj, "oid", &out->oid) && PolicyObjectField(obj, "cps", &out->cps) &&
         PolicyObjectField(obj, "notice", &out->notice);
}

// Vault's storage string for a qualified policy: json.Marshal of {oid, cps omitempty, notice omitempty}.
std::string EncodePolicyObject(const PolicyIdentifier& p) {
  std::string s = "{\"oid\":" + GoJsonString(p.oid);
  if (!p.cps.empty()) s += ",\"cps\":" + GoJsonString(p.cps);
  if (!p.notice.empty()) s += ",\"notice\":" + GoJsonString(p.notice);
  return s + "}";
}

// policy_identifiers arrives as a list of OIDs (JSON list or comma-separated string) or as one string holding a JSON
// list of {oid, notice, cps} objects; Vault stores the latter as one JSON object string per policy.
std::vector<std::string> PolicyIdentifiersFromField(const std::vector<std::string>& raw) {
  if (raw.size() == 1) {
    Json doc = Json::parse(raw[0], nullptr, /*allow_exceptions=*/false);
    if (doc.is_null() && Trim(raw[0]) == "null") return {};
    if (doc.is_array()) {
      std::vector<std::string> out;
      bool ok = true;
      for (const auto& e : doc) {
        PolicyIdentifier p;
        if (!DecodePolicyObject(e, &p)) {
          ok = false;
          break;
        }
        out.push_back(EncodePolicyObject(p));
      }
      if (ok) return out;
    }
  }
  return CleanList(raw, /*split_commas=*/true);
}

// certutil.ValidateDefaultOrValueKeyTypeSignatureLength: resolves default key and hash sizes and checks them.
Status ResolveKeyParameters(const std::string& key_type, int64_t* key_bits, int64_t* signature_bits) {
  if (*key_bits == 0) {
    if (key_type == "rsa") *key_bits = 2048;
    if (key_type == "ec") *key_bits = 256;
  }
  if (key_type == "rsa") {
    if (*key_bits < 2048) {
      return Status::BadRequest("RSA keys < 2048 bits are unsafe and not supported: got " + std::to_string(*key_bits));
    }
    if (*key_bits != 2048 && *key_bits != 3072 && *key_bits != 4096 && *key_bits != 8192) {
      return Status::BadRequest("unsupported bit length for RSA key: " + std::to_string(*key_bits));
    }
    if (*signature_bits == 0) *signature_bits = 256;
    if (*signature_bits != 256 && *signature_bits != 384 && *signature_bits != 512) {
      return Status::BadRequest("unsupported hash signature algorithm: " + std::to_string(*signature_bits));
    }
    return Status::Ok();
  }
  if (key_type == "ec") {
    if (*key_bits != 224 && *key_bits != 256 && *key_bits != 384 && *key_bits != 521) {
      return Status::BadRequest("unsupported bit length for EC key: " + std::to_string(*key_bits));
    }
    // The issuer's curve decides the ECDSA hash; Vault keeps whatever was given.
    return Status::Ok();
  }
  if (key_type == "ed25519" || key_type == "any") {
    *signature_bits = 0;
    return Status::Ok();
  }
  return Status::BadRequest("unknown key type " + key_type);
}

// Vault's checkCNValidations: lowercases, rejects unknown or repeated values and `disabled` mixed with others.
Result<std::vector<std::string>> CheckCnValidations(const std::vector<std::string>& validations) {
  if (validations.empty()) return std::vector<std::string>{"email", "hostname"};
  bool have_disabled = false, have_email = false, have_hostname = false;
  std::vector<std::string> result;
  for (const auto& v : validations) {
    std::string lower = ToLower(v);
    bool* seen = nullptr;
    if (lower == "disabled") seen = &have_disabled;
    if (lower == "email") seen = &have_email;
    if (lower == "hostname") seen = &have_hostname;
    if (seen == nullptr) {
      return Status::BadRequest("cn_validations value incorrect: unknown type: `" + v + "`");
    }
    if (*seen) return Status::BadRequest("cn_validations value incorrect: `" + lower + "` specified multiple times");
    *seen = true;
    result.push_back(lower);
  }
  if (have_disabled && (have_email || have_hostname)) {
    return Status::BadRequest(
        "cn_validations value incorrect: cannot specify `disabled` along with `email` or `hostname`");
  }
  return result;
}

// The role-side syntax of allowed_other_sans: `*` alone, or entries `<oid>;UTF8:<value>` (also UTF-8, any case).
Status CheckAllowedOtherSans(const std::vector<std::string>& allowed) {
  if (allowed.empty() || (allowed.size() == 1 && allowed[0] == "*")) return Status::Ok();
  for (const auto& entry : allowed) {
    Result<OtherSan> parsed = ParseOtherSanEntry(entry);
    if (!parsed.ok()) return parsed.status().Annotate("error parsing allowed_other_sans");
  }
  return Status::Ok();
}

// Vault's validateRole, plus a syntax check of not_after (Vault defers it to issuance).
Status ValidateRole(RoleEntry* r) {
  if (r->max_ttl > 0 && r->ttl > r->max_ttl) {
    return Status::BadRequest("\"ttl\" value must be less than \"max_ttl\" value");
  }
  RETURN_IF_ERROR(ResolveKeyParameters(r->key_type, &r->key_bits, &r->signature_bits));
  if (!r->serial_number_source.empty() && r->serial_number_source != "json-csr" && r->serial_number_source != "json") {
    return Status::BadRequest("unknown serial_number_source " + r->serial_number_source);
  }
  for (const auto& oid : r->ext_key_usage_oids) {
    if (!IsDottedOid(oid)) {
      return Status::BadRequest(GoQuote(oid) + " could not be parsed as a valid oid for an extended key usage");
    }
  }
  RETURN_IF_ERROR(ParsePolicyIdentifiers(r->policy_identifiers).status());
  if (!r->not_after.empty()) RETURN_IF_ERROR(ParseRfc3339Seconds(r->not_after).status());
  if (r->issuer_ref.empty()) r->issuer_ref = "default";
  ASSIGN_OR_RETURN(r->cn_validations, CheckCnValidations(r->cn_validations));
  return Status::Ok();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool ReadDigits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Typed readers for the storage form; any type mismatch makes the entry malformed.
class StoredRoleReader {
 public:
  explicit StoredRoleReader(const Json& doc) : doc_(doc) {}

  void Bool(const char* key, bool* out) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail(key);
    *out = v->get<bool>();
  }
  void Int(const char* key, int64_t* out) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_number_integer()) return Fail(key);
    *out = v->get<int64_t>();
  }
  void String(const char* key, std::string* out) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(key);
    *out = v->get<std::string>();
  }
  void List(const char* key, std::vector<std::string>* out) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(key);
    std::vector<std::string> items;
    for (const auto& e : *v) {
      if (!e.is_string()) return Fail(key);
      items.push_back(e.get<std::string>());
    }
    *out = std::move(items);
  }
  const Status& status() const { return status_; }

 private:
  const Json* Find(const char* key) const {
    auto it = doc_.find(key);
    if (it == doc_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void Fail(const char* key) {
    if (status_.ok()) status_ = Status::Internal(std::string("stored role is malformed: bad field ") + key);
  }

  const Json& doc_;
  Status status_;
};

FieldSchema Schema(FieldType type, Json default_value, std::string description) {
  FieldSchema s;
  s.type = type;
  s.default_value = std::move(default_value);
  s.description = std::move(description);
  return s;
}

FieldSchemas BuildRoleFieldSchemas() {
  using T = FieldType;
  FieldSchemas m;
  m["name"] = Schema(T::kString, nullptr, "Name of the role");
  m["backend"] = Schema(T::kString, nullptr, "Backend Type");
  m["ttl"] = Schema(T::kDuration, nullptr,
                    "The lease duration (validity period of the certificate) if no specific lease duration is "
                    "requested. Defaults to the system default value or the value of max_ttl, whichever is shorter.");
  m["max_ttl"] = Schema(T::kDuration, nullptr,
                        "The maximum allowed lease duration. If not set, defaults to the system maximum lease TTL.");
  m["allow_localhost"] = Schema(T::kBool, true,
                                "Whether to allow \"localhost\" and \"localdomain\" as a valid common name in a "
                                "request, independent of allowed_domains value.");
  m["allowed_domains"] = Schema(T::kCommaStringSlice, nullptr,
                                "Specifies the domains this role is allowed to issue certificates for, used with "
                                "allow_bare_domains, allow_subdomains and allow_glob_domains.");
  m["allowed_domains_template"] = Schema(T::kBool, false,
                                         "If set, allowed domains can be specified using identity template "
                                         "policies. Non-templated domains are also permitted.");
  m["allow_bare_domains"] = Schema(T::kBool, nullptr,
                                   "If set, clients can request certificates for the base domains themselves, e.g. "
                                   "\"example.com\" of domains listed in allowed_domains.");
  m["allow_subdomains"] = Schema(T::kBool, nullptr,
                                 "If set, clients can request certificates for subdomains of domains listed in "
                                 "allowed_domains, including wildcard subdomains.");
  m["allow_glob_domains"] = Schema(T::kBool, nullptr,
                                   "If set, domains specified in allowed_domains can include shell-style glob "
                                   "patterns, e.g. \"ftp*.example.com\".");
  m["allow_wildcard_certificates"] = Schema(T::kBool, true,
                                            "If set, allows certificates with wildcards in the common name to be "
                                            "issued, conforming to RFC 6125's Section 6.4.3.");
  m["allow_any_name"] = Schema(T::kBool, nullptr,
                               "If set, clients can request certificates for any domain, regardless of "
                               "allowed_domains restrictions.");
  m["enforce_hostnames"] = Schema(T::kBool, true,
                                  "If set, only valid host names are allowed for CN and DNS SANs, and the host part "
                                  "of email addresses. Defaults to true.");
  m["allow_ip_sans"] = Schema(T::kBool, true, "If set, IP Subject Alternative Names are allowed.");
  m["allowed_uri_sans"] = Schema(T::kCommaStringSlice, nullptr,
                                 "If set, an array of allowed URIs for URI Subject Alternative Names. These values "
                                 "support globbing.");
  m["allowed_uri_sans_template"] = Schema(T::kBool, false,
                                          "If set, Allowed URI SANs can be specified using identity template "
                                          "policies. Non-templated URI SANs are also permitted.");
  m["allowed_other_sans"] = Schema(T::kCommaStringSlice, nullptr,
                                   "If set, an array of allowed other names to put in SANs, in the format "
                                   "<oid>;UTF8:<value> (values support globbing), or a single \"*\".");
  m["allowed_serial_numbers"] = Schema(T::kCommaStringSlice, nullptr,
                                       "If set, an array of allowed serial numbers to put in Subject. These values "
                                       "support globbing.");
  m["allowed_user_ids"] = Schema(T::kCommaStringSlice, nullptr,
                                 "If set, an array of allowed user-ids to put in the Subject. These values support "
                                 "globbing.");
  m["server_flag"] = Schema(T::kBool, true, "If set, certificates are flagged for server auth use.");
  m["client_flag"] = Schema(T::kBool, true, "If set, certificates are flagged for client auth use.");
  m["code_signing_flag"] = Schema(T::kBool, nullptr, "If set, certificates are flagged for code signing use.");
  m["email_protection_flag"] = Schema(T::kBool, nullptr, "If set, certificates are flagged for email protection use.");
  m["key_type"] = Schema(T::kString, "rsa",
                         "The type of key to use; \"rsa\", \"ec\", \"ed25519\" and \"any\" are the only valid "
                         "values.");
  m["key_bits"] = Schema(T::kInt, 0,
                         "The number of bits to use: 0 (default for the type); rsa 2048, 3072, 4096 or 8192; ec 224, "
                         "256, 384 or 521; ignored with ed25519.");
  m["signature_bits"] = Schema(T::kInt, 0,
                               "The number of bits to use in the signature algorithm: 256, 384 or 512; 0 selects "
                               "automatically.");
  m["use_pss"] = Schema(T::kBool, false, "Whether or not to use PSS signatures when using a RSA key-type issuer.");
  m["key_usage"] = Schema(T::kCommaStringSlice, Json::array({"DigitalSignature", "KeyAgreement", "KeyEncipherment"}),
                          "A comma-separated string or list of key usages (not extended key usages).");
  m["ext_key_usage"] =
      Schema(T::kCommaStringSlice, Json::array(), "A comma-separated string or list of extended key usages.");
  m["ext_key_usage_oids"] =
      Schema(T::kCommaStringSlice, nullptr, "A comma-separated string or list of extended key usage oids.");
  m["use_csr_common_name"] = Schema(T::kBool, true,
                                    "If set, when used with a signing profile, the common name in the CSR will be "
                                    "used.");
  m["use_csr_sans"] =
      Schema(T::kBool, true, "If set, when used with a signing profile, the SANs in the CSR will be used.");
  m["serial_number_source"] = Schema(T::kString, "json-csr",
                                     "Source for the certificate subject serial number: \"json-csr\" (default) or "
                                     "\"json\".");
  m["ou"] = Schema(T::kCommaStringSlice, nullptr, "If set, OU (OrganizationalUnit) will be set to this value.");
  m["organization"] = Schema(T::kCommaStringSlice, nullptr, "If set, O (Organization) will be set to this value.");
  m["country"] = Schema(T::kCommaStringSlice, nullptr, "If set, Country will be set to this value.");
  m["locality"] = Schema(T::kCommaStringSlice, nullptr, "If set, Locality will be set to this value.");
  m["province"] = Schema(T::kCommaStringSlice, nullptr, "If set, Province will be set to this value.");
  m["street_address"] = Schema(T::kCommaStringSlice, nullptr, "If set, Street Address will be set to this value.");
  m["postal_code"] = Schema(T::kCommaStringSlice, nullptr, "If set, Postal Code will be set to this value.");
  m["generate_lease"] = Schema(T::kBool, nullptr,
                               "If set, certificates issued/signed against this role will have leases attached to "
                               "them.");
  m["no_store"] = Schema(T::kBool, nullptr,
                         "If set, certificates issued/signed against this role will not be stored in the storage "
                         "backend. Implies generate_lease=false.");
  m["no_store_metadata"] = Schema(T::kBool, nullptr,
                                  "If set, certificate metadata is not stored (Vault Enterprise); stored and "
                                  "echoed only.");
  m["require_cn"] = Schema(T::kBool, true,
                           "If set to false, makes the 'common_name' field optional while generating a "
                           "certificate.");
  m["cn_validations"] = Schema(T::kCommaStringSlice, Json::array({"email", "hostname"}),
                               "List of allowed validations to run against the Common Name field: 'email', "
                               "'hostname', or 'disabled' alone.");
  // A string slice rather than a comma slice so that a JSON document given as one string reaches the handler
  // intact; the handler splits plain strings on commas itself.
  m["policy_identifiers"] = Schema(T::kStringSlice, nullptr,
                                   "A comma-separated string or list of policy OIDs, or a JSON list of qualified "
                                   "policy information [{\"oid\":..,\"notice\":..,\"cps\":..}].");
  m["basic_constraints_valid_for_non_ca"] =
      Schema(T::kBool, nullptr, "Mark Basic Constraints valid when issuing non-CA certificates.");
  m["not_before_duration"] =
      Schema(T::kDuration, 30, "The duration before now which the certificate needs to be backdated by.");
  m["not_after"] = Schema(T::kString, nullptr,
                          "Set the not after field of the certificate with specified date value, in UTC format "
                          "YYYY-MM-ddTHH:MM:SSZ.");
  m["issuer_ref"] =
      Schema(T::kString, "default", "Reference to the issuer used to sign requests serviced by this role.");
  return m;
}

}  // namespace

const FieldSchemas& RoleFieldSchemas() {
  static const FieldSchemas* const kSchemas = new FieldSchemas(BuildRoleFieldSchemas());
  return *kSchemas;
}

Result<RoleEntry> RoleFromFields(const FieldData& f, const RoleEntry* existing, std::vector<std::string>* warnings) {
  RoleEntry r;
  if (existing != nullptr) r = *existing;
  // PATCH keeps what was not sent; POST takes the value or the schema default.
  auto take = [&](const char* name) { return existing == nullptr || f.Has(name); };

  std::string name = f.GetString("name");
  if (!name.empty() || existing == nullptr) r.name = name;

  for (const auto& p : kBoolParams) {
    if (take(p.name)) r.*p.member = f.GetBool(p.name);
  }
  for (const auto& p : kIntParams) {
    if (take(p.name)) r.*p.member = f.GetInt(p.name);
  }
  for (const auto& p : kStringParams) {
    if (take(p.name)) r.*p.member = f.GetString(p.name);
  }
  for (const auto& p : kListParams) {
    if (take(p.name)) r.*p.member = f.GetStrings(p.name);
  }
  if (take("policy_identifiers")) r.policy_identifiers = PolicyIdentifiersFromField(f.GetStrings("policy_identifiers"));
  r.allow_token_displayname = false;

  if (take("allowed_other_sans")) RETURN_IF_ERROR(CheckAllowedOtherSans(r.allowed_other_sans));

  // no_store implies generate_lease=false; asking for both is worth a warning.
  std::string warning;
  bool lease_requested = take("generate_lease") ? f.GetBool("generate_lease") : existing->generate_lease;
  if (r.no_store) {
    r.generate_lease = false;
    if (lease_requested) warning = kWarnNoStoreAndLease;
  } else {
    r.generate_lease = lease_requested;
    if (r.generate_lease) warning = kWarnGenerateLease;
  }

  RETURN_IF_ERROR(ValidateRole(&r));
  if (!warning.empty() && warnings != nullptr) warnings->push_back(warning);
  return r;
}

Json RoleToResponse(const RoleEntry& role) {
  Json d = Json::object();
  for (const auto& p : kBoolParams) d[p.name] = role.*p.member;
  for (const auto& p : kIntParams) d[p.name] = role.*p.member;
  for (const auto& p : kStringParams) d[p.name] = role.*p.member;
  for (const auto& p : kListParams) d[p.name] = StringArray(role.*p.member);
  d["policy_identifiers"] = StringArray(role.policy_identifiers);
  d["generate_lease"] = role.generate_lease;
  d["allow_token_displayname"] = role.allow_token_displayname;
  return d;
}

std::string SerializeRole(const RoleEntry& role) {
  Json d = RoleToResponse(role);
  d["version"] = kStoredRoleVersion;
  d["name"] = role.name;
  return d.dump();
}

Result<RoleEntry> ParseStoredRole(const std::string& data) {
  Json doc = Json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Status::Internal("stored role is not a JSON object");
  RoleEntry r;
  StoredRoleReader in(doc);
  in.String("name", &r.name);
  for (const auto& p : kBoolParams) in.Bool(p.name, &(r.*p.member));
  for (const auto& p : kIntParams) in.Int(p.name, &(r.*p.member));
  for (const auto& p : kStringParams) in.String(p.name, &(r.*p.member));
  for (const auto& p : kListParams) in.List(p.name, &(r.*p.member));
  in.List("policy_identifiers", &r.policy_identifiers);
  in.Bool("generate_lease", &r.generate_lease);
  RETURN_IF_ERROR(in.status());
  return r;
}

Result<std::vector<PolicyIdentifier>> ParsePolicyIdentifiers(const std::vector<std::string>& stored) {
  std::vector<PolicyIdentifier> out;
  for (const auto& s : stored) {
    if (s.empty()) continue;
    if (IsDottedOid(s)) {
      out.push_back(PolicyIdentifier{s, "", ""});
      continue;
    }
    PolicyIdentifier p;
    Json doc = Json::parse(s, nullptr, /*allow_exceptions=*/false);
    if (!DecodePolicyObject(doc, &p)) {
      return Status::BadRequest("Policy Identifier " + GoQuote(s) +
                                " is neither a valid OID nor a JSON Policy Identifier");
    }
    if (!IsDottedOid(p.oid)) {
      return Status::BadRequest("Policy Identifier " + GoQuote(s) + " has an invalid oid " + GoQuote(p.oid));
    }
    out.push_back(std::move(p));
  }
  return out;
}

bool IsDottedOid(std::string_view text) {
  std::vector<std::string_view> arcs;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    arcs.push_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (arcs.size() < 2) return false;
  for (std::string_view arc : arcs) {
    // 39 digits hold any 128-bit arc (2.25.<uuid>).
    if (arc.empty() || arc.size() > 39) return false;
    for (char c : arc) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  if (arcs[0].size() != 1 || arcs[0][0] > '2') return false;
  if (arcs[0][0] < '2') {
    std::string_view second = arcs[1];
    while (second.size() > 1 && second[0] == '0') second.remove_prefix(1);
    if (second.size() > 2 || (second.size() == 2 && (second[0] - '0') * 10 + (second[1] - '0') >= 40)) return false;
  }
  return true;
}

Result<int64_t> ParseRfc3339Seconds(std::string_view s) {
  auto bad = [&]() {
    return Status::BadRequest("parsing time " + GoQuote(s) +
                              " as \"2006-01-02T15:04:05Z07:00\": not an RFC 3339 timestamp");
  };
  int64_t year, month, day, hour, minute, second;
  if (!ReadDigits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !ReadDigits(s, 5, 2, &month) || s[7] != '-' ||
      !ReadDigits(s, 8, 2, &day) || s[10] != 'T' || !ReadDigits(s, 11, 2, &hour) || s[13] != ':' ||
      !ReadDigits(s, 14, 2, &minute) || s[16] != ':' || !ReadDigits(s, 17, 2, &second)) {
    return bad();
  }
  static const int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return bad();
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int64_t month_days = kDaysInMonth[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > month_days) return bad();
  size_t pos = 19;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    size_t digits = 0;
    for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) ++digits;
    if (digits == 0) return bad();
  }
  int64_t offset = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int64_t oh, om;
    if (!ReadDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ReadDigits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = (s[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  return DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
}

}  // namespace pki
