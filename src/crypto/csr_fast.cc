// The EC_KEY/RSA decoders used here are deprecated in OpenSSL 3.0 but supported throughout 3.x (see csr_fast.h
// for why they are used).
#define OPENSSL_SUPPRESS_DEPRECATED

#include "src/crypto/csr_fast.h"

#include <openssl/asn1t.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

namespace pki {
namespace {

// CertificationRequest (RFC 2986 4.2) with the info kept as its encoding (an ASN1_ANY holding a SEQUENCE keeps the
// whole TLV): the bytes the signature covers.
struct CsrParts {
  ASN1_TYPE* info;
  X509_ALGOR* sig_alg;
  ASN1_BIT_STRING* signature;
};
ASN1_SEQUENCE(CsrParts) = {
    ASN1_SIMPLE(CsrParts, info, ASN1_ANY),
    ASN1_SIMPLE(CsrParts, sig_alg, X509_ALGOR),
    ASN1_SIMPLE(CsrParts, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CsrParts)

// CertificationRequestInfo with the SubjectPublicKeyInfo kept as its encoding. Attributes optional as in
// OpenSSL's X509_REQ_INFO (some requesters leave out the empty set).
struct CsrInfoParts {
  ASN1_INTEGER* version;
  X509_NAME* subject;
  ASN1_TYPE* spki;
  STACK_OF(X509_ATTRIBUTE)* attributes;
};
ASN1_SEQUENCE(CsrInfoParts) = {
    ASN1_SIMPLE(CsrInfoParts, version, ASN1_INTEGER),
    ASN1_SIMPLE(CsrInfoParts, subject, X509_NAME),
    ASN1_SIMPLE(CsrInfoParts, spki, ASN1_ANY),
    ASN1_IMP_SET_OF_OPT(CsrInfoParts, attributes, X509_ATTRIBUTE, 0),
} ASN1_SEQUENCE_END(CsrInfoParts)

// SubjectPublicKeyInfo, to read the key's algorithm before choosing a decoder.
struct SpkiParts {
  X509_ALGOR* algorithm;
  ASN1_BIT_STRING* key;
};
ASN1_SEQUENCE(SpkiParts) = {
    ASN1_SIMPLE(SpkiParts, algorithm, X509_ALGOR),
    ASN1_SIMPLE(SpkiParts, key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SpkiParts)

template <typename T>
struct ItemFree {
  const ASN1_ITEM* item;
  void operator()(T* p) const { ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(p), item); }
};
template <typename T>
using Item = std::unique_ptr<T, ItemFree<T>>;

template <typename T>
Item<T> Decode(const ASN1_ITEM* item, const unsigned char* data, long len) {
  const unsigned char* p = data;
  return Item<T>(reinterpret_cast<T*>(ASN1_item_d2i(nullptr, &p, len, item)), ItemFree<T>{item});
}

// The whole TLV of a SEQUENCE held by an ASN1_ANY, or null.
const ASN1_STRING* SequenceTlv(const ASN1_TYPE* t) {
  return t && t->type == V_ASN1_SEQUENCE ? t->value.sequence : nullptr;
}

// The public key of `spki_der` when it is an EC or RSA (rsaEncryption) key; its key type in `*type`.
ossl::PKey DecodeKey(const ASN1_STRING* spki_der, int* type) {
  auto spki = Decode<SpkiParts>(ASN1_ITEM_rptr(SpkiParts), spki_der->data, spki_der->length);
  if (!spki) return nullptr;
  const int alg = OBJ_obj2nid(spki->algorithm->algorithm);
  const unsigned char* p = spki_der->data;
  ossl::PKey key(EVP_PKEY_new());
  if (!key) return nullptr;
  if (alg == NID_X9_62_id_ecPublicKey) {
    // Only a named curve and an uncompressed point: the form the provider route writes into certificates
    // (RFC 5480 namedCurve; Go cannot parse compressed points or explicit parameters). Others take that route.
    const ASN1_TYPE* params = spki->algorithm->parameter;
    if (!params || params->type != V_ASN1_OBJECT || spki->key->length < 1 || spki->key->data[0] != 0x04) {
      return nullptr;
    }
    EC_KEY* ec = d2i_EC_PUBKEY(nullptr, &p, spki_der->length);
    if (!ec || EVP_PKEY_assign_EC_KEY(key.get(), ec) != 1) {
      EC_KEY_free(ec);
      return nullptr;
    }
    *type = EVP_PKEY_EC;
    return key;
  }
  if (alg == NID_rsaEncryption) {
    RSA* rsa = d2i_RSA_PUBKEY(nullptr, &p, spki_der->length);
    if (!rsa || EVP_PKEY_assign_RSA(key.get(), rsa) != 1) {
      RSA_free(rsa);
      return nullptr;
    }
    *type = EVP_PKEY_RSA;
    return key;
  }
  return nullptr;
}

// Whether `sig` by `key` over `tbs` verifies under `alg`, for ECDSA and RSA PKCS#1 v1.5 with SHA-2 only.
bool Verify(const X509_ALGOR* alg, const ASN1_BIT_STRING* sig, const ASN1_STRING* tbs, EVP_PKEY* key, int key_type) {
  int md_nid = NID_undef, pk_nid = NID_undef;
  if (!OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &md_nid, &pk_nid) || pk_nid != key_type) return false;
  if (md_nid != NID_sha256 && md_nid != NID_sha384 && md_nid != NID_sha512 && md_nid != NID_sha224) return false;
  if (sig->flags & 0x7) return false;  // a signature with unused bits, which X509_REQ_verify refuses
  const EVP_MD* md = EVP_get_digestbynid(md_nid);
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  if (!md || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), sig->data, static_cast<size_t>(sig->length), tbs->data,
                          static_cast<size_t>(tbs->length)) == 1;
}

ossl::X509Req Assemble(const CsrInfoParts& info, EVP_PKEY* key) {
  ossl::X509Req req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), ASN1_INTEGER_get(info.version)) != 1 ||
      X509_REQ_set_subject_name(req.get(), info.subject) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1) {
    return nullptr;
  }
  for (int i = 0; i < sk_X509_ATTRIBUTE_num(info.attributes); ++i) {
    if (X509_REQ_add1_attr(req.get(), sk_X509_ATTRIBUTE_value(info.attributes, i)) != 1) return nullptr;
  }
  return req;
}

}  // namespace

ossl::X509Req ParseVerifiedCsrFast(const std::string& der, ossl::PKey* public_key) {
  auto csr = Decode<CsrParts>(ASN1_ITEM_rptr(CsrParts), reinterpret_cast<const unsigned char*>(der.data()),
                              static_cast<long>(der.size()));
  const ASN1_STRING* tbs = csr ? SequenceTlv(csr->info) : nullptr;
  if (!tbs) return nullptr;
  auto info = Decode<CsrInfoParts>(ASN1_ITEM_rptr(CsrInfoParts), tbs->data, tbs->length);
  const ASN1_STRING* spki = info ? SequenceTlv(info->spki) : nullptr;
  if (!spki) return nullptr;
  int key_type = EVP_PKEY_NONE;
  ossl::PKey key = DecodeKey(spki, &key_type);
  if (!key || !Verify(csr->sig_alg, csr->signature, tbs, key.get(), key_type)) return nullptr;
  ossl::X509Req req = Assemble(*info, key.get());
  if (!req) return nullptr;
  *public_key = std::move(key);
  return req;
}

}  // namespace pki
