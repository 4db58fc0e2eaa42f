#include "plugin/automtls.h"

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"

namespace pki::plugin {

Result<TlsIdentity> GenerateTlsIdentity(int64_t now_unix) {
  ASSIGN_OR_RETURN(ossl::PKey key, GenerateKey(KeyType::kEc, 521));
  ASSIGN_OR_RETURN(std::string serial, RandomSerial());
  CertTemplate t;
  t.subject = {{"O", "HashiCorp"}, {"CN", "localhost"}};
  t.serial = serial;
  t.not_before = now_unix - 30;
  t.not_after = now_unix + int64_t{262980} * 3600;
  t.public_key = key.get();
  t.dns_names = {"localhost"};
  t.key_usage = KeyUsageMask({"DigitalSignature", "KeyEncipherment", "KeyAgreement", "CertSign"});
  t.ext_key_usage_oids = {ExtKeyUsageOid("ClientAuth"), ExtKeyUsageOid("ServerAuth")};
  t.is_ca = true;
  t.basic_constraints = true;
  ASSIGN_OR_RETURN(ossl::X509Ptr cert, SignCertificate(t, nullptr, key.get()));
  TlsIdentity id;
  id.cert_der = CertificateDer(cert.get());
  id.cert_pem = CertificatePem(cert.get());
  ASSIGN_OR_RETURN(id.key_pem, PrivateKeyToPem(key.get(), PrivateKeyFormat::kPkcs8));
  return id;
}

std::string RawBase64(const std::string& der) {
  std::string b64 = Base64Encode(der);
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return b64;
}

Result<std::string> DecodeRawBase64(const std::string& text) {
  std::string padded = text;
  while (padded.size() % 4 != 0) padded.push_back('=');
  return Base64Decode(padded);
}

}  // namespace pki::plugin
