#include "plugin/publish.h"

#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <vector>

#include "plugin/log.h"
#include "plugin/vault_http.h"
#include "src/core/text.h"
#include "src/crypto/x509.h"

namespace pki::plugin {
namespace {

// A handful of workers: relying parties fetch a CRL now and then and OCSP answers come from a cache; more
// connections wait in the accept backlog rather than pile threads onto the plugin.
constexpr size_t kWorkers = 4;
constexpr auto kReadTimeout = std::chrono::seconds(5);
constexpr auto kWriteTimeout = std::chrono::seconds(5);
// An idle keep-alive connection holds a worker (and so Stop) this long at most.
constexpr time_t kKeepAliveSeconds = 2;
// A cap on what one request may make us buffer; the engine enforces OCSP's own (smaller) limit with an OCSP answer.
constexpr size_t kMaxBodyBytes = 64 * 1024;
constexpr auto kStartWait = std::chrono::seconds(5);
// How long Stop waits for connections still reading or writing (past the keep-alive and I/O timeouts above, only a
// client trickling bytes on purpose is left) before it leaves them to finish on their own.
constexpr auto kStopGrace = std::chrono::seconds(3);

constexpr char kJsonType[] = "application/json";

PublishedReply Errors(int status, const std::vector<std::string>& errors = {}) {
  Json body = Json::object({{"errors", Json::array()}});
  for (const auto& e : errors) body["errors"].push_back(e);
  PublishedReply r;
  r.status = status;
  r.content_type = kJsonType;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  return r;
}

PublishedReply Render(const Result<Response>& result) {
  if (!result.ok()) {
    if (result.status().code() == StatusCode::kInternal) {
      Log(LogLevel::kError, "publication request failed", {{"error", result.status().message()}});
    }
    return Errors(HttpStatusFor(result.status().code()), VaultErrorTexts(result.status()));
  }
  const Response& resp = result.value();
  if (resp.raw) {
    PublishedReply r;
    r.status = resp.raw->status;
    // As the API renders raw bodies: an empty 200 is a 204, and a 204 has neither body nor type.
    if (r.status == 200 && resp.raw->body.empty()) r.status = 204;
    if (r.status == 204) return r;
    r.content_type = resp.raw->content_type;
    r.body = resp.raw->body;
    r.cache_control = resp.raw->cache_control;
    return r;
  }
  if (resp.nil) return Errors(404);
  // None of the published paths answers JSON; should one, its data is shown rather than dropped.
  PublishedReply r;
  r.status = resp.status != 0 ? resp.status : 200;
  r.content_type = kJsonType;
  r.body = Json::object({{"data", resp.data}}).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  return r;
}

Result<Response> CallEngine(LogicalBackend& engine, Request req) {
  // The request boundary on the listener's threads: nothing may escape into cpp-httplib.
  try {
    return engine.HandleRequest(req);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("request threw: ") + e.what());
  } catch (...) {
    return Status::Internal("request threw a non-standard exception");
  }
}

}  // namespace

std::string PublishAddress::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<PublishAddress> ParsePublishAddress(std::string_view text) {
  const Status bad = Status::BadRequest("invalid publish_address \"" + std::string(text) +
                                        "\": want HOST:PORT, e.g. 0.0.0.0:8300 or [::1]:8300");
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad;
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad;  // an IPv6 address needs its brackets, or the port is ambiguous
  }
  if (host.empty() || port.empty() || port.size() > 5) return bad;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad;
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return bad;
  return PublishAddress{std::string(host), value};
}

PublishedReply ServePublication(LogicalBackend& engine, std::string_view method, std::string_view target,
                                const std::string& body) {
  // What the engine answers to an operation a path lacks, so that these refusals read as the API's do.
  const PublishedReply unsupported = Errors(405, VaultErrorTexts(Status::Unsupported()));
  const bool get = method == "GET";
  const bool post = method == "POST";
  if (!get && !post) return unsupported;

  std::optional<std::string> path = PercentDecode(target.substr(0, target.find('?')), false);
  if (!path) return Errors(400, {"invalid URL escape in request path"});
  if (!IsValidUtf8(*path)) return Errors(400, {"invalid UTF-8 in request path"});
  const bool published =
      *path == "/crl" || *path == "/crl/delta" || *path == "/ca" || *path == "/ocsp" || path->rfind("/ocsp/", 0) == 0;
  if (!published) return Errors(404);

  Request req;
  req.path = path->substr(1);  // for "ocsp/<base64>", the base64 now free of its URL encoding
  if (get) {
    req.operation = Operation::kRead;
  } else {
    // The OCSP POST is the one write this unauthenticated listener hands the engine; a POST elsewhere is refused
    // here rather than offered to whatever update a path may grow.
    if (*path != "/ocsp") return unsupported;
    // RFC 6960 A.1: the body is the DER OCSPRequest. It reaches the engine as the host's API hands binary bodies
    // over (base64 under "http_raw_body"), whatever the Content-Type, so that a client that labels it oddly still
    // gets an OCSP answer (malformedRequest at worst) rather than an HTTP error page.
    req.operation = Operation::kUpdate;
    req.data = Json::object({{"http_raw_body", Base64Encode(body)}});
  }
  return Render(CallEngine(engine, std::move(req)));
}

// The accept loop's state, shared between the Publisher and its serving thread: the thread keeps it alive until
// every worker has finished, even when Stop has stopped waiting for them.
struct Publisher::Shared {
  explicit Shared(LogicalBackend* e) : engine(e) {}

  // Serves one request unless Stop has begun; counts it while it is inside the engine.
  PublishedReply Serve(std::string_view method, std::string_view target, const std::string& body) {
    {
      std::lock_guard lock(mu);
      if (closed) return Errors(503, {"the mount is being closed"});
      ++in_engine;
    }
    PublishedReply reply = ServePublication(*engine, method, target, body);
    {
      std::lock_guard lock(mu);
      if (--in_engine == 0) cv.notify_all();
    }
    return reply;
  }

  LogicalBackend* const engine;  // outlives every request that passes the gate below
  httplib::Server server;

  std::mutex mu;
  std::condition_variable cv;  // signals in_engine reaching 0 and finished
  int in_engine = 0;           // guarded by mu: requests inside the engine
  bool closed = false;         // guarded by mu: Stop has begun; no request enters the engine any more
  bool finished = false;       // guarded by mu: the accept loop has returned and joined its workers
};

namespace {

void Reply(const PublishedReply& r, httplib::Response& res) {
  res.status = r.status;
  if (!r.cache_control.empty()) res.set_header("Cache-Control", r.cache_control);
  if (!r.content_type.empty()) res.set_content(r.body, r.content_type);
}

// SO_REUSEADDR (a restarted plugin rebinds at once despite TIME_WAIT), but not SO_REUSEPORT, which cpp-httplib's
// default adds and under which a second process could bind a taken port and silently share its connections.
// TCP_NODELAY, which accepted connections inherit on Linux: cpp-httplib writes a response's header and body in
// separate sends, and under Nagle's algorithm the body waited for the client's delayed ACK of the header (40 ms
// per request on a kept-alive connection).
void ListenerSocketOptions(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
}

Status CheckResolvable(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) return Status::BadRequest(gai_strerror(rc));
  freeaddrinfo(found);
  return Status::Ok();
}

}  // namespace

Publisher::Publisher(LogicalBackend* engine, PublishAddress address)
    : address_(std::move(address)), shared_(std::make_shared<Shared>(engine)) {}

Publisher::~Publisher() { Stop(); }

Status Publisher::Start() {
  if (started_) return Status::Internal("the publication listener was already started");
  started_ = true;
  const std::string where = "publish_address " + address_.ToString();
  if (Status s = CheckResolvable(address_.host); !s.ok()) return Status::BadRequest(where + ": " + s.message());

  httplib::Server& server = shared_->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  server.set_socket_options(ListenerSocketOptions);
  server.set_read_timeout(kReadTimeout);
  server.set_write_timeout(kWriteTimeout);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.set_payload_max_length(kMaxBodyBytes);

  Shared* shared = shared_.get();  // not a shared_ptr: the server holds these handlers, and would hold itself
  auto handler = [shared](const httplib::Request& req, httplib::Response& res) {
    Reply(shared->Serve(req.method, req.target, req.body), res);
  };
  // Every request is routed by ServePublication on the raw target (cpp-httplib's own path decoding is laxer than
  // the API's: it also takes %uXXXX). Requests without a body are answered before cpp-httplib's regex routing;
  // those with one once it has read the body (answering earlier would leave the body to be misread as the next
  // request on the connection).
  server.set_pre_routing_handler([shared](const httplib::Request& req, httplib::Response& res) {
    const std::string& m = req.method;
    const bool body = req.has_header("Transfer-Encoding") ||
                      (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
    if (body || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" || m == "OPTIONS") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    Reply(shared->Serve(req.method, req.target, req.body), res);
    return httplib::Server::HandlerResponse::Handled;
  });
  // [\s\S], not '.', which would miss a path holding a decoded newline and leave it to cpp-httplib's bare 404.
  const std::string any = "[\\s\\S]*";
  server.Get(any, handler);  // GET (and HEAD) with a body
  server.Post(any, handler);
  server.Put(any, handler);
  server.Patch(any, handler);
  server.Delete(any, handler);
  server.Options(any, handler);

  errno = 0;
  int port = address_.port == 0 ? server.bind_to_any_port(address_.host)
                                : (server.bind_to_port(address_.host, address_.port) ? address_.port : -1);
  if (port < 0) {
    const int err = errno;
    return Status::BadRequest(
        where + ": cannot listen: " + (err != 0 ? std::string(std::strerror(err)) : std::string("bind failed")));
  }
  port_ = port;

  std::shared_ptr<Shared> keep = shared_;
  serving_ = std::thread([keep] {
    keep->server.listen_after_bind();
    std::lock_guard lock(keep->mu);
    keep->finished = true;
    keep->cv.notify_all();
  });
  // cpp-httplib's stop() does nothing until the accept loop has begun: wait for it, so that a Stop right after
  // Start cannot miss it and leave the loop running.
  const auto deadline = std::chrono::steady_clock::now() + kStartWait;
  for (;;) {
    if (server.is_running()) break;
    {
      std::lock_guard lock(shared_->mu);
      if (shared_->finished) break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Log(LogLevel::kInfo, "publishing CRLs, CA and OCSP", {{"address", PublishAddress{address_.host, port_}.ToString()}});
  return Status::Ok();
}

void Publisher::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  if (!serving_.joinable()) return;  // Start failed: nothing was served
  // Closes the listening socket (the port is free from here on) and ends the accept loop, which then joins its
  // workers: they finish what they are serving.
  shared_->server.stop();
  bool finished = false;
  {
    std::unique_lock lock(shared_->mu);
    shared_->closed = true;
    // Requests inside the engine are bounded by the engine's own work: always waited for, as the engine is torn
    // down after Stop returns.
    shared_->cv.wait(lock, [&] { return shared_->in_engine == 0; });
    finished = shared_->cv.wait_for(lock, kStopGrace, [&] { return shared_->finished; });
  }
  if (finished) {
    serving_.join();
  } else {
    // A client still holds a connection (reading a request it trickles in). It can no longer reach the engine
    // (the gate above answers 503), so the mount need not wait for it: the thread ends on cpp-httplib's timeouts
    // and keeps the shared state alive until then.
    Log(LogLevel::kWarn, "publication listener stopped with connections still open; they are closed on timeout",
        {{"address", PublishAddress{address_.host, port_}.ToString()}});
    serving_.detach();
  }
}

}  // namespace pki::plugin
