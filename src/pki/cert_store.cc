#include "src/pki/cert_store.h"

#include <array>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "src/crypto/x509.h"

namespace pki {
namespace {

constexpr char kCertPrefix[] = "certs/";
constexpr char kCountPrefix[] = "index/count/certs/";
constexpr char kCountsComplete[] = "index/count/complete";
constexpr size_t kCountShards = 64;

size_t ShardOf(const std::string& serial_bytes) {
  uint32_t h = 2166136261u;  // FNV-1a: serials are random, any mixing spreads them
  for (unsigned char c : serial_bytes) h = (h ^ c) * 16777619u;
  return h % kCountShards;
}

std::string ShardKey(size_t shard) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02zx", shard);
  return kCountPrefix + std::string(buf);
}

Result<int64_t> ParseCount(const std::string& value, const std::string& key) {
  try {
    size_t used = 0;
    int64_t n = std::stoll(value, &used);
    if (used == value.size()) return n;
  } catch (const std::exception&) {
  }
  return Status::Internal("corrupt counter " + key);
}

// The colon form of a storage key's hyphen serial.
std::string ColonSerial(std::string hyphen_serial) {
  for (auto& c : hyphen_serial) {
    if (c == '-') c = ':';
  }
  return hyphen_serial;
}

}  // namespace

std::string HyphenSerial(const std::string& serial_bytes) {
  std::string s = FormatSerial(serial_bytes);
  for (auto& c : s) {
    if (c == ':') c = '-';
  }
  return s;
}

std::string CertStore::CertKey(const std::string& serial_bytes) { return kCertPrefix + HyphenSerial(serial_bytes); }

std::string CertStore::ExpiryKey(int64_t not_after, const std::string& serial_bytes) {
  const unsigned long long t = static_cast<unsigned long long>(not_after < 0 ? 0 : not_after);
  char buf[8 + 1 + 16 + 1];
  std::snprintf(buf, sizeof(buf), "%08llx/%016llx", t / 86400, t);
  return std::string(kExpiryPrefix) + buf + "/" + HyphenSerial(serial_bytes);
}

Result<CertStore::ExpiryEntry> CertStore::ParseExpiryKey(const std::string& key) {
  auto corrupt = [&] { return Status::Internal("corrupt expiry index entry " + key); };
  // "<day:08x>/<notAfter:016x>/<hyphen serial>"
  if (key.size() < 27 || key[8] != '/' || key[25] != '/') return corrupt();
  auto hex = [](const std::string& digits, int64_t* out) {
    int64_t v = 0;
    for (char c : digits) {
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    *out = v;
    return true;
  };
  ExpiryEntry e;
  int64_t day = 0;
  if (!hex(key.substr(0, 8), &day) || !hex(key.substr(9, 16), &e.not_after) || day != e.not_after / 86400) {
    return corrupt();
  }
  auto serial = ParseSerial(key.substr(26));
  if (!serial.ok()) return corrupt();
  e.serial = std::move(serial).value();
  return e;
}

CertStore::SerialLock CertStore::LockSerial(const std::string& serial_bytes) {
  static std::array<std::mutex, kCountShards> locks;
  return SerialLock(locks[ShardOf(serial_bytes)]);
}

void CertStore::MarkCountsIncompleteInBatch(WriteBatch* batch) { batch->Delete(kCountsComplete); }

void CertStore::AddRecordToBatch(WriteBatch* batch, const std::string& serial_bytes, const StoredCert& cert) {
  nlohmann::json rec = {
      {"d", nlohmann::json::binary(std::vector<uint8_t>(cert.der.begin(), cert.der.end()))},
      {"i", cert.issuer_id},
      {"r", cert.role},
      {"e", cert.not_after},
  };
  std::vector<uint8_t> cbor = nlohmann::json::to_cbor(rec);
  batch->Put(CertKey(serial_bytes), std::string(cbor.begin(), cbor.end()));
  batch->Put(ExpiryKey(cert.not_after, serial_bytes), "");
}

Result<CertStore::SerialLock> CertStore::AddToBatch(WriteBatch* batch, const std::string& serial_bytes,
                                                    const StoredCert& cert) const {
  SerialLock lock = LockSerial(serial_bytes);
  ASSIGN_OR_RETURN(std::optional<StoredCert> existing, Get(serial_bytes));
  AddRecordToBatch(batch, serial_bytes, cert);
  if (existing && existing->not_after != cert.not_after) batch->Delete(ExpiryKey(existing->not_after, serial_bytes));
  if (!existing) RETURN_IF_ERROR(AddCountToBatch(batch, serial_bytes, 1));
  return lock;
}

Status CertStore::AddCountToBatch(WriteBatch* batch, const std::string& serial_bytes, int64_t delta) const {
  const std::string key = ShardKey(ShardOf(serial_bytes));
  std::string value;
  int64_t n = 0;
  Status s = storage_->Get(key, &value);
  if (s.ok()) {
    ASSIGN_OR_RETURN(n, ParseCount(value, key));
  } else if (!s.IsNotFound()) {
    return s;
  }
  batch->Put(key, std::to_string(n + delta));
  return Status::Ok();
}

Result<int64_t> CertStore::Count() const {
  std::vector<std::pair<std::string, std::string>> shards;
  RETURN_IF_ERROR(storage_->Scan(kCountPrefix, "", 0, &shards));
  int64_t total = 0;
  for (const auto& [key, value] : shards) {
    ASSIGN_OR_RETURN(int64_t n, ParseCount(value, kCountPrefix + key));
    total += n;
  }
  return total;
}

Result<bool> CertStore::CountsCoverAllRecords() const {
  std::string value;
  Status s = storage_->Get(kCountsComplete, &value);
  if (s.ok()) return true;
  if (!s.IsNotFound()) return s;
  for (const char* prefix : {kCertPrefix, "revoked/"}) {
    std::vector<std::string> any;
    RETURN_IF_ERROR(storage_->List(prefix, "", 1, &any));
    if (!any.empty()) return false;
  }
  // Counting starts from zero: shares left by removals of records that predated counting go with it, in the
  // batch that marks the counts complete.
  std::vector<std::string> shards;
  RETURN_IF_ERROR(storage_->List(kCountPrefix, "", 0, &shards));
  WriteBatch batch;
  for (const auto& shard : shards) batch.Delete(kCountPrefix + shard);
  batch.Delete("index/count/revoked");
  batch.Put(kCountsComplete, "");
  RETURN_IF_ERROR(storage_->Write(batch));
  return true;
}

Result<StoredCert> DecodeStoredCert(const std::string& value, const std::string& serial_text) {
  const nlohmann::json rec = nlohmann::json::from_cbor(value, true, false);
  const Status corrupt = Status::Internal("corrupt certificate record for " + serial_text);
  if (rec.is_discarded() || !rec.is_object()) return corrupt;
  auto der = rec.find("d");
  if (der == rec.end() || !der->is_binary()) return corrupt;
  StoredCert out;
  out.der.assign(der->get_binary().begin(), der->get_binary().end());
  // Optional members are read by type, never with json::value(), which throws on a member of another type.
  auto text = [&](const char* name) -> std::optional<std::string> {
    auto it = rec.find(name);
    if (it == rec.end() || it->is_null()) return std::string();
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  std::optional<std::string> issuer = text("i"), role = text("r");
  if (!issuer || !role) return corrupt;
  out.issuer_id = std::move(*issuer);
  out.role = std::move(*role);
  if (auto e = rec.find("e"); e != rec.end() && !e->is_null()) {
    if (!e->is_number_integer()) return corrupt;
    out.not_after = e->get<int64_t>();
  }
  return out;
}

Result<std::optional<StoredCert>> CertStore::Get(const std::string& serial_bytes) const {
  std::string value;
  Status s = storage_->Get(CertKey(serial_bytes), &value);
  if (s.IsNotFound()) return std::optional<StoredCert>();
  RETURN_IF_ERROR(s);
  ASSIGN_OR_RETURN(StoredCert cert, DecodeStoredCert(value, FormatSerial(serial_bytes)));
  return std::optional<StoredCert>(std::move(cert));
}

Result<bool> CertStore::Exists(const std::string& serial_bytes) const {
  std::string value;
  Status s = storage_->Get(CertKey(serial_bytes), &value);
  if (s.IsNotFound()) return false;
  RETURN_IF_ERROR(s);
  return true;
}

Result<std::string> PageStartAfter(const std::string& after) {
  if (after.empty()) return std::string();
  auto bytes = ParseSerial(after);
  if (!bytes.ok()) {
    return Status::BadRequest("invalid \"after\": \"" + after +
                              "\" is not a serial number (colon- or hyphen-separated hex)");
  }
  // The canonical form of the serial: a key returned by a previous page comes back unchanged, so paging by the
  // last key of each page visits every key once.
  return HyphenSerial(*bytes);
}

Result<std::vector<std::string>> ListSerials(Storage* storage, const std::string& prefix, const std::string& after,
                                             size_t limit) {
  ASSIGN_OR_RETURN(std::string start, PageStartAfter(after));
  std::vector<std::string> keys;
  RETURN_IF_ERROR(storage->List(prefix, start, limit, &keys));
  for (auto& k : keys) k = ColonSerial(std::move(k));
  return keys;
}

Result<std::vector<std::string>> CertStore::List(const std::string& after, size_t limit) const {
  return ListSerials(storage_, kCertPrefix, after, limit);
}

Result<std::vector<StoredCertEntry>> CertStore::Page(const std::string& after, size_t limit) const {
  ASSIGN_OR_RETURN(std::string start, PageStartAfter(after));
  std::vector<std::pair<std::string, std::string>> records;
  RETURN_IF_ERROR(storage_->Scan(kCertPrefix, start, limit, &records));
  std::vector<StoredCertEntry> out;
  out.reserve(records.size());
  for (auto& [key, value] : records) {
    StoredCertEntry entry;
    entry.serial = ColonSerial(key);
    auto cert = DecodeStoredCert(value, entry.serial);
    if (cert.ok()) {
      entry.cert = std::move(cert).value();
    } else {
      entry.error = cert.status().message();
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace pki
