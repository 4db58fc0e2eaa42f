// CertStore: issued certificates, the indexes over them, and their count.
//
// Keys (docs/design.md):
//   certs/<serial>                       record: DER, issuer id, role, notAfter (CBOR)
//   index/expiry/<day:08x>/<notAfter:016x>/<serial>
//                                        empty; ordered by expiry so tidy walks only what has expired. The day
//                                        level (notAfter / 86400) keeps a host's one-level listing of the top
//                                        folder to one entry per day rather than per second
//   index/count/certs/<shard:02x>        decimal, signed: this shard's share of the number of certs/ records
//   index/count/complete                 present when the counters cover every record (CountsCoverAllRecords)
// <serial> is lowercase hex with '-' separators, as Vault stores it.
//
// Counting: a write that creates or removes a certs/ record carries the change of one counter shard in the same
// batch, so a crash leaves record and count agreeing. The shard is the serial's (one of 64, by a hash of the
// serial), read and rewritten under the serial's lock (LockSerial), so writers only wait for one another when
// their serials share a shard: concurrent issuances still commit together in RocksDB's write groups. The count is
// the sum of the shards, one 64-key scan. The serial's lock also orders every change to one serial's records
// (issuance, revocation, tidy), so "is there a record?" checked under it stays true until the batch lands.
//
// Thread-safe: stateless over Storage; the serial locks are process-wide (shared by all mounts of the process,
// which only adds a little contention between mounts).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "storage/storage.h"

namespace pki {

// Lowercase hex with '-' separators: how serials appear in storage keys (as in Vault).
std::string HyphenSerial(const std::string& serial_bytes);

// The position a page starts after, as a storage key suffix: the colon/dash serial `after` of OpenBao's
// after/limit paging in hyphen form ("" when `after` is empty). `after` need not exist; it must be a serial
// (400 otherwise), since every key of certs/ and revoked/ is one.
Result<std::string> PageStartAfter(const std::string& after);

// Up to `limit` (0: all) serials in colon form among the keys "<prefix><hyphen serial>", in storage order, after the
// colon/dash serial `after` (OpenBao's after/limit paging).
Result<std::vector<std::string>> ListSerials(Storage* storage, const std::string& prefix, const std::string& after,
                                             size_t limit);

struct StoredCert {
  std::string der;
  std::string issuer_id;  // empty when the writer did not know it
  std::string role;       // empty for CA certificates, presented no_store certificates and records without one
  int64_t not_after = 0;
};

// Decodes a certs/<serial> record value. A record lacking the issuer, role or expiry (a writer that did not know
// them) decodes with those empty or zero; one that is not a CBOR map holding the DER is Internal "corrupt
// certificate record for <serial_text>".
Result<StoredCert> DecodeStoredCert(const std::string& value, const std::string& serial_text);

// One record of a page of certs/, as read: either the decoded record or why it could not be decoded.
struct StoredCertEntry {
  std::string serial;        // colon form, as LIST certs shows it
  std::optional<StoredCert> cert;
  std::string error;         // set when `cert` is empty
};

class CertStore {
 public:
  explicit CertStore(Storage* storage) : storage_(storage) {}

  static std::string CertKey(const std::string& serial_bytes);
  static std::string ExpiryKey(int64_t not_after, const std::string& serial_bytes);
  static constexpr char kExpiryPrefix[] = "index/expiry/";
  // An expiry index key (without kExpiryPrefix), parsed; Internal "corrupt expiry index entry" otherwise.
  struct ExpiryEntry {
    int64_t not_after = 0;
    std::string serial;  // bytes
  };
  static Result<ExpiryEntry> ParseExpiryKey(const std::string& key);

  // The lock of `serial_bytes`'s counter shard: hold it from reading the serial's records (and the shard) to
  // writing the batch that changes them. Lock order: RevocationStore::LockWrites() first, then this.
  using SerialLock = std::unique_lock<std::mutex>;
  static SerialLock LockSerial(const std::string& serial_bytes);

  // Adds the certificate record, its expiry entry and, when the mount has no record of the serial yet, the count
  // to `batch` (a serial written twice counts once). Returns the serial's lock: keep it until `batch` is written.
  Result<SerialLock> AddToBatch(WriteBatch* batch, const std::string& serial_bytes, const StoredCert& cert) const;

  // The record and its expiry entry alone, uncounted: for bulk loads of records that predate counting (such a
  // mount reports its counts as unknown, see CountsCoverAllRecords).
  static void AddRecordToBatch(WriteBatch* batch, const std::string& serial_bytes, const StoredCert& cert);
  // What a bulk loader of uncounted records writes with them: the counts no longer cover every record.
  static void MarkCountsIncompleteInBatch(WriteBatch* batch);

  // Adds `delta` to the serial's counter shard in `batch`. Caller holds LockSerial(serial_bytes) until the write.
  Status AddCountToBatch(WriteBatch* batch, const std::string& serial_bytes, int64_t delta) const;

  // The number of certs/ records: the sum of the counter shards.
  Result<int64_t> Count() const;

  // Whether the counters cover every record. A mount whose records all predate counting does not know its count
  // without a full scan, which start-up never does; an empty mount (no certs/ and no revoked/ record) is marked
  // complete here. Call once when the mount starts, before it serves requests. O(1).
  Result<bool> CountsCoverAllRecords() const;

  // The record of `serial_bytes`, or nullopt when the mount has none.
  Result<std::optional<StoredCert>> Get(const std::string& serial_bytes) const;
  Result<bool> Exists(const std::string& serial_bytes) const;

  // Up to `limit` (0: all) serials in colon form, in storage order, after the colon/dash serial `after`.
  Result<std::vector<std::string>> List(const std::string& after, size_t limit) const;

  // Up to `limit` (0: all) records in storage order after the colon/dash serial `after`, read in one ordered walk
  // (Storage::Scan). A record that cannot be decoded is returned with its error rather than failing the page, so
  // one bad entry neither hides the others nor breaks paging past it.
  Result<std::vector<StoredCertEntry>> Page(const std::string& after, size_t limit) const;

 private:
  Storage* storage_;
};

}  // namespace pki
