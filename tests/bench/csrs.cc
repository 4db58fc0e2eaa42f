// `pki_bench csrs`: N distinct CSRs (a fresh key each) as JSON lines of sign request bodies
// {"csr": PEM, "common_name": "<i>.<suffix>", "ttl": "1h"}, for the sign benchmarks (scripts/bench turns them into
// the peers' request shapes). Keys are discarded: only the CSRs are needed.
#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_args.h"
#include "tests/bench/commands.h"
#include "tests/bench/x509_work.h"

namespace pki::bench {
namespace {

int RunCsrs(int argc, char** argv) {
  BenchArgs args;
  if (!args.Parse(argc, argv, {"count", "key", "cn-suffix", "out", "ttl"})) return 2;
  const long count = args.GetInt("count", 1000);
  const std::string key_name = args.Get("key", "ec256");
  const std::string suffix = args.Get("cn-suffix", "example.com");
  const std::string ttl = args.Get("ttl", "1h");
  const std::string out_path = args.Get("out", "");
  KeyKind kind;
  if (key_name == "ec256") {
    kind = KeyKind::kEc256;
  } else if (key_name == "rsa2048") {
    kind = KeyKind::kRsa2048;
  } else {
    std::fprintf(stderr, "csrs: --key is ec256 or rsa2048\n");
    return 2;
  }
  if (out_path.empty()) {
    std::fprintf(stderr, "csrs: --out FILE is required\n");
    return 2;
  }
  std::ofstream out(out_path, std::ios::trunc);
  if (!out) {
    std::fprintf(stderr, "csrs: cannot write %s\n", out_path.c_str());
    return 1;
  }
  for (long i = 0; i < count; ++i) {
    // Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "literal" + std::string here.
    std::string cn = "h";
    cn.append(std::to_string(i)).append(".").append(suffix);
    Pkey key = GenerateKey(kind);
    Req req = MakeCsr(key.get(), cn);
    nlohmann::json body = {{"csr", CsrPem(req.get())}, {"common_name", cn}, {"ttl", ttl}};
    out << body.dump() << '\n';
  }
  out.close();
  if (!out) {
    std::fprintf(stderr, "csrs: writing %s failed\n", out_path.c_str());
    return 1;
  }
  return 0;
}

const RegisterBenchCommand kCsrs(
    "csrs", RunCsrs,
    "--count N [--key ec256|rsa2048] [--cn-suffix example.com] [--ttl 1h] --out FILE: distinct CSRs as JSON "
    "lines of sign request bodies");

}  // namespace
}  // namespace pki::bench
