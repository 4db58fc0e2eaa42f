// `pki_bench ceiling`: the physical ceiling of a scenario, OpenSSL's own primitives on N threads for S seconds:
//   issue_ec256    P-256 keygen + build and sign (ECDSA P-256, SHA-256) a leaf certificate, DER-encoded
//   issue_rsa2048  RSA-2048 keygen + the same leaf signed by the P-256 CA
//   sign_ec256     verify a client P-256 CSR's signature + build and sign a leaf for its key
// Prints {"kind":..., "ops_per_sec":..., "threads":N, "n":count, "seconds":elapsed}.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_args.h"
#include "tests/bench/commands.h"
#include "tests/bench/x509_work.h"

namespace pki::bench {
namespace {

int RunCeiling(int argc, char** argv) {
  BenchArgs args;
  if (!args.Parse(argc, argv, {"kind", "threads", "seconds"})) return 2;
  const std::string kind = args.Get("kind", "issue_ec256");
  const long threads = args.GetInt("threads", 2);
  const double seconds = args.GetDouble("seconds", 3);
  if (kind != "issue_ec256" && kind != "issue_rsa2048" && kind != "sign_ec256") {
    std::fprintf(stderr, "ceiling: --kind is one of issue_ec256, issue_rsa2048, sign_ec256\n");
    return 2;
  }
  const BenchCa ca = MakeCa("Bench Ceiling Root");
  {
    // What is timed must make valid certificates: one made and checked before the clock starts.
    Pkey key = GenerateKey(KeyKind::kEc256);
    std::string der;
    SignLeaf(ca, key.get(), "check.example.com", &der);
    if (!LeafIsValid(ca, der, key.get())) {
      std::fprintf(stderr, "ceiling: the leaf made by SignLeaf does not verify\n");
      return 1;
    }
  }

  // sign_ec256: each thread cycles through its own distinct CSRs, made before the clock starts.
  constexpr int kCsrsPerThread = 64;
  std::vector<std::vector<Req>> csrs(threads);
  if (kind == "sign_ec256") {
    for (long t = 0; t < threads; ++t) {
      for (int i = 0; i < kCsrsPerThread; ++i) {
        Pkey key = GenerateKey(KeyKind::kEc256);
        std::string cn = "c";  // built piecewise: see csrs.cc on GCC 12's -Wrestrict
        cn.append(std::to_string(t)).append("-").append(std::to_string(i)).append(".example.com");
        csrs[t].push_back(MakeCsr(key.get(), cn));
      }
    }
  }

  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<long> counts(threads, 0);
  std::vector<std::thread> workers;
  const auto start = std::chrono::steady_clock::now();
  for (long t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      long n = 0;
      std::string cn = "leaf";
      cn.append(std::to_string(t)).append(".example.com");
      while (!stop.load(std::memory_order_relaxed)) {
        if (kind == "sign_ec256") {
          X509_REQ* req = csrs[t][n % kCsrsPerThread].get();
          // X509_REQ_get0_pubkey: the CSR's own key, as a signer must take it.
          EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
          if (pub == nullptr || X509_REQ_verify(req, pub) != 1) {
            failed = true;
            break;
          }
          SignLeaf(ca, pub, cn);
        } else {
          Pkey key = GenerateKey(kind == "issue_ec256" ? KeyKind::kEc256 : KeyKind::kRsa2048);
          SignLeaf(ca, key.get(), cn);
        }
        ++n;
      }
      counts[t] = n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) {
    std::fprintf(stderr, "ceiling: a CSR signature did not verify\n");
    return 1;
  }
  long total = 0;
  for (long c : counts) total += c;
  nlohmann::json out = {{"kind", kind},     {"ops_per_sec", total / elapsed}, {"threads", threads},
                        {"n", total},       {"seconds", elapsed}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

const RegisterBenchCommand kCeiling(
    "ceiling", RunCeiling,
    "--kind issue_ec256|issue_rsa2048|sign_ec256 [--threads 2] [--seconds 3]: OpenSSL's keygen+sign or "
    "CSR-verify+sign rate, as JSON");

}  // namespace
}  // namespace pki::bench
