#include "src/cli/cli_input.h"

#include <cctype>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace pki::cli {

namespace {

bool IsCommandWord(const std::string& a) {
  static const char* kWords[] = {"read", "write", "patch", "list", "delete", "status",
                                 "secrets", "enable", "disable", "tune"};
  for (const char* w : kWords) {
    if (a == w) return true;
  }
  return false;
}

// Flags that take a value (the next argument when not given with '=').
bool TakesValue(const std::string& name) {
  static const char* kNames[] = {"format", "field", "address", "ca-cert", "ca-path", "client-cert", "client-key",
                                 "path", "description",
                                 "default-lease-ttl", "max-lease-ttl", "options"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> NormalizeFlags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < args.size() && IsCommandWord(args[i])) out.push_back(args[i++]);
  // As Go's flag package: flags until the first argument that is neither a flag nor a flag's value, or "--".
  while (i < args.size()) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') break;
    const size_t dashes = a[1] == '-' ? 2 : 1;
    std::string body = a.substr(dashes);
    const size_t eq = body.find('=');
    const std::string name = body.substr(0, eq);
    if (name.size() == 1) {  // short flags: -h, -f
      out.push_back(name == "f" ? "--force" : a);
      ++i;
      continue;
    }
    out.push_back("--" + name);
    ++i;
    if (eq != std::string::npos && !TakesValue(name)) {
      out.back() = "--" + body;  // a boolean flag's "=true"/"=false" stays attached
    } else if (eq != std::string::npos) {
      // "-field=" is an empty value: passed as its own (empty) argument so that CLI11 does not take the next one.
      out.push_back(body.substr(eq + 1));
    } else if (TakesValue(name) && i < args.size()) {
      out.push_back(args[i++]);
    }
  }
  for (; i < args.size(); ++i) out.push_back(args[i]);
  return out;
}

InputSources DefaultInputSources() {
  InputSources in;
  in.read_file = [](const std::string& path) -> Result<std::string> {
    std::ifstream f(path, std::ios::binary);
    if (!f) return Status::BadRequest("error reading file " + path);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  in.read_stdin = []() -> Result<std::string> {
    std::ostringstream s;
    s << std::cin.rdbuf();
    return s.str();
  };
  return in;
}

Result<nlohmann::json> ParseDataArgs(const std::vector<std::string>& args, const InputSources& in) {
  nlohmann::json data = nlohmann::json::object();
  bool stdin_used = false;
  auto from_stdin = [&]() -> Result<std::string> {
    if (stdin_used) return Status::BadRequest("standard input can be read only once");
    stdin_used = true;
    return in.read_stdin();
  };
  for (const auto& arg : args) {
    if (arg == "-") {
      ASSIGN_OR_RETURN(std::string text, from_stdin());
      nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      if (!j.is_object()) return Status::BadRequest("failed to parse JSON input: not a JSON object");
      for (auto it = j.begin(); it != j.end(); ++it) data[it.key()] = it.value();
      continue;
    }
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::BadRequest("failed to parse K=V data: invalid key/value pair \"" + arg + "\"");
    }
    std::string key = arg.substr(0, eq);
    std::string value = arg.substr(eq + 1);
    if (value == "-") {
      ASSIGN_OR_RETURN(value, from_stdin());
    } else if (!value.empty() && value[0] == '@') {
      ASSIGN_OR_RETURN(value, in.read_file(value.substr(1)));
    }
    auto it = data.find(key);
    if (it == data.end()) {
      data[key] = value;
    } else if (it->is_array()) {
      it->push_back(value);
    } else {
      *it = nlohmann::json::array({*it, value});
    }
  }
  return data;
}

}  // namespace pki::cli
