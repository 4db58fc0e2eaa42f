// Engine gaps found by the client compatibility tests (tests/integration/test_terraform_schema.py): Vault 1.19's
// name constraint fields on CA certificates, key_usage on intermediate CSRs, and config/crl's max_crl_entries and
// Enterprise-only flags.
#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "src/crypto/x509.h"
#include "tests/unit/engine_harness.h"

namespace pki {
namespace {

using testing::EngineHarness;

// (type, text) of every subtree of one side of a certificate's name constraints; IP ranges as hex bytes.
std::set<std::pair<int, std::string>> Subtrees(const std::string& pem, bool permitted) {
  std::set<std::pair<int, std::string>> out;
  auto cert = ParseCertificatePem(pem);
  if (!cert.ok()) return out;
  int crit = 0;
  auto* nc = static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(cert->get(), NID_name_constraints, &crit, nullptr));
  if (!nc) return out;
  EXPECT_EQ(crit, 1);
  STACK_OF(GENERAL_SUBTREE)* side = permitted ? nc->permittedSubtrees : nc->excludedSubtrees;
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(side); ++i) {
    GENERAL_NAME* g = sk_GENERAL_SUBTREE_value(side, i)->base;
    int type = 0;
    auto* value = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(g, &type));
    std::string bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)), ASN1_STRING_length(value));
    if (type == GEN_IPADD) {
      std::string hex;
      for (unsigned char c : bytes) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
      bytes = hex;
    }
    out.insert({type, bytes});
  }
  NAME_CONSTRAINTS_free(nc);
  return out;
}

Json AllConstraints() {
  return {{"permitted_dns_domains", "example.com"},         {"excluded_dns_domains", "bad.example.com"},
          {"permitted_ip_ranges", "10.1.2.3/8,2001:db8::/32"}, {"excluded_ip_ranges", "10.66.0.0/16"},
          {"permitted_email_addresses", ".example.com"},    {"excluded_email_addresses", "bad@example.com"},
          {"permitted_uri_domains", ".example.com"},         {"excluded_uri_domains", "bad.example.com"}};
}

TEST(EncodeIpRange, AddressThenMaskWithHostBitsCleared) {
  EXPECT_EQ(EncodeIpRange("10.1.2.3/8").value(), std::string("\x0a\0\0\0\xff\0\0\0", 8));
  EXPECT_EQ(EncodeIpRange("192.168.1.129/25").value(), std::string("\xc0\xa8\x01\x80\xff\xff\xff\x80", 8));
  EXPECT_EQ(EncodeIpRange("0.0.0.0/0").value(), std::string(8, '\0'));
  auto v6 = EncodeIpRange("2001:db8::1/32");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->size(), 32u);
  EXPECT_EQ(v6->substr(0, 4), "\x20\x01\x0d\xb8");
  EXPECT_EQ(v6->substr(4, 12), std::string(12, '\0'));
  EXPECT_EQ(v6->substr(16, 4), "\xff\xff\xff\xff");
  for (const char* bad : {"10.0.0.1", "10.0.0.0/33", "2001:db8::/129", "x/8", "10.0.0.0/", "10.0.0.0/8a", "/8",
                          "10.0.0.0/0008"}) {
    auto r = EncodeIpRange(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
    EXPECT_EQ(r.status().message(), std::string("invalid CIDR address: ") + bad);
  }
}

TEST(NameConstraints, RootCarriesEveryKindAndOpenSslEnforcesThem) {
  EngineHarness h;
  Json req = AllConstraints();
  req.update({{"common_name", "Constrained Root"}, {"key_type", "ec"}, {"ttl", "8760h"}});
  auto root = h.Write("root/generate/internal", req);
  ASSERT_TRUE(root.ok()) << root.status().message();
  std::string pem = root->data["certificate"];
  EXPECT_EQ(Subtrees(pem, true),
            (std::set<std::pair<int, std::string>>{{GEN_DNS, "example.com"},
                                                   {GEN_IPADD, "0a000000ff000000"},
                                                   {GEN_IPADD, "20010db8000000000000000000000000"
                                                               "ffffffff000000000000000000000000"},
                                                   {GEN_EMAIL, ".example.com"},
                                                   {GEN_URI, ".example.com"}}));
  EXPECT_EQ(Subtrees(pem, false), (std::set<std::pair<int, std::string>>{{GEN_DNS, "bad.example.com"},
                                                                         {GEN_IPADD, "0a420000ffff0000"},
                                                                         {GEN_EMAIL, "bad@example.com"},
                                                                         {GEN_URI, "bad.example.com"}}));

  // The encoding is what verifiers read: OpenSSL accepts a permitted leaf and refuses an excluded one.
  ASSERT_TRUE(h.Write("roles/any", {{"allow_any_name", true}, {"key_type", "ec"}, {"ttl", "1h"}}).ok());
  auto good = h.Write("issue/any", {{"common_name", "ok.example.com"}, {"ip_sans", "10.9.9.9"}});
  auto bad_dns = h.Write("issue/any", {{"common_name", "x.bad.example.com"}});
  auto bad_ip = h.Write("issue/any", {{"common_name", "ip.example.com"}, {"ip_sans", "10.66.1.1"}});
  ASSERT_TRUE(good.ok() && bad_dns.ok() && bad_ip.ok());
  EXPECT_TRUE(testing::VerifiesTo(good->data["certificate"], {pem}, {}, h.clock.Now()));
  EXPECT_FALSE(testing::VerifiesTo(bad_dns->data["certificate"], {pem}, {}, h.clock.Now()));
  EXPECT_FALSE(testing::VerifiesTo(bad_ip->data["certificate"], {pem}, {}, h.clock.Now()));
}

TEST(NameConstraints, SignIntermediateCarriesThemAndABadRangeIsRefusedBeforeAnyChange) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("root/generate/internal", {{"common_name", "Root"}, {"key_type", "ec"}, {"ttl", "8760h"}}).ok());
  EngineHarness other;
  auto csr = other.Write("intermediate/generate/internal", {{"common_name", "Inter"}, {"key_type", "ec"}});
  ASSERT_TRUE(csr.ok());
  Json req = AllConstraints();
  req.update({{"csr", csr->data["csr"]}, {"common_name", "Inter"}, {"ttl", "24h"}});
  auto signed_ = h.Write("root/sign-intermediate", req);
  ASSERT_TRUE(signed_.ok()) << signed_.status().message();
  EXPECT_EQ(Subtrees(signed_->data["certificate"], false).size(), 4u);
  EXPECT_EQ(Subtrees(signed_->data["certificate"], true).size(), 5u);

  auto issuers_before = h.Call(Operation::kList, "issuers");
  auto bad = h.Write("root/generate/internal", {{"common_name", "x"}, {"excluded_ip_ranges", "10.0.0.0/8,nope"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(bad.status().message(), "invalid excluded_ip_ranges value: invalid CIDR address: nope");
  EXPECT_EQ(h.Call(Operation::kList, "issuers")->data, issuers_before->data);
}

TEST(IntermediateCsr, KeyUsageIsRequestedOnlyWhenGiven) {
  EngineHarness h;
  auto usage_of = [&](Json req) -> int {
    req["common_name"] = "Inter";
    req["key_type"] = "ec";
    auto r = h.Write("intermediate/generate/internal", req);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return -2;
    std::string pem = r->data["csr"];
    ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    ossl::X509Req csr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(csr.get());
    int bits = -1;  // no KeyUsage extension
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
      X509_EXTENSION* e = sk_X509_EXTENSION_value(exts, i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_key_usage) continue;
      EXPECT_EQ(X509_EXTENSION_get_critical(e), 1);
      auto* ku = static_cast<ASN1_BIT_STRING*>(X509V3_EXT_d2i(e));
      bits = 0;
      for (int b = 0; b < 9; ++b) bits |= ASN1_BIT_STRING_get_bit(ku, b) << b;
      ASN1_BIT_STRING_free(ku);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return bits;
  };
  EXPECT_EQ(usage_of(Json::object()), -1);
  EXPECT_EQ(usage_of({{"key_usage", "CertSign,CRLSign"}}), KeyUsageMask({"CertSign", "CRLSign"}));
  EXPECT_EQ(usage_of({{"key_usage", Json::array({"DigitalSignature"})}}), KeyUsageMask({"DigitalSignature"}));
}

class CrlLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = h.Write("root/generate/internal", {{"common_name", "Root"}, {"key_type", "ec"}, {"ttl", "8760h"}});
    ASSERT_TRUE(root.ok());
    ASSERT_TRUE(h.Write("roles/any", {{"allow_any_name", true}, {"key_type", "ec"}, {"ttl", "1h"}}).ok());
  }
  void Revoke(int n) {
    for (int i = 0; i < n; ++i) {
      auto leaf = h.Write("issue/any", {{"common_name", "a.example.com"}});
      ASSERT_TRUE(leaf.ok());
      // The revocation is recorded even when the CRL rebuild after it is refused for the limit.
      (void)h.Write("revoke", {{"serial_number", leaf->data["serial_number"]}});
    }
  }
  EngineHarness h;
};

TEST_F(CrlLimitTest, MaxCrlEntriesDefaultsAndKeepsVaultsWriteRules) {
  EXPECT_EQ(h.Read("config/crl")->data["max_crl_entries"], -1);  // Vault's is 100000 (see CrlConfig)
  ASSERT_TRUE(h.Write("config/crl", {{"max_crl_entries", 2}}).ok());
  EXPECT_EQ(h.Read("config/crl")->data["max_crl_entries"], 2);
  for (int ignored : {0, -5}) {  // Vault keeps the old value for these
    ASSERT_TRUE(h.Write("config/crl", {{"max_crl_entries", ignored}}).ok());
    EXPECT_EQ(h.Read("config/crl")->data["max_crl_entries"], 2);
  }
  ASSERT_TRUE(h.Write("config/crl", {{"max_crl_entries", -1}}).ok());
  EXPECT_EQ(h.Read("config/crl")->data["max_crl_entries"], -1);
  h.Reopen();
  EXPECT_EQ(h.Read("config/crl")->data["max_crl_entries"], -1);
}

TEST_F(CrlLimitTest, ACrlOverTheLimitIsNotBuiltUntilTheLimitIsRaised) {
  ASSERT_TRUE(h.Write("config/crl", {{"max_crl_entries", 2}}).ok());
  Revoke(2);
  ASSERT_TRUE(h.Read("crl/rotate").ok());
  Revoke(1);
  // crl/rotate reports each issuer's failed rebuild as a warning; reading the CRL is refused, never a CRL that
  // leaves revocations out.
  auto rotated = h.Read("crl/rotate");
  ASSERT_TRUE(rotated.ok());
  ASSERT_EQ(rotated->warnings.size(), 1u);
  EXPECT_NE(rotated->warnings[0].find("exceeds configured maximum (2)"), std::string::npos) << rotated->warnings[0];
  auto over = h.Read("crl");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(over.status().message().find("exceeds configured maximum (2)"), std::string::npos)
      << over.status().message();
  ASSERT_TRUE(h.Write("config/crl", {{"max_crl_entries", -1}}).ok());
  ASSERT_TRUE(h.Read("crl/rotate").ok());
  auto crl = h.Read("crl");
  ASSERT_TRUE(crl.ok());
  EXPECT_EQ(testing::ParseCrl(crl->raw->body, h.Read("ca/pem")->raw->body).serials.size(), 3u);
}

TEST_F(CrlLimitTest, EnterpriseOnlyFlagsAreAcceptedOffAndRefusedOn) {
  Json before = h.Read("config/crl")->data;
  ASSERT_TRUE(h.Write("config/crl", {{"cross_cluster_revocation", false},
                                     {"unified_crl", false},
                                     {"unified_crl_on_existing_paths", false}})
                  .ok());
  EXPECT_EQ(h.Read("config/crl")->data, before);
  struct Case {
    Json body;
    const char* error;
  } cases[] = {
      {{{"cross_cluster_revocation", true}},
       "Global, cross-cluster revocation queue (cross_cluster_revocation) can only be enabled on Vault Enterprise."},
      {{{"unified_crl", true}, {"auto_rebuild", true}}, "unified_crl can only be enabled on Vault Enterprise"},
      {{{"unified_crl_on_existing_paths", true}},
       "unified_crl_on_existing_paths cannot be enabled if unified_crl is disabled"},
  };
  for (const auto& c : cases) {
    auto r = h.Write("config/crl", c.body);
    ASSERT_FALSE(r.ok()) << c.body.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
    EXPECT_EQ(r.status().message(), c.error);
    EXPECT_EQ(h.Read("config/crl")->data, before);
  }
}

}  // namespace
}  // namespace pki
