#include "src/server/http_server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "src/server/server_log.h"

namespace pki::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kHeaderLimitBytes = 64 * 1024;

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

}  // namespace

class Session;

// Everything the connections share. Owned by HttpServer::Impl; outlives every Session (the io_context, whose
// pending handlers own the sessions, is destroyed first).
struct ListenerState {
  HttpServer::Handler handler;
  HttpServer::Options options;
  net::thread_pool* workers = nullptr;  // where handlers run (but for run_inline requests); owned by Impl
  std::atomic<bool> stopping{false};
  // Set when the shutdown grace period has run out: queued requests that have not started are dropped unrun.
  std::atomic<bool> abandoned{false};

  std::mutex mu;  // protects `sessions`
  std::condition_variable sessions_done;  // signalled when `sessions` becomes empty
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // live connections, guarded by mu

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

// One HTTP/1.1 connection. All its members are touched only on its strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ListenerState* state) : stream_(std::move(socket)), state_(state) {
    // Once per connection, for the audit log: every request on it comes from the same peer.
    beast::error_code ec;
    tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      net::ip::address addr = peer.address();
      if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
        addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
      }
      remote_address_ = addr.to_string();
      remote_port_ = peer.port();
    }
  }

  ~Session() {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->sessions.erase(this);
    if (state_->sessions.empty()) state_->sessions_done.notify_all();
  }

  void Run() {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->sessions.emplace(this, weak_from_this());
    }
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }

  // Closes the connection unless a request is being handled (that one is answered, then the connection closes).
  void CloseIfIdle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

 private:
  void ReadHeader() {
    busy_ = false;
    if (state_->stopping.load()) return Close();
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(state_->options.max_body_bytes);
    stream_.expires_after(state_->options.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    // The parser refuses a Content-Length above the body limit as soon as it has the header.
    if (ec == http::error::body_limit) return Send(ListenerError(413, "http: request body too large"), true);
    if (ec) return OnReadError(ec);
    busy_ = true;
    version_ = parser_->get().version();
    head_ = parser_->get().method() == http::verb::head;
    auto expect = parser_->get()[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     parser_->get().version());
      stream_.expires_after(state_->options.request_timeout);
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(state_->options.request_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) return Send(ListenerError(413, "http: request body too large"), true);
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
    net::post(*state_->workers, [self = shared_from_this(), hreq = std::move(hreq), close]() mutable {
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
    stream_.expires_after(state_->options.request_timeout);
    http::async_write(stream_, *msg, [self = shared_from_this(), msg, close](beast::error_code ec, size_t) {
      if (ec || close) return self->Close();
      self->ReadHeader();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  ListenerState* const state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  unsigned version_ = 11;
  bool head_ = false;
  bool busy_ = false;  // a request has been read and its response is not yet written
  std::string remote_address_;  // the peer, set at construction
  uint16_t remote_port_ = 0;
};

class HttpServer::Impl {
 public:
  Impl(const Options& options, Handler handler)
      : thread_count_(ThreadCount(options.threads)),
        worker_count_(ThreadCount(options.worker_threads)),
        ioc_(thread_count_),
        acceptor_(net::make_strand(ioc_)),
        retry_timer_(acceptor_.get_executor()),
        io_work_(ioc_.get_executor()),
        workers_(static_cast<size_t>(worker_count_)) {
    state_.options = options;
    state_.handler = std::move(handler);
    state_.workers = &workers_;
  }

  ~Impl() { Shutdown(std::chrono::seconds(30)); }

  Status Listen() {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(state_.options.host, std::to_string(state_.options.port),
                                    tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      return Status::BadRequest("cannot resolve listen address " + state_.options.host + ": " + ec.message());
    }
    tcp::endpoint endpoint = results.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Internal("cannot listen on " + FormatEndpoint(endpoint) + ": " + ec.message());
    }
    bound_ = acceptor_.local_endpoint(ec);
    return Status::Ok();
  }

  void Run() {
    Accept();
    threads_.reserve(thread_count_);
    for (int i = 0; i < thread_count_; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void Shutdown(std::chrono::milliseconds grace) {
    if (shut_down_) return;
    shut_down_ = true;
    state_.stopping.store(true);
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      retry_timer_.cancel();
      acceptor_.close(ec);
    });
    std::vector<std::shared_ptr<Session>> live;
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

  std::string address() const { return FormatEndpoint(bound_); }
  uint16_t port() const { return bound_.port(); }
  int threads() const { return static_cast<int>(threads_.size()); }
  int worker_threads() const { return worker_count_; }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (state_.stopping.load() || ec == net::error::operation_aborted) return;
      if (ec) {
        // E.g. out of file descriptors: wait a little instead of spinning.
        LogLine(LogLevel::kWarn, "accept failed: " + ec.message());
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([this](beast::error_code tec) {
          if (!tec && !state_.stopping.load()) Accept();
        });
        return;
      }
      std::make_shared<Session>(std::move(socket), &state_)->Run();
      Accept();
    });
  }

  const int thread_count_;
  const int worker_count_;
  ListenerState state_;  // declared before ioc_: outlives it, whose destruction destroys pending sessions
  net::io_context ioc_;
  tcp::acceptor acceptor_;      // used only on its strand once Run() started
  net::steady_timer retry_timer_;  // on the acceptor's strand
  tcp::endpoint bound_;
  std::vector<std::thread> threads_;
  // Keeps the I/O threads running while every connection waits for a worker (during shutdown nothing else may be
  // pending on the io_context: the acceptor is closed), so that the responses workers post are written.
  net::executor_work_guard<net::io_context::executor_type> io_work_;
  // Declared after ioc_, so destroyed (already joined) before it: a worker may post to the io_context until then.
  net::thread_pool workers_;
  bool shut_down_ = false;  // touched only by the controlling thread
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const Options& options, Handler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::string HttpServer::address() const { return impl_->address(); }
uint16_t HttpServer::port() const { return impl_->port(); }
int HttpServer::threads() const { return impl_->threads(); }
int HttpServer::worker_threads() const { return impl_->worker_threads(); }
void HttpServer::Shutdown(std::chrono::milliseconds grace) { impl_->Shutdown(grace); }

}  // namespace pki::server
