// A blocking HTTP/1.1 client over one keep-alive connection to 127.0.0.1, for tests that talk to the server's
// listeners as a client would (Beast, no TLS).
#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace pki::testing {

class HttpTestClient {
 public:
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  // `reconnect`: after an answer that closes the connection (or a body the server stopped reading), the next Send
  // connects again. Off, Send then fails: tests of keep-alive see a server that closes when it should not.
  explicit HttpTestClient(uint16_t port, bool reconnect = false) : port_(port), reconnect_(reconnect), stream_(ioc_) {
    Connect();
  }

  // `token`: sent as X-Vault-Token unless empty; `content_type` likewise.
  Response Send(const std::string& method, const std::string& target, const std::string& body,
                const std::string& token, const std::string& content_type = "") {
    namespace http = boost::beast::http;
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set("X-Vault-Token", token);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = body;
    req.prepare_payload();
    if (closed_) Connect();
    // A server may answer before it has read the whole body (a 413) and close: the write then fails, and the
    // answer is still there to read.
    boost::beast::error_code write_error;
    http::write(stream_, req, write_error);
    if (write_error && !reconnect_) throw boost::beast::system_error(write_error);
    Response res;
    http::read(stream_, buffer_, res);
    closed_ = reconnect_ && (write_error || !res.keep_alive());
    return res;
  }

 private:
  void Connect() {
    stream_.close();
    buffer_.clear();
    stream_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_));
    closed_ = false;
  }

  const uint16_t port_;
  const bool reconnect_;
  bool closed_ = false;
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace pki::testing
