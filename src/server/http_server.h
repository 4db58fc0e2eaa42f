// HttpServer: the plain-HTTP/1.1 listener (Boost.Beast over Asio) that hands each request to a handler.
//
// Threading: one io_context run by N threads; each connection is bound to its own strand, so a connection's
// requests are handled one at a time (HTTP/1.1 keep-alive, no pipelining across threads) while different
// connections are served in parallel. The handler is called on the io threads and must be thread-safe.
// Start, Shutdown and the accessors may be called from any one controlling thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/core/status.h"
#include "src/server/http_message.h"

namespace pki::server {

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 8200;  // 0: any free port (see port())
    int threads = 0;       // 0: the hardware concurrency, at least 2
    size_t max_body_bytes = 32 * 1024 * 1024;               // larger bodies get 413
    std::chrono::seconds idle_timeout{300};                 // a keep-alive connection idle this long is closed
    std::chrono::seconds request_timeout{60};               // reading a body or writing a response
  };

  // Binds, listens and starts the threads. Fails (without throwing) when the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const Options& options, Handler handler);

  // Stops (as Shutdown with a 30 s grace) if still running.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address, "127.0.0.1:8200" ("[::1]:8200" for IPv6), and port.
  std::string address() const;
  uint16_t port() const;
  int threads() const;

  // Stops accepting, closes idle connections, lets requests in flight finish and answers them with
  // "Connection: close", then stops the threads. Connections still busy after `grace` are dropped without an
  // answer once their handler returns. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pki::server
