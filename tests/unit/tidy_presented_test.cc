// Certificates presented to revoke as PEM (`certificate`) that the mount does not hold, against tidy's invariant
// (src/pki/tidy.h: where batches are atomic, a due expiry entry of a certificate not revoked names its record):
// two distinct certificates with one serial signed by the mount's issuer (an issuer that reused a serial, as
// `openssl x509 -set_serial` does), the first revoked and its record removed by tidy_cert_store (revocation and
// expiry entry kept). Presenting the second must not store a record beside that entry. Found by review.
#include <gtest/gtest.h>

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"
#include "tests/unit/engine_harness.h"

namespace pki::testing {
namespace {

constexpr int64_t kStart = EngineHarness::kStart;

struct Fixture {
  EngineHarness h{NoBackgroundCheck()};
  ossl::X509Ptr ca;
  ossl::PKey ca_key;
  ossl::PKey leaf_key;
  const std::string serial = std::string("\x0a\x0b\x0c\x0d", 4);

  void SetUp() {
    auto root = h.Write("root/generate/exported", {{"common_name", "R"}, {"key_type", "ec"}, {"ttl", "87600h"}});
    ASSERT_TRUE(root.ok()) << root.status().message();
    ca = ParseCertificatePem(root->data["certificate"].get<std::string>()).value();
    ca_key = ParsePrivateKeyPem(root->data["private_key"].get<std::string>()).value();
    leaf_key = GenerateKey(KeyType::kEc, 256).value();
  }
  std::string Make(int64_t not_after, const std::string& cn) {
    CertTemplate t;
    t.subject = {{"CN", cn}};
    t.serial = serial;
    t.not_before = kStart - 60;
    t.not_after = not_after;
    t.public_key = leaf_key.get();
    auto c = SignCertificate(t, ca.get(), ca_key.get());
    EXPECT_TRUE(c.ok()) << c.status().message();
    return CertificatePem(c->get());
  }
  Result<Response> RevokePem(const std::string& pem) { return h.Write("revoke", {{"certificate", pem}}); }
  void Tidy(Json params) {
    auto r = h.Write("tidy", std::move(params));
    ASSERT_TRUE(r.ok()) << r.status().message();
    h.backend->WaitForTidy();
  }
  int64_t Records() {
    std::vector<std::string> keys;
    EXPECT_TRUE(h.storage.List("certs/", "", 0, &keys).ok());
    return static_cast<int64_t>(keys.size());
  }
  int64_t Counted() { return CertStore(&h.storage).Count().value(); }
};

// Without the check the second certificate's record was stored beside the first's kept entry, and a later tidy
// counted a removal of no record (the count ended one below the records).
TEST(TidyPresented, ASerialRevokedWithoutItsRecordIsAnsweredWithoutStoringAnother) {
  Fixture f;
  f.SetUp();
  const std::string x1 = f.Make(kStart + 1000, "one.example");
  const std::string x2 = f.Make(kStart + 500, "two.example");  // same serial, earlier notAfter
  auto r1 = f.RevokePem(x1);
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  ASSERT_EQ(r1->data["state"], "revoked");
  EXPECT_EQ(f.Records(), 2);  // the root's and x1's
  f.h.clock.Advance(2000);
  f.Tidy({{"tidy_cert_store", true}, {"safety_buffer", 1}});  // x1's record goes; its revocation and entry stay
  EXPECT_EQ(f.Records(), 1);
  EXPECT_EQ(f.Counted(), 1);
  auto r2 = f.RevokePem(x2);  // answered with the revocation in force, nothing stored
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_EQ(r2->data["state"], "revoked");
  EXPECT_EQ(r2->data["revocation_time"], r1->data["revocation_time"]);
  EXPECT_EQ(f.Records(), 1);
  EXPECT_EQ(f.Counted(), 1);
  f.Tidy({{"tidy_cert_store", true}, {"tidy_revoked_certs", true}, {"safety_buffer", 1}});
  EXPECT_EQ(f.Records(), 1);  // the root's
  EXPECT_EQ(f.Counted(), f.Records()) << "index/count/certs/* no longer match certs/";
  auto st = f.h.Read("tidy-status");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->data["cert_store_deleted_count"], 0) << st->data.dump();
  EXPECT_EQ(st->data["revoked_cert_deleted_count"], 1) << st->data.dump();
  EXPECT_EQ(st->data["current_cert_store_count"], 1) << st->data.dump();
}

// Without the check a stale entry of the first certificate, left without a revocation, deleted a later record
// with the same serial while it was still inside the safety buffer.
TEST(TidyPresented, NoStaleEntryCanTakeARecordNotYetDue) {
  Fixture f;
  f.SetUp();
  const std::string x1 = f.Make(kStart + 1000, "one.example");
  const std::string x3 = f.Make(kStart + 500, "three.example");
  ASSERT_TRUE(f.RevokePem(x1).ok());
  f.h.clock.Advance(2000);  // now = kStart + 2000
  f.Tidy({{"tidy_cert_store", true}, {"safety_buffer", 1}});
  auto r3 = f.RevokePem(x3);  // the revocation in force answers; nothing stored
  ASSERT_TRUE(r3.ok()) << r3.status().message();
  EXPECT_EQ(r3->data["state"], "revoked");
  f.Tidy({{"tidy_revoked_certs", true}, {"safety_buffer", 1}});  // the revocation and x1's entry go
  ASSERT_EQ(f.Records(), 1);
  // x2 expired a minute ago: revoke stores its record and answers with Vault's "already expired" warning; with a
  // safety buffer of an hour its record is not due for tidy yet.
  const std::string x2 = f.Make(kStart + 2000 - 60, "two.example");
  auto r = f.RevokePem(x2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->warnings.empty());
  ASSERT_EQ(f.Records(), 2);
  f.Tidy({{"tidy_cert_store", true}, {"safety_buffer", 600}});  // cutoff now-600: x1's entry due, x2's not
  EXPECT_EQ(f.Records(), 2) << "x2's record (notAfter now-60, inside the safety buffer) was deleted";
  EXPECT_EQ(f.Counted(), f.Records());
  f.h.clock.Advance(3600);
  f.Tidy({{"tidy_cert_store", true}, {"safety_buffer", 600}});
  EXPECT_EQ(f.Records(), 1);
  EXPECT_EQ(f.Counted(), f.Records()) << "index/count/certs/* no longer match certs/";
}

}  // namespace
}  // namespace pki::testing

namespace pki::testing {
namespace {

// Revoking, as PEM, an issuer's own certificate that the mount never stored is refused, and stores nothing.
TEST(TidyPresented, ARefusedRevocationOfAnIssuersCertificateStoresNothing) {
  Fixture f;
  f.SetUp();
  CertTemplate t;
  t.subject = {{"CN", "Imported Intermediate"}};
  t.serial = std::string("\x42\x42\x42", 3);
  t.not_before = kStart - 60;
  t.not_after = kStart + 86400 * 30;
  t.public_key = f.leaf_key.get();
  t.is_ca = true;
  t.basic_constraints = true;
  t.key_usage = 0;
  auto inter = SignCertificate(t, f.ca.get(), f.ca_key.get());
  ASSERT_TRUE(inter.ok()) << inter.status().message();
  const std::string pem = CertificatePem(inter->get());
  auto imported = f.h.Write("issuers/import/cert", {{"pem_bundle", pem}});
  ASSERT_TRUE(imported.ok()) << imported.status().message();
  const int64_t before = f.Records();
  auto r = f.RevokePem(pem);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("to its own CRL is not allowed"), std::string::npos) << r.status().message();
  EXPECT_EQ(f.Records(), before) << "the refused request stored a certs/ record";
}

}  // namespace
}  // namespace pki::testing
