// The HTTP side of pkictl: one request to a Vault-compatible API (libcurl: any method, including LIST; TLS with
// a CA file or directory, a client certificate, or verification off).
#pragma once

#include <memory>
#include <string>

#include "src/core/status.h"

namespace pki::cli {

struct HttpRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE, LIST
  std::string url;
  std::string token;   // X-Vault-Token; empty: none
  std::string body;    // JSON; empty: none
  std::string content_type = "application/json";
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

struct TlsOptions {
  std::string ca_cert;       // VAULT_CACERT / -ca-cert: PEM file of trusted CAs; empty: the system's
  std::string ca_path;       // VAULT_CAPATH / -ca-path: directory of trusted CAs (hashed, c_rehash); ca_cert wins
  std::string client_cert;   // VAULT_CLIENT_CERT / -client-cert: PEM client certificate for TLS authentication
  std::string client_key;    // VAULT_CLIENT_KEY / -client-key: its PEM private key
  bool skip_verify = false;  // VAULT_SKIP_VERIFY / -tls-skip-verify
};

// Sends requests; an implementation is injectable so the command logic is testable without a server.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // A transport failure (connection refused, TLS) is an error; any HTTP status is a response.
  virtual Result<HttpResponse> Send(const HttpRequest& req) = 0;
};

std::unique_ptr<HttpTransport> NewCurlTransport(const TlsOptions& tls);

}  // namespace pki::cli
