// Revocation: which certificates are revoked, and each issuer's revoked entries in the order a CRL lists them.
//
// Keys (docs/design.md):
//   revoked/<serial>                    CBOR {t: revocation time, i: issuer id}: "is this serial revoked?"
//   index/revoked/<group>/<serial>      CBOR {t}: the CRL group's entries, streamed in serial order by CRL builds
//   crl/seq/<group>                     decimal change count of the group's revoked set (two steps per
//                                       revocation or removal); a CRL built at count n is stale once it is past n
//   index/delta/<group>/<count:016x>    CBOR {s: serial, t}: the group's revocations in the order they happened,
//                                       so a delta CRL reads only those after its base CRL's count
//   index/count/revoked                 decimal: the number of revoked/ records
// A CRL group is the set of issuers sharing a subject and a key (CrlGroupOf): they sign indistinguishable CRLs and
// OCSP answers, so they share one revoked set, as Vault builds one CRL per such group.
// A revocation writes all five in one batch: an O(1) append, never a CRL rebuild. The count moves on twice in that
// batch, once before the revoked/ record and once after it: where a host applies a batch op by op, an OCSP answer
// cached under the first step (made before the record existed) is never used again. Tidy removes an expired
// revocation (RemoveToBatch) in one batch too: the record, the group's index entry and the count, and it moves
// crl/seq/<group> on (again twice, around the record) so that the next CRL read rebuilds without the entry. Counts
// without an index/delta/ entry are gaps delta CRL builds skip (ReadSince reads the counts that exist). <serial> is
// lowercase hex with '-' separators, as for certs/.
//
// Thread-safe: stateless over Storage. Writers of revocation state serialise on LockWrites() (process-wide) and
// then take the serial's CertStore::LockSerial.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/status.h"
#include "src/crypto/x509.h"
#include "src/engine/request.h"
#include "src/pki/ca_store.h"
#include "src/pki/cert_store.h"
#include "src/pki/context.h"

namespace pki {

struct RevocationRecord {
  int64_t revocation_time = 0;
  std::string issuer_id;
};

// The CRL group of `issuer_id` (IssuerEntry::crl_group: from its subject and public key). An issuer the mount no
// longer has falls back to the default issuer's group (Vault lists such certificates on the default CRL).
Result<std::string> CrlGroupOf(const CaStore& cas, const std::string& issuer_id);

class RevocationStore {
 public:
  explicit RevocationStore(Storage* storage) : storage_(storage) {}

  Result<std::optional<RevocationRecord>> Get(const std::string& serial_bytes) const;

  // The key of the record of `hyphen_serial` (a certs/ key suffix), and the decoding of such a record (Internal
  // "corrupt revocation entry <serial_text>" when malformed): for readers that fetch the value themselves, to tell
  // a storage failure from one bad record.
  static std::string RecordKey(std::string_view hyphen_serial);
  static Result<RevocationRecord> DecodeRecord(const std::string& value, const std::string& serial_text);


  // The in-process serialisation of every writer of revocation state (Add, tidy): a serial keeps its first
  // revocation time, a group's count never skips or repeats, and the revoked count is read and rewritten by one
  // writer at a time. Take it before CertStore::LockSerial.
  static std::unique_lock<std::mutex> LockWrites();

  // Records `serial_bytes` as revoked at `now` under `issuer_id` (indexed in CRL group `group`), unless it already
  // is. Returns the record in force (the earlier one when already revoked). Refuses (400, "certificate with serial
  // X not found.") when the mount no longer has the certificate's record: tidy removed it since the caller read
  // it, and a revocation without a record could never be tidied.
  Result<RevocationRecord> Add(const std::string& serial_bytes, const std::string& issuer_id,
                               const std::string& group, int64_t now);

  // Adds to `batch` the removal of the serial's revocation: the record, the count and, when `group` is set, the
  // group's index entry with the group's count moved on (so CRLs built before are stale). Caller holds
  // LockWrites() and the serial's lock until the batch is written.
  Status RemoveToBatch(WriteBatch* batch, const std::string& serial_bytes, const std::optional<std::string>& group);

  // Adds to `batch` the record of `serial_bytes` as `record`, as written by Add.
  static void PutRecordToBatch(WriteBatch* batch, const std::string& serial_bytes, const RevocationRecord& record);

  // Adds to `batch` tidy's re-association of a revocation with `record.issuer_id`, whose CRL group is `group`, and
  // moves that group's count on: what the group's OCSP answers say of the serial changes with the record (answers
  // are cached against the count) and its next CRL is rebuilt. Caller holds the locks as for RemoveToBatch.
  Status ReassociateToBatch(WriteBatch* batch, const std::string& serial_bytes, const RevocationRecord& record,
                            const std::string& group);

  // Whether CRL group `group` lists `serial_bytes`.
  Result<bool> HasIndexEntry(const std::string& group, const std::string& serial_bytes) const;

  // The number of revoked/ records.
  Result<int64_t> Count() const;

  // The CRL group's revocation count (0 when none).
  Result<uint64_t> Sequence(const std::string& group) const;

  // Appends up to `n` of the issuer's revoked entries (serial bytes, revocation time) in serial order, after the
  // position `*cursor` (empty: the start), and advances the cursor. Returns whether entries may remain.
  Result<bool> ReadEntries(const std::string& group, std::string* cursor, size_t n,
                           std::vector<std::pair<std::string, int64_t>>* out) const;

  // Appends up to `n` revocations under the issuer with counts above `*after_seq`, in count order, advancing it.
  // Returns whether entries may remain.
  Result<bool> ReadSince(const std::string& group, uint64_t* after_seq, size_t n,
                         std::vector<std::pair<std::string, int64_t>>* out) const;
  // Deletes the issuer's delta index entries with counts up to `seq` (a complete CRL now lists them), as one
  // Storage::DeleteRange from the index's start (completing any earlier prune that was interrupted).
  Status PruneDeltaIndex(const std::string& group, uint64_t seq);

  // Calls `batch` with the issuer's revoked entries in serial order, `batch_size` at a time.
  Status ForEachEntryBatch(const std::string& group, size_t batch_size,
                           const std::function<Status(const std::vector<std::pair<std::string, int64_t>>&)>& batch)
      const;

  // Up to `limit` (0: all) revoked serials in colon form, in storage order, after the colon/dash serial `after`.
  Result<std::vector<std::string>> List(const std::string& after, size_t limit) const;

 private:
  Storage* storage_;
};

// What a revocation request ended in.
struct RevokeOutcome {
  std::optional<RevocationRecord> record;  // nullopt: the certificate had expired and was left off the CRL
  std::string warning;
};

// 400 "adding issuer (id: ...) to its own CRL is not allowed" when `serial_bytes` is one of the mount's issuers.
Status RefuseIssuerSerial(const CaStore& cas, const std::string& serial_bytes);

// Vault's revokeCert for a stored certificate: refuses an issuer's own certificate, leaves an expired one alone
// (with Vault's warning), keeps the first revocation time of a revoked one.
Result<RevokeOutcome> RevokeStoredCertificate(const PkiContext& ctx, const CaStore& cas,
                                              const std::string& serial_bytes, const StoredCert& cert);

}  // namespace pki
