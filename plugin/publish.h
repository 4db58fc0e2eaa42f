// The publication listener: the mount option publish_address=HOST:PORT makes the plugin serve the mount's CRLs,
// CA certificate and OCSP responder itself, over plain HTTP, for relying parties that should not (or cannot) reach
// the secrets manager:
//
//   GET  /crl             the engine's `crl`        (DER, application/pkix-crl)
//   GET  /crl/delta       the engine's `crl/delta`
//   GET  /ca              the engine's `ca`         (DER)
//   GET  /ocsp/<base64>   the engine's `ocsp/<base64>` read (RFC 6960 appendix A.1; %XX decoded first)
//   POST /ocsp            the engine's `ocsp` update, the body (a DER OCSPRequest) base64 under "http_raw_body"
//
// Each answer carries the same status, content type, bytes (and the engine's Cache-Control, if any) as the same
// path on the host's API. Another path is
// 404; another method on a listed path, or a method other than GET and POST, is 405. No token is asked for: the
// engine serves these paths unauthenticated anyway. Served with the API server's Boost.Beast listener
// (src/server/http_server.h): HTTP/1.1 keep-alive on non-blocking I/O threads, one per core, which answer OCSP and the
// CA themselves (a cache lookup, or one signature); CRLs, which may be megabytes read from storage, go to a few
// worker threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "src/core/status.h"
#include "src/engine/request.h"

namespace pki::server {
class HttpServer;
}

namespace pki::plugin {

// A parsed publish_address: "HOST:PORT", "[IPv6]:PORT". Port 0 asks the system for a free port (tests).
struct PublishAddress {
  std::string host;
  int port = 0;
  std::string ToString() const;
};

Result<PublishAddress> ParsePublishAddress(std::string_view text);

// One HTTP answer of the listener.
struct PublishedReply {
  int status = 200;
  std::string content_type;  // empty when there is no body (204)
  std::string body;
  std::string cache_control;  // the engine's Cache-Control for a raw answer (OCSP); empty: no header
};

// What the listener answers to `method` on `target` (the raw request target, query included) with `body`, asking
// `engine`. Pure apart from the engine call, so tests reach the routing without a socket. Thread-safe as the
// engine is.
PublishedReply ServePublication(LogicalBackend& engine, std::string_view method, std::string_view target,
                                const std::string& body);

// The listener. Start binds and serves until Stop (or destruction). Stop returns once no request is inside the
// engine and none will enter it again, so the engine may be destroyed right after; the engine must outlive Stop.
// Start and Stop are called from one thread at a time (BackendService calls them under its exclusive lock);
// requests are served on the listener's own threads and never take BackendService's lock, so stopping under that
// lock cannot deadlock with a request in flight. A client still sending its request when Stop begins has a grace of
// a few seconds to finish it (it is then answered 503: the engine is no longer entered); after that its connection
// is dropped unanswered.
class Publisher {
 public:
  // `local_storage`: the engine's storage is in this process (RocksDB), so that OCSP and /ca, a few point reads and
  // at most one signature, are answered on the listener's I/O threads. With the host's storage every read is a
  // round trip to the host, and they go to the workers like CRLs, so a slow host cannot stall the listener.
  Publisher(LogicalBackend* engine, PublishAddress address, bool local_storage);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Binds the address and starts serving. Fails, serving nothing, when the address cannot be bound (in use, not
  // local, unresolvable); the message names the address and the reason.
  Status Start();
  // Stops accepting, waits for requests inside the engine to finish, and answers 503 to any that would enter it
  // later. Idempotent.
  void Stop();

  // The bound port (the chosen one when the address asked for port 0); 0 before Start.
  int port() const { return port_; }

  struct Shared;  // what the serving threads share with the Publisher (the engine gate)

 private:
  const PublishAddress address_;
  const bool local_storage_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<server::HttpServer> server_;  // set by a successful Start; shut down by Stop
  int port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace pki::plugin
