#include "src/pki/cert_store.h"

#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "src/crypto/x509.h"

namespace pki {
namespace {

constexpr char kCertPrefix[] = "certs/";

std::string Hyphenated(const std::string& serial_bytes) {
  std::string s = FormatSerial(serial_bytes);
  for (auto& c : s) {
    if (c == ':') c = '-';
  }
  return s;
}

}  // namespace

std::string CertStore::CertKey(const std::string& serial_bytes) { return kCertPrefix + Hyphenated(serial_bytes); }

std::string CertStore::RevokedKey(const std::string& serial_bytes) {
  return std::string("revoked/") + Hyphenated(serial_bytes);
}

std::string CertStore::ExpiryKey(int64_t not_after, const std::string& serial_bytes) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(not_after < 0 ? 0 : not_after));
  return std::string("index/expiry/") + buf + "/" + Hyphenated(serial_bytes);
}

void CertStore::AddToBatch(WriteBatch* batch, const std::string& serial_bytes, const StoredCert& cert) {
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

Result<std::optional<RevocationRecord>> CertStore::GetRevocation(const std::string& serial_bytes) const {
  std::string value;
  Status s = storage_->Get(RevokedKey(serial_bytes), &value);
  if (s.IsNotFound()) return std::optional<RevocationRecord>();
  RETURN_IF_ERROR(s);
  nlohmann::json rec = nlohmann::json::from_cbor(value, true, false);
  if (rec.is_discarded() || !rec.is_object() || !rec["t"].is_number_integer()) {
    return Status::Internal("corrupt revocation record for " + FormatSerial(serial_bytes));
  }
  return std::optional<RevocationRecord>(RevocationRecord{rec["t"].get<int64_t>(), rec.value("i", "")});
}

Result<std::optional<RevocationRecord>> CertStore::Revoke(const std::string& serial_bytes, int64_t now) {
  // One revocation at a time in this process, so that concurrent revokes of a serial keep the first time.
  static std::mutex revoke_mu;
  std::lock_guard<std::mutex> lock(revoke_mu);
  ASSIGN_OR_RETURN(std::optional<StoredCert> cert, Get(serial_bytes));
  if (!cert) return Status::NotFound("certificate with serial " + FormatSerial(serial_bytes) + " not found");
  ASSIGN_OR_RETURN(std::optional<RevocationRecord> existing, GetRevocation(serial_bytes));
  if (existing) return existing;
  if (cert->not_after < now) return std::optional<RevocationRecord>();
  RevocationRecord rec{now, cert->issuer_id};
  std::vector<uint8_t> cbor = nlohmann::json::to_cbor({{"t", rec.revocation_time}, {"i", rec.issuer_id}});
  RETURN_IF_ERROR(storage_->Put(RevokedKey(serial_bytes), std::string(cbor.begin(), cbor.end())));
  return std::optional<RevocationRecord>(rec);
}

Result<std::optional<StoredCert>> CertStore::Get(const std::string& serial_bytes) const {
  std::string value;
  Status s = storage_->Get(CertKey(serial_bytes), &value);
  if (s.IsNotFound()) return std::optional<StoredCert>();
  RETURN_IF_ERROR(s);
  nlohmann::json rec = nlohmann::json::from_cbor(value, true, false);
  if (rec.is_discarded() || !rec.is_object() || !rec["d"].is_binary()) {
    return Status::Internal("corrupt certificate record for " + FormatSerial(serial_bytes));
  }
  StoredCert out;
  const auto& bin = rec["d"].get_binary();
  out.der.assign(bin.begin(), bin.end());
  out.issuer_id = rec.value("i", "");
  out.role = rec.value("r", "");
  out.not_after = rec.value("e", int64_t{0});
  return std::optional<StoredCert>(std::move(out));
}

Result<bool> CertStore::Exists(const std::string& serial_bytes) const {
  std::string value;
  Status s = storage_->Get(CertKey(serial_bytes), &value);
  if (s.IsNotFound()) return false;
  RETURN_IF_ERROR(s);
  return true;
}

Result<std::vector<std::string>> CertStore::List(const std::string& after, size_t limit) const {
  std::string start;
  if (!after.empty()) {
    ASSIGN_OR_RETURN(std::string bytes, ParseSerial(after));
    start = Hyphenated(bytes);
  }
  std::vector<std::string> keys;
  RETURN_IF_ERROR(storage_->List(kCertPrefix, start, limit, &keys));
  for (auto& k : keys) {
    for (auto& c : k) {
      if (c == '-') c = ':';
    }
  }
  return keys;
}

}  // namespace pki
