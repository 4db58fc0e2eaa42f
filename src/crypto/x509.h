// Certificates and CSRs: build, sign, parse, encode. The PKI policy lives elsewhere; this layer only turns a
// fully decided CertTemplate into a signed certificate, and DER/PEM into values the policy can inspect.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/status.h"
#include "src/crypto/keys.h"
#include "src/crypto/ossl.h"

namespace pki {

// A subject or issuer name as an ordered list of (attribute short name or dotted OID, value).
using DistinguishedName = std::vector<std::pair<std::string, std::string>>;

struct OtherName {
  std::string oid;
  std::string utf8_value;
};

struct PolicyInformation {
  std::string oid;
  std::string cps;     // optional CPS URI qualifier
  std::string notice;  // optional user notice explicit text
};

// Key usage bits by Vault's names (DigitalSignature, ContentCommitment, KeyEncipherment, DataEncipherment,
// KeyAgreement, CertSign, CRLSign, EncipherOnly, DecipherOnly). Returns the X509v3 KU bit mask; unknown names are
// ignored as Vault does.
int KeyUsageMask(const std::vector<std::string>& names);
// Extended key usage OID for Vault's names (ServerAuth, ClientAuth, ...); empty for unknown names.
std::string ExtKeyUsageOid(const std::string& name);

// The name constraints extension of a CA certificate (RFC 5280 4.2.1.10), as Vault's *_dns_domains, *_ip_ranges,
// *_email_addresses and *_uri_domains fields give it. IP ranges are CIDR text ("10.0.0.0/8", "2001:db8::/32").
struct NameConstraintSet {
  std::vector<std::string> permitted_dns_domains, excluded_dns_domains;
  std::vector<std::string> permitted_ip_ranges, excluded_ip_ranges;
  std::vector<std::string> permitted_email_addresses, excluded_email_addresses;
  std::vector<std::string> permitted_uri_domains, excluded_uri_domains;

  bool empty() const {
    return permitted_dns_domains.empty() && excluded_dns_domains.empty() && permitted_ip_ranges.empty() &&
           excluded_ip_ranges.empty() && permitted_email_addresses.empty() && excluded_email_addresses.empty() &&
           permitted_uri_domains.empty() && excluded_uri_domains.empty();
  }
};

// A CIDR range ("192.0.2.0/24", "2001:db8::/32") as the iPAddress GeneralName of a name constraint encodes it:
// address bytes then mask bytes (8 or 32 bytes), host bits cleared as Go's net.ParseCIDR does. BadRequest
// "invalid CIDR address: <text>" otherwise.
Result<std::string> EncodeIpRange(const std::string& cidr);

// Everything that goes into a certificate, decided by the caller.
struct CertTemplate {
  DistinguishedName subject;
  const X509_NAME* subject_name = nullptr;  // when set, used verbatim instead of `subject`
  std::string serial;  // big-endian magnitude bytes, positive
  int64_t not_before = 0;
  int64_t not_after = 0;
  const EVP_PKEY* public_key = nullptr;

  std::vector<std::string> dns_names;
  std::vector<std::string> email_addresses;
  std::vector<std::string> ip_addresses;  // textual IPv4/IPv6
  std::vector<std::string> uris;
  std::vector<OtherName> other_names;

  int key_usage = 0;                  // KU bit mask (0: no extension)
  std::vector<std::string> ext_key_usage_oids;

  bool is_ca = false;
  bool basic_constraints = false;     // emit BasicConstraints (always for CAs)
  int max_path_length = -1;           // CA only; -1: unlimited
  NameConstraintSet name_constraints;  // CA only; critical extension when not empty

  std::vector<std::string> issuing_certificates;  // AIA caIssuers
  std::vector<std::string> ocsp_servers;          // AIA OCSP
  std::vector<std::string> crl_distribution_points;
  std::vector<PolicyInformation> policies;

  std::string subject_key_id;  // empty: SHA-1 of the public key
  // When set, every extension here except basicConstraints/SKID/AKID is copied, replacing a built one of the same
  // OID (Vault's use_csr_values for sign-verbatim and sign-intermediate).
  const STACK_OF(X509_EXTENSION)* csr_extensions = nullptr;
  // Signature: RSA honours signature_bits (256/384/512, 0 = 256) and use_pss; EC uses the curve's hash.
  int signature_bits = 0;
  bool use_pss = false;
};

// Random serial: 159 bits from the CSPRNG (Vault's range [1, 2^159)).
Result<std::string> RandomSerial();
// Lowercase colon-separated hex ("3a:f1:..") of big-endian magnitude bytes.
std::string FormatSerial(const std::string& serial_bytes);
// Accepts colon- or dash-separated (or bare) hex, any case; returns magnitude bytes without leading zeros.
Result<std::string> ParseSerial(const std::string& text);
// The same for text seen in place (a storage key in an iterator's buffer), without copying it into a string.
Result<std::string> ParseSerialView(std::string_view text);

// Initialises `md` for signing with `key` as certificates, CRLs and OCSP responses of this CA are signed: RSA
// per `signature_bits` (0 = SHA-256) with PKCS#1 v1.5 or, with `use_pss`, PSS (salt = digest length); ECDSA with
// the curve's hash (as Vault); Ed25519 without a digest.
Status InitSigning(EVP_MD_CTX* md, const EVP_PKEY* key, int signature_bits, bool use_pss);

// Signs `t`. `issuer` null means self-signed (issuer name = subject, AKID omitted).
// For EC and Ed25519 keys the returned certificate carries its SubjectPublicKeyInfo encoded but not decoded
// (X509_get0_pubkey() on it returns null): parse its DER where the key object is needed.
Result<ossl::X509Ptr> SignCertificate(const CertTemplate& t, const X509* issuer, const EVP_PKEY* signer);
// `cert` as it is (subject, key, validity, extensions) but issued by `issuer`: its issuer name and authority key
// identifier replaced, signed by `signer` (Vault's sign-self-issued).
Result<ossl::X509Ptr> ResignCertificate(const X509* cert, const X509* issuer, const EVP_PKEY* signer);

Result<ossl::X509Ptr> ParseCertificateDer(const std::string& der);
// Parses the first certificate of a PEM text.
Result<ossl::X509Ptr> ParseCertificatePem(const std::string& pem);
// Parses every certificate of a PEM bundle, in order.
Result<std::vector<ossl::X509Ptr>> ParseCertificatesPem(const std::string& pem);
std::string CertificateDer(const X509* cert);
// PEM without a trailing newline, as Vault returns it.
std::string CertificatePem(const X509* cert);
std::string DerToPem(const std::string& der, const char* label);

// What the engine needs to know about a parsed certificate.
struct CertInfo {
  std::string serial;  // magnitude bytes
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::string common_name;
  std::string subject_der;
  std::string issuer_der;
  bool is_ca = false;
  int max_path_length = -1;
  std::string subject_key_id;
  std::vector<std::string> dns_names;
};
CertInfo InspectCertificate(const X509* cert);
// RFC 5280 section 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (what Vault reports as subject_key_id).
std::string KeyIdentifier(const EVP_PKEY* key);

// What a certificate listing shows of a certificate (LIST certs/detailed). Names are as stored in the
// certificate, in order; IPs in their canonical text form (RFC 5952 for IPv6).
struct CertDescription {
  std::string common_name;
  std::string issuer;        // the issuer DN as an RFC 4514 string (last RDN first), as Go's pkix.Name.String()
  std::string key_type;      // "rsa", "ec", "ed25519", else "unknown"
  int key_bits = 0;          // RSA modulus bits, EC curve bits, 256 for Ed25519 (as OpenBao reports), else 0
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::vector<std::string> email_addresses;
  std::vector<std::string> uris;
};
CertDescription DescribeCertificate(const X509* cert);

// A parsed certificate signing request.
struct CsrInfo {
  ossl::X509Req req;
  DistinguishedName subject;
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> email_addresses;
  std::vector<std::string> ip_addresses;
  std::vector<std::string> uris;
  std::vector<OtherName> other_names;
  bool has_basic_constraints = false;
  bool basic_constraints_ca = false;
  int max_path_length = -1;
  std::vector<std::string> ext_key_usage_oids;
  int key_usage = 0;
  ossl::ExtensionStack extensions;  // every extension the CSR requests
  ossl::PKey public_key;
};

// Parses a PEM CSR and verifies its self-signature (400 with Vault's messages otherwise). RSA-PSS public keys are
// refused, as Vault (Go) cannot use them.
Result<CsrInfo> ParseCsrPem(const std::string& pem);

struct CsrTemplate {
  DistinguishedName subject;
  std::vector<std::string> dns_names;
  std::vector<std::string> email_addresses;
  std::vector<std::string> ip_addresses;
  std::vector<std::string> uris;
  std::vector<OtherName> other_names;
  bool add_basic_constraints = false;  // request CA:TRUE
  int key_usage = 0;                   // KU bit mask to request (0: no extension)
};
// Builds and signs a CSR with `key`; returns PEM without trailing newline.
Result<std::string> CreateCsrPem(const CsrTemplate& t, const EVP_PKEY* key);

// Seconds since the epoch of an ASN1_TIME.
int64_t Asn1TimeToUnix(const ASN1_TIME* t);
// The certificate's serial number as big-endian bytes without leading zeros ("\0" for zero).
std::string SerialBytes(const X509* cert);
// RFC 3339 "2006-01-02T15:04:05Z" for a Unix time (UTC).
std::string FormatRfc3339(int64_t unix_seconds);

std::string Base64Encode(const std::string& bytes);
// Hex (optionally colon-separated, any case) to bytes, keeping leading zeros.
Result<std::string> HexDecode(const std::string& text);
Result<std::string> Base64Decode(const std::string& text);

}  // namespace pki
