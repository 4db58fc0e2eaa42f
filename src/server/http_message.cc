#include "src/server/http_message.h"

#include "src/core/text.h"

namespace pki::server {

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualFoldAscii(k, name)) return v;
  }
  return {};
}

}  // namespace pki::server
