// pki_bench: the load and ceiling tools of scripts/bench. `pki_bench <command> [options]`; each source file in
// tests/bench registers its commands (commands.h). Without a known command it lists them with their help.
#include <cstdio>
#include <cstring>
#include <string>

#include "tests/bench/commands.h"

namespace {

int Usage(FILE* out) {
  std::fprintf(out, "usage: pki_bench <command> [options]\n\ncommands:\n");
  for (const auto& [name, info] : pki::bench::BenchCommands()) {
    std::fprintf(out, "  %-12s %s\n", name.c_str(), info.help.c_str());
  }
  return out == stdout ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage(stderr);
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") return Usage(stdout);
  auto& commands = pki::bench::BenchCommands();
  auto it = commands.find(name);
  if (it == commands.end()) {
    std::fprintf(stderr, "pki_bench: unknown command '%s'\n\n", name.c_str());
    return Usage(stderr);
  }
  return it->second.run(argc - 1, argv + 1);
}
