// CertStore: issued certificates and the indexes over them.
//
// Keys (docs/design.md):
//   certs/<serial>                       record: DER, issuer id, role, notAfter (CBOR)
//   index/expiry/<notAfter:016x>/<serial> empty; ordered by expiry so tidy walks only what has expired
// <serial> is lowercase hex with '-' separators, as Vault stores it. Thread-safe (stateless over Storage).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "storage/storage.h"

namespace pki {

// Lowercase hex with '-' separators: how serials appear in storage keys (as in Vault).
std::string HyphenSerial(const std::string& serial_bytes);

// Up to `limit` (0: all) serials in colon form among the keys "<prefix><hyphen serial>", in storage order, after the
// colon/dash serial `after` (OpenBao's after/limit paging).
Result<std::vector<std::string>> ListSerials(Storage* storage, const std::string& prefix, const std::string& after,
                                             size_t limit);

struct StoredCert {
  std::string der;
  std::string issuer_id;
  std::string role;
  int64_t not_after = 0;
};

class CertStore {
 public:
  explicit CertStore(Storage* storage) : storage_(storage) {}

  static std::string CertKey(const std::string& serial_bytes);
  static std::string ExpiryKey(int64_t not_after, const std::string& serial_bytes);

  // Adds the certificate record and its index entries to `batch`.
  static void AddToBatch(WriteBatch* batch, const std::string& serial_bytes, const StoredCert& cert);

  // The record of `serial_bytes`, or nullopt when the mount has none.
  Result<std::optional<StoredCert>> Get(const std::string& serial_bytes) const;
  Result<bool> Exists(const std::string& serial_bytes) const;

  // Up to `limit` (0: all) serials in colon form, in storage order, after the colon/dash serial `after`.
  Result<std::vector<std::string>> List(const std::string& after, size_t limit) const;

 private:
  Storage* storage_;
};

}  // namespace pki
