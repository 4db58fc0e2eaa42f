// X509Work: the OpenSSL primitives the bench tools time or use to make inputs: P-256/RSA key generation, a signed
// leaf certificate of the engine's shape, a signed CSR. Plain functions on RAII handles; safe to call from any
// number of threads at once (each call owns its objects; the CA key is only read).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace pki::bench {

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct X509ReqFree { void operator()(X509_REQ* p) const { X509_REQ_free(p); } };
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Req = std::unique_ptr<X509_REQ, X509ReqFree>;

enum class KeyKind { kEc256, kRsa2048 };

// A fresh key; aborts with a message if OpenSSL fails (a bench cannot go on without keys).
Pkey GenerateKey(KeyKind kind);

// A CA: its key and self-signed certificate (EC P-256).
struct BenchCa {
  Pkey key;
  Cert cert;
};
BenchCa MakeCa(const std::string& common_name);

// A leaf certificate for `subject_key` with `common_name` (also as a DNS SAN), a random 20-byte serial, 1 h validity,
// the extensions an engine leaf carries (basic constraints, key usage, EKU, SKID/AKID), signed by `ca` with SHA-256,
// and encoded to DER (what a server does before answering). Returns the DER length; the DER goes to `der_out` when
// given.
size_t SignLeaf(const BenchCa& ca, EVP_PKEY* subject_key, const std::string& common_name,
                std::string* der_out = nullptr);

// Whether `der` parses as a certificate signed by `ca` (signature and issuer/AKID match) for `subject_key`.
bool LeafIsValid(const BenchCa& ca, const std::string& der, EVP_PKEY* subject_key);

// A CSR for `key` with subject CN=common_name, signed with SHA-256, as parsed back from its DER.
Req MakeCsr(EVP_PKEY* key, const std::string& common_name);
std::string CsrPem(X509_REQ* req);

}  // namespace pki::bench
