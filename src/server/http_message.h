// HttpRequest / HttpResponse: the transport-neutral HTTP exchange between the listener (HttpServer) and the
// Vault API (VaultApi), so that request handling is testable without a socket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pki::server {

struct HttpRequest {
  std::string method;  // as sent: "GET", "LIST", ...
  std::string target;  // origin-form request target: "/v1/pki/roles?list=true"
  // Header fields in arrival order; names are compared case-insensitively.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The peer of the connection ("127.0.0.1", "::1") and its port; empty/0 when not received over a socket.
  std::string remote_address;
  uint16_t remote_port = 0;

  // The first value of header `name` (case-insensitive), or "" when absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // empty: no Content-Type header (e.g. 204)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra header fields
};

}  // namespace pki::server
