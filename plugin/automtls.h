// AutoMTLS material as go-plugin makes it: a fresh self-signed certificate per process, used both as the TLS
// server certificate (the plugin) or client certificate (the host) and as the trust anchor the peer pins.
#pragma once

#include <string>

#include "src/core/status.h"

namespace pki::plugin {

struct TlsIdentity {
  std::string cert_pem;
  std::string cert_der;
  std::string key_pem;  // secret: never logged
};

// go-plugin's template (mtls.go): ECDSA P-521, CN and DNS SAN "localhost", O "HashiCorp", a CA certificate with
// digitalSignature/keyEncipherment/keyAgreement/keyCertSign and serverAuth+clientAuth, valid from 30 s ago for
// 262980 hours.
Result<TlsIdentity> GenerateTlsIdentity(int64_t now_unix);

// The handshake line's certificate field: base64 without padding (Go's RawStdEncoding) of the DER.
std::string RawBase64(const std::string& der);
// Decodes RawStdEncoding (padding tolerated).
Result<std::string> DecodeRawBase64(const std::string& text);

}  // namespace pki::plugin
