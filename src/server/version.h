// The server's version, reported by --version and sys/health.
#pragma once

namespace pki::server {

inline constexpr char kServerVersion[] = "0.1.0";

}  // namespace pki::server
