// tidy, tidy-status, tidy-cancel, config/auto-tidy and the stored counts, through the engine with a fake clock.
// Runs are awaited with WaitForTidy and stopped at known points with the tidy thread's on_entry hook: no sleeps.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "src/core/duration.h"
#include "src/crypto/x509.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"
#include "storage/rocksdb_storage.h"
#include "tests/unit/engine_harness.h"

namespace pki::testing {
namespace {

constexpr int64_t kStart = EngineHarness::kStart;

std::string ErrorOf(const Result<Response>& r) { return r.ok() ? "" : r.status().message(); }

// What storage holds, read key by key: the test's own count, independent of the counters.
struct StoreScan {
  std::map<std::string, int64_t> certs;              // hyphen serial -> the record's notAfter
  std::set<std::pair<int64_t, std::string>> expiry;  // (notAfter, hyphen serial)
  std::set<std::string> revoked;                     // hyphen serials
  std::multiset<std::string> indexed;                // hyphen serials in any CRL group's index
};

StoreScan ScanStore(Storage* s) {
  StoreScan out;
  std::vector<std::string> keys;
  EXPECT_TRUE(s->List("certs/", "", 0, &keys).ok());
  CertStore certs(s);
  for (const auto& k : keys) {
    auto cert = certs.Get(ParseSerial(k).value());
    EXPECT_TRUE(cert.ok() && cert->has_value()) << k;
    if (cert.ok() && cert->has_value()) out.certs[k] = (*cert)->not_after;
  }
  keys.clear();
  EXPECT_TRUE(s->List("index/expiry/", "", 0, &keys).ok());
  for (const auto& k : keys) {
    auto e = CertStore::ParseExpiryKey(k);
    EXPECT_TRUE(e.ok()) << k;
    if (e.ok()) out.expiry.insert({e->not_after, HyphenSerial(e->serial)});
  }
  keys.clear();
  EXPECT_TRUE(s->List("revoked/", "", 0, &keys).ok());
  out.revoked.insert(keys.begin(), keys.end());
  keys.clear();
  EXPECT_TRUE(s->List("index/revoked/", "", 0, &keys).ok());
  for (const auto& k : keys) out.indexed.insert(k.substr(k.find('/') + 1));
  return out;
}

// Every record has its expiry entry and every entry its record; every revocation has its record and exactly one
// index entry; the counters (and tidy-status) equal the counts found by reading.
void ExpectConsistent(EngineHarness& h) {
  StoreScan s = ScanStore(&h.storage);
  for (const auto& [serial, not_after] : s.certs) {
    EXPECT_TRUE(s.expiry.count({not_after, serial})) << "record without expiry entry: " << serial;
  }
  std::set<std::string> expiring;
  for (const auto& [not_after, serial] : s.expiry) {
    expiring.insert(serial);
    auto it = s.certs.find(serial);
    // tidy_cert_store removes a revoked certificate's record but keeps its entry: the revocation's way to tidy.
    EXPECT_TRUE(it != s.certs.end() ? it->second == not_after : s.revoked.count(serial) > 0)
        << "expiry entry without record: " << serial;
  }
  for (const auto& serial : s.revoked) {
    EXPECT_TRUE(s.certs.count(serial) || expiring.count(serial)) << "revocation tidy cannot find: " << serial;
  }
  EXPECT_EQ(s.indexed, std::multiset<std::string>(s.revoked.begin(), s.revoked.end()));
  EXPECT_EQ(CertStore(&h.storage).Count().value(), static_cast<int64_t>(s.certs.size()));
  EXPECT_EQ(RevocationStore(&h.storage).Count().value(), static_cast<int64_t>(s.revoked.size()));
  auto status = h.Read("tidy-status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->data["current_cert_store_count"], s.certs.size());
  EXPECT_EQ(status->data["current_revoked_cert_count"], s.revoked.size());
}


// A CA and a role on `h`; returns the CA's PEM.
std::string SetUpCa(EngineHarness& h) {
  auto root = h.Write("root/generate/internal", {{"common_name", "Tidy Root"}, {"ttl", "8760h"}, {"key_type", "ec"}});
  EXPECT_TRUE(root.ok()) << ErrorOf(root);
  EXPECT_TRUE(h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
  return root.ok() ? root->data["certificate"].get<std::string>() : "";
}

// Issues a certificate; returns its colon serial.
std::string Issue(EngineHarness& h, const std::string& ttl) {
  auto r = h.Write("issue/web", {{"common_name", "a.example.com"}, {"ttl", ttl}});
  EXPECT_TRUE(r.ok()) << ErrorOf(r);
  return r.ok() ? r->data["serial_number"].get<std::string>() : "";
}

void Revoke(EngineHarness& h, const std::string& serial) {
  auto r = h.Write("revoke", {{"serial_number", serial}});
  ASSERT_TRUE(r.ok()) << ErrorOf(r);
  ASSERT_EQ(r->data["state"], "revoked");
}

// Starts a tidy and waits for it to end.
void RunTidy(EngineHarness& h, Json params) {
  auto r = h.Write("tidy", std::move(params));
  ASSERT_TRUE(r.ok()) << ErrorOf(r);
  ASSERT_EQ(r->status, 202);
  h.backend->WaitForTidy();
}

bool Stored(EngineHarness& h, const std::string& serial) {
  auto r = h.Read("cert/" + serial);
  return r.ok() && !r->nil;
}

std::set<std::string> ListRevoked(EngineHarness& h) {
  auto r = h.Call(Operation::kList, "certs/revoked");
  std::set<std::string> out;
  if (r.ok() && !r->nil) {
    for (const auto& k : r->data["keys"]) out.insert(k.get<std::string>());
  }
  return out;
}

// Holds the tidy thread at its `at`th entry (after it was handled) until the test thread releases it.
struct Gate {
  uint64_t at = 0;
  bool hold = true;
  std::promise<void> reached;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> released_once{false};
  std::atomic<bool> fired{false};

  void OnEntry(uint64_t checked) {
    if (checked != at || fired.exchange(true)) return;  // the first run only
    reached.set_value();
    if (hold) released.wait();
  }
  void WaitReached() { reached.get_future().wait(); }
  void Release() {
    if (!released_once.exchange(true)) release.set_value();
  }
};

// Destroyed before the harness declared ahead of it: a failing test never leaves the tidy thread held.
struct ReleaseOnExit {
  Gate* gate;
  ~ReleaseOnExit() { gate->Release(); }
};

PkiBackendOptions GatedAt(Gate* gate) {
  PkiBackendOptions o = NoBackgroundCheck();
  o.tidy.on_entry = [gate](uint64_t checked) { gate->OnEntry(checked); };
  return o;
}

class TidyTest : public ::testing::Test {
 protected:
  TidyTest() : h(NoBackgroundCheck()) {}
  void SetUp() override { ca_pem = SetUpCa(h); }

  ParsedCrl Crl(const std::string& path = "crl") {
    auto r = h.Read(path);
    EXPECT_TRUE(r.ok() && r->raw) << ErrorOf(r);
    if (!r.ok() || !r->raw) return {};
    ParsedCrl c = ParseCrl(r->raw->body, ca_pem);
    EXPECT_TRUE(c.verified) << path;
    return c;
  }

  Json Status() {
    auto r = h.Read("tidy-status");
    EXPECT_TRUE(r.ok()) << ErrorOf(r);
    return r.ok() ? r->data : Json();
  }

  EngineHarness h;
  std::string ca_pem;
};

TEST_F(TidyTest, RemovesExactlyTheCertificatesPastTheSafetyBuffer) {
  // Expiring at kStart+100, +101 and +102; the safety buffer puts the cutoff at kStart+101.
  const std::string gone = Issue(h, "100s");
  const std::string at_boundary = Issue(h, "101s");
  const std::string inside = Issue(h, "102s");
  const std::string long_lived = Issue(h, "720h");
  const int64_t buffer = 3600;
  h.clock.Set(kStart + 101 + buffer);  // Vault: removed once now > notAfter + safety_buffer

  RunTidy(h, {{"tidy_cert_store", true}, {"safety_buffer", buffer}});
  EXPECT_FALSE(Stored(h, gone));
  EXPECT_TRUE(Stored(h, at_boundary));
  EXPECT_TRUE(Stored(h, inside));
  EXPECT_TRUE(Stored(h, long_lived));
  Json st = Status();
  EXPECT_EQ(st["state"], "Finished");
  EXPECT_EQ(st["cert_store_deleted_count"], 1);
  EXPECT_EQ(st["revoked_cert_deleted_count"], 0);
  EXPECT_EQ(st["current_cert_store_count"], 4);  // the root's record, and three leaves
  ExpectConsistent(h);

  // One second later the boundary certificate is past the buffer too.
  h.clock.Advance(1);
  RunTidy(h, {{"tidy_cert_store", true}, {"safety_buffer", buffer}});
  EXPECT_FALSE(Stored(h, at_boundary));
  EXPECT_TRUE(Stored(h, inside));
  EXPECT_EQ(Status()["cert_store_deleted_count"], 1);
  ExpectConsistent(h);
}

TEST_F(TidyTest, RevokedCertificatesGoOnlyWithTidyRevokedCertsAndLeaveTheCrl) {
  const std::string revoked_due = Issue(h, "60s");
  const std::string plain_due = Issue(h, "60s");
  const std::string revoked_valid = Issue(h, "24h");
  Revoke(h, revoked_due);
  Revoke(h, revoked_valid);
  EXPECT_EQ(Crl().SerialSet(), (std::set<std::string>{revoked_due, revoked_valid}));
  h.clock.Advance(120);

  // tidy_cert_store alone (as Vault): both expired records go; the revocation stays, with its expiry entry.
  RunTidy(h, {{"tidy_cert_store", true}, {"safety_buffer", 1}});
  EXPECT_FALSE(Stored(h, plain_due));
  EXPECT_FALSE(Stored(h, revoked_due));
  EXPECT_EQ(ListRevoked(h), (std::set<std::string>{revoked_due, revoked_valid}));
  EXPECT_EQ(Status()["cert_store_deleted_count"], 2);
  EXPECT_EQ(Crl().SerialSet(), (std::set<std::string>{revoked_due, revoked_valid}));
  ExpectConsistent(h);

  // tidy_revoked_certs: the expired revocation goes; the CRL read next no longer lists it.
  const long number_before = Crl().number;
  RunTidy(h, {{"tidy_revoked_certs", true}, {"safety_buffer", 1}});
  Json st = Status();
  EXPECT_EQ(st["revoked_cert_deleted_count"], 1);
  EXPECT_EQ(st["cert_store_deleted_count"], 0);
  EXPECT_EQ(st["current_revoked_cert_count"], 1);
  EXPECT_FALSE(Stored(h, revoked_due));
  EXPECT_TRUE(Stored(h, revoked_valid));
  EXPECT_EQ(ListRevoked(h), (std::set<std::string>{revoked_valid}));
  ParsedCrl after = Crl();
  EXPECT_GT(after.number, number_before);
  EXPECT_EQ(after.SerialSet(), (std::set<std::string>{revoked_valid}));
  ExpectConsistent(h);
}

TEST_F(TidyTest, TheDeprecatedAliasTidiesRevokedCertificates) {
  const std::string due = Issue(h, "60s");
  Revoke(h, due);
  h.clock.Advance(120);
  RunTidy(h, {{"tidy_revocation_list", true}, {"safety_buffer", 1}});
  EXPECT_EQ(Status()["tidy_revoked_certs"], true);
  EXPECT_FALSE(Stored(h, due));
  ExpectConsistent(h);
}

TEST_F(TidyTest, DeltaCrlsKeepWorkingAcrossATidy) {
  ASSERT_TRUE(h.Write("config/crl", {{"auto_rebuild", true}, {"enable_delta", true}}).ok());
  const std::string due = Issue(h, "60s");
  const std::string valid = Issue(h, "24h");
  Revoke(h, due);
  Revoke(h, valid);
  // auto_rebuild: revocations wait for the delta CRL or a rebuild; rotate so the complete CRL lists both.
  ASSERT_TRUE(h.Read("crl/rotate").ok());
  ParsedCrl complete = Crl();
  EXPECT_EQ(complete.SerialSet(), (std::set<std::string>{due, valid}));
  ParsedCrl delta = Crl("crl/delta");
  EXPECT_EQ(delta.delta_base, complete.number);
  EXPECT_TRUE(delta.SerialSet().empty());

  h.clock.Advance(120);
  RunTidy(h, {{"tidy_revoked_certs", true}, {"safety_buffer", 1}});
  EXPECT_EQ(Status()["revoked_cert_deleted_count"], 1);
  // The tidy moved the group's count on without a delta entry; a revocation after it gets the next count.
  const std::string later = Issue(h, "24h");
  Revoke(h, later);
  h.clock.Advance(16 * 60);  // past delta_rebuild_interval
  ParsedCrl delta_after = Crl("crl/delta");
  EXPECT_EQ(delta_after.delta_base, complete.number);
  EXPECT_EQ(delta_after.SerialSet(), (std::set<std::string>{later}));
  // auto_rebuild: as in Vault, the complete CRL drops the tidied entry at its next rebuild, not at once.
  EXPECT_EQ(Crl().SerialSet(), (std::set<std::string>{due, valid}));
  ASSERT_TRUE(h.Read("crl/rotate").ok());
  ParsedCrl rebuilt = Crl();
  EXPECT_EQ(rebuilt.SerialSet(), (std::set<std::string>{valid, later}));
  ParsedCrl delta_rebased = Crl("crl/delta");
  EXPECT_EQ(delta_rebased.delta_base, rebuilt.number);
  EXPECT_TRUE(delta_rebased.SerialSet().empty());
  ExpectConsistent(h);
}

TEST_F(TidyTest, StatusFieldsAndStatesFollowVault) {
  Json idle = Status();
  EXPECT_EQ(idle["state"], "Inactive");
  for (const char* k : {"safety_buffer", "tidy_cert_store", "error", "time_started", "time_finished", "message",
                        "cert_store_deleted_count", "revoked_cert_deleted_count", "missing_issuer_cert_count",
                        "pause_duration", "tidy_acme", "tidy_move_legacy_ca_bundle"}) {
    ASSERT_TRUE(idle.contains(k)) << k;
    EXPECT_TRUE(idle[k].is_null()) << k;
  }
  EXPECT_EQ(idle["current_cert_store_count"], 1);  // the root's record
  EXPECT_EQ(idle["current_revoked_cert_count"], 0);
  EXPECT_EQ(idle["last_auto_tidy_finished"], FormatRfc3339(kStart));  // the mount's start until a run
  EXPECT_FALSE(idle.contains("internal_backend_uuid"));

  // Nothing requested: started all the same, with Vault's warning.
  auto none = h.Write("tidy", Json::object());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 202);
  ASSERT_EQ(none->warnings.size(), 1u);
  EXPECT_EQ(none->warnings[0],
            "Manual tidy requested but no tidy operations were set. Enable at least one tidy operation to be run "
            "(tidy_cert_store / tidy_revoked_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers / "
            "tidy_move_legacy_ca_bundle / tidy_acme).");
  h.backend->WaitForTidy();

  Issue(h, "60s");
  h.clock.Advance(100);
  auto started = h.Write("tidy", {{"tidy_cert_store", true}, {"safety_buffer", "10s"}, {"pause_duration", "0"},
                                  {"tidy_acme", true}});
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->status, 202);
  EXPECT_TRUE(started->data.empty());
  EXPECT_EQ(started->warnings, (std::vector<std::string>{
                                   "Tidy operation successfully started. Any information from the operation will be "
                                   "printed to Vault's server logs.",
                                   "tidy_acme: this mount keeps no ACME state; there is nothing for it to tidy."}));
  h.backend->WaitForTidy();
  Json done = Status();
  EXPECT_EQ(done["state"], "Finished");
  EXPECT_EQ(done["safety_buffer"], 10);
  EXPECT_EQ(done["issuer_safety_buffer"], 31536000);
  EXPECT_EQ(done["acme_account_safety_buffer"], 2592000);
  EXPECT_EQ(done["tidy_cert_store"], true);
  EXPECT_EQ(done["tidy_revoked_certs"], false);
  EXPECT_EQ(done["tidy_acme"], true);
  EXPECT_EQ(done["pause_duration"], "0s");
  EXPECT_EQ(done["time_started"], FormatRfc3339(kStart + 100));
  EXPECT_EQ(done["time_finished"], FormatRfc3339(kStart + 100));
  EXPECT_EQ(done["last_auto_tidy_finished"], FormatRfc3339(kStart + 100));
  EXPECT_TRUE(done["message"].is_null());
  EXPECT_TRUE(done["error"].is_null());
  EXPECT_EQ(done["cert_store_deleted_count"], 1);
  EXPECT_EQ(done["total_acme_account_count"], 0);

  // Nothing running: nothing to cancel.
  auto cancel = h.Write("tidy-cancel");
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->warnings,
            (std::vector<std::string>{"Tidy operation cannot be cancelled as none is currently running."}));
  EXPECT_TRUE(cancel->data.empty());
}

TEST_F(TidyTest, BadParametersAreRefusedWithVaultsTexts) {
  EXPECT_EQ(ErrorOf(h.Write("tidy", {{"tidy_cert_store", true}, {"safety_buffer", 0}})),
            "safety_buffer must be greater than zero");
  EXPECT_EQ(ErrorOf(h.Write("tidy", {{"tidy_cert_store", true}, {"issuer_safety_buffer", "0s"}})),
            "issuer_safety_buffer must be greater than zero");
  EXPECT_EQ(ErrorOf(h.Write("tidy", {{"tidy_cert_store", true}, {"pause_duration", "-1s"}})),
            "received invalid, negative pause_duration");
  EXPECT_EQ(ErrorOf(h.Write("tidy", {{"tidy_cert_store", true}, {"pause_duration", "soon"}})),
            "Error parsing pause_duration: time: invalid duration \"soon\"");
  auto negative = h.Write("tidy", {{"tidy_cert_store", true}, {"safety_buffer", -5}});
  EXPECT_EQ(negative.status().code(), StatusCode::kBadRequest);
  // None of them started a run.
  EXPECT_EQ(Status()["state"], "Inactive");
}

TEST(TidyRun, ProgressCancellationAndAConsistentStoreAfterIt) {
  Gate gate;
  gate.at = 10;
  EngineHarness h(GatedAt(&gate));
  ReleaseOnExit guard{&gate};
  SetUpCa(h);
  for (int i = 0; i < 30; ++i) {
    std::string s = Issue(h, "60s");
    if (i % 3 == 0) Revoke(h, s);
  }
  const std::string keeper = Issue(h, "24h");
  h.clock.Advance(120);

  auto started = h.Write("tidy", {{"tidy_cert_store", true}, {"tidy_revoked_certs", true}, {"safety_buffer", 1}});
  ASSERT_TRUE(started.ok());
  gate.WaitReached();  // ten entries handled, the tidy thread held
  auto running = h.Read("tidy-status");
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->data["state"], "Running");
  EXPECT_EQ(running->data["message"], "Tidying certificate store: checking entry 9 of 30");
  EXPECT_TRUE(running->data["time_finished"].is_null());
  auto again = h.Write("tidy", {{"tidy_cert_store", true}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 0);
  EXPECT_EQ(again->warnings, (std::vector<std::string>{"Tidy operation already in progress."}));

  auto cancel = h.Write("tidy-cancel");
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->data["state"], "Cancelling");
  gate.Release();
  h.backend->WaitForTidy();

  auto st = h.Read("tidy-status");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->data["state"], "Cancelled");
  EXPECT_EQ(st->data["error"], "tidy operation cancelled");
  EXPECT_FALSE(st->data["time_finished"].is_null());
  // Exactly the ten entries handled before the cancel, no more.
  EXPECT_EQ(st->data["cert_store_deleted_count"].get<int>() + st->data["revoked_cert_deleted_count"].get<int>(), 10);
  EXPECT_TRUE(Stored(h, keeper));
  ExpectConsistent(h);

  // A later run finishes the job.
  RunTidy(h, {{"tidy_cert_store", true}, {"tidy_revoked_certs", true}, {"safety_buffer", 1}});
  auto done = h.Read("tidy-status");
  EXPECT_EQ(done->data["cert_store_deleted_count"].get<int>() + done->data["revoked_cert_deleted_count"].get<int>(),
            20);
  EXPECT_EQ(done->data["current_cert_store_count"], 2);  // the root and the keeper
  ExpectConsistent(h);
}

TEST(TidyRun, CancelInterruptsThePause) {
  Gate gate;
  gate.at = 1;
  gate.hold = false;
  EngineHarness h(GatedAt(&gate));
  ReleaseOnExit guard{&gate};
  SetUpCa(h);
  for (int i = 0; i < 3; ++i) Issue(h, "60s");
  h.clock.Advance(120);
  // An hour between certificates: only a cancel that interrupts the wait lets this test end.
  auto started = h.Write("tidy", {{"tidy_cert_store", true}, {"safety_buffer", 1}, {"pause_duration", "1h"}});
  ASSERT_TRUE(started.ok());
  gate.WaitReached();
  ASSERT_TRUE(h.Write("tidy-cancel").ok());
  h.backend->WaitForTidy();
  auto st = h.Read("tidy-status");
  EXPECT_EQ(st->data["state"], "Cancelled");
  EXPECT_EQ(st->data["pause_duration"], "1h0m0s");
  EXPECT_EQ(st->data["cert_store_deleted_count"], 1);
  ExpectConsistent(h);
}

TEST(TidyRun, DestroyingTheEngineStopsAPausedRun) {
  Gate gate;
  gate.at = 1;
  gate.hold = false;
  EngineHarness h(GatedAt(&gate));
  ReleaseOnExit guard{&gate};
  SetUpCa(h);
  for (int i = 0; i < 3; ++i) Issue(h, "60s");
  h.clock.Advance(120);
  ASSERT_TRUE(h.Write("tidy", {{"tidy_cert_store", true}, {"safety_buffer", 1}, {"pause_duration", "1h"}}).ok());
  gate.WaitReached();
  h.backend.reset();  // returns once the run has stopped: the plugin's Cleanup does this
  h.Reopen(NoBackgroundCheck());
  EXPECT_EQ(h.Read("tidy-status")->data["state"], "Inactive");  // tidy state is in memory, as in Vault
  ExpectConsistent(h);
}

TEST_F(TidyTest, AutoTidyConfigIsValidatedAsVaultDoes) {
  auto read = h.Read("config/auto-tidy");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data, (Json{{"enabled", false},
                              {"interval_duration", 43200},
                              {"tidy_cert_store", false},
                              {"tidy_revoked_certs", false},
                              {"tidy_revoked_cert_issuer_associations", false},
                              {"tidy_expired_issuers", false},
                              {"tidy_move_legacy_ca_bundle", false},
                              {"tidy_acme", false},
                              {"safety_buffer", 259200},
                              {"issuer_safety_buffer", 31536000},
                              {"acme_account_safety_buffer", 2592000},
                              {"pause_duration", "0s"},
                              {"maintain_stored_certificate_counts", false},
                              {"publish_stored_certificate_count_metrics", false}}));
  EXPECT_EQ(ErrorOf(h.Write("config/auto-tidy", {{"enabled", true}})),
            "Auto-tidy enabled but no tidy operations were requested. Enable at least one tidy operation to be run "
            "(tidy_cert_store / tidy_revoked_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers / "
            "tidy_move_legacy_ca_bundle / tidy_acme).");
  EXPECT_EQ(ErrorOf(h.Write("config/auto-tidy", {{"safety_buffer", 0}})),
            "given safety_buffer must be at least one second; got: 0");
  EXPECT_EQ(ErrorOf(h.Write("config/auto-tidy", {{"pause_duration", "-2s"}})),
            "received invalid, negative pause_duration");
  EXPECT_EQ(ErrorOf(h.Write("config/auto-tidy", {{"pause_duration", "x"}})),
            "unable to parse given pause_duration: time: invalid duration \"x\"");
  EXPECT_EQ(ErrorOf(h.Write("config/auto-tidy", {{"publish_stored_certificate_count_metrics", true}})),
            "Can not publish a running storage metrics count to metrics without first maintaining that count.  Enable "
            "`maintain_stored_certificate_counts` to enable `publish_stored_certificate_count_metrics`.");
  EXPECT_EQ(h.Read("config/auto-tidy")->data, read->data);  // refused writes changed nothing

  auto set = h.Write("config/auto-tidy", {{"enabled", true}, {"tidy_cert_store", true}, {"interval_duration", "1h"},
                                          {"pause_duration", "1500ms"}, {"maintain_stored_certificate_counts", true},
                                          {"publish_stored_certificate_count_metrics", true}});
  ASSERT_TRUE(set.ok()) << ErrorOf(set);
  EXPECT_EQ(set->data["interval_duration"], 3600);
  EXPECT_EQ(set->data["pause_duration"], "1.5s");
  // A partial update keeps what it does not name.
  auto partial = h.Write("config/auto-tidy", {{"safety_buffer", "2h"}});
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->data["enabled"], true);
  EXPECT_EQ(partial->data["tidy_cert_store"], true);
  EXPECT_EQ(partial->data["safety_buffer"], 7200);
  EXPECT_EQ(partial->data["maintain_stored_certificate_counts"], true);
  EXPECT_EQ(h.Read("config/auto-tidy")->data, partial->data);
}

TEST_F(TidyTest, AutoTidyStartsWhenTheIntervalHasPassed) {
  EXPECT_FALSE(h.backend->MaybeStartAutoTidy().value());  // not enabled
  h.clock.Advance(600);
  ASSERT_TRUE(h.Write("config/auto-tidy", {{"enabled", true}, {"tidy_cert_store", true}, {"safety_buffer", 1},
                                           {"interval_duration", "1h"}})
                  .ok());
  const std::string due = Issue(h, "60s");
  // The interval counts from enabling; a run starts only once it has fully passed.
  EXPECT_FALSE(h.backend->MaybeStartAutoTidy().value());
  h.clock.Advance(3600);
  EXPECT_FALSE(h.backend->MaybeStartAutoTidy().value());
  h.clock.Advance(1);
  EXPECT_TRUE(h.backend->MaybeStartAutoTidy().value());
  h.backend->WaitForTidy();
  Json st = Status();
  EXPECT_EQ(st["state"], "Finished");
  EXPECT_EQ(st["tidy_cert_store"], true);
  EXPECT_EQ(st["safety_buffer"], 1);
  EXPECT_EQ(st["last_auto_tidy_finished"], FormatRfc3339(kStart + 600 + 3601));
  EXPECT_FALSE(Stored(h, due));
  // The next one waits a full interval from the end of this one.
  EXPECT_FALSE(h.backend->MaybeStartAutoTidy().value());
  h.clock.Advance(3601);
  EXPECT_TRUE(h.backend->MaybeStartAutoTidy().value());
  h.backend->WaitForTidy();
  // The last run survives a restart.
  h.Reopen(NoBackgroundCheck());
  EXPECT_EQ(h.Read("tidy-status")->data["last_auto_tidy_finished"], FormatRfc3339(kStart + 600 + 3601 + 3601));
  EXPECT_FALSE(h.backend->MaybeStartAutoTidy().value());
  ASSERT_TRUE(h.Write("config/auto-tidy", {{"enabled", false}}).ok());
  h.clock.Advance(86400);
  EXPECT_FALSE(h.backend->MaybeStartAutoTidy().value());
}

TEST_F(TidyTest, ExpiredIssuersUseTheInjectedDeletion) {
  std::vector<int64_t> cutoffs;
  bool fail = false;
  PkiBackendOptions o = NoBackgroundCheck();
  o.tidy_expired_issuers = [&](int64_t cutoff) -> Result<int> {
    cutoffs.push_back(cutoff);
    if (fail) return Status::Internal("issuer storage unavailable");
    return 1;
  };
  h.Reopen(o);
  RunTidy(h, {{"tidy_expired_issuers", true}, {"issuer_safety_buffer", "100s"}});
  EXPECT_EQ(cutoffs, (std::vector<int64_t>{kStart - 100}));
  EXPECT_EQ(Status()["state"], "Finished");
  fail = true;
  RunTidy(h, {{"tidy_expired_issuers", true}});
  Json st = Status();
  EXPECT_EQ(st["state"], "Error");
  EXPECT_EQ(st["error"], "issuer storage unavailable");
  EXPECT_FALSE(st["time_finished"].is_null());
}

// The engine's own wiring deletes issuers expired past issuer_safety_buffer, never the default, keeping keys.
TEST_F(TidyTest, ExpiredIssuersAreDeletedByTheEngine) {
  h.system.max_ttl = 87600 * 3600;
  auto short_root = h.Write("root/rotate/internal", {{"common_name", "Short"}, {"key_type", "ec"}, {"ttl", "1h"}});
  ASSERT_TRUE(short_root.ok()) << ErrorOf(short_root);
  const std::string short_id = short_root->data["issuer_id"];
  ASSERT_EQ(h.Call(Operation::kList, "issuers")->data["keys"].size(), 2u);
  RunTidy(h, {{"tidy_expired_issuers", true}, {"issuer_safety_buffer", "1h"}});
  EXPECT_EQ(h.Call(Operation::kList, "issuers")->data["keys"].size(), 2u);  // not yet past the buffer
  h.clock.Advance(2 * 3600 + 1);
  RunTidy(h, {{"tidy_expired_issuers", true}, {"issuer_safety_buffer", "1h"}});
  EXPECT_EQ(Status()["state"], "Finished");
  auto left = h.Call(Operation::kList, "issuers");
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->data["keys"].size(), 1u);
  EXPECT_NE(left->data["keys"][0], short_id);
  EXPECT_FALSE(h.Read("issuer/" + short_id).ok());
  EXPECT_EQ(h.Call(Operation::kList, "keys")->data["keys"].size(), 2u);
}

TEST_F(TidyTest, IssuerAssociationsAreRepairedOnTheRevocationsTidyVisits) {
  PkiContext ctx{&h.storage, &h.clock, &h.system, h.sealer.get()};
  const std::string issuer_id = CaStore(ctx).DefaultIssuerId().value();
  const std::string due = Issue(h, "60s");
  const std::string valid = Issue(h, "24h");
  Revoke(h, due);
  Revoke(h, valid);
  // Both revocations name an issuer the mount does not have.
  for (const auto& s : {due, valid}) {
    auto rec = RevocationStore(&h.storage).Get(ParseSerial(s).value()).value();
    WriteBatch b;
    RevocationStore::PutRecordToBatch(&b, ParseSerial(s).value(), {rec->revocation_time, "gone-issuer"});
    ASSERT_TRUE(h.storage.Write(b).ok());
  }
  h.clock.Advance(120);
  RunTidy(h, {{"tidy_revoked_cert_issuer_associations", true}, {"safety_buffer", 1}});
  EXPECT_EQ(Status()["missing_issuer_cert_count"], 1);
  auto repaired = RevocationStore(&h.storage).Get(ParseSerial(due).value()).value();
  auto untouched = RevocationStore(&h.storage).Get(ParseSerial(valid).value()).value();
  EXPECT_EQ(repaired->issuer_id, issuer_id);
  EXPECT_EQ(untouched->issuer_id, "gone-issuer");  // not expired: not visited, no scan of revoked/
  EXPECT_TRUE(Stored(h, due));                      // kept: tidy_revoked_certs was not asked for
  ExpectConsistent(h);
}

TEST_F(TidyTest, ARevocationThatPassedItsChecksBeforeTidyRemovedTheCertificateIsRefused) {
  const std::string serial = Issue(h, "60s");
  const std::string bytes = ParseSerial(serial).value();
  auto record = CertStore(&h.storage).Get(bytes).value();
  ASSERT_TRUE(record.has_value());
  h.clock.Advance(120);
  RunTidy(h, {{"tidy_cert_store", true}, {"safety_buffer", 1}});
  ASSERT_FALSE(Stored(h, serial));
  // A revocation that read the record and passed its expiry check before the run (a stalled request) writes now.
  h.clock.Set(kStart);
  PkiContext ctx{&h.storage, &h.clock, &h.system, h.sealer.get()};
  CaStore cas(ctx);
  auto late = RevokeStoredCertificate(ctx, cas, bytes, *record);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(late.status().message(), "certificate with serial " + serial + " not found.");
  EXPECT_TRUE(ListRevoked(h).empty());
  ExpectConsistent(h);
}

TEST(TidyConcurrency, IssuanceRevocationAndTidyTogetherEndConsistentWithExactCounts) {
  EngineHarness h(NoBackgroundCheck());
  SetUpCa(h);
  std::vector<std::string> due;
  for (int i = 0; i < 30; ++i) {
    due.push_back(Issue(h, "60s"));
    if (i % 2 == 0) Revoke(h, due.back());
  }
  h.clock.Advance(120);

  std::mutex mu;
  std::vector<std::string> fresh, fresh_revoked;  // guarded by mu
  std::thread issuer([&] {
    for (int i = 0; i < 40; ++i) {
      std::string s = Issue(h, i % 4 == 0 ? "60s" : "1h");
      if (i % 2 == 0) Revoke(h, s);
      std::lock_guard<std::mutex> lock(mu);
      fresh.push_back(s);
      if (i % 2 == 0) fresh_revoked.push_back(s);
    }
  });
  std::thread revoker([&] {
    // Due certificates: revoked already (answered as such), expired (refused with a warning), or tidied away.
    for (const auto& s : due) {
      auto r = h.Write("revoke", {{"serial_number", s}});
      EXPECT_TRUE(r.ok() || ErrorOf(r) == "certificate with serial " + s + " not found.") << ErrorOf(r);
    }
  });
  for (int run = 0; run < 4; ++run) {
    auto r = h.Write("tidy", {{"tidy_cert_store", true}, {"tidy_revoked_certs", true}, {"safety_buffer", 1}});
    ASSERT_TRUE(r.ok());
    h.backend->WaitForTidy();
    EXPECT_EQ(h.Read("tidy-status")->data["state"], "Finished");
  }
  issuer.join();
  revoker.join();
  ExpectConsistent(h);

  // Once nothing else writes, one more run leaves exactly the unexpired certificates.
  RunTidy(h, {{"tidy_cert_store", true}, {"tidy_revoked_certs", true}, {"safety_buffer", 1}});
  ExpectConsistent(h);
  for (const auto& s : due) EXPECT_FALSE(Stored(h, s)) << s;
  for (const auto& s : fresh) EXPECT_TRUE(Stored(h, s)) << s;  // issued at the advanced clock: not yet due
  EXPECT_EQ(ListRevoked(h), std::set<std::string>(fresh_revoked.begin(), fresh_revoked.end()));
  EXPECT_EQ(h.Read("tidy-status")->data["current_cert_store_count"], fresh.size() + 1);
}

// Forwards to a MemoryStorage and records what is read while `recording` is set.
class RecordingStorage final : public Storage {
 public:
  // `atomic`: what AtomicBatches() says (the batches land whole either way: memory underneath).
  explicit RecordingStorage(bool atomic = true) : atomic_(atomic) {}

  bool AtomicBatches() const override { return atomic_; }
  Status Get(std::string_view key, std::string* value) override {
    Note(&gets_, key);
    return inner_.Get(key, value);
  }
  Status Put(std::string_view key, std::string_view value) override {
    Note(&writes_, key);
    return inner_.Put(key, value);
  }
  Status Delete(std::string_view key) override {
    Note(&writes_, key);
    return inner_.Delete(key);
  }
  Status Write(const WriteBatch& batch) override {
    for (const auto& op : batch.ops()) Note(&writes_, op.key);
    return inner_.Write(batch);
  }
  Status List(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::string>* keys) override {
    Note(&lists_, prefix);
    return inner_.List(prefix, start_after, limit, keys);
  }
  Status Scan(std::string_view prefix, std::string_view start_after, size_t limit,
              std::vector<std::pair<std::string, std::string>>* entries) override {
    Note(&lists_, prefix);
    return inner_.Scan(prefix, start_after, limit, entries);
  }

  void Record(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    recording_ = on;
  }
  std::vector<std::string> Gets() {
    std::lock_guard<std::mutex> lock(mu_);
    return gets_;
  }
  std::vector<std::string> Lists() {
    std::lock_guard<std::mutex> lock(mu_);
    return lists_;
  }
  std::vector<std::string> Writes() {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }

 private:
  void Note(std::vector<std::string>* to, std::string_view what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (recording_) to->emplace_back(what);
  }
  const bool atomic_;
  MemoryStorage inner_;
  std::mutex mu_;
  bool recording_ = false;          // guarded by mu_
  std::vector<std::string> gets_;   // guarded by mu_
  std::vector<std::string> lists_;  // guarded by mu_
  std::vector<std::string> writes_;  // guarded by mu_
};

TEST(TidyCost, BuildingAnEngineUsesNoStorageAndItsFirstRequestChecksTheCountersOnce) {
  RecordingStorage storage;
  storage.Record(true);
  FakeClock clock(kStart);
  FixedSystemView system;
  auto sealer = NewAesGcmSealer(std::string(32, 'k'));
  PkiBackendOptions options;  // the default background check too: it waits a minute before its first look
  auto backend = NewPkiBackend(PkiContext{&storage, &clock, &system, sealer.get()}, options);
  // A host may not be used while it sets an engine up (Vault's Setup probes).
  EXPECT_TRUE(storage.Gets().empty());
  EXPECT_TRUE(storage.Lists().empty());
  EXPECT_TRUE(storage.Writes().empty());
  Request req;
  req.operation = Operation::kRead;
  req.path = "tidy-status";
  ASSERT_TRUE(backend->HandleRequest(req).ok());
  // An empty mount: the counters start complete (one batch: the marker, and the revoked count cleared), from at
  // most one key of certs/ and revoked/ and a look at the certificate counter shards.
  EXPECT_EQ(storage.Writes(), (std::vector<std::string>{"index/count/revoked", "index/count/complete"}));
  const size_t lists = storage.Lists().size();
  ASSERT_TRUE(backend->HandleRequest(req).ok());
  EXPECT_EQ(storage.Writes().size(), 2u);
  EXPECT_EQ(storage.Lists().size(), lists + 1);  // the second read only scans the counter shards
}

// The engine over `storage` with a fake clock, as a host would run it; SetUpCaAndRole adds an EC root and the role
// `web` (any name, EC).
struct EngineOver {
  explicit EngineOver(Storage* storage)
      : backend(NewPkiBackend(PkiContext{storage, &clock, &system, sealer.get()}, NoBackgroundCheck())) {}

  Result<Response> Call(Operation op, const std::string& path, Json data) {
    Request req;
    req.operation = op;
    req.path = path;
    req.data = std::move(data);
    return backend->HandleRequest(req);
  }
  bool SetUpCaAndRole() {
    return Call(Operation::kUpdate, "root/generate/internal", {{"common_name", "R"}, {"key_type", "ec"}}).ok() &&
           Call(Operation::kUpdate, "roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok();
  }

  FakeClock clock{kStart};
  FixedSystemView system;
  std::unique_ptr<KeySealer> sealer = NewAesGcmSealer(std::string(32, 'k'));
  std::unique_ptr<PkiBackend> backend;  // after what it points to
};

// Over storage with atomic batches (RocksDB, memory) and over a host's (op by op).
class TidyCost : public ::testing::TestWithParam<bool> {};

TEST_P(TidyCost, ARunNeverReadsUnexpiredCertificatesNorListsTheStores) {
  const bool atomic = GetParam();
  RecordingStorage storage(atomic);
  EngineOver e(&storage);
  ASSERT_TRUE(e.SetUpCaAndRole());
  std::vector<std::string> due_revoked, due_not_revoked, valid;
  for (int i = 0; i < 25; ++i) {
    auto leaf = e.Call(Operation::kUpdate, "issue/web", {{"common_name", "x.example"}, {"ttl", i < 5 ? "60s" : "24h"}});
    ASSERT_TRUE(leaf.ok());
    const std::string serial = leaf->data["serial_number"];
    (i >= 5 ? valid : i % 2 == 0 ? due_revoked : due_not_revoked).push_back(serial);
    if (i % 2 == 0) {
      ASSERT_TRUE(e.Call(Operation::kUpdate, "revoke", {{"serial_number", serial}}).ok());
    }
  }
  e.clock.Advance(120);

  storage.Record(true);
  auto started = e.Call(Operation::kUpdate, "tidy", {{"tidy_cert_store", true}, {"tidy_revoked_certs", true},
                                                     {"safety_buffer", 1}});
  ASSERT_TRUE(started.ok());
  e.backend->WaitForTidy();
  storage.Record(false);
  auto st = e.Call(Operation::kRead, "tidy-status", Json::object());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->data["cert_store_deleted_count"].get<int>() + st->data["revoked_cert_deleted_count"].get<int>(), 5);

  // Listed: the expiry index only; never the certificates, the revocations or a CRL group's index.
  bool walked_expiry = false;
  for (const auto& prefix : storage.Lists()) {
    walked_expiry = walked_expiry || prefix == "index/expiry/";
    for (const char* store : {"certs/", "revoked/", "index/revoked/"}) {
      EXPECT_NE(prefix.rfind(store, 0), 0u) << "listed " << prefix;
    }
  }
  EXPECT_TRUE(walked_expiry);
  const std::vector<std::string> gets = storage.Gets();
  const std::set<std::string> read(gets.begin(), gets.end());
  for (const auto& s : valid) {
    const std::string hyphen = HyphenSerial(ParseSerial(s).value());
    EXPECT_FALSE(read.count("certs/" + hyphen)) << "read an unexpired certificate " << s;
    EXPECT_FALSE(read.count("revoked/" + hyphen)) << "read an unexpired revocation " << s;
  }
  auto reads_of = [&](const std::string& key) { return std::count(gets.begin(), gets.end(), key); };
  for (const auto& s : due_revoked) EXPECT_TRUE(read.count("certs/" + HyphenSerial(ParseSerial(s).value()))) << s;
  // A certificate never revoked: one revocation lookup; its record is read only where a crash can have split it
  // from its expiry entry.
  for (const auto& s : due_not_revoked) {
    const std::string hyphen = HyphenSerial(ParseSerial(s).value());
    EXPECT_EQ(reads_of("revoked/" + hyphen), 1) << s;
    EXPECT_EQ(reads_of("certs/" + hyphen), atomic ? 0 : 1) << s;
  }
}

INSTANTIATE_TEST_SUITE_P(Storage, TidyCost, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Atomic" : "OpByOp"; });

// Over a host's storage a crash can leave a certificate's old expiry entry behind when its record is written again
// with another notAfter (the old entry is deleted last): tidy removes that entry alone, and keeps the record.
TEST(TidyCounters, AStaleExpiryEntryGoesAloneOverAHostsStorage) {
  RecordingStorage storage(/*atomic=*/false);
  EngineOver e(&storage);
  ASSERT_TRUE(e.SetUpCaAndRole());
  auto leaf = e.Call(Operation::kUpdate, "issue/web", {{"common_name", "x.example"}, {"ttl", "24h"}});
  ASSERT_TRUE(leaf.ok());
  const std::string serial = ParseSerial(leaf->data["serial_number"].get<std::string>()).value();
  std::vector<std::string> entries_before;
  ASSERT_TRUE(storage.List("index/expiry/", "", 0, &entries_before).ok());
  ASSERT_TRUE(storage.Put(CertStore::ExpiryKey(kStart + 10, serial), "").ok());
  e.clock.Advance(120);
  ASSERT_TRUE(e.Call(Operation::kUpdate, "tidy", {{"tidy_cert_store", true}, {"safety_buffer", 1}}).ok());
  e.backend->WaitForTidy();
  auto st = e.Call(Operation::kRead, "tidy-status", Json::object());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->data["cert_store_deleted_count"], 0);
  EXPECT_EQ(st->data["current_cert_store_count"], 2);  // the root's record and the leaf's
  std::string record;
  EXPECT_TRUE(storage.Get(CertStore::CertKey(serial), &record).ok());
  std::vector<std::string> entries_after;
  ASSERT_TRUE(storage.List("index/expiry/", "", 0, &entries_after).ok());
  EXPECT_EQ(entries_after, entries_before);
}

TEST(TidyCounters, ACertificateWrittenTwiceCountsOnce) {
  MemoryStorage storage;
  CertStore certs(&storage);
  ASSERT_TRUE(certs.CountsCoverAllRecords().value());
  const std::string serial = "\x01\x02\x03";
  for (int64_t not_after : {kStart + 10, kStart + 20}) {
    WriteBatch batch;
    auto held = certs.AddToBatch(&batch, serial, StoredCert{"der", "issuer", "role", not_after});
    ASSERT_TRUE(held.ok());
    ASSERT_TRUE(storage.Write(batch).ok());
  }
  EXPECT_EQ(certs.Count().value(), 1);
  std::vector<std::string> expiry;
  ASSERT_TRUE(storage.List("index/expiry/", "", 0, &expiry).ok());
  EXPECT_EQ(expiry.size(), 1u);  // the record's entry moved with its notAfter
}

TEST(TidyCounters, UnknownWhenRecordsPredateCounting) {
  EngineHarness h(NoBackgroundCheck());
  h.backend.reset();
  // Records written before counting existed: no marker, no counters.
  ASSERT_TRUE(h.storage.Put("certs/01-02", "x").ok());
  ASSERT_TRUE(h.storage.Delete("index/count/complete").ok());
  h.Reopen(NoBackgroundCheck());
  auto st = h.Read("tidy-status");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->data["current_cert_store_count"].is_null());
  EXPECT_TRUE(st->data["current_revoked_cert_count"].is_null());
  ASSERT_EQ(st->warnings.size(), 1u);
  EXPECT_NE(st->warnings[0].find("unknown"), std::string::npos);
}

TEST(TidyCounters, SurviveReopeningTheEngineOverTheSameStorage) {
  EngineHarness h(NoBackgroundCheck());
  SetUpCa(h);
  for (int i = 0; i < 4; ++i) {
    std::string s = Issue(h, i < 2 ? "60s" : "24h");
    if (i % 2 == 0) Revoke(h, s);
  }
  h.clock.Advance(120);
  RunTidy(h, {{"tidy_cert_store", true}, {"tidy_revoked_certs", true}, {"safety_buffer", 1}});
  Json before = h.Read("tidy-status")->data;
  EXPECT_EQ(before["current_cert_store_count"], 3);
  EXPECT_EQ(before["current_revoked_cert_count"], 1);
  h.Reopen(NoBackgroundCheck());
  Json after = h.Read("tidy-status")->data;
  EXPECT_EQ(after["current_cert_store_count"], 3);
  EXPECT_EQ(after["current_revoked_cert_count"], 1);
  ExpectConsistent(h);
}

TEST(TidyCounters, SurviveReopeningARocksDbMount) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("tidy-test-" + std::to_string(::getpid()) + "-counters");
  std::filesystem::remove_all(dir);
  FakeClock clock(kStart);
  FixedSystemView system;
  auto sealer = NewAesGcmSealer(std::string(32, 'k'));
  auto call = [](PkiBackend& b, Operation op, const std::string& path, Json data) {
    Request req;
    req.operation = op;
    req.path = path;
    req.data = std::move(data);
    return b.HandleRequest(req);
  };
  {
    auto db = RocksDBStorage::Open(dir);
    ASSERT_TRUE(db.ok()) << db.status().message();
    auto b = NewPkiBackend(PkiContext{db->get(), &clock, &system, sealer.get()}, NoBackgroundCheck());
    ASSERT_TRUE(
        call(*b, Operation::kUpdate, "root/generate/internal", {{"common_name", "R"}, {"key_type", "ec"}}).ok());
    ASSERT_TRUE(call(*b, Operation::kUpdate, "roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
    for (int i = 0; i < 3; ++i) {
      auto leaf = call(*b, Operation::kUpdate, "issue/web", {{"common_name", "x.example"}, {"ttl", "1h"}});
      ASSERT_TRUE(leaf.ok());
      if (i == 0) {
        ASSERT_TRUE(call(*b, Operation::kUpdate, "revoke", {{"serial_number", leaf->data["serial_number"]}}).ok());
      }
    }
  }
  {
    auto db = RocksDBStorage::Open(dir);
    ASSERT_TRUE(db.ok()) << db.status().message();
    auto b = NewPkiBackend(PkiContext{db->get(), &clock, &system, sealer.get()}, NoBackgroundCheck());
    auto st = call(*b, Operation::kRead, "tidy-status", Json::object());
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->data["current_cert_store_count"], 4);
    EXPECT_EQ(st->data["current_revoked_cert_count"], 1);
  }
  std::filesystem::remove_all(dir);
}

// A human's measurement, not a test (run with --gtest_also_run_disabled_tests): counted certificate writes to a
// synced RocksDB from 1 and 8 threads, with the serial's shard lock and, for comparison, with one lock around
// every write (what a single counter key would cost). Prints writes per second.
TEST(TidyBenchmark, DISABLED_CountedWritesFromConcurrentIssuers) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("tidy-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto db = RocksDBStorage::Open(dir);
  ASSERT_TRUE(db.ok());
  CertStore certs(db->get());
  std::atomic<uint64_t> next{1};
  std::mutex one_lock;
  auto run = [&](int threads, bool single_lock) {
    constexpr int kPerThread = 500;
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (int i = 0; i < kPerThread; ++i) {
          uint64_t n = next.fetch_add(1) * 0x9E3779B97F4A7C15ull;  // spread like random serials
          std::string serial(reinterpret_cast<const char*>(&n), sizeof n);
          serial[0] = static_cast<char>(serial[0] | 1);
          std::unique_lock<std::mutex> global(one_lock, std::defer_lock);
          if (single_lock) global.lock();
          WriteBatch batch;
          auto held = certs.AddToBatch(&batch, serial, StoredCert{std::string(600, 'd'), "i", "r", kStart});
          ASSERT_TRUE(held.ok());
          ASSERT_TRUE((*db)->Write(batch).ok());
        }
      });
    }
    for (auto& th : pool) th.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("threads=%d %s: %.0f writes/s\n", threads, single_lock ? "one lock" : "shard locks",
                threads * kPerThread / secs);
  };
  run(1, false);
  run(8, false);
  run(8, true);
  db->reset();
  std::filesystem::remove_all(dir);
}

TEST(TidyDurations, PauseDurationsKeepMilliseconds) {
  EXPECT_EQ(ParseDurationMillis("500ms").value(), 500);
  EXPECT_EQ(ParseDurationMillis("1.5s").value(), 1500);
  EXPECT_EQ(ParseDurationMillis("2").value(), 2000);
  EXPECT_EQ(ParseDurationMillis("-1s").value(), -1000);
  EXPECT_FALSE(ParseDurationMillis("1x").ok());
  EXPECT_EQ(ParseDurationSeconds("1500ms").value(), 1);
  EXPECT_EQ(FormatGoDurationMillis(0), "0s");
  EXPECT_EQ(FormatGoDurationMillis(500), "500ms");
  EXPECT_EQ(FormatGoDurationMillis(1500), "1.5s");
  EXPECT_EQ(FormatGoDurationMillis(60250), "1m0.25s");
  EXPECT_EQ(FormatGoDurationMillis(3600000), "1h0m0s");
}

}  // namespace
}  // namespace pki::testing

namespace pki::testing {
namespace {

TEST(ExpiryIndex, KeysSortByExpiryAndGroupByDay) {
  const std::string serial = ParseSerial("01:02:03").value();
  const std::string a = CertStore::ExpiryKey(86400 * 3 + 5, serial);
  const std::string b = CertStore::ExpiryKey(86400 * 3 + 86399, serial);
  const std::string c = CertStore::ExpiryKey(86400 * 4, serial);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  const size_t day_end = std::string(CertStore::kExpiryPrefix).size() + 8;
  EXPECT_EQ(a.substr(0, day_end), b.substr(0, day_end));  // one top-level folder per day
  EXPECT_NE(b.substr(0, day_end), c.substr(0, day_end));
  auto parsed = CertStore::ParseExpiryKey(b.substr(std::string(CertStore::kExpiryPrefix).size()));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->not_after, 86400 * 3 + 86399);
  EXPECT_EQ(parsed->serial, serial);
  EXPECT_FALSE(CertStore::ParseExpiryKey("00000004/0000000000015187/01-02-03").ok());  // day disagrees
  EXPECT_FALSE(CertStore::ParseExpiryKey("garbage").ok());
}

}  // namespace
}  // namespace pki::testing
