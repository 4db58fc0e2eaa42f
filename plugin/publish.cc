#include "plugin/publish.h"

#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <vector>

#include "plugin/log.h"
#include "plugin/vault_http.h"
#include "src/core/text.h"
#include "src/crypto/x509.h"
#include "src/server/http_server.h"

namespace pki::plugin {
namespace {

// Workers for CRL fetches (megabytes read from storage); OCSP and the CA are answered on the I/O threads.
constexpr int kWorkers = 4;
// A request's headers and body must arrive within this of its start; an answer must be written within this.
constexpr auto kReadTimeout = std::chrono::seconds(5);
constexpr auto kWriteTimeout = std::chrono::seconds(5);
// An idle keep-alive connection is closed after this.
constexpr auto kIdleTimeout = std::chrono::seconds(30);
// A cap on what one request may make us buffer; the engine enforces OCSP's own (smaller) limit with an OCSP answer.
constexpr size_t kMaxBodyBytes = 64 * 1024;
// How long Stop lets connections still reading or writing finish before it drops them.
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
  // The request boundary on the listener's threads: nothing may escape into the HTTP server.
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

// What the listener's threads share with the Publisher: the engine and the gate that keeps requests out of it once
// Stop has begun.
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

  std::mutex mu;
  std::condition_variable cv;  // signals in_engine reaching 0
  int in_engine = 0;           // guarded by mu: requests inside the engine
  bool closed = false;         // guarded by mu: Stop has begun; no request enters the engine any more
};

namespace {

server::HttpResponse ToHttp(PublishedReply r) {
  server::HttpResponse res;
  res.status = r.status;
  res.content_type = std::move(r.content_type);
  res.body = std::move(r.body);
  if (!r.cache_control.empty()) res.headers.emplace_back("Cache-Control", std::move(r.cache_control));
  return res;
}

// With local storage, OCSP answers (a cache lookup, a signature on a miss) and the CA certificate are answered on the
// I/O threads; CRLs, which may be megabytes read from storage, go to the workers.
bool AnsweredInline(const server::HttpRequest& req) {
  const std::string_view t = req.target;
  return t == "/ocsp" || t.rfind("/ocsp/", 0) == 0 || t == "/ca";
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

Publisher::Publisher(LogicalBackend* engine, PublishAddress address, bool local_storage)
    : address_(std::move(address)), local_storage_(local_storage), shared_(std::make_shared<Shared>(engine)) {}

Publisher::~Publisher() { Stop(); }

Status Publisher::Start() {
  if (started_) return Status::Internal("the publication listener was already started");
  started_ = true;
  const std::string where = "publish_address " + address_.ToString();
  if (Status s = CheckResolvable(address_.host); !s.ok()) return Status::BadRequest(where + ": " + s.message());

  server::ListenerOptions listener;
  listener.host = address_.host;
  listener.port = static_cast<uint16_t>(address_.port);
  listener.max_body_bytes = kMaxBodyBytes;
  listener.header_timeout = kReadTimeout;
  listener.read_timeout = kReadTimeout;
  listener.write_timeout = kWriteTimeout;
  listener.request_timeout = kReadTimeout;
  listener.idle_timeout = kIdleTimeout;
  server::HttpServer::Options options;
  options.listeners = {listener};
  options.threads = 0;  // one I/O thread per core
  options.worker_threads = kWorkers;
  if (local_storage_) options.run_inline = AnsweredInline;
  auto server = server::HttpServer::Listen(options);
  if (!server.ok()) return Status::BadRequest(where + ": " + server.status().message());
  server_ = std::move(server).value();
  port_ = server_->port();

  Shared* shared = shared_.get();  // outlives the server: Stop shuts it down before the Publisher goes
  server_->Serve([shared](const server::HttpRequest& req) {
    // Nothing may escape into the listener: ServePublication turns the engine's exceptions into answers.
    return ToHttp(shared->Serve(req.method, req.target, req.body));
  });
  Log(LogLevel::kInfo, "publishing CRLs, CA and OCSP", {{"address", PublishAddress{address_.host, port_}.ToString()}});
  return Status::Ok();
}

void Publisher::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  if (!server_) return;  // Start failed: nothing was served
  {
    std::lock_guard lock(shared_->mu);
    shared_->closed = true;  // a request not yet inside the engine is answered 503 from here on
  }
  // Closes the listening socket (the port is free from here on) and idle connections, and lets requests in flight
  // finish. One still being read after the grace (a client trickling bytes) is dropped unanswered; requests inside
  // the engine are always waited for, as the engine is torn down after Stop returns.
  server_->Shutdown(kStopGrace);
  // Destroyed here rather than with the Publisher: Shutdown may stop the I/O threads before they have run the
  // acceptor's close, and the listening socket is certainly closed only once the server is gone.
  server_.reset();
  std::unique_lock lock(shared_->mu);
  shared_->cv.wait(lock, [&] { return shared_->in_engine == 0; });
}

}  // namespace pki::plugin
