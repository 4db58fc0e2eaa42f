// Complete CRLs through the engine's paths: built from the revoked index on read when stale, numbered across
// rebuilds and restarts, chunked in storage, configured by config/crl.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "src/crypto/x509.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"
#include "storage/rocksdb_storage.h"
#include "tests/unit/engine_harness.h"

namespace pki::testing {
namespace {

class CrlServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = h.Write("root/generate/internal", {{"common_name", "CRL Root"}, {"ttl", "8760h"}, {"key_type", "ec"}});
    ASSERT_TRUE(root.ok());
    ca_pem = root->data["certificate"];
    issuer_id = root->data["issuer_id"];
    ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
  }

  ParsedCrl Crl(const std::string& path = "crl") {
    auto r = h.Read(path);
    EXPECT_TRUE(r.ok() && r->raw) << (r.ok() ? "not raw" : r.status().message());
    if (!r.ok() || !r->raw) return {};
    EXPECT_EQ(r->raw->content_type, "application/pkix-crl");
    ParsedCrl c = ParseCrl(r->raw->body, ca_pem);
    EXPECT_TRUE(c.verified);
    return c;
  }

  std::string IssueAndRevoke() {
    auto leaf = h.Write("issue/web", {{"common_name", "a.example.com"}, {"ttl", "24h"}});
    EXPECT_TRUE(leaf.ok());
    std::string serial = leaf->data["serial_number"];
    EXPECT_TRUE(h.Write("revoke", {{"serial_number", serial}}).ok());
    return serial;
  }

  EngineHarness h;
  std::string ca_pem;
  std::string issuer_id;
};

TEST(CrlServiceNoCa, AnswersNoContent) {
  EngineHarness h;
  auto r = h.Read("crl");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->raw);
  EXPECT_EQ(r->raw->status, 204);
}

TEST_F(CrlServiceTest, FirstCrlIsEmptyNumberOneAndSigned) {
  ParsedCrl c = Crl();
  EXPECT_EQ(c.number, 1);
  EXPECT_TRUE(c.serials.empty());
  EXPECT_EQ(c.this_update, EngineHarness::kStart);
  EXPECT_EQ(c.next_update, EngineHarness::kStart + 72 * 3600);
  // Unchanged state: the same CRL, not a rebuild.
  EXPECT_EQ(Crl().number, 1);
}

TEST_F(CrlServiceTest, EveryAcknowledgedRevocationIsInTheNextCrlAndABurstCostsOneRebuild) {
  EXPECT_EQ(Crl().number, 1);
  std::vector<std::string> revoked;
  for (int i = 0; i < 5; ++i) revoked.push_back(IssueAndRevoke());
  ParsedCrl c = Crl();
  EXPECT_EQ(c.number, 2);
  std::sort(revoked.begin(), revoked.end());
  std::vector<std::string> listed = c.serials;
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, revoked);
  revoked.push_back(IssueAndRevoke());
  EXPECT_EQ(Crl().serials.size(), 6u);
  EXPECT_EQ(Crl().number, 3);
}

TEST_F(CrlServiceTest, RebuiltWithinTheGracePeriodOfNextUpdate) {
  EXPECT_EQ(Crl().number, 1);
  h.clock.Advance(72 * 3600 - 12 * 3600 - 10);
  EXPECT_EQ(Crl().number, 1);
  h.clock.Advance(20);
  ParsedCrl c = Crl();
  EXPECT_EQ(c.number, 2);
  EXPECT_EQ(c.this_update, h.clock.Now());
}

TEST_F(CrlServiceTest, RotateAndPemAndLegacyJson) {
  IssueAndRevoke();
  EXPECT_EQ(Crl().number, 1);
  auto rotate = h.Read("crl/rotate");
  ASSERT_TRUE(rotate.ok());
  EXPECT_EQ(rotate->data["success"], true);
  EXPECT_EQ(Crl().number, 2);
  auto pem = h.Read("crl/pem");
  ASSERT_TRUE(pem.ok() && pem->raw) << (pem.ok() ? pem->data.dump() : pem.status().message());
  EXPECT_EQ(pem->raw->content_type, "application/x-pem-file");
  EXPECT_EQ(pem->raw->body.rfind("-----BEGIN X509 CRL-----", 0), 0u);
  auto json = h.Read("cert/crl");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->data["certificate"].get<std::string>().rfind("-----BEGIN X509 CRL-----", 0), 0u);
}

TEST_F(CrlServiceTest, NumbersSurviveARestartAndLargeCrlsAreChunked) {
  // 40,000 revocations written straight into the index: a CRL well over one 1 MiB chunk. Each needs a record
  // (a revocation of a certificate the mount has no record of is refused); the DER does not matter here.
  RevocationStore store(&h.storage);
  CertStore certs(&h.storage);
  const std::string group = h.CrlGroup(issuer_id);
  for (int i = 1; i <= 40000; ++i) {
    std::string serial = {static_cast<char>(0x10), static_cast<char>(i >> 16), static_cast<char>(i >> 8),
                          static_cast<char>(i), 'x', 'y', 'z', 'w', 'v', 'u', 't', 's', 'r', 'q', 'p', 'o'};
    {
      WriteBatch batch;
      auto held = certs.AddToBatch(&batch, serial, StoredCert{"der", issuer_id, "", EngineHarness::kStart + 3600});
      ASSERT_TRUE(held.ok());
      ASSERT_TRUE(h.storage.Write(batch).ok());
    }
    ASSERT_TRUE(store.Add(serial, issuer_id, group, EngineHarness::kStart).ok());
  }
  ParsedCrl c = Crl();
  EXPECT_EQ(c.number, 1);
  EXPECT_EQ(c.serials.size(), 40000u);
  std::vector<std::string> chunks;
  ASSERT_TRUE(h.storage.List("crl/der/" + group + "/", "", 0, &chunks).ok());
  EXPECT_GE(chunks.size(), 2u);

  // A new engine over the same storage (a restart) serves the stored CRL and keeps counting.
  PkiContext ctx;
  ctx.storage = &h.storage;
  ctx.clock = &h.clock;
  ctx.system = &h.system;
  ctx.sealer = h.sealer.get();
  h.backend = NewPkiBackend(ctx);
  EXPECT_EQ(Crl().number, 1);
  IssueAndRevoke();
  ParsedCrl after = Crl();
  EXPECT_EQ(after.number, 2);
  EXPECT_EQ(after.serials.size(), 40001u);
  chunks.clear();
  ASSERT_TRUE(h.storage.List("crl/der/" + group + "/", "", 0, &chunks).ok());
  for (const auto& k : chunks) EXPECT_EQ(k.rfind("0000000000000002/", 0), 0u) << k;  // the old CRL is gone
}

TEST_F(CrlServiceTest, DisableLeavesOneEmptyCrlUntilEnabledAgain) {
  IssueAndRevoke();
  EXPECT_EQ(Crl().serials.size(), 1u);
  auto off = h.Write("config/crl", {{"disable", true}});
  ASSERT_TRUE(off.ok()) << off.status().message();
  ParsedCrl empty = Crl();
  EXPECT_TRUE(empty.serials.empty());
  IssueAndRevoke();
  EXPECT_EQ(Crl().number, empty.number);
  ASSERT_TRUE(h.Write("config/crl", {{"disable", false}}).ok());
  EXPECT_EQ(Crl().serials.size(), 2u);
}

TEST_F(CrlServiceTest, ConfigIsAPartialUpdateWithVaultsChecks) {
  auto read = h.Read("config/crl");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data["expiry"], "72h");
  EXPECT_EQ(read->data["auto_rebuild"], false);
  ASSERT_TRUE(h.Write("config/crl", {{"expiry", "48h"}}).ok());
  read = h.Read("config/crl");
  EXPECT_EQ(read->data["expiry"], "48h");
  EXPECT_EQ(read->data["ocsp_expiry"], "12h");
  EXPECT_EQ(Crl().next_update - Crl().this_update, 48 * 3600);

  auto bad = h.Write("config/crl", {{"expiry", "soon"}});
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(bad.status().message().rfind("given expiry could not be decoded", 0), 0u);
  auto delta = h.Write("config/crl", {{"enable_delta", true}});
  EXPECT_EQ(delta.status().message(),
            "Delta CRLs cannot be enabled when auto rebuilding is disabled as the complete CRL is always regenerated!");
  auto grace = h.Write("config/crl", {{"auto_rebuild", true}, {"auto_rebuild_grace_period", "72h"}});
  EXPECT_EQ(grace.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(h.Read("config/crl")->data["auto_rebuild"], false);  // a refused update changes nothing
}

// A build interrupted after some of its chunks were written leaves them under the number the next build reuses;
// whatever that build does not overwrite goes when its CRL is replaced (the previous number's keys are listed).
TEST_F(CrlServiceTest, ChunksOfAnInterruptedBuildGoWithTheirNumber) {
  const std::string group = h.CrlGroup(issuer_id);
  EXPECT_EQ(Crl().number, 1);
  const std::string orphan = "crl/der/" + group + "/0000000000000002/000007";
  ASSERT_TRUE(h.storage.Put(orphan, "left by a crash").ok());
  IssueAndRevoke();
  ParsedCrl second = Crl();
  EXPECT_EQ(second.number, 2);
  EXPECT_EQ(second.serials.size(), 1u);
  std::string v;
  EXPECT_TRUE(h.storage.Get(orphan, &v).ok());  // not a chunk of CRL 2 (one chunk), never read
  IssueAndRevoke();
  EXPECT_EQ(Crl().number, 3);
  std::vector<std::string> chunks;
  ASSERT_TRUE(h.storage.List("crl/der/" + group + "/", "", 0, &chunks).ok());
  EXPECT_EQ(chunks, std::vector<std::string>{"0000000000000003/000000"});
}

// A complete CRL lists every revocation up to its count: the delta index up to there is deleted, later ones stay.
TEST_F(CrlServiceTest, CompleteRebuildPrunesTheDeltaIndexUpToItsCount) {
  const std::string group = h.CrlGroup(issuer_id);
  const std::string prefix = "index/delta/" + group + "/";
  IssueAndRevoke();
  IssueAndRevoke();
  std::vector<std::string> keys;
  ASSERT_TRUE(h.storage.List(prefix, "", 0, &keys).ok());
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_EQ(Crl().serials.size(), 2u);
  keys.clear();
  ASSERT_TRUE(h.storage.List(prefix, "", 0, &keys).ok());
  EXPECT_TRUE(keys.empty());
  IssueAndRevoke();
  keys.clear();
  ASSERT_TRUE(h.storage.List(prefix, "", 0, &keys).ok());
  EXPECT_EQ(keys, std::vector<std::string>{"0000000000000005"});  // counts move two steps per revocation
}

// Index entries are read without building a JSON object when they are exactly {"t": integer}; any other CBOR
// spelling of the time (longer integer encodings, more fields) is decoded by the JSON reader, to the same time.
TEST_F(CrlServiceTest, EveryCborSpellingOfTheRevocationTimeGivesTheSameDate) {
  const std::string group = h.CrlGroup(issuer_id);
  const int64_t t = EngineHarness::kStart - 86400;
  auto cbor = [](const nlohmann::json& j) {
    std::vector<uint8_t> b = nlohmann::json::to_cbor(j);
    return std::string(b.begin(), b.end());
  };
  std::string eight = "\xa1\x61t\x1b";  // {"t": t} with an 8-byte integer
  for (int i = 7; i >= 0; --i) eight.push_back(static_cast<char>(static_cast<uint64_t>(t) >> (8 * i)));
  const std::vector<std::string> values = {cbor({{"t", t}}), eight, cbor({{"t", t}, {"x", 1}})};
  for (size_t i = 0; i < values.size(); ++i) {
    std::string serial = {0x22, static_cast<char>(i + 1)};
    ASSERT_TRUE(h.storage.Put("index/revoked/" + group + "/" + HyphenSerial(serial), values[i]).ok());
  }
  ASSERT_TRUE(h.storage.Put("crl/seq/" + group, "3").ok());
  auto r = h.Read("crl");
  ASSERT_TRUE(r.ok() && r->raw);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(r->raw->body.data());
  X509_CRL* crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(r->raw->body.size()));
  ASSERT_NE(crl, nullptr);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 3);
  for (int i = 0; i < 3; ++i) {
    std::tm tm{};
    ASSERT_EQ(ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(revoked, i)), &tm), 1);
    EXPECT_EQ(static_cast<int64_t>(timegm(&tm)), t) << i;
  }
  X509_CRL_free(crl);
  // A value that is no revocation entry at all is refused, not listed with a made-up date.
  ASSERT_TRUE(h.storage.Put("index/revoked/" + group + "/" + HyphenSerial(std::string{0x22, 0x09}), "\xa1\x61t").ok());
  ASSERT_TRUE(h.storage.Put("crl/seq/" + group, "4").ok());
  auto bad = h.Read("crl");
  EXPECT_FALSE(bad.ok());
}

TEST_F(CrlServiceTest, DeltaCrlsListRevocationsSinceTheirBaseOnTheirInterval) {
  auto none = h.Read("crl/delta");
  ASSERT_TRUE(none.ok() && none->raw);
  EXPECT_EQ(none->raw->status, 204);  // not enabled

  ASSERT_TRUE(h.Write("config/crl", {{"auto_rebuild", true}, {"enable_delta", true}}).ok());
  ParsedCrl base = Crl();
  ParsedCrl delta = Crl("crl/delta");
  EXPECT_EQ(delta.delta_base, base.number);
  EXPECT_GT(delta.number, base.number);
  EXPECT_TRUE(delta.serials.empty());

  std::string revoked = IssueAndRevoke();
  // auto_rebuild: the complete CRL waits for its schedule, the delta for its interval (15m).
  EXPECT_EQ(Crl().number, base.number);
  EXPECT_TRUE(Crl().serials.empty());
  EXPECT_EQ(Crl("crl/delta").number, delta.number);
  h.clock.Advance(15 * 60);
  ParsedCrl next = Crl("crl/delta");
  EXPECT_EQ(next.serials, std::vector<std::string>{revoked});
  EXPECT_EQ(next.delta_base, base.number);
  EXPECT_GT(next.number, delta.number);

  // A new complete CRL lists it; the next delta extends the new base and no longer does.
  ASSERT_TRUE(h.Read("crl/rotate").ok());
  ParsedCrl rotated = Crl();
  EXPECT_EQ(rotated.serials, std::vector<std::string>{revoked});
  EXPECT_GT(rotated.number, next.number);
  ParsedCrl after = Crl("crl/delta");
  EXPECT_EQ(after.delta_base, rotated.number);
  EXPECT_TRUE(after.serials.empty());
  auto forced = h.Read("crl/rotate-delta");
  ASSERT_TRUE(forced.ok());
  EXPECT_GT(Crl("crl/delta").number, after.number);
  auto json = h.Read("cert/delta-crl");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->data["certificate"].get<std::string>().rfind("-----BEGIN X509 CRL-----", 0), 0u);
}

}  // namespace
}  // namespace pki::testing

namespace pki::testing {
namespace {

// A /proc/self/status field in MB.
double StatusMb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(field.size())) / 1024.0;
  }
  return 0;
}

// A human's measurement, not a test (run with --gtest_also_run_disabled_tests): a complete CRL of one million
// revocations built through the engine from a RocksDB index, as a mount would.
TEST(CrlServiceBenchmark, DISABLED_OneMillionFromRocksDb) {
  std::string dir = std::filesystem::temp_directory_path() / ("crl-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto db = RocksDBStorage::Open(dir);
  ASSERT_TRUE(db.ok());
  FakeClock clock(EngineHarness::kStart);
  FixedSystemView system;
  auto sealer = NewAesGcmSealer(std::string(32, 'k'));
  PkiContext ctx{db.value().get(), &clock, &system, sealer.get()};
  auto backend = NewPkiBackend(ctx);
  Request root;
  root.operation = Operation::kUpdate;
  root.path = "root/generate/internal";
  root.data = {{"common_name", "Bench Root"}, {"key_type", "ec"}};
  auto r = backend->HandleRequest(root);
  ASSERT_TRUE(r.ok());
  std::string issuer_id = r->data["issuer_id"];
  CaStore cas(ctx);
  const std::string group = CrlGroupOf(cas, issuer_id).value();

  const int kEntries = 1000000;
  auto start = std::chrono::steady_clock::now();
  for (int base = 0; base < kEntries; base += 10000) {
    WriteBatch batch;
    for (int i = base; i < base + 10000; ++i) {
      std::string serial(20, '\x11');
      for (int b = 0; b < 4; ++b) serial[16 + b] = static_cast<char>(i >> (8 * (3 - b)));
      std::vector<uint8_t> rec = nlohmann::json::to_cbor({{"t", EngineHarness::kStart}});
      batch.Put("index/revoked/" + group + "/" + HyphenSerial(serial), std::string(rec.begin(), rec.end()));
    }
    ASSERT_TRUE(db.value()->Write(batch).ok());
  }
  ASSERT_TRUE(db.value()->Put("crl/seq/" + group, std::to_string(kEntries)).ok());
  double load = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Reopen the database so the load's memtables are not counted against the build.
  backend.reset();
  db.value().reset();
  db = RocksDBStorage::Open(dir);
  ASSERT_TRUE(db.ok());
  ctx.storage = db.value().get();
  backend = NewPkiBackend(ctx);
  // Linux: "5" resets the peak RSS (VmHWM), so what follows measures the build alone.
  std::ofstream("/proc/self/clear_refs") << "5";
  const double rss_before = StatusMb("VmRSS:");
  Request crl;
  crl.path = "crl";
  start = std::chrono::steady_clock::now();
  auto built = backend->HandleRequest(crl);
  double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(built.ok() && built->raw);
  start = std::chrono::steady_clock::now();
  auto cached = backend->HandleRequest(crl);
  double serve = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(cached.ok() && cached->raw);
  std::printf("1M revocations: index load %.2f s; CRL build (scan + encode + sign + chunked store) %.2f s, %.1f MB; "
              "cached read %.3f s; RSS %.0f MB before the build, peak %.0f MB during it and the cached read\n",
              load, build, built->raw->body.size() / 1e6, serve, rss_before, StatusMb("VmHWM:"));
  backend.reset();
  db.value().reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pki::testing

namespace pki::testing {
namespace {

// A CA reissued with the same subject and key (root/generate/existing) signs CRLs indistinguishable from the
// first one's: both share one CRL group, so a revocation under either is on the CRL the mount serves.
TEST(CrlGroups, IssuersSharingSubjectAndKeyShareTheRevokedSet) {
  EngineHarness h;
  auto first = h.Write("root/generate/internal", {{"common_name", "Shared Root"}, {"key_type", "ec"}, {"ttl", "8760h"}});
  ASSERT_TRUE(first.ok());
  auto second = h.Write("root/generate/existing", {{"common_name", "Shared Root"}, {"key_ref", first->data["key_id"]},
                                                   {"ttl", "8760h"}, {"issuer_name", "reissued"}});
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_NE(first->data["issuer_id"], second->data["issuer_id"]);
  EXPECT_EQ(h.CrlGroup(first->data["issuer_id"]), h.CrlGroup(second->data["issuer_id"]));

  ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}, {"issuer_ref", "reissued"}}).ok());
  auto leaf = h.Write("issue/web", {{"common_name", "a.example.com"}});
  ASSERT_TRUE(leaf.ok());
  ASSERT_TRUE(h.Write("revoke", {{"serial_number", leaf->data["serial_number"]}}).ok());

  // The default issuer (the first) serves the group's CRL, and it lists the reissued CA's revocation.
  auto crl = h.Read("crl");
  ASSERT_TRUE(crl.ok() && crl->raw);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(crl->raw->body.data());
  X509_CRL* parsed = d2i_X509_CRL(nullptr, &p, static_cast<long>(crl->raw->body.size()));
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(parsed)), 1);
  X509_CRL_free(parsed);
}

}  // namespace
}  // namespace pki::testing
