// Bad input through the HTTP API, table-driven: the real server (DevServer, Beast listener, token check, Vault's
// envelope) with the real PKI engine over a MemoryStorage the test can read. Every row gets its 4xx in Vault's
// error envelope ({"errors":[...]}, a message saying what was wrong) and leaves the engine's storage byte for byte
// as it was, and the server's mounts and policies as they were.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "src/core/clock.h"
#include "src/crypto/keys.h"
#include "src/crypto/ossl.h"
#include "src/crypto/sealer.h"
#include "src/pki/backend.h"
#include "src/server/dev_server.h"
#include "storage/memory_storage.h"
#include "tests/unit/http_test_client.h"
#include "tests/unit/test_dev_server.h"

namespace pki::server {
namespace {

using Json = nlohmann::json;
using pki::testing::HttpTestClient;
using pki::testing::TestDevServer;

constexpr char kRootToken[] = "s.bad-input-root";

// The PKI engine over a MemoryStorage owned by the factory, so that the test can compare it before and after.
class MemoryPkiBackend final : public MountedBackend {
 public:
  MemoryPkiBackend(const PkiContext& ctx) : engine_(NewPkiBackend(ctx)) {}
  Result<Response> HandleRequest(const Request& req) override { return engine_->HandleRequest(req); }
  std::vector<std::string> UnauthenticatedPaths() const override { return engine_->UnauthenticatedPaths(); }
  std::vector<std::string> RootPaths() const override { return engine_->RootPaths(); }
  bool Serving() const override { return true; }
  Status Close() override {
    engine_.reset();
    return Status::Ok();
  }

 private:
  std::unique_ptr<PkiBackend> engine_;
};

class MemoryPkiFactory final : public MountBackendFactory {
 public:
  Result<std::unique_ptr<MountedBackend>> Start(const MountSpec& spec, const SystemView* system) override {
    PkiContext ctx;
    ctx.storage = &storages[spec.path];
    ctx.clock = &SystemClock::Instance();
    ctx.system = system;
    ctx.sealer = sealer.get();
    return std::unique_ptr<MountedBackend>(new MemoryPkiBackend(ctx));
  }
  std::map<std::string, MemoryStorage> storages;  // by mount path; outlive the engines (the factory outlives them)
  std::unique_ptr<KeySealer> sealer = NewAesGcmSealer(std::string(32, 'k'));
};

// Every key and value of `s`, in order.
std::map<std::string, std::string> Snapshot(MemoryStorage* s) {
  std::vector<std::pair<std::string, std::string>> all;
  EXPECT_TRUE(s->Scan("", "", 0, &all).ok());
  return {all.begin(), all.end()};
}

std::string Pem(X509_REQ* req) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  std::string pem = ossl::BioContents(bio);
  BIO_free(bio);
  return pem;
}

// A CSR for CN=csr.example.com signed by a new key of `type`/`bits`; with `break_signature`, its last signature
// byte flipped (the request no longer verifies).
std::string MakeCsr(KeyType type, int bits, bool break_signature = false) {
  // GenerateKey makes only the sizes the engine issues with; a weak RSA key comes from OpenSSL directly.
  EVP_PKEY* weak = type == KeyType::kRsa && bits < 2048 ? EVP_RSA_gen(bits) : nullptr;
  auto key = weak ? Result<ossl::PKey>(ossl::PKey(weak)) : GenerateKey(type, bits);
  EXPECT_TRUE(key.ok());
  X509_REQ* req = X509_REQ_new();
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("csr.example.com"),
                             -1, -1, 0);
  X509_REQ_set_subject_name(req, name);
  X509_REQ_set_pubkey(req, key->get());
  X509_REQ_sign(req, key->get(), EVP_sha256());
  if (break_signature) {
    const ASN1_BIT_STRING* sig = nullptr;
    X509_REQ_get0_signature(req, &sig, nullptr);
    auto* bits_data = const_cast<unsigned char*>(ASN1_STRING_get0_data(sig));
    bits_data[ASN1_STRING_length(sig) - 1] ^= 0x01;
  }
  std::string pem = Pem(req);
  X509_NAME_free(name);
  X509_REQ_free(req);
  return pem;
}

struct Row {
  std::string what;
  std::string method;
  std::string path;  // below /v1/
  std::string body;
  int status;
  std::string message;  // a part of the error text; empty: any non-empty message
  std::string content_type = "application/json";
};

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MemoryPkiFactory** factory = &factory_;
    auto started = TestDevServer::Start("server_bad_input_test", kRootToken,
                                        [factory](const DataLayout&) -> Result<std::unique_ptr<MountBackendFactory>> {
      auto f = std::make_unique<MemoryPkiFactory>();
      *factory = f.get();
      return std::unique_ptr<MountBackendFactory>(std::move(f));
    });
    ASSERT_TRUE(started.ok()) << started.status().message();
    server_ = std::move(started).value();
    client_ = std::make_unique<HttpTestClient>(server_->port(), /*reconnect=*/true);  // after the 413
    Ok("POST", "pki/root/generate/internal", R"({"common_name":"Bad Input Root","key_type":"ec","ttl":"720h"})");
    Ok("POST", "pki/roles/web",
       R"({"allowed_domains":["example.com"],"allow_subdomains":true,"max_ttl":"24h","key_type":"ec"})");
    Ok("POST", "pki/roles/rsa", R"({"allowed_domains":["example.com"],"allow_subdomains":true,"key_type":"rsa"})");
    Ok("POST", "pki/roles/any", R"({"allow_any_name":true,"key_type":"any"})");
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  HttpTestClient::Response Send(const Row& r) {
    return client_->Send(r.method, "/v1/" + r.path, r.body, kRootToken, r.body.empty() ? "" : r.content_type);
  }
  void Ok(const std::string& method, const std::string& path, const std::string& body) {
    auto r = client_->Send(method, "/v1/" + path, body, kRootToken, "application/json");
    ASSERT_LT(r.result_int(), 300) << method << " " << path << ": " << r.body();
  }
  // The server's own state a bad request could touch: its mounts and policies, as the API shows them.
  std::string ServerState() {
    std::string out;
    for (const char* path : {"/v1/sys/mounts", "/v1/sys/policy"}) {
      auto r = client_->Send("GET", path, "", kRootToken);
      Json j = Json::parse(r.body(), nullptr, false);
      j.erase("request_id");
      out += j.dump() + "\n";
    }
    return out;
  }

  MemoryPkiFactory* factory_ = nullptr;  // owned by the server
  std::unique_ptr<TestDevServer> server_;
  std::unique_ptr<HttpTestClient> client_;
};

TEST_F(BadInputTest, EachIsRefusedWithAClear4xxAndChangesNothing) {
  const std::string ec_csr = MakeCsr(KeyType::kEc, 256);
  const std::string bad_signature = MakeCsr(KeyType::kEc, 256, /*break_signature=*/true);
  const std::string rsa_1024 = MakeCsr(KeyType::kRsa, 1024);
  auto csr_body = [](const std::string& csr) { return Json{{"csr", csr}, {"common_name", "csr.example.com"}}.dump(); };
  const std::string huge(33 * 1024 * 1024, 'a');

  const std::vector<Row> rows = {
      // Bodies that are not what they claim.
      {"truncated JSON", "POST", "pki/roles/web", R"({"ttl":"1h")", 400, ""},
      {"JSON array", "POST", "pki/roles/web", "[1,2,3]", 400, ""},
      {"JSON string", "POST", "pki/issue/web", R"("svc.example.com")", 400, ""},
      {"invalid UTF-8 in JSON", "POST", "pki/issue/web", "{\"common_name\":\"\xff\xfe.example.com\"}", 400, ""},
      {"body beyond the limit", "POST", "pki/issue/web", huge, 413, ""},
      // Wrong types.
      {"object for a duration", "POST", "pki/roles/web", R"({"ttl":{"h":1}})", 400, "ttl"},
      {"list for a duration", "POST", "pki/roles/web", R"({"max_ttl":[1]})", 400, "max_ttl"},
      {"object for a bool", "POST", "pki/roles/web", R"({"allow_subdomains":{"x":true}})", 400, "allow_subdomains"},
      {"object for a list", "POST", "pki/roles/web", R"({"allowed_domains":{"a":"b"}})", 400, "allowed_domains"},
      {"string for an int", "POST", "pki/roles/web", R"({"key_bits":"many"})", 400, "key_bits"},
      {"number for a serial", "POST", "pki/revoke", R"({"serial_number":{"n":1}})", 400, ""},
      // Unknown paths and operations.
      {"unknown path", "GET", "pki/no/such/path", "", 404, ""},
      {"unknown operation on a path", "DELETE", "pki/issue/web", "", 405, ""},
      {"unknown mount", "GET", "nowhere/roles/web", "", 404, ""},
      {"unknown role", "POST", "pki/issue/nobody", R"({"common_name":"a.example.com"})", 400, "nobody"},
      // TTLs.
      {"negative TTL", "POST", "pki/issue/web", R"({"common_name":"a.example.com","ttl":"-5s"})", 400, "ttl"},
      {"TTL with a unit nobody knows", "POST", "pki/issue/web", R"({"common_name":"a.example.com","ttl":"10x"})",
       400, "ttl"},
      {"TTL beyond any duration", "POST", "pki/roles/web", R"({"ttl":"99999999999999999h"})", 400, "ttl"},
      {"role TTL that is not a duration", "POST", "pki/roles/web", R"({"max_ttl":"soon"})", 400, "max_ttl"},
      // CSRs.
      {"CSR that does not verify", "POST", "pki/sign/web", csr_body(bad_signature), 400, "signature"},
      {"RSA-1024 CSR", "POST", "pki/sign/any", csr_body(rsa_1024), 400, "1024"},
      {"EC CSR on an RSA role", "POST", "pki/sign/rsa", csr_body(ec_csr), 400, ""},
      {"CSR that is not PEM", "POST", "pki/sign/web", csr_body("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"), 400,
       ""},
      {"CSR that is empty", "POST", "pki/sign/web", csr_body(""), 400, "csr"},
      // Names.
      {"NUL in a common name", "POST", "pki/issue/web",
       Json{{"common_name", std::string("a\0.example.com", 14)}}.dump(), 400, ""},
      {"NUL in a SAN", "POST", "pki/issue/web",
       Json{{"common_name", "a.example.com"}, {"alt_names", std::string("b.example.com\0.evil.test", 24)}}.dump(), 400,
       ""},
      {"Cyrillic look-alike of the allowed domain", "POST", "pki/issue/web",
       R"({"common_name":"a.ex\u0430mple.com"})", 400, "not allowed"},
      // (Inside an allowed domain, Vault's idna profile encodes such characters as punycode labels, as this engine
      // does; the tricks that matter are those that leave it.)
      {"right-to-left override in the last label", "POST", "pki/issue/web",
       R"({"common_name":"a.example.com\u202e"})", 400, "not allowed"},
      {"fullwidth dot", "POST", "pki/issue/web", R"({"common_name":"a\uff0eexample.com"})", 400, ""},
      {"IP SAN that is not an IP", "POST", "pki/issue/web",
       R"({"common_name":"a.example.com","ip_sans":"300.1.2.3"})", 400, ""},
      {"URI SAN that is not a URI", "POST", "pki/issue/any", R"({"common_name":"x","uri_sans":"::not a uri::"})",
       400, ""},
      {"other SAN without a type", "POST", "pki/issue/any",
       R"({"common_name":"x","other_sans":"1.3.6.1.4.1.311.20.2.3;garbage"})", 400, ""},
      // Path traversal in serials and names.
      {"traversal in a serial", "GET", "pki/cert/..%2f..%2fsys%2fmounts", "", 400, "segments"},
      {"traversal in a revoke serial", "POST", "pki/revoke", R"({"serial_number":"../../config/ca"})", 400, ""},
      {"traversal in a role name", "POST", "pki/roles/..%2fissuers", R"({"ttl":"1h"})", 400, ""},
      {"traversal in an issuer reference", "GET", "pki/issuer/..%2f..%2fconfig", "", 400, "segments"},
      {"dot segments in the path", "GET", "pki/roles/../issuers", "", 400, ""},
      {"traversal in a mount path", "POST", "sys/mounts/..%2f..%2fetc", R"({"type":"pki"})", 400, ""},
      {"mount of an unknown type", "POST", "sys/mounts/x", R"({"type":5})", 400, ""},
  };

  MemoryStorage* storage = &factory_->storages["pki/"];
  const auto before = Snapshot(storage);
  ASSERT_GT(before.size(), 5u);
  const std::string server_before = ServerState();
  for (const Row& row : rows) {
    auto r = Send(row);
    EXPECT_EQ(r.result_int(), row.status) << row.what << ": " << r.body();
    Json body = Json::parse(r.body(), nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("errors") && body["errors"].is_array()) << row.what << ": "
                                                                                            << r.body();
    if (row.status != 404) {  // Vault's 404s may carry no message ({"errors":[]})
      ASSERT_EQ(body["errors"].size(), 1u) << row.what << ": " << r.body();
      const std::string message = body["errors"][0].get<std::string>();
      EXPECT_FALSE(message.empty()) << row.what;
      EXPECT_NE(message.find(row.message), std::string::npos) << row.what << ": " << message;
    }
    EXPECT_EQ(Snapshot(storage), before) << row.what << " changed the engine's storage";
  }
  EXPECT_EQ(ServerState(), server_before);
  // And the server still serves.
  auto ok = client_->Send("POST", "/v1/pki/issue/web", R"({"common_name":"after.example.com"})", kRootToken,
                          "application/json");
  EXPECT_EQ(ok.result_int(), 200) << ok.body();
}

}  // namespace
}  // namespace pki::server
