// RFC 6960 OCSP encoding: parse an OCSPRequest into the certificate ids it asks about, and build the signed
// OCSPResponse that answers them. Pure crypto/encoding: the caller looks up each serial's status and picks the
// issuer; nothing here touches storage or HTTP.
//
// Every function is stateless and safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/crypto/ossl.h"

namespace pki {

// One certificate the request asks about (RFC 6960 CertID).
struct OcspCertId {
  const EVP_MD* hash = nullptr;  // the request's hash algorithm: SHA-1, SHA-256, SHA-384 or SHA-512
  std::string issuer_name_hash;  // hash of the issuer's subject DER
  std::string issuer_key_hash;   // hash of the issuer's public key bits
  std::string serial;            // big-endian magnitude bytes ("\0" for zero), as CertInfo::serial
  ossl::OcspCertIdPtr raw;       // owned copy of the request's CertID, echoed verbatim in the response
};

// What a parsed request asks.
struct OcspRequestInfo {
  std::vector<OcspCertId> ids;  // at least one, in request order
  // The nonce extension's extnValue octets (normally the DER of an OCTET STRING), echoed byte for byte.
  std::optional<std::string> nonce;
};

// Nonce bounds of RFC 9654 (which obsoletes RFC 8954's 32): longer or empty nonces make the request malformed.
inline constexpr size_t kOcspMaxNonceBytes = 128;

// Parses a DER OCSPRequest. Undecodable or trailing bytes, no entries, more than `max_ids` entries, a hash other than
// SHA-1/256/384/512 (or hashes of the wrong length), a negative serial, a duplicated or out-of-bounds nonce: 400
// BadRequest, which the caller answers with OcspErrorResponse(kOcspMalformedRequest). Signed requests are accepted;
// their signature is neither required nor checked. Other request extensions are ignored.
Result<OcspRequestInfo> ParseOcspRequest(const std::string& der, size_t max_ids = 32);

// Whether `id` names `issuer`: under id.hash, the hash of the issuer's subject DER equals issuer_name_hash and the
// hash of its SubjectPublicKeyInfo key bits equals issuer_key_hash. False when id.hash is null.
bool CertIdMatchesIssuer(const OcspCertId& id, const X509* issuer);

enum class OcspStatus { kGood, kRevoked, kUnknown };

// The answer for one CertID of the request.
struct OcspSingleAnswer {
  const OcspCertId* id = nullptr;  // into the parsed request; must outlive BuildOcspResponse
  OcspStatus status = OcspStatus::kGood;
  int64_t revocation_time = 0;     // kRevoked only: Unix seconds
  int reason = -1;                 // kRevoked only: CRLReason (0..10 but not 7); -1 omits revocationReason
  int64_t this_update = 0;         // Unix seconds
  int64_t next_update = 0;         // Unix seconds; 0 omits nextUpdate
};

// The key that signs a response and its certificate (the issuing CA itself: no delegated responder).
struct OcspSigner {
  const X509* cert = nullptr;
  const EVP_PKEY* key = nullptr;
  int signature_bits = 0;  // RSA: 256/384/512 (0: 256); ECDSA follows the curve; Ed25519 has no digest
  bool use_pss = false;    // RSA only
};

// A successful OCSPResponse (DER) holding a BasicOCSPResponse signed by `signer`: ResponderID byKey (SHA-1 of the
// signer's public key bits), producedAt = `produced_at`, one SingleResponse per answer in order (each echoing its
// CertID verbatim), no certificates, and the nonce echoed as a responseExtension when given. Every error is
// Internal (a fault of the caller or of OpenSSL, never of the requester): answer kOcspInternalError.
Result<std::string> BuildOcspResponse(const OcspSigner& signer, const std::vector<OcspSingleAnswer>& answers,
                                      const std::optional<std::string>& nonce, int64_t produced_at);

// OCSPResponseStatus values for OcspErrorResponse (RFC 6960 4.2.1).
enum OcspResponseStatus : int {
  kOcspMalformedRequest = 1,
  kOcspInternalError = 2,
  kOcspTryLater = 3,
  kOcspSigRequired = 5,
  kOcspUnauthorized = 6,
};

// An unsuccessful OCSPResponse carrying only `response_status` (one of the values above; any other value, including
// successful(0), gives internalError). Cannot fail.
std::string OcspErrorResponse(int response_status);

}  // namespace pki
