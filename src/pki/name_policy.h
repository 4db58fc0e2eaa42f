// Name policy: what a role allows in a certificate's names, as Vault's issuance checks it (issuing/issue_common.go:
// ValidateNames, ValidateCommonName, ValidateOtherSANs, ValidateURISAN, ValidateSerialNumber, ValidateUserId).
//
// Every function is a pure function of its inputs; errors are BadRequest with Vault's texts. An issuance path calls
// them in Vault's order:
//
//   names = CSR DNS/email SANs (sign with use_csr_sans) or empty
//   AddCommonNameToSans(cn, &names)                // unless exclude_cn_from_sans
//   AddAltNamesToSans(alt_names, &names)           // unless the SANs came from the CSR
//   ValidateCommonName(role, cn)                   // unless cn is empty
//   ValidateSubjectSerialNumber(role, serial)      // unless serial is empty
//   ValidateDnsAndEmailSans(role, names.dns_names, names.emails)
//   ParseOtherSans(other_sans) -> ValidateOtherSans(role, parsed)
//   ParseIpSans(role, ip_sans, source)
//   ValidateUriSans(role, uri_sans, source)
//   ValidateUserIds(role, user_ids)
//
// Hostnames are compared as given; HostnameToAscii converts internationalized names (punycode) for encoding, as
// Vault's idna profile does, and IsValidHostname is its hostname/wildcard grammar.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/status.h"
#include "src/pki/role.h"

namespace pki {

// Where SANs came from; it only changes the wording of Vault's errors ("via the API" / "via CSR").
enum class SanSource { kApi, kCsr };

// An otherName SAN: type-id OID and UTF-8 value.
struct OtherSan {
  std::string oid;
  std::string value;
};

// DNS and email SANs being assembled for a certificate, in the order added. Vault de-duplicates and sorts both
// lists when it builds the certificate (strutil.RemoveDuplicates).
struct DnsAndEmailNames {
  std::vector<std::string> dns_names;
  std::vector<std::string> emails;
};

// Adds the common name to the SANs as Vault does: to emails if it contains '@'; otherwise its ASCII form
// (HostnameToAscii) to dns_names when that is a valid hostname; a CN that is not a hostname is not added. An empty
// cn adds nothing. BadRequest with the idna error when the conversion fails.
Status AddCommonNameToSans(const std::string& cn, DnsAndEmailNames* names);

// Adds a request's alt_names (comma-separated; entries trimmed, empty ones dropped, de-duplicated and sorted as
// Vault does): entries containing '@' to emails, others converted with HostnameToAscii to dns_names. BadRequest with
// the idna error, or "subject alternate name <v> is not a valid DNS name and cannot be included as a SAN".
Status AddAltNamesToSans(const std::string& alt_names, DnsAndEmailNames* names);

// Converts a DNS name to ASCII as Vault's idna profile (StrictDomainName, VerifyDNSLength, no mapping) does:
// non-ASCII labels become "xn--" punycode, "xn--" labels must decode, every label must be 1-63 bytes and the name at
// most 253 (a trailing dot is kept and not counted). BadRequest `idna: invalid label "<label>"` otherwise.
Result<std::string> HostnameToAscii(std::string_view name);

// Whether `ascii` matches Vault's wildcard-hostname grammar: LDH labels separated by dots, an optional trailing dot,
// and optionally one RFC 6125 wildcard left-most label (`*`, `*x`, `x*`, `x*y`) followed by at least one label.
bool IsValidHostname(std::string_view ascii);

// Vault's ValidateNames: the first of `names` (DNS names, or emails as local@host) that the role does not allow,
// or nullopt when all pass. Checks, per name: wildcard rules (allow_wildcard_certificates, one `*` in the left-most
// label, no wildcard emails), enforce_hostnames, then allow_any_name, allow_localhost (localhost, localdomain and,
// with allow_subdomains, their subdomains), and allowed_domains with allow_bare_domains / allow_subdomains
// (including `*.domain`) / allow_glob_domains (`*` may span labels; matched case-insensitively against the whole
// name). allowed_domains templates are used literally (no identity entities here).
std::optional<std::string> FirstDisallowedName(const RoleEntry& role, const std::vector<std::string>& names);

// Checks the common name against the role: nothing when cn_validations is ["disabled"]; otherwise the name rules
// above, then that an email CN (contains '@') is allowed by `email` and any other CN by `hostname`.
// BadRequest "common name <cn> not allowed by this role". An empty cn passes (require_cn is the caller's check).
Status ValidateCommonName(const RoleEntry& role, const std::string& cn);

// Checks DNS and email SANs with FirstDisallowedName. BadRequest "subject alternate name <n> not allowed by this
// role" for the first bad DNS name, then "email address <e> not allowed by this role" for the first bad email.
Status ValidateDnsAndEmailSans(const RoleEntry& role, const std::vector<std::string>& dns_names,
                               const std::vector<std::string>& emails);

// Parses requested other SANs `<oid>;UTF8:<value>` (type UTF8 or UTF-8, any case; the value may contain ';' and
// ':'). BadRequest "could not parse requested other SAN: ..." on bad syntax or an OID that is not dotted-decimal.
// Parses one `<oid>;UTF8:<value>` entry (type UTF8 or UTF-8, any case); the OID is not checked here.
// BadRequest "expected a semicolon in other SAN ..." and Vault's other syntax errors.
Result<OtherSan> ParseOtherSanEntry(const std::string& entry);

Result<std::vector<OtherSan>> ParseOtherSans(const std::vector<std::string>& entries);

// Checks parsed other SANs against allowed_other_sans (`*` alone allows anything; else each requested OID must be
// listed and its value must match one of that OID's value globs). BadRequest "other SAN OID <oid> not allowed by
// this role" or "other SAN <value> not allowed for OID <oid> by this role", for the first offender in order.
Status ValidateOtherSans(const RoleEntry& role, const std::vector<OtherSan>& requested);

// Checks URI SANs: allowed_uri_sans empty refuses any ("URI Subject Alternative Names are not allowed in this role,
// but were provided via the API|CSR"); each must match one glob ("... were provided via the API|CSR which are not
// valid for this role") and parse as a URI ("the provided URI Subject Alternative Name "<u>" is not a valid URI").
Status ValidateUriSans(const RoleEntry& role, const std::vector<std::string>& uris, SanSource source);

// Checks the Subject serialNumber attribute: allowed if equal to an allowed_serial_numbers entry or matching one
// containing `*`. BadRequest "serial_number <v> not allowed by this role" (also when the list is empty).
Status ValidateSubjectSerialNumber(const RoleEntry& role, const std::string& serial_number);

// Checks UID attributes: each must equal an allowed_user_ids entry (case-insensitively) or match one containing
// `*`. BadRequest "user_id <v> is not allowed by this role" for the first offender (any, when the list is empty).
Status ValidateUserIds(const RoleEntry& role, const std::vector<std::string>& user_ids);

// Parses IP SANs (IPv4 dotted quad or IPv6, no zone) into canonical text (IPv4-mapped IPv6 becomes IPv4, as Go
// encodes it). Refused when the role has allow_ip_sans=false: "IP Subject Alternative Names are not allowed in this
// role, but was provided [a b]" (API) or "... but was provided some via CSR". BadRequest `the value "<v>" is not a
// valid IP address` for a bad value. An empty list always passes.
Result<std::vector<std::string>> ParseIpSans(const RoleEntry& role, const std::vector<std::string>& ips,
                                             SanSource source);

// Go-style glob as Vault uses it (ryanuber/go-glob): `*` matches any run of characters, including '.' and none;
// nothing else is special; case-sensitive.
bool GlobMatch(std::string_view pattern, std::string_view subject);

}  // namespace pki
