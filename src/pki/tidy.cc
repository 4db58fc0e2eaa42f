#include "src/pki/tidy.h"

#include <algorithm>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "src/core/duration.h"
#include "src/crypto/x509.h"
#include "src/pki/cert_store.h"
#include "src/pki/stored_json.h"
#include "src/pki/revocation.h"

namespace pki {
namespace {

constexpr char kConfigKey[] = "config/auto-tidy";
constexpr char kLastRunKey[] = "config/auto-tidy-last-run";
constexpr size_t kPage = 1000;  // expiry-index keys per listing

using ExpiryEntry = CertStore::ExpiryEntry;
Result<ExpiryEntry> ParseExpiryKey(const std::string& key) { return CertStore::ParseExpiryKey(key); }

}  // namespace

const char* TidyStateName(TidyState s) {
  switch (s) {
    case TidyState::kInactive: return "Inactive";
    case TidyState::kRunning: return "Running";
    case TidyState::kFinished: return "Finished";
    case TidyState::kError: return "Error";
    case TidyState::kCancelling: return "Cancelling";
    case TidyState::kCancelled: return "Cancelled";
  }
  return "Inactive";
}

Json AutoTidyConfigToJson(const AutoTidyConfig& c) {
  return Json::object({{"enabled", c.enabled},
                       {"interval_duration", c.interval},
                       {"tidy_cert_store", c.params.cert_store},
                       {"tidy_revoked_certs", c.params.revoked_certs},
                       {"tidy_revoked_cert_issuer_associations", c.params.revoked_cert_issuer_associations},
                       {"tidy_expired_issuers", c.params.expired_issuers},
                       {"tidy_move_legacy_ca_bundle", c.params.move_legacy_ca_bundle},
                       {"tidy_acme", c.params.acme},
                       {"safety_buffer", c.params.safety_buffer},
                       {"issuer_safety_buffer", c.params.issuer_safety_buffer},
                       {"acme_account_safety_buffer", c.params.acme_account_safety_buffer},
                       {"pause_duration", FormatGoDurationMillis(c.params.pause_ms)},
                       {"maintain_stored_certificate_counts", c.maintain_stored_certificate_counts},
                       {"publish_stored_certificate_count_metrics", c.publish_stored_certificate_count_metrics}});
}

Result<AutoTidyConfig> ReadAutoTidyConfig(Storage* storage) {
  AutoTidyConfig c;
  ASSIGN_OR_RETURN(std::optional<Json> stored, ReadJsonObject(storage, kConfigKey));
  if (!stored) return c;
  const Json& j = *stored;
  try {
    c.enabled = j.value("enabled", c.enabled);
    c.interval = j.value("interval_duration", c.interval);
    c.params.cert_store = j.value("tidy_cert_store", false);
    c.params.revoked_certs = j.value("tidy_revoked_certs", false);
    c.params.revoked_cert_issuer_associations = j.value("tidy_revoked_cert_issuer_associations", false);
    c.params.expired_issuers = j.value("tidy_expired_issuers", false);
    c.params.move_legacy_ca_bundle = j.value("tidy_move_legacy_ca_bundle", false);
    c.params.acme = j.value("tidy_acme", false);
    c.params.safety_buffer = j.value("safety_buffer", c.params.safety_buffer);
    c.params.issuer_safety_buffer = j.value("issuer_safety_buffer", c.params.issuer_safety_buffer);
    c.params.acme_account_safety_buffer = j.value("acme_account_safety_buffer", c.params.acme_account_safety_buffer);
    ASSIGN_OR_RETURN(c.params.pause_ms, ParseDurationMillis(j.value("pause_duration", std::string("0s"))));
    c.maintain_stored_certificate_counts = j.value("maintain_stored_certificate_counts", false);
    c.publish_stored_certificate_count_metrics = j.value("publish_stored_certificate_count_metrics", false);
  } catch (const Json::exception&) {
    return Status::Internal("corrupt config/auto-tidy entry");
  }
  return c;
}

Status WriteAutoTidyConfig(Storage* storage, const AutoTidyConfig& c) {
  Json stored = AutoTidyConfigToJson(c);
  stored["version"] = 1;
  return storage->Put(kConfigKey, stored.dump());
}

Tidier::Tidier(const PkiContext& ctx, CaStore* cas, ExpiredIssuerTidy expired_issuers, TidierOptions options)
    : ctx_(ctx), cas_(cas), expired_issuers_(std::move(expired_issuers)), options_(std::move(options)) {
  if (ctx_.storage == nullptr) return;
  // As Vault: until a run is recorded, auto-tidy counts its interval from the mount's start.
  status_.last_auto_tidy_finished = ctx_.clock->Now();
  if (options_.auto_tidy_check_interval.count() > 0) auto_thread_ = std::thread(&Tidier::AutoTidyLoop, this);
}

Status Tidier::Prepare() {
  if (prepared_.load() || ctx_.storage == nullptr) return Status::Ok();
  std::lock_guard<std::mutex> once(prepare_mu_);
  if (prepared_.load()) return Status::Ok();
  ASSIGN_OR_RETURN(bool complete, CertStore(ctx_.storage).CountsCoverAllRecords());
  std::string value;
  Status s = ctx_.storage->Get(kLastRunKey, &value);
  if (!s.ok() && !s.IsNotFound()) return s;
  if (s.ok()) {
    Json j = Json::parse(value, nullptr, false);
    if (j.is_object() && j["last_run_time"].is_number_integer()) {
      std::lock_guard<std::mutex> lock(mu_);
      status_.last_auto_tidy_finished = j["last_run_time"].get<int64_t>();
    }
  }
  counts_complete_.store(complete);
  prepared_.store(true);
  return Status::Ok();
}

Tidier::~Tidier() {
  std::thread worker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cancel_ = true;
    worker = std::move(worker_);
  }
  cv_.notify_all();
  if (auto_thread_.joinable()) auto_thread_.join();
  if (worker.joinable()) worker.join();
}

bool Tidier::Start(const TidyParams& params) {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ || stopping_) return false;
  // The previous run has ended (running_ is false), so its thread needs nothing more from us: joining is prompt.
  if (worker_.joinable()) worker_.join();
  running_ = true;
  cancel_ = false;
  TidyStatus next;
  next.state = TidyState::kRunning;
  next.params = params;
  next.time_started = ctx_.clock->Now();
  next.last_auto_tidy_finished = status_.last_auto_tidy_finished;
  status_ = std::move(next);
  worker_ = std::thread(&Tidier::Run, this, params);
  return true;
}

bool Tidier::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return false;
    cancel_ = true;
    status_.state = TidyState::kCancelling;
  }
  cv_.notify_all();
  return true;
}

TidyStatus Tidier::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

void Tidier::WaitForIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !running_; });
}

Result<bool> Tidier::MaybeStartAutoTidy() {
  if (ctx_.storage == nullptr) return false;
  RETURN_IF_ERROR(Prepare());
  ASSIGN_OR_RETURN(AutoTidyConfig config, ReadAutoTidyConfig(ctx_.storage));
  if (!config.enabled || config.interval <= 0) return false;
  int64_t last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) return false;
    last = status_.last_auto_tidy_finished;
  }
  if (ctx_.clock->Now() <= last + config.interval) return false;
  return Start(config.params);
}

void Tidier::AutoTidyLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, options_.auto_tidy_check_interval, [&] { return stopping_; })) break;
    lock.unlock();
    // A failed check (configuration unreadable) has no caller to answer; the next check tries again.
    (void)MaybeStartAutoTidy();
    lock.lock();
  }
}

void Tidier::RecordLastRun(int64_t when) {
  // Losing this record only brings the next auto-tidy forward; the run itself is not affected.
  (void)ctx_.storage->Put(kLastRunKey, Json{{"last_run_time", when}}.dump());
  std::lock_guard<std::mutex> lock(mu_);
  status_.last_auto_tidy_finished = when;
}

void Tidier::Run(TidyParams params) {
  // As Vault: a run's start counts as the last run, so auto-tidy waits a full interval after a failed one.
  RecordLastRun(Snapshot().time_started);
  run_issuers_.reset();
  Result<Outcome> outcome = RunSteps(params);
  const int64_t now = ctx_.clock->Now();
  if (outcome.ok() && outcome.value() == Outcome::kDone) RecordLastRun(now);
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.time_finished = now;
    if (!outcome.ok()) {
      status_.state = TidyState::kError;
      status_.error = outcome.status().message();  // the message stays: it says where the run stopped
    } else if (outcome.value() == Outcome::kCancelled) {
      status_.state = TidyState::kCancelled;
      status_.error = "tidy operation cancelled";
    } else {
      status_.state = TidyState::kFinished;
      status_.message.clear();
    }
    running_ = false;
  }
  cv_.notify_all();
}

Result<Tidier::Outcome> Tidier::RunSteps(const TidyParams& params) {
  const int64_t now = ctx_.clock->Now();
  if (params.cert_store || params.revoked_certs || params.revoked_cert_issuer_associations) {
    ASSIGN_OR_RETURN(Outcome o, TidyExpiredEntries(params, now));
    if (o == Outcome::kCancelled) return o;
  }
  if (CancelRequested()) return Outcome::kCancelled;
  if (params.expired_issuers && expired_issuers_) {
    ASSIGN_OR_RETURN(int deleted, expired_issuers_(now - params.issuer_safety_buffer));
    (void)deleted;  // Vault reports no count of deleted issuers either
  }
  if (CancelRequested()) return Outcome::kCancelled;
  // move_legacy_ca_bundle and acme: this engine has neither a legacy CA bundle nor ACME state.
  return Outcome::kDone;
}

Result<uint64_t> Tidier::CountDue(int64_t cutoff) {
  uint64_t due = 0;
  std::string after;
  for (;;) {
    std::vector<std::string> keys;
    RETURN_IF_ERROR(ctx_.storage->List(CertStore::kExpiryPrefix, after, kPage, &keys));
    for (const auto& key : keys) {
      ASSIGN_OR_RETURN(ExpiryEntry e, ParseExpiryKey(key));
      if (e.not_after >= cutoff) return due;
      ++due;
    }
    // A cancel (or the engine's destruction) need not wait for a long count: the walk stops at its first entry.
    if (keys.size() < kPage || CancelRequested()) return due;
    after = keys.back();
  }
}

Result<Tidier::Outcome> Tidier::TidyExpiredEntries(const TidyParams& params, int64_t now) {
  // Vault removes a certificate once now > notAfter + safety_buffer, i.e. notAfter < now - safety_buffer.
  const int64_t cutoff = now - params.safety_buffer;
  // Keys only, and only the due ones: the progress message's total.
  ASSIGN_OR_RETURN(uint64_t total, CountDue(cutoff));
  const std::string what = params.cert_store ? "Tidying certificate store: checking entry "
                                             : "Tidying revoked certificates: checking certificate ";
  std::string after;  // entries up to here are done; removed ones are not listed again
  uint64_t checked = 0;
  for (;;) {
    std::vector<std::string> keys;
    RETURN_IF_ERROR(ctx_.storage->List(CertStore::kExpiryPrefix, after, kPage, &keys));
    for (const auto& key : keys) {
      ASSIGN_OR_RETURN(ExpiryEntry e, ParseExpiryKey(key));
      if (e.not_after >= cutoff) return Outcome::kDone;
      {
        std::lock_guard<std::mutex> lock(mu_);
        status_.message = what + std::to_string(checked) + " of " + std::to_string(std::max(total, checked + 1));
      }
      if (CancelRequested()) return Outcome::kCancelled;
      RETURN_IF_ERROR(TidyEntry(params, e.not_after, e.serial));
      after = key;
      ++checked;
      if (options_.on_entry) options_.on_entry(checked);
      if (params.pause_ms > 0) Pause(params.pause_ms);
    }
    if (keys.size() < kPage) return Outcome::kDone;
  }
}

Status Tidier::TidyEntry(const TidyParams& params, int64_t not_after, const std::string& serial) {
  std::optional<RevocationRecord> revoked;
  if (params.cert_store) {
    // Most due entries are of certificates never revoked: one revocation lookup under the serial lock (revocations
    // write their record under it) decides, and the removal happens under the same lock.
    CertStore::SerialLock serial_lock = CertStore::LockSerial(serial);
    ASSIGN_OR_RETURN(revoked, RevocationStore(ctx_.storage).Get(serial));
    if (!revoked) return RemoveCertificate(not_after, serial, std::move(serial_lock));
  } else {
    ASSIGN_OR_RETURN(revoked, RevocationStore(ctx_.storage).Get(serial));
    if (!revoked) return Status::Ok();
  }
  // The paths below take the revocation lock before the serial lock (released above) and re-read under them.
  if (params.revoked_certs) return RemoveRevoked(not_after, serial);
  if (params.revoked_cert_issuer_associations) RETURN_IF_ERROR(RepairIssuer(serial));
  // As Vault: tidy_cert_store alone removes the record but keeps the revocation, and here its expiry entry too:
  // that entry is how a later tidy_revoked_certs run finds the revocation without scanning revoked/.
  if (params.cert_store) return RemoveRevokedRecord(not_after, serial);
  return Status::Ok();
}

Status Tidier::RemoveRevokedRecord(int64_t not_after, const std::string& serial) {
  CertStore certs(ctx_.storage);
  CertStore::SerialLock serial_lock = CertStore::LockSerial(serial);
  ASSIGN_OR_RETURN(std::optional<StoredCert> cert, certs.Get(serial));
  if (!cert || cert->not_after != not_after) return Status::Ok();
  WriteBatch batch;
  batch.Delete(CertStore::CertKey(serial));
  RETURN_IF_ERROR(certs.AddCountToBatch(&batch, serial, -1));
  RETURN_IF_ERROR(ctx_.storage->WriteUnsynced(batch));  // lost in a crash: the next run redoes it
  serial_lock.unlock();
  std::lock_guard<std::mutex> lock(mu_);
  ++status_.cert_store_deleted_count;
  return Status::Ok();
}

Status Tidier::RemoveCertificate(int64_t not_after, const std::string& serial, CertStore::SerialLock serial_lock) {
  CertStore certs(ctx_.storage);
  bool removes_record = true;
  // Where batches are atomic, a due entry of a certificate not revoked is its record's: the record and its entry
  // are written together (CertStore::AddToBatch, which also drops the entry of a notAfter rewritten) and removed
  // together, and the one removal that keeps the entry (RemoveRevokedRecord) leaves a revocation, which no one
  // removes without the entry, and under which no record is stored again (revoke with a presented certificate
  // answers the revocation in force instead: another certificate with the serial could bring another notAfter).
  // So the record is not read: among many stored, reading it would cost a block read per removal. Over a host's
  // storage a crash can split those pairs, so the record decides there.
  if (!ctx_.storage->AtomicBatches()) {
    ASSIGN_OR_RETURN(std::optional<StoredCert> cert, certs.Get(serial));
    // An entry that is not the record's (the record was written again with another notAfter) only goes itself.
    removes_record = cert && cert->not_after == not_after;
  }
  WriteBatch batch;
  if (removes_record) batch.Delete(CertStore::CertKey(serial));
  // The index entry after the record: a host applying ops one by one never leaves a record tidy cannot find.
  batch.Delete(CertStore::ExpiryKey(not_after, serial));
  if (removes_record) RETURN_IF_ERROR(certs.AddCountToBatch(&batch, serial, -1));
  RETURN_IF_ERROR(ctx_.storage->WriteUnsynced(batch));  // lost in a crash: the next run redoes it
  serial_lock.unlock();
  if (removes_record) {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.cert_store_deleted_count;
  }
  return Status::Ok();
}

Status Tidier::RemoveRevoked(int64_t not_after, const std::string& serial) {
  RevocationStore revocations(ctx_.storage);
  CertStore certs(ctx_.storage);
  auto writes = RevocationStore::LockWrites();
  CertStore::SerialLock serial_lock = CertStore::LockSerial(serial);
  ASSIGN_OR_RETURN(std::optional<RevocationRecord> revoked, revocations.Get(serial));
  // Only tidy removes revocations, one run at a time: this cannot change under us, but never act on a guess.
  if (!revoked) return Status::Ok();
  ASSIGN_OR_RETURN(std::optional<StoredCert> cert, certs.Get(serial));
  // The record's own notAfter decides; an index entry that is not the record's says nothing about it.
  const bool entry_is_records = !cert || cert->not_after == not_after;
  WriteBatch batch;
  if (entry_is_records) {
    ASSIGN_OR_RETURN(std::optional<std::string> group, GroupListing(serial, revoked->issuer_id));
    RETURN_IF_ERROR(revocations.RemoveToBatch(&batch, serial, group));
    if (cert) batch.Delete(CertStore::CertKey(serial));
  }
  batch.Delete(CertStore::ExpiryKey(not_after, serial));
  if (cert && entry_is_records) RETURN_IF_ERROR(certs.AddCountToBatch(&batch, serial, -1));
  RETURN_IF_ERROR(ctx_.storage->WriteUnsynced(batch));  // lost in a crash: the next run redoes it
  serial_lock.unlock();
  writes.unlock();
  if (entry_is_records) {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.revoked_cert_deleted_count;
  }
  return Status::Ok();
}

Result<std::optional<std::string>> Tidier::GroupListing(const std::string& serial, const std::string& issuer_id) {
  RevocationStore revocations(ctx_.storage);
  // Where Add indexed it: its issuer's group. An issuer deleted since makes CrlGroupOf answer another group, so
  // the groups of the remaining issuers are tried too (a handful of reads, never a scan).
  auto group = CrlGroupOf(*cas_, issuer_id);
  if (group.ok()) {
    ASSIGN_OR_RETURN(bool listed, revocations.HasIndexEntry(*group, serial));
    if (listed) return std::optional<std::string>(*group);
  }
  ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
  for (const auto& issuer : snap->issuers) {
    ASSIGN_OR_RETURN(bool listed, revocations.HasIndexEntry(issuer.crl_group, serial));
    if (listed) return std::optional<std::string>(issuer.crl_group);
  }
  return std::optional<std::string>();
}

Status Tidier::RepairIssuer(const std::string& serial) {
  if (!run_issuers_) {
    ASSIGN_OR_RETURN(run_issuers_, cas_->Snapshot());
  }
  RevocationStore revocations(ctx_.storage);
  ASSIGN_OR_RETURN(std::optional<RevocationRecord> revoked, revocations.Get(serial));
  if (!revoked) return Status::Ok();
  for (const auto& issuer : run_issuers_->issuers) {
    if (issuer.issuer_id == revoked->issuer_id) return Status::Ok();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.missing_issuer_cert_count;
  }
  // The issuer that signed it: the one named by the certificate record first, then any other.
  ASSIGN_OR_RETURN(std::optional<StoredCert> cert, CertStore(ctx_.storage).Get(serial));
  if (!cert) return Status::Ok();
  auto leaf = ParseCertificateDer(cert->der);
  if (!leaf.ok()) return Status::Ok();  // nothing to verify against; the record stays as it is
  std::vector<const IssuerEntry*> candidates;
  for (const auto& issuer : run_issuers_->issuers) {
    if (issuer.issuer_id == cert->issuer_id) candidates.insert(candidates.begin(), &issuer);
    else candidates.push_back(&issuer);
  }
  const IssuerEntry* found = nullptr;
  for (const IssuerEntry* issuer : candidates) {
    auto ca = ParseCertificatePem(issuer->certificate);
    if (!ca.ok()) continue;
    EVP_PKEY* key = X509_get0_pubkey(ca->get());
    if (key == nullptr || X509_check_issued(ca->get(), leaf->get()) != X509_V_OK) continue;
    if (X509_verify(leaf->get(), key) != 1) continue;
    found = issuer;
    break;
  }
  if (found == nullptr) return Status::Ok();
  auto writes = RevocationStore::LockWrites();
  CertStore::SerialLock serial_lock = CertStore::LockSerial(serial);
  ASSIGN_OR_RETURN(std::optional<RevocationRecord> now, revocations.Get(serial));
  if (!now || now->issuer_id != revoked->issuer_id) return Status::Ok();
  WriteBatch batch;
  RETURN_IF_ERROR(revocations.ReassociateToBatch(&batch, serial, RevocationRecord{now->revocation_time,
                                                                                   found->issuer_id},
                                                 found->crl_group));
  return ctx_.storage->WriteUnsynced(batch);
}

bool Tidier::CancelRequested() {
  std::lock_guard<std::mutex> lock(mu_);
  return cancel_;
}

void Tidier::Pause(int64_t ms) {
  // At most a day per entry: now + a duration near the parser's bound (2562047h) would overflow the clock.
  constexpr int64_t kMaxPauseMs = 24LL * 3600 * 1000;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(std::min(ms, kMaxPauseMs)), [&] { return cancel_; });
}

}  // namespace pki
