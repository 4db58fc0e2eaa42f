// go-plugin's process handshake, plugin side: the magic cookie, the protocol version chosen from what the host
// offers, the address to listen on, and the one line printed on stdout that tells the host where to connect.
#pragma once

#include <string>

#include "src/core/status.h"

namespace pki::plugin {

// Vault's handshake for backend plugins (sdk/plugin/serve.go HandshakeConfig), shared by OpenBao.
inline constexpr char kMagicCookieKey[] = "VAULT_BACKEND_PLUGIN";
inline constexpr char kMagicCookieValue[] = "6669da05-b1c8-4f49-97d9-c8e5bed98e20";
inline constexpr int kCoreProtocolVersion = 1;
// Vault's v5 backend protocol: gRPC with AutoMTLS.
inline constexpr int kAppProtocolVersion = 5;

// Whether the environment carries the magic cookie.
bool HasMagicCookie(const char* value);

// Picks the app protocol version from PLUGIN_PROTOCOL_VERSIONS ("5", "3,4,5"): the highest we serve. An absent
// variable means the host predates version negotiation and gets 5.
Result<int> NegotiateProtocolVersion(const char* offered);

// `CORE|APP|NETWORK|ADDRESS|grpc|CERT` with the certificate's DER in RawStdEncoding (empty without AutoMTLS).
std::string HandshakeLine(int app_version, const std::string& network, const std::string& address,
                          const std::string& cert_der);

// A fresh private directory (0700) for the listening socket, in PLUGIN_UNIX_SOCKET_DIR, else TMPDIR, else /tmp.
Result<std::string> MakeSocketDir(const char* socket_dir_env, const char* tmpdir_env);

}  // namespace pki::plugin
