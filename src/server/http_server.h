// HttpServer: the HTTP/1.1 listeners (Boost.Beast over Asio), plain or TLS (Asio's OpenSSL streams), that hand
// each request to one handler.
//
// Threading:
//  - I/O: one io_context run by `threads` threads, shared by every listener. Each connection is bound to its own
//    strand; all socket work (accept, TLS handshake, read, write, timers) and the connection's state live there,
//    and never block.
//  - Handlers: a separate worker pool (boost::asio::thread_pool, `worker_threads` threads). When a request has
//    been read, the connection posts the handler call to the pool and stays idle (it reads nothing more); the
//    worker posts the response back to the connection's strand, which writes it and only then reads the next
//    request. So a connection's requests are handled one at a time and answered in order (HTTP/1.1 keep-alive,
//    pipelined requests included), different connections are handled in parallel, and a slow handler (RSA-8192
//    key generation takes seconds) occupies a worker, never an I/O thread.
//  - Requests for which `run_inline` returns true (cheap, non-blocking ones such as health checks) are handled
//    directly on the I/O thread, so they stay fast even when every worker is busy.
//  The handler is called concurrently from the workers and the I/O threads and must be thread-safe; an exception
//  escaping it becomes a 500.
//  TLS and plain connections share one connection implementation (a template over the stream type): the same
//  keep-alive, limits, timeouts and shutdown; a TLS connection first completes its handshake within
//  `tls_handshake_timeout`, and closes with a TLS close_notify after its last response.
//  Timeouts (per listener, ListenerOptions): a request's headers must arrive within `header_timeout` of its start
//  (the accept, the end of the TLS handshake, or on a kept-alive connection its first byte, which may take up to
//  `idle_timeout`), so a client trickling header bytes cannot hold a connection; the body must follow within
//  `read_timeout` of that start and `request_timeout`; a response must be written within `write_timeout` (if
//  set) and `request_timeout`.
//  Shutdown: stop accepting, close idle connections, let requests in flight (reading, in a worker, or writing)
//  finish and answer them with "Connection: close", then stop the I/O threads and join the workers.
// Listen, Serve, Start, ReloadTls, Shutdown and the accessors may be called from any one controlling thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/server/http_message.h"

namespace pki::server {

// A listener's TLS settings. The files are read when the server starts (and on HttpServer::ReloadTls).
struct ListenerTls {
  std::string cert_file;       // PEM: the server certificate, then any intermediates
  std::string key_file;        // PEM: its private key, unencrypted
  std::string client_ca_file;  // PEM: CAs for client certificates; empty: clients are not asked for one
  // true: refuse clients without a certificate that verifies against client_ca_file (required then). false with
  // a client_ca_file: a certificate is asked for, and one that does not verify is refused; none is fine.
  bool require_client_cert = false;
  std::string min_version = "tls12";  // "tls12" or "tls13"
};

// One address to listen on, with its per-connection limits (Vault's listener keys; docs/deploy.md).
struct ListenerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8200;               // 0: any free port (see HttpServer::port(i))
  std::optional<ListenerTls> tls;     // nullopt: plain HTTP
  size_t max_body_bytes = 32 * 1024 * 1024;            // larger bodies get 413
  // max_request_duration: an upper bound on reading a body and, separately, on writing a response.
  std::chrono::milliseconds request_timeout{60'000};
  // http_read_header_timeout: a request's headers must be complete within this, counted from the accept (plain),
  // the end of the TLS handshake, or (on a kept-alive connection) the next request's first byte. Positive.
  std::chrono::milliseconds header_timeout{10'000};
  // http_read_timeout: the whole request, headers and body, must be read within this, counted from the same
  // start. 0: only request_timeout bounds the body.
  std::chrono::milliseconds read_timeout{30'000};
  // http_write_timeout: writing a response must finish within this (the handler's own time does not count).
  // 0: only request_timeout bounds it.
  std::chrono::milliseconds write_timeout{0};
  // http_idle_timeout: a kept-alive connection waits this long for the first byte of its next request. Positive.
  std::chrono::milliseconds idle_timeout{300'000};
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  struct Options {
    // Where to listen. Empty: one plain listener on host:port with the limits below.
    std::vector<ListenerOptions> listeners;
    std::string host = "127.0.0.1";
    uint16_t port = 8200;  // 0: any free port (see port())
    int threads = 0;         // I/O threads; 0: the hardware concurrency, at least 2
    int worker_threads = 0;  // handler threads; 0: the hardware concurrency, at least 2
    // Requests for which this returns true are handled on the I/O thread without going through the workers. It
    // and the handler must then be cheap and never block. Empty: every request goes to a worker.
    std::function<bool(const HttpRequest&)> run_inline;
    // The single listener's limits when `listeners` is empty (see ListenerOptions for their meaning).
    size_t max_body_bytes = 32 * 1024 * 1024;
    std::chrono::milliseconds request_timeout{60'000};
    std::chrono::milliseconds header_timeout{10'000};
    std::chrono::milliseconds read_timeout{30'000};
    std::chrono::milliseconds write_timeout{0};
    std::chrono::milliseconds idle_timeout{300'000};
    // A TLS client must finish its handshake within this (on every listener).
    std::chrono::milliseconds tls_handshake_timeout{10'000};
  };

  // Reads the TLS certificates and keys, binds and listens, but accepts nothing yet: connections wait in the
  // kernel's backlog until Serve. Fails (without throwing) when an address cannot be bound or a certificate, key
  // or CA file cannot be used (the message names the file, never key material). So a caller can check its
  // listeners before it changes anything else, and serve once it is ready.
  static Result<std::unique_ptr<HttpServer>> Listen(const Options& options);

  // Starts the I/O threads and serves every listener with `handler`. Once, after Listen; nothing after Shutdown.
  void Serve(Handler handler);

  // Listen, then Serve.
  static Result<std::unique_ptr<HttpServer>> Start(const Options& options, Handler handler);

  // Stops (as Shutdown with a 30 s grace) if still running.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The first listener's bound address, "127.0.0.1:8200" ("[::1]:8200" for IPv6), and port.
  std::string address() const;
  uint16_t port() const;
  // Every listener's, in the order of Options::listeners.
  size_t listener_count() const;
  std::string address(size_t listener) const;
  uint16_t port(size_t listener) const;
  bool tls(size_t listener) const;
  int threads() const;         // I/O threads (started by Serve)
  int worker_threads() const;  // handler threads

  // Reads every TLS listener's certificate, key and client CA files again; connections accepted afterwards use
  // them. On any failure nothing changes and the first error is returned.
  Status ReloadTls();

  // Stops accepting, closes idle connections, lets requests in flight finish and answers them with
  // "Connection: close", then stops the I/O threads and joins the workers. Connections still busy after `grace`
  // are dropped without an answer; Shutdown still waits for their handlers to return. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pki::server
