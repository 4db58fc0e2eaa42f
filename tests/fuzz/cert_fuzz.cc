// Fuzz target: certificates as DER and PEM (bundles included), and what the engine reads from a parsed one:
// InspectCertificate (issuance, chains, imports) and DescribeCertificate (LIST certs/detailed); and private keys
// in PEM, as pem_bundle and revoke-with-key bring them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/crypto/x509.h"

namespace {

void Inspect(const X509* cert) {
  (void)pki::InspectCertificate(cert);
  (void)pki::DescribeCertificate(cert);
  (void)pki::CertificatePem(cert);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (auto der = pki::ParseCertificateDer(bytes); der.ok()) Inspect(der->get());
  if (auto pem = pki::ParseCertificatePem(bytes); pem.ok()) Inspect(pem->get());
  if (auto bundle = pki::ParseCertificatesPem(bytes); bundle.ok()) {
    for (const auto& c : bundle.value()) Inspect(c.get());
  }
  // OpenSSL 3's key decoders cost ~3 ms an input under ASan, ten times the rest of this target: only where the
  // PEM label that PEM_read_bio_PrivateKey looks for is there. (ParsePrivateKeyDer reads only keys this engine
  // sealed and stored: no input reaches it.)
  if (bytes.find("PRIVATE KEY-----") != std::string::npos) (void)pki::ParsePrivateKeyPem(bytes);
  return 0;
}
