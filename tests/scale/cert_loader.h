// Synthetic certificate records in bulk, for scale tests that measure work (keys read) at a million certificates.
//
// A SyntheticCertSet is a recipe: record i has a distinct 20-byte serial and a distinct notAfter, spread so that
// exactly `expired` records have expired at `now`, in an order unrelated to serial order (as real issuance gives).
// Every record reuses one prototype (a real certificate's DER, issuer id and role): what is measured is the
// storage layout, not OpenSSL. LoadSyntheticCerts writes the records through CertStore::AddToBatch, so they
// carry the same keys and indexes as issued certificates (certs/<serial>, index/expiry/...).
//
// Immutable recipe; LoadSyntheticCerts is not meant to run concurrently with other writers of the same storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/status.h"
#include "src/pki/cert_store.h"
#include "storage/rocksdb_storage.h"

namespace pki::testing {

struct SyntheticCertSet {
  size_t count = 1'000'000;
  size_t expired = 100'000;  // records whose notAfter is before `now`
  int64_t now = 0;
  int64_t spacing = 60;      // seconds between neighbouring notAfter values (>= 2)
  StoredCert prototype;      // DER, issuer id and role of every record; not_after is replaced per record

  // The serial (magnitude bytes, first byte 0x01..0x7f, unique in i) of record i < count.
  std::string Serial(size_t i) const;
  // The notAfter of record i: distinct per record; NotAfter(i) < now for exactly `expired` of them.
  int64_t NotAfter(size_t i) const;
  // How many records have notAfter < t: what a tidy with safety buffer b at time now deletes for t = now - b.
  size_t CountNotAfterBefore(int64_t t) const;
};

struct LoadReport {
  size_t records = 0;
  size_t batches = 0;
  double seconds = 0;
};

// Writes every record of `set` in WriteBatches of `batch_records` without RocksDB's WAL (a bulk load: no client
// waits on it), then flushes, so the data is in SST files as after a long-running mount.
Result<LoadReport> LoadSyntheticCerts(RocksDBStorage* storage, const SyntheticCertSet& set,
                                      size_t batch_records = 50'000);

// Bytes under `dir` (the database's size on disk).
uint64_t DirectoryBytes(const std::string& dir);

}  // namespace pki::testing
