#include "src/crypto/crl.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <cstring>
#include <ctime>

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"

namespace pki {
namespace {

// RAII for the OpenSSL types only this file uses.
using RevokedPtr = std::unique_ptr<X509_REVOKED, ossl::Deleter<X509_REVOKED, X509_REVOKED_free>>;
using TimePtr = std::unique_ptr<ASN1_TIME, ossl::Deleter<ASN1_TIME, ASN1_TIME_free>>;
using AlgorPtr = std::unique_ptr<X509_ALGOR, ossl::Deleter<X509_ALGOR, X509_ALGOR_free>>;
using EnumeratedPtr = std::unique_ptr<ASN1_ENUMERATED, ossl::Deleter<ASN1_ENUMERATED, ASN1_ENUMERATED_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, ossl::Deleter<AUTHORITY_KEYID, AUTHORITY_KEYID_free>>;
using DistPointsPtr = std::unique_ptr<CRL_DIST_POINTS, ossl::Deleter<CRL_DIST_POINTS, CRL_DIST_POINTS_free>>;

constexpr unsigned char kTagSequence = 0x30;
constexpr unsigned char kTagBitString = 0x03;
constexpr unsigned char kTagContext0 = 0xA0;  // [0] EXPLICIT, constructed
// Tag, long-form length-of-length octet, up to sizeof(size_t) length octets.
constexpr size_t kMaxDerHeader = 2 + sizeof(size_t);
// Room reserved per expected entry: a 20-octet serial with the high bit set, a GeneralizedTime and a reason code
// (Vault's entries, UTCTime and no reason, take 39). Unused room is virtual memory only.
constexpr size_t kMaxTypicalEntrySize = 56;

// A DER tag and definite length (short form below 128, else minimal long form).
std::string DerHeader(unsigned char tag, size_t length) {
  std::string header(1, static_cast<char>(tag));
  if (length < 0x80) {
    header.push_back(static_cast<char>(length));
    return header;
  }
  unsigned char octets[sizeof(size_t)];
  int n = 0;
  for (size_t v = length; v != 0; v >>= 8) octets[n++] = static_cast<unsigned char>(v & 0xff);
  header.push_back(static_cast<char>(0x80 | n));
  while (n > 0) header.push_back(static_cast<char>(octets[--n]));
  return header;
}

// Appends the DER of `obj`, written by its OpenSSL i2d function, to *out.
template <typename T>
Status AppendDer(int (*i2d)(const T*, unsigned char**), const T* obj, std::string* out) {
  int n = i2d(obj, nullptr);
  if (n <= 0) return Status::Internal("DER encoding failed: " + ossl::LastError());
  size_t at = out->size();
  out->resize(at + static_cast<size_t>(n));
  auto* p = reinterpret_cast<unsigned char*>(out->data() + at);
  if (i2d(obj, &p) != n) return Status::Internal("DER encoding failed: " + ossl::LastError());
  return Status::Ok();
}

// OpenSSL's ASN1_TIME_set picks UTCTime for 1950-2049 and GeneralizedTime otherwise, as RFC 5280 5.1.2.4 wants.
Result<TimePtr> Asn1Time(int64_t unix_seconds) {
  TimePtr t(ASN1_TIME_set(nullptr, static_cast<time_t>(unix_seconds)));
  if (!t) {
    ossl::LastError();
    return Status::BadRequest("time cannot be encoded in a CRL: " + std::to_string(unix_seconds));
  }
  return t;
}

// A positive INTEGER from magnitude bytes; OpenSSL adds the 0x00 pad when the high bit is set.
Result<ossl::Asn1Integer> SerialInteger(const std::string& magnitude) {
  if (magnitude.empty()) return Status::BadRequest("CRL entry without a serial number");
  ossl::Bignum bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(magnitude.data()),
                            static_cast<int>(magnitude.size()), nullptr));
  ossl::Asn1Integer serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial) return Status::Internal("cannot encode serial number: " + ossl::LastError());
  return serial;
}

bool ValidReason(int reason) { return reason >= 0 && reason <= 10 && reason != 7; }  // 7 is unassigned

// Appends one encoded revokedCertificates entry to *out, building its X509_REVOKED afresh (entries with a reason
// code; EntryEncoder's fast path covers the others).
Status AppendEntryWithReason(const CrlEntry& entry, std::string* out) {
  if (entry.reason != -1 && !ValidReason(entry.reason)) {
    return Status::BadRequest("invalid CRL reason code " + std::to_string(entry.reason));
  }
  ASSIGN_OR_RETURN(ossl::Asn1Integer serial, SerialInteger(entry.serial));
  ASSIGN_OR_RETURN(TimePtr date, Asn1Time(entry.revocation_time));
  RevokedPtr revoked(X509_REVOKED_new());
  if (!revoked || X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1 ||
      X509_REVOKED_set_revocationDate(revoked.get(), date.get()) != 1) {
    return Status::Internal("cannot build CRL entry: " + ossl::LastError());
  }
  if (entry.reason != -1) {
    EnumeratedPtr reason(ASN1_ENUMERATED_new());
    if (!reason || ASN1_ENUMERATED_set(reason.get(), entry.reason) != 1 ||
        X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, reason.get(), 0, 0) != 1) {
      return Status::Internal("cannot add CRL entry reason: " + ossl::LastError());
    }
  }
  return AppendDer(i2d_X509_REVOKED, static_cast<const X509_REVOKED*>(revoked.get()), out);
}

// Encodes entries without a reason code (all of the engine's, as Vault's) through one X509_REVOKED and BIGNUM
// reused from entry to entry: OpenSSL still encodes every entry (i2d_X509_REVOKED), but without
// allocating and freeing half a dozen objects per entry, and in one i2d pass straight into the output instead of
// a sizing pass first. No value is cached between entries: each serial and date is converted anew.
class EntryEncoder {
 public:
  Status Init() {
    revoked_.reset(X509_REVOKED_new());
    bn_.reset(BN_new());
    if (!revoked_ || !bn_) return Status::Internal("cannot allocate a CRL entry: " + ossl::LastError());
    return Status::Ok();
  }

  Status Append(const CrlEntry& entry, std::string* out) {
    if (entry.reason != -1) return AppendEntryWithReason(entry, out);
    if (entry.serial.empty()) return Status::BadRequest("CRL entry without a serial number");
    // The entry's own serialNumber and revocationDate (members of the X509_REVOKED, owned by it) are set in
    // place: BN_to_ASN1_INTEGER and ASN1_TIME_set reuse the objects' buffers, where the X509_REVOKED_set0/set1
    // setters would copy or duplicate a separately built value.
    auto* serial = const_cast<ASN1_INTEGER*>(X509_REVOKED_get0_serialNumber(revoked_.get()));
    if (!BN_bin2bn(reinterpret_cast<const unsigned char*>(entry.serial.data()), static_cast<int>(entry.serial.size()),
                   bn_.get()) ||
        BN_to_ASN1_INTEGER(bn_.get(), serial) != serial) {
      return Status::Internal("cannot encode serial number: " + ossl::LastError());
    }
    auto* date = const_cast<ASN1_TIME*>(X509_REVOKED_get0_revocationDate(revoked_.get()));
    if (!date || !ASN1_TIME_set(date, static_cast<time_t>(entry.revocation_time))) {
      ossl::LastError();
      return Status::BadRequest("time cannot be encoded in a CRL: " + std::to_string(entry.revocation_time));
    }
    // An upper bound of the entry's DER: SEQUENCE { INTEGER (the serial, plus a 0x00 pad), Time }, each header at
    // most kMaxDerHeader, a Time's content far below 64 octets (GeneralizedTime is 15). No extensions here.
    const size_t bound = 3 * kMaxDerHeader + entry.serial.size() + 1 + 64;
    const size_t at = out->size();
    out->resize(at + bound);
    auto* p = reinterpret_cast<unsigned char*>(out->data() + at);
    const int n = i2d_X509_REVOKED(revoked_.get(), &p);
    if (n <= 0 || static_cast<size_t>(n) > bound) {
      out->resize(at);
      return Status::Internal("DER encoding of a CRL entry failed: " + ossl::LastError());
    }
    out->resize(at + static_cast<size_t>(n));
    return Status::Ok();
  }

 private:
  RevokedPtr revoked_;
  ossl::Bignum bn_;
};

// Pulls every batch from `source` and appends the encoded entries to *out. Returns the number of entries.
Result<size_t> AppendEntries(const CrlEntrySource& source, std::string* out) {
  EntryEncoder encoder;
  RETURN_IF_ERROR(encoder.Init());
  size_t count = 0;
  std::vector<CrlEntry> batch;
  bool more = static_cast<bool>(source);  // no source: an empty CRL
  while (more) {
    batch.clear();
    ASSIGN_OR_RETURN(more, source(&batch));
    for (const CrlEntry& entry : batch) RETURN_IF_ERROR(encoder.Append(entry, out));
    count += batch.size();
  }
  return count;
}

// The DER AlgorithmIdentifier of the signature `md` will make (PSS parameters included). The provider describes
// its own algorithm, as ASN1_item_sign_ctx asks it to; the result is decoded and re-encoded as an X509_ALGOR.
Result<std::string> SignatureAlgorithmDer(EVP_MD_CTX* md) {
  unsigned char aid[256];
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid, sizeof(aid)),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_PKEY_CTX_get_params(EVP_MD_CTX_get_pkey_ctx(md), params) != 1 || !OSSL_PARAM_modified(&params[0])) {
    return Status::Internal("signing key has no signature algorithm identifier: " + ossl::LastError());
  }
  const unsigned char* p = aid;
  AlgorPtr algor(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(params[0].return_size)));
  if (!algor) return Status::Internal("cannot decode signature algorithm: " + ossl::LastError());
  std::string der;
  RETURN_IF_ERROR(AppendDer(i2d_X509_ALGOR, static_cast<const X509_ALGOR*>(algor.get()), &der));
  return der;
}

// Refuses a key that does not belong to the issuer certificate: such a CRL would fail every relying party's check.
Status CheckKeyMatchesIssuer(const X509* issuer, const EVP_PKEY* key) {
  // Certificates made by SignCertificate carry EC and Ed25519 keys encoded but not decoded, so decode the
  // SubjectPublicKeyInfo here instead of asking X509_get0_pubkey.
  std::string spki;
  RETURN_IF_ERROR(AppendDer(i2d_X509_PUBKEY, static_cast<const X509_PUBKEY*>(X509_get_X509_PUBKEY(issuer)), &spki));
  const auto* p = reinterpret_cast<const unsigned char*>(spki.data());
  ossl::PKey public_key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
  if (!public_key) return Status::Internal("cannot decode the issuer's public key: " + ossl::LastError());
  if (!SamePublicKey(public_key.get(), key)) {
    return Status::BadRequest("the CRL signing key does not match the issuer certificate");
  }
  return Status::Ok();
}

Status CheckParams(const CrlParams& params) {
  if (!params.issuer || !params.key) return Status::BadRequest("a CRL needs an issuer certificate and its key");
  if (params.delta_base) {
    // RFC 5280 5.2.4 and 5.2.6.
    if (*params.delta_base >= params.number) {
      return Status::BadRequest("a delta CRL's number must be greater than its base CRL number");
    }
    if (!params.freshest_crl_urls.empty()) {
      return Status::BadRequest("a delta CRL must not carry a Freshest CRL extension");
    }
  }
  return CheckKeyMatchesIssuer(params.issuer, params.key);
}

// The issuer's SKID, or RFC 5280 4.2.1.2 method 1 (SHA-1 of the subjectPublicKey bits) when it has none.
Result<std::string> AuthorityKeyId(const X509* issuer) {
  const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(const_cast<X509*>(issuer));
  if (skid) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(skid)),
                       static_cast<size_t>(ASN1_STRING_length(skid)));
  }
  const unsigned char* bits = nullptr;
  int len = 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, X509_get_X509_PUBKEY(issuer)) != 1 ||
      EVP_Digest(bits, static_cast<size_t>(len), md, &md_len, EVP_sha1(), nullptr) != 1) {
    return Status::Internal("cannot compute the issuer's key identifier: " + ossl::LastError());
  }
  return std::string(reinterpret_cast<char*>(md), md_len);
}

// Encodes `value` as extension `nid` and pushes it onto `exts`.
Status PushExtension(STACK_OF(X509_EXTENSION)* exts, int nid, bool critical, void* value) {
  ossl::X509Ext ext(X509V3_EXT_i2d(nid, critical ? 1 : 0, value));
  if (!ext || sk_X509_EXTENSION_push(exts, ext.get()) <= 0) {
    return Status::Internal(std::string("cannot encode CRL extension ") + OBJ_nid2sn(nid) + ": " +
                            ossl::LastError());
  }
  ext.release();  // the stack owns it now
  return Status::Ok();
}

Status PushIntegerExtension(STACK_OF(X509_EXTENSION)* exts, int nid, bool critical, uint64_t value) {
  ossl::Asn1Integer integer(ASN1_INTEGER_new());
  if (!integer || ASN1_INTEGER_set_uint64(integer.get(), value) != 1) {
    return Status::Internal("cannot encode CRL number: " + ossl::LastError());
  }
  return PushExtension(exts, nid, critical, integer.get());
}

// Freshest CRL (2.5.29.46) has the syntax of CRL Distribution Points: one DistributionPoint of URIs.
Status PushFreshestCrl(STACK_OF(X509_EXTENSION)* exts, const std::vector<std::string>& urls) {
  DistPointsPtr points(sk_DIST_POINT_new_null());
  DIST_POINT* point = DIST_POINT_new();
  if (!points || !point || sk_DIST_POINT_push(points.get(), point) <= 0) {
    DIST_POINT_free(point);
    return Status::Internal("cannot build Freshest CRL extension: " + ossl::LastError());
  }
  point->distpoint = DIST_POINT_NAME_new();
  if (!point->distpoint) return Status::Internal("cannot build Freshest CRL extension: " + ossl::LastError());
  point->distpoint->type = 0;  // fullName
  point->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
  for (const std::string& url : urls) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* uri = ASN1_IA5STRING_new();
    if (!name || !uri || ASN1_STRING_set(uri, url.data(), static_cast<int>(url.size())) != 1 ||
        !point->distpoint->name.fullname || sk_GENERAL_NAME_push(point->distpoint->name.fullname, name) <= 0) {
      GENERAL_NAME_free(name);
      ASN1_IA5STRING_free(uri);
      return Status::Internal("cannot build Freshest CRL extension: " + ossl::LastError());
    }
    GENERAL_NAME_set0_value(name, GEN_URI, uri);
  }
  return PushExtension(exts, NID_freshest_crl, false, points.get());
}

// crlExtensions as they appear in the TBS: [0] EXPLICIT SEQUENCE OF Extension.
Result<std::string> EncodeCrlExtensions(const CrlParams& params) {
  ossl::ExtensionStack exts(sk_X509_EXTENSION_new_null());
  if (!exts) return Status::Internal("cannot allocate CRL extensions");

  ASSIGN_OR_RETURN(std::string key_id, AuthorityKeyId(params.issuer));
  AuthorityKeyIdPtr akid(AUTHORITY_KEYID_new());
  if (!akid || !(akid->keyid = ASN1_OCTET_STRING_new()) ||
      ASN1_OCTET_STRING_set(akid->keyid, reinterpret_cast<const unsigned char*>(key_id.data()),
                            static_cast<int>(key_id.size())) != 1) {
    return Status::Internal("cannot build Authority Key Identifier: " + ossl::LastError());
  }
  RETURN_IF_ERROR(PushExtension(exts.get(), NID_authority_key_identifier, false, akid.get()));
  RETURN_IF_ERROR(PushIntegerExtension(exts.get(), NID_crl_number, false, params.number));
  if (params.delta_base) {
    RETURN_IF_ERROR(PushIntegerExtension(exts.get(), NID_delta_crl, true, *params.delta_base));
  }
  if (!params.freshest_crl_urls.empty()) RETURN_IF_ERROR(PushFreshestCrl(exts.get(), params.freshest_crl_urls));

  std::string sequence;
  RETURN_IF_ERROR(AppendDer(i2d_X509_EXTENSIONS, static_cast<const X509_EXTENSIONS*>(exts.get()), &sequence));
  return DerHeader(kTagContext0, sequence.size()) + sequence;
}

// The TBS fields before revokedCertificates, without the TBS header: version, signature, issuer, thisUpdate,
// nextUpdate.
Result<std::string> EncodeTbsHead(const CrlParams& params, const std::string& algorithm_der) {
  std::string head;
  ossl::Asn1Integer version(ASN1_INTEGER_new());
  if (!version || ASN1_INTEGER_set(version.get(), 1) != 1) return Status::Internal("cannot encode CRL version");
  RETURN_IF_ERROR(AppendDer(i2d_ASN1_INTEGER, static_cast<const ASN1_INTEGER*>(version.get()), &head));  // v2
  head += algorithm_der;
  RETURN_IF_ERROR(AppendDer(i2d_X509_NAME, static_cast<const X509_NAME*>(X509_get_subject_name(params.issuer)),
                            &head));
  ASSIGN_OR_RETURN(TimePtr this_update, Asn1Time(params.this_update));
  ASSIGN_OR_RETURN(TimePtr next_update, Asn1Time(params.next_update));
  RETURN_IF_ERROR(AppendDer(i2d_ASN1_TIME, static_cast<const ASN1_TIME*>(this_update.get()), &head));
  RETURN_IF_ERROR(AppendDer(i2d_ASN1_TIME, static_cast<const ASN1_TIME*>(next_update.get()), &head));
  return head;
}

Result<std::string> Sign(EVP_MD_CTX* md, const char* tbs, size_t tbs_len) {
  const auto* data = reinterpret_cast<const unsigned char*>(tbs);
  size_t sig_len = 0;
  if (EVP_DigestSign(md, nullptr, &sig_len, data, tbs_len) != 1) {
    return Status::Internal("CRL signing failed: " + ossl::LastError());
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &sig_len, data, tbs_len) != 1) {
    return Status::Internal("CRL signing failed: " + ossl::LastError());
  }
  sig.resize(sig_len);  // ECDSA signatures may come out shorter than the maximum
  return sig;
}

// Copies `bytes` into *buf ending just before `*end`, and moves *end to their start.
void PutBefore(const std::string& bytes, std::string* buf, size_t* end) {
  *end -= bytes.size();
  std::memcpy(buf->data() + *end, bytes.data(), bytes.size());
}

}  // namespace

Result<std::string> BuildCrlDer(const CrlParams& params, const CrlEntrySource& entries) {
  ERR_clear_error();
  RETURN_IF_ERROR(CheckParams(params));
  ossl::MdCtx md(EVP_MD_CTX_new());
  if (!md) return Status::Internal("cannot allocate a digest context");
  RETURN_IF_ERROR(InitSigning(md.get(), params.key, params.signature_bits, params.use_pss));
  ASSIGN_OR_RETURN(std::string algorithm, SignatureAlgorithmDer(md.get()));
  ASSIGN_OR_RETURN(std::string head, EncodeTbsHead(params, algorithm));
  ASSIGN_OR_RETURN(std::string extensions, EncodeCrlExtensions(params));

  // The entries stream straight into the output buffer, after room for everything that precedes them: the
  // CertificateList and TBS headers, the TBS head and the revokedCertificates header. Their lengths are known only
  // once the last entry is in, so those parts are written backwards into the room afterwards, and the unused
  // front of the room is cut off at the end. The entries are thus never copied into a second buffer.
  const size_t room = kMaxDerHeader + kMaxDerHeader + head.size() + kMaxDerHeader;
  std::string out;
  out.reserve(room + params.expected_entries * kMaxTypicalEntrySize + extensions.size() + algorithm.size() +
              kMaxDerHeader + 1 + static_cast<size_t>(EVP_PKEY_get_size(params.key)));
  out.resize(room);
  ASSIGN_OR_RETURN(size_t count, AppendEntries(entries, &out));
  const size_t entries_len = out.size() - room;

  // RFC 5280 5.1.2.6: revokedCertificates is absent, not empty, when nothing is revoked.
  std::string revoked_header = count > 0 ? DerHeader(kTagSequence, entries_len) : std::string();
  size_t tbs_start = room;
  PutBefore(revoked_header, &out, &tbs_start);
  PutBefore(head, &out, &tbs_start);
  out += extensions;
  PutBefore(DerHeader(kTagSequence, out.size() - tbs_start), &out, &tbs_start);

  ASSIGN_OR_RETURN(std::string signature, Sign(md.get(), out.data() + tbs_start, out.size() - tbs_start));
  std::string tail = algorithm + DerHeader(kTagBitString, signature.size() + 1);
  tail.push_back('\0');  // no unused bits
  tail += signature;
  size_t start = tbs_start;
  PutBefore(DerHeader(kTagSequence, out.size() - tbs_start + tail.size()), &out, &start);
  out += tail;
  out.erase(0, start);
  return out;
}

}  // namespace pki
