// pkictl's input conventions, as the vault CLI's: single-dash long flags, and k=v data arguments.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/core/status.h"

namespace pki::cli {

// vault spells long flags with one dash (-format=json, -field=x); CLI11 2.1 wants two. After the command words,
// reads flags as Go's flag package does (until the first argument that is neither a flag nor a flag's value, or
// "--") and rewrites each as "--name" followed by its value as a separate argument ("-field=" becomes "--field",
// ""); "-f" is --force. Everything after the flags (the path and the data) is left alone.
std::vector<std::string> NormalizeFlags(const std::vector<std::string>& args);

// Where k=@file and k=- read from; injectable for tests.
struct InputSources {
  std::function<Result<std::string>(const std::string& path)> read_file;
  std::function<Result<std::string>()> read_stdin;
};
InputSources DefaultInputSources();

// vault's data arguments: "k=v" (a string), "k=@file" (the file's contents), "k=-" (standard input), a key given
// more than once becomes a list, and a lone "-" reads a JSON object from standard input. Errors are local (exit 1).
Result<nlohmann::json> ParseDataArgs(const std::vector<std::string>& args, const InputSources& in);

}  // namespace pki::cli
