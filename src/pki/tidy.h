// Tidy: Vault's tidy, in time proportional to what it removes.
//
// A run walks the expiry index (index/expiry/<day>/<notAfter>/<serial>, src/pki/cert_store.h) from its start up to
// now - safety_buffer, a page of keys at a time, and stops at the first entry that is not yet due: it never reads
// an unexpired certificate, and never lists certs/ or revoked/. For each due entry:
//   - not revoked, tidy_cert_store: the record, its expiry entry and the count go in one batch. Where storage
//     batches are atomic the record is not read (an entry not revoked is always its record's): at 10M stored
//     that read was a block read per removal; over a host's storage it decides;
//   - revoked, tidy_revoked_certs: the revocation (record, CRL group index entry, count, group sequence moved on so
//     the next CRL read rebuilds without it) and the certificate go in one batch;
//   - revoked, not tidy_revoked_certs: kept whole, record and expiry entry included, because the expiry index is
//     the only way a later run finds an expired revocation; with tidy_revoked_cert_issuer_associations its issuer
//     id is repaired when it names no issuer of the mount. Only the revocations the walk visits are checked (those
//     past the safety buffer): this is no scan of revoked/.
// A crash or a cancel between batches leaves a consistent store. Each batch is written under the locks the other
// writers of the same records take (RevocationStore::LockWrites, CertStore::LockSerial), and what it removes is
// checked under them, so a concurrent issuance or revocation is never undone or half-counted; a revocation that
// lands after tidy removed the certificate is refused by RevocationStore::Add.
//
// tidy_expired_issuers calls the ExpiredIssuerTidy it was given. tidy_acme and tidy_move_legacy_ca_bundle are
// accepted and do nothing: this engine keeps no ACME state and has no legacy CA bundle.
//
// Keys (docs/design.md):
//   config/auto-tidy            JSON: the auto-tidy configuration (durations in seconds, pause as Go text)
//   config/auto-tidy-last-run   JSON {"last_run_time": unix seconds}: when the last run started or succeeded
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "src/core/status.h"
#include "src/engine/request.h"
#include "src/pki/ca_store.h"
#include "src/pki/cert_store.h"
#include "src/pki/context.h"

namespace pki {

// What one run does (POST tidy's parameters, or the auto-tidy configuration's).
struct TidyParams {
  bool cert_store = false;
  bool revoked_certs = false;
  bool revoked_cert_issuer_associations = false;
  bool expired_issuers = false;
  bool move_legacy_ca_bundle = false;  // accepted; nothing to move here
  bool acme = false;                   // accepted; no ACME state here
  int64_t safety_buffer = 72 * 3600;
  int64_t issuer_safety_buffer = 365 * 24 * 3600;
  int64_t acme_account_safety_buffer = 30 * 24 * 3600;
  int64_t pause_ms = 0;

  // Whether any operation is requested (Vault's IsAnyTidyEnabled).
  bool AnyEnabled() const {
    return cert_store || revoked_certs || revoked_cert_issuer_associations || expired_issuers ||
           move_legacy_ca_bundle || acme;
  }
};

// The operations Vault names when none is requested.
inline constexpr char kTidyOperationNames[] =
    "tidy_cert_store / tidy_revoked_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers / "
    "tidy_move_legacy_ca_bundle / tidy_acme";

// config/auto-tidy.
struct AutoTidyConfig {
  bool enabled = false;
  int64_t interval = 12 * 3600;  // from one run's end to the next run's start; 0: never
  TidyParams params;
  // Accepted, stored and echoed: the counts are always maintained here (no start-up count to opt out of), and
  // there are no metrics to publish them to.
  bool maintain_stored_certificate_counts = false;
  bool publish_stored_certificate_count_metrics = false;
};

// Vault's answer shape: durations as integer seconds, pause_duration as Go text.
Json AutoTidyConfigToJson(const AutoTidyConfig& c);
Result<AutoTidyConfig> ReadAutoTidyConfig(Storage* storage);
Status WriteAutoTidyConfig(Storage* storage, const AutoTidyConfig& c);

enum class TidyState { kInactive, kRunning, kFinished, kError, kCancelling, kCancelled };
const char* TidyStateName(TidyState s);

// The current or last run, as tidy-status reports it.
struct TidyStatus {
  TidyState state = TidyState::kInactive;
  TidyParams params;
  std::string error;
  int64_t time_started = 0;
  int64_t time_finished = 0;
  std::string message;
  uint64_t cert_store_deleted_count = 0;
  uint64_t revoked_cert_deleted_count = 0;
  uint64_t missing_issuer_cert_count = 0;
  int64_t last_auto_tidy_finished = 0;
};

// Deletes the issuers whose notAfter is before the cutoff (unix seconds); returns how many it deleted.
using ExpiredIssuerTidy = std::function<Result<int>(int64_t not_after_cutoff)>;

struct TidierOptions {
  // How often the background thread asks MaybeStartAutoTidy; zero: no background thread (tests call it).
  std::chrono::milliseconds auto_tidy_check_interval = std::chrono::minutes(1);
  // Called on the tidy thread after each expiry-index entry a run has checked (with the number checked so far):
  // lets a test act at a known point of a run. May be empty.
  std::function<void(uint64_t checked)> on_entry;
};

// Runs tidy on one thread of its own, one run at a time, and auto-tidy's check on another.
// Thread-safe: every public method may be called from any thread. mu_ guards the status, the flags and the
// worker thread handle; the run itself holds mu_ only to update them. The destructor cancels a run (also one
// waiting out pause_duration) and joins both threads before returning.
class Tidier {
 public:
  // Reads no storage (a host may not be used while it sets an engine up; see Prepare). `ctx.storage` null: an
  // engine that only answers its special paths, with no background thread.
  Tidier(const PkiContext& ctx, CaStore* cas, ExpiredIssuerTidy expired_issuers, TidierOptions options);
  ~Tidier();
  Tidier(const Tidier&) = delete;
  Tidier& operator=(const Tidier&) = delete;

  // Starts a run with `params`. False when one is already running (nothing started).
  bool Start(const TidyParams& params);
  // Asks the running run to stop at its next checkpoint (between certificates, or at once when pausing). False
  // when none is running.
  bool Cancel();
  // The current or last run.
  TidyStatus Snapshot() const;
  // Reads what the tidier keeps in storage (whether the counters cover every record, the last run's time), once:
  // the engine calls it before serving its first request, and auto-tidy's check before its first look, so that
  // no write of this process comes before it. O(1). On an error nothing is settled and the next call tries again.
  Status Prepare();
  // Whether the stored counters cover every record (CertStore::CountsCoverAllRecords), as Prepare found.
  bool CountsComplete() const { return counts_complete_.load(); }

  // Auto-tidy's check: starts a run with the stored configuration when it is enabled and the last run started
  // or succeeded more than interval_duration ago (by the clock). Returns whether it started one. The background
  // thread calls it about once a minute; tests call it directly.
  Result<bool> MaybeStartAutoTidy();
  // Blocks until no run is in progress.
  void WaitForIdle();
  // Auto-tidy's interval counts from now (as Vault, when config/auto-tidy turns auto-tidy on).
  void RestartAutoTidyInterval() { RecordLastRun(ctx_.clock->Now()); }

 private:
  enum class Outcome { kDone, kCancelled };
  void Run(TidyParams params);
  Result<Outcome> RunSteps(const TidyParams& params);
  Result<Outcome> TidyExpiredEntries(const TidyParams& params, int64_t now);
  Status TidyEntry(const TidyParams& params, int64_t not_after, const std::string& serial);
  // Called with the serial's lock held, the certificate found not revoked under it.
  Status RemoveCertificate(int64_t not_after, const std::string& serial, CertStore::SerialLock serial_lock);
  Status RemoveRevokedRecord(int64_t not_after, const std::string& serial);
  Status RemoveRevoked(int64_t not_after, const std::string& serial);
  Status RepairIssuer(const std::string& serial);
  Result<std::optional<std::string>> GroupListing(const std::string& serial, const std::string& issuer_id);
  Result<uint64_t> CountDue(int64_t cutoff);
  bool CancelRequested();
  // Waits `ms` unless a cancel comes first.
  void Pause(int64_t ms);
  void RecordLastRun(int64_t when);
  void AutoTidyLoop();

  const PkiContext ctx_;
  CaStore* const cas_;
  const ExpiredIssuerTidy expired_issuers_;
  const TidierOptions options_;
  std::mutex prepare_mu_;                     // serialises Prepare's first run
  std::atomic<bool> prepared_{false};         // Prepare succeeded (set last, under prepare_mu_)
  std::atomic<bool> counts_complete_{false};  // set by Prepare
  std::shared_ptr<const CaSnapshot> run_issuers_;  // the run's thread only: the issuers, read once per run

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled on cancel, stop and the end of a run
  TidyStatus status_;           // guarded by mu_
  bool running_ = false;        // guarded by mu_: a run is in progress
  bool cancel_ = false;         // guarded by mu_: the run in progress should stop
  bool stopping_ = false;       // guarded by mu_: the destructor runs; nothing new starts
  std::thread worker_;          // guarded by mu_; joined before it is replaced and by the destructor
  std::thread auto_thread_;     // started by the constructor, joined by the destructor
};

}  // namespace pki
