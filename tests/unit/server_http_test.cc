// Tests of the real listener: DevServer on 127.0.0.1 port 0 with fake engines, driven by a Boost.Beast client
// (keep-alive, the LIST method, 413, parallel requests, graceful shutdown, restart).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
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
class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) { stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port)); }

  http::response<http::string_body> Send(const std::string& method, const std::string& target,
                                         const std::string& body = "", const std::string& token = kToken) {
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set("X-Vault-Token", token);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    return res;
  }

 private:
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
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
