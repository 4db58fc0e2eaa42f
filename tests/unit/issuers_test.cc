// Multiple issuers and keys: rotation, default changes, per-issuer issuance and CRLs, cross-signing, issuer and key
// management paths, with OpenSSL verifying chains against one trust anchor at a time.
#include <gtest/gtest.h>

#include <openssl/x509_vfy.h>

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"
#include "src/pki/issuer_chain.h"
#include "tests/unit/engine_harness.h"

namespace pki {
namespace {

using testing::EngineHarness;

// Whether `leaf_pem` verifies to `anchor_pem` (the only trusted certificate) through any of `chain`.
bool VerifiesTo(const std::string& leaf_pem, const std::vector<std::string>& chain, const std::string& anchor_pem,
                int64_t at) {
  return testing::VerifiesTo(leaf_pem, {anchor_pem}, chain, at);
}

std::string IssuerOf(const std::string& pem) {
  auto c = ParseCertificatePem(pem);
  return c.ok() ? InspectCertificate(c->get()).issuer_der : "";
}

std::string SubjectOf(const std::string& pem) {
  auto c = ParseCertificatePem(pem);
  return c.ok() ? InspectCertificate(c->get()).subject_der : "";
}

std::vector<std::string> Strings(const Json& j) {
  std::vector<std::string> out;
  for (const auto& v : j) out.push_back(v.get<std::string>());
  return out;
}

class IssuersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.system.max_ttl = 87600 * 3600;
    auto root = h.Write("root/generate/internal",
                        {{"common_name", "Root A"}, {"key_type", "ec"}, {"ttl", "8760h"}, {"issuer_name", "a"}});
    ASSERT_TRUE(root.ok()) << root.status().message();
    a_id = root->data["issuer_id"];
    a_pem = root->data["certificate"];
    auto role = h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}, {"max_ttl", "72h"}});
    ASSERT_TRUE(role.ok()) << role.status().message();
  }

  // Rotates in a new root named `name`; returns its id.
  std::string Rotate(const std::string& name, const std::string& cn) {
    auto r = h.Write("root/rotate/internal",
                     {{"common_name", cn}, {"key_type", "ec"}, {"ttl", "8760h"}, {"issuer_name", name}});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->data["issuer_id"].get<std::string>() : "";
  }

  Json Issue(const std::string& path) {
    auto r = h.Write(path, {{"common_name", "svc.example.com"}, {"ttl", "1h"}});
    EXPECT_TRUE(r.ok()) << path << ": " << r.status().message();
    return r.ok() ? r->data : Json();
  }

  EngineHarness h;
  std::string a_id, a_pem;
};

TEST_F(IssuersTest, RotateKeepsDefaultUntilReplaced) {
  std::string b_id = Rotate("next", "Root B");
  auto list = h.Call(Operation::kList, "issuers");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->data["keys"].size(), 2u);
  EXPECT_TRUE(list->data["key_info"][a_id]["is_default"].get<bool>());
  EXPECT_FALSE(list->data["key_info"][b_id]["is_default"].get<bool>());
  EXPECT_EQ(list->data["key_info"][b_id]["issuer_name"], "next");

  // Still signed by A; then root/replace (default "next") moves the default to B.
  EXPECT_EQ(IssuerOf(Issue("issue/web")["certificate"]), SubjectOf(a_pem));
  auto replaced = h.Write("root/replace", Json::object());
  ASSERT_TRUE(replaced.ok()) << replaced.status().message();
  EXPECT_EQ(replaced->data["default"], b_id);
  auto b = h.Read("issuer/default/json");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->data["issuer_id"], b_id);
  Json leaf = Issue("issue/web");
  EXPECT_EQ(IssuerOf(leaf["certificate"]), SubjectOf(b->data["certificate"]));
  EXPECT_TRUE(VerifiesTo(leaf["certificate"], Strings(leaf["ca_chain"]), b->data["certificate"], h.clock.Now()));

  // The path's issuer beats the role's; a role naming A keeps issuing from A.
  EXPECT_EQ(IssuerOf(Issue("issuer/a/issue/web")["certificate"]), SubjectOf(a_pem));
  ASSERT_TRUE(h.Write("roles/legacy", {{"allow_any_name", true}, {"key_type", "ec"}, {"issuer_ref", "a"}}).ok());
  EXPECT_EQ(IssuerOf(Issue("issue/legacy")["certificate"]), SubjectOf(a_pem));
  EXPECT_EQ(IssuerOf(Issue("issuer/" + b_id + "/issue/legacy")["certificate"]), SubjectOf(b->data["certificate"]));
}

TEST_F(IssuersTest, DefaultFollowsLatestIssuer) {
  auto cfg = h.Write("config/issuers", {{"default", "a"}, {"default_follows_latest_issuer", true}});
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  std::string b_id = Rotate("b", "Root B");
  auto read = h.Read("config/issuers");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data["default"], b_id);
  EXPECT_TRUE(read->data["default_follows_latest_issuer"].get<bool>());
  EXPECT_FALSE(h.Write("config/issuers", {{"default", "default"}}).ok());
  EXPECT_FALSE(h.Write("config/issuers", {{"default", "nope"}}).ok());
}

TEST_F(IssuersTest, CrossSignedIntermediateVerifiesToEitherRoot) {
  std::string b_id = Rotate("b", "Root B");
  auto b = h.Read("issuer/b/json");
  ASSERT_TRUE(b.ok());
  const std::string b_pem = b->data["certificate"];

  // The intermediate's key and CSR, signed by A.
  auto csr = h.Write("issuers/generate/intermediate/internal",
                     {{"common_name", "Intermediate"}, {"key_type", "ec"}, {"key_name", "int-key"}});
  ASSERT_TRUE(csr.ok()) << csr.status().message();
  auto signed_a = h.Write("issuer/a/sign-intermediate", {{"csr", csr->data["csr"]}, {"ttl", "4380h"}});
  ASSERT_TRUE(signed_a.ok()) << signed_a.status().message();
  auto imported = h.Write("intermediate/set-signed", {{"certificate", signed_a->data["certificate"]}});
  ASSERT_TRUE(imported.ok()) << imported.status().message();
  std::string int_a = imported->data["imported_issuers"][0];

  // Cross-sign: a CSR from the same key and subject, signed by B.
  auto cross = h.Write("intermediate/cross-sign", {{"common_name", "Intermediate"}, {"key_ref", "int-key"}});
  ASSERT_TRUE(cross.ok()) << cross.status().message();
  auto signed_b = h.Write("issuer/b/sign-intermediate", {{"csr", cross->data["csr"]}, {"ttl", "4380h"}});
  ASSERT_TRUE(signed_b.ok()) << signed_b.status().message();
  auto imported_b = h.Write("issuers/import/cert", {{"pem_bundle", signed_b->data["certificate"]}});
  ASSERT_TRUE(imported_b.ok()) << imported_b.status().message();
  std::string int_b = imported_b->data["imported_issuers"][0];
  EXPECT_EQ(imported_b->data["mapping"][int_b], imported->data["mapping"][int_a]);  // same key

  // The chain of either twin reaches both roots.
  auto chain = h.Read("issuer/" + int_a);
  ASSERT_TRUE(chain.ok());
  std::vector<std::string> ca_chain = Strings(chain->data["ca_chain"]);
  ASSERT_EQ(ca_chain.size(), 4u);
  EXPECT_EQ(ca_chain[0], chain->data["certificate"]);
  EXPECT_NE(std::find(ca_chain.begin(), ca_chain.end(), a_pem), ca_chain.end());
  EXPECT_NE(std::find(ca_chain.begin(), ca_chain.end(), b_pem), ca_chain.end());

  ASSERT_TRUE(h.Write("roles/inter", {{"allow_any_name", true}, {"key_type", "ec"}, {"issuer_ref", int_a}}).ok());
  Json leaf = Issue("issue/inter");
  std::vector<std::string> leaf_chain = Strings(leaf["ca_chain"]);
  // OpenSSL takes the first intermediate whose subject matches and does not backtrack among untrusted
  // certificates, so each relying party is handed the path to its own anchor: both paths are in the chain.
  auto path_to = [&](const std::string& anchor) {
    std::vector<std::string> path;
    for (const auto& pem : leaf_chain) {
      if (pem == anchor || (IssuerOf(pem) == SubjectOf(anchor) && SubjectOf(pem) != SubjectOf(anchor))) {
        path.push_back(pem);
      }
    }
    return path;
  };
  EXPECT_EQ(path_to(a_pem).size(), 2u);
  EXPECT_EQ(path_to(b_pem).size(), 2u);
  EXPECT_TRUE(VerifiesTo(leaf["certificate"], path_to(a_pem), a_pem, h.clock.Now()));
  EXPECT_TRUE(VerifiesTo(leaf["certificate"], path_to(b_pem), b_pem, h.clock.Now()));
  EXPECT_TRUE(VerifiesTo(leaf["certificate"], leaf_chain, a_pem, h.clock.Now()));
  (void)b_id;
}

// cross-sign always uses an existing key: a trailing slash or a body "type" does not make it generate one (the
// handler once told cross-sign apart by comparing the raw path, so "intermediate/cross-sign/" generated an RSA key).
TEST_F(IssuersTest, CrossSignNeverGeneratesAKey) {
  const std::string root_key = h.Read("issuer/a")->data["key_id"];
  for (const char* path : {"intermediate/cross-sign", "intermediate/cross-sign/", "intermediate/cross-sign//"}) {
    auto csr = h.Write(path, {{"common_name", "X"}, {"type", "internal"}, {"key_ref", root_key}});
    ASSERT_TRUE(csr.ok()) << path << ": " << csr.status().message();
    EXPECT_EQ(csr->data["key_id"], root_key) << path;
  }
  auto list = h.Call(Operation::kList, "keys");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->data["keys"].size(), 1u);
}

TEST_F(IssuersTest, UpdateAndPatchIssuer) {
  auto patched = h.Call(Operation::kPatch, "issuer/a", {{"issuer_name", "root-2026"}});
  ASSERT_TRUE(patched.ok()) << patched.status().message();
  EXPECT_EQ(patched->data["issuer_name"], "root-2026");
  EXPECT_EQ(patched->data["leaf_not_after_behavior"], "err");
  EXPECT_EQ(patched->data["usage"], "read-only,issuing-certificates,crl-signing,ocsp-signing");
  EXPECT_FALSE(h.Read("issuer/a").ok());
  EXPECT_TRUE(h.Read("issuer/root-2026").ok());

  auto bad = h.Call(Operation::kPatch, "issuer/root-2026", {{"leaf_not_after_behavior", "sometimes"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  EXPECT_FALSE(h.Call(Operation::kPatch, "issuer/root-2026", {{"usage", "read-only,flying"}}).ok());
  EXPECT_FALSE(h.Call(Operation::kPatch, "issuer/root-2026", {{"manual_chain", "nope"}}).ok());
  EXPECT_FALSE(h.Call(Operation::kPatch, "issuer/root-2026", {{"ocsp_servers", "not a url"}}).ok());
  EXPECT_FALSE(
      h.Call(Operation::kPatch, "issuer/root-2026", {{"revocation_signature_algorithm", "SHA256WithRSA"}}).ok());
  auto alg = h.Call(Operation::kPatch, "issuer/root-2026", {{"revocation_signature_algorithm", "ecdsawithsha384"}});
  ASSERT_TRUE(alg.ok()) << alg.status().message();
  EXPECT_EQ(alg->data["revocation_signature_algorithm"], "ECDSAWithSHA384");

  // Per-issuer AIA URLs replace config/urls in what the issuer signs.
  ASSERT_TRUE(h.Write("config/urls", {{"ocsp_servers", "http://mount.example/ocsp"}}).ok());
  auto aia = h.Call(Operation::kPatch, "issuer/root-2026", {{"ocsp_servers", "http://issuer.example/ocsp"}});
  ASSERT_TRUE(aia.ok()) << aia.status().message();
  std::string leaf = Issue("issue/web")["certificate"];
  auto der = CertificateDer(ParseCertificatePem(leaf)->get());
  EXPECT_NE(der.find("http://issuer.example/ocsp"), std::string::npos);
  EXPECT_EQ(der.find("http://mount.example/ocsp"), std::string::npos);

  // Taking away the issuing usage stops issuance with Vault's message; POST resets unspecified fields.
  auto ro = h.Call(Operation::kPatch, "issuer/root-2026", {{"usage", "read-only,crl-signing"}});
  ASSERT_TRUE(ro.ok()) << ro.status().message();
  auto refused = h.Write("issue/web", {{"common_name", "x.example.com"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(refused.status().message().find("requested usage issuing-certificates"), std::string::npos);
  auto reset = h.Write("issuer/root-2026", Json::object());
  ASSERT_TRUE(reset.ok()) << reset.status().message();
  EXPECT_EQ(reset->data["issuer_name"], "");
  EXPECT_EQ(reset->data["usage"], "read-only,issuing-certificates,crl-signing,ocsp-signing");
  EXPECT_TRUE(reset->data["ocsp_servers"].empty());
  EXPECT_TRUE(h.Write("issue/web", {{"common_name", "x.example.com"}}).ok());
}

TEST_F(IssuersTest, ManualChainReplacesBuiltChain) {
  std::string b_id = Rotate("b", "Root B");
  auto set = h.Call(Operation::kPatch, "issuer/a", {{"manual_chain", Json::array({"self", "b"})}});
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->data["manual_chain"], Json::array({a_id, b_id}));
  EXPECT_EQ(set->data["ca_chain"].size(), 2u);
  auto wrong = h.Call(Operation::kPatch, "issuer/a", {{"manual_chain", Json::array({"b"})}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("expected first cert in chain to be a self-reference"), std::string::npos);
  auto cleared = h.Call(Operation::kPatch, "issuer/a", {{"manual_chain", Json::array()}});
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->data["ca_chain"].size(), 1u);
}

TEST_F(IssuersTest, DeleteIssuerKeepsKeyAndClearsDefault) {
  auto key_id = h.Read("issuer/a")->data["key_id"].get<std::string>();
  auto del = h.Call(Operation::kDelete, "issuer/a");
  ASSERT_TRUE(del.ok()) << del.status().message();
  ASSERT_EQ(del->warnings.size(), 1u);
  EXPECT_EQ(h.Read("config/issuers")->data["default"], "");
  EXPECT_FALSE(h.Write("issue/web", {{"common_name", "x.example.com"}}).ok());
  EXPECT_TRUE(h.Call(Operation::kDelete, "issuer/a").ok());  // already gone: as if deleted
  auto key = h.Read("key/" + key_id);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->data["key_type"], "ec");
  EXPECT_EQ(key->data["subject_key_id"].get<std::string>().size(), 20u * 3 - 1);

  // The key can sign a new root (type existing) and, once unused, be deleted.
  auto again = h.Write("issuers/generate/root/existing", {{"common_name", "Root A2"}, {"key_ref", key_id}});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->data["key_id"], key_id);
  auto in_use = h.Call(Operation::kDelete, "key/" + key_id);
  ASSERT_FALSE(in_use.ok());
  EXPECT_NE(in_use.status().message().find("Key in Use by Issuer"), std::string::npos);
  ASSERT_TRUE(h.Call(Operation::kDelete, "issuer/" + again->data["issuer_id"].get<std::string>()).ok());
  ASSERT_TRUE(h.Call(Operation::kDelete, "key/" + key_id).ok());
  EXPECT_FALSE(h.Read("key/" + key_id).ok());
}

TEST_F(IssuersTest, KeysGenerateImportRenameAndDefault) {
  auto gen = h.Write("keys/generate/exported", {{"key_type", "ec"}, {"key_name", "spare"}});
  ASSERT_TRUE(gen.ok()) << gen.status().message();
  ASSERT_TRUE(gen->data.contains("private_key"));
  std::string spare = gen->data["key_id"];
  EXPECT_FALSE(h.Write("keys/generate/internal", {{"key_type", "ec"}, {"key_name", "spare"}}).ok());  // name taken
  EXPECT_FALSE(h.Write("keys/generate/kms", {{"key_type", "ec"}}).ok());

  auto imported = h.Write("keys/import", {{"pem_bundle", gen->data["private_key"]}, {"key_name", "again"}});
  ASSERT_TRUE(imported.ok()) << imported.status().message();
  EXPECT_EQ(imported->data["key_id"], spare);
  ASSERT_EQ(imported->warnings.size(), 1u);
  EXPECT_FALSE(h.Write("keys/import", {{"pem_bundle", "short"}}).ok());

  auto renamed = h.Write("key/spare", {{"key_name", "reserve"}});
  ASSERT_TRUE(renamed.ok()) << renamed.status().message();
  EXPECT_TRUE(h.Read("key/reserve").ok());

  auto list = h.Call(Operation::kList, "keys");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->data["keys"].size(), 2u);
  std::string first_default = h.Read("config/keys")->data["default"];
  EXPECT_NE(first_default, spare);  // the root's key came first
  auto set = h.Write("config/keys", {{"default", "reserve"}});
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(h.Read("config/keys")->data["default"], spare);
  // type=existing without key_ref uses the default key.
  auto root = h.Write("root/generate/existing", {{"common_name", "On Spare"}});
  ASSERT_TRUE(root.ok()) << root.status().message();
  EXPECT_EQ(root->data["key_id"], spare);
}

TEST_F(IssuersTest, RevokedIntermediateJoinsParentCrlAndStopsIssuing) {
  auto csr = h.Write("intermediate/generate/internal", {{"common_name", "Int"}, {"key_type", "ec"}});
  ASSERT_TRUE(csr.ok());
  auto signed_int = h.Write("root/sign-intermediate", {{"csr", csr->data["csr"]}, {"ttl", "4380h"}});
  ASSERT_TRUE(signed_int.ok());
  auto imported = h.Write("intermediate/set-signed", {{"certificate", signed_int->data["certificate"]}});
  ASSERT_TRUE(imported.ok());
  std::string int_id = imported->data["imported_issuers"][0];

  auto revoked = h.Write("issuer/" + int_id + "/revoke");
  ASSERT_TRUE(revoked.ok()) << revoked.status().message();
  EXPECT_TRUE(revoked->data["revoked"].get<bool>());
  EXPECT_EQ(revoked->data["usage"], "read-only,crl-signing,ocsp-signing");
  EXPECT_FALSE(h.Write("issuer/" + int_id + "/issue/web", {{"common_name", "x.example.com"}}).ok());
  auto restore = h.Call(Operation::kPatch, "issuer/" + int_id, {{"usage", "issuing-certificates"}});
  EXPECT_FALSE(restore.ok());

  auto crl = h.Read("issuer/a/crl/der");
  ASSERT_TRUE(crl.ok());
  testing::ParsedCrl parent = testing::ParseCrl(crl->raw->body, a_pem);
  ASSERT_TRUE(parent.verified);
  ASSERT_EQ(parent.serials.size(), 1u);
  // The intermediate's own CRL exists and is empty.
  auto own = h.Read("issuer/" + int_id + "/crl");
  ASSERT_TRUE(own.ok()) << own.status().message();
  EXPECT_NE(own->data["crl"].get<std::string>().find("BEGIN X509 CRL"), std::string::npos);
}

TEST_F(IssuersTest, AddingAnIssuerDoesNotRebuildOtherCrls) {
  Json leaf = Issue("issue/web");
  ASSERT_TRUE(h.Write("revoke", {{"serial_number", leaf["serial_number"]}}).ok());
  auto before = h.Read("issuer/a/crl/der");
  ASSERT_TRUE(before.ok());
  Rotate("b", "Root B");
  auto after = h.Read("issuer/a/crl/der");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(before->raw->body, after->raw->body);  // same CRL: same number, not rebuilt
  auto b_crl = h.Read("issuer/b/crl/der");
  ASSERT_TRUE(b_crl.ok());
  testing::ParsedCrl b_parsed = testing::ParseCrl(b_crl->raw->body, h.Read("issuer/b/json")->data["certificate"]);
  ASSERT_TRUE(b_parsed.verified);
  EXPECT_TRUE(b_parsed.serials.empty());  // A's revocation is A's alone
}

TEST_F(IssuersTest, ImportCertRefusesKeysAndDeleteRootRemovesAll) {
  auto exported = h.Write("keys/generate/exported", {{"key_type", "ec"}});
  ASSERT_TRUE(exported.ok());
  auto refused = h.Write("issuers/import/cert", {{"pem_bundle", a_pem + "\n" + exported->data["private_key"].get<std::string>()}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("use /issuers/import/bundle"), std::string::npos);
  auto same = h.Write("issuers/import/cert", {{"pem_bundle", a_pem}});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->data["existing_issuers"][0], a_id);

  auto del = h.Call(Operation::kDelete, "root");
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->warnings.size(), 1u);
  auto issuers = h.Call(Operation::kList, "issuers");
  ASSERT_TRUE(issuers.ok());
  EXPECT_TRUE(issuers->data["keys"].empty());
  EXPECT_TRUE(h.Call(Operation::kList, "keys")->data["keys"].empty());
}

TEST_F(IssuersTest, ListIssuersPages) {
  std::vector<std::string> ids = {a_id};
  for (int i = 0; i < 4; ++i) ids.push_back(Rotate("r" + std::to_string(i), "Root " + std::to_string(i)));
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> seen;
  std::string after;
  while (true) {
    auto page = h.Call(Operation::kList, "issuers", {{"after", after}, {"limit", 2}});
    ASSERT_TRUE(page.ok());
    if (page->data["keys"].empty()) break;
    EXPECT_LE(page->data["keys"].size(), 2u);
    for (const auto& k : page->data["keys"]) seen.push_back(k);
    after = seen.back();
  }
  EXPECT_EQ(seen, ids);
}

// Many reissues of one root (same subject and key): each chain holds the group once, and building all chains
// checks one signature per (certificate, candidate group), not per pair of certificates.
TEST(IssuerChainTest, ReissuedRootsShareOneGroup) {
  EngineHarness h;
  auto root = h.Write("root/generate/internal", {{"common_name", "Same"}, {"key_type", "ec"}, {"key_name", "k"}});
  ASSERT_TRUE(root.ok());
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(h.Write("root/generate/existing", {{"common_name", "Same"}, {"key_ref", "k"}}).ok());
  }
  auto read = h.Read("issuer/default");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data["ca_chain"].size(), 41u);
  std::set<std::string> unique(read->data["ca_chain"].begin(), read->data["ca_chain"].end());
  EXPECT_EQ(unique.size(), 41u);
}

TEST(IssuerChainTest, CyclesEnd) {
  // Two roots cross-signing each other: each chain lists every certificate once.
  EngineHarness h;
  h.system.max_ttl = 87600 * 3600;
  auto a = h.Write("root/generate/internal", {{"common_name", "A"}, {"key_type", "ec"}, {"key_name", "ka"}});
  auto b = h.Write("root/rotate/internal", {{"common_name", "B"}, {"key_type", "ec"}, {"key_name", "kb"}});
  ASSERT_TRUE(a.ok() && b.ok());
  auto csr_a = h.Write("intermediate/cross-sign", {{"common_name", "A"}, {"key_ref", "ka"}});
  auto csr_b = h.Write("intermediate/cross-sign", {{"common_name", "B"}, {"key_ref", "kb"}});
  ASSERT_TRUE(csr_a.ok() && csr_b.ok());
  auto a_by_b = h.Write("issuer/" + b->data["issuer_id"].get<std::string>() + "/sign-intermediate",
                        {{"csr", csr_a->data["csr"]}, {"ttl", "1000h"}});
  auto b_by_a = h.Write("issuer/" + a->data["issuer_id"].get<std::string>() + "/sign-intermediate",
                        {{"csr", csr_b->data["csr"]}, {"ttl", "1000h"}});
  ASSERT_TRUE(a_by_b.ok() && b_by_a.ok());
  ASSERT_TRUE(h.Write("issuers/import/cert", {{"pem_bundle", a_by_b->data["certificate"].get<std::string>() + "\n" +
                                                                 b_by_a->data["certificate"].get<std::string>()}})
                  .ok());
  auto list = h.Call(Operation::kList, "issuers");
  ASSERT_TRUE(list.ok());
  for (const auto& id : list->data["keys"]) {
    auto read = h.Read("issuer/" + id.get<std::string>());
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->data["ca_chain"].size(), 4u) << id;
  }
}

}  // namespace
}  // namespace pki

namespace pki {
namespace {

TEST(ExpiredIssuers, DeletedPastCutoffExceptDefault) {
  testing::EngineHarness h;
  h.system.max_ttl = 87600 * 3600;
  auto old_root = h.Write("root/generate/internal", {{"common_name", "Old"}, {"key_type", "ec"}, {"ttl", "10h"}});
  auto short_root = h.Write("root/rotate/internal", {{"common_name", "Short"}, {"key_type", "ec"}, {"ttl", "10h"}});
  auto long_root = h.Write("root/rotate/internal", {{"common_name", "Long"}, {"key_type", "ec"}, {"ttl", "1000h"}});
  ASSERT_TRUE(old_root.ok() && short_root.ok() && long_root.ok());
  PkiContext ctx{&h.storage, &h.clock, &h.system, h.sealer.get()};
  CaStore cas(ctx);
  auto none = DeleteExpiredIssuers(&h.storage, cas, testing::EngineHarness::kStart + 10 * 3600);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());  // expiring exactly at the cutoff is not before it
  auto deleted = DeleteExpiredIssuers(&h.storage, cas, testing::EngineHarness::kStart + 11 * 3600);
  ASSERT_TRUE(deleted.ok());
  ASSERT_EQ(deleted->size(), 1u);  // "Old" is the default: kept
  EXPECT_EQ((*deleted)[0], short_root->data["issuer_id"]);
  EXPECT_EQ(h.Call(Operation::kList, "keys")->data["keys"].size(), 3u);
}

}  // namespace
}  // namespace pki

namespace pki {
namespace {

// Key rollover: the new root's self-issued certificate, re-signed by the old root, verifies to the old root.
TEST(SignSelfIssued, OldRootVouchesForNewKey) {
  testing::EngineHarness h;
  h.system.max_ttl = 87600 * 3600;
  auto old_root = h.Write("root/generate/internal", {{"common_name", "Rollover"}, {"key_type", "ec"}});
  auto new_root = h.Write("root/rotate/internal", {{"common_name", "Rollover"}, {"key_type", "ec"}});
  ASSERT_TRUE(old_root.ok() && new_root.ok());
  auto signed_cert = h.Write("root/sign-self-issued", {{"certificate", new_root->data["certificate"]}});
  ASSERT_TRUE(signed_cert.ok()) << signed_cert.status().message();
  EXPECT_EQ(signed_cert->data["issuing_ca"], old_root->data["certificate"]);
  auto parsed = ParseCertificatePem(signed_cert->data["certificate"]);
  auto old_cert = ParseCertificatePem(old_root->data["certificate"]);
  ASSERT_TRUE(parsed.ok() && old_cert.ok());
  EXPECT_EQ(X509_verify(parsed->get(), X509_get0_pubkey(old_cert->get())), 1);
  EXPECT_EQ(InspectCertificate(parsed->get()).subject_der,
            InspectCertificate(ParseCertificatePem(new_root->data["certificate"])->get()).subject_der);

  auto leaf_like = h.Write("root/sign-self-issued", {{"certificate", "not pem"}});
  EXPECT_FALSE(leaf_like.ok());
  auto csr = h.Write("intermediate/generate/internal", {{"common_name", "Other"}, {"key_type", "ec"}});
  auto other = h.Write("root/sign-intermediate", {{"csr", csr->data["csr"]}});
  ASSERT_TRUE(other.ok());
  auto not_self = h.Write("root/sign-self-issued", {{"certificate", other->data["certificate"]}});
  ASSERT_FALSE(not_self.ok());
  EXPECT_EQ(not_self.status().message(), "given certificate is not self-issued");
}

}  // namespace
}  // namespace pki

namespace pki {
namespace {

using testing::EngineHarness;

// The number of entries of a CRL answer; -100 when there is no parsable CRL (every CRL here has a number).
int CrlEntries(const Result<Response>& r) {
  if (!r.ok() || !r->raw) return -100;
  testing::ParsedCrl crl = testing::ParseCrl(r->raw->body, "");
  return crl.number < 0 ? -100 : static_cast<int>(crl.serials.size());
}

// An intermediate made elsewhere: its certificate imported first, its key later. Its CRL group comes from its
// certificate alone, so the revocations filed before and after the key arrives, and after a restart, are one set.
TEST(IssuerImport, KeyArrivingLaterKeepsOneCrlAndBecomesDefault) {
  EngineHarness elsewhere;
  elsewhere.system.max_ttl = 87600 * 3600;
  auto root = elsewhere.Write("root/generate/internal", {{"common_name", "Far Root"}, {"key_type", "ec"}});
  auto csr = elsewhere.Write("intermediate/generate/exported", {{"common_name", "Far Int"}, {"key_type", "ec"}});
  ASSERT_TRUE(root.ok() && csr.ok());
  auto inter = elsewhere.Write("root/sign-intermediate", {{"csr", csr->data["csr"]}, {"ttl", "1000h"}});
  ASSERT_TRUE(inter.ok());

  EngineHarness h;
  h.system.max_ttl = 87600 * 3600;
  // The external root first (no key: it must not become the default), then the intermediate's certificate.
  auto imported_root = h.Write("issuers/import/cert", {{"pem_bundle", root->data["certificate"]}});
  ASSERT_TRUE(imported_root.ok()) << imported_root.status().message();
  EXPECT_EQ(h.Read("config/issuers")->data["default"], "");
  auto imported = h.Write("issuers/import/cert", {{"pem_bundle", inter->data["certificate"]}});
  ASSERT_TRUE(imported.ok()) << imported.status().message();
  std::string int_id = imported->data["imported_issuers"][0];
  EXPECT_FALSE(h.Read("issuer/" + int_id + "/crl/der").ok());  // no key yet: nothing can sign its CRL

  // The key arrives: the intermediate is paired and, with no default yet, becomes it.
  auto key = h.Write("keys/import", {{"pem_bundle", csr->data["private_key"]}, {"key_name", "far"}});
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(h.Read("issuer/" + int_id)->data["key_id"], key->data["key_id"]);
  EXPECT_EQ(h.Read("config/issuers")->data["default"], int_id);

  ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
  auto leaf = h.Write("issue/web", {{"common_name", "a.example.com"}, {"ttl", "1h"}});
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  ASSERT_TRUE(h.Write("revoke", {{"serial_number", leaf->data["serial_number"]}}).ok());
  EXPECT_EQ(CrlEntries(h.Read("issuer/" + int_id + "/crl/der")), 1);
  h.Reopen();
  EXPECT_EQ(CrlEntries(h.Read("issuer/" + int_id + "/crl/der")), 1);
  EXPECT_EQ(CrlEntries(h.Read("crl")), 1);
}

// A bundle bringing the key of an issuer imported without it pairs them.
TEST(IssuerImport, BundleKeyPairsAnExistingKeylessIssuer) {
  EngineHarness elsewhere;
  auto root = elsewhere.Write("root/generate/exported", {{"common_name", "Portable"}, {"key_type", "ec"}});
  ASSERT_TRUE(root.ok());
  EngineHarness h;
  auto cert_only = h.Write("issuers/import/cert", {{"pem_bundle", root->data["certificate"]}});
  ASSERT_TRUE(cert_only.ok());
  std::string id = cert_only->data["imported_issuers"][0];
  EXPECT_EQ(h.Read("issuer/" + id)->data["key_id"], "");
  auto bundle = h.Write("issuers/import/bundle", {{"pem_bundle", root->data["certificate"].get<std::string>() + "\n" +
                                                                     root->data["private_key"].get<std::string>()}});
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  EXPECT_EQ(bundle->data["existing_issuers"][0], id);
  EXPECT_NE(h.Read("issuer/" + id)->data["key_id"], "");
  EXPECT_EQ(h.Read("config/issuers")->data["default"], id);
  ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
  EXPECT_TRUE(h.Write("issue/web", {{"common_name", "a.example.com"}}).ok());
}

TEST(IssuerStore, CorruptEntriesAreErrorsNotCrashes) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("root/generate/internal", {{"common_name", "R"}, {"key_type", "ec"}}).ok());
  ASSERT_TRUE(h.storage.Put("issuer/bogus", R"({"issuer_id": 5, "usage": 7, "manual_chain": "x"})").ok());
  ASSERT_TRUE(h.storage.Put("key/bogus", R"({"key_id": [], "key_bits": "big"})").ok());
  h.Reopen();
  auto list = h.Call(Operation::kList, "issuers");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->data["keys"].size(), 2u);
  EXPECT_TRUE(h.Write("issue/none", {{"common_name", "x"}}).status().code() == StatusCode::kBadRequest);
  ASSERT_TRUE(h.storage.Put("issuer/worse", "[1,2]").ok());
  h.Reopen();
  auto broken = h.Call(Operation::kList, "issuers");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace pki
