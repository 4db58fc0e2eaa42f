// Scale benchmarks of pki_bench (issue 8's 10M scenarios, driven by scripts/benchlib/scale.py):
//   scale-info   the loader's version and a fingerprint of the engine's key layout (the data set cache's stamp)
//   scale-load   a RocksDB mount data set of N certificate records (E of them expired, R revoked), bulk-loaded by
//                SST ingestion
//   scale-tidy   one tidy (tidy_cert_store) on such a data set, timed, and checked to remove exactly the expired
// Each prints one JSON object on stdout.
//
// How scale-load builds a data set D:
//   1. A scratch mount (D/scratch, the engine over RocksDB as a mount runs it) gets a root CA (EC P-256) and the
//      role "web" through the engine's own request handlers, and issues one certificate from a no_store role: its
//      DER, issuer and role are the prototype of every synthetic record (tests/scale/cert_loader.h gives each
//      record its serial and notAfter).
//   2. Every record is written by the engine's batch-building code against a CaptureStorage: certificates through
//      CertStore::AddToBatch (record, expiry index entry, counter shard), revocations through RevocationStore::Add
//      (record, CRL group index, delta index, group sequence, revoked count). Nothing here spells a key. Keys
//      written once go to an in-memory run that is sorted and written as an SST file whenever it passes
//      --chunk-mb; keys rewritten per record (counters, the group sequence) stay in memory and are emitted once
//      with their final value, together with everything the scratch mount holds (CA, keys, role, config).
//   3. The sorted runs are merged into non-overlapping SST files (rocksdb::SstFileWriter, the engine's table
//      options) of about 256 MB and ingested into a fresh D/db (IngestExternalFile, moved, not copied): they land
//      on the bottom level, no compaction follows, and the database has no WAL to replay.
// D also gets seal.key (the fixed benchmark sealing key, so pki-plugin opens the mount with seal_key_file=D/seal.key:
// these data sets hold nothing secret), pki_bench-scale.json (what was loaded, and the stamp) and, when R > 0,
// pki_bench-crl.json, so that `pki_bench crl-build --dir D` rebuilds its CRL. The counters are exact
// (index/count/complete stays set): the mount starts without counting anything.
//
// Single-threaded; each command owns its data set directory while it runs.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/core/clock.h"
#include "src/crypto/x509.h"
#include "src/pki/backend.h"
#include "src/pki/ca_store.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"
#include "storage/rocksdb_storage.h"
#include "tests/bench/bench_mount.h"
#include "tests/bench/commands.h"
#include "tests/scale/cert_loader.h"

namespace pki::bench {
namespace {

namespace fs = std::filesystem;
using Mount = BenchMount;

// Bumped whenever what scale-load writes changes in a way the layout fingerprint cannot see (record recipe,
// prototype, file organisation).
constexpr int kLoaderVersion = 1;
constexpr char kScaleMarker[] = "pki_bench-scale.json";
constexpr char kCrlMarker[] = "pki_bench-crl.json";
constexpr uint64_t kOutputFileBytes = 256ull << 20;

bool ParseInt(const std::map<std::string, std::string>& flags, const std::string& name, int64_t* out) {
  auto it = flags.find(name);
  if (it == flags.end()) return true;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || v < 0) {
    std::fprintf(stderr, "--%s: not a count: %s\n", name.c_str(), it->second.c_str());
    return false;
  }
  *out = v;
  return true;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::Internal(what + ": " + s.ToString());
}

// ---- capture of the engine's writes ----

// Keys the engine rewrites per record (counter shards, the revoked count, a CRL group's sequence): kept in memory
// with their latest value. Every other key is written once per data set and streamed out.
bool IsRewrittenKey(const std::string& key) {
  return key.rfind("index/count/", 0) == 0 || key.rfind("crl/seq/", 0) == 0;
}

// A Storage that records what the engine writes instead of storing it. Reads see, in order: the rewritten keys'
// latest values, the last written batch (RevocationStore::Add reads the certificate record written just before),
// then `base` (the scratch mount). Write-once keys are handed to `sink`; a delete of one, or a second write, is an
// error (the sort finds duplicates), since a fresh data set never needs either.
class CaptureStorage final : public Storage {
 public:
  using Sink = std::function<Status(std::string key, std::string value)>;
  CaptureStorage(Storage* base, Sink sink) : base_(base), sink_(std::move(sink)) {}

  Status Get(std::string_view key, std::string* value) override {
    const std::string k(key);
    if (auto it = rewritten_.find(k); it != rewritten_.end()) {
      if (!it->second) return Status::NotFound();
      *value = *it->second;
      return Status::Ok();
    }
    if (auto it = last_.find(k); it != last_.end()) {
      *value = it->second;
      return Status::Ok();
    }
    return base_->Get(key, value);
  }
  Status Put(std::string_view key, std::string_view value) override {
    WriteBatch b;
    b.Put(std::string(key), std::string(value));
    return Write(b);
  }
  Status Delete(std::string_view key) override {
    WriteBatch b;
    b.Delete(std::string(key));
    return Write(b);
  }
  Status Write(const WriteBatch& batch) override {
    last_.clear();
    for (const auto& op : batch.ops()) {
      if (IsRewrittenKey(op.key)) {
        rewritten_[op.key] = op.kind == WriteBatch::Op::kPut ? std::optional<std::string>(op.value) : std::nullopt;
      } else if (op.kind == WriteBatch::Op::kPut) {
        last_[op.key] = op.value;
        RETURN_IF_ERROR(sink_(op.key, op.value));
      } else {
        return Status::Internal("bulk load: the engine deleted " + op.key + ", which a fresh data set cannot do");
      }
    }
    return Status::Ok();
  }
  Status List(std::string_view, std::string_view, size_t, std::vector<std::string>*) override {
    return Status::Internal("bulk load: the engine listed keys while writing records");
  }
  Status Scan(std::string_view, std::string_view, size_t, std::vector<std::pair<std::string, std::string>>*) override {
    return Status::Internal("bulk load: the engine scanned keys while writing records");
  }

  const std::map<std::string, std::optional<std::string>>& rewritten() const { return rewritten_; }

 private:
  Storage* base_;
  Sink sink_;
  std::map<std::string, std::optional<std::string>> rewritten_;
  std::unordered_map<std::string, std::string> last_;
};

// The recipe of one data set: `stored` certificate records, of which `expired` have notAfter before `now` and the
// first `revoked` (in record order) are revoked at now - 60 under `issuer_id` (CRL group `group`).
struct Recipe {
  testing::SyntheticCertSet set;
  size_t revoked = 0;
  std::string issuer_id;
  std::string group;
};

// Writes every record of `recipe` through the engine's batch builders into `capture`.
Status CaptureRecords(CaptureStorage* capture, const Recipe& recipe) {
  CertStore certs(capture);
  RevocationStore revocations(capture);
  StoredCert record = recipe.set.prototype;
  const int64_t revoked_at = recipe.set.now - 60;
  for (size_t i = 0; i < recipe.set.count; ++i) {
    const std::string serial = recipe.set.Serial(i);
    record.not_after = recipe.set.NotAfter(i);
    WriteBatch batch;
    ASSIGN_OR_RETURN(CertStore::SerialLock lock, certs.AddToBatch(&batch, serial, record));
    RETURN_IF_ERROR(capture->Write(batch));
    lock.unlock();
    if (i < recipe.revoked) {
      RETURN_IF_ERROR(revocations.Add(serial, recipe.issuer_id, recipe.group, revoked_at).status());
    }
  }
  return Status::Ok();
}

// ---- sorted runs, merged into SST files ----

using Entry = std::pair<std::string, std::string>;

rocksdb::Options SstOptions() { return RocksDBStorage::EngineOptions(); }

// Buffers entries up to a byte budget, then writes them sorted as one run file.
class RunWriter {
 public:
  RunWriter(std::string dir, uint64_t budget) : dir_(std::move(dir)), budget_(budget) {}

  Status Add(std::string key, std::string value) {
    bytes_ += key.size() + value.size() + 64;
    entries_.emplace_back(std::move(key), std::move(value));
    ++count_;
    if (bytes_ >= budget_) return Spill();
    return Status::Ok();
  }

  Status Spill() {
    if (entries_.empty()) return Status::Ok();
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.first < b.first; });
    char name[32];
    std::snprintf(name, sizeof name, "run-%05zu.sst", runs_.size());
    const std::string path = dir_ + "/" + name;
    rocksdb::Options options = SstOptions();  // compressed as the final files: the runs take disk until merged
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
    RETURN_IF_ERROR(FromRocks(writer.Open(path), "run file " + path));
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (i > 0 && entries_[i].first == entries_[i - 1].first) {
        return Status::Internal("bulk load: key written twice: " + entries_[i].first);
      }
      RETURN_IF_ERROR(FromRocks(writer.Put(entries_[i].first, entries_[i].second), "run file " + path));
    }
    RETURN_IF_ERROR(FromRocks(writer.Finish(), "run file " + path));
    runs_.push_back(path);
    entries_.clear();
    entries_.shrink_to_fit();
    bytes_ = 0;
    return Status::Ok();
  }

  const std::vector<std::string>& runs() const { return runs_; }
  uint64_t count() const { return count_; }

 private:
  std::string dir_;
  uint64_t budget_;
  uint64_t bytes_ = 0;
  uint64_t count_ = 0;
  std::vector<Entry> entries_;
  std::vector<std::string> runs_;
};

// Merges the sorted runs into non-overlapping SST files of about kOutputFileBytes under `out_dir`; deletes each
// run once read. Returns the files in key order.
Result<std::vector<std::string>> MergeRuns(const std::vector<std::string>& runs, const std::string& out_dir) {
  rocksdb::Options options = SstOptions();
  std::vector<std::unique_ptr<rocksdb::SstFileReader>> readers;
  std::vector<std::unique_ptr<rocksdb::Iterator>> its;
  for (const auto& run : runs) {
    readers.push_back(std::make_unique<rocksdb::SstFileReader>(options));
    RETURN_IF_ERROR(FromRocks(readers.back()->Open(run), "reading " + run));
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    ro.readahead_size = 4 << 20;
    its.emplace_back(readers.back()->NewIterator(ro));
    its.back()->SeekToFirst();
  }
  auto greater = [&](size_t a, size_t b) { return its[a]->key().compare(its[b]->key()) > 0; };
  std::priority_queue<size_t, std::vector<size_t>, decltype(greater)> heap(greater);
  for (size_t i = 0; i < its.size(); ++i) {
    RETURN_IF_ERROR(FromRocks(its[i]->status(), "reading " + runs[i]));
    if (its[i]->Valid()) heap.push(i);
  }
  std::vector<std::string> files;
  std::unique_ptr<rocksdb::SstFileWriter> writer;
  std::string last;
  bool any = false;
  while (!heap.empty()) {
    const size_t i = heap.top();
    heap.pop();
    rocksdb::Iterator* it = its[i].get();
    if (any && it->key().compare(last) == 0) {
      return Status::Internal("bulk load: key written twice: " + it->key().ToString());
    }
    if (!writer) {
      char name[32];
      std::snprintf(name, sizeof name, "ingest-%05zu.sst", files.size());
      files.push_back(out_dir + "/" + name);
      writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), options);
      RETURN_IF_ERROR(FromRocks(writer->Open(files.back()), "writing " + files.back()));
    }
    RETURN_IF_ERROR(FromRocks(writer->Put(it->key(), it->value()), "writing " + files.back()));
    last.assign(it->key().data(), it->key().size());
    any = true;
    it->Next();
    RETURN_IF_ERROR(FromRocks(it->status(), "reading " + runs[i]));
    if (it->Valid()) heap.push(i);
    if (writer->FileSize() >= kOutputFileBytes) {
      RETURN_IF_ERROR(FromRocks(writer->Finish(), "writing " + files.back()));
      writer.reset();
    }
  }
  if (writer) RETURN_IF_ERROR(FromRocks(writer->Finish(), "writing " + files.back()));
  its.clear();
  readers.clear();
  for (const auto& run : runs) fs::remove(run);
  return files;
}

Status Ingest(const std::string& db_dir, const std::vector<std::string>& files) {
  rocksdb::Options options = RocksDBStorage::EngineOptions();
  options.error_if_exists = true;
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, db_dir, &raw), "creating " + db_dir));
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!files.empty()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    RETURN_IF_ERROR(FromRocks(db->IngestExternalFile(files, ingest), "ingesting into " + db_dir));
  }
  return FromRocks(db->Close(), "closing " + db_dir);
}

// The prototype record: a certificate the scratch mount issues from a no_store role (so the scratch mount stores
// no certificate), stored as the role "web" would store it.
Result<StoredCert> Prototype(Mount* scratch, const std::string& issuer_id) {
  ASSIGN_OR_RETURN(Response leaf, scratch->Call(Operation::kUpdate, "issue/proto",
                                                {{"common_name", "load.example.com"}, {"ttl", "24h"}}));
  const std::string pem = leaf.data.value("certificate", "");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return Status::Internal("issue/proto answered no PEM certificate");
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  X509_free(cert);
  if (len <= 0) return Status::Internal("cannot encode the prototype certificate");
  StoredCert proto;
  proto.der.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  proto.issuer_id = issuer_id;
  proto.role = "web";
  return proto;
}

// A fingerprint of the engine's key layout and encodings: SHA-256 over what the engine's batch builders write for
// a fixed recipe of a few records (one revoked). It changes when any key or value the loader captures changes, so
// cached data sets of an older layout are not reused.
Result<std::string> LayoutFingerprint() {
  std::string all;
  CaptureStorage::Sink sink = [&](std::string key, std::string value) {
    all += key + '\0' + value + '\0';
    return Status::Ok();
  };
  class Empty final : public Storage {
   public:
    Status Get(std::string_view, std::string*) override { return Status::NotFound(); }
    Status Put(std::string_view, std::string_view) override { return Status::Ok(); }
    Status Delete(std::string_view) override { return Status::Ok(); }
    Status Write(const WriteBatch&) override { return Status::Ok(); }
    Status List(std::string_view, std::string_view, size_t, std::vector<std::string>*) override {
      return Status::Ok();
    }
  } empty;
  CaptureStorage capture(&empty, sink);
  Recipe r;
  r.set.count = 4;
  r.set.expired = 1;
  r.set.now = 1'700'000'000;
  r.set.prototype = StoredCert{"DER", "issuer-id", "role", 0};
  r.revoked = 2;
  r.issuer_id = "issuer-id";
  r.group = "group";
  RETURN_IF_ERROR(CaptureRecords(&capture, r));
  for (const auto& [k, v] : capture.rewritten()) all += k + '\0' + v.value_or("<deleted>") + '\0';
  // The table format the SST files are written in (index and filter types, block size, compression), without the
  // lines naming objects by address and the cache and pinning settings, which do not change the files.
  rocksdb::Options options = SstOptions();
  std::string printable = options.table_factory->GetPrintableOptions();
  size_t pos = 0;
  while (pos < printable.size()) {
    size_t end = printable.find('\n', pos);
    if (end == std::string::npos) end = printable.size();
    const std::string line = printable.substr(pos, end - pos);
    if (line.find("0x") == std::string::npos && line.find("cache") == std::string::npos &&
        line.find("pin") == std::string::npos) {
      all += line + '\n';
    }
    pos = end + 1;
  }
  all += "compression " + std::to_string(static_cast<int>(options.compression)) + '\n';
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(all.data(), all.size(), md, &md_len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < md_len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  return hex;
}

// ---- scale-info ----

int ScaleInfo(int argc, char** /*argv*/) {
  if (argc != 1) {
    std::fprintf(stderr, "usage: pki_bench scale-info\n");
    return 2;
  }
  auto layout = LayoutFingerprint();
  if (!layout.ok()) return Fail("layout", layout.status());
  std::printf("%s\n", Json{{"loader_version", kLoaderVersion}, {"layout", *layout}}.dump().c_str());
  return 0;
}

// ---- scale-load ----

int ScaleLoad(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  int64_t stored = 0, expired = 0, revoked = 0, chunk_mb = 256, now = 0;
  if (!ParseFlags(argc, argv, {"dir", "stored", "expired", "revoked", "chunk-mb", "now"}, &flags) ||
      !flags.count("dir") || !ParseInt(flags, "stored", &stored) || !ParseInt(flags, "expired", &expired) ||
      !ParseInt(flags, "revoked", &revoked) || !ParseInt(flags, "chunk-mb", &chunk_mb) ||
      !ParseInt(flags, "now", &now) || expired > stored || revoked > stored || chunk_mb == 0) {
    std::fprintf(stderr,
                 "usage: pki_bench scale-load --dir D --stored N [--expired E<=N] [--revoked R<=N] [--chunk-mb M] "
                 "[--now UNIX]\n");
    return 2;
  }
  const std::string dir = flags["dir"];
  std::error_code ec;
  if (fs::exists(dir) && !fs::is_empty(dir, ec)) {
    // Ours: complete (the marker) or left by an interrupted load (its scratch mount or sorted runs).
    if (!fs::exists(dir + "/" + kScaleMarker) && !fs::exists(dir + "/scratch") && !fs::exists(dir + "/tmp")) {
      std::fprintf(stderr, "scale-load: %s exists and is not a pki_bench scale data set; refusing to replace it\n",
                   dir.c_str());
      return 1;
    }
    fs::remove_all(dir);
  }
  fs::create_directories(dir + "/tmp");
  auto layout = LayoutFingerprint();
  if (!layout.ok()) return Fail("layout", layout.status());
  const auto start = Steady::now();

  // 1. The scratch mount: CA, roles, prototype.
  Mount scratch;
  if (Status s = scratch.Open(dir + "/scratch"); !s.ok()) return Fail("open scratch", s);
  auto root = scratch.Call(Operation::kUpdate, "root/generate/internal",
                           {{"common_name", "Bench Scale Root"}, {"key_type", "ec"}, {"ttl", "87600h"}});
  if (!root.ok()) return Fail("root/generate", root.status());
  const std::string issuer_id = root->data["issuer_id"].get<std::string>();
  for (const char* role : {"web", "proto"}) {
    Json body = {{"allow_any_name", true}, {"key_type", "ec"}, {"max_ttl", "87600h"}};
    if (std::string(role) == "proto") body["no_store"] = true;
    if (auto r = scratch.Call(Operation::kUpdate, std::string("roles/") + role, body); !r.ok()) {
      return Fail("roles", r.status());
    }
  }
  auto proto = Prototype(&scratch, issuer_id);
  if (!proto.ok()) return Fail("prototype", proto.status());
  CaStore cas(scratch.Context());
  auto group = CrlGroupOf(cas, issuer_id);
  if (!group.ok()) return Fail("CRL group", group.status());

  // 2. The records, captured and sorted in runs.
  Recipe recipe;
  recipe.set.count = static_cast<size_t>(stored);
  recipe.set.expired = static_cast<size_t>(expired);
  recipe.set.now = now > 0 ? now : SystemClock::Instance().Now();
  recipe.set.prototype = *proto;
  recipe.revoked = static_cast<size_t>(revoked);
  recipe.issuer_id = issuer_id;
  recipe.group = *group;
  RunWriter runs(dir + "/tmp", static_cast<uint64_t>(chunk_mb) << 20);
  CaptureStorage capture(scratch.rocks.get(), [&](std::string k, std::string v) { return runs.Add(std::move(k), std::move(v)); });
  if (Status s = CaptureRecords(&capture, recipe); !s.ok()) return Fail("records", s);
  const double capture_seconds = SecondsSince(start);
  // Everything the scratch mount holds, with the rewritten keys' final values.
  std::vector<std::pair<std::string, std::string>> scratch_keys;
  if (Status s = scratch.rocks->Scan("", "", 0, &scratch_keys); !s.ok()) return Fail("scratch", s);
  std::map<std::string, std::string> tail(scratch_keys.begin(), scratch_keys.end());
  for (const auto& [k, v] : capture.rewritten()) {
    if (v) {
      tail[k] = *v;
    } else {
      tail.erase(k);
    }
  }
  for (auto& [k, v] : tail) {
    if (Status s = runs.Add(k, v); !s.ok()) return Fail("scratch keys", s);
  }
  if (Status s = runs.Spill(); !s.ok()) return Fail("sort", s);
  scratch.Close();
  fs::remove_all(dir + "/scratch");

  // 3. Merged into the bottom level of a fresh database.
  auto merge_start = Steady::now();
  auto files = MergeRuns(runs.runs(), dir + "/tmp");
  if (!files.ok()) return Fail("merge", files.status());
  const double merge_seconds = SecondsSince(merge_start);
  if (Status s = Ingest(dir + "/db", *files); !s.ok()) return Fail("ingest", s);
  fs::remove_all(dir + "/tmp");
  {
    std::ofstream key(dir + "/seal.key", std::ios::binary | std::ios::trunc);
    key.write(kDataSetSealerKey, 32);
  }
  fs::permissions(dir + "/seal.key", fs::perms::owner_read | fs::perms::owner_write, ec);
  const double seconds = SecondsSince(start);

  const uint64_t bytes = testing::DirectoryBytes(dir + "/db");
  Json marker = {{"loader_version", kLoaderVersion},
                 {"layout", *layout},
                 {"stored", stored},
                 {"expired", expired},
                 {"revoked", revoked},
                 {"now", recipe.set.now},
                 {"spacing", recipe.set.spacing},
                 {"issuer_id", issuer_id},
                 {"group", *group},
                 {"keys", runs.count()},
                 {"sst_files", files->size()},
                 {"bytes", bytes},
                 {"load_seconds", seconds}};
  if (revoked > 0) {
    std::ofstream(dir + "/" + kCrlMarker)
        << Json{{"revoked", revoked}, {"stored", stored}, {"issuer_id", issuer_id}, {"group", *group},
                {"load_seconds", seconds}}.dump()
        << "\n";
  }
  // The scale marker last: its presence says the data set is complete.
  std::ofstream(dir + "/" + kScaleMarker) << marker.dump() << "\n";
  Json out = marker;
  out["seconds"] = seconds;
  out["capture_seconds"] = capture_seconds;
  out["merge_seconds"] = merge_seconds;
  out["records_per_second"] = seconds > 0 ? static_cast<double>(stored) / seconds : 0;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// ---- scale-tidy ----

// CPU time of this process so far (every thread: the tidy's, this one polling, RocksDB's flushes), in seconds.
double CpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

Result<Json> ReadScaleMarker(const std::string& dir) {
  std::ifstream in(dir + "/" + kScaleMarker);
  if (!in) return Status::BadRequest(dir + " is not a pki_bench scale data set (run scale-load first)");
  Json j = Json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Internal("corrupt " + std::string(kScaleMarker));
  return j;
}

int ScaleTidy(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  if (!ParseFlags(argc, argv, {"dir"}, &flags) || !flags.count("dir")) {
    std::fprintf(stderr, "usage: pki_bench scale-tidy --dir D\n");
    return 2;
  }
  const std::string dir = flags["dir"];
  auto marker = ReadScaleMarker(dir);
  if (!marker.ok()) return Fail("scale-tidy", marker.status());
  testing::SyntheticCertSet set;
  set.count = (*marker)["stored"].get<size_t>();
  set.expired = (*marker)["expired"].get<size_t>();
  set.now = (*marker)["now"].get<int64_t>();
  set.spacing = (*marker)["spacing"].get<int64_t>();

  Mount mount;
  auto t = Steady::now();
  if (Status s = mount.Open(dir + "/db"); !s.ok()) return Fail("open", s);
  const double open_seconds = SecondsSince(t);
  CertStore certs(mount.rocks.get());
  auto before = certs.Count();
  if (!before.ok()) return Fail("count", before.status());

  // Exactly the records expired at the data set's `now`: cutoff = now - safety_buffer falls between the last
  // expired notAfter (now - spacing/2 at the latest) and the first unexpired one (now + spacing/2 at the earliest).
  const int64_t wall = SystemClock::Instance().Now();
  const int64_t safety_buffer = std::max<int64_t>(1, wall - set.now);
  const size_t expected = set.CountNotAfterBefore(wall - safety_buffer);
  if (expected != set.expired) {
    std::fprintf(stderr, "scale-tidy: the cutoff would remove %zu records, not the %zu expired\n", expected,
                 set.expired);
    return 1;
  }
  t = Steady::now();
  const double cpu_start = CpuSeconds();
  auto started = mount.Call(Operation::kUpdate, "tidy", {{"tidy_cert_store", true}, {"safety_buffer", safety_buffer}});
  if (!started.ok()) return Fail("tidy", started.status());
  Json status;
  for (;;) {
    auto st = mount.Call(Operation::kRead, "tidy-status");
    if (!st.ok()) return Fail("tidy-status", st.status());
    status = st->data;
    const std::string state = status.value("state", "");
    if (state != "Running" && state != "Cancelling") break;
    // Every 2% of the time elapsed (2 to 250 ms): the end is seen within 2% whatever the run's length, and the
    // polls stay few. tidy-status sums the counter shards with a scan that walks every version of them the run has
    // left in the memtable (one per removal), so each poll costs more as the run goes on: polled every 2 ms they
    // took ~10% of a 1M run's CPU.
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t);
    std::this_thread::sleep_for(std::clamp(elapsed / 50, std::chrono::milliseconds(2), std::chrono::milliseconds(250)));
  }
  const double seconds = SecondsSince(t);
  const double cpu_seconds = CpuSeconds() - cpu_start;
  if (status.value("state", "") != "Finished") {
    std::fprintf(stderr, "scale-tidy: tidy ended in state %s: %s\n", status.value("state", "").c_str(),
                 status.dump().c_str());
    return 1;
  }
  auto after = certs.Count();
  if (!after.ok()) return Fail("count", after.status());
  const uint64_t deleted = status.value("cert_store_deleted_count", uint64_t{0});
  // Exactly the expired are gone: the deleted count, the stored count, and records on either side of the cutoff.
  bool ok = deleted == set.expired && *before - *after == static_cast<int64_t>(set.expired);
  std::string why;
  for (size_t i = 0; ok && i < std::min<size_t>(set.count, 2000); ++i) {
    auto exists = certs.Exists(set.Serial(i));
    if (!exists.ok()) return Fail("read", exists.status());
    const bool was_expired = set.NotAfter(i) < set.now;
    if (*exists == was_expired) {
      ok = false;
      why = "record " + std::to_string(i) + (was_expired ? " expired but still stored" : " unexpired but removed");
    }
  }
  std::vector<std::string> first;
  if (Status s = mount.rocks->List(CertStore::kExpiryPrefix, "", 1, &first); !s.ok()) return Fail("list", s);
  if (ok && !first.empty()) {
    auto e = CertStore::ParseExpiryKey(first[0]);
    if (!e.ok()) return Fail("expiry index", e.status());
    // tidy_cert_store keeps a revoked certificate's expiry entry (a later tidy_revoked_certs run finds it there).
    auto revoked = RevocationStore(mount.rocks.get()).Get(e->serial);
    if (!revoked.ok()) return Fail("read", revoked.status());
    if (e->not_after < set.now && !revoked->has_value()) {
      ok = false;
      why = "an expired, unrevoked entry is left in the expiry index";
    }
  }
  if (!ok) {
    std::fprintf(stderr, "scale-tidy: deleted %llu, count %lld -> %lld, expected %zu removed. %s\n",
                 static_cast<unsigned long long>(deleted), static_cast<long long>(*before),
                 static_cast<long long>(*after), set.expired, why.c_str());
    return 1;
  }
  Json out = {{"seconds", seconds},        {"cpu_seconds", cpu_seconds}, {"deleted", deleted},         {"stored_before", *before},
              {"stored_after", *after},    {"open_seconds", open_seconds}, {"safety_buffer", safety_buffer}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

RegisterBenchCommand register_info("scale-info", ScaleInfo,
                                   ": the scale loader's version and the engine's key layout fingerprint");
RegisterBenchCommand register_load("scale-load", ScaleLoad,
                                   "--dir D --stored N [--expired E] [--revoked R] [--chunk-mb M]: a mount data set "
                                   "of N certificates bulk-loaded by SST ingestion in the engine's key layout");
RegisterBenchCommand register_tidy("scale-tidy", ScaleTidy,
                                   "--dir D: time one tidy_cert_store run removing D's expired certificates, "
                                   "checked to remove exactly them");

}  // namespace
}  // namespace pki::bench