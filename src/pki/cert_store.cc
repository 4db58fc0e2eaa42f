#include "src/pki/cert_store.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "src/crypto/x509.h"

namespace pki {
namespace {

constexpr char kCertPrefix[] = "certs/";

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
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(not_after < 0 ? 0 : not_after));
  return std::string("index/expiry/") + buf + "/" + HyphenSerial(serial_bytes);
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

Result<std::vector<std::string>> ListSerials(Storage* storage, const std::string& prefix, const std::string& after,
                                             size_t limit) {
  std::string start;
  if (!after.empty()) {
    ASSIGN_OR_RETURN(std::string bytes, ParseSerial(after));
    start = HyphenSerial(bytes);
  }
  std::vector<std::string> keys;
  RETURN_IF_ERROR(storage->List(prefix, start, limit, &keys));
  for (auto& k : keys) k = ColonSerial(std::move(k));
  return keys;
}

Result<std::vector<std::string>> CertStore::List(const std::string& after, size_t limit) const {
  return ListSerials(storage_, kCertPrefix, after, limit);
}

}  // namespace pki
