// Inputs that once crashed, stalled or were mis-answered (found in review), and Vault behaviours around them.
#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <thread>

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"
#include "tests/unit/engine_harness.h"

namespace pki {
namespace {

using testing::EngineHarness;

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.system.max_ttl = 87600 * 3600;
    auto root = h.Write("root/generate/internal",
                        {{"common_name", "Hardening Root"}, {"key_type", "ec"}, {"key_bits", 384}, {"ttl", "8760h"}});
    ASSERT_TRUE(root.ok()) << root.status().message();
    root_pem = root->data["certificate"];
  }
  EngineHarness h;
  std::string root_pem;
};

TEST_F(HardeningTest, HugeNamesAndUrlsAreRefusedNotFatal) {
  auto name = h.Write("root/generate/internal", {{"common_name", "x"}, {"issuer_name", std::string(100000, 'a')}});
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().code(), StatusCode::kBadRequest);
  auto key = h.Write("root/generate/internal", {{"common_name", "x"}, {"key_name", std::string(100000, 'a')}});
  EXPECT_EQ(key.status().code(), StatusCode::kBadRequest);
  auto url = h.Write("config/urls", {{"issuing_certificates", "http://a/" + std::string(100000, 'b')}});
  EXPECT_EQ(url.status().code(), StatusCode::kBadRequest);
  auto ctl = h.Write("config/urls", {{"ocsp_servers", std::string("http://a/\x01", 10)}});
  EXPECT_EQ(ctl.status().code(), StatusCode::kBadRequest);
  EXPECT_TRUE(h.Write("config/urls", {{"ocsp_servers", "http://ocsp.test:8080/v1/pki/ocsp"}}).ok());
  auto cn = h.Write("roles/any", {{"allow_any_name", true}, {"key_type", "ec"}});
  ASSERT_TRUE(cn.ok());
  std::string label;
  for (int i = 0; i < 20000; ++i) label += "\xc3\xa9";  // 20,000 code points in one label
  auto idn = h.Write("issue/any", {{"common_name", label + ".test"}});
  EXPECT_EQ(idn.status().code(), StatusCode::kBadRequest);
  // The refusal quotes a prefix of the name; it must stay valid UTF-8 even when the cut splits a character.
  auto cut = h.Write("issue/any", {{"common_name", "ok.test"}, {"alt_names", "a" + label.substr(0, 1200) + ".test"}});
  ASSERT_EQ(cut.status().code(), StatusCode::kBadRequest);
  EXPECT_NO_THROW(Json(cut.status().message()).dump());
}

TEST_F(HardeningTest, NegativeAndOutOfRangeNumbersAreRefused) {
  ASSERT_TRUE(h.Write("roles/any", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
  for (const Json& ttl : {Json("-1h"), Json(-5), Json(18446744073709551615ull), Json(1e30)}) {
    auto r = h.Write("issue/any", {{"common_name", "a.test"}, {"ttl", ttl}});
    ASSERT_FALSE(r.ok()) << ttl.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
    EXPECT_EQ(r.status().message().rfind("Field validation failed: ", 0), 0u) << r.status().message();
  }
  EXPECT_EQ(h.Write("roles/neg", {{"not_before_duration", "-1h"}}).status().code(), StatusCode::kBadRequest);
  // Durations stop at Go's largest time.Duration, so now + ttl cannot overflow.
  EXPECT_EQ(h.Write("roles/big", {{"ttl", 9223372036854775807LL}, {"max_ttl", 9223372036854775807LL}})
                .status()
                .code(),
            StatusCode::kBadRequest);
  ASSERT_TRUE(h.Write("roles/longest", {{"allow_any_name", true}, {"key_type", "ec"}, {"max_ttl", 9223372036LL}}).ok());
  auto longest = h.Write("issue/longest", {{"common_name", "a.test"}, {"ttl", 9223372036LL}});
  ASSERT_FALSE(longest.ok());
  EXPECT_NE(longest.status().message().find("beyond the expiration of the CA certificate"), std::string::npos);
  EXPECT_EQ(h.Write("root/generate/internal", {{"common_name", "x"}, {"signature_bits", 4294967552LL}})
                .status()
                .code(),
            StatusCode::kBadRequest);
  EXPECT_EQ(h.Write("root/generate/internal", {{"common_name", "x"}, {"max_path_length", 4294967296LL}})
                .status()
                .code(),
            StatusCode::kBadRequest);
  EXPECT_EQ(h.Write("root/generate/internal", {{"common_name", "x"}, {"key_type", "rsa"}, {"key_bits", 4294969344LL}})
                .status()
                .code(),
            StatusCode::kBadRequest);
}

TEST_F(HardeningTest, EcdsaHashFollowsTheIssuersCurve) {
  ASSERT_TRUE(h.Write("roles/rsa", {{"allow_any_name", true}, {"signature_bits", 512}}).ok());
  auto r = h.Write("issue/rsa", {{"common_name", "a.test"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto cert = ParseCertificatePem(r->data["certificate"]);
  EXPECT_EQ(X509_get_signature_nid(cert->get()), NID_ecdsa_with_SHA384);
}

TEST_F(HardeningTest, LongSubjectValuesAreEncodedAsGoDoes) {
  std::string cn = std::string(40, 'a') + "." + std::string(30, 'b') + ".example";  // 79 > OpenSSL's 64
  ASSERT_TRUE(h.Write("roles/any", {{"allow_any_name", true}, {"key_type", "ec"}, {"country", "USA"},
                                    {"organization", "Caf\xc3\xa9 Ltd"}})
                  .ok());
  auto r = h.Write("issue/any", {{"common_name", cn}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto cert = ParseCertificatePem(r->data["certificate"]);
  X509_NAME* subj = X509_get_subject_name(cert->get());
  const ASN1_STRING* c = X509_NAME_ENTRY_get_data(
      X509_NAME_get_entry(subj, X509_NAME_get_index_by_NID(subj, NID_countryName, -1)));
  EXPECT_EQ(ASN1_STRING_type(c), V_ASN1_PRINTABLESTRING);
  const ASN1_STRING* o = X509_NAME_ENTRY_get_data(
      X509_NAME_get_entry(subj, X509_NAME_get_index_by_NID(subj, NID_organizationName, -1)));
  EXPECT_EQ(ASN1_STRING_type(o), V_ASN1_UTF8STRING);
  EXPECT_EQ(InspectCertificate(cert->get()).common_name, cn);
}

TEST_F(HardeningTest, CertCaRawAndTrimmedPem) {
  auto der = h.Read("cert/ca/raw");
  ASSERT_TRUE(der.ok());
  ASSERT_TRUE(der->raw.has_value());
  EXPECT_EQ(der->raw->status, 200);
  auto parsed = ParseCertificateDer(der->raw->body);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(CertificatePem(parsed->get()), root_pem);
  auto pem = h.Read("cert/ca/raw/pem");
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(pem->raw->body, root_pem);
  auto ca_pem = h.Read("ca/pem");
  EXPECT_EQ(ca_pem->raw->body, root_pem);  // no trailing newline, as Vault trims
  EXPECT_EQ(h.Read("cert/not-hex").status().code(), StatusCode::kNotFound);
}

// A CSR with a codeSigning EKU and a custom extension, signed by `key`.
std::string CsrWithExtensions(EVP_PKEY* key) {
  X509_REQ* req = X509_REQ_new();
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("verbatim.test"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Org"), -1, -1, 0);
  X509_REQ_set_subject_name(req, name);
  X509_REQ_set_pubkey(req, key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, "codeSigning"));
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:verbatim.test"));
  X509_REQ_add_extensions(req, exts);
  X509_REQ_sign(req, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  std::string pem = ossl::BioContents(bio);
  BIO_free(bio);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_NAME_free(name);
  X509_REQ_free(req);
  return pem;
}

TEST_F(HardeningTest, SignVerbatimKeepsCsrSubjectAndExtensions) {
  auto key = GenerateKey(KeyType::kEc, 256);
  auto r = h.Write("sign-verbatim", {{"csr", CsrWithExtensions(key->get())}, {"ttl", "1h"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto cert = ParseCertificatePem(r->data["certificate"]);
  EXPECT_EQ(X509_get_extended_key_usage(cert->get()), static_cast<uint32_t>(XKU_CODE_SIGN));
  EXPECT_EQ(InspectCertificate(cert->get()).dns_names, std::vector<std::string>{"verbatim.test"});
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert->get()), buf, sizeof(buf));
  EXPECT_STREQ(buf, "/CN=verbatim.test/O=Org");  // CSR order kept
}

TEST_F(HardeningTest, SignIntermediateTakesCsrCommonNameAndRefusesWeakKeys) {
  auto key = GenerateKey(KeyType::kEc, 256);
  CsrTemplate t;
  t.subject = {{"CN", "From CSR"}};
  auto csr = CreateCsrPem(t, key->get());
  auto r = h.Write("root/sign-intermediate", {{"csr", *csr}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto cert = ParseCertificatePem(r->data["certificate"]);
  EXPECT_EQ(InspectCertificate(cert->get()).common_name, "From CSR");
  ASSERT_EQ(r->data["ca_chain"].size(), 2u);
  EXPECT_EQ(r->data["ca_chain"][0], r->data["certificate"]);
  EXPECT_EQ(r->data["ca_chain"][1], root_pem);

  ossl::PKey weak(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  ASSERT_NE(weak, nullptr);
  auto weak_csr = CreateCsrPem(t, weak.get());
  auto refused = h.Write("root/sign-intermediate", {{"csr", *weak_csr}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kBadRequest);
}

TEST(HardeningImport, ImportingTheRootLaterCompletesTheIntermediatesChain) {
  EngineHarness root_mount, int_mount;
  auto root = root_mount.Write("root/generate/internal", {{"common_name", "Root"}});
  ASSERT_TRUE(root.ok());
  auto csr = int_mount.Write("intermediate/generate/internal", {{"common_name", "Intermediate"}});
  auto signed_ = root_mount.Write("root/sign-intermediate", {{"csr", csr->data["csr"]}, {"ttl", "100h"}});
  ASSERT_TRUE(signed_.ok()) << signed_.status().message();
  ASSERT_TRUE(int_mount.Write("intermediate/set-signed", {{"certificate", signed_->data["certificate"]}}).ok());
  ASSERT_TRUE(int_mount.Write("roles/any", {{"allow_any_name", true}}).ok());
  auto before = int_mount.Write("issue/any", {{"common_name", "x.test"}, {"ttl", "1h"}});
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->data["ca_chain"].size(), 1u);
  ASSERT_TRUE(int_mount.Write("config/ca", {{"pem_bundle", root->data["certificate"]}}).ok());
  auto after = int_mount.Write("issue/any", {{"common_name", "x.test"}, {"ttl", "1h"}});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->data["ca_chain"].size(), 2u);
}

TEST(HardeningConcurrency, IssuerNamesStayUniqueUnderConcurrentGeneration) {
  EngineHarness h;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto r = h.Write("root/generate/internal",
                       {{"common_name", "dup"}, {"key_type", "ec"}, {"issuer_name", "dup"}, {"key_name", "dupkey"}});
      if (r.ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
}

}  // namespace
}  // namespace pki
