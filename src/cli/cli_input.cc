#include "src/cli/cli_input.h"

#include <cctype>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace pki::cli {

std::vector<std::string> NormalizeFlags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  bool flags = true;
  for (const auto& a : args) {
    const bool single_dash_long = a.size() > 2 && a[0] == '-' && a[1] != '-' &&
                                  std::isalpha(static_cast<unsigned char>(a[1])) &&
                                  (std::isalpha(static_cast<unsigned char>(a[2])) || a[2] == '-');
    if (flags && single_dash_long) {
      out.push_back("-" + a);
      continue;
    }
    // Subcommand words ("secrets", "enable") and flags come first; the first other word ends the flags only
    // when it looks like a path or data ("pki/roles/web", "k=v").
    if (flags && a.find_first_of("/=") != std::string::npos) flags = false;
    out.push_back(a);
  }
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
