#include "src/pki/revocation.h"

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "src/crypto/keys.h"
#include "src/pki/issuance.h"

namespace pki {
namespace {

constexpr char kRevokedPrefix[] = "revoked/";
// Vault refuses to put a certificate on a CRL when it expires within this margin.
constexpr int64_t kExpiryMargin = 2;

std::string RevokedKey(const std::string& serial_bytes) { return kRevokedPrefix + HyphenSerial(serial_bytes); }
std::string IndexPrefix(const std::string& issuer_id) { return "index/revoked/" + issuer_id + "/"; }
std::string SequenceKey(const std::string& issuer_id) { return "crl/seq/" + issuer_id; }
std::string DeltaPrefix(const std::string& issuer_id) { return "index/delta/" + issuer_id + "/"; }
constexpr char kCountKey[] = "index/count/revoked";

std::string SeqHex(uint64_t seq) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(seq));
  return buf;
}

std::string Cbor(const nlohmann::json& j) {
  std::vector<uint8_t> bytes = nlohmann::json::to_cbor(j);
  return std::string(bytes.begin(), bytes.end());
}

// A revocation entry (record or index): a CBOR map with at least an integer time "t".
Result<nlohmann::json> ParseEntry(const std::string& cbor, const std::string& what) {
  nlohmann::json rec = nlohmann::json::from_cbor(cbor, true, false);
  if (rec.is_discarded() || !rec.is_object() || !rec["t"].is_number_integer()) {
    return Status::Internal("corrupt revocation entry " + what);
  }
  return rec;
}

// The CBOR of exactly {"t": <integer fitting int64>} (what Add writes in the revoked index), decoded without
// building a JSON object; false for anything else, which ParseEntry then judges.
bool DecodeTimeOnly(std::string_view cbor, int64_t* t) {
  const auto* p = reinterpret_cast<const unsigned char*>(cbor.data());
  const size_t n = cbor.size();
  if (n < 4 || p[0] != 0xa1 || p[1] != 0x61 || p[2] != 't') return false;  // map(1), text(1) "t"
  const unsigned major = p[3] >> 5, info = p[3] & 0x1f;
  if (major > 1) return false;  // 0: unsigned, 1: negative (-1 - n)
  uint64_t v = 0;
  size_t len = 0;
  if (info < 24) {
    v = info;
  } else if (info <= 27) {
    len = size_t{1} << (info - 24);
    for (size_t i = 0; i < len && 4 + i < n; ++i) v = (v << 8) | p[4 + i];
  } else {
    return false;
  }
  if (n != 4 + len || v > static_cast<uint64_t>(INT64_MAX)) return false;
  *t = major == 0 ? static_cast<int64_t>(v) : -1 - static_cast<int64_t>(v);
  return true;
}

Result<int64_t> TimeOf(std::string_view cbor, std::string_view what) {
  int64_t t = 0;
  if (DecodeTimeOnly(cbor, &t)) return t;
  ASSIGN_OR_RETURN(nlohmann::json rec, ParseEntry(std::string(cbor), std::string(what)));
  return rec["t"].get<int64_t>();
}

}  // namespace

Result<std::string> CrlGroupOf(const CaStore& cas, const std::string& issuer_id) {
  ASSIGN_OR_RETURN(auto snap, cas.Snapshot());
  const IssuerEntry* issuer = snap->FindIssuer(issuer_id.empty() ? "default" : issuer_id);
  if (!issuer) issuer = snap->FindIssuer("default");
  if (!issuer) return Status::Internal("no issuer to list the revocation under");
  return issuer->crl_group;
}

std::string RevocationStore::RecordKey(std::string_view hyphen_serial) {
  return kRevokedPrefix + std::string(hyphen_serial);
}

Result<RevocationRecord> RevocationStore::DecodeRecord(const std::string& value, const std::string& serial_text) {
  ASSIGN_OR_RETURN(nlohmann::json rec, ParseEntry(value, serial_text));
  auto issuer = rec.find("i");
  if (issuer != rec.end() && !issuer->is_string()) return Status::Internal("corrupt revocation entry " + serial_text);
  return RevocationRecord{rec["t"].get<int64_t>(), issuer != rec.end() ? issuer->get<std::string>() : ""};
}

Result<std::optional<RevocationRecord>> RevocationStore::Get(const std::string& serial_bytes) const {
  std::string value;
  Status s = storage_->Get(RevokedKey(serial_bytes), &value);
  if (s.IsNotFound()) return std::optional<RevocationRecord>();
  RETURN_IF_ERROR(s);
  ASSIGN_OR_RETURN(RevocationRecord record, DecodeRecord(value, FormatSerial(serial_bytes)));
  return std::optional<RevocationRecord>(std::move(record));
}

Result<uint64_t> RevocationStore::Sequence(const std::string& issuer_id) const {
  std::string value;
  Status s = storage_->Get(SequenceKey(issuer_id), &value);
  if (s.IsNotFound()) return uint64_t{0};
  RETURN_IF_ERROR(s);
  try {
    return static_cast<uint64_t>(std::stoull(value));
  } catch (const std::exception&) {
    return Status::Internal("corrupt revocation count for issuer " + issuer_id);
  }
}

std::unique_lock<std::mutex> RevocationStore::LockWrites() {
  static std::mutex mu;
  return std::unique_lock<std::mutex>(mu);
}

Result<int64_t> RevocationStore::Count() const {
  std::string value;
  Status s = storage_->Get(kCountKey, &value);
  if (s.IsNotFound()) return int64_t{0};
  RETURN_IF_ERROR(s);
  try {
    size_t used = 0;
    int64_t n = std::stoll(value, &used);
    if (used == value.size()) return n;
  } catch (const std::exception&) {
  }
  return Status::Internal("corrupt counter " + std::string(kCountKey));
}

Result<RevocationRecord> RevocationStore::Add(const std::string& serial_bytes, const std::string& issuer_id,
                                              const std::string& group, int64_t now) {
  auto writes = LockWrites();
  CertStore::SerialLock serial_lock = CertStore::LockSerial(serial_bytes);
  ASSIGN_OR_RETURN(std::optional<RevocationRecord> existing, Get(serial_bytes));
  if (existing) return *existing;
  std::string unused;
  Status has_record = storage_->Get(CertStore::CertKey(serial_bytes), &unused);
  if (has_record.IsNotFound()) {
    return Status::BadRequest("certificate with serial " + FormatSerial(serial_bytes) + " not found.");
  }
  RETURN_IF_ERROR(has_record);
  ASSIGN_OR_RETURN(uint64_t seq, Sequence(group));
  ASSIGN_OR_RETURN(int64_t count, Count());
  // The order matters where the storage applies a batch op by op (a host's pb.Storage): the indexes first, then
  // the count that makes CRLs stale, and the record that answers "revoked" last, so an interruption never leaves a
  // serial revoked for OCSP but missing from every CRL.
  WriteBatch batch;
  batch.Put(IndexPrefix(group) + HyphenSerial(serial_bytes), Cbor({{"t", now}}));
  batch.Put(DeltaPrefix(group) + SeqHex(seq + 1), Cbor({{"s", HyphenSerial(serial_bytes)}, {"t", now}}));
  batch.Put(SequenceKey(group), std::to_string(seq + 1));
  PutRecordToBatch(&batch, serial_bytes, RevocationRecord{now, issuer_id});
  batch.Put(kCountKey, std::to_string(count + 1));
  // And the count once more after the record: the OCSP answer cache (path_ocsp.cc) keeps answers under the count
  // they were made at, so an answer made between the first bump and the record ("good", where a host applies the
  // batch op by op) is left under a count that no longer holds. A count with no index/delta/ entry is a gap the
  // CRL builds skip, as a removal's.
  batch.Put(SequenceKey(group), std::to_string(seq + 2));
  if (Status s = storage_->Write(batch); !s.ok()) {
    // A host may have applied part of the batch (the record, not the last count): move the count on anyway, best
    // effort, so that no OCSP answer cached in between passes for current when the revoke is retried.
    (void)storage_->Put(SequenceKey(group), std::to_string(seq + 3));
    return s;
  }
  return RevocationRecord{now, issuer_id};
}

void RevocationStore::PutRecordToBatch(WriteBatch* batch, const std::string& serial_bytes,
                                       const RevocationRecord& record) {
  batch->Put(RevokedKey(serial_bytes), Cbor({{"t", record.revocation_time}, {"i", record.issuer_id}}));
}

Status RevocationStore::ReassociateToBatch(WriteBatch* batch, const std::string& serial_bytes,
                                           const RevocationRecord& record, const std::string& group) {
  ASSIGN_OR_RETURN(uint64_t seq, Sequence(group));
  PutRecordToBatch(batch, serial_bytes, record);
  // After the record, as in Add: a count read before it lands still names an answer that may be out of date.
  batch->Put(SequenceKey(group), std::to_string(seq + 2));
  return Status::Ok();
}

Status RevocationStore::RemoveToBatch(WriteBatch* batch, const std::string& serial_bytes,
                                      const std::optional<std::string>& group) {
  ASSIGN_OR_RETURN(int64_t count, Count());
  uint64_t seq = 0;
  if (group) {
    ASSIGN_OR_RETURN(seq, Sequence(*group));
  }
  // The reverse of Add's order for a host applying ops one by one: off the CRL first, then no longer "revoked".
  if (group) {
    batch->Delete(IndexPrefix(*group) + HyphenSerial(serial_bytes));
    // No index/delta/ entry for this count: a removal is not a revocation a delta CRL should list.
    batch->Put(SequenceKey(*group), std::to_string(seq + 1));
  }
  batch->Delete(RevokedKey(serial_bytes));
  batch->Put(kCountKey, std::to_string(count - 1));
  if (group) batch->Put(SequenceKey(*group), std::to_string(seq + 2));  // after the record, as in Add
  return Status::Ok();
}

Result<bool> RevocationStore::HasIndexEntry(const std::string& group, const std::string& serial_bytes) const {
  std::string unused;
  Status s = storage_->Get(IndexPrefix(group) + HyphenSerial(serial_bytes), &unused);
  if (s.IsNotFound()) return false;
  RETURN_IF_ERROR(s);
  return true;
}

Result<bool> RevocationStore::ReadEntries(const std::string& issuer_id, std::string* cursor, size_t n,
                                          std::vector<std::pair<std::string, int64_t>>* out) const {
  bool any = false;
  std::string last;
  out->reserve(out->size() + n);
  // Decoded from the storage's buffers (no copy of each key and value first).
  RETURN_IF_ERROR(storage_->ScanEach(IndexPrefix(issuer_id), *cursor, n,
                                     [&](std::string_view key, std::string_view value) -> Status {
                                       ASSIGN_OR_RETURN(std::string serial, ParseSerialView(key));
                                       ASSIGN_OR_RETURN(int64_t t, TimeOf(value, key));
                                       out->emplace_back(std::move(serial), t);
                                       last.assign(key);
                                       any = true;
                                       return Status::Ok();
                                     }));
  if (any) *cursor = std::move(last);
  // A short page is not the end: a host's Scan drops keys deleted between its List and Get. Only an empty one is.
  return any;
}

Result<bool> RevocationStore::ReadSince(const std::string& issuer_id, uint64_t* after_seq, size_t n,
                                        std::vector<std::pair<std::string, int64_t>>* out) const {
  std::vector<std::pair<std::string, std::string>> kv;
  RETURN_IF_ERROR(storage_->Scan(DeltaPrefix(issuer_id), SeqHex(*after_seq), n, &kv));
  for (const auto& [key, value] : kv) {
    ASSIGN_OR_RETURN(nlohmann::json rec, ParseEntry(value, key));
    if (!rec["s"].is_string()) return Status::Internal("corrupt revocation entry " + key);
    ASSIGN_OR_RETURN(std::string serial, ParseSerial(rec["s"].get<std::string>()));
    out->emplace_back(std::move(serial), rec["t"].get<int64_t>());
    *after_seq = std::stoull(key, nullptr, 16);
  }
  return !kv.empty();
}

Status RevocationStore::PruneDeltaIndex(const std::string& issuer_id, uint64_t seq) {
  // Counts are fixed-width hex, so [start, SeqHex(seq + 1)) is every count up to `seq`. One range deletion where
  // the storage has them (RocksDB: one tombstone instead of a delete per revocation, and no walk over the deleted
  // keys by the next prune); the range starts at the beginning so that a prune interrupted earlier is completed.
  const std::string end = seq == UINT64_MAX ? std::string("g") : SeqHex(seq + 1);
  return storage_->DeleteRange(DeltaPrefix(issuer_id), "", end);
}

Status RevocationStore::ForEachEntryBatch(
    const std::string& issuer_id, size_t batch_size,
    const std::function<Status(const std::vector<std::pair<std::string, int64_t>>&)>& batch) const {
  std::string cursor;
  for (bool more = true; more;) {
    std::vector<std::pair<std::string, int64_t>> entries;
    ASSIGN_OR_RETURN(more, ReadEntries(issuer_id, &cursor, batch_size, &entries));
    if (!entries.empty()) RETURN_IF_ERROR(batch(entries));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> RevocationStore::List(const std::string& after, size_t limit) const {
  return ListSerials(storage_, kRevokedPrefix, after, limit);
}

Status RefuseIssuerSerial(const CaStore& cas, const std::string& serial_bytes) {
  ASSIGN_OR_RETURN(auto snap, cas.Snapshot());
  const std::string serial_text = FormatSerial(serial_bytes);
  for (const auto& issuer : snap->issuers) {
    if (issuer.serial_number == serial_text) {
      return Status::BadRequest("adding issuer (id: " + issuer.issuer_id + ") to its own CRL is not allowed");
    }
  }
  return Status::Ok();
}

Result<RevokeOutcome> RevokeStoredCertificate(const PkiContext& ctx, const CaStore& cas,
                                              const std::string& serial_bytes, const StoredCert& cert) {
  RETURN_IF_ERROR(RefuseIssuerSerial(cas, serial_bytes));
  RevocationStore revocations(ctx.storage);
  ASSIGN_OR_RETURN(std::optional<RevocationRecord> existing, revocations.Get(serial_bytes));
  RevokeOutcome out;
  if (existing) {
    out.record = existing;
    return out;
  }
  const int64_t now = ctx.clock->Now();
  if (cert.not_after < now + kExpiryMargin) {
    out.warning = "certificate with serial " + FormatSerial(serial_bytes) + " already expired; refusing to add to CRL";
    return out;
  }
  ASSIGN_OR_RETURN(std::string group, CrlGroupOf(cas, cert.issuer_id));
  ASSIGN_OR_RETURN(RevocationRecord record, revocations.Add(serial_bytes, cert.issuer_id, group, now));
  out.record = record;
  return out;
}

}  // namespace pki
