#include "tests/scale/cert_loader.h"

#include <chrono>
#include <filesystem>
#include <numeric>
#include <system_error>

namespace pki::testing {
namespace {

// splitmix64: a bijection on 64-bit values with well-spread output, for serial bytes that look random.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A multiplier coprime with n, so that i -> (i * m) mod n permutes [0, n).
uint64_t CoprimeMultiplier(uint64_t n) {
  uint64_t m = 1'000'003;
  while (std::gcd(m, n) != 1) ++m;
  return m;
}

}  // namespace

std::string SyntheticCertSet::Serial(size_t i) const {
  const uint64_t a = Mix(i), b = Mix(i ^ (0x5bd1e995ULL << 32));
  std::string s(20, '\0');
  // First byte 0x01..0x7f: a positive 159-bit serial without a leading zero byte, as Vault's.
  s[0] = static_cast<char>(1 + (a >> 56) % 127);
  for (int k = 1; k < 8; ++k) s[k] = static_cast<char>(a >> (8 * (7 - k)));
  // Bytes 8..11 are i itself: distinct serials without relying on the mix being collision-free after masking.
  for (int k = 0; k < 4; ++k) s[8 + k] = static_cast<char>(static_cast<uint64_t>(i) >> (8 * (3 - k)));
  for (int k = 0; k < 8; ++k) s[12 + k] = static_cast<char>(b >> (8 * k));
  return s;
}

int64_t SyntheticCertSet::NotAfter(size_t i) const {
  // Rank in expiry order: a permutation of i, so expiry order is unrelated to serial and load order.
  const uint64_t rank = (static_cast<uint64_t>(i) * CoprimeMultiplier(count) + 7) % count;
  return now + (static_cast<int64_t>(rank) - static_cast<int64_t>(expired)) * spacing + spacing / 2;
}

size_t SyntheticCertSet::CountNotAfterBefore(int64_t t) const {
  // rank * spacing < t - now - spacing/2 + expired * spacing
  const int64_t x = t - now - spacing / 2 + static_cast<int64_t>(expired) * spacing;
  if (x <= 0) return 0;
  const uint64_t n = static_cast<uint64_t>((x + spacing - 1) / spacing);
  return n > count ? count : static_cast<size_t>(n);
}

Result<LoadReport> LoadSyntheticCerts(RocksDBStorage* storage, const SyntheticCertSet& set, size_t batch_records) {
  const auto start = std::chrono::steady_clock::now();
  LoadReport report;
  StoredCert record = set.prototype;
  WriteBatch batch;
  for (size_t i = 0; i < set.count; ++i) {
    record.not_after = set.NotAfter(i);
    CertStore::AddRecordToBatch(&batch, set.Serial(i), record);
    if (i == 0) CertStore::MarkCountsIncompleteInBatch(&batch);  // these records are not counted
    if ((i + 1) % batch_records == 0 || i + 1 == set.count) {
      RETURN_IF_ERROR(storage->WriteWithoutWal(batch));
      batch = WriteBatch();
      ++report.batches;
    }
  }
  RETURN_IF_ERROR(storage->Flush());
  report.records = set.count;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

}  // namespace pki::testing
