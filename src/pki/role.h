// Roles: the named issuance policies of Vault's PKI engine (`roles/:name`).
//
// RoleEntry holds one member per role parameter of Vault's API, named as the API field. RoleFromFields turns a
// parsed request into a validated entry with Vault's defaults, merge (PATCH) semantics and error texts;
// RoleToResponse renders an entry as Vault's read returns it. The policy checks that a role imposes on requested
// names live in name_policy.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/status.h"
#include "src/engine/fields.h"
#include "src/engine/request.h"

namespace pki {

// One role, as stored and as read back. Durations are whole seconds; lists are never null. A default-constructed
// RoleEntry equals a role written with POST and no parameters (Vault's defaults, key_bits resolved to 2048).
// Plain value type: copy freely; no synchronization needed.
struct RoleEntry {
  std::string name;  // the role's name (from the path); not part of the read response

  int64_t ttl = 0;      // 0: the mount's default TTL
  int64_t max_ttl = 0;  // 0: the mount's max TTL

  bool allow_localhost = true;
  std::vector<std::string> allowed_domains;
  bool allowed_domains_template = false;
  bool allow_bare_domains = false;
  bool allow_subdomains = false;
  bool allow_glob_domains = false;
  bool allow_wildcard_certificates = true;
  bool allow_any_name = false;
  bool enforce_hostnames = true;
  bool allow_ip_sans = true;
  std::vector<std::string> allowed_uri_sans;
  bool allowed_uri_sans_template = false;
  std::vector<std::string> allowed_other_sans;
  std::vector<std::string> allowed_serial_numbers;
  std::vector<std::string> allowed_user_ids;

  bool server_flag = true;
  bool client_flag = true;
  bool code_signing_flag = false;
  bool email_protection_flag = false;

  std::string key_type = "rsa";  // rsa | ec | ed25519 | any
  int64_t key_bits = 2048;       // resolved: rsa 2048, ec 256 when 0 was given
  int64_t signature_bits = 256;  // resolved: rsa 256 when 0 was given; 0 for ed25519/any
  bool use_pss = false;
  std::vector<std::string> key_usage = {"DigitalSignature", "KeyAgreement", "KeyEncipherment"};
  std::vector<std::string> ext_key_usage;
  std::vector<std::string> ext_key_usage_oids;

  bool use_csr_common_name = true;
  bool use_csr_sans = true;
  std::string serial_number_source = "json-csr";  // json-csr | json

  std::vector<std::string> ou;
  std::vector<std::string> organization;
  std::vector<std::string> country;
  std::vector<std::string> locality;
  std::vector<std::string> province;
  std::vector<std::string> street_address;
  std::vector<std::string> postal_code;

  bool generate_lease = false;
  bool no_store = false;
  bool no_store_metadata = false;  // Vault Enterprise (certificate metadata); stored and echoed only
  bool require_cn = true;
  std::vector<std::string> cn_validations = {"email", "hostname"};
  // Each entry is a dotted OID or a JSON object {"oid":..,"cps":..,"notice":..} (Vault's storage form).
  std::vector<std::string> policy_identifiers;
  bool basic_constraints_valid_for_non_ca = false;
  int64_t not_before_duration = 30;
  std::string not_after;  // RFC 3339, or empty
  std::string issuer_ref = "default";

  bool allow_token_displayname = false;  // deprecated; never settable, always false in responses
};

// The field schemas of `roles/:name` (types and defaults as Vault's path_roles.go). Built once; immutable.
const FieldSchemas& RoleFieldSchemas();

// Builds a role from request fields parsed against RoleFieldSchemas().
//
// `existing == nullptr` (POST): every omitted field takes its default. `existing != nullptr` (PATCH): omitted
// fields keep the existing values. The name comes from the "name" field (else from `existing`).
// Validates as Vault's validateRole does and resolves key_bits/signature_bits/cn_validations/issuer_ref. Errors are
// BadRequest with Vault's texts. Warnings (generate_lease with or without no_store) are appended to *warnings when
// it is not null.
Result<RoleEntry> RoleFromFields(const FieldData& f, const RoleEntry* existing, std::vector<std::string>* warnings);

// The role as Vault's `GET roles/:name` returns it in `data`: every field, durations as integer seconds, lists as
// arrays (never null), issuer_ref under that name.
Json RoleToResponse(const RoleEntry& role);

// Storage form of a role (JSON, our own layout). ParseStoredRole accepts what SerializeRole wrote; missing fields
// take their defaults, so older entries keep loading. A malformed entry is an Internal error.
std::string SerializeRole(const RoleEntry& role);
Result<RoleEntry> ParseStoredRole(const std::string& data);

// A certificate policy as decoded from RoleEntry::policy_identifiers.
struct PolicyIdentifier {
  std::string oid;
  std::string cps;     // empty: no CPS qualifier
  std::string notice;  // empty: no user notice qualifier
};

// Decodes the stored policy identifiers (dotted OIDs or JSON objects), skipping empty entries. BadRequest naming
// the first entry that is neither.
Result<std::vector<PolicyIdentifier>> ParsePolicyIdentifiers(const std::vector<std::string>& stored);

// Whether `text` is a dotted-decimal OID that DER can encode: at least two arcs of decimal digits, the first 0-2,
// the second below 40 when the first is 0 or 1.
bool IsDottedOid(std::string_view text);

// Parses an RFC 3339 timestamp as Go's time.Parse(time.RFC3339, ..) accepts it ("2030-01-02T03:04:05Z",
// "...05.123+02:00"), fractions truncated. Returns Unix seconds; BadRequest naming the input otherwise.
Result<int64_t> ParseRfc3339Seconds(std::string_view text);

}  // namespace pki
