// Tests for the audit log: the HMAC, the allowlist of clear keys, the line format written through VaultApi (with
// a fake engine behind a MountTable), failure semantics (a sink that cannot write stops the request before the
// engine sees it), sys/audit-hash, and the file sink (mode, append, reopen, no interleaving).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "src/core/clock.h"
#include "src/server/audit_log.h"
#include "src/server/mount_table.h"
#include "src/server/policy_store.h"
#include "src/server/sys_backend.h"
#include "src/server/token_backend.h"
#include "src/server/token_store.h"
#include "src/server/vault_api.h"
#include "storage/memory_storage.h"

namespace pki::server {
namespace {

constexpr char kToken[] = "s.audit-root-token";
constexpr char kPrivateKey[] = "-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----\n";

// Lines kept in memory; can be told to fail from the n-th append on.
class MemorySink final : public AuditSink {
 public:
  Status Append(std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail_from >= 0 && appends >= fail_from) {
      ++appends;
      return Status::Internal("disk full");
    }
    ++appends;
    lines.emplace_back(line);
    return Status::Ok();
  }
  Status Reopen() override {
    ++reopens;
    return Status::Ok();
  }
  std::mutex mu;
  int fail_from = -1;  // -1: never fail
  int appends = 0;
  int reopens = 0;
  std::vector<std::string> lines;
};

class FakeEngine final : public MountedBackend {
 public:
  Result<Response> HandleRequest(const Request& req) override {
    ++calls;
    if (handler) return handler(req);
    return Response::Data({{"path", req.path}});
  }
  std::vector<std::string> UnauthenticatedPaths() const override { return {"ca", "crl"}; }
  bool Serving() const override { return true; }
  Status Close() override { return Status::Ok(); }

  std::function<Result<Response>(const Request&)> handler;
  std::atomic<int> calls{0};
};

class FakeFactory final : public MountBackendFactory {
 public:
  Result<std::unique_ptr<MountedBackend>> Start(const MountSpec& spec, const SystemView*) override {
    auto engine = std::make_unique<FakeEngine>();
    engines[spec.path] = engine.get();
    return std::unique_ptr<MountedBackend>(std::move(engine));
  }
  std::map<std::string, FakeEngine*> engines;
};

// ---- HMAC and the allowlist

TEST(AuditHashTest, HmacSha256OfAKnownInput) {
  // RFC 4231-style check against the well-known HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
  AuditLog log(std::make_unique<MemorySink>(), "key");
  EXPECT_EQ(log.Hash("The quick brown fox jumps over the lazy dog"),
            "hmac-sha256:f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  // RFC 4231 test case 2.
  AuditLog jefe(std::make_unique<MemorySink>(), "Jefe");
  EXPECT_EQ(jefe.Hash("what do ya want for nothing?"),
            "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Different keys, different hashes: one server's log says nothing about another's.
  EXPECT_NE(log.Hash("x"), jefe.Hash("x"));
}

TEST(AuditHashTest, StringsAreHashedExceptUnderClearKeysAtAnyDepth) {
  AuditLog log(std::make_unique<MemorySink>(), "k");
  Json data = {{"serial_number", "3a:f1"},
               {"private_key", kPrivateKey},
               {"common_name", "a.example.com"},
               {"alt_names", {"b.example.com", "c.example.com"}},
               {"ca_chain", {"CHAIN-1", "CHAIN-2"}},
               {"ttl", "72h"},
               {"key_bits", 2048},
               {"exclude_cn_from_sans", true},
               {"nothing", nullptr},
               {"revocation_time_rfc3339", "2024-05-01T10:00:00.5+02:00"},
               {"when", "2024-05-01T10:00:00Z"},
               {"nested", {{"key_name", "k1"}, {"secret", "hunter2"}, {"deeper", {{"list", {{{"x", "y"}}}}}}}},
               // The nearest enclosing key decides: a secret inside an allowlisted key is still hashed.
               {"role", {{"token", "inner-secret"}}}};
  std::string out;
  log.AppendHashedJson(&out, data, false);
  Json j = Json::parse(out);
  EXPECT_EQ(j["serial_number"], "3a:f1");
  EXPECT_EQ(j["private_key"], log.Hash(kPrivateKey));
  EXPECT_EQ(j["common_name"], "a.example.com");
  EXPECT_EQ(j["alt_names"], Json({"b.example.com", "c.example.com"}));
  EXPECT_EQ(j["ca_chain"], Json({log.Hash("CHAIN-1"), log.Hash("CHAIN-2")}));
  EXPECT_EQ(j["ttl"], "72h");
  EXPECT_EQ(j["key_bits"], 2048);
  EXPECT_EQ(j["exclude_cn_from_sans"], true);
  EXPECT_TRUE(j["nothing"].is_null());
  EXPECT_EQ(j["revocation_time_rfc3339"], "2024-05-01T10:00:00.5+02:00");
  EXPECT_EQ(j["when"], "2024-05-01T10:00:00Z");  // timestamps stay in clear, as in Vault
  EXPECT_EQ(j["nested"]["key_name"], "k1");
  EXPECT_EQ(j["nested"]["secret"], log.Hash("hunter2"));
  EXPECT_EQ(j["nested"]["deeper"]["list"][0]["x"], log.Hash("y"));
  EXPECT_EQ(j["role"]["token"], log.Hash("inner-secret"));
  EXPECT_EQ(out.find("MIIsecret"), std::string::npos);
  EXPECT_EQ(out.find("hunter2"), std::string::npos);
}

TEST(AuditHashTest, ClearKeysListTheSerialsAndNoSecret) {
  std::set<std::string_view> keys(kAuditClearKeys.begin(), kAuditClearKeys.end());
  for (const char* k : {"serial_number", "serial", "common_name", "alt_names", "ip_sans", "uri_sans", "ttl",
                        "expiration", "revocation_time", "key_type", "key_bits", "format", "issuer_id", "key_id"}) {
    EXPECT_EQ(keys.count(k), 1u) << k;
  }
  for (const char* k : {"private_key", "pem_bundle", "certificate", "issuing_ca", "ca_chain", "csr", "id", "token",
                        "client_token", "input", "hash", "http_raw_body", "sealed_private_key"}) {
    EXPECT_EQ(keys.count(k), 0u) << k;
  }
}

TEST(AuditHashTest, Rfc3339AsGoParsesIt) {
  for (const char* ok : {"2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:00+02:00",
                         "1999-12-31T23:59:59-08:30"}) {
    EXPECT_TRUE(IsRfc3339Timestamp(ok)) << ok;
  }
  for (const char* bad : {"", "2024-05-01", "2024-05-01 10:00:00Z", "2024-05-01T10:00:00", "2024-13-01T10:00:00Z",
                          "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00Zjunk", "2024-05-01T25:00:00Z",
                          "2024-05-01T10:00:00+0200", "hunter2-05-01T10:00:00Z"}) {
    EXPECT_FALSE(IsRfc3339Timestamp(bad)) << bad;
  }
}

TEST(AuditKeyTest, CreatedOnceAndKept) {
  MemoryStorage storage;
  auto a = AuditLog::LoadOrCreateKey(&storage);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->size(), 32u);
  auto b = AuditLog::LoadOrCreateKey(&storage);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  MemoryStorage other;
  EXPECT_NE(*AuditLog::LoadOrCreateKey(&other), *a);
}

// ---- through VaultApi

class AuditApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/server_audit_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto t = MountTable::Open(&storage_, &factory_, dir_ + "/mounts");
    ASSERT_TRUE(t.ok()) << t.status().message();
    table_ = std::move(t).value();
    MountEntry pki;
    pki.path = "pki/";
    pki.type = "pki";
    ASSERT_TRUE(table_->AddMount(pki).ok());
    engine_ = factory_.engines.at("pki/");
    auto policies = PolicyStore::Open(&storage_);
    ASSERT_TRUE(policies.ok()) << policies.status().message();
    policies_ = std::move(policies).value();
    ASSERT_TRUE(tokens_.EnsureToken(kToken, {"root"}, "root").ok());
    auto root = tokens_.Lookup(kToken);
    ASSERT_TRUE(root.has_value());
    accessor_ = root->accessor;
    token_auth_ = std::make_unique<TokenBackend>(&tokens_, policies_.get(), &clock_);
    sys_ = std::make_unique<SysBackend>(table_.get(), ClusterIdentity{"pki-cluster-test", "cid"}, &clock_);
    auto sink = std::make_unique<MemorySink>();
    sink_ = sink.get();
    audit_ = std::make_unique<AuditLog>(std::move(sink), "server-key");
    audit_hash_ = std::make_unique<AuditHashBackend>(audit_.get());
    std::vector<BuiltinMount> builtins = {{"sys/audit-hash/", "system", audit_hash_.get(), true, "sys/"},
                                          {"sys/", "system", sys_.get(), true},
                                          {"auth/token/", "token", token_auth_.get(), false}};
    api_ = std::make_unique<VaultApi>(table_.get(), std::move(builtins), &tokens_, policies_.get(), audit_.get());
  }
  void TearDown() override {
    api_.reset();
    table_.reset();
    std::filesystem::remove_all(dir_);
  }

  HttpResponse Call(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& token = kToken) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.remote_address = "192.0.2.7";
    req.remote_port = 40123;
    if (!token.empty()) req.headers.emplace_back("X-Vault-Token", token);
    return api_->Handle(req);
  }

  // Every line parsed (each must be one JSON object ending in exactly one newline).
  std::vector<Json> Lines() {
    std::vector<Json> out;
    for (const auto& l : sink_->lines) {
      EXPECT_FALSE(l.empty());
      EXPECT_EQ(l.back(), '\n');
      EXPECT_EQ(l.find('\n'), l.size() - 1) << l;
      out.push_back(Json::parse(l));
    }
    return out;
  }
  std::string All() {
    std::string all;
    for (const auto& l : sink_->lines) all += l;
    return all;
  }

  std::string dir_;
  MemoryStorage storage_;
  FakeFactory factory_;
  FakeClock clock_{1700000000};
  std::unique_ptr<PolicyStore> policies_;
  TokenStore tokens_{&storage_, &clock_};
  std::string accessor_;  // the root token's
  std::unique_ptr<TokenBackend> token_auth_;
  std::unique_ptr<MountTable> table_;
  FakeEngine* engine_ = nullptr;
  std::unique_ptr<SysBackend> sys_;
  MemorySink* sink_ = nullptr;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<AuditHashBackend> audit_hash_;
  std::unique_ptr<VaultApi> api_;
};

TEST_F(AuditApiTest, IssueWritesARequestAndAResponseLineWithSecretsHashed) {
  engine_->handler = [](const Request&) {
    return Response::Data({{"serial_number", "3a:f1:00"},
                           {"certificate", "CERT-PEM"},
                           {"private_key", kPrivateKey},
                           {"private_key_type", "ec"},
                           {"expiration", 1700003600}});
  };
  HttpResponse r = Call("POST", "/v1/pki/issue/web", R"({"common_name":"a.example.com","ttl":"1h","note":"x"})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json body = Json::parse(r.body);

  std::vector<Json> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  const Json& req = lines[0];
  const Json& resp = lines[1];
  EXPECT_EQ(req["type"], "request");
  EXPECT_EQ(resp["type"], "response");
  EXPECT_TRUE(IsRfc3339Timestamp(req["time"].get<std::string>())) << req["time"];
  // The same id on both lines and in the client's envelope.
  EXPECT_EQ(req["request"]["id"], body["request_id"]);
  EXPECT_EQ(resp["request"]["id"], body["request_id"]);
  // Who: the token only as its HMAC, the accessor in clear.
  EXPECT_EQ(req["auth"]["client_token"], audit_->Hash(kToken));
  EXPECT_EQ(req["auth"]["accessor"], accessor_);
  EXPECT_EQ(req["auth"]["display_name"], "root");
  EXPECT_EQ(req["auth"]["policies"], Json({"root"}));
  EXPECT_EQ(req["request"]["client_token"], audit_->Hash(kToken));
  EXPECT_EQ(req["request"]["client_token_accessor"], accessor_);
  // What and from where.
  EXPECT_EQ(req["request"]["operation"], "update");
  EXPECT_EQ(req["request"]["path"], "pki/issue/web");
  EXPECT_EQ(req["request"]["mount_point"], "pki/");
  EXPECT_EQ(req["request"]["mount_type"], "pki");
  EXPECT_EQ(req["request"]["remote_address"], "192.0.2.7");
  EXPECT_EQ(req["request"]["remote_port"], 40123);
  EXPECT_EQ(req["request"]["data"]["common_name"], "a.example.com");
  EXPECT_EQ(req["request"]["data"]["ttl"], "1h");
  EXPECT_EQ(req["request"]["data"]["note"], audit_->Hash("x"));
  EXPECT_FALSE(req.contains("error"));
  EXPECT_FALSE(req.contains("response"));
  // The outcome.
  EXPECT_EQ(resp["response"]["status"], 200);
  EXPECT_EQ(resp["response"]["mount_type"], "pki");
  EXPECT_EQ(resp["response"]["data"]["serial_number"], "3a:f1:00");
  EXPECT_EQ(resp["response"]["data"]["private_key_type"], "ec");
  EXPECT_EQ(resp["response"]["data"]["expiration"], 1700003600);
  EXPECT_EQ(resp["response"]["data"]["private_key"], audit_->Hash(kPrivateKey));
  EXPECT_EQ(resp["response"]["data"]["certificate"], audit_->Hash("CERT-PEM"));
  EXPECT_EQ(resp["auth"], req["auth"]);
  EXPECT_EQ(resp["request"], req["request"]);

  std::string all = All();
  EXPECT_EQ(all.find(kToken), std::string::npos);
  EXPECT_EQ(all.find("MIIsecret"), std::string::npos);
  EXPECT_EQ(all.find("CERT-PEM"), std::string::npos);
}

TEST_F(AuditApiTest, ARequestLineThatCannotBeWrittenStopsTheRequestBeforeTheEngine) {
  sink_->fail_from = 0;
  HttpResponse r = Call("POST", "/v1/pki/issue/web", R"({"common_name":"a.example.com"})");
  EXPECT_EQ(r.status, 500);
  // Vault's text for its ErrInternalError in a multierror.
  EXPECT_EQ(Json::parse(r.body), Json({{"errors", {"1 error occurred:\n\t* internal error\n\n"}}}));
  EXPECT_EQ(engine_->calls.load(), 0);
  // Unauthenticated paths too.
  EXPECT_EQ(Call("GET", "/v1/pki/ca", "", "").status, 500);
  EXPECT_EQ(engine_->calls.load(), 0);
  // Once the sink works again, so do requests.
  sink_->fail_from = -1;
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", R"({"common_name":"a.example.com"})").status, 200);
  EXPECT_EQ(engine_->calls.load(), 1);
}

TEST_F(AuditApiTest, AResponseLineThatCannotBeWrittenTurnsTheAnswerInto500) {
  sink_->fail_from = 1;  // the request line is written, the response line is not
  engine_->handler = [](const Request&) { return Response::Data({{"private_key", kPrivateKey}}); };
  HttpResponse r = Call("POST", "/v1/pki/issue/web", "{}");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Json::parse(r.body), Json({{"errors", {"1 error occurred:\n\t* internal error\n\n"}}}));
  EXPECT_EQ(r.body.find("MIIsecret"), std::string::npos);
  EXPECT_EQ(engine_->calls.load(), 1);  // as in Vault, the request did run
  EXPECT_EQ(sink_->lines.size(), 1u);
}

TEST_F(AuditApiTest, BadTokenIsLoggedWithItsErrorAndNoResponseLine) {
  HttpResponse r = Call("GET", "/v1/pki/roles/web", "", "not-the-token");
  EXPECT_EQ(r.status, 403);
  std::vector<Json> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["type"], "request");
  EXPECT_EQ(lines[0]["error"], "permission denied");
  EXPECT_EQ(lines[0]["auth"], Json::object());
  EXPECT_EQ(lines[0]["request"]["client_token"], audit_->Hash("not-the-token"));
  EXPECT_FALSE(lines[0]["request"].contains("client_token_accessor"));
  EXPECT_EQ(All().find("not-the-token"), std::string::npos);
  // A refusal stays a 403 even when it cannot be logged (Vault only reports that failure).
  sink_->fail_from = 0;
  EXPECT_EQ(Call("GET", "/v1/pki/roles/web", "", "").status, 403);
  EXPECT_EQ(engine_->calls.load(), 0);
}

TEST_F(AuditApiTest, UnauthenticatedAndErrorAndUnknownPathsAreLogged) {
  EXPECT_EQ(Call("GET", "/v1/pki/ca", "", "").status, 200);
  engine_->handler = [](const Request&) -> Result<Response> { return Status::BadRequest("unknown role web"); };
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}").status, 400);
  EXPECT_EQ(Call("GET", "/v1/nope/x").status, 404);
  std::vector<Json> lines = Lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0]["auth"], Json::object());
  EXPECT_FALSE(lines[0]["request"].contains("client_token"));
  EXPECT_EQ(lines[1]["response"]["status"], 200);
  EXPECT_EQ(lines[3]["response"]["status"], 400);
  EXPECT_EQ(lines[3]["error"], "unknown role web");
  EXPECT_FALSE(lines[3]["response"].contains("data"));
  EXPECT_EQ(lines[4]["request"]["path"], "nope/x");
  EXPECT_FALSE(lines[4]["request"].contains("mount_point"));
  EXPECT_EQ(lines[5]["response"]["status"], 404);
  EXPECT_EQ(lines[5]["error"], "no handler for route \"nope/x\". route entry not found.");
}

TEST_F(AuditApiTest, HealthIsNotLoggedButOtherSysPathsAre) {
  EXPECT_EQ(Call("GET", "/v1/sys/health", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/sys/seal-status", "", "").status, 200);
  EXPECT_TRUE(sink_->lines.empty());
  EXPECT_EQ(Call("GET", "/v1/sys/mounts").status, 200);
  std::vector<Json> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["request"]["mount_type"], "system");
  EXPECT_EQ(lines[0]["request"]["path"], "sys/mounts");
}

TEST_F(AuditApiTest, RawResponsesAreLoggedByTypeAndSizeOnly) {
  std::string der(5000, '\x30');
  engine_->handler = [der](const Request&) { return Response::Raw("application/pkix-crl", der); };
  HttpResponse r = Call("GET", "/v1/pki/crl", "", "");
  ASSERT_EQ(r.status, 200);
  std::vector<Json> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["response"]["data"],
            Json({{"http_content_type", "application/pkix-crl"}, {"http_raw_body_bytes", 5000},
                  {"http_status_code", 200}}));
  EXPECT_LT(sink_->lines[1].size(), 1000u);
}

TEST_F(AuditApiTest, LookupSelfResponseHidesTheTokenId) {
  ASSERT_EQ(Call("GET", "/v1/auth/token/lookup-self").status, 200);
  std::vector<Json> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["response"]["data"]["id"], audit_->Hash(kToken));
  EXPECT_EQ(lines[1]["response"]["data"]["accessor"], audit_->Hash(accessor_));  // data: not on the allowlist
  EXPECT_EQ(lines[1]["request"]["mount_point"], "auth/token/");
  EXPECT_EQ(All().find(kToken), std::string::npos);
}

TEST_F(AuditApiTest, ACreatedTokenIsLoggedHashedWithItsAccessorAndPolicies) {
  HttpResponse created = Call("POST", "/v1/auth/token/create", R"({"policies":["default"],"ttl":"1h"})");
  ASSERT_EQ(created.status, 200) << created.body;
  const Json auth = Json::parse(created.body)["auth"];
  const std::string token = auth["client_token"];
  std::vector<Json> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  const Json& logged = lines[1]["response"]["auth"];
  EXPECT_EQ(logged["client_token"], audit_->Hash(token));
  EXPECT_EQ(logged["accessor"], auth["accessor"]);
  EXPECT_EQ(logged["policies"], Json::array({"default"}));
  EXPECT_EQ(logged["lease_duration"], 3600);
  EXPECT_EQ(All().find(token), std::string::npos);
  EXPECT_EQ(All().find(token.substr(4)), std::string::npos);
}

TEST_F(AuditApiTest, AuditHashAnswersTheLogsHmac) {
  HttpResponse r = Call("POST", "/v1/sys/audit-hash/file", Json({{"input", kToken}}).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["data"]["hash"], audit_->Hash(kToken));
  EXPECT_EQ(j["hash"], audit_->Hash(kToken));  // sys/ answers also carry data at the top level
  EXPECT_EQ(Call("PUT", "/v1/sys/audit-hash/file/", Json({{"input", "x"}}).dump()).status, 200);
  // Its own lines: the input hashed, mount point sys/.
  std::vector<Json> lines = Lines();
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0]["request"]["mount_point"], "sys/");
  EXPECT_EQ(lines[0]["request"]["path"], "sys/audit-hash/file");
  EXPECT_EQ(lines[0]["request"]["data"]["input"], audit_->Hash(kToken));
  EXPECT_EQ(All().find(kToken), std::string::npos);

  r = Call("POST", "/v1/sys/audit-hash/syslog", Json({{"input", "x"}}).dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body), Json({{"errors", {"unknown audit backend \"syslog/\""}}}));
  r = Call("POST", "/v1/sys/audit-hash/file", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body), Json({{"errors", {"the \"input\" parameter is empty"}}}));
  EXPECT_EQ(Call("POST", "/v1/sys/audit-hash/file", Json({{"input", "x"}}).dump(), "").status, 403);
  EXPECT_EQ(Call("GET", "/v1/sys/audit-hash/file").status, 405);
  // Other sys/ paths still reach SysBackend.
  EXPECT_EQ(Call("GET", "/v1/sys/mounts").status, 200);
}

TEST(AuditHashBackendTest, WithoutADeviceEveryNameIsUnknown) {
  AuditHashBackend backend(nullptr);
  Request req;
  req.operation = Operation::kUpdate;
  req.path = "file";
  req.data = {{"input", "x"}};
  auto r = backend.HandleRequest(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "unknown audit backend \"file/\"");
}

// ---- the file sink

class AuditFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/server_audit_file.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/audit.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static std::string Read(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::string dir_;
  std::string path_;
};

TEST_F(AuditFileTest, CreatesWithMode0600AndAppends) {
  auto sink = AuditFileSink::Open(path_);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE((*sink)->Append("one\n").ok());
  ASSERT_TRUE((*sink)->Append("two\n").ok());
  EXPECT_EQ(Read(path_), "one\ntwo\n");
  // An existing file is appended to, never truncated.
  sink->reset();
  auto again = AuditFileSink::Open(path_);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Append("three\n").ok());
  EXPECT_EQ(Read(path_), "one\ntwo\nthree\n");
}

TEST_F(AuditFileTest, OpenFailsWhenThePathCannotBeWritten) {
  EXPECT_FALSE(AuditFileSink::Open(dir_ + "/missing-dir/audit.log").ok());
  EXPECT_FALSE(AuditFileSink::Open(dir_).ok());  // a directory
  EXPECT_FALSE(AuditFileSink::Open("").ok());
}

TEST_F(AuditFileTest, ReopenFollowsRotationAndFailsWhileThePathIsUnusable) {
  auto opened = AuditFileSink::Open(path_);
  ASSERT_TRUE(opened.ok());
  AuditFileSink& sink = **opened;
  ASSERT_TRUE(sink.Append("a\n").ok());
  // Rotation: the file is moved away; until the reopen lines still go to it.
  std::filesystem::rename(path_, path_ + ".1");
  ASSERT_TRUE(sink.Append("b\n").ok());
  ASSERT_TRUE(sink.Reopen().ok());
  ASSERT_TRUE(sink.Append("c\n").ok());
  EXPECT_EQ(Read(path_ + ".1"), "a\nb\n");
  EXPECT_EQ(Read(path_), "c\n");
  // A directory put in its place: the reopen fails, and so does every write until the path works again.
  std::filesystem::rename(path_, path_ + ".2");
  std::filesystem::create_directory(path_);
  EXPECT_FALSE(sink.Reopen().ok());
  Status st = sink.Append("d\n");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path_), std::string::npos);
  std::filesystem::remove(path_);
  ASSERT_TRUE(sink.Append("e\n").ok());  // each write retries the open, as Vault's file device
  EXPECT_EQ(Read(path_), "e\n");
}

TEST_F(AuditFileTest, ConcurrentLinesNeverInterleave) {
  auto opened = AuditFileSink::Open(path_);
  ASSERT_TRUE(opened.ok());
  AuditFileSink& sink = **opened;
  constexpr int kThreads = 8, kLines = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sink, t] {
      for (int i = 0; i < kLines; ++i) {
        std::string line = std::to_string(t) + ":" + std::string(100 + (i * 37) % 5000, static_cast<char>('a' + t));
        EXPECT_TRUE(sink.Append(line + "\n").ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::istringstream in(Read(path_));
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    ++count;
    ASSERT_GE(line.size(), 3u);
    int t = line[0] - '0';
    ASSERT_EQ(line[1], ':');
    EXPECT_EQ(line.find_first_not_of(static_cast<char>('a' + t), 2), std::string::npos);
  }
  EXPECT_EQ(count, kThreads * kLines);
}

TEST_F(AuditFileTest, AuditLogOpenKeepsItsKeyInStorage) {
  MemoryStorage storage;
  auto a = AuditLog::Open(path_, &storage);
  ASSERT_TRUE(a.ok()) << a.status().message();
  std::string h = (*a)->Hash("tok");
  a->reset();
  auto b = AuditLog::Open(path_, &storage);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->Hash("tok"), h);  // the same HMAC across restarts: old logs stay searchable
}

}  // namespace
}  // namespace pki::server
