#include "src/crypto/x509.h"

#include "src/crypto/csr_fast.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace pki {
namespace {

struct KeyUsageName {
  const char* name;
  int bit;  // index in the KeyUsage BIT STRING
};
constexpr KeyUsageName kKeyUsages[] = {
    {"digitalsignature", 0}, {"contentcommitment", 1}, {"keyencipherment", 2},
    {"dataencipherment", 3}, {"keyagreement", 4},      {"certsign", 5},
    {"crlsign", 6},          {"encipheronly", 7},      {"decipheronly", 8},
};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

ASN1_IA5STRING* Ia5(const std::string& s) {
  ASN1_IA5STRING* a = ASN1_IA5STRING_new();
  ASN1_STRING_set(a, s.data(), static_cast<int>(s.size()));
  return a;
}

GENERAL_NAME* UriName(const std::string& uri) {
  GENERAL_NAME* g = GENERAL_NAME_new();
  GENERAL_NAME_set0_value(g, GEN_URI, Ia5(uri));
  return g;
}

Status AddExtension(X509* cert, int nid, int critical, void* value) {
  X509_EXTENSION* ext = X509V3_EXT_i2d(nid, critical, value);
  if (!ext) return Status::Internal("cannot encode extension " + std::string(OBJ_nid2sn(nid)));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return Status::Internal("cannot add extension");
  return Status::Ok();
}

// Appends one subtree per name of `type` (GEN_DNS, GEN_EMAIL, GEN_URI: IA5 text; GEN_IPADD: CIDR text).
Status AddSubtrees(STACK_OF(GENERAL_SUBTREE) * *subtrees, int type, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (!*subtrees) *subtrees = sk_GENERAL_SUBTREE_new_null();
    GENERAL_SUBTREE* st = GENERAL_SUBTREE_new();
    if (type == GEN_IPADD) {
      Result<std::string> range = EncodeIpRange(n);
      if (!range.ok()) {
        GENERAL_SUBTREE_free(st);
        return range.status();
      }
      ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(os, reinterpret_cast<const unsigned char*>(range->data()),
                            static_cast<int>(range->size()));
      GENERAL_NAME_set0_value(st->base, GEN_IPADD, os);
    } else {
      GENERAL_NAME_set0_value(st->base, type, Ia5(n));
    }
    sk_GENERAL_SUBTREE_push(*subtrees, st);
  }
  return Status::Ok();
}

Result<ossl::NameConstraintsPtr> BuildNameConstraints(const NameConstraintSet& c) {
  ossl::NameConstraintsPtr nc(NAME_CONSTRAINTS_new());
  if (!nc) return Status::Internal("cannot allocate name constraints");
  STACK_OF(GENERAL_SUBTREE)** permitted = &nc->permittedSubtrees;
  STACK_OF(GENERAL_SUBTREE)** excluded = &nc->excludedSubtrees;
  RETURN_IF_ERROR(AddSubtrees(permitted, GEN_DNS, c.permitted_dns_domains));
  RETURN_IF_ERROR(AddSubtrees(permitted, GEN_IPADD, c.permitted_ip_ranges));
  RETURN_IF_ERROR(AddSubtrees(permitted, GEN_EMAIL, c.permitted_email_addresses));
  RETURN_IF_ERROR(AddSubtrees(permitted, GEN_URI, c.permitted_uri_domains));
  RETURN_IF_ERROR(AddSubtrees(excluded, GEN_DNS, c.excluded_dns_domains));
  RETURN_IF_ERROR(AddSubtrees(excluded, GEN_IPADD, c.excluded_ip_ranges));
  RETURN_IF_ERROR(AddSubtrees(excluded, GEN_EMAIL, c.excluded_email_addresses));
  RETURN_IF_ERROR(AddSubtrees(excluded, GEN_URI, c.excluded_uri_domains));
  return nc;
}

// Builds GENERAL_NAMES for the subject alternative names; 400 on an unparsable IP.
Result<ossl::GeneralNames> BuildSans(const std::vector<std::string>& dns, const std::vector<std::string>& emails,
                                     const std::vector<std::string>& ips, const std::vector<std::string>& uris,
                                     const std::vector<OtherName>& others) {
  ossl::GeneralNames names(sk_GENERAL_NAME_new_null());
  for (const auto& d : dns) {
    GENERAL_NAME* g = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(g, GEN_DNS, Ia5(d));
    sk_GENERAL_NAME_push(names.get(), g);
  }
  for (const auto& e : emails) {
    GENERAL_NAME* g = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(g, GEN_EMAIL, Ia5(e));
    sk_GENERAL_NAME_push(names.get(), g);
  }
  for (const auto& ip : ips) {
    ASN1_OCTET_STRING* os = a2i_IPADDRESS(ip.c_str());
    if (!os) return Status::BadRequest("the value \"" + ip + "\" is not a valid IP address");
    GENERAL_NAME* g = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(g, GEN_IPADD, os);
    sk_GENERAL_NAME_push(names.get(), g);
  }
  for (const auto& u : uris) sk_GENERAL_NAME_push(names.get(), UriName(u));
  for (const auto& o : others) {
    ASN1_OBJECT* oid = OBJ_txt2obj(o.oid.c_str(), 1);
    if (!oid) return Status::BadRequest("invalid other SAN OID " + o.oid);
    ASN1_TYPE* val = ASN1_TYPE_new();
    ASN1_UTF8STRING* s = ASN1_UTF8STRING_new();
    ASN1_STRING_set(s, o.utf8_value.data(), static_cast<int>(o.utf8_value.size()));
    ASN1_TYPE_set(val, V_ASN1_UTF8STRING, s);
    GENERAL_NAME* g = GENERAL_NAME_new();
    GENERAL_NAME_set0_othername(g, oid, val);
    sk_GENERAL_NAME_push(names.get(), g);
  }
  return names;
}

void CollectSans(const GENERAL_NAMES* names, std::vector<std::string>* dns, std::vector<std::string>* emails,
                 std::vector<std::string>* ips, std::vector<std::string>* uris, std::vector<OtherName>* others) {
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    auto str = [](const ASN1_STRING* s) {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    };
    switch (g->type) {
      case GEN_DNS: if (dns) dns->push_back(str(g->d.dNSName)); break;
      case GEN_EMAIL: if (emails) emails->push_back(str(g->d.rfc822Name)); break;
      case GEN_URI: if (uris) uris->push_back(str(g->d.uniformResourceIdentifier)); break;
      case GEN_IPADD: {
        if (!ips) break;
        char* txt = nullptr;
        ASN1_OCTET_STRING* os = g->d.iPAddress;
        // ipaddress_to_string is not public; format by hand from the octets.
        const unsigned char* p = ASN1_STRING_get0_data(os);
        int len = ASN1_STRING_length(os);
        char buf[64];
        if (len == 4) {
          std::snprintf(buf, sizeof(buf), "%d.%d.%d.%d", p[0], p[1], p[2], p[3]);
          ips->push_back(buf);
        } else if (len == 16) {
          std::string s;
          for (int j = 0; j < 16; j += 2) {
            std::snprintf(buf, sizeof(buf), "%x", (p[j] << 8) | p[j + 1]);
            if (j) s += ":";
            s += buf;
          }
          ips->push_back(s);
        }
        (void)txt;
        break;
      }
      case GEN_OTHERNAME: {
        if (!others) break;
        char oid[128];
        OBJ_obj2txt(oid, sizeof(oid), g->d.otherName->type_id, 1);
        const ASN1_TYPE* v = g->d.otherName->value;
        std::string value;
        if (v && v->type == V_ASN1_UTF8STRING) value = str(v->value.utf8string);
        others->push_back({oid, value});
        break;
      }
      default: break;
    }
  }
}

Result<const EVP_MD*> ChooseDigest(const EVP_PKEY* signer, int signature_bits) {
  auto info = InspectKey(signer);
  if (!info.ok()) return Status::Internal("unsupported signing key: " + info.status().message());
  int bits = signature_bits;
  switch (info->type) {
    case KeyType::kEd25519: return static_cast<const EVP_MD*>(nullptr);
    case KeyType::kRsa: if (bits == 0) bits = 256; break;
    case KeyType::kEc:
      // ECDSA's hash always follows the curve, as Vault's selectSignatureAlgorithmForECDSA does.
      bits = info->bits <= 256 ? 256 : (info->bits <= 384 ? 384 : 512);
      break;
  }
  switch (bits) {
    case 256: return EVP_sha256();
    case 384: return EVP_sha384();
    case 512: return EVP_sha512();
  }
  return Status::BadRequest("unsupported signature_bits: " + std::to_string(signature_bits));
}

// Initialises `md` for signing with `key`, honouring PSS for RSA keys.
Status InitSign(EVP_MD_CTX* md, const EVP_PKEY* key, int signature_bits, bool use_pss) {
  ASSIGN_OR_RETURN(const EVP_MD* digest, ChooseDigest(key, signature_bits));
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(md, &pctx, digest, nullptr, const_cast<EVP_PKEY*>(key)) != 1) {
    return Status::Internal("cannot initialise signing: " + ossl::LastError());
  }
  if (use_pss && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
      return Status::Internal("cannot configure RSA-PSS: " + ossl::LastError());
    }
  }
  return Status::Ok();
}

// Go's asn1 rule for subject strings: PrintableString when every character allows it, else UTF8String. Passing
// the type explicitly also skips OpenSSL's per-attribute length table, which Vault (Go) does not have.
int DirectoryStringType(const std::string& value) {
  for (unsigned char c : value) {
    bool printable = std::isalnum(c) || c == ' ' || c == '\'' || c == '(' || c == ')' || c == '+' || c == ',' ||
                     c == '-' || c == '.' || c == '/' || c == ':' || c == '=' || c == '?';
    if (!printable) return V_ASN1_UTF8STRING;
  }
  return V_ASN1_PRINTABLESTRING;
}

Result<ossl::X509Name> BuildName(const DistinguishedName& dn) {
  ossl::X509Name name(X509_NAME_new());
  for (const auto& [field, value] : dn) {
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), DirectoryStringType(value),
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      ossl::LastError();
      return Status::BadRequest("invalid value for subject attribute " + field + ": \"" + value + "\"");
    }
  }
  return name;
}

std::string KeyIdOf(const X509* cert) {
  const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(const_cast<X509*>(cert));
  if (skid) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(skid)),
                       static_cast<size_t>(ASN1_STRING_length(skid)));
  }
  return {};
}

// RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
std::string KeyIdOfPubkey(const X509_PUBKEY* pub) {
  const unsigned char* bits = nullptr;
  int len = 0;
  if (X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, pub) != 1) return {};
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(bits, static_cast<size_t>(len), md);
  return std::string(reinterpret_cast<char*>(md), sizeof(md));
}

// Writes `key` as the certificate's SubjectPublicKeyInfo. For EC and Ed25519 the fields are filled from the
// provider's own encoding of the public key; X509_set_pubkey would instead round-trip the key through OpenSSL 3.0's
// encoder and decoder, whose global locks made them most of the cost of issuing a certificate. RSA (whose key
// generation dwarfs that cost) takes the generic path, and so do EC keys held as a legacy EC_KEY (GenerateKey's,
// and a CSR's on its fast route): they have no provider encoding to read, and X509_set_pubkey encodes them
// directly (named curve, uncompressed point; ~3 us, no encoder).
Status SetPublicKey(X509* cert, const EVP_PKEY* key) {
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(cert);
  auto info = InspectKey(key);
  if (info.ok() && info->type == KeyType::kEc) {
    char curve[64] = {0};
    size_t curve_len = 0, point_len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), &curve_len) == 1 &&
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &point_len) == 1) {
      int curve_nid = OBJ_txt2nid(curve);
      if (curve_nid == NID_undef) curve_nid = EC_curve_nist2nid(curve);
      auto* point = static_cast<unsigned char*>(OPENSSL_malloc(point_len));
      if (curve_nid != NID_undef && point &&
          EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, point_len,
                                          &point_len) == 1 &&
          X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                                 OBJ_nid2obj(curve_nid), point, static_cast<int>(point_len)) == 1) {
        return Status::Ok();  // `point` now belongs to the certificate
      }
      OPENSSL_free(point);
    }
  } else if (info.ok() && info->type == KeyType::kEd25519) {
    size_t len = 0;
    if (EVP_PKEY_get_raw_public_key(key, nullptr, &len) == 1) {
      auto* raw = static_cast<unsigned char*>(OPENSSL_malloc(len));
      if (raw && EVP_PKEY_get_raw_public_key(key, raw, &len) == 1 &&
          X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF, nullptr, raw,
                                 static_cast<int>(len)) == 1) {
        return Status::Ok();
      }
      OPENSSL_free(raw);
    }
  }
  if (X509_set_pubkey(cert, const_cast<EVP_PKEY*>(key)) != 1) {
    return Status::Internal("cannot set public key: " + ossl::LastError());
  }
  return Status::Ok();
}

ASN1_OCTET_STRING* OctetString(const std::string& s) {
  ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(os, reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  return os;
}

// The authority key identifier naming `issuer`: its subject key identifier, else the SHA-1 of its key.
Status AddAuthorityKeyId(X509* cert, const X509* issuer) {
  std::string akid = KeyIdOf(issuer);
  if (akid.empty()) akid = KeyIdOfPubkey(X509_get_X509_PUBKEY(issuer));
  AUTHORITY_KEYID* ak = AUTHORITY_KEYID_new();
  ak->keyid = OctetString(akid);
  Status s = AddExtension(cert, NID_authority_key_identifier, 0, ak);
  AUTHORITY_KEYID_free(ak);
  return s;
}

std::string NameDer(const X509_NAME* name) {
  unsigned char* der = nullptr;
  int n = i2d_X509_NAME(const_cast<X509_NAME*>(name), &der);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

std::string CommonNameOf(const X509_NAME* name) {
  int idx = X509_NAME_get_index_by_NID(const_cast<X509_NAME*>(name), NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(const_cast<X509_NAME*>(name), idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

Status InitSigning(EVP_MD_CTX* md, const EVP_PKEY* key, int signature_bits, bool use_pss) {
  return InitSign(md, key, signature_bits, use_pss);
}

int KeyUsageMask(const std::vector<std::string>& names) {
  int mask = 0;
  for (const auto& n : names) {
    std::string l = Lower(n);
    for (const auto& ku : kKeyUsages) {
      if (l == ku.name) mask |= 1 << ku.bit;
    }
  }
  return mask;
}

std::string ExtKeyUsageOid(const std::string& name) {
  static const std::pair<const char*, const char*> kEkus[] = {
      {"any", "2.5.29.37.0"},
      {"serverauth", "1.3.6.1.5.5.7.3.1"},
      {"clientauth", "1.3.6.1.5.5.7.3.2"},
      {"codesigning", "1.3.6.1.5.5.7.3.3"},
      {"emailprotection", "1.3.6.1.5.5.7.3.4"},
      {"ipsecendsystem", "1.3.6.1.5.5.7.3.5"},
      {"ipsectunnel", "1.3.6.1.5.5.7.3.6"},
      {"ipsecuser", "1.3.6.1.5.5.7.3.7"},
      {"timestamping", "1.3.6.1.5.5.7.3.8"},
      {"ocspsigning", "1.3.6.1.5.5.7.3.9"},
      {"microsoftservergatedcrypto", "1.3.6.1.4.1.311.10.3.3"},
      {"netscapeservergatedcrypto", "2.16.840.1.113730.4.1"},
      {"microsoftcommercialcodesigning", "1.3.6.1.4.1.311.2.1.22"},
      {"microsoftkernelcodesigning", "1.3.6.1.4.1.311.61.1.1"},
  };
  std::string l = Lower(name);
  for (const auto& [n, oid] : kEkus) {
    if (l == n) return oid;
  }
  return {};
}

Result<std::string> EncodeIpRange(const std::string& cidr) {
  auto invalid = [&] { return Status::BadRequest("invalid CIDR address: " + cidr); };
  size_t slash = cidr.find('/');
  if (slash == std::string::npos || slash + 1 == cidr.size() || cidr.size() - slash - 1 > 3) return invalid();
  std::string addr_text = cidr.substr(0, slash);
  unsigned char addr[16];
  size_t len = 0;
  if (inet_pton(AF_INET, addr_text.c_str(), addr) == 1) {
    len = 4;
  } else if (inet_pton(AF_INET6, addr_text.c_str(), addr) == 1) {
    len = 16;
  } else {
    return invalid();
  }
  int prefix = 0;
  for (size_t i = slash + 1; i < cidr.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(cidr[i]))) return invalid();
    prefix = prefix * 10 + (cidr[i] - '0');
  }
  if (prefix > static_cast<int>(len * 8)) return invalid();
  std::string out(2 * len, '\0');
  for (size_t i = 0; i < len; ++i) {
    int bits = std::clamp(prefix - static_cast<int>(i * 8), 0, 8);
    unsigned char mask = static_cast<unsigned char>(0xff00 >> bits);
    out[i] = static_cast<char>(addr[i] & mask);
    out[len + i] = static_cast<char>(mask);
  }
  return out;
}

Result<std::string> RandomSerial() {
  unsigned char buf[20];
  do {
    if (RAND_bytes(buf, sizeof(buf)) != 1) return Status::Internal("no randomness for serial number");
    buf[0] &= 0x7f;  // [0, 2^159)
  } while (std::all_of(buf, buf + sizeof(buf), [](unsigned char c) { return c == 0; }));
  size_t skip = 0;
  while (buf[skip] == 0) ++skip;
  return std::string(reinterpret_cast<char*>(buf) + skip, sizeof(buf) - skip);
}

std::string FormatSerial(const std::string& serial_bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(serial_bytes.size() * 3);
  for (size_t i = 0; i < serial_bytes.size(); ++i) {
    if (i) out.push_back(':');
    auto b = static_cast<unsigned char>(serial_bytes[i]);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

namespace {

// Hex digit values by character, -1 for any other character: a table rather than range tests, whose branches
// mispredict on random digits. (CRL building parses a serial per revoked entry: no allocation per digit.)
constexpr std::array<signed char, 256> kHexNibbles = [] {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<signed char>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<signed char>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<signed char>(c - 'A' + 10);
  return t;
}();

// The value of a hex digit, or -1.
int HexNibble(char c) { return kHexNibbles[static_cast<unsigned char>(c)]; }

}  // namespace

Result<std::string> ParseSerial(const std::string& text) { return ParseSerialView(text); }

Result<std::string> ParseSerialView(std::string_view text) {
  constexpr size_t kMaxDigits = 80;
  unsigned char nibbles[kMaxDigits];
  size_t count = 0;
  for (char c : text) {
    if (c == ':' || c == '-') continue;
    const int v = HexNibble(c);
    if (v < 0 || count == kMaxDigits) return Status::BadRequest("invalid serial number: \"" + std::string(text) + "\"");
    nibbles[count++] = static_cast<unsigned char>(v);
  }
  if (count == 0) return Status::BadRequest("invalid serial number: \"" + std::string(text) + "\"");
  std::string bytes;
  bytes.reserve(count / 2 + 1);
  size_t i = 0;
  if (count % 2) bytes.push_back(static_cast<char>(nibbles[i++]));  // an odd count: a leading 0 implied
  for (; i < count; i += 2) bytes.push_back(static_cast<char>((nibbles[i] << 4) | nibbles[i + 1]));
  size_t skip = 0;
  while (skip + 1 < bytes.size() && bytes[skip] == 0) ++skip;
  if (skip == 0) return bytes;  // moved, not copied (a conditional expression would copy it)
  return bytes.substr(skip);
}

Result<ossl::X509Ptr> SignCertificate(const CertTemplate& t, const X509* issuer, const EVP_PKEY* signer) {
  ERR_clear_error();
  ossl::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return Status::Internal("X509_new failed");

  ossl::Bignum bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(t.serial.data()),
                            static_cast<int>(t.serial.size()), nullptr));
  ossl::Asn1Integer serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  X509_set_serialNumber(cert.get(), serial.get());

  ASSIGN_OR_RETURN(ossl::X509Name subject, BuildName(t.subject));
  X509_set_subject_name(cert.get(), t.subject_name ? t.subject_name : subject.get());
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(cert.get()));
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(t.not_before)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(t.not_after))) {
    return Status::BadRequest("validity period cannot be encoded");
  }
  RETURN_IF_ERROR(SetPublicKey(cert.get(), t.public_key));

  if (t.is_ca || t.basic_constraints) {
    BASIC_CONSTRAINTS* bc = BASIC_CONSTRAINTS_new();
    bc->ca = t.is_ca ? 0xFF : 0;
    if (t.is_ca && t.max_path_length >= 0) {
      bc->pathlen = ASN1_INTEGER_new();
      ASN1_INTEGER_set(bc->pathlen, t.max_path_length);
    }
    Status s = AddExtension(cert.get(), NID_basic_constraints, 1, bc);
    BASIC_CONSTRAINTS_free(bc);
    RETURN_IF_ERROR(s);
  }
  if (t.key_usage != 0) {
    ASN1_BIT_STRING* ku = ASN1_BIT_STRING_new();
    for (int bit = 0; bit < 9; ++bit) {
      if (t.key_usage & (1 << bit)) ASN1_BIT_STRING_set_bit(ku, bit, 1);
    }
    Status s = AddExtension(cert.get(), NID_key_usage, 1, ku);
    ASN1_BIT_STRING_free(ku);
    RETURN_IF_ERROR(s);
  }
  if (!t.ext_key_usage_oids.empty()) {
    EXTENDED_KEY_USAGE* eku = sk_ASN1_OBJECT_new_null();
    for (const auto& oid : t.ext_key_usage_oids) {
      ASN1_OBJECT* o = OBJ_txt2obj(oid.c_str(), 1);
      if (!o) {
        sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
        return Status::BadRequest("\"" + oid + "\" could not be parsed as a valid oid for an extended key usage");
      }
      sk_ASN1_OBJECT_push(eku, o);
    }
    Status s = AddExtension(cert.get(), NID_ext_key_usage, 0, eku);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    RETURN_IF_ERROR(s);
  }

  std::string skid =
      t.subject_key_id.empty() ? KeyIdOfPubkey(X509_get_X509_PUBKEY(cert.get())) : t.subject_key_id;
  {
    ASN1_OCTET_STRING* os = OctetString(skid);
    Status s = AddExtension(cert.get(), NID_subject_key_identifier, 0, os);
    ASN1_OCTET_STRING_free(os);
    RETURN_IF_ERROR(s);
  }
  if (issuer) RETURN_IF_ERROR(AddAuthorityKeyId(cert.get(), issuer));

  ASSIGN_OR_RETURN(ossl::GeneralNames sans,
                   BuildSans(t.dns_names, t.email_addresses, t.ip_addresses, t.uris, t.other_names));
  if (sk_GENERAL_NAME_num(sans.get()) > 0) {
    // RFC 5280 4.2.1.6: critical when the subject is empty.
    RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name, t.subject.empty() ? 1 : 0, sans.get()));
  }

  if (!t.name_constraints.empty()) {
    ASSIGN_OR_RETURN(ossl::NameConstraintsPtr nc, BuildNameConstraints(t.name_constraints));
    RETURN_IF_ERROR(AddExtension(cert.get(), NID_name_constraints, 1, nc.get()));
  }

  if (!t.issuing_certificates.empty() || !t.ocsp_servers.empty()) {
    AUTHORITY_INFO_ACCESS* aia = sk_ACCESS_DESCRIPTION_new_null();
    auto add = [&](int nid, const std::string& url) {
      ACCESS_DESCRIPTION* ad = ACCESS_DESCRIPTION_new();
      ASN1_OBJECT_free(ad->method);
      ad->method = OBJ_nid2obj(nid);
      GENERAL_NAME_free(ad->location);
      ad->location = UriName(url);
      sk_ACCESS_DESCRIPTION_push(aia, ad);
    };
    for (const auto& u : t.ocsp_servers) add(NID_ad_OCSP, u);
    for (const auto& u : t.issuing_certificates) add(NID_ad_ca_issuers, u);
    Status s = AddExtension(cert.get(), NID_info_access, 0, aia);
    AUTHORITY_INFO_ACCESS_free(aia);
    RETURN_IF_ERROR(s);
  }

  if (!t.crl_distribution_points.empty()) {
    CRL_DIST_POINTS* dps = sk_DIST_POINT_new_null();
    for (const auto& u : t.crl_distribution_points) {
      DIST_POINT* dp = DIST_POINT_new();
      dp->distpoint = DIST_POINT_NAME_new();
      dp->distpoint->type = 0;
      dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
      sk_GENERAL_NAME_push(dp->distpoint->name.fullname, UriName(u));
      sk_DIST_POINT_push(dps, dp);
    }
    Status s = AddExtension(cert.get(), NID_crl_distribution_points, 0, dps);
    CRL_DIST_POINTS_free(dps);
    RETURN_IF_ERROR(s);
  }

  if (!t.policies.empty()) {
    CERTIFICATEPOLICIES* pols = sk_POLICYINFO_new_null();
    Status s;
    for (const auto& p : t.policies) {
      POLICYINFO* pi = POLICYINFO_new();
      ASN1_OBJECT_free(pi->policyid);
      pi->policyid = OBJ_txt2obj(p.oid.c_str(), 1);
      sk_POLICYINFO_push(pols, pi);
      if (!pi->policyid) {
        s = Status::BadRequest("invalid policy identifier " + p.oid);
        break;
      }
      if (!p.cps.empty() || !p.notice.empty()) pi->qualifiers = sk_POLICYQUALINFO_new_null();
      if (!p.cps.empty()) {
        POLICYQUALINFO* q = POLICYQUALINFO_new();
        q->pqualid = OBJ_nid2obj(NID_id_qt_cps);
        q->d.cpsuri = Ia5(p.cps);
        sk_POLICYQUALINFO_push(pi->qualifiers, q);
      }
      if (!p.notice.empty()) {
        POLICYQUALINFO* q = POLICYQUALINFO_new();
        q->pqualid = OBJ_nid2obj(NID_id_qt_unotice);
        q->d.usernotice = USERNOTICE_new();
        q->d.usernotice->exptext = ASN1_UTF8STRING_new();
        ASN1_STRING_set(q->d.usernotice->exptext, p.notice.data(), static_cast<int>(p.notice.size()));
        sk_POLICYQUALINFO_push(pi->qualifiers, q);
      }
    }
    if (s.ok()) s = AddExtension(cert.get(), NID_certificate_policies, 0, pols);
    CERTIFICATEPOLICIES_free(pols);
    RETURN_IF_ERROR(s);
  }

  // Extensions copied from a CSR replace the ones built above with the same OID (Vault's use_csr_values).
  for (int i = 0; t.csr_extensions && i < sk_X509_EXTENSION_num(t.csr_extensions); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(t.csr_extensions, i);
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_basic_constraints || nid == NID_subject_key_identifier || nid == NID_authority_key_identifier) {
      continue;
    }
    int existing = X509_get_ext_by_OBJ(cert.get(), X509_EXTENSION_get_object(ext), -1);
    if (existing >= 0) X509_EXTENSION_free(X509_delete_ext(cert.get(), existing));
    if (X509_add_ext(cert.get(), ext, -1) != 1) return Status::Internal("cannot copy a CSR extension");
  }

  ossl::MdCtx md(EVP_MD_CTX_new());
  RETURN_IF_ERROR(InitSign(md.get(), signer, t.signature_bits, t.use_pss));
  if (X509_sign_ctx(cert.get(), md.get()) <= 0) return Status::Internal("signing failed: " + ossl::LastError());
  return cert;
}

Result<ossl::X509Ptr> ParseCertificateDer(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!c) {
    ossl::LastError();
    return Status::BadRequest("unable to parse certificate");
  }
  return ossl::X509Ptr(c);
}

Result<std::vector<ossl::X509Ptr>> ParseCertificatesPem(const std::string& pem) {
  ERR_clear_error();
  std::vector<ossl::X509Ptr> out;
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (true) {
    X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!c) break;
    out.emplace_back(c);
  }
  ossl::LastError();
  return out;
}

Result<ossl::X509Ptr> ParseCertificatePem(const std::string& pem) {
  ASSIGN_OR_RETURN(auto certs, ParseCertificatesPem(pem));
  if (certs.empty()) return Status::BadRequest("unable to parse certificate: no PEM certificate found");
  return std::move(certs.front());
}

std::string CertificateDer(const X509* cert) {
  unsigned char* der = nullptr;
  int n = i2d_X509(const_cast<X509*>(cert), &der);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

std::string DerToPem(const std::string& der, const char* label) {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), label, "", reinterpret_cast<const unsigned char*>(der.data()),
                static_cast<long>(der.size()));
  std::string pem = ossl::BioContents(bio.get());
  while (!pem.empty() && pem.back() == '\n') pem.pop_back();
  return pem;
}

std::string CertificatePem(const X509* cert) { return DerToPem(CertificateDer(cert), "CERTIFICATE"); }

int64_t Asn1TimeToUnix(const ASN1_TIME* t) {
  struct tm tm;
  std::memset(&tm, 0, sizeof(tm));
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string SerialBytes(const X509* cert) {
  ossl::Bignum bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  std::string bytes(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  if (bytes.empty()) bytes.push_back('\0');
  return bytes;
}

CertInfo InspectCertificate(const X509* cert) {
  CertInfo info;
  info.serial = SerialBytes(cert);
  info.not_before = Asn1TimeToUnix(X509_get0_notBefore(cert));
  info.not_after = Asn1TimeToUnix(X509_get0_notAfter(cert));
  info.common_name = CommonNameOf(X509_get_subject_name(cert));
  info.subject_der = NameDer(X509_get_subject_name(cert));
  info.issuer_der = NameDer(X509_get_issuer_name(cert));
  X509* c = const_cast<X509*>(cert);
  info.is_ca = X509_check_ca(c) != 0 && (X509_get_extension_flags(c) & EXFLAG_CA);
  long pathlen = X509_get_pathlen(c);
  info.max_path_length = pathlen >= 0 ? static_cast<int>(pathlen) : -1;
  info.subject_key_id = KeyIdOf(cert);
  GENERAL_NAMES* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    CollectSans(sans, &info.dns_names, nullptr, nullptr, nullptr, nullptr);
    GENERAL_NAMES_free(sans);
  }
  return info;
}

CertDescription DescribeCertificate(const X509* cert) {
  CertDescription d;
  d.common_name = CommonNameOf(X509_get_subject_name(cert));
  {
    // RFC 2253/4514 escaping and order, but UTF-8 left as is (Go does not escape non-ASCII either).
    ossl::Bio bio(BIO_new(BIO_s_mem()));
    const unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    if (bio && X509_NAME_print_ex(bio.get(), X509_get_issuer_name(cert), 0, flags) >= 0) {
      d.issuer = ossl::BioContents(bio.get());
    }
  }
  d.key_type = "unknown";
  if (const EVP_PKEY* pub = X509_get0_pubkey(cert)) {
    auto key = InspectKey(pub);
    if (key.ok()) {
      d.key_type = KeyTypeName(key->type);
      d.key_bits = key->type == KeyType::kEd25519 ? 256 : key->bits;
    }
  }
  ERR_clear_error();  // an undecodable key leaves errors queued; the description says "unknown" instead
  d.not_before = Asn1TimeToUnix(X509_get0_notBefore(cert));
  d.not_after = Asn1TimeToUnix(X509_get0_notAfter(cert));
  GENERAL_NAMES* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    CollectSans(sans, &d.dns_names, &d.email_addresses, nullptr, &d.uris, nullptr);
    // IPs formatted by inet_ntop: the compressed IPv6 form Go, Python and most tools print.
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_IPADD) continue;
      const unsigned char* p = ASN1_STRING_get0_data(g->d.iPAddress);
      const int len = ASN1_STRING_length(g->d.iPAddress);
      char buf[INET6_ADDRSTRLEN];
      if ((len == 4 && inet_ntop(AF_INET, p, buf, sizeof(buf))) ||
          (len == 16 && inet_ntop(AF_INET6, p, buf, sizeof(buf)))) {
        d.ip_addresses.push_back(buf);
      }
    }
    GENERAL_NAMES_free(sans);
  } else {
    ERR_clear_error();
  }
  return d;
}

Result<CsrInfo> ParseCsrPem(const std::string& pem) {
  ERR_clear_error();
  if (pem.empty()) return Status::BadRequest("\"csr\" is empty");
  if (pem.find("-----BEGIN") == std::string::npos) return Status::BadRequest("csr contains no data");
  CsrInfo info;
  {
    // The DER of the first CSR block ("CERTIFICATE REQUEST" or the older "NEW CERTIFICATE REQUEST").
    ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_bytes_read_bio(&data, &len, nullptr, PEM_STRING_X509_REQ, bio.get(), nullptr, nullptr) == 1) {
      info.req = ParseVerifiedCsrFast(std::string(reinterpret_cast<char*>(data), static_cast<size_t>(len)),
                                      &info.public_key);
      OPENSSL_free(data);
    }
    ERR_clear_error();
  }
  if (!info.req) {  // OpenSSL's own path: keys and signatures the fast one leaves alone, and every refusal
    ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509_REQ* raw = PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr);
    if (!raw) {
      std::string why = ossl::LastError();
      return Status::BadRequest("certificate request could not be parsed: " + why);
    }
    info.req.reset(raw);
    EVP_PKEY* pub = X509_REQ_get_pubkey(raw);
    if (!pub) return Status::BadRequest("certificate request could not be parsed: no public key");
    info.public_key.reset(pub);
    if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA_PSS) {
      return Status::BadRequest(
          "Refusing to sign CSR with empty PublicKey. This usually means the SubjectPublicKeyInfo field has an OID "
          "not recognized by Go, such as 1.2.840.113549.1.1.10 for rsaPSS.");
    }
    if (X509_REQ_verify(raw, pub) != 1) {
      ossl::LastError();
      return Status::BadRequest("request signature invalid");
    }
  }
  X509_REQ* raw = info.req.get();
  const X509_NAME* subj = X509_REQ_get_subject_name(raw);
  for (int i = 0; i < X509_NAME_entry_count(subj); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(subj, i);
    char oid[128];
    const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(e);
    int nid = OBJ_obj2nid(obj);
    std::string key = nid != NID_undef ? OBJ_nid2sn(nid) : (OBJ_obj2txt(oid, sizeof(oid), obj, 1), oid);
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (n < 0) continue;
    info.subject.emplace_back(key, std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(n)));
    OPENSSL_free(utf8);
  }
  info.common_name = CommonNameOf(subj);
  info.extensions.reset(X509_REQ_get_extensions(raw));
  const ossl::ExtensionStack& exts = info.extensions;
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_subject_alt_name) {
      auto* names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
      if (!names) return Status::BadRequest("certificate request could not be parsed: bad subjectAltName");
      CollectSans(names, &info.dns_names, &info.email_addresses, &info.ip_addresses, &info.uris,
                  &info.other_names);
      GENERAL_NAMES_free(names);
    } else if (nid == NID_basic_constraints) {
      auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext));
      info.has_basic_constraints = true;
      if (bc) {
        info.basic_constraints_ca = bc->ca != 0;
        if (bc->pathlen) info.max_path_length = static_cast<int>(ASN1_INTEGER_get(bc->pathlen));
        BASIC_CONSTRAINTS_free(bc);
      }
    } else if (nid == NID_ext_key_usage) {
      auto* eku = static_cast<EXTENDED_KEY_USAGE*>(X509V3_EXT_d2i(ext));
      for (int j = 0; eku && j < sk_ASN1_OBJECT_num(eku); ++j) {
        char oid[128];
        OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, j), 1);
        info.ext_key_usage_oids.push_back(oid);
      }
      if (eku) sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    } else if (nid == NID_key_usage) {
      auto* ku = static_cast<ASN1_BIT_STRING*>(X509V3_EXT_d2i(ext));
      for (int bit = 0; ku && bit < 9; ++bit) {
        if (ASN1_BIT_STRING_get_bit(ku, bit)) info.key_usage |= 1 << bit;
      }
      if (ku) ASN1_BIT_STRING_free(ku);
    }
  }
  return info;
}

Result<std::string> CreateCsrPem(const CsrTemplate& t, const EVP_PKEY* key) {
  ossl::X509Req req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  ASSIGN_OR_RETURN(ossl::X509Name subject, BuildName(t.subject));
  X509_REQ_set_subject_name(req.get(), subject.get());
  X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(key));
  ossl::ExtensionStack exts(sk_X509_EXTENSION_new_null());
  ASSIGN_OR_RETURN(ossl::GeneralNames sans,
                   BuildSans(t.dns_names, t.email_addresses, t.ip_addresses, t.uris, t.other_names));
  if (sk_GENERAL_NAME_num(sans.get()) > 0) {
    sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_i2d(NID_subject_alt_name, 0, sans.get()));
  }
  if (t.add_basic_constraints) {
    BASIC_CONSTRAINTS* bc = BASIC_CONSTRAINTS_new();
    bc->ca = 0xFF;
    sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_i2d(NID_basic_constraints, 1, bc));
    BASIC_CONSTRAINTS_free(bc);
  }
  if (t.key_usage != 0) {
    ASN1_BIT_STRING* ku = ASN1_BIT_STRING_new();
    for (int bit = 0; bit < 9; ++bit) {
      if (t.key_usage & (1 << bit)) ASN1_BIT_STRING_set_bit(ku, bit, 1);
    }
    sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_i2d(NID_key_usage, 1, ku));
    ASN1_BIT_STRING_free(ku);
  }
  if (sk_X509_EXTENSION_num(exts.get()) > 0) X509_REQ_add_extensions(req.get(), exts.get());
  ossl::MdCtx md(EVP_MD_CTX_new());
  RETURN_IF_ERROR(InitSign(md.get(), key, 0, false));
  if (X509_REQ_sign_ctx(req.get(), md.get()) <= 0) return Status::Internal("CSR signing failed: " + ossl::LastError());
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  std::string pem = ossl::BioContents(bio.get());
  while (!pem.empty() && pem.back() == '\n') pem.pop_back();
  return pem;
}

std::string FormatRfc3339(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::string> HexDecode(const std::string& text) {
  std::string out;
  out.reserve(text.size() / 2);
  int high = -1;  // the first digit of a byte, while its second is awaited
  for (char c : text) {
    if (c == ':') continue;
    const int v = HexNibble(c);
    if (v < 0) return Status::BadRequest("invalid hex string: " + text);
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>((high << 4) | v));
      high = -1;
    }
  }
  if (out.empty() || high >= 0) return Status::BadRequest("invalid hex string: " + text);
  return out;
}

std::string Base64Encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> Base64Decode(const std::string& text) {
  std::string in;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) in.push_back(c);
  }
  if (in.size() % 4 != 0) return Status::BadRequest("invalid base64 data");
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return Status::BadRequest("invalid base64 data");
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string KeyIdentifier(const EVP_PKEY* key) {
  X509_PUBKEY* pub = nullptr;
  if (X509_PUBKEY_set(&pub, const_cast<EVP_PKEY*>(key)) != 1) return {};
  std::string id = KeyIdOfPubkey(pub);
  X509_PUBKEY_free(pub);
  return id;
}

Result<ossl::X509Ptr> ResignCertificate(const X509* cert, const X509* issuer, const EVP_PKEY* signer) {
  ossl::X509Ptr copy(X509_dup(const_cast<X509*>(cert)));
  if (!copy) return Status::Internal("copying the certificate failed");
  if (X509_set_issuer_name(copy.get(), X509_get_subject_name(issuer)) != 1) {
    return Status::Internal("setting the issuer name failed");
  }
  for (int idx = X509_get_ext_by_NID(copy.get(), NID_authority_key_identifier, -1); idx >= 0;
       idx = X509_get_ext_by_NID(copy.get(), NID_authority_key_identifier, -1)) {
    X509_EXTENSION_free(X509_delete_ext(copy.get(), idx));
  }
  RETURN_IF_ERROR(AddAuthorityKeyId(copy.get(), issuer));
  ossl::MdCtx md(EVP_MD_CTX_new());
  RETURN_IF_ERROR(InitSigning(md.get(), signer, 0, false));
  if (X509_sign_ctx(copy.get(), md.get()) <= 0) {
    ossl::LastError();
    return Status::Internal("signing the certificate failed");
  }
  return copy;
}

}  // namespace pki
