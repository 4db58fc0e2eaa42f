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

  // Adds the certificate record and its index entries to `batch`.
  static void AddToBatch(WriteBatch* batch, const std::string& serial_bytes, const StoredCert& cert);

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
