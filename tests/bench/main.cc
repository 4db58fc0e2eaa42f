// pki_bench: dispatches argv[1] to a registered subcommand (tests/bench/commands.h); lists them otherwise.
// (Minimal version from the benchcrl branch; bench-core's main.cc supersedes it.)
#include <cstdio>
#include <string>

#include "tests/bench/commands.h"

int main(int argc, char** argv) {
  auto& commands = pki::bench::BenchCommands();
  auto it = argc > 1 ? commands.find(argv[1]) : commands.end();
  if (it == commands.end()) {
    std::fprintf(stderr, "usage: pki_bench <command> [options]\n\ncommands:\n");
    for (const auto& [name, info] : commands) std::fprintf(stderr, "  %-14s %s\n", name.c_str(), info.help.c_str());
    return 2;
  }
  return it->second.run(argc - 1, argv + 1);
}
