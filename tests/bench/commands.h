// BenchCommand: the subcommands of pki_bench, registered by each source file with a static RegisterBenchCommand.
#pragma once
#include <map>
#include <string>
namespace pki::bench {
using BenchMain = int (*)(int argc, char** argv);  // argv[0] is the subcommand name
struct BenchCommandInfo { BenchMain run; std::string help; };
inline std::map<std::string, BenchCommandInfo>& BenchCommands() {
  static std::map<std::string, BenchCommandInfo> commands;
  return commands;
}
struct RegisterBenchCommand {
  RegisterBenchCommand(const std::string& name, BenchMain run, const std::string& help) {
    BenchCommands()[name] = BenchCommandInfo{run, help};
  }
};
}  // namespace pki::bench
