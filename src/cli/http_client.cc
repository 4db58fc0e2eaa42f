#include "src/cli/http_client.h"

#include <curl/curl.h>

namespace pki::cli {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(TlsOptions tls) : tls_(std::move(tls)) { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlTransport() override { curl_global_cleanup(); }

  Result<HttpResponse> Send(const HttpRequest& req) override {
    CURL* curl = curl_easy_init();
    if (!curl) return Status::Internal("could not initialise libcurl");
    HttpResponse out;
    curl_slist* headers = nullptr;
    if (!req.token.empty()) headers = curl_slist_append(headers, ("X-Vault-Token: " + req.token).c_str());
    if (!req.body.empty()) headers = curl_slist_append(headers, ("Content-Type: " + req.content_type).c_str());
    curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (!req.body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    // http(s) only; redirects (a standby pointing at the active node) followed with the method and body kept,
    // never from https down to http.
    const bool https = req.url.rfind("https://", 0) == 0;
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, https ? "https" : "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(curl, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);
    // As vault's api client: a CA file replaces the system's trust store, else a CA directory does.
    if (!tls_.ca_cert.empty()) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, tls_.ca_cert.c_str());
    } else if (!tls_.ca_path.empty()) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, nullptr);
      curl_easy_setopt(curl, CURLOPT_CAPATH, tls_.ca_path.c_str());
    }
    if (!tls_.client_cert.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT, tls_.client_cert.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (!tls_.client_key.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLKEY, tls_.client_key.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (tls_.skip_verify) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) return Status::Internal(std::string(curl_easy_strerror(rc)));
    return out;
  }

 private:
  TlsOptions tls_;
};

}  // namespace

std::unique_ptr<HttpTransport> NewCurlTransport(const TlsOptions& tls) {
  return std::make_unique<CurlTransport>(tls);
}

}  // namespace pki::cli
