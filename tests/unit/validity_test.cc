// TTL arithmetic as Vault's issuance computes it, with explicit times (no clock, no sleeping).
#include <gtest/gtest.h>

#include "src/pki/issuance.h"

namespace pki {
namespace {

constexpr int64_t kNow = 1767225600;

// A mount's TTLs that also counts how often the engine asks for them.
class CountingMount final : public SystemView {
 public:
  int64_t DefaultLeaseTtl() const override {
    ++asked;
    return def;
  }
  int64_t MaxLeaseTtl() const override {
    ++asked;
    return max;
  }
  int64_t def = 0;
  int64_t max = 0;
  mutable int asked = 0;
};

class Validity : public ::testing::Test {
 protected:
  ValidityInputs Mount(int64_t def, int64_t max) {
    mount_.def = def;
    mount_.max = max;
    ValidityInputs v;
    v.now = kNow;
    v.mount = &mount_;
    return v;
  }

 private:
  CountingMount mount_;
};

TEST_F(Validity, TheMountIsAskedOnlyWhenTheRequestAndRoleLeaveItOpen) {
  CountingMount m;
  m.def = 768 * 3600;
  m.max = 768 * 3600;
  ValidityInputs v;
  v.now = kNow;
  v.mount = &m;
  v.request_ttl = 3600;
  v.role_max_ttl = 7200;
  std::vector<std::string> w;
  EXPECT_EQ(*ComputeNotAfter(v, &w), kNow + 3600);
  EXPECT_EQ(m.asked, 0);
  v.role_max_ttl = 0;
  EXPECT_EQ(*ComputeNotAfter(v, &w), kNow + 3600);
  EXPECT_EQ(m.asked, 1);
}

TEST_F(Validity, PrecedenceRequestThenRoleThenMount) {
  std::vector<std::string> w;
  ValidityInputs v = Mount(768 * 3600, 768 * 3600);
  EXPECT_EQ(*ComputeNotAfter(v, &w), kNow + 768 * 3600);
  v.role_ttl = 3600;
  EXPECT_EQ(*ComputeNotAfter(v, &w), kNow + 3600);
  v.request_ttl = 60;
  EXPECT_EQ(*ComputeNotAfter(v, &w), kNow + 60);
  EXPECT_TRUE(w.empty());
}

TEST_F(Validity, CapsAtRoleMaxElseMountMaxWithWarning) {
  std::vector<std::string> w;
  ValidityInputs v = Mount(768 * 3600, 768 * 3600);
  v.request_ttl = 87600 * 3600;
  EXPECT_EQ(*ComputeNotAfter(v, &w), kNow + 768 * 3600);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "TTL \"87600h0m0s\" is longer than permitted maxTTL \"768h0m0s\", so maxTTL is being used");
  w.clear();
  v.role_max_ttl = 72 * 3600;
  EXPECT_EQ(*ComputeNotAfter(v, &w), kNow + 72 * 3600);
  // A role max above the mount's is honoured, as in Vault.
  v.role_max_ttl = 1000 * 3600;
  v.request_ttl = 900 * 3600;
  w.clear();
  EXPECT_EQ(*ComputeNotAfter(v, &w), kNow + 900 * 3600);
  EXPECT_TRUE(w.empty());
}

TEST_F(Validity, NotAfterWinsAndConflictsWithTtl) {
  std::vector<std::string> w;
  ValidityInputs v = Mount(3600, 3600);
  v.not_after = "2030-01-01T00:00:00Z";
  EXPECT_EQ(*ComputeNotAfter(v, &w), 1893456000);
  v.request_ttl = 60;
  auto both = ComputeNotAfter(v, &w);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().message(),
            "Either ttl or not_after should be provided. Both should not be provided in the same request.");
  v.request_ttl = 0;
  v.not_after = "tomorrow";
  EXPECT_EQ(ComputeNotAfter(v, &w).status().code(), StatusCode::kBadRequest);
}

TEST_F(Validity, LeafNotAfterBehavior) {
  EXPECT_EQ(*ApplyLeafNotAfterBehavior(kNow + 10, "err", kNow + 100), kNow + 10);
  EXPECT_EQ(*ApplyLeafNotAfterBehavior(kNow + 200, "truncate", kNow + 100), kNow + 100);
  EXPECT_EQ(*ApplyLeafNotAfterBehavior(kNow + 200, "permit", kNow + 100), kNow + 200);
  auto err = ApplyLeafNotAfterBehavior(kNow + 200, "err", kNow + 100);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().message(),
            "cannot satisfy request, as TTL would result in notAfter of 2026-01-01T00:03:20Z that is beyond the "
            "expiration of the CA certificate at 2026-01-01T00:01:40Z");
}

TEST(Subject, GoOrder) {
  SubjectFields f;
  f.common_name = "cn";
  f.organization = {"O1"};
  f.country = {"US"};
  f.user_ids = {"u1"};
  DistinguishedName dn = BuildSubject(f);
  ASSERT_EQ(dn.size(), 4u);
  EXPECT_EQ(dn[0].first, "C");
  EXPECT_EQ(dn[1].first, "O");
  EXPECT_EQ(dn[2].first, "CN");
  EXPECT_EQ(dn[3].first, "UID");
}

}  // namespace
}  // namespace pki
