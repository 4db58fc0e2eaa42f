#include "tests/bench/x509_work.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace pki::bench {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "pki_bench: %s failed: ", what);
  ERR_print_errors_fp(stderr);
  std::fprintf(stderr, "\n");
  std::exit(1);
}

void Check(bool ok, const char* what) {
  if (!ok) Die(what);
}

void SetName(X509_NAME* name, const std::string& common_name) {
  Check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) == 1,
        "X509_NAME_add_entry_by_txt");
}

void AddExt(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  Check(ext != nullptr, "X509V3_EXT_conf_nid");
  Check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

void RandomSerial(X509* cert) {
  unsigned char bytes[20];
  Check(RAND_bytes(bytes, sizeof bytes) == 1, "RAND_bytes");
  bytes[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  Check(bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr, "serial");
  BN_free(bn);
}

// X509_set_pubkey (and X509_REQ_set_pubkey) encode the key through OpenSSL 3's encoder framework, which costs
// ~140 us a call on OpenSSL 3.0 here (15x a P-256 keygen); for a P-256 key the SubjectPublicKeyInfo is set from its
// encoded point directly instead. Returns false (nothing set) for other keys.
bool SetEcPublicKey(X509_PUBKEY* spki, EVP_PKEY* key) {
  unsigned char point[65];
  size_t len = 0;
  char group[32];
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_group_name(key, group, sizeof group, nullptr) == 1 &&
      std::string_view(group) == "prime256v1" &&
      EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &len) == 1 &&
      len == sizeof point) {
    unsigned char* copy = static_cast<unsigned char*>(OPENSSL_memdup(point, len));
    Check(copy != nullptr &&
              X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                                     V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), copy,
                                     static_cast<int>(len)) == 1,
          "X509_PUBKEY_set0_param");
    return true;
  }
  return false;
}

}  // namespace

Pkey GenerateKey(KeyKind kind) {
  // One key-generation context per thread and kind, reused: EVP_PKEY_Q_keygen fetches the algorithm on every call
  // (about as costly as a P-256 keygen itself).
  struct CtxFree { void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); } };
  thread_local std::unique_ptr<EVP_PKEY_CTX, CtxFree> contexts[2];
  auto& ctx = contexts[kind == KeyKind::kEc256 ? 0 : 1];
  if (!ctx) {
    ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, kind == KeyKind::kEc256 ? "EC" : "RSA", nullptr));
    Check(ctx != nullptr && EVP_PKEY_keygen_init(ctx.get()) == 1, "EVP_PKEY_keygen_init");
    if (kind == KeyKind::kEc256) {
      Check(EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") == 1, "EVP_PKEY_CTX_set_group_name");
    } else {
      Check(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) == 1, "EVP_PKEY_CTX_set_rsa_keygen_bits");
    }
  }
  EVP_PKEY* key = nullptr;
  Check(EVP_PKEY_keygen(ctx.get(), &key) == 1, "EVP_PKEY_keygen");
  return Pkey(key);
}

BenchCa MakeCa(const std::string& common_name) {
  BenchCa ca{GenerateKey(KeyKind::kEc256), Cert(X509_new())};
  X509* cert = ca.cert.get();
  Check(cert != nullptr, "X509_new");
  X509_set_version(cert, X509_VERSION_3);
  RandomSerial(cert);
  SetName(X509_get_subject_name(cert), common_name);
  SetName(X509_get_issuer_name(cert), common_name);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
  Check(X509_set_pubkey(cert, ca.key.get()) == 1, "X509_set_pubkey");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  AddExt(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
  AddExt(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExt(cert, &ctx, NID_subject_key_identifier, "hash");
  Check(X509_sign(cert, ca.key.get(), EVP_sha256()) > 0, "X509_sign (CA)");
  return ca;
}

size_t SignLeaf(const BenchCa& ca, EVP_PKEY* subject_key, const std::string& common_name, std::string* der_out) {
  Cert holder(X509_new());
  X509* cert = holder.get();
  Check(cert != nullptr, "X509_new");
  X509_set_version(cert, X509_VERSION_3);
  RandomSerial(cert);
  SetName(X509_get_subject_name(cert), common_name);
  Check(X509_set_issuer_name(cert, X509_get_subject_name(ca.cert.get())) == 1, "X509_set_issuer_name");
  X509_gmtime_adj(X509_getm_notBefore(cert), -30);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  if (!SetEcPublicKey(X509_get_X509_PUBKEY(cert), subject_key)) {
    Check(X509_set_pubkey(cert, subject_key) == 1, "X509_set_pubkey");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.get(), cert, nullptr, nullptr, 0);
  AddExt(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
  AddExt(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyAgreement");
  AddExt(cert, &ctx, NID_ext_key_usage, "serverAuth");
  AddExt(cert, &ctx, NID_subject_key_identifier, "hash");
  AddExt(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  AddExt(cert, &ctx, NID_subject_alt_name, ("DNS:" + common_name).c_str());
  Check(X509_sign(cert, ca.key.get(), EVP_sha256()) > 0, "X509_sign");
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  Check(len > 0, "i2d_X509");
  if (der_out != nullptr) der_out->assign(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return static_cast<size_t>(len);
}

Req MakeCsr(EVP_PKEY* key, const std::string& common_name) {
  Req req(X509_REQ_new());
  Check(req != nullptr, "X509_REQ_new");
  X509_REQ_set_version(req.get(), 0);
  SetName(X509_REQ_get_subject_name(req.get()), common_name);
  if (!SetEcPublicKey(X509_REQ_get_X509_PUBKEY(req.get()), key)) {
    Check(X509_REQ_set_pubkey(req.get(), key) == 1, "X509_REQ_set_pubkey");
  }
  Check(X509_REQ_sign(req.get(), key, EVP_sha256()) > 0, "X509_REQ_sign");
  // Round-trip through DER: the result is what a server parses (its public key decodable by
  // X509_REQ_get0_pubkey, which a key set with X509_PUBKEY_set0_param is not until then).
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  Check(len > 0, "i2d_X509_REQ");
  const unsigned char* p = der;
  Req parsed(d2i_X509_REQ(nullptr, &p, len));
  OPENSSL_free(der);
  Check(parsed != nullptr, "d2i_X509_REQ");
  return parsed;
}

bool LeafIsValid(const BenchCa& ca, const std::string& der, EVP_PKEY* subject_key) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  Cert cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr || X509_verify(cert.get(), ca.cert ? X509_get0_pubkey(ca.cert.get()) : nullptr) != 1) {
    return false;
  }
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  return pub != nullptr && EVP_PKEY_eq(pub, subject_key) == 1 &&
         X509_check_issued(ca.cert.get(), cert.get()) == X509_V_OK;
}

std::string CsrPem(X509_REQ* req) {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(bio != nullptr && PEM_write_bio_X509_REQ(bio, req) == 1, "PEM_write_bio_X509_REQ");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

}  // namespace pki::bench
