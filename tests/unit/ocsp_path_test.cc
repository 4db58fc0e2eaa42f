// The engine's OCSP responder: statuses from the revoked index and the certificate records, the nonce echoed, the
// issuing CA signing, and every failure answered as an OCSP response.
#include <gtest/gtest.h>

#include <openssl/ocsp.h>

#include <functional>

#include "src/crypto/x509.h"
#include "src/pki/revocation.h"
#include "tests/unit/engine_harness.h"

namespace pki::testing {
namespace {

struct Decoded {
  int response_status = -1;
  std::vector<int> statuses;  // V_OCSP_CERTSTATUS_* per requested id, in request order
  bool nonce_ok = false;
  bool verified = false;
  int64_t revoked_at = 0;
};

class OcspPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = h.Write("root/generate/internal", {{"common_name", "OCSP Root"}, {"ttl", "8760h"}, {"key_type", "ec"}});
    ASSERT_TRUE(root.ok());
    ca = ParseCertificatePem(root->data["certificate"].get<std::string>()).value();
    ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
    ASSERT_TRUE(h.Write("roles/nostore", {{"allow_any_name", true}, {"key_type", "ec"}, {"no_store", true}}).ok());
  }

  ossl::X509Ptr Issue(const std::string& role, std::string* serial = nullptr) {
    auto r = h.Write("issue/" + role, {{"common_name", "a.example.com"}});
    EXPECT_TRUE(r.ok());
    if (serial) *serial = r->data["serial_number"];
    return ParseCertificatePem(r->data["certificate"].get<std::string>()).value();
  }

  // A DER OCSPRequest for `leaves` issued by `issuer` (SHA-1 ids), with a nonce.
  std::string Request(const std::vector<const X509*>& leaves, const X509* issuer, bool nonce = true) {
    OCSP_REQUEST* req = OCSP_REQUEST_new();
    for (const X509* leaf : leaves) {
      OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha1(), leaf, issuer));
    }
    if (nonce) OCSP_request_add1_nonce(req, nullptr, -1);
    unsigned char* der = nullptr;
    int len = i2d_OCSP_REQUEST(req, &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    last_request_ = std::string(out);
    OCSP_REQUEST_free(req);
    return out;
  }

  Result<Response> Post(const std::string& der) {
    return h.Write("ocsp", {{"http_raw_body", Base64Encode(der)}});
  }

  Decoded Decode(const Result<Response>& r, const std::vector<const X509*>& leaves) {
    Decoded d;
    EXPECT_TRUE(r.ok() && r->raw);
    if (!r.ok() || !r->raw) return d;
    EXPECT_EQ(r->raw->content_type, "application/ocsp-response");
    const unsigned char* p = reinterpret_cast<const unsigned char*>(r->raw->body.data());
    OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(r->raw->body.size()));
    if (resp == nullptr) return d;
    d.response_status = OCSP_response_status(resp);
    OCSP_BASICRESP* bs = OCSP_response_get1_basic(resp);
    if (bs != nullptr) {
      STACK_OF(X509)* certs = sk_X509_new_null();
      sk_X509_push(certs, ca.get());
      d.verified = OCSP_basic_verify(bs, certs, nullptr, OCSP_TRUSTOTHER | OCSP_NOVERIFY) == 1;
      sk_X509_free(certs);
      const unsigned char* q = reinterpret_cast<const unsigned char*>(last_request_.data());
      OCSP_REQUEST* req = d2i_OCSP_REQUEST(nullptr, &q, static_cast<long>(last_request_.size()));
      d.nonce_ok = OCSP_check_nonce(req, bs) == 1;
      OCSP_REQUEST_free(req);
      for (const X509* leaf : leaves) {
        OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), leaf, ca.get());
        int status = -1, reason = -1;
        ASN1_GENERALIZEDTIME *rev = nullptr, *thisupd = nullptr, *nextupd = nullptr;
        OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd);
        if (rev != nullptr) d.revoked_at = Asn1TimeToUnix(rev);
        d.statuses.push_back(status);
        OCSP_CERTID_free(id);
      }
      OCSP_BASICRESP_free(bs);
    }
    OCSP_RESPONSE_free(resp);
    return d;
  }

  EngineHarness h;
  ossl::X509Ptr ca;
  std::string last_request_;
};

TEST_F(OcspPathTest, GoodRevokedAndUnknownInOneSignedAnswerWithTheNonce) {
  std::string revoked_serial;
  ossl::X509Ptr good = Issue("web");
  ossl::X509Ptr revoked = Issue("web", &revoked_serial);
  ossl::X509Ptr unrecorded = Issue("nostore");
  h.clock.Advance(5);
  ASSERT_TRUE(h.Write("revoke", {{"serial_number", revoked_serial}}).ok());
  std::vector<const X509*> leaves = {good.get(), revoked.get(), unrecorded.get()};
  Decoded d = Decode(Post(Request(leaves, ca.get())), leaves);
  EXPECT_EQ(d.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
  EXPECT_TRUE(d.verified);
  EXPECT_TRUE(d.nonce_ok);
  EXPECT_EQ(d.statuses, (std::vector<int>{V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED,
                                          V_OCSP_CERTSTATUS_UNKNOWN}));
  EXPECT_EQ(d.revoked_at, EngineHarness::kStart + 5);
}

TEST_F(OcspPathTest, GetCarriesTheRequestInThePath) {
  ossl::X509Ptr good = Issue("web");
  std::vector<const X509*> leaves = {good.get()};
  std::string der = Request(leaves, ca.get(), /*nonce=*/false);
  auto r = h.Read("ocsp/" + Base64Encode(der));
  ASSERT_TRUE(r.ok() && r->raw) << (r.ok() ? r->data.dump() : r.status().message());
  EXPECT_EQ(r->raw->status, 200) << Base64Encode(der);
  Decoded d = Decode(r, leaves);
  EXPECT_EQ(d.statuses, std::vector<int>{V_OCSP_CERTSTATUS_GOOD});
  EXPECT_TRUE(d.verified);
}

TEST_F(OcspPathTest, NoncelessAnswersAreReusedUntilARevocationOrExpiry) {
  std::string serial;
  ossl::X509Ptr leaf = Issue("web", &serial);
  std::vector<const X509*> leaves = {leaf.get()};
  std::string der = Request(leaves, ca.get(), /*nonce=*/false);
  auto first = Post(der);
  ASSERT_TRUE(first.ok() && first->raw);
  EXPECT_EQ(first->raw->cache_control, "max-age=3600, public, no-transform, must-revalidate");
  h.clock.Advance(10);
  auto second = Post(der);
  EXPECT_EQ(second->raw->body, first->raw->body);  // the same signed bytes: no new signature
  EXPECT_EQ(second->raw->cache_control, "max-age=3590, public, no-transform, must-revalidate");

  ASSERT_TRUE(h.Write("revoke", {{"serial_number", serial}}).ok());
  auto after = Post(der);
  EXPECT_NE(after->raw->body, first->raw->body);
  EXPECT_EQ(Decode(after, leaves).statuses, std::vector<int>{V_OCSP_CERTSTATUS_REVOKED});

  h.clock.Advance(3600);
  EXPECT_NE(Post(der)->raw->body, after->raw->body);  // expired from the cache: signed afresh

  // With a nonce nothing is cached: every answer echoes its own nonce.
  auto with_nonce = Post(Request(leaves, ca.get(), /*nonce=*/true));
  EXPECT_TRUE(with_nonce->raw->cache_control.empty());
}

TEST_F(OcspPathTest, CachedAnswersAreNotReusedAfterAConfigOrIssuerChange) {
  ossl::X509Ptr leaf = Issue("web");
  std::vector<const X509*> leaves = {leaf.get()};
  std::string der = Request(leaves, ca.get(), /*nonce=*/false);
  auto first = Post(der);
  ASSERT_TRUE(first.ok() && first->raw);
  h.clock.Advance(1);
  EXPECT_EQ(Post(der)->raw->body, first->raw->body);  // cached

  // A new ocsp_expiry: answered afresh with the new nextUpdate (and cached for half of it), then reused.
  ASSERT_TRUE(h.Write("config/crl", {{"ocsp_expiry", "1h"}}).ok());
  auto shorter = Post(der);
  EXPECT_NE(shorter->raw->body, first->raw->body);
  EXPECT_EQ(shorter->raw->cache_control, "max-age=1800, public, no-transform, must-revalidate");
  h.clock.Advance(1);
  EXPECT_EQ(Post(der)->raw->body, shorter->raw->body);

  // OCSP disabled: refused although an answer is cached. Enabled again: the entry made under the other
  // configuration was dropped when met, so the answer is signed afresh, then reused.
  ASSERT_TRUE(h.Write("config/crl", {{"ocsp_expiry", "1h"}, {"ocsp_disable", true}}).ok());
  EXPECT_EQ(Decode(Post(der), leaves).response_status, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
  ASSERT_TRUE(h.Write("config/crl", {{"ocsp_expiry", "1h"}, {"ocsp_disable", false}}).ok());
  h.clock.Advance(1);
  auto enabled = Post(der);
  EXPECT_EQ(Decode(enabled, leaves).statuses, std::vector<int>{V_OCSP_CERTSTATUS_GOOD});
  EXPECT_NE(enabled->raw->body, shorter->raw->body);
  h.clock.Advance(1);
  EXPECT_EQ(Post(der)->raw->body, enabled->raw->body);

  // The issuer loses its ocsp-signing usage: no cached answer outlives it.
  ASSERT_TRUE(h.Write("issuer/default", {{"usage", "read-only,issuing-certificates,crl-signing"}}).ok());
  EXPECT_EQ(Decode(Post(der), leaves).response_status, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
  ASSERT_TRUE(
      h.Write("issuer/default", {{"usage", "read-only,issuing-certificates,crl-signing,ocsp-signing"}}).ok());
  EXPECT_EQ(Decode(Post(der), leaves).statuses, std::vector<int>{V_OCSP_CERTSTATUS_GOOD});
}

TEST_F(OcspPathTest, ATidyRepairOfARevocationsIssuerIsNotHiddenByACachedAnswer) {
  // A second root, not the default, with a role issuing under it.
  auto second = h.Write("issuers/generate/root/internal",
                        {{"common_name", "Second Root"}, {"issuer_name", "second"}, {"key_type", "ec"}});
  ASSERT_TRUE(second.ok());
  ossl::X509Ptr second_ca = ParseCertificatePem(second->data["certificate"].get<std::string>()).value();
  ASSERT_TRUE(h.Write("roles/second", {{"allow_any_name", true}, {"key_type", "ec"}, {"issuer_ref", "second"}}).ok());
  auto leaf = h.Write("issue/second", {{"common_name", "a.example.com"}, {"ttl", "60s"}});
  ASSERT_TRUE(leaf.ok());
  const std::string serial = leaf->data["serial_number"];
  ossl::X509Ptr cert = ParseCertificatePem(leaf->data["certificate"].get<std::string>()).value();
  ASSERT_TRUE(h.Write("revoke", {{"serial_number", serial}}).ok());
  // The revocation names an issuer the mount no longer has (it falls to the default issuer's CRL group): the second
  // root's answer is "good" (its certificate record), and it is cached.
  const std::string bytes = ParseSerial(serial).value();
  auto rec = RevocationStore(&h.storage).Get(bytes).value();
  WriteBatch b;
  RevocationStore::PutRecordToBatch(&b, bytes, {rec->revocation_time, "gone-issuer"});
  ASSERT_TRUE(h.storage.Write(b).ok());
  ca = std::move(second_ca);  // Decode checks answers against this CA
  std::vector<const X509*> leaves = {cert.get()};
  const std::string der = Request(leaves, ca.get(), /*nonce=*/false);
  h.clock.Advance(120);
  EXPECT_EQ(Decode(Post(der), leaves).statuses, std::vector<int>{V_OCSP_CERTSTATUS_GOOD});
  // Tidy finds the issuer that signed it: from then on the answer is "revoked", not the cached "good".
  ASSERT_EQ(h.Write("tidy", {{"tidy_revoked_cert_issuer_associations", true}, {"safety_buffer", 1}})->status, 202);
  h.backend->WaitForTidy();
  EXPECT_EQ(RevocationStore(&h.storage).Get(bytes).value()->issuer_id, rec->issuer_id);
  EXPECT_EQ(Decode(Post(der), leaves).statuses, std::vector<int>{V_OCSP_CERTSTATUS_REVOKED});
}

TEST_F(OcspPathTest, VaultsAnswerForUnrecordedSerialsIsAMountSetting) {
  ossl::X509Ptr unrecorded = Issue("nostore");
  std::vector<const X509*> leaves = {unrecorded.get()};
  EXPECT_EQ(Decode(Post(Request(leaves, ca.get())), leaves).statuses, std::vector<int>{V_OCSP_CERTSTATUS_UNKNOWN});
  // An unknown may turn good without any revocation: such answers are neither cached nor cacheable.
  std::string nonceless = Request(leaves, ca.get(), /*nonce=*/false);
  auto unknown = Post(nonceless);
  EXPECT_TRUE(unknown->raw->cache_control.empty());
  EXPECT_NE(Post(nonceless)->raw->body, unknown->raw->body);  // signed afresh (ECDSA signatures differ)
  ASSERT_TRUE(h.Write("config/crl", {{"ocsp_unknown_good", true}}).ok());
  EXPECT_EQ(Decode(Post(Request(leaves, ca.get())), leaves).statuses, std::vector<int>{V_OCSP_CERTSTATUS_GOOD});
}

TEST_F(OcspPathTest, FailuresAreOcspResponses) {
  auto garbage = h.Write("ocsp", {{"http_raw_body", Base64Encode("not an OCSP request")}});
  ASSERT_TRUE(garbage.ok() && garbage->raw);
  EXPECT_EQ(garbage->raw->status, 400);
  EXPECT_EQ(Decode(garbage, {}).response_status, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  auto bad_base64 = h.Read("ocsp/%%%");
  ASSERT_TRUE(bad_base64.ok() && bad_base64->raw);
  EXPECT_EQ(bad_base64->raw->status, 400);
  // Found by ocsp_fuzz: a GET whose base64 is nothing but '/' (bytes 0xff) was routed to the POST path "ocsp"
  // once its trailing slashes were dropped, and answered 405 instead of an OCSP response.
  auto slashes = h.Read("ocsp/" + Base64Encode(std::string(36, '\xff')));
  ASSERT_TRUE(slashes.ok() && slashes->raw) << slashes.status().message();
  EXPECT_EQ(slashes->raw->status, 400);
  EXPECT_EQ(Decode(slashes, {}).response_status, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  auto huge = Post(std::string(4096, '\x30'));
  ASSERT_TRUE(huge.ok() && huge->raw);
  EXPECT_EQ(huge->raw->status, 400);

  ossl::X509Ptr good = Issue("web");
  std::vector<const X509*> leaves = {good.get()};
  ASSERT_TRUE(h.Write("config/crl", {{"ocsp_disable", true}}).ok());
  auto disabled = Post(Request(leaves, ca.get()));
  ASSERT_TRUE(disabled.ok() && disabled->raw);
  EXPECT_EQ(disabled->raw->status, 401);
  EXPECT_EQ(Decode(disabled, {}).response_status, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
}

TEST_F(OcspPathTest, ACertificateOfAnotherCaIsUnknown) {
  EngineHarness other;
  ASSERT_TRUE(other.Write("root/generate/internal", {{"common_name", "Other"}, {"key_type", "ec"}}).ok());
  auto other_ca = ParseCertificatePem(other.Read("cert/ca")->data["certificate"].get<std::string>()).value();
  ASSERT_TRUE(other.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
  auto foreign = ParseCertificatePem(
                     other.Write("issue/web", {{"common_name", "x.example.com"}})->data["certificate"].get<std::string>())
                     .value();
  // Asked about the other CA's certificate: this mount's default issuer answers unknown.
  std::string der = Request({foreign.get()}, other_ca.get());
  auto r = Post(der);
  ASSERT_TRUE(r.ok() && r->raw);
  EXPECT_EQ(r->raw->status, 200);
}

}  // namespace
}  // namespace pki::testing

namespace pki::testing {
namespace {

// As a host's pb.Storage applies a WriteBatch (plugin/host_storage.cc): op by op, in order. `after_seq_put` runs
// once, right after the first crl/seq/ put: an OCSP request served inside a revocation's batch.
class OpByOpStorage final : public Storage {
 public:
  Status Get(std::string_view k, std::string* v) override { return inner.Get(k, v); }
  Status Put(std::string_view k, std::string_view v) override { return inner.Put(k, v); }
  Status Delete(std::string_view k) override { return inner.Delete(k); }
  Status Write(const WriteBatch& batch) override {
    for (const auto& op : batch.ops()) {
      Status s = op.kind == WriteBatch::Op::kPut ? inner.Put(op.key, op.value) : inner.Delete(op.key);
      if (!s.ok()) return s;
      if (op.kind == WriteBatch::Op::kPut && op.key.rfind("crl/seq/", 0) == 0 && after_seq_put) {
        auto hook = std::move(after_seq_put);
        after_seq_put = nullptr;
        hook();
      }
    }
    return Status::Ok();
  }
  Status List(std::string_view p, std::string_view s, size_t l, std::vector<std::string>* k) override {
    return inner.List(p, s, l, k);
  }
  MemoryStorage inner;
  std::function<void()> after_seq_put;
};

TEST(OcspCacheOnHostStorage, AnAnswerMadeInsideARevocationsBatchIsNotServedAfterIt) {
  OpByOpStorage storage;
  FakeClock clock(EngineHarness::kStart);
  FixedSystemView system;
  auto sealer = NewAesGcmSealer(std::string(32, 'k'));
  auto backend = NewPkiBackend(PkiContext{&storage, &clock, &system, sealer.get()});
  auto call = [&](const std::string& path, Json data) {
    Request r;
    r.operation = Operation::kUpdate;
    r.path = path;
    r.data = std::move(data);
    r.mount_point = "pki/";
    return backend->HandleRequest(r);
  };
  auto root = call("root/generate/internal", {{"common_name", "R"}, {"key_type", "ec"}});
  ASSERT_TRUE(root.ok());
  ossl::X509Ptr ca = ParseCertificatePem(root->data["certificate"].get<std::string>()).value();
  ASSERT_TRUE(call("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
  auto issued = call("issue/web", {{"common_name", "a.example.com"}});
  ASSERT_TRUE(issued.ok());
  ossl::X509Ptr leaf = ParseCertificatePem(issued->data["certificate"].get<std::string>()).value();

  OCSP_REQUEST* req = OCSP_REQUEST_new();
  OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha1(), leaf.get(), ca.get()));
  unsigned char* der = nullptr;
  int len = i2d_OCSP_REQUEST(req, &der);
  const std::string body = Base64Encode(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  OCSP_REQUEST_free(req);
  auto status = [&]() {
    auto r = call("ocsp", {{"http_raw_body", body}});
    if (!r.ok() || !r->raw) return -2;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(r->raw->body.data());
    OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(r->raw->body.size()));
    OCSP_BASICRESP* bs = resp ? OCSP_response_get1_basic(resp) : nullptr;
    OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), leaf.get(), ca.get());
    int st = -1, reason = -1;
    if (bs) OCSP_resp_find_status(bs, id, &st, &reason, nullptr, nullptr, nullptr);
    OCSP_CERTID_free(id);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    return st;
  };

  EXPECT_EQ(status(), V_OCSP_CERTSTATUS_GOOD);
  clock.Advance(1);
  int inside = -3;
  storage.after_seq_put = [&] { inside = status(); };  // the revoked record is not written yet
  ASSERT_TRUE(call("revoke", {{"serial_number", issued->data["serial_number"]}}).ok());
  EXPECT_EQ(inside, V_OCSP_CERTSTATUS_GOOD);
  clock.Advance(60);
  EXPECT_EQ(status(), V_OCSP_CERTSTATUS_REVOKED) << "the answer cached inside the batch outlived the revocation";
}

}  // namespace
}  // namespace pki::testing
