#include "plugin/vault_http.h"

namespace pki::plugin {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kBadRequest: return 400;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnsupportedOperation: return 405;
    case StatusCode::kTooLarge: return 413;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

std::vector<std::string> VaultErrorTexts(const Status& status) {
  if (status.ok() || status.message().empty()) return {};
  switch (status.code()) {
    case StatusCode::kInternal:
    case StatusCode::kNotFound:
    case StatusCode::kUnsupportedOperation:
      return {"1 error occurred:\n\t* " + status.message() + "\n\n"};
    default:
      return {status.message()};
  }
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace pki::plugin
