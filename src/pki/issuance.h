// Issuance building blocks shared by roots, intermediates and leaves: TTL arithmetic, subject assembly, storing
// and response formatting. Plain functions of explicit inputs, so unit tests reach them without a socket.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/crypto/x509.h"
#include "src/engine/fields.h"
#include "src/engine/system_view.h"
#include "src/pki/ca_store.h"
#include "src/pki/cert_store.h"

namespace pki {

// Inputs of Vault's validity computation (issuing/issue_common.go), all times in Unix seconds.
struct ValidityInputs {
  int64_t now = 0;
  int64_t request_ttl = 0;      // 0: not given
  std::string not_after;        // RFC 3339 from the role or the request; empty: not given
  int64_t role_ttl = 0;
  int64_t role_max_ttl = 0;
  // The mount's default and max lease TTLs, asked for only when the request and the role leave them to the mount:
  // behind a plugin host each answer is a round trip.
  const SystemView* mount = nullptr;
};

// NotAfter as Vault computes it: request ttl, else role ttl, else the mount default; capped at the role's max_ttl
// (else the mount's) with Vault's warning; an explicit not_after wins. Both ttl and not_after → 400.
Result<int64_t> ComputeNotAfter(const ValidityInputs& in, std::vector<std::string>* warnings);

// Applies the issuer's leaf_not_after_behavior (err | truncate | permit) when `not_after` is past the issuer's.
Result<int64_t> ApplyLeafNotAfterBehavior(int64_t not_after, const std::string& behavior, int64_t issuer_not_after);

// Subject fields shared by CA generation and the role-driven paths.
struct SubjectFields {
  std::string common_name;
  std::vector<std::string> ou, organization, country, locality, province, street_address, postal_code;
  std::string serial_number;
  std::vector<std::string> user_ids;
};
// The DN in Go's pkix.Name order (C, O, OU, L, ST, street, postalCode, serialNumber, CN, then UIDs).
DistinguishedName BuildSubject(const SubjectFields& f);

// Copies a CSR's subject and every SAN into `t` verbatim (sign-verbatim, sign-intermediate with use_csr_values).
void CopyCsrNames(const CsrInfo& csr, CertTemplate* t);

// Output encoding of the issue/sign family: format pem | der | pem_bundle.
enum class OutputFormat { kPem, kDer, kPemBundle };
Result<OutputFormat> ParseOutputFormat(const std::string& format);
Result<PrivateKeyFormat> ParsePrivateKeyFormat(const std::string& format);

// Fills Vault's certificate response fields: certificate, issuing_ca, ca_chain, serial_number, expiration,
// not_before, and private_key/private_key_type when `private_key` is given.
Result<Json> CertificateResponse(const X509* cert, const std::vector<ChainCert>& issuer_chain, OutputFormat format,
                                 bool remove_roots_from_chain, const EVP_PKEY* private_key,
                                 PrivateKeyFormat key_format);

// Draws a serial number that no stored certificate has.
Result<std::string> UniqueSerial(const CertStore& certs);

// The URLs of config/urls, embedded in certificates issued afterwards.
struct UrlConfig {
  std::vector<std::string> issuing_certificates;
  std::vector<std::string> crl_distribution_points;
  std::vector<std::string> ocsp_servers;
  // OpenBao's: where the delta CRLs are; named in complete CRLs' Freshest CRL extension while delta CRLs are on.
  std::vector<std::string> delta_crl_distribution_points;
  bool enable_templating = false;
};
Result<UrlConfig> ReadUrlConfig(Storage* storage);
Json UrlConfigToJson(const UrlConfig& c);
// The URLs a certificate signed by `issuer` carries: the issuer's own AIA URLs when it has any (Vault's per-issuer
// override), else the mount's config/urls.
Result<UrlConfig> EffectiveUrls(Storage* storage, const IssuerEntry& issuer);
// scheme "://" authority [path]: printable ASCII only (these land in IA5Strings), at most 8 KiB.
bool ValidAiaUrl(const std::string& u);

// The request's signature_bits: 0 (automatic), 256, 384 or 512; 400 otherwise.
Result<int> SignatureBits(const FieldData& f);

// Fields common to root/generate, intermediate/generate and sign-intermediate (Vault's fields.go).
void AddCaSubjectFields(FieldSchemas* fields);
// The name constraints of a CA certificate from the fields AddCaSubjectFields declares (permitted_dns_domains,
// excluded_dns_domains, permitted_ip_ranges, ...; Vault 1.19's set). BadRequest naming the field for a range
// that is not CIDR.
Result<NameConstraintSet> NameConstraintsFromFields(const FieldData& f);
SubjectFields SubjectFromFields(const FieldData& f);

}  // namespace pki
