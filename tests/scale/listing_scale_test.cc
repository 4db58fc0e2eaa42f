// Scale: one mount holding a million certificate records in RocksDB (tests/scale/cert_loader.h).
//
// Asserts work in keys read (CountingStorage), never time: start-up and a first request read the same few keys as
// on a mount with two certificates, and a page of LIST certs or certs/detailed reads O(page) keys. Wall-clock
// figures are printed ("[scale] ...") for the record only. The tests share one database, loaded once in
// SetUpTestSuite, and run in declaration order in one process (one ctest entry, label "scale"); the last one
// (tidy) mutates it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "src/core/clock.h"
#include "src/crypto/sealer.h"
#include "src/crypto/x509.h"
#include "src/pki/backend.h"
#include "src/pki/cert_store.h"
#include "storage/rocksdb_storage.h"
#include "tests/scale/cert_loader.h"
#include "tests/unit/counting_storage.h"
#include "tests/unit/engine_harness.h"

namespace pki::testing {
namespace {

using Steady = std::chrono::steady_clock;

double MsSince(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

std::string Hyphen(std::string colon) {
  for (auto& c : colon) c = c == ':' ? '-' : c;
  return colon;
}

constexpr size_t kRecords = 1'000'000;
constexpr size_t kExpired = 100'000;
constexpr size_t kPage = 1000;
// Keys a request may read besides its page (config, issuer, CRL state): a constant, whatever the mount holds.
constexpr uint64_t kConstantKeys = 16;

// The engine over one RocksDB directory, its reads counted.
struct Mount {
  std::unique_ptr<RocksDBStorage> rocks;
  std::unique_ptr<CountingStorage> counted;
  std::unique_ptr<LogicalBackend> backend;

  Result<Response> Call(Operation op, const std::string& path, Json data = Json::object()) {
    Request req;
    req.operation = op;
    req.path = path;
    req.data = std::move(data);
    req.mount_point = "pki/";
    return backend->HandleRequest(req);
  }
};

// What starting a mount cost: opening RocksDB, building the engine, and its first request (read cert/ca).
struct StartUp {
  std::unique_ptr<Mount> mount;
  double open_ms = 0, construct_ms = 0, request_ms = 0;
  CountingStorage::Counts counts;  // reads by construction and the first request
};

class ListingScaleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/pki-scale-XXXXXX";
    if (!mkdtemp(tmpl)) {
      setup_error = "mkdtemp failed";
      return;
    }
    dir = tmpl;
    Status s = Prepare();
    if (!s.ok()) setup_error = s.message();
  }

  static void TearDownTestSuite() {
    mount.reset();
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

  void SetUp() override { ASSERT_TRUE(setup_error.empty()) << setup_error; }

  // Opens the mount and builds its engine; with `probe`, also answers a first request (the mount must have a CA).
  static Result<StartUp> Start(bool probe = true) {
    StartUp s;
    s.mount = std::make_unique<Mount>();
    auto t = Steady::now();
    ASSIGN_OR_RETURN(s.mount->rocks, RocksDBStorage::Open(dir + "/db"));
    s.open_ms = MsSince(t);
    s.mount->counted = std::make_unique<CountingStorage>(s.mount->rocks.get());
    t = Steady::now();
    s.mount->backend = NewPkiBackend(PkiContext{s.mount->counted.get(), &clock, &system, sealer.get()});
    s.construct_ms = MsSince(t);
    if (!probe) return s;
    t = Steady::now();
    ASSIGN_OR_RETURN(Response ca, s.mount->Call(Operation::kRead, "cert/ca"));
    s.request_ms = MsSince(t);
    if (!ca.data.contains("certificate")) return Status::Internal("cert/ca without a certificate");
    s.counts = s.mount->counted->counts();
    return s;
  }

  // A CA, a role and one issued certificate through the engine (the prototype of every synthetic record), the
  // start-up baseline of that small mount, then the bulk load.
  static Status Prepare() {
    {
      ASSIGN_OR_RETURN(StartUp small, Start(/*probe=*/false));
      Mount& m = *small.mount;
      ASSIGN_OR_RETURN(Response root, m.Call(Operation::kUpdate, "root/generate/internal",
                                             {{"common_name", "Scale Root"}, {"key_type", "ec"}}));
      issuer_id = root.data["issuer_id"];
      RETURN_IF_ERROR(
          m.Call(Operation::kUpdate, "roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).status());
      ASSIGN_OR_RETURN(Response leaf, m.Call(Operation::kUpdate, "issue/web",
                                             {{"common_name", "load.example.com"},
                                              {"alt_names", "www.load.example.com"},
                                              {"ip_sans", "192.0.2.7"}}));
      ASSIGN_OR_RETURN(std::string serial, ParseSerial(leaf.data["serial_number"]));
      ASSIGN_OR_RETURN(std::optional<StoredCert> stored, CertStore(m.rocks.get()).Get(serial));
      if (!stored) return Status::Internal("issued certificate not stored");
      set.prototype = *stored;
    }
    {
      ASSIGN_OR_RETURN(StartUp again, Start());
      baseline = again.counts;
    }
    set.count = kRecords;
    set.expired = kExpired;
    set.now = clock.Now();
    ASSIGN_OR_RETURN(std::unique_ptr<RocksDBStorage> rocks, RocksDBStorage::Open(dir + "/db"));
    ASSIGN_OR_RETURN(LoadReport load, LoadSyntheticCerts(rocks.get(), set));
    std::printf("[scale] load: %zu records (%zu expired) in %zu batches, %.0f ms (%.0f records/s), %.0f MB on disk\n",
                load.records, set.expired, load.batches, load.seconds * 1000, load.records / load.seconds,
                DirectoryBytes(dir) / 1e6);
    return Status::Ok();
  }

  static inline std::string setup_error;
  static inline std::string dir;
  static inline FakeClock clock{EngineHarness::kStart};
  static inline FixedSystemView system;
  static inline std::unique_ptr<KeySealer> sealer = NewAesGcmSealer(std::string(32, 's'));
  static inline SyntheticCertSet set;
  static inline std::string issuer_id;
  static inline CountingStorage::Counts baseline;
  static inline std::unique_ptr<Mount> mount;  // the 1M mount, started by the first test
};

TEST_F(ListingScaleTest, StartUpAndAFirstRequestReadWhatASmallMountReads) {
  auto started = Start();
  ASSERT_TRUE(started.ok()) << started.status().message();
  const CountingStorage::Counts& c = started->counts;
  std::printf("[scale] start-up at %zu records: open %.1f ms, engine %.3f ms, first request (read cert/ca) %.2f ms; "
              "keys read %llu (gets %llu, listed %llu, scanned %llu); with 2 records: %llu\n",
              kRecords + 2, started->open_ms, started->construct_ms, started->request_ms,
              static_cast<unsigned long long>(c.keys_touched()), static_cast<unsigned long long>(c.gets),
              static_cast<unsigned long long>(c.keys_listed), static_cast<unsigned long long>(c.keys_scanned),
              static_cast<unsigned long long>(baseline.keys_touched()));
  // The loaded records predate counting, so start-up also looks for one key of certs/ (a 1-key list) that a
  // counted mount skips; otherwise the same reads as a 2-record mount.
  EXPECT_LE(c.keys_touched(), baseline.keys_touched() + 1);
  EXPECT_LE(c.lists + c.scans, baseline.lists + baseline.scans + 1);
  EXPECT_LE(c.keys_touched(), kConstantKeys);
  EXPECT_EQ(c.writes, 0u);
  mount = std::move(started->mount);
}

TEST_F(ListingScaleTest, APageOfListCertsReadsThePage) {
  ASSERT_TRUE(mount);
  // "40": the middle of the serial space (first bytes 01..7f), so the page starts deep inside the store.
  mount->counted->Reset();
  auto t = Steady::now();
  auto page = mount->Call(Operation::kList, "certs/", {{"after", "40"}, {"limit", kPage}});
  const double ms = MsSince(t);
  ASSERT_TRUE(page.ok()) << page.status().message();
  const CountingStorage::Counts c = mount->counted->counts();
  std::vector<std::string> keys = page->data["keys"];
  std::printf("[scale] LIST certs after=40 limit=%zu: %zu keys in %.2f ms, keys read %llu\n", kPage, keys.size(), ms,
              static_cast<unsigned long long>(c.keys_touched()));
  ASSERT_EQ(keys.size(), kPage);
  EXPECT_GT(Hyphen(keys.front()), "40");
  for (size_t i = 1; i < keys.size(); ++i) ASSERT_LT(Hyphen(keys[i - 1]), Hyphen(keys[i]));
  EXPECT_EQ(c.keys_listed, kPage);
  EXPECT_LE(c.keys_touched(), kPage + kConstantKeys);

  // The next page, of an odd size, continues exactly after the last key.
  mount->counted->Reset();
  auto next = mount->Call(Operation::kList, "certs/", {{"after", keys.back()}, {"limit", 777}});
  ASSERT_TRUE(next.ok());
  std::vector<std::string> more = next->data["keys"];
  ASSERT_EQ(more.size(), 777u);
  EXPECT_LT(Hyphen(keys.back()), Hyphen(more.front()));
  EXPECT_LE(mount->counted->counts().keys_touched(), 777 + kConstantKeys);
}

TEST_F(ListingScaleTest, APageOfTheDetailedListingReadsThePageAndItsRevocations) {
  ASSERT_TRUE(mount);
  mount->counted->Reset();
  auto t = Steady::now();
  auto page = mount->Call(Operation::kList, "certs/detailed/", {{"after", "40"}, {"limit", kPage}});
  const double ms = MsSince(t);
  ASSERT_TRUE(page.ok()) << page.status().message();
  const CountingStorage::Counts c = mount->counted->counts();
  const Json& keys = page->data["keys"];
  const Json& info = page->data["key_info"];
  std::printf("[scale] LIST certs/detailed after=40 limit=%zu: %zu entries in %.2f ms, keys read %llu "
              "(scanned %llu, point reads %llu)\n",
              kPage, keys.size(), ms, static_cast<unsigned long long>(c.keys_touched()),
              static_cast<unsigned long long>(c.keys_scanned), static_cast<unsigned long long>(c.gets));
  ASSERT_EQ(keys.size(), kPage);
  ASSERT_EQ(info.size(), kPage);
  EXPECT_TRUE(page->warnings.empty());
  EXPECT_EQ(c.keys_scanned, kPage);
  EXPECT_LE(c.keys_touched(), 2 * kPage + kConstantKeys);  // the page, and revoked/<serial> for each entry
  // Same page as LIST certs, and entries that describe the stored records.
  auto plain = mount->Call(Operation::kList, "certs/", {{"after", "40"}, {"limit", kPage}});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(keys, plain->data["keys"]);
  const Json& e = info[keys[0].get<std::string>()];
  EXPECT_EQ(e["common_name"], "load.example.com");
  EXPECT_EQ(e["role"], "web");
  EXPECT_EQ(e["issuer_id"], issuer_id);
  EXPECT_EQ(e["revoked"], false);
}

// Tidy of the 100k expired records (of 1M). What it shows: tidy deletes exactly the records past notAfter + safety_buffer, keeps the rest listed, and
// reads O(expired) keys (the expiry index and the expired records), not O(1M).
TEST_F(ListingScaleTest, TidyOf100kExpiredRecords) {
  ASSERT_TRUE(mount);
  const int64_t safety_buffer = 1;
  const size_t to_delete = set.CountNotAfterBefore(clock.Now() - safety_buffer);
  ASSERT_GT(to_delete, kExpired - 100);
  mount->counted->Reset();
  auto t = Steady::now();
  auto started = mount->Call(Operation::kUpdate, "tidy", {{"tidy_cert_store", true}, {"safety_buffer", safety_buffer}});
  ASSERT_TRUE(started.ok()) << started.status().message();
  Json status;
  // Tidy runs in the background; this loop only waits for it (the deadline guards against a hang, nothing is timed).
  for (auto deadline = Steady::now() + std::chrono::minutes(5); Steady::now() < deadline;) {
    auto r = mount->Call(Operation::kRead, "tidy-status");
    ASSERT_TRUE(r.ok()) << r.status().message();
    status = r->data;
    if (status["state"] != "Running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double ms = MsSince(t);
  const CountingStorage::Counts c = mount->counted->counts();
  std::printf("[scale] tidy of %zu expired of %zu: %.0f ms, keys read %llu, writes %llu\n", to_delete, kRecords, ms,
              static_cast<unsigned long long>(c.keys_touched()), static_cast<unsigned long long>(c.writes));
  EXPECT_EQ(status["state"], "Finished") << status.dump();
  EXPECT_EQ(status["cert_store_deleted_count"], to_delete) << status.dump();
  // The loaded records predate counting (the loader says so): no count is claimed rather than a wrong one.
  EXPECT_TRUE(status["current_cert_store_count"].is_null()) << status.dump();
  // O(expired), never the 900k live records: per expired entry its expiry key twice (the progress count, the
  // walk), its revocation state twice (before and under the locks), its record and its counter shard.
  EXPECT_LE(c.keys_touched(), 7 * to_delete + 10 * kPage);
  // Every record still listed is one that had not expired, and all of those are.
  std::set<std::string> live;
  for (size_t i = 0; i < set.count; ++i) {
    if (set.NotAfter(i) >= clock.Now() - safety_buffer) live.insert(FormatSerial(set.Serial(i)));
  }
  size_t listed = 0, not_synthetic = 0;
  std::string after;
  for (;;) {
    Json data = {{"limit", 100'000}};
    if (!after.empty()) data["after"] = after;
    auto page = mount->Call(Operation::kList, "certs/", data);
    ASSERT_TRUE(page.ok());
    if (page->nil) break;
    for (const auto& k : page->data["keys"]) {
      after = k;
      ++listed;
      if (!live.count(after)) ++not_synthetic;
    }
  }
  EXPECT_EQ(not_synthetic, 2u);  // the root and the prototype leaf, both far from expiry
  EXPECT_EQ(listed, live.size() + 2);
}

}  // namespace
}  // namespace pki::testing
