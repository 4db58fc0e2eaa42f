// Tests of HttpServer's TLS listeners: a TLS and a plain listener served together, client certificates, start-up
// failures on unusable files (without key material in the message), the handshake timeout and certificate reload.
// Certificates are go-plugin-style self-signed identities (plugin/automtls.h: CN and DNS SAN "localhost").
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "plugin/automtls.h"
#include "src/server/http_server.h"
#include "src/server/server_log.h"

namespace pki::server {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

plugin::TlsIdentity NewIdentity() {
  auto id = plugin::GenerateTlsIdentity(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  EXPECT_TRUE(id.ok());
  return id.value();
}

HttpResponse Echo(const HttpRequest& req) {
  return HttpResponse{200, "application/json", "{\"target\":\"" + req.target + "\"}", {}};
}

// An HTTPS client connection that trusts only `server_cert_pem` and optionally presents a client certificate.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& server_cert_pem, const plugin::TlsIdentity* client = nullptr)
      : ctx_(MakeContext(server_cert_pem, client)), stream_(ioc_, ctx_) {
    SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
    stream_.set_verify_callback(ssl::host_name_verification("localhost"));
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream_).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    stream_.handshake(ssl::stream_base::client);
  }

  // Throws when the server closes the connection instead of answering.
  http::response<http::string_body> Send(const std::string& method, const std::string& target,
                                         const std::string& body = "") {
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, "localhost");
    req.body() = body;
    req.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    return res;
  }

 private:
  // Complete before the stream exists: SSL_new copies the context's certificate and verify settings.
  static ssl::context MakeContext(const std::string& server_cert_pem, const plugin::TlsIdentity* client) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.add_certificate_authority(net::buffer(server_cert_pem));
    ctx.set_verify_mode(ssl::verify_peer);
    if (client != nullptr) {
      ctx.use_certificate_chain(net::buffer(client->cert_pem));
      ctx.use_private_key(net::buffer(client->key_pem), ssl::context::pem);
    }
    return ctx;
  }

  net::io_context ioc_;
  ssl::context ctx_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

http::response<http::string_body> PlainGet(uint16_t port, const std::string& target) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return res;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/server_tls_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    server_id_ = NewIdentity();
    client_ca_ = NewIdentity();  // self-signed: the client CA and the client's own certificate at once
    Write("server.crt", server_id_.cert_pem);
    Write("server.key", server_id_.key_pem);
    Write("clients.pem", client_ca_.cert_pem);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  ListenerOptions TlsListener() const {
    ListenerOptions l;
    l.port = 0;
    l.tls = ListenerTls{dir_ + "/server.crt", dir_ + "/server.key", "", false, "tls12"};
    return l;
  }
  Result<std::unique_ptr<HttpServer>> Start(std::vector<ListenerOptions> listeners,
                                            std::chrono::seconds handshake_timeout = std::chrono::seconds(10)) {
    HttpServer::Options options;
    options.listeners = std::move(listeners);
    options.threads = 2;
    options.worker_threads = 2;
    options.tls_handshake_timeout = handshake_timeout;
    return HttpServer::Start(options, Echo);
  }
  void StartOk(std::vector<ListenerOptions> listeners,
               std::chrono::seconds handshake_timeout = std::chrono::seconds(10)) {
    auto started = Start(std::move(listeners), handshake_timeout);
    ASSERT_TRUE(started.ok()) << started.status().message();
    server_ = std::move(started).value();
  }

  std::string dir_;
  plugin::TlsIdentity server_id_;
  plugin::TlsIdentity client_ca_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TlsTest, TlsAndPlainListenersServeTheSameHandler) {
  ListenerOptions plain;
  plain.port = 0;
  ListenerOptions tls = TlsListener();
  tls.max_body_bytes = 1024;
  StartOk({tls, plain});
  ASSERT_EQ(server_->listener_count(), 2u);
  EXPECT_TRUE(server_->tls(0));
  EXPECT_FALSE(server_->tls(1));
  EXPECT_NE(server_->port(0), server_->port(1));
  EXPECT_EQ(server_->port(), server_->port(0));

  TlsClient client(server_->port(0), server_id_.cert_pem);
  // Keep-alive over TLS: several requests on one connection.
  for (int i = 0; i < 3; ++i) {
    auto res = client.Send("GET", "/v1/sys/health?i=" + std::to_string(i));
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "{\"target\":\"/v1/sys/health?i=" + std::to_string(i) + "\"}");
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(client.Send("LIST", "/v1/pki/roles").result_int(), 200);
  // The listener's own body limit.
  EXPECT_EQ(client.Send("POST", "/v1/pki/x", std::string(2048, 'a')).result_int(), 413);

  auto res = PlainGet(server_->port(1), "/v1/sys/health");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "{\"target\":\"/v1/sys/health\"}");
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsNoAnswer) {
  StartOk({TlsListener()});
  const LogLevel level = GetLogLevel();
  SetLogLevel(LogLevel::kDebug);
  testing::internal::CaptureStderr();
  EXPECT_ANY_THROW(PlainGet(server_->port(), "/v1/sys/health"));
  const std::string log = testing::internal::GetCapturedStderr();
  SetLogLevel(level);
  // The failed handshake is logged at debug level with the client's address (saved when it was accepted).
  EXPECT_NE(log.find("TLS handshake error from 127.0.0.1:"), std::string::npos) << log;
  // The listener still serves TLS clients afterwards.
  EXPECT_EQ(TlsClient(server_->port(), server_id_.cert_pem).Send("GET", "/").result_int(), 200);
}

TEST_F(TlsTest, RequiredClientCertificate) {
  ListenerOptions l = TlsListener();
  l.tls->client_ca_file = dir_ + "/clients.pem";
  l.tls->require_client_cert = true;
  StartOk({l});
  const uint16_t port = server_->port();
  EXPECT_EQ(TlsClient(port, server_id_.cert_pem, &client_ca_).Send("GET", "/ok").result_int(), 200);
  // Without a certificate, or with one the client CA did not sign: no answer (with TLS 1.3 the refusal arrives
  // after the client's side of the handshake, so either the handshake or the first exchange fails).
  EXPECT_ANY_THROW(TlsClient(port, server_id_.cert_pem).Send("GET", "/no-cert"));
  plugin::TlsIdentity stranger = NewIdentity();
  EXPECT_ANY_THROW(TlsClient(port, server_id_.cert_pem, &stranger).Send("GET", "/stranger"));
}

TEST_F(TlsTest, OptionalClientCertificateIsVerifiedWhenPresented) {
  ListenerOptions l = TlsListener();
  l.tls->client_ca_file = dir_ + "/clients.pem";
  StartOk({l});
  const uint16_t port = server_->port();
  EXPECT_EQ(TlsClient(port, server_id_.cert_pem).Send("GET", "/none").result_int(), 200);
  EXPECT_EQ(TlsClient(port, server_id_.cert_pem, &client_ca_).Send("GET", "/good").result_int(), 200);
  plugin::TlsIdentity stranger = NewIdentity();
  EXPECT_ANY_THROW(TlsClient(port, server_id_.cert_pem, &stranger).Send("GET", "/stranger"));
}

TEST_F(TlsTest, TlsMinVersion13RefusesTls12Clients) {
  ListenerOptions l = TlsListener();
  l.tls->min_version = "tls13";
  StartOk({l});
  EXPECT_EQ(TlsClient(server_->port(), server_id_.cert_pem).Send("GET", "/").result_int(), 200);
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  beast::get_lowest_layer(stream).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  EXPECT_ANY_THROW(stream.handshake(ssl::stream_base::client));
}

TEST_F(TlsTest, UnusableFilesFailTheStartWithoutKeyMaterial) {
  auto message = [this](ListenerOptions l) {
    ListenerOptions plain;
    plain.port = 0;
    auto started = Start({plain, l});
    EXPECT_FALSE(started.ok());
    std::string m = started.ok() ? "" : started.status().message();
    EXPECT_EQ(m.find("PRIVATE KEY"), std::string::npos) << m;
    EXPECT_EQ(m.find(server_id_.key_pem.substr(40, 20)), std::string::npos) << m;
    return m;
  };
  ListenerOptions l = TlsListener();
  l.tls->cert_file = dir_ + "/absent.crt";
  std::string m = message(l);
  EXPECT_NE(m.find("tls_cert_file " + dir_ + "/absent.crt: No such file or directory"), std::string::npos) << m;

  l = TlsListener();
  l.tls->cert_file = Write("garbage.crt", "not a certificate\n");
  m = message(l);
  EXPECT_NE(m.find("tls_cert_file " + dir_ + "/garbage.crt: cannot load a PEM certificate"), std::string::npos) << m;

  l = TlsListener();
  l.tls->key_file = Write("cert-as-key.pem", server_id_.cert_pem);
  m = message(l);
  EXPECT_NE(m.find("tls_key_file " + dir_ + "/cert-as-key.pem: cannot load"), std::string::npos) << m;

  l = TlsListener();
  l.tls->key_file = Write("other.key", NewIdentity().key_pem);
  m = message(l);
  EXPECT_NE(m.find("does not match the certificate in tls_cert_file"), std::string::npos) << m;

  l = TlsListener();
  l.tls->client_ca_file = Write("empty-ca.pem", "");
  m = message(l);
  EXPECT_NE(m.find("tls_client_ca_file " + dir_ + "/empty-ca.pem"), std::string::npos) << m;

  l = TlsListener();
  l.tls->min_version = "tls11";
  m = message(l);
  EXPECT_NE(m.find("use tls12 or tls13"), std::string::npos) << m;
}

TEST_F(TlsTest, SilentClientsAreDisconnectedAfterTheHandshakeTimeout) {
  StartOk({TlsListener()}, std::chrono::seconds(1));
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  auto begin = std::chrono::steady_clock::now();
  char byte;
  boost::system::error_code ec;
  sock.read_some(net::buffer(&byte, 1), ec);  // blocks until the server closes
  EXPECT_TRUE(ec);
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
  EXPECT_GE(waited.count(), 800);
  EXPECT_LT(waited.count(), 5000);
}

// After the handshake the header timeout applies, as on a plain listener: a client that completes the handshake
// and then sends nothing, or trickles its header, is disconnected.
TEST_F(TlsTest, AClientSilentAfterTheHandshakeIsClosedAfterTheHeaderTimeout) {
  ListenerOptions l = TlsListener();
  l.header_timeout = std::chrono::milliseconds(700);
  l.idle_timeout = std::chrono::seconds(30);
  StartOk({l});
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  beast::get_lowest_layer(stream).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  stream.handshake(ssl::stream_base::client);
  auto begin = std::chrono::steady_clock::now();
  // A header byte every 200 ms: each read makes progress, only the deadline for the whole header ends it.
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  boost::system::error_code ec;
  for (char c : head) {
    net::write(stream, net::buffer(&c, 1), ec);
    if (ec) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() - begin > std::chrono::milliseconds(1500)) break;
  }
  char byte;
  stream.read_some(net::buffer(&byte, 1), ec);  // the server has closed (or closes now)
  EXPECT_TRUE(ec);
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
  EXPECT_LT(waited.count(), 5000);
  // A trickle within the deadline would have been answered: the same bytes at once are.
  EXPECT_EQ(TlsClient(server_->port(), server_id_.cert_pem).Send("GET", "/").result_int(), 200);
}

TEST_F(TlsTest, ReloadTlsServesNewCertificatesToNewConnections) {
  StartOk({TlsListener()});
  const uint16_t port = server_->port();
  TlsClient before(port, server_id_.cert_pem);
  EXPECT_EQ(before.Send("GET", "/").result_int(), 200);

  // A broken replacement changes nothing.
  Write("server.key", "garbage");
  EXPECT_FALSE(server_->ReloadTls().ok());
  EXPECT_EQ(TlsClient(port, server_id_.cert_pem).Send("GET", "/").result_int(), 200);

  plugin::TlsIdentity renewed = NewIdentity();
  Write("server.crt", renewed.cert_pem);
  Write("server.key", renewed.key_pem);
  ASSERT_TRUE(server_->ReloadTls().ok());
  EXPECT_EQ(TlsClient(port, renewed.cert_pem).Send("GET", "/").result_int(), 200);
  EXPECT_ANY_THROW(TlsClient(port, server_id_.cert_pem));  // the old certificate is gone
  EXPECT_EQ(before.Send("GET", "/").result_int(), 200);     // established connections go on
}

TEST_F(TlsTest, ShutdownAnswersATlsRequestInFlight) {
  HttpServer::Options options;
  options.listeners = {TlsListener()};
  options.threads = 2;
  options.worker_threads = 2;
  std::atomic<bool> entered{false};
  auto started = HttpServer::Start(options, [&entered](const HttpRequest& req) {
    entered = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return Echo(req);
  });
  ASSERT_TRUE(started.ok()) << started.status().message();
  server_ = std::move(started).value();
  TlsClient client(server_->port(), server_id_.cert_pem);
  std::thread stopper([this, &entered] {
    while (!entered.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    server_->Shutdown(std::chrono::seconds(10));
  });
  auto res = client.Send("GET", "/slow");
  stopper.join();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_FALSE(res.keep_alive());  // answered with Connection: close
}

}  // namespace
}  // namespace pki::server
