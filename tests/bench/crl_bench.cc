// CRL benchmarks of pki_bench: crl-load (a RocksDB mount data set with N revoked), crl-build (one full CRL
// rebuild, as crl/rotate does it) and crl-delta (revoke latency with N revoked and with none, and the delta CRL
// build after it). Each prints one JSON object on stdout; scripts/benchlib/crl.py turns them into CONTRACT
// section 5 lines.
//
// A data set directory D holds db/ (RocksDB, opened exactly as the engine opens a mount's storage), the marker
// pki_bench-crl.json (what was loaded), the CA's certificate and key (ca.pem, ca.key, for peers answering for the
// same CA), seal.key (the key sealing the CA key in db/: a mount's seal key file) and, after crl-delta, empty/ (a
// second mount with no revocations). The CA key is sealed with a fixed benchmark key (kDataSetSealerKey, tests/bench/bench_mount.h): these data sets
// hold nothing secret.
//
// Records are synthetic (tests/scale/cert_loader.h) but carry the engine's key layout: certs/<serial> and its
// indexes through CertStore::AddRecordToBatch, and for each revoked serial the five entries RevocationStore::Add
// writes (src/pki/revocation.h): revoked/<serial>, index/revoked/<group>/<serial>, index/delta/<group>/<count>,
// crl/seq/<group>, index/count/revoked (the count moved one step per revocation where Add moves it two: any
// increasing count is valid, gaps included). Bulk writes skip the WAL and are flushed at the end (as the scale tests).
//
// Single-threaded; each command owns its data set directory while it runs.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <string>
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

constexpr char kMarker[] = "pki_bench-crl.json";


bool ParseCount(const std::map<std::string, std::string>& flags, const std::string& name, size_t* out) {
  auto it = flags.find(name);
  if (it == flags.end()) return true;
  char* end = nullptr;
  unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0') {
    std::fprintf(stderr, "--%s: not a count: %s\n", name.c_str(), it->second.c_str());
    return false;
  }
  *out = static_cast<size_t>(v);
  return true;
}

// A data set's mount, with what the CRL commands do through it.
struct Mount : BenchMount {
  // A root CA (EC P-256, as the peer's) and the role "web". With `pem_out`, the root is generated "exported" and
  // its certificate and private key (PEM) are written to <pem_out>.pem and <pem_out>.key, for peers that answer
  // for the same CA (pki_bench ocsp-reqs, openssl ocsp).
  Result<std::string> CreateCa(const std::string& pem_out = "") {
    ASSIGN_OR_RETURN(Response root,
                     Call(Operation::kUpdate, pem_out.empty() ? "root/generate/internal" : "root/generate/exported",
                          {{"common_name", "Bench CRL Root"}, {"key_type", "ec"}, {"ttl", "87600h"}}));
    if (!pem_out.empty()) {
      std::ofstream(pem_out + ".pem") << root.data.value("certificate", "") << "\n";
      std::ofstream key(pem_out + ".key");
      key << root.data.value("private_key", "") << "\n";
      if (!key.good()) return Status::Internal("cannot write " + pem_out + ".key");
    }
    RETURN_IF_ERROR(Call(Operation::kUpdate, "roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).status());
    return root.data["issuer_id"].get<std::string>();
  }

  Result<std::string> IssueSerial(const std::string& cn) {
    ASSIGN_OR_RETURN(Response leaf, Call(Operation::kUpdate, "issue/web", {{"common_name", cn}, {"ttl", "24h"}}));
    return leaf.data["serial_number"].get<std::string>();
  }

  Result<std::string> Der(const std::string& path) {
    ASSIGN_OR_RETURN(Response r, Call(Operation::kRead, path));
    if (!r.raw) return Status::Internal(path + " answered without a body");
    return r.raw->body;
  }
};

// Parses `der` as a CRL, checks its signature with the CA's key (cert/ca) and returns its entry count.
Result<size_t> VerifiedEntries(Mount* mount, const std::string& der) {
  ASSIGN_OR_RETURN(Response ca, mount->Call(Operation::kRead, "cert/ca"));
  std::string pem = ca.data.value("certificate", "");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return Status::Internal("cert/ca is not a PEM certificate");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509_CRL* crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()));
  if (!crl) {
    X509_free(cert);
    return Status::Internal("the CRL does not parse");
  }
  const int verified = X509_CRL_verify(crl, X509_get0_pubkey(cert));
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  const size_t entries = revoked ? static_cast<size_t>(sk_X509_REVOKED_num(revoked)) : 0;
  X509_CRL_free(crl);
  X509_free(cert);
  if (verified != 1) return Status::Internal("the CRL's signature does not verify with the CA's key");
  return entries;
}

Result<Json> ReadMarker(const std::string& dir) {
  std::ifstream in(dir + "/" + kMarker);
  if (!in) return Status::BadRequest(dir + " is not a pki_bench CRL data set (run crl-load first)");
  Json j = Json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Internal("corrupt " + std::string(kMarker));
  return j;
}

std::string Asn1Time(int64_t t) {  // openssl's index.txt time: UTCTime YYMMDDHHMMSSZ
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%y%m%d%H%M%SZ", &tm);
  return buf;
}

std::string UpperHex(const std::string& bytes) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Cbor(const Json& j) {
  std::vector<uint8_t> bytes = Json::to_cbor(j);
  return std::string(bytes.begin(), bytes.end());
}

std::string SeqHex(uint64_t seq) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(seq));
  return buf;
}

// ---- crl-load ----

int CrlLoad(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  if (!ParseFlags(argc, argv, {"dir", "revoked", "stored", "openssl-index", "batch"}, &flags)) return 2;
  size_t revoked = 1'000'000, stored = 0, batch_records = 50'000;
  if (!flags.count("dir") || !ParseCount(flags, "revoked", &revoked) || !ParseCount(flags, "stored", &stored) ||
      !ParseCount(flags, "batch", &batch_records) || batch_records == 0) {
    std::fprintf(stderr, "usage: pki_bench crl-load --dir D --revoked N [--stored M>=N] [--openssl-index FILE]\n");
    return 2;
  }
  if (stored < revoked) stored = revoked;
  const std::string dir = flags["dir"];
  std::error_code ec;
  if (fs::exists(dir) && !fs::is_empty(dir, ec)) {
    if (!fs::exists(dir + "/" + kMarker)) {
      std::fprintf(stderr, "crl-load: %s exists and is not a pki_bench CRL data set; refusing to replace it\n",
                   dir.c_str());
      return 1;
    }
    fs::remove_all(dir);
  }
  fs::create_directories(dir);

  Mount mount;
  if (Status s = mount.Open(dir + "/db"); !s.ok()) return Fail("open", s);
  auto issuer = mount.CreateCa(dir + "/ca");  // D/ca.pem, D/ca.key: the CA of this data set, for peers
  if (!issuer.ok()) return Fail("CA", issuer.status());
  {  // The key sealing the CA key in db/, as a mount's seal key file: a plugin can open db/ as its RocksDB.
    std::ofstream seal(dir + "/seal.key", std::ios::binary);
    seal.write(kDataSetSealerKey, 32);
    if (!seal.good()) return Fail("seal key", Status::Internal("cannot write " + dir + "/seal.key"));
  }
  // One real issued certificate is the prototype of every synthetic record.
  auto proto_serial = mount.IssueSerial("load.example.com");
  if (!proto_serial.ok()) return Fail("issue", proto_serial.status());
  auto proto_bytes = ParseSerial(*proto_serial);
  if (!proto_bytes.ok()) return Fail("serial", proto_bytes.status());
  auto proto = CertStore(mount.rocks.get()).Get(*proto_bytes);
  if (!proto.ok() || !proto->has_value()) return Fail("prototype", Status::Internal("issued certificate not stored"));
  PkiContext ctx = mount.Context();
  CaStore cas(ctx);
  auto group = CrlGroupOf(cas, *issuer);
  if (!group.ok()) return Fail("CRL group", group.status());

  testing::SyntheticCertSet set;
  set.count = stored;
  set.expired = 0;  // every revoked certificate is still valid: all belong on the CRL
  set.now = SystemClock::Instance().Now();
  set.prototype = **proto;
  const int64_t revoked_at = set.now - 60;
  const std::string index_prefix = "index/revoked/" + *group + "/";
  const std::string delta_prefix = "index/delta/" + *group + "/";

  auto start = Steady::now();
  size_t batches = 0;
  WriteBatch batch;
  StoredCert record = set.prototype;
  for (size_t i = 0; i < stored; ++i) {
    const std::string serial = set.Serial(i);
    record.not_after = set.NotAfter(i);
    CertStore::AddRecordToBatch(&batch, serial, record);
    if (i == 0) CertStore::MarkCountsIncompleteInBatch(&batch);  // synthetic records are not counted
    if (i < revoked) {
      const std::string hyphen = HyphenSerial(serial);
      batch.Put(index_prefix + hyphen, Cbor({{"t", revoked_at}}));
      batch.Put(delta_prefix + SeqHex(i + 1), Cbor({{"s", hyphen}, {"t", revoked_at}}));
      RevocationStore::PutRecordToBatch(&batch, serial, RevocationRecord{revoked_at, *issuer});
    }
    if ((i + 1) % batch_records == 0 || i + 1 == stored) {
      if (i + 1 == stored) {
        batch.Put("crl/seq/" + *group, std::to_string(revoked));
        batch.Put("index/count/revoked", std::to_string(revoked));
      }
      if (Status s = mount.rocks->WriteWithoutWal(batch); !s.ok()) return Fail("write", s);
      batch = WriteBatch();
      ++batches;
    }
  }
  if (Status s = mount.rocks->Flush(); !s.ok()) return Fail("flush", s);
  const double seconds = SecondsSince(start);
  // A compaction of the whole data set, untimed (not part of the load rate): left to the background, the first
  // compactions of a freshly loaded set (hundreds of MB) run in every later pki_bench process, competing with the
  // build being measured, and are cut short by its exit, so they would never finish. A mount that accumulated its
  // revocations over time has been compacted along the way.
  auto compact_start = Steady::now();
  if (Status s = mount.rocks->CompactAll(); !s.ok()) return Fail("compact", s);
  const double compact_seconds = SecondsSince(compact_start);

  // The peer's input: openssl's index.txt with the same revoked serials and times, and (when M > N) the stored
  // certificates that are not revoked as valid ("V") entries, so that openssl ocsp answers them "good".
  if (flags.count("openssl-index")) {
    std::ofstream index(flags["openssl-index"], std::ios::trunc);
    const std::string rev_time = Asn1Time(revoked_at);
    for (size_t i = 0; i < stored; ++i) {
      index << (i < revoked ? "R\t" : "V\t") << Asn1Time(set.NotAfter(i)) << '\t' << (i < revoked ? rev_time : "")
            << '\t' << UpperHex(set.Serial(i)) << "\tunknown\t/CN=load.example.com\n";
    }
    if (!index.good()) return Fail("openssl index", Status::Internal("write failed"));
  }

  Json marker = {{"revoked", revoked}, {"stored", stored}, {"issuer_id", *issuer}, {"group", *group},
                 {"load_seconds", seconds}};
  std::ofstream(dir + "/" + kMarker) << marker.dump() << "\n";
  mount.backend.reset();
  mount.rocks.reset();
  Json out = {{"seconds", seconds},  {"revoked", revoked},
              {"stored", stored},    {"batches", batches},
              {"records_per_second", static_cast<double>(stored) / seconds},
              {"bytes", testing::DirectoryBytes(dir + "/db")},
              {"compact_seconds", compact_seconds}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// ---- crl-build ----

int CrlBuild(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  if (!ParseFlags(argc, argv, {"dir"}, &flags) || !flags.count("dir")) {
    std::fprintf(stderr, "usage: pki_bench crl-build --dir D\n");
    return 2;
  }
  const std::string dir = flags["dir"];
  auto marker = ReadMarker(dir);
  if (!marker.ok()) return Fail("crl-build", marker.status());
  Mount mount;
  auto t = Steady::now();
  if (Status s = mount.Open(dir + "/db"); !s.ok()) return Fail("open", s);
  const double open_seconds = SecondsSince(t);
  const long rss_open_kb = PeakRssKb();

  // One crl/rotate per process, so that its peak RSS (VmHWM: the whole process, as for the peer) holds no memory
  // kept from an earlier build. The first rebuild after a bulk load also prunes the delta index of the loaded
  // revocations (as the engine's first rebuild after them would); scripts/benchlib/crl.py runs this command again
  // for the steady-state figure.
  t = Steady::now();
  auto rotated = mount.Call(Operation::kRead, "crl/rotate");
  const double seconds = SecondsSince(t);
  const long rss_kb = PeakRssKb();  // before the check below, whose parse holds the whole CRL decoded
  if (!rotated.ok()) return Fail("crl/rotate", rotated.status());

  auto der = mount.Der("crl");  // the cached DER of the CRL just built
  if (!der.ok()) return Fail("crl", der.status());
  auto expected = RevocationStore(mount.rocks.get()).Count();
  if (!expected.ok()) return Fail("count", expected.status());
  auto entries = VerifiedEntries(&mount, *der);
  if (!entries.ok()) return Fail("verify", entries.status());
  if (*entries != static_cast<size_t>(*expected)) {
    std::fprintf(stderr, "crl-build: the CRL lists %zu entries, the mount has %lld revoked\n", *entries,
                 static_cast<long long>(*expected));
    return 1;
  }
  Json out = {{"seconds", seconds},         {"entries", *entries},
              {"max_rss_kb", rss_kb},         {"rss_after_open_kb", rss_open_kb},
              {"open_seconds", open_seconds}, {"bytes", der->size()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// ---- crl-delta ----

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

Status EnableDelta(Mount* mount) {
  return mount->Call(Operation::kUpdate, "config/crl", {{"auto_rebuild", true}, {"enable_delta", true}}).status();
}

int CrlDelta(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  size_t revokes = 20;
  if (!ParseFlags(argc, argv, {"dir", "revokes"}, &flags) || !flags.count("dir") ||
      !ParseCount(flags, "revokes", &revokes) || revokes == 0) {
    std::fprintf(stderr, "usage: pki_bench crl-delta --dir D [--revokes K]\n");
    return 2;
  }
  const std::string dir = flags["dir"];
  auto marker = ReadMarker(dir);
  if (!marker.ok()) return Fail("crl-delta", marker.status());

  Mount full, empty;
  if (Status s = full.Open(dir + "/db"); !s.ok()) return Fail("open", s);
  fs::remove_all(dir + "/empty");
  fs::create_directories(dir + "/empty");
  if (Status s = empty.Open(dir + "/empty/db"); !s.ok()) return Fail("open empty", s);
  if (auto ca = empty.CreateCa(); !ca.ok()) return Fail("CA", ca.status());
  // Delta CRLs on (they need auto_rebuild); the config change rebuilds the complete CRL, untimed.
  for (Mount* m : {&full, &empty}) {
    if (Status s = EnableDelta(m); !s.ok()) return Fail("config/crl", s);
    if (auto crl = m->Der("crl"); !crl.ok()) return Fail("crl", crl.status());
  }
  auto before = RevocationStore(full.rocks.get()).Count();
  if (!before.ok()) return Fail("count", before.status());

  // Certificates to revoke, issued first; then the revocations alternate between the mounts, each timed alone.
  std::vector<std::string> to_full, to_empty;
  for (size_t i = 0; i < revokes; ++i) {
    auto a = full.IssueSerial("r" + std::to_string(i) + ".example.com");
    auto b = empty.IssueSerial("r" + std::to_string(i) + ".example.com");
    if (!a.ok()) return Fail("issue", a.status());
    if (!b.ok()) return Fail("issue", b.status());
    to_full.push_back(*a);
    to_empty.push_back(*b);
  }
  std::vector<double> ms_full, ms_empty;
  for (size_t i = 0; i < revokes; ++i) {
    for (auto [m, serial, ms] : {std::tuple{&empty, &to_empty[i], &ms_empty}, std::tuple{&full, &to_full[i], &ms_full}}) {
      auto t = Steady::now();
      auto r = m->Call(Operation::kUpdate, "revoke", {{"serial_number", *serial}});
      ms->push_back(SecondsSince(t) * 1000);
      if (!r.ok()) return Fail("revoke", r.status());
    }
  }

  // The delta CRL listing the revocations since the complete CRL (crl/rotate-delta forces the build; a read would
  // serve the one built within delta_rebuild_interval).
  auto t = Steady::now();
  auto rotated = full.Call(Operation::kRead, "crl/rotate-delta");
  const double delta_ms = SecondsSince(t) * 1000;
  if (!rotated.ok()) return Fail("crl/rotate-delta", rotated.status());
  auto der = full.Der("crl/delta");
  if (!der.ok()) return Fail("crl/delta", der.status());
  auto entries = VerifiedEntries(&full, *der);
  if (!entries.ok()) return Fail("verify delta", entries.status());
  if (*entries != revokes) {
    std::fprintf(stderr, "crl-delta: the delta CRL lists %zu entries, %zu were revoked since the complete CRL\n",
                 *entries, revokes);
    return 1;
  }
  const double median_full = Median(ms_full), median_empty = Median(ms_empty);
  Json out = {{"revokes", revokes},
              {"revoked_before", *before},
              {"revoke_ms", median_full},
              {"revoke_ms_empty", median_empty},
              {"revoke_ms_mean", std::accumulate(ms_full.begin(), ms_full.end(), 0.0) / revokes},
              {"revoke_ms_empty_mean", std::accumulate(ms_empty.begin(), ms_empty.end(), 0.0) / revokes},
              {"vs_empty", median_empty > 0 ? median_full / median_empty : 0},
              {"delta_ms", delta_ms},
              {"delta_entries", *entries},
              {"delta_bytes", der->size()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

RegisterBenchCommand register_load("crl-load", CrlLoad,
                                   "--dir D --revoked N [--stored M] [--openssl-index FILE]: a RocksDB mount data "
                                   "set with a CA (D/ca.pem, D/ca.key), M stored of which N revoked (and openssl's "
                                   "index of the same serials)");
RegisterBenchCommand register_build("crl-build", CrlBuild,
                                    "--dir D: time a full CRL rebuild (crl/rotate), verify it, report peak RSS");
RegisterBenchCommand register_delta("crl-delta", CrlDelta,
                                    "--dir D [--revokes K]: revoke latency with D's revoked set and with none, "
                                    "then the delta CRL build");

}  // namespace
}  // namespace pki::bench
