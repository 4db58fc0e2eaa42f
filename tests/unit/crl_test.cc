// The streaming CRL encoder (src/crypto/crl.h), checked against OpenSSL's own CRL parser and the openssl CLI.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "src/crypto/crl.h"
#include "src/crypto/keys.h"
#include "src/crypto/x509.h"

namespace pki {
namespace {

using CrlPtr = std::unique_ptr<X509_CRL, ossl::Deleter<X509_CRL, X509_CRL_free>>;

constexpr int64_t kThisUpdate = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int64_t kNextUpdate = kThisUpdate + 72 * 3600;

struct TestCa {
  ossl::PKey key;
  ossl::X509Ptr cert;  // as SignCertificate returns it (EC and Ed25519 keys not decoded)
};

TestCa MakeCa(KeyType type, int bits, int signature_bits = 0, bool use_pss = false) {
  TestCa ca;
  ca.key = std::move(GenerateKey(type, bits).value());
  CertTemplate t;
  t.subject = {{"O", "Crl Test"}, {"CN", std::string("CRL CA ") + KeyTypeName(type)}};
  t.serial = RandomSerial().value();
  t.not_before = kThisUpdate - 86400;
  t.not_after = kThisUpdate + 365 * 86400;
  t.public_key = ca.key.get();
  t.is_ca = true;
  t.key_usage = KeyUsageMask({"CertSign", "CRLSign"});
  t.signature_bits = signature_bits;
  t.use_pss = use_pss;
  auto cert = SignCertificate(t, nullptr, ca.key.get());
  EXPECT_TRUE(cert.ok()) << cert.status().message();
  ca.cert = std::move(cert).value();
  return ca;
}

CrlParams ParamsFor(const TestCa& ca, uint64_t number = 5) {
  CrlParams p;
  p.issuer = ca.cert.get();
  p.key = ca.key.get();
  p.number = number;
  p.this_update = kThisUpdate;
  p.next_update = kNextUpdate;
  return p;
}

// Hands out `all` in batches of `batch`.
CrlEntrySource VectorSource(std::vector<CrlEntry> all, size_t batch = 2) {
  auto next = std::make_shared<size_t>(0);
  auto entries = std::make_shared<std::vector<CrlEntry>>(std::move(all));
  return [=](std::vector<CrlEntry>* out) -> Result<bool> {
    for (size_t n = 0; n < batch && *next < entries->size(); ++n) out->push_back((*entries)[(*next)++]);
    return *next < entries->size();
  };
}

// Serial i: 20 bytes, 0x40 then zeros then i big-endian: distinct, positive, high bit clear (22-byte INTEGERs).
std::string CountingSerial(uint64_t i) {
  std::string s(20, '\0');
  s[0] = 0x40;
  for (int b = 0; b < 8; ++b) s[19 - b] = static_cast<char>((i >> (8 * b)) & 0xff);
  return s;
}

// Generates `n` entries on the fly (so a large test holds no list of them), `batch` at a time.
CrlEntrySource CountingSource(size_t n, size_t batch) {
  auto next = std::make_shared<size_t>(0);
  return [=](std::vector<CrlEntry>* out) -> Result<bool> {
    for (size_t k = 0; k < batch && *next < n; ++k, ++*next) {
      out->push_back({CountingSerial(*next), kThisUpdate - static_cast<int64_t>(*next % 86400), -1});
    }
    return *next < n;
  };
}

CrlPtr ParseCrl(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_TRUE(crl) << "d2i_X509_CRL failed";
  if (crl) {
    EXPECT_EQ(p, reinterpret_cast<const unsigned char*>(der.data()) + der.size()) << "trailing bytes";
  }
  return crl;
}

std::string Bytes(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string SerialBytes(const ASN1_INTEGER* serial) {
  ossl::Bignum bn(ASN1_INTEGER_to_BN(serial, nullptr));
  std::string out(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

// An integer-valued CRL extension (CRL Number, Delta CRL Indicator); -1 when absent.
int64_t IntegerExtension(const X509_CRL* crl, int nid, int* critical) {
  auto* value = static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, nid, critical, nullptr));
  if (!value) return -1;
  uint64_t v = 0;
  EXPECT_EQ(ASN1_INTEGER_get_uint64(&v, value), 1);
  ASN1_INTEGER_free(value);
  return static_cast<int64_t>(v);
}

std::string AuthorityKeyIdOf(const X509_CRL* crl) {
  auto* akid = static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, nullptr, nullptr));
  if (!akid) return {};
  std::string id = akid->keyid ? Bytes(akid->keyid) : std::string();
  AUTHORITY_KEYID_free(akid);
  return id;
}

int ReasonOf(const X509_REVOKED* revoked) {
  auto* reason = static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(revoked, NID_crl_reason, nullptr, nullptr));
  if (!reason) return -1;
  int r = static_cast<int>(ASN1_ENUMERATED_get(reason));
  ASN1_ENUMERATED_free(reason);
  return r;
}

// One DER TLV: its identifier octet and content.
struct Tlv {
  unsigned char id;
  const unsigned char* content;
  long length;
};

// The TLVs that follow one another in [p, p + len).
std::vector<Tlv> ReadTlvs(const unsigned char* p, long len) {
  std::vector<Tlv> out;
  const unsigned char* end = p + len;
  while (p < end) {
    Tlv t{*p, nullptr, 0};
    int tag = 0, cls = 0;
    if (ASN1_get_object(&p, &t.length, &tag, &cls, end - p) & 0x80) {
      ADD_FAILURE() << "malformed DER";
      return out;
    }
    t.content = p;
    p += t.length;
    out.push_back(t);
  }
  return out;
}

// The tbsCertList TLV of a DER CertificateList.
Tlv TbsOf(const std::string& der) {
  auto outer = ReadTlvs(reinterpret_cast<const unsigned char*>(der.data()), static_cast<long>(der.size()));
  if (outer.size() != 1) return {0, nullptr, 0};
  auto fields = ReadTlvs(outer[0].content, outer[0].length);
  EXPECT_EQ(fields.size(), 3u);  // tbsCertList, signatureAlgorithm, signatureValue
  return fields.empty() ? Tlv{0, nullptr, 0} : fields[0];
}

// The length of the signatureValue BIT STRING's contents.
size_t SignatureLength(const std::string& der) {
  auto outer = ReadTlvs(reinterpret_cast<const unsigned char*>(der.data()), static_cast<long>(der.size()));
  return static_cast<size_t>(ReadTlvs(outer.at(0).content, outer.at(0).length).at(2).length);
}

// The identifier octets of the tbsCertList's fields, in order.
std::vector<unsigned char> TbsFieldIds(const std::string& der) {
  Tlv tbs = TbsOf(der);
  std::vector<unsigned char> ids;
  for (const Tlv& t : ReadTlvs(tbs.content, tbs.length)) ids.push_back(t.id);
  return ids;
}

// The contents of tbsCertList.signature and of CertificateList.signatureAlgorithm.
std::pair<std::string, std::string> SignatureAlgorithmFields(const std::string& der) {
  auto content = [](const Tlv& t) {
    return std::string(reinterpret_cast<const char*>(t.content), static_cast<size_t>(t.length));
  };
  auto outer = ReadTlvs(reinterpret_cast<const unsigned char*>(der.data()), static_cast<long>(der.size()));
  auto fields = ReadTlvs(outer.at(0).content, outer.at(0).length);
  auto tbs_fields = ReadTlvs(fields.at(0).content, fields.at(0).length);
  return {content(tbs_fields.at(1)), content(fields.at(1))};
}

// Runs `openssl crl` on the DER CRL with the CA as trust anchor; returns its combined output, or "" on failure.
std::string OpenSslVerify(const std::string& der, const X509* ca) {
  static int counter = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("crl_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "x.crl", std::ios::binary) << der;
  std::ofstream(dir / "ca.pem") << CertificatePem(ca) << "\n";
  std::string cmd = "openssl crl -inform DER -in '" + (dir / "x.crl").string() + "' -CAfile '" +
                    (dir / "ca.pem").string() + "' -noout 2>&1";
  std::string output;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return "";
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  int status = pclose(pipe);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(status, 0) << output;
  return output;
}

// What every CRL must satisfy, whatever its contents.
void ExpectWellFormed(const std::string& der, const X509_CRL* crl, const TestCa& ca, const CrlParams& params) {
  EXPECT_EQ(X509_CRL_get_version(crl), 1);  // v2
  EXPECT_EQ(X509_CRL_verify(const_cast<X509_CRL*>(crl), ca.key.get()), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca.cert.get())), 0);
  EXPECT_EQ(Asn1TimeToUnix(X509_CRL_get0_lastUpdate(crl)), params.this_update);
  EXPECT_EQ(Asn1TimeToUnix(X509_CRL_get0_nextUpdate(crl)), params.next_update);
  int critical = -1;
  EXPECT_EQ(IntegerExtension(crl, NID_crl_number, &critical), static_cast<int64_t>(params.number));
  EXPECT_EQ(critical, 0);
  EXPECT_EQ(AuthorityKeyIdOf(crl), InspectCertificate(ca.cert.get()).subject_key_id);
  // The CRL carries the same signature algorithm (PSS parameters included) as the CA's self-signature made with
  // the same settings, and the inner and outer algorithm fields agree.
  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* crl_alg = nullptr;
  const X509_ALGOR* cert_alg = nullptr;
  X509_CRL_get0_signature(crl, &sig, &crl_alg);
  X509_get0_signature(&sig, &cert_alg, ca.cert.get());
  EXPECT_EQ(X509_ALGOR_cmp(crl_alg, cert_alg), 0);
  auto [inner_alg, outer_alg] = SignatureAlgorithmFields(der);
  EXPECT_EQ(inner_alg, outer_alg);
}

std::vector<CrlEntry> SampleEntries() {
  std::string high_bit(20, '\x11');
  high_bit[0] = static_cast<char>(0x80);  // needs a 0x00 pad in the INTEGER
  return {
      {std::string("\x01", 1), kThisUpdate - 10, -1},
      {high_bit, kThisUpdate - 20, 1},                 // keyCompromise
      {CountingSerial(7), kThisUpdate - 30, 0},        // unspecified, written because asked
      {RandomSerial().value(), kThisUpdate - 40, 10},  // aACompromise
      {std::string("\xff", 1), kThisUpdate - 50, -1},
  };
}

TEST(Crl, RoundTripsForEveryKeyType) {
  struct Case {
    KeyType type;
    int bits;
    int signature_bits;
    bool use_pss;
    int signature_nid;
  } cases[] = {
      {KeyType::kRsa, 2048, 0, false, NID_sha256WithRSAEncryption},
      {KeyType::kRsa, 2048, 384, false, NID_sha384WithRSAEncryption},
      {KeyType::kRsa, 2048, 0, true, NID_rsassaPss},
      {KeyType::kRsa, 2048, 512, true, NID_rsassaPss},
      {KeyType::kEc, 256, 0, false, NID_ecdsa_with_SHA256},
      {KeyType::kEc, 384, 0, false, NID_ecdsa_with_SHA384},
      {KeyType::kEd25519, 0, 0, false, NID_ED25519},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(KeyTypeName(c.type)) + " " + std::to_string(c.bits) + " sig " +
                 std::to_string(c.signature_bits) + (c.use_pss ? " pss" : ""));
    TestCa ca = MakeCa(c.type, c.bits, c.signature_bits, c.use_pss);
    CrlParams params = ParamsFor(ca, 42);
    params.signature_bits = c.signature_bits;
    params.use_pss = c.use_pss;
    std::vector<CrlEntry> entries = SampleEntries();
    auto der = BuildCrlDer(params, VectorSource(entries));
    ASSERT_TRUE(der.ok()) << der.status().message();
    CrlPtr crl = ParseCrl(*der);
    ASSERT_TRUE(crl);
    ExpectWellFormed(*der, crl.get(), ca, params);
    EXPECT_EQ(X509_CRL_get_signature_nid(crl.get()), c.signature_nid);
    EXPECT_EQ(X509_CRL_get_ext_by_NID(crl.get(), NID_delta_crl, -1), -1);
    EXPECT_EQ(X509_CRL_get_ext_by_NID(crl.get(), NID_freshest_crl, -1), -1);
    EXPECT_EQ(X509_CRL_get_ext_count(crl.get()), 2);  // AKID and CRL Number

    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
    ASSERT_EQ(sk_X509_REVOKED_num(revoked), static_cast<int>(entries.size()));
    for (size_t i = 0; i < entries.size(); ++i) {
      const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, static_cast<int>(i));
      EXPECT_EQ(SerialBytes(X509_REVOKED_get0_serialNumber(r)), entries[i].serial) << i;
      EXPECT_EQ(Asn1TimeToUnix(X509_REVOKED_get0_revocationDate(r)), entries[i].revocation_time) << i;
      EXPECT_EQ(ReasonOf(r), entries[i].reason) << i;
      EXPECT_EQ(X509_REVOKED_get_ext_count(r), entries[i].reason == -1 ? 0 : 1) << i;
    }
    EXPECT_NE(OpenSslVerify(*der, ca.cert.get()).find("verify OK"), std::string::npos);
  }
}

TEST(Crl, HighBitSerialIsPaddedAndLeadingZerosAreDropped) {
  TestCa ca = MakeCa(KeyType::kEc, 256);
  std::string high_bit("\x80\x00\x00\x01", 4);
  auto der = BuildCrlDer(ParamsFor(ca), VectorSource({{high_bit, kThisUpdate, -1},
                                                      {std::string("\x00\x00\x05", 3), kThisUpdate, -1}}));
  ASSERT_TRUE(der.ok()) << der.status().message();
  CrlPtr crl = ParseCrl(*der);
  ASSERT_TRUE(crl);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 2);
  const ASN1_INTEGER* first = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, 0));
  EXPECT_EQ(ASN1_STRING_type(first), V_ASN1_INTEGER);  // positive
  EXPECT_EQ(SerialBytes(first), high_bit);
  EXPECT_NE(der->find(std::string("\x02\x05\x00\x80\x00\x00\x01", 7)), std::string::npos);
  EXPECT_EQ(SerialBytes(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, 1))), "\x05");
  EXPECT_NE(der->find(std::string("\x02\x01\x05", 3)), std::string::npos);  // minimal INTEGER
}

TEST(Crl, EmptyCrlOmitsRevokedCertificates) {
  TestCa ca = MakeCa(KeyType::kEc, 256);
  CrlParams params = ParamsFor(ca, 1);
  // A source that yields an empty batch, and no source at all, both give an empty CRL.
  for (const CrlEntrySource& source : {VectorSource({}), CrlEntrySource()}) {
    auto der = BuildCrlDer(params, source);
    ASSERT_TRUE(der.ok()) << der.status().message();
    // version, signature, issuer, thisUpdate, nextUpdate, [0] crlExtensions: no revokedCertificates SEQUENCE.
    EXPECT_EQ(TbsFieldIds(*der), (std::vector<unsigned char>{0x02, 0x30, 0x30, 0x17, 0x17, 0xA0}));
    CrlPtr crl = ParseCrl(*der);
    ASSERT_TRUE(crl);
    ExpectWellFormed(*der, crl.get(), ca, params);
    EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), -1);  // absent, not empty
    EXPECT_NE(OpenSslVerify(*der, ca.cert.get()).find("verify OK"), std::string::npos);
  }
  auto der = BuildCrlDer(params, VectorSource({{"\x01", kThisUpdate, -1}}));
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(TbsFieldIds(*der), (std::vector<unsigned char>{0x02, 0x30, 0x30, 0x17, 0x17, 0x30, 0xA0}));
}

TEST(Crl, EmptyBatchesMidStreamDoNotEndTheStream) {
  TestCa ca = MakeCa(KeyType::kEd25519, 0);
  int calls = 0;
  CrlEntrySource source = [&](std::vector<CrlEntry>* out) -> Result<bool> {
    ++calls;
    if (calls == 2 || calls == 4) out->push_back({CountingSerial(static_cast<uint64_t>(calls)), kThisUpdate, -1});
    return calls < 5;
  };
  auto der = BuildCrlDer(ParamsFor(ca), source);
  ASSERT_TRUE(der.ok()) << der.status().message();
  EXPECT_EQ(calls, 5);
  CrlPtr crl = ParseCrl(*der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), 2);
}

TEST(Crl, DeltaCarriesCriticalIndicatorAndCompleteCarriesFreshest) {
  TestCa ca = MakeCa(KeyType::kEc, 256);
  CrlParams delta = ParamsFor(ca, 9);
  delta.delta_base = 7;
  auto delta_der = BuildCrlDer(delta, VectorSource({{"\x2a", kThisUpdate - 5, 4}}));
  ASSERT_TRUE(delta_der.ok()) << delta_der.status().message();
  CrlPtr delta_crl = ParseCrl(*delta_der);
  ASSERT_TRUE(delta_crl);
  ExpectWellFormed(*delta_der, delta_crl.get(), ca, delta);
  int critical = -1;
  EXPECT_EQ(IntegerExtension(delta_crl.get(), NID_delta_crl, &critical), 7);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(X509_CRL_get_ext_by_NID(delta_crl.get(), NID_freshest_crl, -1), -1);
  EXPECT_NE(OpenSslVerify(*delta_der, ca.cert.get()).find("verify OK"), std::string::npos);

  CrlParams complete = ParamsFor(ca, 8);
  complete.freshest_crl_urls = {"http://pki.test/v1/pki/crl/delta", "http://backup.test/delta.crl"};
  auto complete_der = BuildCrlDer(complete, VectorSource({}));
  ASSERT_TRUE(complete_der.ok()) << complete_der.status().message();
  CrlPtr complete_crl = ParseCrl(*complete_der);
  ASSERT_TRUE(complete_crl);
  ExpectWellFormed(*complete_der, complete_crl.get(), ca, complete);
  EXPECT_EQ(X509_CRL_get_ext_by_NID(complete_crl.get(), NID_delta_crl, -1), -1);
  critical = -1;
  auto* points = static_cast<CRL_DIST_POINTS*>(
      X509_CRL_get_ext_d2i(complete_crl.get(), NID_freshest_crl, &critical, nullptr));
  ASSERT_NE(points, nullptr);
  EXPECT_EQ(critical, 0);
  std::vector<std::string> urls;
  for (int i = 0; i < sk_DIST_POINT_num(points); ++i) {
    const DIST_POINT* point = sk_DIST_POINT_value(points, i);
    ASSERT_TRUE(point->distpoint && point->distpoint->type == 0);
    for (int j = 0; j < sk_GENERAL_NAME_num(point->distpoint->name.fullname); ++j) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(point->distpoint->name.fullname, j);
      ASSERT_EQ(name->type, GEN_URI);
      urls.push_back(Bytes(name->d.uniformResourceIdentifier));
    }
  }
  CRL_DIST_POINTS_free(points);
  EXPECT_EQ(urls, complete.freshest_crl_urls);
  EXPECT_NE(OpenSslVerify(*complete_der, ca.cert.get()).find("verify OK"), std::string::npos);
}

TEST(Crl, TimesFrom2050UseGeneralizedTime) {
  TestCa ca = MakeCa(KeyType::kEc, 256);
  constexpr int64_t kLast2049 = 2524607999;  // 2049-12-31T23:59:59Z
  constexpr int64_t kFirst2050 = 2524608000;
  CrlParams params = ParamsFor(ca);
  params.this_update = kLast2049;
  params.next_update = kFirst2050;
  auto der = BuildCrlDer(params, VectorSource({{"\x01", kLast2049, -1}, {"\x02", kFirst2050 + 3600, -1}}));
  ASSERT_TRUE(der.ok()) << der.status().message();
  CrlPtr crl = ParseCrl(*der);
  ASSERT_TRUE(crl);
  ExpectWellFormed(*der, crl.get(), ca, params);
  EXPECT_EQ(ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl.get())), V_ASN1_UTCTIME);
  EXPECT_EQ(ASN1_STRING_type(X509_CRL_get0_nextUpdate(crl.get())), V_ASN1_GENERALIZEDTIME);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 2);
  const ASN1_TIME* before = X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(revoked, 0));
  const ASN1_TIME* after = X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(revoked, 1));
  EXPECT_EQ(ASN1_STRING_type(before), V_ASN1_UTCTIME);
  EXPECT_EQ(ASN1_STRING_type(after), V_ASN1_GENERALIZEDTIME);
  EXPECT_EQ(Asn1TimeToUnix(after), kFirst2050 + 3600);
  EXPECT_EQ(TbsFieldIds(*der), (std::vector<unsigned char>{0x02, 0x30, 0x30, 0x17, 0x18, 0x30, 0xA0}));
}

TEST(Crl, AuthorityKeyIdFallsBackToKeyHashWithoutSkid) {
  TestCa ca = MakeCa(KeyType::kEc, 256);
  // Strip the SKID and re-sign; the DER round trip drops OpenSSL's cached extension data.
  int skid = X509_get_ext_by_NID(ca.cert.get(), NID_subject_key_identifier, -1);
  ASSERT_GE(skid, 0);
  X509_EXTENSION_free(X509_delete_ext(ca.cert.get(), skid));
  ASSERT_GT(X509_sign(ca.cert.get(), ca.key.get(), EVP_sha256()), 0);
  ca.cert = std::move(ParseCertificateDer(CertificateDer(ca.cert.get())).value());
  ASSERT_EQ(X509_get0_subject_key_id(ca.cert.get()), nullptr);

  auto der = BuildCrlDer(ParamsFor(ca), VectorSource({}));
  ASSERT_TRUE(der.ok()) << der.status().message();
  CrlPtr crl = ParseCrl(*der);
  ASSERT_TRUE(crl);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  ASSERT_EQ(X509_pubkey_digest(ca.cert.get(), EVP_sha1(), md, &md_len), 1);  // RFC 5280 method 1
  EXPECT_EQ(AuthorityKeyIdOf(crl.get()), std::string(reinterpret_cast<char*>(md), md_len));
  EXPECT_EQ(X509_CRL_verify(crl.get(), ca.key.get()), 1);
}

TEST(Crl, RejectsBadInputAndPassesSourceErrorsThrough) {
  TestCa ca = MakeCa(KeyType::kEc, 256);
  TestCa other = MakeCa(KeyType::kEc, 256);
  auto code = [](const Result<std::string>& r) { return r.status().code(); };

  EXPECT_EQ(code(BuildCrlDer(ParamsFor(ca), VectorSource({{"", kThisUpdate, -1}}))), StatusCode::kBadRequest);
  for (int reason : {7, 11, -2}) {
    EXPECT_EQ(code(BuildCrlDer(ParamsFor(ca), VectorSource({{"\x01", kThisUpdate, reason}}))),
              StatusCode::kBadRequest)
        << reason;
  }
  CrlParams mismatched = ParamsFor(ca);
  mismatched.key = other.key.get();
  EXPECT_EQ(code(BuildCrlDer(mismatched, VectorSource({}))), StatusCode::kBadRequest);
  CrlParams no_issuer = ParamsFor(ca);
  no_issuer.issuer = nullptr;
  EXPECT_EQ(code(BuildCrlDer(no_issuer, VectorSource({}))), StatusCode::kBadRequest);
  CrlParams stale_delta = ParamsFor(ca, 7);
  stale_delta.delta_base = 7;
  EXPECT_EQ(code(BuildCrlDer(stale_delta, VectorSource({}))), StatusCode::kBadRequest);
  CrlParams delta_with_freshest = ParamsFor(ca, 8);
  delta_with_freshest.delta_base = 7;
  delta_with_freshest.freshest_crl_urls = {"http://x.test/delta"};
  EXPECT_EQ(code(BuildCrlDer(delta_with_freshest, VectorSource({}))), StatusCode::kBadRequest);
  CrlParams bad_bits = ParamsFor(ca);
  TestCa rsa = MakeCa(KeyType::kRsa, 2048);
  bad_bits.issuer = rsa.cert.get();
  bad_bits.key = rsa.key.get();
  bad_bits.signature_bits = 123;
  EXPECT_EQ(code(BuildCrlDer(bad_bits, VectorSource({}))), StatusCode::kBadRequest);

  int calls = 0;
  CrlEntrySource failing = [&](std::vector<CrlEntry>* out) -> Result<bool> {
    if (++calls == 2) return Status::Internal("storage went away");
    out->push_back({"\x01", kThisUpdate, -1});
    return true;
  };
  auto failed = BuildCrlDer(ParamsFor(ca), failing);
  EXPECT_EQ(code(failed), StatusCode::kInternal);
  EXPECT_EQ(failed.status().message(), "storage went away");
}

// 200k entries stream through, parse with OpenSSL and the CLI, and cost exactly their encoded size.
TEST(Crl, TwoHundredThousandEntries) {
  constexpr size_t kEntries = 200000;
  constexpr size_t kEntrySize = 2 + 22 + 15;  // SEQUENCE { INTEGER (20 bytes), UTCTime }
  constexpr size_t kRevokedHeader = 5;        // 30 83 xx xx xx: 7.8 MB needs three length octets
  TestCa ca = MakeCa(KeyType::kEc, 256);
  CrlParams params = ParamsFor(ca, 1000);

  auto empty = BuildCrlDer(params, VectorSource({}));
  auto der = BuildCrlDer(params, CountingSource(kEntries, 4096));
  ASSERT_TRUE(empty.ok() && der.ok()) << der.status().message();
  EXPECT_EQ(static_cast<size_t>(TbsOf(*der).length),
            static_cast<size_t>(TbsOf(*empty).length) + kRevokedHeader + kEntries * kEntrySize);
  // The TBS and CertificateList headers each take two more length octets; ECDSA signatures vary in length.
  EXPECT_EQ(der->size() - SignatureLength(*der),
            empty->size() - SignatureLength(*empty) + kRevokedHeader + kEntries * kEntrySize + 2 + 2);

  CrlPtr crl = ParseCrl(*der);
  ASSERT_TRUE(crl);
  ExpectWellFormed(*der, crl.get(), ca, params);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), static_cast<int>(kEntries));
  for (size_t i : {size_t{0}, kEntries / 2, kEntries - 1}) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, static_cast<int>(i));
    EXPECT_EQ(SerialBytes(X509_REVOKED_get0_serialNumber(r)), CountingSerial(i));
    EXPECT_EQ(Asn1TimeToUnix(X509_REVOKED_get0_revocationDate(r)), kThisUpdate - static_cast<int64_t>(i % 86400));
  }
  EXPECT_NE(OpenSslVerify(*der, ca.cert.get()).find("verify OK"), std::string::npos);
}

long PeakRssKb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // kilobytes on Linux
}

// For a human: --gtest_also_run_disabled_tests --gtest_filter=CrlBenchmark.*
// Peak RSS is the process's high-water mark, so the run with the size hint (the lower peak) goes first.
TEST(CrlBenchmark, DISABLED_BuildOneMillion) {
  constexpr size_t kEntries = 1000000;
  TestCa ca = MakeCa(KeyType::kEc, 256);
  std::string der;
  for (size_t hint : {kEntries, size_t{0}}) {
    CrlParams params = ParamsFor(ca, 1);
    params.expected_entries = hint;
    std::string().swap(der);  // the previous run's CRL must not count against this one
    long rss_before = PeakRssKb();
    auto start = std::chrono::steady_clock::now();
    auto built = BuildCrlDer(params, CountingSource(kEntries, 10000));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    long rss_after = PeakRssKb();
    ASSERT_TRUE(built.ok()) << built.status().message();
    std::printf("BuildCrlDer, %zu entries, EC P-256, expected_entries=%zu: %.3f s, CRL %.1f MB, "
                "peak RSS %.1f MB (%.1f MB before)\n",
                kEntries, hint, seconds, static_cast<double>(built->size()) / 1e6,
                static_cast<double>(rss_after) / 1024, static_cast<double>(rss_before) / 1024);
    der = std::move(built).value();
  }
  // Checked after the measurements: OpenSSL's parser holds the whole CRL decoded.
  CrlPtr crl = ParseCrl(der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), static_cast<int>(kEntries));
  EXPECT_EQ(X509_CRL_verify(crl.get(), ca.key.get()), 1);
}

}  // namespace
}  // namespace pki
