#include "src/engine/request.h"

namespace pki {

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kRead: return "read";
    case Operation::kUpdate: return "update";
    case Operation::kCreate: return "create";
    case Operation::kDelete: return "delete";
    case Operation::kList: return "list";
    case Operation::kPatch: return "patch";
    case Operation::kRevoke: return "revoke";
  }
  return "unknown";
}

namespace {

bool MatchOne(const std::string& pattern, const std::string& path) {
  size_t pi = 0, si = 0;
  while (pi < pattern.size()) {
    if (pattern[pi] == '*' && pi + 1 == pattern.size()) return true;  // prefix match
    if (pattern[pi] == '+') {
      size_t end = path.find('/', si);
      if (end == std::string::npos) end = path.size();
      if (end == si) return false;  // '+' needs a non-empty segment
      si = end;
      ++pi;
      continue;
    }
    if (si >= path.size() || pattern[pi] != path[si]) return false;
    ++pi;
    ++si;
  }
  return si == path.size();
}

}  // namespace

bool MatchesSpecialPath(const std::vector<std::string>& patterns, const std::string& path) {
  for (const auto& p : patterns) {
    if (MatchOne(p, path)) return true;
  }
  return false;
}

}  // namespace pki
