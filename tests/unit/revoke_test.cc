// revoke, revoke-with-key and LIST certs/revoked, with Vault's answers, and the revocation index CRLs stream.
#include <gtest/gtest.h>

#include "src/crypto/x509.h"
#include "src/pki/revocation.h"
#include "tests/unit/engine_harness.h"

namespace pki::testing {
namespace {

class RevokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = h.Write("root/generate/internal", {{"common_name", "Revoke Root"}, {"ttl", "8760h"}});
    ASSERT_TRUE(root.ok());
    root_serial = root->data["serial_number"];
    issuer_id = root->data["issuer_id"];
    ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
    ASSERT_TRUE(h.Write("roles/nostore", {{"allow_any_name", true}, {"key_type", "ec"}, {"no_store", true}}).ok());
  }

  Json Issue(const std::string& role, const std::string& ttl = "1h") {
    auto r = h.Write("issue/" + role, {{"common_name", "a.example.com"}, {"ttl", ttl}});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->data : Json::object();
  }

  std::string ErrorOf(const Result<Response>& r) { return r.ok() ? "" : r.status().message(); }

  EngineHarness h;
  std::string root_serial;
  std::string issuer_id;
};

TEST_F(RevokeTest, RevokeBySerialAnswersAsVaultAndIsIdempotent) {
  Json leaf = Issue("web");
  std::string serial = leaf["serial_number"];
  h.clock.Advance(10);
  auto r = h.Write("revoke", {{"serial_number", serial}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->data["revocation_time"], EngineHarness::kStart + 10);
  EXPECT_EQ(r->data["revocation_time_rfc3339"], FormatRfc3339(EngineHarness::kStart + 10));
  EXPECT_EQ(r->data["state"], "revoked");

  h.clock.Advance(10);
  std::string dashed = serial;
  for (auto& c : dashed) c = c == ':' ? '-' : c;
  auto again = h.Write("revoke", {{"serial_number", dashed}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->data["revocation_time"], EngineHarness::kStart + 10);

  auto cert = h.Read("cert/" + serial);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->data["revocation_time"], EngineHarness::kStart + 10);
  auto list = h.Call(Operation::kList, "certs/revoked");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->data["keys"], Json::array({serial}));
}

TEST_F(RevokeTest, RevocationAppendsToTheIssuersIndexAndCount) {
  RevocationStore store(&h.storage);
  const std::string group = h.CrlGroup(issuer_id);
  EXPECT_EQ(store.Sequence(group).value(), 0u);
  std::vector<std::string> serials;
  for (int i = 0; i < 3; ++i) {
    std::string s = Issue("web")["serial_number"];
    ASSERT_TRUE(h.Write("revoke", {{"serial_number", s}}).ok());
    serials.push_back(ParseSerial(s).value());
  }
  EXPECT_EQ(store.Sequence(group).value(), 6u);  // two steps per revocation, around the record
  std::vector<std::string> streamed;
  ASSERT_TRUE(store
                  .ForEachEntryBatch(group, 2,
                                     [&](const std::vector<std::pair<std::string, int64_t>>& batch) {
                                       for (const auto& [serial, t] : batch) {
                                         streamed.push_back(serial);
                                         EXPECT_EQ(t, EngineHarness::kStart);
                                       }
                                       return Status::Ok();
                                     })
                  .ok());
  std::sort(serials.begin(), serials.end(),
            [](const std::string& a, const std::string& b) { return HyphenSerial(a) < HyphenSerial(b); });
  EXPECT_EQ(streamed, serials);
}

TEST_F(RevokeTest, RefusalsUseVaultsTexts) {
  EXPECT_EQ(ErrorOf(h.Write("revoke", Json::object())), "The serial number or certificate to revoke must be provided.");
  Json leaf = Issue("web");
  EXPECT_EQ(ErrorOf(h.Write("revoke", {{"serial_number", leaf["serial_number"]}, {"certificate", leaf["certificate"]}})),
            "Must provide either the certificate or the serial to revoke; not both.");
  EXPECT_EQ(ErrorOf(h.Write("revoke", {{"serial_number", "01:02:03"}})), "certificate with serial 01:02:03 not found.");
  auto own = h.Write("revoke", {{"serial_number", root_serial}});
  EXPECT_EQ(own.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(ErrorOf(own), "adding issuer (id: " + issuer_id + ") to its own CRL is not allowed");
  EXPECT_EQ(ErrorOf(h.Write("revoke", {{"certificate", "/tmp/cert.pem"}})),
            "provided certificate data was too short; perhaps a path was passed to the API rather than the contents "
            "of a PEM file");
}

TEST_F(RevokeTest, ExpiredCertificateIsLeftOffWithAWarning) {
  Json leaf = Issue("web", "1h");
  h.clock.Advance(3600);
  auto r = h.Write("revoke", {{"serial_number", leaf["serial_number"]}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->data.empty());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0], "certificate with serial " + leaf["serial_number"].get<std::string>() +
                                " already expired; refusing to add to CRL");
  auto list = h.Call(Operation::kList, "certs/revoked");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->nil);
}

TEST_F(RevokeTest, PresentedNoStoreCertificateIsRecordedThenRevoked) {
  Json leaf = Issue("nostore");
  std::string serial = leaf["serial_number"];
  EXPECT_EQ(ErrorOf(h.Write("revoke", {{"serial_number", serial}})), "certificate with serial " + serial + " not found.");
  auto r = h.Write("revoke", {{"certificate", leaf["certificate"]}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->data["state"], "revoked");
  EXPECT_EQ(h.Read("cert/" + serial)->data["revocation_time"], EngineHarness::kStart);
}

TEST_F(RevokeTest, ForeignCertificateIsRefused) {
  EngineHarness other;
  ASSERT_TRUE(other.Write("root/generate/internal", {{"common_name", "Other Root"}}).ok());
  ASSERT_TRUE(other.Write("roles/web", {{"allow_any_name", true}}).ok());
  auto foreign = other.Write("issue/web", {{"common_name", "x.example.com"}});
  ASSERT_TRUE(foreign.ok());
  auto r = h.Write("revoke", {{"certificate", foreign->data["certificate"]}});
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(ErrorOf(r).find("unable to verify signature on presented cert"), std::string::npos);
}

TEST_F(RevokeTest, RevokeWithKeyNeedsTheMatchingKey) {
  Json leaf = Issue("web");
  Json other = Issue("web");
  EXPECT_EQ(ErrorOf(h.Write("revoke-with-key", {{"serial_number", leaf["serial_number"]}})),
            "Must have private key to revoke via the /revoke-with-key path.");
  auto wrong = h.Write("revoke-with-key", {{"serial_number", leaf["serial_number"]},
                                           {"private_key", other["private_key"]}});
  EXPECT_EQ(wrong.status().code(), StatusCode::kInternal);
  EXPECT_EQ(ErrorOf(wrong), "provided private key does not match certificate's public key");
  // A presented no_store certificate with the wrong key: refused, and no record is left behind.
  Json ghost = Issue("nostore");
  auto ghost_wrong = h.Write("revoke-with-key", {{"certificate", ghost["certificate"]}, {"private_key", other["private_key"]}});
  EXPECT_FALSE(ghost_wrong.ok());
  auto ghost_read = h.Read("cert/" + ghost["serial_number"].get<std::string>());
  ASSERT_TRUE(ghost_read.ok());
  EXPECT_TRUE(ghost_read->nil);
  auto ok = h.Write("revoke-with-key", {{"serial_number", leaf["serial_number"]}, {"private_key", leaf["private_key"]}});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->data["state"], "revoked");
}

}  // namespace
}  // namespace pki::testing
