#include "src/server/http_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "src/server/server_log.h"

namespace pki::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kHeaderLimitBytes = 64 * 1024;
// How much of a refused body is read beyond the body limit before the connection closes (Go's net/http reads
// 256 KiB past what the handler consumed).
constexpr size_t kDrainSlackBytes = 256 * 1024;
// How much a kept-alive connection reads at once while it waits for the next request.
constexpr size_t kFirstReadBytes = 4096;
// "accept failed" (e.g. out of file descriptors) is logged at most this often per listener.
constexpr std::chrono::seconds kAcceptWarningInterval{5};

std::string FormatEndpoint(const tcp::endpoint& ep) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

// A JSON errors body for the failures the listener answers itself (before any handler).
HttpResponse ListenerError(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = message.empty() ? "{\"errors\":[]}\n" : "{\"errors\":[\"" + message + "\"]}\n";
  return r;
}

int ThreadCount(int requested) {
  return requested > 0 ? requested : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

class Connection;

// Everything the connections of every listener share. Owned by HttpServer::Impl; outlives every Session (the
// io_context, whose pending handlers own the sessions, is destroyed first).
struct ListenerState {
  HttpServer::Handler handler;
  HttpServer::Options options;
  net::thread_pool* workers = nullptr;  // where handlers run (but for run_inline requests); owned by Impl
  std::atomic<bool> stopping{false};
  // Set when the shutdown grace period has run out: queued requests that have not started are dropped unrun.
  std::atomic<bool> abandoned{false};

  std::mutex mu;  // protects `sessions`
  std::condition_variable sessions_done;  // signalled when `sessions` becomes empty
  std::unordered_map<Connection*, std::weak_ptr<Connection>> sessions;  // live connections, guarded by mu

  // Calls the handler; whatever it throws becomes a 500.
  HttpResponse Invoke(const HttpRequest& req) const {
    try {
      return handler(req);
    } catch (const std::exception& e) {
      LogLine(LogLevel::kError, std::string("request handler threw: ") + e.what());
    } catch (...) {
      LogLine(LogLevel::kError, "request handler threw a non-standard exception");
    }
    return ListenerError(500, "internal error");
  }

  bool RunsInline(const HttpRequest& req) const {
    if (!options.run_inline) return false;
    try {
      return options.run_inline(req);
    } catch (...) {
      return false;
    }
  }
};

// A live connection, whatever its stream, as the shutdown sees it.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes the connection unless a request is being handled (that one is answered, then the connection closes).
  virtual void CloseIfIdle() = 0;
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One HTTP/1.1 connection over `Stream` (PlainStream or TlsStream). All its members are touched only on its
// strand.
template <class Stream>
class Session final : public Connection, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  // `tls_context` is null for plain connections; TLS sessions keep it alive (a reload may replace the
  // listener's).
  Session(tcp::socket&& socket, ListenerState* state, const ListenerOptions* listener,
          std::shared_ptr<ssl::context> tls_context)
      : tls_context_(std::move(tls_context)),
        stream_(MakeStream(std::move(socket), tls_context_.get())),
        state_(state),
        listener_(listener) {
    // Once per connection, for the audit log: every request on it comes from the same peer.
    beast::error_code ec;
    tcp::endpoint peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      net::ip::address addr = peer.address();
      if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
        addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
      }
      remote_address_ = addr.to_string();
      remote_port_ = peer.port();
      remote_endpoint_ = FormatEndpoint(tcp::endpoint(addr, remote_port_));
    }
  }

  ~Session() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->sessions.erase(this);
    if (state_->sessions.empty()) state_->sessions_done.notify_all();
  }

  void Run() {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->sessions.emplace(this, std::weak_ptr<Connection>(this->weak_from_this()));
    }
    if constexpr (kTls) {
      net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Handshake, this->shared_from_this()));
    } else {
      net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader, this->shared_from_this()));
    }
  }

  void CloseIfIdle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

 private:
  static Stream MakeStream(tcp::socket&& socket, ssl::context* tls_context) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls_context);
    } else {
      (void)tls_context;
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Handshake() {
    if (state_->stopping.load()) return Close();
    Lowest().expires_after(state_->options.tls_handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      // Scanners, clients without the required certificate and clients that do not trust us end here; Go's
      // net/http logs these too ("http: TLS handshake error from ...").
      // The address saved at the accept: a peer that reset the connection has none any more.
      if (LogEnabled(LogLevel::kDebug)) {
        LogLine(LogLevel::kDebug, "TLS handshake error from " +
                                      (remote_endpoint_.empty() ? std::string("?") : remote_endpoint_) + ": " +
                                      ec.message());
      }
      return Close();
    }
    ReadHeader();
  }

  // Waits for the next request. The first one on a connection (and a pipelined one already buffered) starts at
  // once; on a kept-alive connection the next request may take up to the idle timeout to begin.
  void ReadHeader() {
    busy_ = false;
    if (state_->stopping.load()) return Close();
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(listener_->max_body_bytes);
    if (first_request_ || buffer_.size() > 0) return ReadRequestHeader();
    Lowest().expires_after(listener_->idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();  // idle too long, or the client closed
                              self->buffer_.commit(n);
                              self->ReadRequestHeader();
                            });
  }

  // The request has begun: its headers must be complete within the header timeout, however slowly they come.
  void ReadRequestHeader() {
    first_request_ = false;
    request_start_ = std::chrono::steady_clock::now();
    Lowest().expires_at(request_start_ + listener_->header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, this->shared_from_this()));
  }

  // When reading the body (and writing "100 Continue") must be done: within the read timeout of the request's
  // start and the request timeout from now.
  std::chrono::steady_clock::time_point BodyDeadline() const {
    auto deadline = std::chrono::steady_clock::now() + listener_->request_timeout;
    if (listener_->read_timeout.count() > 0) deadline = std::min(deadline, request_start_ + listener_->read_timeout);
    return deadline;
  }

  void OnHeader(beast::error_code ec, size_t) {
    // The parser refuses a Content-Length above the body limit as soon as it has the header. A client that asked
    // "Expect: 100-continue" sends no body now; any other is sending it, and gets the answer after it (Drain).
    if (ec == http::error::body_limit) {
      if (!beast::iequals(parser_->get()[http::field::expect], "100-continue")) StartDrainAfterAnswer();
      return Send(ListenerError(413, "http: request body too large"), true);
    }
    if (ec) return OnReadError(ec);
    busy_ = true;
    version_ = parser_->get().version();
    head_ = parser_->get().method() == http::verb::head;
    auto expect = parser_->get()[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     parser_->get().version());
      Lowest().expires_at(BodyDeadline());
      http::async_write(stream_, *cont, [self = this->shared_from_this(), cont](beast::error_code wec, size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Lowest().expires_at(BodyDeadline());
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, this->shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) {
      StartDrainAfterAnswer();
      return Send(ListenerError(413, "http: request body too large"), true);
    }
    if (ec) return OnReadError(ec);
    http::request<http::string_body> req = parser_->release();
    HttpRequest hreq;
    hreq.method = std::string(req.method_string());
    hreq.target = std::string(req.target());
    for (const auto& field : req) hreq.headers.emplace_back(std::string(field.name_string()), field.value());
    hreq.body = std::move(req.body());
    hreq.remote_address = remote_address_;
    hreq.remote_port = remote_port_;
    const bool close = !req.keep_alive();

    if (state_->RunsInline(hreq)) return Send(state_->Invoke(hreq), close);
    // The connection stays busy_ (and reads nothing) until the worker hands the response back to its strand.
    net::post(*state_->workers, [self = this->shared_from_this(), hreq = std::move(hreq), close]() mutable {
      if (self->state_->abandoned.load()) return;  // nobody will read the answer: do not do the work
      HttpResponse res = self->state_->Invoke(hreq);
      net::post(self->stream_.get_executor(), [self, res = std::move(res), close]() mutable {
        self->Send(std::move(res), close);
      });
    });
  }

  void OnReadError(beast::error_code ec) {
    // A malformed request gets a 400 before the connection closes; a closed, timed-out or aborted one does not.
    const bool parse_error = ec.category() == http::make_error_code(http::error::bad_method).category();
    if (parse_error && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      int status = ec == http::error::header_limit ? 431 : 400;
      return Send(ListenerError(status, ""), true);
    }
    Close();
  }

  void Send(HttpResponse res, bool close) {
    busy_ = true;
    if (state_->stopping.load()) close = true;
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(version_);
    msg->result(static_cast<unsigned>(res.status));
    if (!res.content_type.empty()) msg->set(http::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) msg->insert(name, value);
    msg->keep_alive(!close);
    if (res.status == 204 || res.status == 304 || res.status < 200) {
      // No body and, as Go's net/http, no Content-Length either.
    } else {
      if (!head_) msg->body() = std::move(res.body);
      msg->prepare_payload();
    }
    std::chrono::milliseconds write_for = listener_->request_timeout;
    if (listener_->write_timeout.count() > 0) write_for = std::min(write_for, listener_->write_timeout);
    Lowest().expires_after(write_for);
    http::async_write(stream_, *msg, [self = this->shared_from_this(), msg, close](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (close && self->drain_budget_ > 0) return self->Drain();
      if (close) return self->CloseAfterResponse();
      self->ReadHeader();
    });
  }

  // After a 413 the rest of the body is read and discarded (up to the body limit and 256 KiB more, within the
  // request timeout) before the connection closes, as Go's net/http does. A client that writes its whole body
  // before reading (requests, hvac) then gets the 413 when its body exceeds the limit by less than that slack;
  // with a larger body (or a slower one) the connection is closed with data unread, and such a client may see a
  // reset connection instead of the answer.
  void StartDrainAfterAnswer() {
    drain_budget_ = listener_->max_body_bytes + kDrainSlackBytes;
    drain_started_ = false;
  }

  void Drain() {
    if (!drain_started_) {
      drain_started_ = true;
      Lowest().expires_after(listener_->request_timeout);
    }
    const size_t buffered = buffer_.size();
    buffer_.consume(buffered);
    drain_budget_ = buffered >= drain_budget_ ? 0 : drain_budget_ - buffered;
    if (drain_budget_ == 0 || state_->stopping.load()) {
      drain_budget_ = 0;
      return CloseAfterResponse();
    }
    stream_.async_read_some(buffer_.prepare(std::min<size_t>(drain_budget_, 64 * 1024)),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();  // the client is done (or gone)
                              self->buffer_.commit(n);
                              self->Drain();
                            });
  }

  // After a last response: TLS exchanges close_notify first (bounded by the handshake timeout), so that the
  // client can tell the end of the connection from a truncation. Not while the server stops: a client that keeps
  // the connection open must not hold up the shutdown (it has the whole response; its length is in the header).
  void CloseAfterResponse() {
    if constexpr (kTls) {
      if (!state_->stopping.load()) {
        Lowest().expires_after(state_->options.tls_handshake_timeout);
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->Close(); });
        return;
      }
    }
    Close();
  }

  void Close() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    Lowest().socket().close(ec);
  }

  std::shared_ptr<ssl::context> tls_context_;  // declared before stream_, which is built from it
  Stream stream_;
  ListenerState* const state_;
  const ListenerOptions* const listener_;  // owned by Impl, outlives the session
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  unsigned version_ = 11;
  bool head_ = false;
  bool busy_ = false;  // a request has been read and its response is not yet written
  std::string remote_address_;  // the peer, set at construction
  uint16_t remote_port_ = 0;
  std::string remote_endpoint_;  // "address:port" for log lines; empty when the peer was unknown at the accept
  bool first_request_ = true;    // no request read yet: its header timeout runs from the accept or handshake
  std::chrono::steady_clock::time_point request_start_{};  // when the current request began (see ReadRequestHeader)
  size_t drain_budget_ = 0;     // > 0: discard this many more request bytes after the answer (see Drain)
  bool drain_started_ = false;
};

// The most recent OpenSSL error as text, and the error queue cleared.
std::string OpenSslReason() {
  unsigned long code = ERR_peek_last_error();
  std::string reason;
  if (code != 0) {
    const char* r = ERR_reason_error_string(code);
    reason = r != nullptr ? r : "error " + std::to_string(code);
  } else {
    reason = "unknown error";
  }
  ERR_clear_error();
  return reason;
}

// Whether `path` can be opened for reading; a message naming `what` and the path otherwise.
Status CheckReadable(const char* what, const std::string& path) {
  if (path.empty()) return Status::BadRequest(std::string(what) + " is not set");
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::BadRequest(std::string(what) + " " + path + ": " + std::strerror(errno));
  std::fclose(f);
  return Status::Ok();
}

int SelectHttp11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                 void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // no ALPN: the client falls back to HTTP/1.1
}

// A server TLS context from a listener's files. Messages name the files and OpenSSL's reason, never key bytes.
Result<std::shared_ptr<ssl::context>> BuildTlsContext(const ListenerTls& tls) {
  int min_version = 0;
  if (tls.min_version == "tls12" || tls.min_version.empty()) {
    min_version = TLS1_2_VERSION;
  } else if (tls.min_version == "tls13") {
    min_version = TLS1_3_VERSION;
  } else {
    return Status::BadRequest("tls_min_version \"" + tls.min_version + "\" is not supported: use tls12 or tls13");
  }
  if (tls.require_client_cert && tls.client_ca_file.empty()) {
    return Status::BadRequest("tls_require_and_verify_client_cert needs tls_client_ca_file");
  }
  RETURN_IF_ERROR(CheckReadable("tls_cert_file", tls.cert_file));
  RETURN_IF_ERROR(CheckReadable("tls_key_file", tls.key_file));
  if (!tls.client_ca_file.empty()) RETURN_IF_ERROR(CheckReadable("tls_client_ca_file", tls.client_ca_file));

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  ERR_clear_error();
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(ctx, min_version);
  // An encrypted key fails to load instead of prompting on the terminal.
  SSL_CTX_set_default_passwd_cb(ctx, [](char*, int, int, void*) { return 0; });
  SSL_CTX_set_alpn_select_cb(ctx, &SelectHttp11, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    return Status::BadRequest("tls_cert_file " + tls.cert_file + ": cannot load a PEM certificate: " + OpenSslReason());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const int reason = ERR_GET_REASON(ERR_peek_last_error());
    if (reason == X509_R_KEY_VALUES_MISMATCH || reason == X509_R_KEY_TYPE_MISMATCH) {
      ERR_clear_error();
      return Status::BadRequest("tls_key_file " + tls.key_file + " does not match the certificate in tls_cert_file " +
                                tls.cert_file);
    }
    return Status::BadRequest("tls_key_file " + tls.key_file + ": cannot load an unencrypted PEM private key: " +
                              OpenSslReason());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status::BadRequest("tls_key_file " + tls.key_file + " does not match the certificate in tls_cert_file " +
                              tls.cert_file);
  }
  if (X509* leaf = SSL_CTX_get0_certificate(ctx); leaf != nullptr) {
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
      LogLine(LogLevel::kWarn, "the certificate in tls_cert_file " + tls.cert_file + " has expired");
    }
  }
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, tls.client_ca_file.c_str(), nullptr) != 1) {
      return Status::BadRequest("tls_client_ca_file " + tls.client_ca_file + ": cannot load PEM certificates: " +
                                OpenSslReason());
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr) {
      return Status::BadRequest("tls_client_ca_file " + tls.client_ca_file + ": no certificate in it: " +
                                OpenSslReason());
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    int mode = SSL_VERIFY_PEER;
    if (tls.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
    // Session resumption with client verification needs a context id.
    static const unsigned char kSessionContext[] = "pki-server";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  }
  ERR_clear_error();
  return context;
}

// One listening socket and its settings.
struct Listener {
  Listener(ListenerOptions o, net::io_context& ioc)
      : options(std::move(o)), acceptor(net::make_strand(ioc)), retry_timer(acceptor.get_executor()) {}

  std::shared_ptr<ssl::context> CurrentTlsContext() const {
    std::lock_guard<std::mutex> lock(tls_mu);
    return tls_context;
  }

  const ListenerOptions options;
  tcp::acceptor acceptor;          // used only on its strand once Run() started
  net::steady_timer retry_timer;   // on the acceptor's strand
  tcp::endpoint bound;             // set by Listen, then immutable
  LogThrottle accept_warnings{kAcceptWarningInterval};  // on the acceptor's strand
  mutable std::mutex tls_mu;
  std::shared_ptr<ssl::context> tls_context;  // guarded by tls_mu; null for plain listeners
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(const Options& options)
      : thread_count_(ThreadCount(options.threads)),
        worker_count_(ThreadCount(options.worker_threads)),
        ioc_(thread_count_),
        io_work_(ioc_.get_executor()),
        workers_(static_cast<size_t>(worker_count_)) {
    state_.options = options;
    state_.workers = &workers_;
    std::vector<ListenerOptions> wanted = options.listeners;
    if (wanted.empty()) {
      ListenerOptions only;
      only.host = options.host;
      only.port = options.port;
      only.max_body_bytes = options.max_body_bytes;
      only.request_timeout = options.request_timeout;
      only.header_timeout = options.header_timeout;
      only.read_timeout = options.read_timeout;
      only.write_timeout = options.write_timeout;
      only.idle_timeout = options.idle_timeout;
      wanted.push_back(std::move(only));
    }
    for (auto& l : wanted) listeners_.push_back(std::make_unique<Listener>(std::move(l), ioc_));
  }

  ~Impl() { Shutdown(std::chrono::seconds(30)); }

  // Every TLS context first (so that a bad file fails before any port is taken), then every socket.
  Status Listen() {
    for (auto& l : listeners_) {
      if (!l->options.tls) continue;
      auto context = BuildTlsContext(*l->options.tls);
      if (!context.ok()) return context.status().Annotate("listener " + Describe(*l));
      l->tls_context = std::move(context).value();
    }
    for (auto& l : listeners_) RETURN_IF_ERROR(Bind(*l));
    return Status::Ok();
  }

  Status ReloadTls() {
    std::vector<std::shared_ptr<ssl::context>> fresh(listeners_.size());
    for (size_t i = 0; i < listeners_.size(); ++i) {
      if (!listeners_[i]->options.tls) continue;
      auto context = BuildTlsContext(*listeners_[i]->options.tls);
      if (!context.ok()) return context.status().Annotate("listener " + Describe(*listeners_[i]));
      fresh[i] = std::move(context).value();
    }
    for (size_t i = 0; i < listeners_.size(); ++i) {
      if (!fresh[i]) continue;
      std::lock_guard<std::mutex> lock(listeners_[i]->tls_mu);
      listeners_[i]->tls_context = std::move(fresh[i]);
    }
    return Status::Ok();
  }

  // The handler is set before any thread starts (the threads and the workers see it through the thread start).
  void Run(Handler handler) {
    if (shut_down_ || running_) return;
    running_ = true;
    state_.handler = std::move(handler);
    for (auto& l : listeners_) Accept(*l);
    threads_.reserve(thread_count_);
    for (int i = 0; i < thread_count_; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void Shutdown(std::chrono::milliseconds grace) {
    if (shut_down_) return;
    shut_down_ = true;
    state_.stopping.store(true);
    for (auto& l : listeners_) {
      if (!running_) {
        // Never served: no thread touches the acceptor; free the port now.
        beast::error_code ec;
        l->acceptor.close(ec);
        continue;
      }
      net::post(l->acceptor.get_executor(), [listener = l.get()] {
        beast::error_code ec;
        listener->retry_timer.cancel();
        listener->acceptor.close(ec);
      });
    }
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard<std::mutex> lock(state_.mu);
      for (auto& [ptr, weak] : state_.sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->CloseIfIdle();
    live.clear();  // outside the lock: dropping the last reference runs ~Session, which takes the lock
    {
      std::unique_lock<std::mutex> lock(state_.mu);
      state_.sessions_done.wait_for(lock, grace, [this] { return state_.sessions.empty(); });
      if (!state_.sessions.empty()) {
        LogLine(LogLevel::kWarn, "shutdown: abandoning " + std::to_string(state_.sessions.size()) +
                                     " connection(s) still busy after the grace period");
      }
    }
    state_.abandoned.store(true);
    io_work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    // Handlers already running when the grace ran out finish (queued ones are skipped: `abandoned`); the
    // responses they post to the stopped io_context are never written, and their sessions are destroyed with it.
    workers_.join();
  }

  size_t listener_count() const { return listeners_.size(); }
  const Listener& listener(size_t i) const { return *listeners_.at(i); }
  int threads() const { return thread_count_; }
  int worker_threads() const { return worker_count_; }

 private:
  static std::string Describe(const Listener& l) {
    std::string host = l.options.host.find(':') != std::string::npos ? "[" + l.options.host + "]" : l.options.host;
    return host + ":" + std::to_string(l.options.port);
  }

  Status Bind(Listener& l) {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(l.options.host, std::to_string(l.options.port), tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      return Status::BadRequest("cannot resolve listen address " + l.options.host + ": " + ec.message());
    }
    tcp::endpoint endpoint = results.begin()->endpoint();
    l.acceptor.open(endpoint.protocol(), ec);
    if (!ec) l.acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) l.acceptor.bind(endpoint, ec);
    if (!ec) l.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Internal("cannot listen on " + FormatEndpoint(endpoint) + ": " + ec.message());
    }
    l.bound = l.acceptor.local_endpoint(ec);
    return Status::Ok();
  }

  void Accept(Listener& l) {
    l.acceptor.async_accept(net::make_strand(ioc_), [this, &l](beast::error_code ec, tcp::socket socket) {
      if (state_.stopping.load() || ec == net::error::operation_aborted) return;
      if (ec) {
        // E.g. out of file descriptors: wait a little instead of spinning, and do not flood the log.
        uint64_t suppressed = 0;
        if (l.accept_warnings.Allow(std::chrono::steady_clock::now(), &suppressed)) {
          std::string line = "accept failed on " + FormatEndpoint(l.bound) + ": " + ec.message();
          if (suppressed > 0) line += " (and " + std::to_string(suppressed) + " more times since the last warning)";
          LogLine(LogLevel::kWarn, line);
        }
        l.retry_timer.expires_after(std::chrono::milliseconds(100));
        l.retry_timer.async_wait([this, &l](beast::error_code tec) {
          if (!tec && !state_.stopping.load()) Accept(l);
        });
        return;
      }
      if (l.options.tls) {
        std::make_shared<Session<TlsStream>>(std::move(socket), &state_, &l.options, l.CurrentTlsContext())->Run();
      } else {
        std::make_shared<Session<PlainStream>>(std::move(socket), &state_, &l.options, nullptr)->Run();
      }
      Accept(l);
    });
  }

  const int thread_count_;
  const int worker_count_;
  ListenerState state_;  // declared before ioc_: outlives it, whose destruction destroys pending sessions
  net::io_context ioc_;
  // Declared after ioc_ (their acceptors and timers use it) and before nothing that outlives it.
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::thread> threads_;
  // Keeps the I/O threads running while every connection waits for a worker (during shutdown nothing else may be
  // pending on the io_context: the acceptors are closed), so that the responses workers post are written.
  net::executor_work_guard<net::io_context::executor_type> io_work_;
  // Declared after ioc_, so destroyed (already joined) before it: a worker may post to the io_context until then.
  net::thread_pool workers_;
  bool shut_down_ = false;  // touched only by the controlling thread
  bool running_ = false;    // Run was called; touched only by the controlling thread
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(const Options& options) {
  auto impl = std::make_unique<Impl>(options);
  RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Serve(Handler handler) { impl_->Run(std::move(handler)); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const Options& options, Handler handler) {
  ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server, Listen(options));
  server->Serve(std::move(handler));
  return server;
}

std::string HttpServer::address() const { return address(0); }
uint16_t HttpServer::port() const { return port(0); }
size_t HttpServer::listener_count() const { return impl_->listener_count(); }
std::string HttpServer::address(size_t listener) const { return FormatEndpoint(impl_->listener(listener).bound); }
uint16_t HttpServer::port(size_t listener) const { return impl_->listener(listener).bound.port(); }
bool HttpServer::tls(size_t listener) const { return impl_->listener(listener).options.tls.has_value(); }
int HttpServer::threads() const { return impl_->threads(); }
int HttpServer::worker_threads() const { return impl_->worker_threads(); }
Status HttpServer::ReloadTls() { return impl_->ReloadTls(); }
void HttpServer::Shutdown(std::chrono::milliseconds grace) { impl_->Shutdown(grace); }

}  // namespace pki::server
