// Streaming X.509 v2 CRL encoder (RFC 5280 section 5).
//
// A CRL with millions of entries must not become an OpenSSL X509_CRL in memory (gigabytes). BuildCrlDer pulls the
// revoked entries in batches, encodes each one with OpenSSL (i2d_X509_REVOKED) straight into the output buffer,
// and writes by hand only the tag/length headers of the enclosing SEQUENCEs, the [0] wrapper of crlExtensions and
// the BIT STRING header of the signature. Every other part (AlgorithmIdentifier, issuer Name, times, extensions)
// is encoded by OpenSSL; the TBS bytes are signed with EVP_DigestSign.
//
// Pure encoding: which certificates are listed, the CRL number and the schedule are decided by the caller.
// BuildCrlDer keeps no state and is safe to call from several threads at once; it calls the source on the
// calling thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/crypto/ossl.h"

namespace pki {

// One revokedCertificates entry.
struct CrlEntry {
  std::string serial;           // big-endian magnitude bytes (as RandomSerial/ParseSerial produce); not empty
  int64_t revocation_time = 0;  // Unix seconds
  // CRLReason code (0..10 except 7); -1: no reasonCode entry extension (as Vault). 0 (unspecified) is written as
  // given, though RFC 5280 5.3.1 prefers the extension absent for it.
  int reason = -1;
};

// Pulls the entries in batches: appends the next batch to *out (which the caller has emptied) and returns true
// while more may follow, false after the last batch. An error aborts the build and is returned by BuildCrlDer.
// The entries are written in the order given.
using CrlEntrySource = std::function<Result<bool>(std::vector<CrlEntry>* out)>;

// Everything about a CRL except its entries.
struct CrlParams {
  const X509* issuer = nullptr;   // the CA certificate: the CRL's issuer name, and the AKID from its SKID
  const EVP_PKEY* key = nullptr;  // the CA's private key; must match the issuer certificate's public key
  uint64_t number = 0;            // cRLNumber (non-critical); shared by complete and delta CRLs
  int64_t this_update = 0;        // Unix seconds
  int64_t next_update = 0;        // Unix seconds
  // Set: a delta CRL whose critical Delta CRL Indicator names this base CRL number (must be below `number`).
  std::optional<uint64_t> delta_base;
  // Complete CRLs only: a Freshest CRL extension (where the delta CRL is) with these URIs; empty: none.
  std::vector<std::string> freshest_crl_urls;
  // Signature as CertTemplate: RSA honours signature_bits (256/384/512, 0 = 256) and use_pss; ECDSA uses the
  // curve's hash; Ed25519 ignores both.
  int signature_bits = 0;
  bool use_pss = false;
  // Optional hint: how many entries the source will yield. The output buffer is reserved for them up front, so it
  // never reallocates (which briefly holds the old and the new buffer). A wrong hint costs only that.
  size_t expected_entries = 0;
};

// Builds and signs a DER CertificateList: version v2, AKID and CRL Number extensions always (plus the delta or
// freshest extension when asked), times as UTCTime before 2050 and GeneralizedTime from 2050 on, and no
// revokedCertificates field when the source yields no entry.
// Memory: the encoded entries (about 40 bytes each) in the output buffer, one batch of CrlEntry, and O(1) more;
// never all entries decoded.
// Without `expected_entries` the buffer grows geometrically, so the peak can reach twice the entries while it does.
// Errors: 400 for invalid parameters or entries (empty serial, bad reason code, key not matching the issuer,
// unencodable time), 500 with OpenSSL's error text when OpenSSL fails, or the source's own error.
Result<std::string> BuildCrlDer(const CrlParams& params, const CrlEntrySource& entries);

}  // namespace pki
