// Fuzz target: certificate signing requests as DER and PEM: the fast parser (src/crypto/csr_fast) on the bytes
// as DER, and ParseCsrPem (which tries the fast route, then OpenSSL's) on the bytes as PEM text and on them
// wrapped as a PEM CSR. Where both routes accept a DER CSR they must agree on its public key.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/crypto/csr_fast.h"
#include "src/crypto/keys.h"
#include "src/crypto/x509.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  pki::ossl::PKey fast_key;
  pki::ossl::X509Req fast = pki::ParseVerifiedCsrFast(bytes, &fast_key);
  if (fast && !fast_key) __builtin_trap();

  pki::Result<pki::CsrInfo> wrapped = pki::ParseCsrPem(pki::DerToPem(bytes, "CERTIFICATE REQUEST"));
  if (fast && wrapped.ok() && !pki::SamePublicKey(fast_key.get(), wrapped->public_key.get())) __builtin_trap();

  (void)pki::ParseCsrPem(bytes);
  return 0;
}
