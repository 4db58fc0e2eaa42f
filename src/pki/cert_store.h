// CertStore: issued certificates and the indexes over them.
//
// Keys (docs/design.md):
//   certs/<serial>                       record: DER, issuer id, role, notAfter (CBOR)
//   index/expiry/<notAfter:016x>/<serial> empty; ordered by expiry so tidy walks only what has expired
//   revoked/<serial>                     revocation record: time, issuer id (CBOR)
// <serial> is lowercase hex with '-' separators, as Vault stores it. Thread-safe (stateless over Storage).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "storage/storage.h"

namespace pki {

struct StoredCert {
  std::string der;
  std::string issuer_id;
  std::string role;
  int64_t not_after = 0;
};

struct RevocationRecord {
  int64_t revocation_time = 0;
  std::string issuer_id;
};

class CertStore {
 public:
  explicit CertStore(Storage* storage) : storage_(storage) {}

  static std::string CertKey(const std::string& serial_bytes);
  // "revoked/<serial>": the revocation record of a certificate (RevocationStore).
  static std::string RevokedKey(const std::string& serial_bytes);
  static std::string ExpiryKey(int64_t not_after, const std::string& serial_bytes);

  // Adds the certificate record and its index entries to `batch`.
  static void AddToBatch(WriteBatch* batch, const std::string& serial_bytes, const StoredCert& cert);

  // The record of `serial_bytes`, or nullopt when the mount has none.
  Result<std::optional<StoredCert>> Get(const std::string& serial_bytes) const;
  Result<bool> Exists(const std::string& serial_bytes) const;

  // The revocation record of `serial_bytes`, or nullopt when it is not revoked.
  Result<std::optional<RevocationRecord>> GetRevocation(const std::string& serial_bytes) const;

  // Revokes the stored certificate `serial_bytes` at `now`, as Vault's revokeCert does for a lease: an expired
  // certificate is left alone (nullopt), a revoked one keeps its first revocation time. NotFound when the mount has
  // no record of the serial.
  Result<std::optional<RevocationRecord>> Revoke(const std::string& serial_bytes, int64_t now);

  // Up to `limit` (0: all) serials in colon form, in storage order, after the colon/dash serial `after`.
  Result<std::vector<std::string>> List(const std::string& after, size_t limit) const;

 private:
  Storage* storage_;
};

}  // namespace pki
