// Tests of the real listener: DevServer on 127.0.0.1 port 0 with fake engines, driven by a Boost.Beast client
// (keep-alive, the LIST method, 413, parallel requests, graceful shutdown, restart).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "src/server/dev_server.h"
#include "src/server/server_log.h"
#include "tests/unit/http_test_client.h"

namespace pki::server {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Handler = std::function<Result<Response>(const Request&)>;

constexpr char kToken[] = "root";

class FakeEngine final : public MountedBackend {
 public:
  explicit FakeEngine(Handler handler) : handler_(std::move(handler)) {}
  Result<Response> HandleRequest(const Request& req) override {
    if (handler_) return handler_(req);
    return Response::Data({{"path", req.path}, {"op", OperationName(req.operation)}});
  }
  std::vector<std::string> UnauthenticatedPaths() const override { return {"ca"}; }
  bool Serving() const override { return true; }
  Status Close() override { return Status::Ok(); }

 private:
  Handler handler_;
};

// Records what it started; every engine answers with the shared handler.
struct FactoryLog {
  std::mutex mu;
  std::vector<MountSpec> started;  // guarded by mu
};

class FakeFactory final : public MountBackendFactory {
 public:
  FakeFactory(FactoryLog* log, Handler handler) : log_(log), handler_(std::move(handler)) {}
  Result<std::unique_ptr<MountedBackend>> Start(const MountSpec& spec, const SystemView*) override {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->started.push_back(spec);
    return std::unique_ptr<MountedBackend>(new FakeEngine(handler_));
  }

 private:
  FactoryLog* log_;
  Handler handler_;
};

// A keep-alive HTTP/1.1 client connection.
class Client : public pki::testing::HttpTestClient {
 public:
  using HttpTestClient::HttpTestClient;
  Response Send(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& token = kToken) {
    return HttpTestClient::Send(method, target, body, token);
  }
};

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/server_http_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartServer(Handler handler = nullptr, std::string token = kToken, int threads = 2) {
    DevServerOptions options;
    options.data_dir = dir_ + "/data";
    options.root_token = std::move(token);
    options.listen_port = 0;
    options.threads = threads;
    FactoryLog* log = &log_;
    auto started = DevServer::Start(options, [log, handler](const DataLayout&) {
      return Result<std::unique_ptr<MountBackendFactory>>(std::make_unique<FakeFactory>(log, handler));
    });
    ASSERT_TRUE(started.ok()) << started.status().message();
    server_ = std::move(started).value();
    port_ = static_cast<uint16_t>(std::stoi(server_->address().substr(server_->address().rfind(':') + 1)));
  }

  std::string dir_;
  FactoryLog log_;
  std::unique_ptr<DevServer> server_;
  uint16_t port_ = 0;
};

TEST_F(HttpTest, ServesTheVaultApiOnOneKeepAliveConnection) {
  StartServer([](const Request& req) -> Result<Response> {
    if (req.operation == Operation::kList) return Response::Data({{"keys", {"web"}}});
    if (req.operation == Operation::kDelete) return Response::Nil();
    return Response::Data({{"path", req.path}});
  });
  ASSERT_NE(port_, 0);
  EXPECT_EQ(server_->address().rfind("127.0.0.1:", 0), 0u);
  Client c(port_);

  auto health = c.Send("GET", "/v1/sys/health", "", "");
  EXPECT_EQ(health.result_int(), 200);
  EXPECT_EQ(Json::parse(health.body())["initialized"], true);
  EXPECT_TRUE(health.keep_alive());

  auto list = c.Send("LIST", "/v1/pki/roles");  // the method cpp-httplib would refuse
  EXPECT_EQ(list.result_int(), 200);
  EXPECT_EQ(Json::parse(list.body())["data"]["keys"], Json::array({"web"}));
  auto hvac_list = c.Send("GET", "/v1/pki/roles?list=True");
  EXPECT_EQ(hvac_list.result_int(), 200);

  auto denied = c.Send("GET", "/v1/pki/roles/web", "", "");
  EXPECT_EQ(denied.result_int(), 403);
  EXPECT_EQ(denied.body(), "{\"errors\":[\"permission denied\"]}\n");
  EXPECT_EQ(c.Send("GET", "/v1/pki/ca", "", "").result_int(), 200);

  auto deleted = c.Send("DELETE", "/v1/pki/roles/web");
  EXPECT_EQ(deleted.result_int(), 204);
  EXPECT_EQ(deleted.count(http::field::content_length), 0u);
  EXPECT_EQ(deleted[http::field::cache_control], "no-store");

  auto written = c.Send("POST", "/v1/pki/roles/web", R"({"ttl":"1h"})");
  EXPECT_EQ(written.result_int(), 200);
  EXPECT_EQ(written[http::field::content_type], "application/json");
  EXPECT_EQ(Json::parse(written.body())["data"]["path"], "roles/web");
  EXPECT_EQ(c.Send("POST", "/v1/pki/roles/web", "{nope").result_int(), 400);
  EXPECT_EQ(c.Send("BREW", "/v1/pki/roles/web").result_int(), 405);
  EXPECT_EQ(c.Send("GET", "/v1/pki/roles/web").result_int(), 200);  // still the same connection
}

TEST_F(HttpTest, OversizedBodyIs413BeforeItIsRead) {
  StartServer();
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
  const std::string head =
      "POST /v1/pki/roles/web HTTP/1.1\r\nHost: x\r\nX-Vault-Token: root\r\nContent-Type: application/json\r\n"
      "Content-Length: 33554433\r\nExpect: 100-continue\r\n\r\n";
  net::write(sock, net::buffer(head));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_EQ(Json::parse(res.body())["errors"][0], "http: request body too large");
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(HttpTest, LargeBodyWithinTheLimitIsAccepted) {
  StartServer([](const Request& req) { return Response::Data({{"size", req.data["blob"].get<std::string>().size()}}); });
  Client c(port_);
  std::string blob(2 * 1024 * 1024, 'a');
  auto res = c.Send("POST", "/v1/pki/blob", Json({{"blob", blob}}).dump());
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(Json::parse(res.body())["data"]["size"], blob.size());
}

TEST_F(HttpTest, MalformedRequestIs400) {
  StartServer();
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
  net::write(sock, net::buffer(std::string("GET /v1/sys/health HTTP/1.1\r\nBad Header Line\r\n\r\n")));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  EXPECT_EQ(res.result_int(), 400);
}

TEST_F(HttpTest, RequestsOnDifferentConnectionsRunInParallel) {
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  int max_inside = 0;
  StartServer(
      [&](const Request&) -> Result<Response> {
        std::unique_lock<std::mutex> lock(mu);
        ++inside;
        max_inside = std::max(max_inside, inside);
        cv.notify_all();
        // Wait (bounded) for the other request to be inside too: only possible if both run at once.
        cv.wait_for(lock, std::chrono::seconds(5), [&] { return max_inside >= 2; });
        --inside;
        return Response::Data({{"ok", true}});
      },
      kToken, /*threads=*/2);
  auto request = [this] { return Client(port_).Send("GET", "/v1/pki/slow").result_int(); };
  auto a = std::async(std::launch::async, request);
  auto b = std::async(std::launch::async, request);
  EXPECT_EQ(a.get(), 200);
  EXPECT_EQ(b.get(), 200);
  EXPECT_EQ(max_inside, 2);
}

// Releases the handlers blocked in it; each waits at most `limit` so a broken server fails instead of hanging.
class Gate {
 public:
  void Enter(std::chrono::milliseconds limit = std::chrono::seconds(3)) {
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    cv_.notify_all();
    cv_.wait_for(lock, limit, [this] { return open_; });
  }
  bool WaitInside(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return inside_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int inside_ = 0;
  bool open_ = false;
};

std::chrono::milliseconds Elapsed(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since);
}

TEST_F(HttpTest, SlowHandlersDoNotBlockTheListenerThreads) {
  Gate gate;
  StartServer(
      [&](const Request& req) -> Result<Response> {
        if (req.path == "slow") gate.Enter();
        return Response::Data({{"path", req.path}});
      },
      kToken, /*threads=*/1);  // one I/O thread: a handler running on it would stall every connection
  auto slow = std::async(std::launch::async, [this] { return Client(port_).Send("POST", "/v1/pki/slow", "{}"); });
  ASSERT_TRUE(gate.WaitInside(1));

  Client other(port_);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(other.Send("GET", "/v1/sys/health", "", "").result_int(), 200);
  EXPECT_LT(Elapsed(start).count(), 1000);
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(other.Send("GET", "/v1/pki/fast").result_int(), 200);  // the worker pool has at least 2 threads
  EXPECT_LT(Elapsed(start).count(), 1000);

  gate.Open();
  EXPECT_EQ(slow.get().result_int(), 200);
}

TEST_F(HttpTest, HealthStaysFastWhileEveryWorkerIsBusy) {
  Gate gate;
  FactoryLog* log = &log_;
  DevServerOptions options;
  options.data_dir = dir_ + "/data";
  options.root_token = kToken;
  options.listen_port = 0;
  options.threads = 1;
  options.worker_threads = 2;
  auto started = DevServer::Start(options, [log, &gate](const DataLayout&) {
    return Result<std::unique_ptr<MountBackendFactory>>(
        std::make_unique<FakeFactory>(log, [&gate](const Request&) -> Result<Response> {
          gate.Enter();
          return Response::Data({{"ok", true}});
        }));
  });
  ASSERT_TRUE(started.ok()) << started.status().message();
  server_ = std::move(started).value();
  EXPECT_EQ(server_->worker_threads(), 2);
  const uint16_t port = static_cast<uint16_t>(std::stoi(server_->address().substr(server_->address().rfind(':') + 1)));

  std::vector<std::future<int>> slow;
  for (int i = 0; i < 3; ++i) {  // two run, one waits for a worker
    slow.push_back(std::async(std::launch::async, [port] { return static_cast<int>(Client(port).Send("GET", "/v1/pki/x").result_int()); }));
  }
  ASSERT_TRUE(gate.WaitInside(2));
  Client c(port);
  for (const char* path : {"/v1/sys/health", "/v1/sys/seal-status", "/v1/sys/leader", "/v1/sys/mounts",
                           "/v1/sys/mounts/pki/tune"}) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(c.Send("GET", path).result_int(), 200) << path;
    EXPECT_LT(Elapsed(start).count(), 1000) << path;
  }
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.Send("HEAD", "/v1/sys/health", "", "").result_int(), 200);
  EXPECT_LT(Elapsed(start).count(), 1000);
  gate.Open();
  for (auto& f : slow) EXPECT_EQ(f.get(), 200);
}

TEST_F(HttpTest, PipelinedRequestsOnOneConnectionAreAnsweredInOrder) {
  StartServer([](const Request& req) -> Result<Response> {
    if (req.path == "first") std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return Response::Data({{"path", req.path}});
  });
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
  std::string both;
  for (const char* p : {"first", "second", "third"}) {
    both += std::string("GET /v1/pki/") + p + " HTTP/1.1\r\nHost: x\r\nX-Vault-Token: root\r\n\r\n";
  }
  net::write(sock, net::buffer(both));
  beast::flat_buffer buf;
  for (const char* p : {"first", "second", "third"}) {
    http::response<http::string_body> res;
    http::read(sock, buf, res);
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_EQ(Json::parse(res.body())["data"]["path"], p);
  }
}

TEST_F(HttpTest, StopFinishesTheRequestInFlightThenRefusesConnections) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  StartServer([&](const Request&) -> Result<Response> {
    if (first.exchange(false)) {
      entered.set_value();
      released.wait();
    }
    return Response::Data({{"done", true}});
  });
  uint16_t port = port_;
  Client idle(port);  // an idle keep-alive connection must not hold the stop up
  ASSERT_EQ(idle.Send("GET", "/v1/sys/health", "", "").result_int(), 200);

  auto in_flight = std::async(std::launch::async, [port] {
    Client c(port);
    return c.Send("GET", "/v1/pki/slow");
  });
  entered.get_future().wait();
  auto stopped = std::async(std::launch::async, [this] { return server_->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);  // waits for the request
  release.set_value();

  auto res = in_flight.get();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(Json::parse(res.body())["data"]["done"], true);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(stopped.get().ok());

  net::io_context ioc;
  tcp::socket sock(ioc);
  boost::system::error_code ec;
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_TRUE(ec) << "the listener still accepts connections after Stop";
}

// Requests still queued for a worker when the grace period ends are dropped unrun: nobody would read the answer,
// and work such as an RSA-8192 root generation must not go on committing after the server said it stopped.
TEST(HttpServerShutdown, QueuedRequestsAreNotRunAfterTheGracePeriod) {
  std::atomic<int> started{0};
  HttpServer::Options options;
  options.port = 0;
  options.threads = 1;
  options.worker_threads = 1;
  auto server = HttpServer::Start(options, [&started](const HttpRequest&) {
    ++started;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return HttpResponse{200, "application/json", "{}", {}};
  });
  ASSERT_TRUE(server.ok()) << server.status().message();
  std::unique_ptr<HttpServer> srv = std::move(server).value();
  const uint16_t port = srv->port();
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([port] {
      try {
        Client(port).Send("POST", "/v1/pki/slow", "{}");
      } catch (const std::exception&) {
        // dropped at shutdown: expected for the queued ones
      }
    });
  }
  while (started.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let every request reach the queue
  auto begin = std::chrono::steady_clock::now();
  srv->Shutdown(std::chrono::milliseconds(100));
  EXPECT_LT(Elapsed(begin).count(), 1500);  // not 6 x 300 ms of queued work
  srv.reset();  // closes the abandoned connections, releasing the clients
  for (auto& c : clients) c.join();
  // One ran when the grace began, perhaps one more started inside it; the rest were never run.
  EXPECT_LE(started.load(), 2);
}

// A plain HttpServer on 127.0.0.1 with the given limits, answering every request with {"target": ...} (and a body
// of `response_bytes` bytes when asked).
std::unique_ptr<HttpServer> TimeoutServer(const HttpServer::Options& limits, size_t response_bytes = 0) {
  HttpServer::Options options = limits;
  options.port = 0;
  options.threads = 2;
  options.worker_threads = 2;
  auto started = HttpServer::Start(options, [response_bytes](const HttpRequest& req) {
    HttpResponse r{200, "application/json", Json({{"target", req.target}}).dump(), {}};
    if (response_bytes > 0) r.body = std::string(response_bytes, 'x');
    return r;
  });
  EXPECT_TRUE(started.ok()) << started.status().message();
  return started.ok() ? std::move(started).value() : nullptr;
}

// Blocks until the server closes `sock` (or `limit` passes) and returns how long that took from `since`; data
// the server sends meanwhile is read and discarded (counted in `*received` if given).
std::chrono::milliseconds WaitForClose(tcp::socket& sock, std::chrono::steady_clock::time_point since,
                                       size_t* received = nullptr) {
  char buf[65536];
  for (;;) {
    boost::system::error_code ec;
    size_t n = sock.read_some(net::buffer(buf), ec);
    if (received != nullptr) *received += n;
    if (ec) return Elapsed(since);
  }
}

tcp::socket Connect(net::io_context& ioc, uint16_t port) {
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  // A read that never returns would hang the test: the server must close first, well before this.
  struct timeval tv {10, 0};
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return sock;
}

TEST(HttpServerTimeouts, ASilentClientIsClosedAfterTheHeaderTimeout) {
  HttpServer::Options limits;
  limits.header_timeout = std::chrono::milliseconds(500);
  limits.idle_timeout = std::chrono::seconds(30);  // must not apply to the first request
  auto server = TimeoutServer(limits);
  ASSERT_NE(server, nullptr);
  net::io_context ioc;
  auto begin = std::chrono::steady_clock::now();
  tcp::socket sock = Connect(ioc, server->port());
  auto waited = WaitForClose(sock, begin);
  EXPECT_GE(waited.count(), 400);
  EXPECT_LT(waited.count(), 3000);
}

TEST(HttpServerTimeouts, HeadersTrickledSlowerThanTheDeadlineAreCut) {
  HttpServer::Options limits;
  limits.header_timeout = std::chrono::milliseconds(1000);
  auto server = TimeoutServer(limits);
  ASSERT_NE(server, nullptr);
  net::io_context ioc;
  auto begin = std::chrono::steady_clock::now();
  tcp::socket sock = Connect(ioc, server->port());
  std::atomic<bool> closed{false};
  std::atomic<int> sent{0};
  // One header byte every 150 ms, each resetting any per-read timer: only a deadline for the whole header stops
  // it. Left alone it would take 6 s.
  std::thread trickler([&] {
    const std::string head = "GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(40, 'a') + "\r\n\r\n";
    for (char c : head) {
      if (closed.load()) return;
      boost::system::error_code ec;
      net::write(sock, net::buffer(&c, 1), ec);
      if (ec) return;
      ++sent;
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
  });
  size_t received = 0;
  auto waited = WaitForClose(sock, begin, &received);
  closed = true;
  trickler.join();
  EXPECT_EQ(received, 0u);  // no answer, as Go's net/http
  EXPECT_GE(waited.count(), 900);
  EXPECT_LT(waited.count(), 3000);
  EXPECT_LT(sent.load(), 30);  // cut long before the header was complete
}

TEST(HttpServerTimeouts, AKeptAliveConnectionMayIdleLongerThanTheHeaderTimeout) {
  HttpServer::Options limits;
  limits.header_timeout = std::chrono::milliseconds(300);
  limits.idle_timeout = std::chrono::milliseconds(1500);
  auto server = TimeoutServer(limits);
  ASSERT_NE(server, nullptr);
  net::io_context ioc;
  tcp::socket sock = Connect(ioc, server->port());
  beast::flat_buffer buf;
  auto ask = [&](const std::string& target) {
    net::write(sock, net::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    http::response<http::string_body> res;
    http::read(sock, buf, res);
    return res;
  };
  EXPECT_EQ(ask("/first").result_int(), 200);
  // Idle for longer than the header timeout, within the idle timeout: the connection is still there.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  auto second = ask("/second");
  EXPECT_EQ(second.result_int(), 200);
  EXPECT_EQ(Json::parse(second.body())["target"], "/second");
  EXPECT_TRUE(second.keep_alive());
  // Then the idle timeout closes it.
  auto begin = std::chrono::steady_clock::now();
  auto waited = WaitForClose(sock, begin);
  EXPECT_GE(waited.count(), 1200);
  EXPECT_LT(waited.count(), 4000);
}

TEST(HttpServerTimeouts, ANextRequestThatStartsMustFinishItsHeadersInTime) {
  HttpServer::Options limits;
  limits.header_timeout = std::chrono::milliseconds(500);
  limits.idle_timeout = std::chrono::seconds(30);
  auto server = TimeoutServer(limits);
  ASSERT_NE(server, nullptr);
  net::io_context ioc;
  tcp::socket sock = Connect(ioc, server->port());
  net::write(sock, net::buffer(std::string("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  ASSERT_EQ(res.result_int(), 200);
  // The next request's first bytes, then nothing: the header timeout runs from its first byte, not the idle one.
  net::write(sock, net::buffer(std::string("GET /sec")));
  auto begin = std::chrono::steady_clock::now();
  auto waited = WaitForClose(sock, begin);
  EXPECT_GE(waited.count(), 400);
  EXPECT_LT(waited.count(), 3000);
}

TEST(HttpServerTimeouts, TheBodyMustArriveWithinTheReadTimeout) {
  HttpServer::Options limits;
  limits.header_timeout = std::chrono::milliseconds(500);
  limits.read_timeout = std::chrono::milliseconds(1200);
  limits.request_timeout = std::chrono::seconds(30);
  auto server = TimeoutServer(limits);
  ASSERT_NE(server, nullptr);
  net::io_context ioc;
  auto begin = std::chrono::steady_clock::now();
  tcp::socket sock = Connect(ioc, server->port());
  net::write(sock, net::buffer(std::string("POST /v1/pki/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")));
  std::atomic<bool> closed{false};
  std::thread trickler([&] {
    for (int i = 0; i < 100 && !closed.load(); ++i) {
      boost::system::error_code ec;
      net::write(sock, net::buffer("a", 1), ec);
      if (ec) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  size_t received = 0;
  auto waited = WaitForClose(sock, begin, &received);
  closed = true;
  trickler.join();
  EXPECT_EQ(received, 0u);
  EXPECT_GE(waited.count(), 1000);
  EXPECT_LT(waited.count(), 4000);
}

TEST(HttpServerTimeouts, AResponseTheClientDoesNotReadIsCutAtTheWriteTimeout) {
  HttpServer::Options limits;
  limits.write_timeout = std::chrono::milliseconds(500);
  limits.request_timeout = std::chrono::seconds(30);
  const size_t kBody = 64 * 1024 * 1024;  // far more than the socket buffers hold
  auto server = TimeoutServer(limits, kBody);
  ASSERT_NE(server, nullptr);
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.open(tcp::v4());
  sock.set_option(net::socket_base::receive_buffer_size(16 * 1024));
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
  net::write(sock, net::buffer(std::string("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // not reading
  size_t received = 0;
  WaitForClose(sock, std::chrono::steady_clock::now(), &received);
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, kBody);  // cut off: the server gave up writing
}

TEST(LogThrottleTest, OncePerIntervalWithACountOfWhatWasHeldBack) {
  LogThrottle throttle(std::chrono::seconds(5));
  const auto t0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  uint64_t suppressed = 99;
  EXPECT_TRUE(throttle.Allow(t0, &suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 1; i <= 40; ++i) EXPECT_FALSE(throttle.Allow(t0 + std::chrono::milliseconds(100 * i), &suppressed));
  EXPECT_TRUE(throttle.Allow(t0 + std::chrono::seconds(5), &suppressed));
  EXPECT_EQ(suppressed, 40u);
  EXPECT_TRUE(throttle.Allow(t0 + std::chrono::seconds(11), &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

// A listener that cannot start (a TLS file, a busy port) fails the start before anything changes on disk: no
// data directory, no mount, no root token file.
TEST_F(HttpTest, AListenerThatCannotStartChangesNothing) {
  net::io_context ioc;
  tcp::acceptor busy(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const uint16_t busy_port = busy.local_endpoint().port();

  ListenerOptions bad_tls;
  bad_tls.port = 0;
  bad_tls.tls = ListenerTls{dir_ + "/absent.crt", dir_ + "/absent.key", "", false, "tls12"};
  ListenerOptions taken;
  taken.port = busy_port;
  ListenerOptions fine;
  fine.port = 0;
  const std::pair<std::vector<ListenerOptions>, std::string> cases[] = {
      {{fine, bad_tls}, "tls_cert_file " + dir_ + "/absent.crt"},
      {{fine, taken}, "cannot listen on 127.0.0.1:" + std::to_string(busy_port)},
  };
  for (const auto& [listeners, expected] : cases) {
    DevServerOptions options;
    options.data_dir = dir_ + "/data";
    options.root_token_file = dir_ + "/data/root-token";
    options.listeners = listeners;
    ConfiguredMount m;
    m.path = "pki/";
    m.type = "pki";
    options.mounts = {m};
    FactoryLog* log = &log_;
    auto started = DevServer::Start(options, [log](const DataLayout&) {
      return Result<std::unique_ptr<MountBackendFactory>>(std::make_unique<FakeFactory>(log, nullptr));
    });
    ASSERT_FALSE(started.ok());
    EXPECT_NE(started.status().message().find(expected), std::string::npos) << started.status().message();
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/data")) << expected;
    std::lock_guard<std::mutex> lock(log_.mu);
    EXPECT_TRUE(log_.started.empty());
  }
}

TEST_F(HttpTest, TheRootTokenFileIsWrittenOnceTheServerStartsAndReadAfterwards) {
  const std::string path = dir_ + "/data/root-token";
  auto start = [&]() {
    DevServerOptions options;
    options.data_dir = dir_ + "/data";
    options.root_token_file = path;
    options.root_token = "ignored-when-a-file-is-set";
    options.listen_port = 0;
    FactoryLog* log = &log_;
    return DevServer::Start(options, [log](const DataLayout&) {
      return Result<std::unique_ptr<MountBackendFactory>>(std::make_unique<FakeFactory>(log, nullptr));
    });
  };
  auto first = start();
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(first.value()->root_token_generated());
  const std::string token = first.value()->root_token();
  EXPECT_EQ(token.rfind("hvs.", 0), 0u);
  std::ifstream in(path);
  std::string stored;
  in >> stored;
  EXPECT_EQ(stored, token);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ASSERT_TRUE(first.value()->Stop().ok());
  first.value().reset();

  auto second = start();
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_FALSE(second.value()->root_token_generated());
  EXPECT_EQ(second.value()->root_token(), token);
  Client c(second.value()->http().port());
  EXPECT_EQ(c.Send("GET", "/v1/sys/mounts", "", token).result_int(), 200);
  EXPECT_EQ(c.Send("GET", "/v1/sys/mounts", "", "ignored-when-a-file-is-set").result_int(), 403);
}

TEST_F(HttpTest, MountsPersistAcrossRestart) {
  StartServer(nullptr, "");
  EXPECT_TRUE(server_->root_token_generated());
  std::string token = server_->root_token();
  EXPECT_EQ(token.rfind("hvs.", 0), 0u);
  EXPECT_EQ(token.size(), 28u);
  {
    Client c(port_);
    EXPECT_EQ(c.Send("GET", "/v1/sys/mounts", "", kToken).result_int(), 403);
    auto r = c.Send("POST", "/v1/sys/mounts/pki-int", R"({"type":"pki"})", token);
    ASSERT_EQ(r.result_int(), 204) << r.body();
  }
  auto mode = std::filesystem::status(dir_ + "/data").permissions();
  EXPECT_EQ(mode & std::filesystem::perms::all, std::filesystem::perms::owner_all);
  ASSERT_TRUE(server_->Stop().ok());
  server_.reset();

  std::vector<MountSpec> first_run;
  {
    std::lock_guard<std::mutex> lock(log_.mu);
    first_run.swap(log_.started);
  }
  ASSERT_EQ(first_run.size(), 2u);
  StartServer(nullptr, "again");
  Client c(port_);
  Json mounts = Json::parse(c.Send("GET", "/v1/sys/mounts", "", "again").body())["data"];
  ASSERT_TRUE(mounts.contains("pki/"));
  ASSERT_TRUE(mounts.contains("pki-int/"));
  std::lock_guard<std::mutex> lock(log_.mu);
  ASSERT_EQ(log_.started.size(), 2u);  // pki/ is not mounted a second time
  for (const auto& spec : log_.started) {
    bool same = false;
    for (const auto& before : first_run) same = same || (before.path == spec.path && before.uuid == spec.uuid);
    EXPECT_TRUE(same) << spec.path;
    EXPECT_EQ(mounts[spec.path]["uuid"], spec.uuid);
  }
}

}  // namespace
}  // namespace pki::server
