// Roles with generate_lease: the issued certificate comes with a leased secret, and the host's lease revocation
// (a kRevoke request carrying the secret's internal data) revokes the certificate.
#include <gtest/gtest.h>

#include "tests/unit/engine_harness.h"

namespace pki::testing {
namespace {

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.Write("root/generate/internal", {{"common_name", "Lease Root"}, {"ttl", "8760h"}}).ok());
    ASSERT_TRUE(h.Write("roles/leased", {{"allow_any_name", true}, {"generate_lease", true}}).ok());
    ASSERT_TRUE(h.Write("roles/plain", {{"allow_any_name", true}}).ok());
  }

  Result<Response> Revoke(Json internal) {
    Request req;
    req.operation = Operation::kRevoke;
    req.path = "issue/leased";
    req.secret_internal_data = std::move(internal);
    return h.backend->HandleRequest(req);
  }

  int64_t RevocationTime(const std::string& serial) {
    Result<Response> r = h.Read("cert/" + serial);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->data["revocation_time"].get<int64_t>() : -1;
  }

  EngineHarness h;
};

TEST_F(LeaseTest, LeasedIssueCarriesTheSerialAndTheCertificateLifetime) {
  Result<Response> r = h.Write("issue/leased", {{"common_name", "a.example.com"}, {"ttl", "2h"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->lease.has_value());
  EXPECT_EQ(r->lease->secret_type, "pki");
  EXPECT_EQ(r->lease->ttl_seconds, 2 * 3600);
  EXPECT_FALSE(r->lease->renewable);
  EXPECT_EQ(r->lease->internal_data["serial_number"], r->data["serial_number"]);

  Result<Response> plain = h.Write("issue/plain", {{"common_name", "b.example.com"}});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->lease.has_value());
}

TEST_F(LeaseTest, RevokingTheLeaseRevokesTheCertificateOnce) {
  Result<Response> r = h.Write("issue/leased", {{"common_name", "a.example.com"}, {"ttl", "2h"}});
  ASSERT_TRUE(r.ok());
  std::string serial = r->data["serial_number"];
  EXPECT_EQ(RevocationTime(serial), 0);

  h.clock.Advance(60);
  Json internal = r->lease->internal_data;
  internal["secret_type"] = "pki";
  ASSERT_TRUE(Revoke(internal).ok());
  EXPECT_EQ(RevocationTime(serial), EngineHarness::kStart + 60);

  // A second revocation keeps the first time.
  h.clock.Advance(60);
  ASSERT_TRUE(Revoke(internal).ok());
  EXPECT_EQ(RevocationTime(serial), EngineHarness::kStart + 60);
}

TEST_F(LeaseTest, AnExpiredCertificateIsLeftAlone) {
  Result<Response> r = h.Write("issue/leased", {{"common_name", "a.example.com"}, {"ttl", "1h"}});
  ASSERT_TRUE(r.ok());
  h.clock.Advance(7200);
  Json internal = {{"secret_type", "pki"}, {"serial_number", r->data["serial_number"]}};
  ASSERT_TRUE(Revoke(internal).ok());
  EXPECT_EQ(RevocationTime(r->data["serial_number"]), 0);
}

TEST_F(LeaseTest, ForeignSecretsAreRefused) {
  EXPECT_EQ(Revoke({{"secret_type", "kv"}, {"serial_number", "01"}}).status().code(),
            StatusCode::kUnsupportedOperation);
  EXPECT_EQ(Revoke({{"secret_type", "pki"}}).status().code(), StatusCode::kInternal);
  // A serial the mount no longer has (tidied) revokes nothing and is not an error.
  EXPECT_TRUE(Revoke({{"secret_type", "pki"}, {"serial_number", "01:02"}}).ok());
}

}  // namespace
}  // namespace pki::testing
