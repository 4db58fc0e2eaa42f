// BenchArgs: `--name value` options of a pki_bench subcommand (argv[0] is the subcommand). Not thread-safe; used
// once at the start of a command. Unknown or valueless options make Parse fail with a message on stderr.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

namespace pki::bench {

class BenchArgs {
 public:
  // `known`: the accepted option names without dashes.
  bool Parse(int argc, char** argv, const std::set<std::string>& known) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("--", 0) != 0 || !known.count(arg.substr(2)) || i + 1 >= argc) {
        std::fprintf(stderr, "%s: bad option '%s'\n", argv[0], arg.c_str());
        return false;
      }
      values_[arg.substr(2)] = argv[++i];
    }
    return true;
  }
  std::string Get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  // A positive integer option; exits with a message on a malformed value.
  long GetInt(const std::string& name, long fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    long v = std::strtol(it->second.c_str(), &end, 10);
    if (*end != '\0' || v <= 0) {
      std::fprintf(stderr, "--%s wants a positive integer, got '%s'\n", name.c_str(), it->second.c_str());
      std::exit(2);
    }
    return v;
  }
  double GetDouble(const std::string& name, double fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    double v = std::strtod(it->second.c_str(), &end);
    if (*end != '\0' || !(v > 0)) {
      std::fprintf(stderr, "--%s wants a positive number, got '%s'\n", name.c_str(), it->second.c_str());
      std::exit(2);
    }
    return v;
  }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace pki::bench
