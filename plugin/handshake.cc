#include "plugin/handshake.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "plugin/automtls.h"

namespace pki::plugin {

bool HasMagicCookie(const char* value) { return value != nullptr && std::string_view(value) == kMagicCookieValue; }

Result<int> NegotiateProtocolVersion(const char* offered) {
  if (offered == nullptr || *offered == '\0') return kAppProtocolVersion;
  std::string_view rest(offered);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "5") return kAppProtocolVersion;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return Status::BadRequest("incompatible API version with plugin: the host offers protocol versions \"" +
                            std::string(offered) + "\" and this plugin speaks 5");
}

std::string HandshakeLine(int app_version, const std::string& network, const std::string& address,
                          const std::string& cert_der) {
  return std::to_string(kCoreProtocolVersion) + "|" + std::to_string(app_version) + "|" + network + "|" + address +
         "|grpc|" + (cert_der.empty() ? std::string() : RawBase64(cert_der));
}

Result<std::string> MakeSocketDir(const char* socket_dir_env, const char* tmpdir_env) {
  std::string base = "/tmp";
  if (socket_dir_env != nullptr && *socket_dir_env != '\0') {
    base = socket_dir_env;
  } else if (tmpdir_env != nullptr && *tmpdir_env != '\0') {
    base = tmpdir_env;
  }
  std::string templ = base + "/pki-plugin-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return Status::Internal("cannot create a socket directory in " + base + ": " + std::strerror(errno));
  }
  return templ;
}

}  // namespace pki::plugin
