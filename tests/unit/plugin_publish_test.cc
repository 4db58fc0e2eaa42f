// The publication listener (plugin/publish.h): over a real engine on memory storage, fetched with cpp-httplib's
// client, each published path answers the engine's own bytes, status and content type; routing refusals; many
// requests on one kept-alive connection; bind failures; and Stop while idle, with a request inside the engine, and with a client that never finishes its
// request. Last, BackendService starts and stops the listener with the mount.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ocsp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "plugin/backend_service.h"
#include "plugin/publish.h"
#include "plugin/wire.h"
#include "src/crypto/x509.h"
#include "tests/unit/engine_harness.h"

namespace pki::plugin {
namespace {

using pki::testing::EngineHarness;

// Whether something accepts TCP connections on 127.0.0.1:port.
bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A port nothing listens on right now (bound to 0, read back, released).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// RFC 3986 percent-encoding of everything but unreserved characters, as RFC 6960 A.1 asks of the base64.
std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The engine's answer as the host's API renders it, and so as the listener must (raw responses only, which is
// what these paths give): an empty 200 is a 204 without body or type.
struct Expected {
  int status;
  std::string content_type;
  std::string body;
};

Expected RawOf(const Result<Response>& r) {
  EXPECT_TRUE(r.ok() && r->raw) << (r.ok() ? r->data.dump() : r.status().message());
  if (!r.ok() || !r->raw) return {};
  if (r->raw->status == 204 || (r->raw->status == 200 && r->raw->body.empty())) return {204, "", ""};
  return {r->raw->status, r->raw->content_type, r->raw->body};
}

void ExpectSame(const httplib::Result& got, const Expected& want, const std::string& what) {
  ASSERT_TRUE(got) << what << ": " << httplib::to_string(got.error());
  EXPECT_EQ(got->status, want.status) << what;
  EXPECT_EQ(got->get_header_value("Content-Type"), want.content_type) << what;
  EXPECT_TRUE(got->body == want.body) << what << ": " << got->body.size() << " bytes, want " << want.body.size();
}

// The OCSP status openssl reads for `leaf` in a DER OCSPResponse, after checking the issuer's signature.
int OcspStatusOf(const std::string& der, const X509* leaf, const X509* issuer) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()));
  if (resp == nullptr) return -100;
  int status = -1;
  OCSP_BASICRESP* bs = OCSP_response_get1_basic(resp);
  if (bs != nullptr) {
    STACK_OF(X509)* certs = sk_X509_new_null();
    sk_X509_push(certs, const_cast<X509*>(issuer));
    bool verified = OCSP_basic_verify(bs, certs, nullptr, OCSP_TRUSTOTHER | OCSP_NOVERIFY) == 1;
    sk_X509_free(certs);
    OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
    int reason = -1;
    ASN1_GENERALIZEDTIME *rev = nullptr, *thisupd = nullptr, *nextupd = nullptr;
    OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd);
    OCSP_CERTID_free(id);
    OCSP_BASICRESP_free(bs);
    if (!verified) status = -200;
  }
  OCSP_RESPONSE_free(resp);
  return status;
}

std::string OcspRequestDer(const X509* leaf, const X509* issuer, bool nonce) {
  OCSP_REQUEST* req = OCSP_REQUEST_new();
  OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha1(), leaf, issuer));
  if (nonce) OCSP_request_add1_nonce(req, nullptr, -1);
  unsigned char* der = nullptr;
  int len = i2d_OCSP_REQUEST(req, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  OCSP_REQUEST_free(req);
  return out;
}

// The engine, made to wait inside HandleRequest until released: a request in flight while the listener stops.
class BlockingBackend final : public LogicalBackend {
 public:
  explicit BlockingBackend(LogicalBackend* inner) : inner_(inner) {}
  Result<Response> HandleRequest(const Request& req) override {
    {
      std::unique_lock lock(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    return inner_->HandleRequest(req);
  }
  std::vector<std::string> UnauthenticatedPaths() const override { return inner_->UnauthenticatedPaths(); }

  void WaitEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_ > 0; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  LogicalBackend* inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool released_ = false;
};

class PublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // RSA: PKCS#1 v1.5 signatures are deterministic, so with the fake clock the engine signs the same OCSP request
    // into the same bytes, and the listener's answer can be held against the engine's byte for byte.
    auto root = h.Write("root/generate/internal",
                        {{"common_name", "Publish Root"}, {"ttl", "8760h"}, {"key_type", "rsa"}, {"key_bits", 2048}});
    ASSERT_TRUE(root.ok()) << root.status().message();
    ca = ParseCertificatePem(root->data["certificate"].get<std::string>()).value();
    ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true}, {"key_type", "ec"}}).ok());
    auto good_leaf = h.Write("issue/web", {{"common_name", "good.example.com"}});
    auto revoked_leaf = h.Write("issue/web", {{"common_name", "revoked.example.com"}});
    ASSERT_TRUE(good_leaf.ok() && revoked_leaf.ok());
    good = ParseCertificatePem(good_leaf->data["certificate"].get<std::string>()).value();
    revoked = ParseCertificatePem(revoked_leaf->data["certificate"].get<std::string>()).value();
    h.clock.Advance(10);
    ASSERT_TRUE(h.Write("revoke", {{"serial_number", revoked_leaf->data["serial_number"]}}).ok());
  }

  std::unique_ptr<Publisher> StartOn(LogicalBackend* engine, int port = 0) {
    auto p = std::make_unique<Publisher>(engine, PublishAddress{"127.0.0.1", port}, /*local_storage=*/true);
    Status s = p->Start();
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_GT(p->port(), 0);
    return p;
  }

  EngineHarness h;
  ossl::X509Ptr ca, good, revoked;
};

TEST(PublishAddressTest, ParsesHostPortAndBracketedIpv6) {
  auto a = ParsePublishAddress("127.0.0.1:8300");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8300);
  auto b = ParsePublishAddress("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->ToString(), "[::1]:0");
  auto c = ParsePublishAddress("crl.example.com:80");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "crl.example.com");
  for (const char* bad :
       {"", "8300", ":8300", "host:", "host:http", "host:65536", "::1:8300", "host:-1", "host:123456"}) {
    auto r = ParsePublishAddress(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("publish_address"), std::string::npos);
    }
  }
}

TEST_F(PublishTest, RoutesOnlyThePublishedPathsAndMethods) {
  LogicalBackend& e = *h.backend;
  EXPECT_EQ(ServePublication(e, "GET", "/nope", "").status, 404);
  EXPECT_EQ(ServePublication(e, "GET", "/", "").status, 404);
  EXPECT_EQ(ServePublication(e, "GET", "/crl/", "").status, 404);
  EXPECT_EQ(ServePublication(e, "GET", "/v1/pki/crl", "").status, 404);
  EXPECT_EQ(ServePublication(e, "GET", "/crl/pem", "").status, 404);
  EXPECT_EQ(ServePublication(e, "GET", "/roles/web", "").status, 404);
  EXPECT_EQ(ServePublication(e, "POST", "/revoke", "").status, 404);
  EXPECT_EQ(ServePublication(e, "POST", "/crl", "").status, 405);
  EXPECT_EQ(ServePublication(e, "POST", "/ca", "").status, 405);
  EXPECT_EQ(ServePublication(e, "POST", "/ocsp/AAAA", "").status, 405);
  // GET /ocsp is the engine's own refusal (the path has no read), worded as the API words it.
  PublishedReply get_ocsp = ServePublication(e, "GET", "/ocsp", "");
  EXPECT_EQ(get_ocsp.status, 405);
  EXPECT_NE(get_ocsp.body.find("unsupported operation"), std::string::npos) << get_ocsp.body;
  for (const char* m : {"PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"}) {
    EXPECT_EQ(ServePublication(e, m, "/crl", "").status, 405) << m;
  }
  PublishedReply bad_escape = ServePublication(e, "GET", "/ocsp/AB%zz", "");
  EXPECT_EQ(bad_escape.status, 400);
  EXPECT_NE(bad_escape.body.find("invalid URL escape"), std::string::npos);
  EXPECT_EQ(ServePublication(e, "GET", "/ocsp/%ff", "").status, 400);  // not UTF-8
  // A query string does not change the path (CRL fetchers add cache-busters).
  EXPECT_EQ(ServePublication(e, "GET", "/ca?x=1", "").body, RawOf(h.Read("ca")).body);
  // Garbage OCSP is the engine's answer (malformedRequest), not an HTTP error page of ours.
  PublishedReply garbage = ServePublication(e, "POST", "/ocsp", "not DER");
  Expected want = RawOf(h.Write("ocsp", {{"http_raw_body", Base64Encode("not DER")}}));
  EXPECT_EQ(garbage.status, want.status);
  EXPECT_EQ(garbage.content_type, "application/ocsp-response");
  EXPECT_EQ(garbage.body, want.body);
}

TEST_F(PublishTest, ServesTheEnginesBytesForCaCrlAndOcsp) {
  auto pub = StartOn(h.backend.get());
  httplib::Client cli("127.0.0.1", pub->port());
  cli.set_url_encode(false);  // the test writes its targets already encoded

  ExpectSame(cli.Get("/ca"), RawOf(h.Read("ca")), "/ca");
  auto crl = cli.Get("/crl");
  ExpectSame(crl, RawOf(h.Read("crl")), "/crl");
  ASSERT_TRUE(crl);
  EXPECT_EQ(crl->get_header_value("Content-Type"), "application/pkix-crl");

  // crl/delta: whatever the engine answers (a CRL, or 404 where the engine has no such path), with its status.
  Result<Response> delta = h.Read("crl/delta");
  auto got_delta = cli.Get("/crl/delta");
  ASSERT_TRUE(got_delta);
  if (delta.ok() && delta->raw) {
    ExpectSame(got_delta, RawOf(delta), "/crl/delta");
  } else if (!delta.ok() && delta.status().IsNotFound()) {
    EXPECT_EQ(got_delta->status, 404);
  } else {
    EXPECT_EQ(got_delta->status, ServePublication(*h.backend, "GET", "/crl/delta", "").status);
  }

  // OCSP POST (with a nonce: the same request bytes give the same answer) and GET, revoked and good.
  const std::string post_req = OcspRequestDer(revoked.get(), ca.get(), /*nonce=*/true);
  Expected want_post = RawOf(h.Write("ocsp", {{"http_raw_body", Base64Encode(post_req)}}));
  auto got_post = cli.Post("/ocsp", post_req, "application/ocsp-request");
  ExpectSame(got_post, want_post, "POST /ocsp");
  ASSERT_TRUE(got_post);
  EXPECT_EQ(OcspStatusOf(got_post->body, revoked.get(), ca.get()), V_OCSP_CERTSTATUS_REVOKED);

  const std::string get_req = OcspRequestDer(good.get(), ca.get(), /*nonce=*/false);
  const std::string b64 = Base64Encode(get_req);
  Expected want_get = RawOf(h.Read("ocsp/" + b64));
  auto got_get = cli.Get("/ocsp/" + UrlEncode(b64));
  ExpectSame(got_get, want_get, "GET /ocsp/<url-encoded>");
  ASSERT_TRUE(got_get);
  // The engine's caching advice for nonce-less answers (RFC 5019) travels too.
  Result<Response> engine_get = h.Read("ocsp/" + b64);
  ASSERT_TRUE(engine_get.ok() && engine_get->raw);
  EXPECT_EQ(got_get->get_header_value("Cache-Control"), engine_get->raw->cache_control);
  EXPECT_EQ(OcspStatusOf(got_get->body, good.get(), ca.get()), V_OCSP_CERTSTATUS_GOOD);
  // Clients that do not encode the base64 ('/', '+' and '=' as they are) get the same answer.
  ExpectSame(cli.Get("/ocsp/" + b64), want_get, "GET /ocsp/<raw base64>");

  // Refusals over the wire: the status is ours, the connection stays usable.
  auto nope = cli.Get("/nope");
  ASSERT_TRUE(nope);
  EXPECT_EQ(nope->status, 404);
  for (const char* m : {"PUT", "DELETE", "PATCH", "OPTIONS"}) {
    httplib::Request req;
    req.method = m;
    req.path = "/crl";
    req.body = "x";
    auto r = cli.send(req);
    ASSERT_TRUE(r) << m;
    EXPECT_EQ(r->status, 405) << m;
  }
  auto head = cli.Head("/ca");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 405);
  auto post_crl = cli.Post("/crl", "", "text/plain");
  ASSERT_TRUE(post_crl);
  EXPECT_EQ(post_crl->status, 405);
  auto big = cli.Post("/ocsp", std::string(1 << 20, 'x'), "application/ocsp-request");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);  // the transport's cap, far above OCSP's own limit the engine enforces
  // A long path (near cpp-httplib's 8 KiB request-line limit) through its regex routing, and a GET with a body.
  auto long_post = cli.Post("/" + std::string(8000, 'a'), "x", "text/plain");
  ASSERT_TRUE(long_post);
  EXPECT_EQ(long_post->status, 404);
  httplib::Request get_with_body;
  get_with_body.method = "GET";
  get_with_body.path = "/ca";
  get_with_body.body = "ignored";
  ExpectSame(cli.send(get_with_body), RawOf(h.Read("ca")), "GET /ca with a body");
  ExpectSame(cli.Get("/ca"), RawOf(h.Read("ca")), "/ca after refusals");
}

TEST_F(PublishTest, OneKeptAliveConnectionCarriesManyOcspRequests) {
  // Relying parties (and load balancers) keep connections open: 50 nonce-less OCSP POSTs pipelined on one connection
  // are all answered on it, in order, with the engine's bytes.
  auto pub = StartOn(h.backend.get());
  const std::string der = OcspRequestDer(good.get(), ca.get(), /*nonce=*/false);
  Expected want = RawOf(h.Write("ocsp", {{"http_raw_body", Base64Encode(der)}}));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(pub->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  constexpr int kRequests = 50;
  std::string requests;
  for (int i = 0; i < kRequests; ++i) {
    requests += "POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: " +
                std::to_string(der.size()) + "\r\n\r\n" + der;
  }
  ASSERT_EQ(write(fd, requests.data(), requests.size()), static_cast<ssize_t>(requests.size()));
  std::string got;
  char buf[16384];
  const std::string one = "HTTP/1.1 200 OK";
  auto count = [&] {
    size_t n = 0;
    for (size_t at = got.find(one); at != std::string::npos; at = got.find(one, at + 1)) ++n;
    return n;
  };
  while (count() < kRequests || got.size() < kRequests * want.body.size()) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  EXPECT_EQ(count(), static_cast<size_t>(kRequests)) << "answers on one connection";
  size_t bodies = 0;
  for (size_t at = got.find(want.body); at != std::string::npos; at = got.find(want.body, at + 1)) ++bodies;
  EXPECT_EQ(bodies, static_cast<size_t>(kRequests));
  EXPECT_EQ(got.find("Connection: close"), std::string::npos);
}

TEST_F(PublishTest, BindFailuresAreClearErrors) {
  auto first = StartOn(h.backend.get());
  Publisher taken(h.backend.get(), PublishAddress{"127.0.0.1", first->port()}, /*local_storage=*/true);
  Status s = taken.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(first->port())), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("in use"), std::string::npos) << s.message();
  taken.Stop();  // harmless after a failed Start

  // TEST-NET-1: not this machine's.
  Publisher foreign(h.backend.get(), PublishAddress{"192.0.2.1", 8300}, /*local_storage=*/true);
  s = foreign.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot listen"), std::string::npos) << s.message();

  Publisher unresolvable(h.backend.get(), PublishAddress{"no-such-host.invalid", 8300}, /*local_storage=*/true);
  s = unresolvable.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("publish_address no-such-host.invalid:8300"), std::string::npos) << s.message();
}

TEST_F(PublishTest, StopWhileIdleClosesThePortAndItRebindsAtOnce) {
  auto pub = StartOn(h.backend.get());
  const int port = pub->port();
  {
    httplib::Client cli("127.0.0.1", port);
    ASSERT_TRUE(cli.Get("/ca"));  // leaves a keep-alive connection behind, closed below
  }
  const auto t0 = std::chrono::steady_clock::now();
  pub->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_FALSE(Accepts(port));
  pub->Stop();  // idempotent

  auto again = StartOn(h.backend.get(), port);
  httplib::Client cli("127.0.0.1", port);
  ExpectSame(cli.Get("/ca"), RawOf(h.Read("ca")), "/ca after rebinding");
}

TEST_F(PublishTest, StopWaitsForTheRequestInsideTheEngineAndItCompletes) {
  BlockingBackend blocking(h.backend.get());
  auto pub = StartOn(&blocking);
  const int port = pub->port();
  auto in_flight = std::async(std::launch::async, [port] {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(30, 0);
    return cli.Get("/crl");
  });
  blocking.WaitEntered();

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    pub->Stop();
    stopped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(stopped) << "Stop returned while a request was inside the engine";
  EXPECT_FALSE(Accepts(port)) << "the port stays open while stopping";
  blocking.Release();
  stopper.join();
  EXPECT_TRUE(stopped);

  auto got = in_flight.get();
  ExpectSame(got, RawOf(h.Read("crl")), "/crl in flight during Stop");
}

TEST_F(PublishTest, StopDoesNotWaitForAClientThatNeverFinishesItsRequest) {
  auto pub = StartOn(h.backend.get());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(pub->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  // Half a request, then a header byte now and then: each read comes within the read timeout.
  const std::string partial = "GET /crl HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_EQ(write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    while (trickling) {
      (void)!write(fd, "a", 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto t0 = std::chrono::steady_clock::now();
  pub->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(6));
  EXPECT_FALSE(Accepts(pub->port()));
  trickling = false;
  trickle.join();
  // Finishing the request now reaches no engine (it may be torn down): past Stop's grace the connection was
  // dropped unanswered; had it finished within the grace, the answer would have been 503. Never the engine's CRL.
  (void)!write(fd, "\r\n\r\n", 4);
  char buf[64] = {};
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  if (n > 0) EXPECT_NE(std::string(buf, static_cast<size_t>(n)).find(" 503 "), std::string::npos) << buf;
  close(fd);
}

// BackendService: the listener comes with the mount, refuses the mount when it cannot bind, is replaced by a
// second Setup and goes with Cleanup.
class BackendServicePublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("pki-publish-test-" + std::to_string(getpid()) + "-" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override {
    service.Close();
    std::filesystem::remove_all(dir);
  }

  pb::SetupReply SetUpMount(const std::string& publish_address) {
    pb::SetupArgs args;
    args.set_backenduuid("publish-test");
    (*args.mutable_config())["rocksdb_path"] = (dir / "db").string();
    if (!publish_address.empty()) (*args.mutable_config())["publish_address"] = publish_address;
    pb::SetupReply reply;
    EXPECT_TRUE(service.Setup(nullptr, &args, &reply).ok());
    return reply;
  }

  Result<Response> Call(Operation op, const std::string& path, Json data = Json::object()) {
    Request req;
    req.operation = op;
    req.path = path;
    req.data = std::move(data);
    req.mount_point = "pki/";
    pb::HandleRequestArgs args;
    *args.mutable_request() = ToProtoRequest(req, "id");
    pb::HandleRequestReply reply;
    EXPECT_TRUE(service.HandleRequest(nullptr, &args, &reply).ok());
    return FromProtoReply(reply);
  }

  std::filesystem::path dir;
  FakeClock clock{EngineHarness::kStart};
  BackendService service{nullptr, &clock, "/nonexistent"};
};

TEST_F(BackendServicePublishTest, ListenerLivesWithTheMount) {
  const int port = FreePort();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  pb::SetupReply reply = SetUpMount(address);
  ASSERT_EQ(reply.err(), "");
  ASSERT_TRUE(Call(Operation::kUpdate, "root/generate/internal",
                   {{"common_name", "Mount Root"}, {"key_type", "ec"}, {"ttl", "8760h"}})
                  .ok());
  {
    httplib::Client cli("127.0.0.1", port);
    Result<Response> ca = Call(Operation::kRead, "ca");
    ExpectSame(cli.Get("/ca"), RawOf(ca), "/ca through the mount");
    Result<Response> crl = Call(Operation::kRead, "crl");
    ExpectSame(cli.Get("/crl"), RawOf(crl), "/crl through the mount");
  }

  // A second Setup on the same address replaces the listener along with the engine.
  reply = SetUpMount(address);
  ASSERT_EQ(reply.err(), "");
  {
    httplib::Client cli("127.0.0.1", port);
    ExpectSame(cli.Get("/ca"), RawOf(Call(Operation::kRead, "ca")), "/ca after a second Setup");
  }

  pb::Empty empty;
  ASSERT_TRUE(service.Cleanup(nullptr, &empty, &empty).ok());
  EXPECT_FALSE(Accepts(port));
}

TEST_F(BackendServicePublishTest, AnAddressThatCannotBeUsedRefusesTheMount) {
  pb::SetupReply bad = SetUpMount("localhost");
  EXPECT_NE(bad.err().find("invalid publish_address"), std::string::npos) << bad.err();

  // Taken by someone else: the mount is refused and its storage let go (a retry on a free port opens it).
  auto blocker = std::make_unique<Publisher>(nullptr, PublishAddress{"127.0.0.1", 0}, /*local_storage=*/true);
  ASSERT_TRUE(blocker->Start().ok());
  pb::SetupReply taken = SetUpMount("127.0.0.1:" + std::to_string(blocker->port()));
  EXPECT_NE(taken.err().find("publish_address 127.0.0.1:" + std::to_string(blocker->port())), std::string::npos)
      << taken.err();
  EXPECT_NE(taken.err().find("in use"), std::string::npos) << taken.err();
  EXPECT_FALSE(Call(Operation::kRead, "ca").ok());  // no mount

  pb::SetupReply ok = SetUpMount("127.0.0.1:" + std::to_string(FreePort()));
  EXPECT_EQ(ok.err(), "");
  EXPECT_EQ(SetUpMount("").err(), "");  // and without the option, no listener at all

  pb::SetupArgs unknown;
  (*unknown.mutable_config())["publish_adress"] = "127.0.0.1:1";
  pb::SetupReply reply;
  ASSERT_TRUE(service.Setup(nullptr, &unknown, &reply).ok());
  EXPECT_NE(reply.err().find("publish_address"), std::string::npos) << reply.err();  // listed among the known
}

}  // namespace
}  // namespace pki::plugin
