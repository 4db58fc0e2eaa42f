// What pki_bench's data-set subcommands share (crl_bench.cc, scale_bench.cc, ocsp_bench.cc, engine_bench.cc): their
// `--name value` flag parsing, timing and peak-RSS helpers, and BenchMount, the engine over one RocksDB directory
// opened exactly as a pki-plugin mount opens it. Data-set CA keys are sealed with kDataSetSealerKey: these data
// sets hold nothing secret, and every subcommand can open every data set.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/crypto/sealer.h"
#include "src/engine/request.h"
#include "src/engine/system_view.h"
#include "src/pki/backend.h"
#include "storage/rocksdb_storage.h"

namespace pki::bench {

inline constexpr char kDataSetSealerKey[] = "pki_bench CRL data set sealer k!";  // 32 bytes

using Steady = std::chrono::steady_clock;

inline double SecondsSince(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

// --name value pairs into `out`; an unknown or valueless flag is an error (named on stderr).
inline bool ParseFlags(int argc, char** argv, const std::vector<std::string>& allowed,
                       std::map<std::string, std::string>* out) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || std::find(allowed.begin(), allowed.end(), flag.substr(2)) == allowed.end() ||
        i + 1 >= argc) {
      std::fprintf(stderr, "%s: unexpected argument %s\n", argv[0], flag.c_str());
      return false;
    }
    (*out)[flag.substr(2)] = argv[++i];
  }
  return true;
}

// Prints "what: message" on stderr; returns a command's failure exit code.
inline int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.message().c_str());
  return 1;
}

// Peak resident set of this process so far (VmHWM), in kB.
inline long PeakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

class BenchSystemView final : public SystemView {
 public:
  int64_t DefaultLeaseTtl() const override { return 768 * 3600; }
  int64_t MaxLeaseTtl() const override { return 87600 * 3600; }  // room for a 10-year root
};

// The engine over one RocksDB directory, as a mount runs it.
struct BenchMount {
  std::unique_ptr<RocksDBStorage> rocks;
  BenchSystemView system;
  std::unique_ptr<KeySealer> sealer = NewAesGcmSealer(std::string(kDataSetSealerKey, 32));
  std::unique_ptr<PkiBackend> backend;

  PkiContext Context() { return PkiContext{rocks.get(), &SystemClock::Instance(), &system, sealer.get()}; }

  Status Open(const std::string& db_dir) {
    ASSIGN_OR_RETURN(rocks, RocksDBStorage::Open(db_dir));
    backend = NewPkiBackend(Context());
    return Status::Ok();
  }
  void Close() {
    backend.reset();
    rocks.reset();
  }

  Result<Response> Call(Operation op, const std::string& path, Json data = Json::object()) const {
    Request req;
    req.operation = op;
    req.path = path;
    req.data = std::move(data);
    req.mount_point = "pki/";
    return backend->HandleRequest(req);
  }
};

}  // namespace pki::bench
