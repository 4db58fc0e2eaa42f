#include "src/crypto/ocsp.h"

#include <openssl/err.h>
#include <openssl/rsa.h>

#include <utility>

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"

namespace pki {
namespace {

std::string StringOf(const ASN1_STRING* s) {
  if (s == nullptr || ASN1_STRING_length(s) <= 0) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

// Hash of `data` under `md`; empty on failure, which never equals a (non-empty) hash from a request.
std::string Digest(const EVP_MD* md, const unsigned char* data, size_t len) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (EVP_Digest(data, len, out, &out_len, md, nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

// ---- Parsing ----

// RFC 6960 clients hash with SHA-1; RFC 5019's successors allow SHA-256. SHA-384/512 cost nothing to accept.
const EVP_MD* RequestHash(const ASN1_OBJECT* algorithm) {
  switch (OBJ_obj2nid(algorithm)) {
    case NID_sha1: return EVP_sha1();
    case NID_sha256: return EVP_sha256();
    case NID_sha384: return EVP_sha384();
    case NID_sha512: return EVP_sha512();
    default: return nullptr;
  }
}

// Magnitude bytes as CertInfo::serial has them, so callers can look serials up without converting. A negative
// serial is refused: its magnitude could otherwise match one of our (always positive) serials.
Result<std::string> SerialMagnitude(const ASN1_INTEGER* serial) {
  ossl::Bignum bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return Status::BadRequest("malformed serial number in OCSP request");
  if (BN_is_negative(bn.get())) return Status::BadRequest("negative serial number in OCSP request");
  std::string bytes(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  if (bytes.empty()) bytes.push_back('\0');
  return bytes;
}

Result<OcspCertId> ReadCertId(OCSP_ONEREQ* one) {
  OCSP_CERTID* cid = one ? OCSP_onereq_get0_id(one) : nullptr;
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OBJECT* algorithm = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (cid == nullptr || OCSP_id_get0_info(&name_hash, &algorithm, &key_hash, &serial, cid) != 1 ||
      name_hash == nullptr || algorithm == nullptr || key_hash == nullptr || serial == nullptr) {
    return Status::BadRequest("malformed certificate id in OCSP request");
  }
  OcspCertId id;
  id.hash = RequestHash(algorithm);
  if (id.hash == nullptr) return Status::BadRequest("unsupported hash algorithm in OCSP request");
  id.issuer_name_hash = StringOf(name_hash);
  id.issuer_key_hash = StringOf(key_hash);
  // A hash of the wrong length can match nothing; saying so beats answering "unknown" for a broken client.
  const size_t hash_len = static_cast<size_t>(EVP_MD_get_size(id.hash));
  if (id.issuer_name_hash.size() != hash_len || id.issuer_key_hash.size() != hash_len) {
    return Status::BadRequest("issuer hash of the wrong length in OCSP request");
  }
  ASSIGN_OR_RETURN(id.serial, SerialMagnitude(serial));
  id.raw.reset(OCSP_CERTID_dup(cid));
  if (!id.raw) return Status::Internal("cannot copy OCSP certificate id: " + ossl::LastError());
  return id;
}

// Length of the nonce proper. RFC 9654 puts the DER of an OCTET STRING in extnValue, but older clients put the raw
// bytes there; either form is echoed verbatim, so either is accepted.
size_t NonceLength(const std::string& ext_value) {
  const auto* p = reinterpret_cast<const unsigned char*>(ext_value.data());
  const unsigned char* end = p + ext_value.size();
  ossl::Asn1OctetString inner(d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(ext_value.size())));
  if (inner && p == end) return static_cast<size_t>(ASN1_STRING_length(inner.get()));
  ERR_clear_error();
  return ext_value.size();
}

Result<std::optional<std::string>> ReadNonce(OCSP_REQUEST* req) {
  const int at = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
  if (at < 0) return std::optional<std::string>();
  if (OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, at) >= 0) {
    return Status::BadRequest("duplicate nonce extension in OCSP request");
  }
  std::string value = StringOf(X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, at)));
  const size_t len = NonceLength(value);
  if (len == 0 || len > kOcspMaxNonceBytes) {
    return Status::BadRequest("OCSP nonce must be 1 to " + std::to_string(kOcspMaxNonceBytes) + " bytes");
  }
  return std::optional<std::string>(std::move(value));
}

// ---- Building ----

// A GeneralizedTime ("YYYYMMDDHHMMSSZ", as RFC 6960 and DER require) for Unix seconds.
Result<ossl::Asn1Time> GeneralizedTime(int64_t unix_seconds) {
  ossl::Asn1Time t(ASN1_GENERALIZEDTIME_set(nullptr, static_cast<time_t>(unix_seconds)));
  if (!t) return Status::Internal("OCSP time out of range: " + std::to_string(unix_seconds));
  return t;
}

// CRLReason codes (RFC 5280 5.3.1); 7 is unassigned.
bool IsCrlReason(int reason) { return reason >= 0 && reason <= 10 && reason != 7; }

Status AddAnswer(OCSP_BASICRESP* basic, const OcspSingleAnswer& a) {
  if (a.id == nullptr || !a.id->raw) return Status::Internal("OCSP answer without a certificate id");
  int status = V_OCSP_CERTSTATUS_GOOD;
  int reason = OCSP_REVOKED_STATUS_NOSTATUS;  // OpenSSL omits revocationReason for this value
  ossl::Asn1Time revoked_at;
  switch (a.status) {
    case OcspStatus::kGood: break;
    case OcspStatus::kUnknown: status = V_OCSP_CERTSTATUS_UNKNOWN; break;
    case OcspStatus::kRevoked: {
      status = V_OCSP_CERTSTATUS_REVOKED;
      if (a.reason != -1) {
        if (!IsCrlReason(a.reason)) return Status::Internal("invalid CRL reason " + std::to_string(a.reason));
        reason = a.reason;
      }
      ASSIGN_OR_RETURN(revoked_at, GeneralizedTime(a.revocation_time));
      break;
    }
  }
  ASSIGN_OR_RETURN(ossl::Asn1Time this_update, GeneralizedTime(a.this_update));
  ossl::Asn1Time next_update;
  if (a.next_update != 0) {
    ASSIGN_OR_RETURN(next_update, GeneralizedTime(a.next_update));
  }
  // OpenSSL copies the CertID and the times into the response.
  if (OCSP_basic_add1_status(basic, a.id->raw.get(), status, reason, revoked_at.get(), this_update.get(),
                             next_update.get()) == nullptr) {
    return Status::Internal("cannot add OCSP single response: " + ossl::LastError());
  }
  return Status::Ok();
}

// Echoes the request's extnValue octets unchanged, so that a client comparing them (OCSP_check_nonce does) matches
// whichever nonce form it sent.
Status AddNonce(OCSP_BASICRESP* basic, const std::string& ext_value) {
  ossl::Asn1OctetString value(ASN1_OCTET_STRING_new());
  if (!value || ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>(ext_value.data()),
                                      static_cast<int>(ext_value.size())) != 1) {
    return Status::Internal("cannot encode OCSP nonce: " + ossl::LastError());
  }
  ossl::X509Ext ext(X509_EXTENSION_create_by_NID(nullptr, NID_id_pkix_OCSP_Nonce, 0, value.get()));
  if (!ext || OCSP_BASICRESP_add_ext(basic, ext.get(), -1) != 1) {  // the response keeps its own copy
    return Status::Internal("cannot add OCSP nonce: " + ossl::LastError());
  }
  return Status::Ok();
}

// OpenSSL has no setter for producedAt; OCSP_basic_sign_ctx(OCSP_NOTIME) leaves the field as set here. The field
// belongs to `basic`, which we own, so writing through the const getter is sound.
Status SetProducedAt(OCSP_BASICRESP* basic, int64_t produced_at) {
  auto* field = const_cast<ASN1_GENERALIZEDTIME*>(OCSP_resp_get0_produced_at(basic));
  if (field == nullptr || ASN1_GENERALIZEDTIME_set(field, static_cast<time_t>(produced_at)) == nullptr) {
    return Status::Internal("OCSP producedAt out of range: " + std::to_string(produced_at));
  }
  return Status::Ok();
}

Result<ossl::MdCtx> SigningContext(const OcspSigner& signer) {
  ossl::MdCtx md(EVP_MD_CTX_new());
  if (!md) return Status::Internal("cannot initialise OCSP signing: " + ossl::LastError());
  RETURN_IF_ERROR(InitSigning(md.get(), signer.key, signer.signature_bits, signer.use_pss));
  return md;
}

// OCSP_basic_sign_ctx checks the key against the certificate's decoded public key, which a certificate fresh from
// SignCertificate (EC, Ed25519) lacks: such a certificate is re-parsed from its DER. Null `*copy` means use `cert`.
Status DecodedSigner(const X509* cert, ossl::X509Ptr* copy) {
  if (X509_get0_pubkey(cert) != nullptr) return Status::Ok();
  ERR_clear_error();
  copy->reset(X509_dup(const_cast<X509*>(cert)));
  if (!*copy || X509_get0_pubkey(copy->get()) == nullptr) {
    return Status::Internal("cannot decode the OCSP signer's public key: " + ossl::LastError());
  }
  return Status::Ok();
}

Status SignBasic(OCSP_BASICRESP* basic, const OcspSigner& signer) {
  ossl::X509Ptr copy;
  RETURN_IF_ERROR(DecodedSigner(signer.cert, &copy));
  // With OCSP_NOCERTS OpenSSL only reads the certificate (key check, ResponderID), so the const_cast is sound.
  X509* cert = copy ? copy.get() : const_cast<X509*>(signer.cert);
  ASSIGN_OR_RETURN(ossl::MdCtx md, SigningContext(signer));
  // byKey: unambiguous when rotated issuers share a subject name. No certs: the CA signs directly, and clients
  // already hold it. NOTIME: producedAt was set by the caller's clock.
  const unsigned long flags = OCSP_NOCERTS | OCSP_RESPID_KEY | OCSP_NOTIME;
  if (OCSP_basic_sign_ctx(basic, cert, md.get(), nullptr, flags) != 1) {
    return Status::Internal("cannot sign OCSP response: " + ossl::LastError());
  }
  return Status::Ok();
}

Result<std::string> EncodeResponse(const OCSP_RESPONSE* resp) {
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_RESPONSE(resp, &der);
  if (len <= 0) return Status::Internal("cannot encode OCSP response: " + ossl::LastError());
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

Result<OcspRequestInfo> ParseOcspRequest(const std::string& der, size_t max_ids) {
  if (der.empty()) return Status::BadRequest("empty OCSP request");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = p + der.size();
  ossl::OcspRequest req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!req) {
    ERR_clear_error();
    return Status::BadRequest("malformed OCSP request");
  }
  if (p != end) return Status::BadRequest("trailing data after OCSP request");

  const int count = OCSP_request_onereq_count(req.get());
  if (count <= 0) return Status::BadRequest("OCSP request names no certificate");
  if (static_cast<size_t>(count) > max_ids) {
    return Status::BadRequest("OCSP request names " + std::to_string(count) + " certificates; at most " +
                              std::to_string(max_ids) + " are answered");
  }
  OcspRequestInfo info;
  info.ids.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(OcspCertId id, ReadCertId(OCSP_request_onereq_get0(req.get(), i)));
    info.ids.push_back(std::move(id));
  }
  ASSIGN_OR_RETURN(info.nonce, ReadNonce(req.get()));
  return info;
}

bool CertIdMatchesIssuer(const OcspCertId& id, const X509* issuer) {
  if (id.hash == nullptr || issuer == nullptr) return false;
  unsigned char* name = nullptr;
  const int name_len = i2d_X509_NAME(X509_get_subject_name(issuer), &name);
  if (name_len <= 0) {
    ERR_clear_error();
    return false;
  }
  const std::string name_hash = Digest(id.hash, name, static_cast<size_t>(name_len));
  OPENSSL_free(name);
  // The key hash covers the subjectPublicKey BIT STRING's value only, not the whole SPKI (RFC 6960 4.1.1).
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(issuer);
  if (key == nullptr) return false;
  const std::string key_hash =
      Digest(id.hash, ASN1_STRING_get0_data(key), static_cast<size_t>(ASN1_STRING_length(key)));
  return !name_hash.empty() && name_hash == id.issuer_name_hash && key_hash == id.issuer_key_hash;
}

Result<std::string> BuildOcspResponse(const OcspSigner& signer, const std::vector<OcspSingleAnswer>& answers,
                                      const std::optional<std::string>& nonce, int64_t produced_at) {
  if (signer.cert == nullptr || signer.key == nullptr) return Status::Internal("OCSP signer without key");
  if (answers.empty()) return Status::Internal("OCSP response without answers");
  ossl::OcspBasicResp basic(OCSP_BASICRESP_new());
  if (!basic) return Status::Internal("cannot allocate OCSP response: " + ossl::LastError());
  for (const OcspSingleAnswer& a : answers) RETURN_IF_ERROR(AddAnswer(basic.get(), a));
  if (nonce) RETURN_IF_ERROR(AddNonce(basic.get(), *nonce));
  RETURN_IF_ERROR(SetProducedAt(basic.get(), produced_at));
  RETURN_IF_ERROR(SignBasic(basic.get(), signer));
  // OCSP_response_create encodes its own copy of `basic`.
  ossl::OcspResponse resp(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  if (!resp) return Status::Internal("cannot wrap OCSP response: " + ossl::LastError());
  return EncodeResponse(resp.get());
}

std::string OcspErrorResponse(int response_status) {
  switch (response_status) {
    case kOcspMalformedRequest:
    case kOcspInternalError:
    case kOcspTryLater:
    case kOcspSigRequired:
    case kOcspUnauthorized: break;
    default: response_status = kOcspInternalError;
  }
  // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } without responseBytes: five fixed DER bytes, written
  // by hand so that the error path itself cannot fail.
  return std::string{'\x30', '\x03', '\x0a', '\x01', static_cast<char>(response_status)};
}

}  // namespace pki
