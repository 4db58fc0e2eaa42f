// The OCSP codec: requests built by OpenSSL parse into ids that name the right issuer, and responses we build verify
// with OpenSSL's own client code (and with the `openssl ocsp` tool) for RSA, RSA-PSS, EC and Ed25519 issuers.
#include "src/crypto/ocsp.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"

namespace pki {
namespace {

// Borrowing stack (the certificates stay owned elsewhere) and trust store, for OCSP_basic_verify.
void FreeX509Stack(STACK_OF(X509)* s) { sk_X509_free(s); }
using X509Stack = std::unique_ptr<STACK_OF(X509), ossl::Deleter<STACK_OF(X509), FreeX509Stack>>;
using X509Store = std::unique_ptr<X509_STORE, ossl::Deleter<X509_STORE, X509_STORE_free>>;

// Chain verification inside OCSP_basic_verify uses the real clock, so certificates are valid around now.
const int64_t kNow = static_cast<int64_t>(std::time(nullptr));

struct TestCa {
  ossl::PKey key;
  ossl::X509Ptr issued;  // as SignCertificate returns it (EC and Ed25519 keys not decoded)
  ossl::X509Ptr cert;    // re-parsed from DER, as the engine reads it from storage
};

TestCa MakeCa(KeyType type, int bits, const std::string& cn) {
  TestCa ca;
  ca.key = std::move(GenerateKey(type, bits).value());
  CertTemplate t;
  t.subject = {{"CN", cn}};
  t.serial = RandomSerial().value();
  t.not_before = kNow - 3600;
  t.not_after = kNow + 86400;
  t.public_key = ca.key.get();
  t.is_ca = true;
  t.basic_constraints = true;
  t.key_usage = KeyUsageMask({"CertSign", "CRLSign", "DigitalSignature"});
  ca.issued = std::move(SignCertificate(t, nullptr, ca.key.get()).value());
  ca.cert = std::move(ParseCertificateDer(CertificateDer(ca.issued.get())).value());
  return ca;
}

ossl::X509Ptr MakeLeaf(const TestCa& ca, const std::string& cn) {
  static ossl::PKey leaf_key = std::move(GenerateKey(KeyType::kEc, 256).value());
  CertTemplate t;
  t.subject = {{"CN", cn}};
  t.serial = RandomSerial().value();
  t.not_before = kNow - 60;
  t.not_after = kNow + 3600;
  t.public_key = leaf_key.get();
  t.dns_names = {cn};
  t.key_usage = KeyUsageMask({"DigitalSignature"});
  auto leaf = SignCertificate(t, ca.cert.get(), ca.key.get());
  return std::move(ParseCertificateDer(CertificateDer(leaf.value().get())).value());
}

std::string RequestToDer(const OCSP_REQUEST* req) {
  unsigned char* der = nullptr;
  int len = i2d_OCSP_REQUEST(req, &der);
  std::string out(reinterpret_cast<char*>(der), len > 0 ? static_cast<size_t>(len) : 0);
  OPENSSL_free(der);
  return out;
}

// A request for `leaves` issued by `issuer`; leaf i is hashed with hashes[i % hashes.size()].
ossl::OcspRequest MakeRequest(const std::vector<const X509*>& leaves, const X509* issuer,
                              const std::vector<const EVP_MD*>& hashes, bool nonce) {
  ossl::OcspRequest req(OCSP_REQUEST_new());
  for (size_t i = 0; i < leaves.size(); ++i) {
    OCSP_CERTID* id = OCSP_cert_to_id(hashes[i % hashes.size()], leaves[i], issuer);
    EXPECT_NE(OCSP_request_add0_id(req.get(), id), nullptr);
  }
  if (nonce) {
    EXPECT_EQ(OCSP_request_add1_nonce(req.get(), nullptr, -1), 1);
  }
  return req;
}

ossl::OcspBasicResp DecodeSuccessful(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::OcspResponse resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_TRUE(resp);
  if (!resp) return nullptr;
  EXPECT_EQ(OCSP_response_status(resp.get()), OCSP_RESPONSE_STATUS_SUCCESSFUL);
  return ossl::OcspBasicResp(OCSP_response_get1_basic(resp.get()));
}

// OpenSSL's strict check: signature, chain to a trusted CA, and that CA issued every certificate answered.
int VerifyTrustingCa(OCSP_BASICRESP* bs, X509* ca, unsigned long flags = 0) {
  X509Stack certs(sk_X509_new_null());
  sk_X509_push(certs.get(), ca);
  X509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca);
  int ok = OCSP_basic_verify(bs, certs.get(), store.get(), flags);
  ERR_clear_error();
  return ok;
}

struct FoundStatus {
  bool found = false;
  int status = -1;
  int reason = -2;
  int64_t revoked_at = 0;
  int64_t this_update = 0;
  bool has_next_update = false;
  int64_t next_update = 0;
};

FoundStatus FindStatus(OCSP_BASICRESP* bs, const EVP_MD* md, const X509* leaf, const X509* ca) {
  ossl::OcspCertIdPtr id(OCSP_cert_to_id(md, leaf, ca));
  FoundStatus f;
  ASN1_GENERALIZEDTIME *rev = nullptr, *thisupd = nullptr, *nextupd = nullptr;
  f.found = OCSP_resp_find_status(bs, id.get(), &f.status, &f.reason, &rev, &thisupd, &nextupd) == 1;
  if (rev) f.revoked_at = Asn1TimeToUnix(rev);
  if (thisupd) f.this_update = Asn1TimeToUnix(thisupd);
  f.has_next_update = nextupd != nullptr;
  if (nextupd) f.next_update = Asn1TimeToUnix(nextupd);
  return f;
}

std::string Sha1(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

// ---- Parsing ----

TEST(OcspParse, ReadsIdsSerialsHashesAndNonce) {
  TestCa ca = MakeCa(KeyType::kEc, 256, "OCSP Parse CA");
  TestCa other = MakeCa(KeyType::kEc, 256, "Other CA");
  TestCa twin = MakeCa(KeyType::kEc, 256, "OCSP Parse CA");  // same subject, different key (a rotated issuer)
  std::vector<ossl::X509Ptr> leaves;
  for (int i = 0; i < 3; ++i) leaves.push_back(MakeLeaf(ca, "leaf" + std::to_string(i) + ".test"));

  for (const EVP_MD* md : {EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()}) {
    for (size_t n : {size_t{1}, size_t{3}}) {
      for (bool nonce : {false, true}) {
        SCOPED_TRACE(std::string(EVP_MD_get0_name(md)) + " n=" + std::to_string(n) + " nonce=" +
                     std::to_string(nonce));
        std::vector<const X509*> subjects;
        for (size_t i = 0; i < n; ++i) subjects.push_back(leaves[i].get());
        auto req = MakeRequest(subjects, ca.cert.get(), {md}, nonce);
        auto info = ParseOcspRequest(RequestToDer(req.get()));
        ASSERT_TRUE(info.ok()) << info.status().message();
        ASSERT_EQ(info->ids.size(), n);
        for (size_t i = 0; i < n; ++i) {
          const OcspCertId& id = info->ids[i];
          EXPECT_EQ(EVP_MD_get_type(id.hash), EVP_MD_get_type(md));
          EXPECT_EQ(id.issuer_name_hash.size(), static_cast<size_t>(EVP_MD_get_size(md)));
          EXPECT_EQ(id.serial, InspectCertificate(leaves[i].get()).serial);
          ASSERT_TRUE(id.raw);
          EXPECT_TRUE(CertIdMatchesIssuer(id, ca.cert.get()));
          EXPECT_TRUE(CertIdMatchesIssuer(id, ca.issued.get()));  // key bits need no decoded key
          EXPECT_FALSE(CertIdMatchesIssuer(id, other.cert.get()));
          EXPECT_FALSE(CertIdMatchesIssuer(id, twin.cert.get()));
          EXPECT_FALSE(CertIdMatchesIssuer(id, leaves[i].get()));
        }
        ASSERT_EQ(info->nonce.has_value(), nonce);
        if (nonce) {
          // OpenSSL's default nonce: an OCTET STRING of 16 random bytes inside extnValue.
          EXPECT_EQ(info->nonce->size(), 18u);
          EXPECT_EQ((*info->nonce)[0], '\x04');
        }
      }
    }
  }
}

TEST(OcspParse, AcceptsSignedRequestsAndRawNonces) {
  TestCa ca = MakeCa(KeyType::kEc, 256, "Signed Request CA");
  auto leaf = MakeLeaf(ca, "signed.test");
  auto req = MakeRequest({leaf.get()}, ca.cert.get(), {EVP_sha1()}, false);
  // A legacy client's nonce: raw bytes in extnValue rather than a DER OCTET STRING.
  const std::string raw_nonce = "\x01\x02\x03\x04\x05\x06\x07\x08";
  ossl::Asn1OctetString value(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>(raw_nonce.data()),
                        static_cast<int>(raw_nonce.size()));
  ossl::X509Ext ext(X509_EXTENSION_create_by_NID(nullptr, NID_id_pkix_OCSP_Nonce, 0, value.get()));
  ASSERT_EQ(OCSP_REQUEST_add_ext(req.get(), ext.get(), -1), 1);
  // Sign with the CA's own certificate and key: any valid signature will do, as none is checked.
  ASSERT_EQ(OCSP_request_sign(req.get(), ca.cert.get(), ca.key.get(), EVP_sha256(), nullptr, 0), 1);
  auto info = ParseOcspRequest(RequestToDer(req.get()));
  ASSERT_TRUE(info.ok()) << info.status().message();
  ASSERT_TRUE(info->nonce.has_value());
  EXPECT_EQ(*info->nonce, raw_nonce);
}

TEST(OcspParse, RejectsMalformedInputWithoutCrashing) {
  TestCa ca = MakeCa(KeyType::kEc, 256, "Garbage CA");
  auto leaf = MakeLeaf(ca, "garbage.test");
  auto expect_bad = [](const std::string& what, const std::string& der, size_t max_ids = 32) {
    SCOPED_TRACE(what);
    auto r = ParseOcspRequest(der, max_ids);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest) << r.status().message();
  };
  expect_bad("empty", "");
  expect_bad("zero byte", std::string(1, '\0'));
  expect_bad("empty sequence", std::string("\x30\x00", 2));
  expect_bad("a certificate", CertificateDer(leaf.get()));

  std::mt19937 rng(42);
  for (int i = 0; i < 500; ++i) {
    std::string junk(1 + rng() % 300, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (i % 2) junk[0] = '\x30';  // looks like a SEQUENCE, to get past the first check
    expect_bad("random bytes", junk);
  }

  auto three = MakeRequest({leaf.get(), leaf.get(), leaf.get()}, ca.cert.get(), {EVP_sha1()}, true);
  const std::string good = RequestToDer(three.get());
  ASSERT_TRUE(ParseOcspRequest(good).ok());
  for (size_t len = 0; len < good.size(); ++len) expect_bad("truncated to " + std::to_string(len), good.substr(0, len));
  expect_bad("trailing data", good + std::string(1, '\0'));
  expect_bad("more entries than answered", good, 2);
  EXPECT_TRUE(ParseOcspRequest(good, 3).ok());
  // Flipping any one byte must never crash; whatever still parses must be a well-formed result.
  for (size_t i = 0; i < good.size(); ++i) {
    std::string mutated = good;
    mutated[i] = static_cast<char>(mutated[i] ^ 0x5a);
    auto r = ParseOcspRequest(mutated);
    if (r.ok()) {
      EXPECT_FALSE(r->ids.empty());
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
    }
  }

  ossl::OcspRequest empty(OCSP_REQUEST_new());
  expect_bad("no entries", RequestToDer(empty.get()));

  auto sha224 = MakeRequest({leaf.get()}, ca.cert.get(), {EVP_sha224()}, false);
  expect_bad("SHA-224", RequestToDer(sha224.get()));

  auto long_nonce = MakeRequest({leaf.get()}, ca.cert.get(), {EVP_sha1()}, false);
  ASSERT_EQ(OCSP_request_add1_nonce(long_nonce.get(), nullptr, kOcspMaxNonceBytes + 1), 1);
  expect_bad("long nonce", RequestToDer(long_nonce.get()));
  auto max_nonce = MakeRequest({leaf.get()}, ca.cert.get(), {EVP_sha1()}, false);
  ASSERT_EQ(OCSP_request_add1_nonce(max_nonce.get(), nullptr, kOcspMaxNonceBytes), 1);
  EXPECT_TRUE(ParseOcspRequest(RequestToDer(max_nonce.get())).ok());

  // Two nonce extensions (OCSP_request_add1_nonce would replace the first).
  auto twice = MakeRequest({leaf.get()}, ca.cert.get(), {EVP_sha1()}, true);
  X509_EXTENSION* first = OCSP_REQUEST_get_ext(twice.get(), 0);
  ASSERT_NE(first, nullptr);
  ossl::X509Ext copy(X509_EXTENSION_dup(first));
  ASSERT_EQ(OCSP_REQUEST_add_ext(twice.get(), copy.get(), -1), 1);
  expect_bad("duplicate nonce", RequestToDer(twice.get()));

  // An empty nonce: extnValue holds an empty OCTET STRING.
  auto empty_nonce = MakeRequest({leaf.get()}, ca.cert.get(), {EVP_sha1()}, false);
  ossl::Asn1OctetString value(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>("\x04\x00"), 2);
  ossl::X509Ext ext(X509_EXTENSION_create_by_NID(nullptr, NID_id_pkix_OCSP_Nonce, 0, value.get()));
  ASSERT_EQ(OCSP_REQUEST_add_ext(empty_nonce.get(), ext.get(), -1), 1);
  expect_bad("empty nonce", RequestToDer(empty_nonce.get()));

  // A negative serial could otherwise alias a positive one by magnitude.
  ossl::Asn1Integer negative(ASN1_INTEGER_new());
  ASN1_INTEGER_set(negative.get(), -5);
  ossl::OcspRequest neg(OCSP_REQUEST_new());
  OCSP_CERTID* neg_id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca.cert.get()),
                                         X509_get0_pubkey_bitstr(ca.cert.get()), negative.get());
  ASSERT_NE(OCSP_request_add0_id(neg.get(), neg_id), nullptr);
  expect_bad("negative serial", RequestToDer(neg.get()));
}

// ---- Building ----

struct SignerCase {
  const char* name;
  KeyType type;
  int bits;
  int signature_bits;
  bool use_pss;
  int expected_sig_nid;
};

void PrintTo(const SignerCase& c, std::ostream* os) { *os << c.name; }

class OcspResponseTest : public ::testing::TestWithParam<SignerCase> {};

TEST_P(OcspResponseTest, AnswersVerifyWithOpenSsl) {
  const SignerCase& sc = GetParam();
  TestCa ca = MakeCa(sc.type, sc.bits, std::string("OCSP CA ") + sc.name);
  TestCa other = MakeCa(KeyType::kEc, 256, "Unrelated CA");
  std::vector<ossl::X509Ptr> leaves;
  for (int i = 0; i < 3; ++i) leaves.push_back(MakeLeaf(ca, "resp" + std::to_string(i) + ".test"));
  const int64_t produced = kNow - kNow % 60;
  const int64_t revoked_at = kNow - 7200;

  for (bool with_nonce : {true, false}) {
    SCOPED_TRACE(with_nonce ? "with nonce, reason 1, nextUpdate" : "no nonce, no reason, no nextUpdate");
    // SHA-1 and SHA-256 ids mixed in one request: each is echoed with its own hash.
    auto req = MakeRequest({leaves[0].get(), leaves[1].get(), leaves[2].get()}, ca.cert.get(),
                           {EVP_sha1(), EVP_sha256()}, with_nonce);
    auto info = ParseOcspRequest(RequestToDer(req.get()));
    ASSERT_TRUE(info.ok()) << info.status().message();
    ASSERT_EQ(info->ids.size(), 3u);

    std::vector<OcspSingleAnswer> answers(3);
    for (size_t i = 0; i < 3; ++i) {
      answers[i].id = &info->ids[i];
      answers[i].this_update = produced;
      answers[i].next_update = with_nonce ? produced + 12 * 3600 : 0;
    }
    answers[1].status = OcspStatus::kRevoked;
    answers[1].revocation_time = revoked_at;
    answers[1].reason = with_nonce ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : -1;
    answers[2].status = OcspStatus::kUnknown;

    // The certificate as SignCertificate returned it: the codec must cope with its undecoded key.
    OcspSigner signer{ca.issued.get(), ca.key.get(), sc.signature_bits, sc.use_pss};
    auto der = BuildOcspResponse(signer, answers, info->nonce, produced);
    ASSERT_TRUE(der.ok()) << der.status().message();

    ossl::OcspBasicResp bs = DecodeSuccessful(*der);
    ASSERT_TRUE(bs);
    EXPECT_EQ(OCSP_resp_count(bs.get()), 3);
    EXPECT_EQ(VerifyTrustingCa(bs.get(), ca.cert.get()), 1);
    EXPECT_EQ(VerifyTrustingCa(bs.get(), ca.cert.get(), OCSP_TRUSTOTHER), 1);
    EXPECT_NE(VerifyTrustingCa(bs.get(), other.cert.get()), 1);
    EXPECT_EQ(OCSP_check_nonce(req.get(), bs.get()), with_nonce ? 1 : 2);

    const EVP_MD* md0 = EVP_sha1();
    const EVP_MD* md1 = EVP_sha256();
    FoundStatus good = FindStatus(bs.get(), md0, leaves[0].get(), ca.cert.get());
    ASSERT_TRUE(good.found);
    EXPECT_EQ(good.status, V_OCSP_CERTSTATUS_GOOD);
    EXPECT_EQ(good.this_update, produced);
    EXPECT_EQ(good.has_next_update, with_nonce);
    if (with_nonce) {
      EXPECT_EQ(good.next_update, produced + 12 * 3600);
    }

    FoundStatus revoked = FindStatus(bs.get(), md1, leaves[1].get(), ca.cert.get());
    ASSERT_TRUE(revoked.found);
    EXPECT_EQ(revoked.status, V_OCSP_CERTSTATUS_REVOKED);
    EXPECT_EQ(revoked.revoked_at, revoked_at);
    EXPECT_EQ(revoked.reason, with_nonce ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : OCSP_REVOKED_STATUS_NOSTATUS);
    EXPECT_FALSE(FindStatus(bs.get(), md0, leaves[1].get(), ca.cert.get()).found);  // echoed with its own hash

    FoundStatus unknown = FindStatus(bs.get(), md0, leaves[2].get(), ca.cert.get());
    ASSERT_TRUE(unknown.found);
    EXPECT_EQ(unknown.status, V_OCSP_CERTSTATUS_UNKNOWN);

    // producedAt from the caller's clock; ResponderID byKey; no certificates; the expected signature algorithm.
    EXPECT_EQ(Asn1TimeToUnix(OCSP_resp_get0_produced_at(bs.get())), produced);
    const ASN1_OCTET_STRING* key_id = nullptr;
    const X509_NAME* name = nullptr;
    ASSERT_EQ(OCSP_resp_get0_id(bs.get(), &key_id, &name), 1);
    ASSERT_NE(key_id, nullptr);
    EXPECT_EQ(name, nullptr);
    const ASN1_BIT_STRING* key_bits = X509_get0_pubkey_bitstr(ca.cert.get());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(key_id)), ASN1_STRING_length(key_id)),
              Sha1(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(key_bits)),
                               ASN1_STRING_length(key_bits))));
    EXPECT_LE(sk_X509_num(OCSP_resp_get0_certs(bs.get())), 0);  // -1: no certs field at all
    EXPECT_EQ(OBJ_obj2nid(OCSP_resp_get0_tbs_sigalg(bs.get())->algorithm), sc.expected_sig_nid);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ocsp, OcspResponseTest,
    ::testing::Values(SignerCase{"Rsa", KeyType::kRsa, 2048, 0, false, NID_sha256WithRSAEncryption},
                      SignerCase{"RsaSha384", KeyType::kRsa, 2048, 384, false, NID_sha384WithRSAEncryption},
                      SignerCase{"RsaPss", KeyType::kRsa, 2048, 256, true, NID_rsassaPss},
                      SignerCase{"EcP256", KeyType::kEc, 256, 0, false, NID_ecdsa_with_SHA256},
                      SignerCase{"EcP384", KeyType::kEc, 384, 0, false, NID_ecdsa_with_SHA384},
                      SignerCase{"Ed25519", KeyType::kEd25519, 0, 0, false, NID_ED25519}),
    [](const ::testing::TestParamInfo<SignerCase>& info) { return std::string(info.param.name); });

TEST(OcspBuild, RefusesInconsistentInputs) {
  TestCa ca = MakeCa(KeyType::kEc, 256, "Refusing CA");
  TestCa other = MakeCa(KeyType::kEc, 256, "Other CA");
  auto leaf = MakeLeaf(ca, "refuse.test");
  auto req = MakeRequest({leaf.get()}, ca.cert.get(), {EVP_sha1()}, false);
  auto info = ParseOcspRequest(RequestToDer(req.get()));
  ASSERT_TRUE(info.ok());
  OcspSigner signer{ca.cert.get(), ca.key.get()};
  OcspSingleAnswer a;
  a.id = &info->ids[0];
  a.this_update = kNow;
  ASSERT_TRUE(BuildOcspResponse(signer, {a}, std::nullopt, kNow).ok());

  auto expect_internal = [&](const OcspSigner& s, const std::vector<OcspSingleAnswer>& answers) {
    auto r = BuildOcspResponse(s, answers, std::nullopt, kNow);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInternal) << r.status().message();
  };
  expect_internal(signer, {});
  OcspSingleAnswer no_id = a;
  no_id.id = nullptr;
  expect_internal(signer, {no_id});
  OcspSingleAnswer bad_reason = a;
  bad_reason.status = OcspStatus::kRevoked;
  bad_reason.reason = 7;
  expect_internal(signer, {bad_reason});
  bad_reason.reason = 11;
  expect_internal(signer, {bad_reason});
  expect_internal(OcspSigner{ca.cert.get(), other.key.get()}, {a});  // key does not match the certificate
  expect_internal(OcspSigner{nullptr, ca.key.get()}, {a});
}

TEST(OcspBuild, ErrorResponsesCarryOnlyTheirStatus) {
  const std::initializer_list<int> statuses = {kOcspMalformedRequest, kOcspInternalError, kOcspTryLater,
                                               kOcspSigRequired,      kOcspUnauthorized,  0, 4, 7, -1, 300};
  for (int status : statuses) {
    std::string der = OcspErrorResponse(status);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ossl::OcspResponse resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(resp) << status;
    const bool valid = status == 1 || status == 2 || status == 3 || status == 5 || status == 6;
    EXPECT_EQ(OCSP_response_status(resp.get()), valid ? status : OCSP_RESPONSE_STATUS_INTERNALERROR);
    EXPECT_EQ(OCSP_response_get1_basic(resp.get()), nullptr);
    ERR_clear_error();
  }
}

// ---- An outside client: the openssl command line tool ----

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

void WriteFile(const std::filesystem::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

TEST(OcspCli, OpensslOcspAcceptsResponses) {
  if (RunCommand("openssl version").find("OpenSSL") == std::string::npos) GTEST_SKIP() << "no openssl tool";
  const auto dir = std::filesystem::temp_directory_path() / ("ocsp_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);

  for (KeyType type : {KeyType::kRsa, KeyType::kEc, KeyType::kEd25519}) {
    SCOPED_TRACE(KeyTypeName(type));
    TestCa ca = MakeCa(type, type == KeyType::kRsa ? 2048 : 256, std::string("CLI CA ") + KeyTypeName(type));
    auto good_leaf = MakeLeaf(ca, "good.test");
    auto revoked_leaf = MakeLeaf(ca, "revoked.test");
    auto req = MakeRequest({good_leaf.get(), revoked_leaf.get()}, ca.cert.get(), {EVP_sha1()}, true);
    const std::string req_der = RequestToDer(req.get());
    auto info = ParseOcspRequest(req_der);
    ASSERT_TRUE(info.ok());
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    std::vector<OcspSingleAnswer> answers(2);
    answers[0] = {&info->ids[0], OcspStatus::kGood, 0, -1, now - 60, now + 3600};
    answers[1] = {&info->ids[1], OcspStatus::kRevoked, now - 600, 1, now - 60, now + 3600};
    auto resp = BuildOcspResponse({ca.cert.get(), ca.key.get()}, answers, info->nonce, now);
    ASSERT_TRUE(resp.ok()) << resp.status().message();

    WriteFile(dir / "ca.pem", CertificatePem(ca.cert.get()) + "\n");
    WriteFile(dir / "good.pem", CertificatePem(good_leaf.get()) + "\n");
    WriteFile(dir / "revoked.pem", CertificatePem(revoked_leaf.get()) + "\n");
    WriteFile(dir / "req.der", req_der);
    WriteFile(dir / "resp.der", *resp);
    const std::string d = dir.string() + "/";

    // The request from the file: the tool checks the echoed nonce against it.
    std::string out = RunCommand("openssl ocsp -respin " + d + "resp.der -reqin " + d + "req.der -issuer " + d +
                                 "ca.pem -CAfile " + d + "ca.pem -resp_text");
    EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
    EXPECT_EQ(out.find("Nonce Verify error"), std::string::npos) << out;
    EXPECT_EQ(out.find("WARNING: no nonce"), std::string::npos) << out;
    // ...and that check is real: a request with another nonce is refused.
    auto other_req = MakeRequest({good_leaf.get(), revoked_leaf.get()}, ca.cert.get(), {EVP_sha1()}, true);
    WriteFile(dir / "other_req.der", RequestToDer(other_req.get()));
    out = RunCommand("openssl ocsp -respin " + d + "resp.der -reqin " + d + "other_req.der -issuer " + d +
                     "ca.pem -CAfile " + d + "ca.pem");
    EXPECT_NE(out.find("Nonce Verify error"), std::string::npos) << out;

    // Per-certificate summary: -cert builds the tool's own request, so its fresh nonce is turned off.
    out = RunCommand("openssl ocsp -respin " + d + "resp.der -issuer " + d + "ca.pem -CAfile " + d + "ca.pem -cert " +
                     d + "good.pem -cert " + d + "revoked.pem -no_nonce");
    EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
    EXPECT_NE(out.find(d + "good.pem: good"), std::string::npos) << out;
    EXPECT_NE(out.find(d + "revoked.pem: revoked"), std::string::npos) << out;
    EXPECT_NE(out.find("Reason: keyCompromise"), std::string::npos) << out;
    EXPECT_EQ(out.find("Status times invalid"), std::string::npos) << out;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pki
