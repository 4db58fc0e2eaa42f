// The engine end to end in-process: CA set-up, roles, issue, sign, fetch, with OpenSSL verifying the results.
#include <gtest/gtest.h>

#include <openssl/x509_vfy.h>

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"
#include "tests/unit/engine_harness.h"

namespace pki {
namespace {

using testing::EngineHarness;

// Verifies `leaf_pem` against the chain PEMs with OpenSSL at the harness's time: the chain's self-signed
// certificates are the anchors.
bool VerifiesWith(const std::string& leaf_pem, const std::vector<std::string>& chain, int64_t at) {
  std::vector<std::string> anchors, untrusted;
  for (const auto& pem : chain) {
    auto c = ParseCertificatePem(pem);
    if (!c.ok()) return false;
    CertInfo info = InspectCertificate(c->get());
    (info.subject_der == info.issuer_der ? anchors : untrusted).push_back(pem);
  }
  return testing::VerifiesTo(leaf_pem, anchors, untrusted, at);
}

class IssueFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.system.max_ttl = 87600 * 3600;
    auto root = h.Write("root/generate/internal",
                        {{"common_name", "Test Root"}, {"key_type", "ec"}, {"ttl", "87600h"}, {"issuer_name", "r1"}});
    ASSERT_TRUE(root.ok()) << root.status().message();
    root_pem = root->data["certificate"];
    auto role = h.Write("roles/web", {{"allowed_domains", "example.com"},
                                      {"allow_subdomains", true},
                                      {"key_type", "ec"},
                                      {"max_ttl", "72h"}});
    ASSERT_TRUE(role.ok()) << role.status().message();
    EXPECT_TRUE(role->warnings.empty());  // issuer_ref "default" resolves to the root
  }

  EngineHarness h;
  std::string root_pem;
};

TEST_F(IssueFlowTest, RootIsSelfSignedCaWithoutExportedKey) {
  auto root = ParseCertificatePem(root_pem);
  ASSERT_TRUE(root.ok());
  CertInfo info = InspectCertificate(root->get());
  EXPECT_TRUE(info.is_ca);
  EXPECT_EQ(info.common_name, "Test Root");
  EXPECT_EQ(info.not_after, EngineHarness::kStart + 87600 * 3600);
  auto again = h.Read("cert/ca");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->data["certificate"], root_pem);
}

TEST_F(IssueFlowTest, IssueProducesVerifiableLeafWithRequestedNames) {
  auto r = h.Write("issue/web", {{"common_name", "a.example.com"}, {"alt_names", "b.example.com"}, {"ttl", "1h"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Json& d = r->data;
  EXPECT_EQ(d["private_key_type"], "ec");
  EXPECT_NE(d["private_key"].get<std::string>().find("BEGIN EC PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(d["issuing_ca"], root_pem);
  EXPECT_TRUE(VerifiesWith(d["certificate"], d["ca_chain"], h.clock.Now()));
  auto leaf = ParseCertificatePem(d["certificate"]);
  CertInfo info = InspectCertificate(leaf->get());
  EXPECT_EQ(info.common_name, "a.example.com");
  EXPECT_EQ(info.dns_names, (std::vector<std::string>{"a.example.com", "b.example.com"}));
  EXPECT_EQ(info.not_after, h.clock.Now() + 3600);
  EXPECT_EQ(info.not_before, h.clock.Now() - 30);
  EXPECT_EQ(d["expiration"], info.not_after);
  EXPECT_EQ(d["serial_number"], FormatSerial(info.serial));
  EXPECT_FALSE(info.is_ca);

  auto fetched = h.Read("cert/" + d["serial_number"].get<std::string>());
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(fetched->data["certificate"], d["certificate"]);
  auto list = h.Call(Operation::kList, "certs/");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->data["keys"].size(), 2u);  // the root and the leaf
}

TEST_F(IssueFlowTest, TtlAboveRoleMaxIsCappedWithVaultsWarning) {
  auto r = h.Write("issue/web", {{"common_name", "a.example.com"}, {"ttl", "100h"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0], "TTL \"100h0m0s\" is longer than permitted maxTTL \"72h0m0s\", so maxTTL is being used");
  EXPECT_EQ(r->data["expiration"], h.clock.Now() + 72 * 3600);
}

TEST_F(IssueFlowTest, RefusedNamesGetVaultsErrors) {
  auto bad_cn = h.Write("issue/web", {{"common_name", "evil.com"}});
  ASSERT_FALSE(bad_cn.ok());
  EXPECT_EQ(bad_cn.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(bad_cn.status().message(), "common name evil.com not allowed by this role");
  auto bad_san = h.Write("issue/web", {{"common_name", "a.example.com"}, {"alt_names", "x.other.org"}});
  ASSERT_FALSE(bad_san.ok());
  EXPECT_EQ(bad_san.status().message(), "subject alternate name x.other.org not allowed by this role");
  auto unknown = h.Write("issue/nope", {{"common_name", "a.example.com"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "unknown role: nope");
}

TEST_F(IssueFlowTest, LeafBeyondIssuerExpiryIsRefusedByDefault) {
  auto r = h.Write("roles/long", {{"allow_any_name", true}, {"max_ttl", "1000000h"}});
  ASSERT_TRUE(r.ok());
  auto leaf = h.Write("issue/long", {{"common_name", "x.test"}, {"ttl", "900000h"}});
  ASSERT_FALSE(leaf.ok());
  EXPECT_NE(leaf.status().message().find("beyond the expiration of the CA certificate"), std::string::npos);
}

TEST_F(IssueFlowTest, SignChecksCsrKeyAndTakesNamesFromCsr) {
  auto key = GenerateKey(KeyType::kEc, 256);
  ASSERT_TRUE(key.ok());
  CsrTemplate ct;
  ct.subject = {{"CN", "c.example.com"}};
  ct.dns_names = {"d.example.com"};
  auto csr = CreateCsrPem(ct, key->get());
  ASSERT_TRUE(csr.ok());
  auto r = h.Write("sign/web", {{"csr", *csr}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->data.contains("private_key"));
  auto leaf = ParseCertificatePem(r->data["certificate"]);
  CertInfo info = InspectCertificate(leaf->get());
  EXPECT_EQ(info.common_name, "c.example.com");
  EXPECT_EQ(info.dns_names, (std::vector<std::string>{"c.example.com", "d.example.com"}));
  EXPECT_TRUE(SamePublicKey(X509_get0_pubkey(leaf->get()), key->get()));

  auto rsa = GenerateKey(KeyType::kRsa, 2048);
  auto rsa_csr = CreateCsrPem(ct, rsa->get());
  auto wrong = h.Write("sign/web", {{"csr", *rsa_csr}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(), "role requires keys of type ec");

  std::string tampered = *csr;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  auto bad = h.Write("sign/web", {{"csr", tampered}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
}

TEST_F(IssueFlowTest, IntermediateChainVerifies) {
  auto csr = h.Write("intermediate/generate/internal", {{"common_name", "Test Intermediate"}, {"key_type", "ec"}});
  ASSERT_TRUE(csr.ok()) << csr.status().message();
  auto signed_ = h.Write("root/sign-intermediate",
                         {{"csr", csr->data["csr"]}, {"common_name", "Test Intermediate"}, {"ttl", "8760h"}});
  ASSERT_TRUE(signed_.ok()) << signed_.status().message();
  auto set = h.Write("intermediate/set-signed", {{"certificate", signed_->data["certificate"]}});
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set->data["imported_issuers"].size(), 1u);
  std::string inter_id = set->data["imported_issuers"][0];
  EXPECT_EQ(set->data["mapping"][inter_id], csr->data["key_id"]);

  auto role = h.Write("roles/inter", {{"allow_any_name", true}, {"issuer_ref", inter_id}});
  ASSERT_TRUE(role.ok());
  auto leaf = h.Write("issue/inter", {{"common_name", "svc.internal"}, {"ttl", "24h"}});
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  ASSERT_EQ(leaf->data["ca_chain"].size(), 2u);
  EXPECT_TRUE(VerifiesWith(leaf->data["certificate"], leaf->data["ca_chain"], h.clock.Now()));
  auto no_roots = h.Write("issue/inter", {{"common_name", "svc.internal"}, {"remove_roots_from_chain", true}});
  ASSERT_TRUE(no_roots.ok());
  EXPECT_EQ(no_roots->data["ca_chain"].size(), 1u);
}

TEST_F(IssueFlowTest, ConfigUrlsAreEmbeddedInLaterCertificates) {
  auto cfg = h.Write("config/urls", {{"issuing_certificates", "http://ca.test/v1/pki/ca"},
                                     {"crl_distribution_points", "http://ca.test/v1/pki/crl"},
                                     {"ocsp_servers", "http://ca.test/v1/pki/ocsp"}});
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  auto bad = h.Write("config/urls", {{"ocsp_servers", "not a url"}});
  EXPECT_FALSE(bad.ok());
  auto leaf = h.Write("issue/web", {{"common_name", "a.example.com"}});
  ASSERT_TRUE(leaf.ok());
  auto cert = ParseCertificatePem(leaf->data["certificate"]);
  auto* aia = static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert->get(), NID_info_access, nullptr, nullptr));
  ASSERT_NE(aia, nullptr);
  EXPECT_EQ(sk_ACCESS_DESCRIPTION_num(aia), 2);
  AUTHORITY_INFO_ACCESS_free(aia);
  auto* dps = static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(cert->get(), NID_crl_distribution_points, nullptr, nullptr));
  ASSERT_NE(dps, nullptr);
  EXPECT_EQ(sk_DIST_POINT_num(dps), 1);
  CRL_DIST_POINTS_free(dps);
}

TEST_F(IssueFlowTest, NoStoreLeavesNoRecordAndFormatsWork) {
  ASSERT_TRUE(h.Write("roles/ephemeral", {{"allow_any_name", true}, {"no_store", true}}).ok());
  size_t before = h.storage.size();
  auto der = h.Write("issue/ephemeral", {{"common_name", "e.test"}, {"format", "der"}, {"private_key_format", "pkcs8"}});
  ASSERT_TRUE(der.ok()) << der.status().message();
  EXPECT_EQ(h.storage.size(), before);
  auto bytes = Base64Decode(der->data["certificate"]);
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(ParseCertificateDer(*bytes).ok());
  auto key = Base64Decode(der->data["private_key"]);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(ParsePrivateKeyDer(*key).ok());
  auto bundle = h.Write("issue/ephemeral", {{"common_name", "e.test"}, {"format", "pem_bundle"}});
  ASSERT_TRUE(bundle.ok());
  std::string b = bundle->data["certificate"];
  EXPECT_EQ(b.find("-----BEGIN RSA PRIVATE KEY-----"), 0u);
  EXPECT_NE(b.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  auto bad = h.Write("issue/ephemeral", {{"common_name", "e.test"}, {"format", "xml"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "the \"format\" path parameter must be \"pem\", \"der\", or \"pem_bundle\"");
}

TEST_F(IssueFlowTest, CaKeyIsSealedAtRest) {
  std::vector<std::string> keys;
  ASSERT_TRUE(h.storage.List("key/", "", 0, &keys).ok());
  ASSERT_EQ(keys.size(), 1u);
  std::string value;
  ASSERT_TRUE(h.storage.Get("key/" + keys[0], &value).ok());
  EXPECT_EQ(value.find("PRIVATE KEY"), std::string::npos);
  EXPECT_NE(value.find("sealed_private_key"), std::string::npos);
}

TEST(IssueFlowNoCa, IssueWithoutCaIsInternalErrorWithVaultsText) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true}}).ok());
  auto r = h.Write("issue/web", {{"common_name", "x.test"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_EQ(r.status().message(),
            "could not fetch the CA certificate (was one set?): no default issuer currently configured");
  auto ca = h.Read("ca");
  ASSERT_TRUE(ca.ok());
  ASSERT_TRUE(ca->raw.has_value());
  EXPECT_EQ(ca->raw->status, 204);
}

TEST(IssueFlowImport, SetSignedBundleMakesTheKeyedIntermediateDefault) {
  EngineHarness root_mount, int_mount;
  root_mount.system.max_ttl = 87600 * 3600;
  ASSERT_TRUE(root_mount.Write("root/generate/internal", {{"common_name", "Root"}, {"ttl", "87600h"}}).ok());
  auto csr = int_mount.Write("intermediate/generate/internal", {{"common_name", "Intermediate"}});
  ASSERT_TRUE(csr.ok()) << csr.status().message();
  auto signed_ = root_mount.Write("root/sign-intermediate",
                                  {{"csr", csr->data["csr"]}, {"common_name", "Intermediate"}, {"format", "pem_bundle"}});
  ASSERT_TRUE(signed_.ok()) << signed_.status().message();
  auto set = int_mount.Write("intermediate/set-signed", {{"certificate", signed_->data["certificate"]}});
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->data["imported_issuers"].size(), 2u);  // the intermediate and the root of its chain
  ASSERT_TRUE(int_mount.Write("roles/any", {{"allow_any_name", true}}).ok());
  auto leaf = int_mount.Write("issue/any", {{"common_name", "x.test"}, {"ttl", "1h"}});
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  EXPECT_EQ(leaf->data["ca_chain"].size(), 2u);
  EXPECT_TRUE(VerifiesWith(leaf->data["certificate"], leaf->data["ca_chain"], int_mount.clock.Now()));
}

TEST(IssueFlowImport, ConfigCaImportsBundleAndIssues) {
  EngineHarness source;
  auto root = source.Write("root/generate/exported", {{"common_name", "Imported Root"}, {"key_type", "rsa"}});
  ASSERT_TRUE(root.ok()) << root.status().message();
  std::string bundle = root->data["private_key"].get<std::string>() + "\n" + root->data["certificate"].get<std::string>();

  EngineHarness h;
  auto imp = h.Write("config/ca", {{"pem_bundle", bundle}});
  ASSERT_TRUE(imp.ok()) << imp.status().message();
  EXPECT_EQ(imp->data["imported_keys"].size(), 1u);
  EXPECT_EQ(imp->data["imported_issuers"].size(), 1u);
  auto again = h.Write("config/ca", {{"pem_bundle", bundle}});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->data["imported_issuers"].is_null());
  EXPECT_EQ(again->data["existing_issuers"].size(), 1u);
  ASSERT_TRUE(h.Write("roles/any", {{"allow_any_name", true}}).ok());
  auto leaf = h.Write("issue/any", {{"common_name", "x.test"}});
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  EXPECT_EQ(leaf->data["issuing_ca"], root->data["certificate"]);
}

}  // namespace
}  // namespace pki
