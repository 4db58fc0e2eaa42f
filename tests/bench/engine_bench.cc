// `pki_bench engine-issue`: the PKI engine alone, called in-process on N threads over a fresh RocksDB mount (as a
// pki-plugin mount opens it), with no HTTP server and no plugin boundary. It separates the engine's own cost per
// certificate (policy, key generation, signing, the durable write) from the transport's, for profiling; prints
//   {"kind", "ops_per_sec", "threads", "n", "seconds", "stored"}.
//
//   pki_bench engine-issue --dir D [--kind issue|sign] [--store 1|0] [--threads N] [--seconds S]
//
// `--kind sign` signs distinct CSRs (64 per thread, cycled) instead of making keys. D must not exist or be empty.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_args.h"
#include "tests/bench/bench_mount.h"
#include "tests/bench/commands.h"
#include "tests/bench/x509_work.h"

namespace pki::bench {
namespace {

namespace fs = std::filesystem;

int EngineIssue(int argc, char** argv) {
  BenchArgs args;
  if (!args.Parse(argc, argv, {"dir", "kind", "store", "threads", "seconds"})) return 2;
  const std::string dir = args.Get("dir", "");
  const std::string kind = args.Get("kind", "issue");
  const bool store = args.Get("store", "1") != "0";
  const int threads = static_cast<int>(args.GetInt("threads", 2));
  const double seconds = args.GetDouble("seconds", 3);
  if (dir.empty() || (kind != "issue" && kind != "sign")) {
    std::fprintf(stderr, "usage: pki_bench engine-issue --dir D [--kind issue|sign] [--store 1|0] [--threads N] "
                         "[--seconds S]\n");
    return 2;
  }
  std::error_code ec;
  if (fs::exists(dir) && !fs::is_empty(dir, ec)) {
    std::fprintf(stderr, "%s is not empty\n", dir.c_str());
    return 2;
  }
  BenchMount mount;
  if (Status s = mount.Open(dir); !s.ok()) return Fail("open " + dir, s);
  auto root = mount.Call(Operation::kUpdate, "root/generate/internal",
                         {{"common_name", "Engine Bench Root"}, {"key_type", "ec"}, {"ttl", "87600h"}});
  auto role = mount.Call(Operation::kUpdate, "roles/r",
                         {{"allowed_domains", "example.com"}, {"allow_subdomains", true}, {"key_type", "ec"},
                          {"no_store", !store}});
  if (!root.ok() || !role.ok()) {
    std::fprintf(stderr, "set-up failed: %s\n", (!root.ok() ? root.status() : role.status()).message().c_str());
    return 1;
  }

  // Request bodies per thread, made before the clock starts.
  std::vector<std::vector<Json>> bodies(threads);
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < 64; ++i) {
      std::string cn = "h" + std::to_string(t * 64 + i) + ".example.com";
      Json body = {{"common_name", cn}, {"ttl", "1h"}};
      if (kind == "sign") {
        Pkey key = GenerateKey(KeyKind::kEc256);
        body["csr"] = CsrPem(MakeCsr(key.get(), cn).get());
      }
      bodies[t].push_back(std::move(body));
    }
  }
  const std::string path = kind == "issue" ? "issue/r" : "sign/r";
  std::atomic<bool> stop{false};
  std::atomic<long> done{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      long n = 0;
      for (size_t i = 0; !stop.load(std::memory_order_relaxed); ++i, ++n) {
        auto r = mount.Call(Operation::kUpdate, path, bodies[t][i % bodies[t].size()]);
        if (!r.ok()) {
          std::fprintf(stderr, "%s: %s\n", path.c_str(), r.status().message().c_str());
          failed = true;
          break;
        }
      }
      done += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) return 1;
  auto listed = mount.Call(Operation::kList, "certs", Json::object());
  size_t stored = listed.ok() && listed.value().data.contains("keys") ? listed.value().data["keys"].size() : 0;
  Json out = {{"kind", "engine_" + kind + (store ? "_stored" : "_nostore")},
              {"ops_per_sec", static_cast<double>(done.load()) / elapsed},
              {"threads", threads},
              {"n", done.load()},
              {"seconds", elapsed},
              {"stored", stored}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

const RegisterBenchCommand kEngineIssue("engine-issue", EngineIssue,
                                        "the engine alone in-process: issue or sign on N threads, ops/s");

}  // namespace
}  // namespace pki::bench
