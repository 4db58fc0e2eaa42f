// Tests for VaultApi over a MountTable of fake engines: token checks, unauthenticated paths, mount routing,
// sys/mounts, tune parsing and persistence of the mount table.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "src/server/envelope.h"
#include "src/server/mount_table.h"
#include "src/server/policy_backend.h"
#include "src/server/policy_store.h"
#include "src/server/sys_backend.h"
#include "src/server/token_backend.h"
#include "src/server/token_store.h"
#include "src/server/vault_api.h"
#include "storage/memory_storage.h"

namespace pki::server {
namespace {

constexpr char kToken[] = "s.root-token";

// An engine that records its requests and answers with `handler` (default: echo of path, operation and data).
class FakeEngine final : public MountedBackend {
 public:
  explicit FakeEngine(const SystemView* system) : system(system) {}

  Result<Response> HandleRequest(const Request& req) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      requests.push_back(req);
    }
    if (handler) return handler(req);
    return Response::Data({{"path", req.path}, {"op", OperationName(req.operation)}, {"data", req.data},
                           {"mount_point", req.mount_point}});
  }
  std::vector<std::string> UnauthenticatedPaths() const override {
    return {"ca", "cert/*", "issuer/+/pem", "issuers/", "ocsp"};
  }
  std::vector<std::string> RootPaths() const override { return {"root", "root/sign-self-issued"}; }
  bool Serving() const override { return serving.load(); }
  Status Close() override {
    ++closes;
    return Status::Ok();
  }

  Request last() {
    std::lock_guard<std::mutex> lock(mu);
    return requests.back();
  }

  const SystemView* system;
  std::function<Result<Response>(const Request&)> handler;
  std::atomic<bool> serving{true};
  std::atomic<int> closes{0};
  std::mutex mu;
  std::vector<Request> requests;  // guarded by mu
};

// Hands out FakeEngines and remembers them by mount path. Engines are owned by the mounts; `closed` survives them.
class FakeFactory final : public MountBackendFactory {
 public:
  Result<std::unique_ptr<MountedBackend>> Start(const MountSpec& spec, const SystemView* system) override {
    if (!fail.ok()) return fail;
    auto engine = std::make_unique<FakeEngine>(system);
    engines[spec.path] = engine.get();
    specs[spec.path] = spec;
    return std::unique_ptr<MountedBackend>(std::move(engine));
  }
  Status fail;
  std::map<std::string, FakeEngine*> engines;  // by mount path; dangling after an unmount
  std::map<std::string, MountSpec> specs;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/server_api_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto policies = PolicyStore::Open(&storage_);
    ASSERT_TRUE(policies.ok()) << policies.status().message();
    policies_ = std::move(policies).value();
    ASSERT_TRUE(tokens_.EnsureToken(kToken, {"root"}, "root").ok());
    token_auth_ = std::make_unique<TokenBackend>(&tokens_, policies_.get(), &clock_);
    policy_backend_ = std::make_unique<PolicyBackend>(policies_.get(), &tokens_);
    OpenTable();
    MountEntry pki;
    pki.path = "pki/";
    pki.type = "pki";
    ASSERT_TRUE(table_->AddMount(pki).ok());
  }
  void TearDown() override {
    api_.reset();
    sys_.reset();
    table_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenTable() {
    api_.reset();
    sys_.reset();
    table_.reset();
    auto t = MountTable::Open(&storage_, &factory_, dir_ + "/mounts");
    ASSERT_TRUE(t.ok()) << t.status().message();
    table_ = std::move(t).value();
    sys_ = std::make_unique<SysBackend>(table_.get(), ClusterIdentity{"pki-cluster-test", "cid"}, &clock_,
                                        policy_backend_.get());
    api_ = std::make_unique<VaultApi>(
        table_.get(),
        std::vector<BuiltinMount>{{"sys/", "system", sys_.get(), true}, {"auth/token/", "token", token_auth_.get(), false}},
        &tokens_, policies_.get());
  }

  HttpResponse Call(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& token = kToken,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = std::move(headers);
    if (!token.empty()) req.headers.emplace_back("X-Vault-Token", token);
    return api_->Handle(req);
  }

  static Json J(const HttpResponse& r) { return r.body.empty() ? Json() : Json::parse(r.body); }
  FakeEngine* Engine(const std::string& path) { return factory_.engines.at(path); }

  std::string dir_;
  MemoryStorage storage_;
  FakeFactory factory_;
  FakeClock clock_{1700000000};
  std::unique_ptr<PolicyStore> policies_;
  TokenStore tokens_{&storage_, &clock_};
  std::unique_ptr<TokenBackend> token_auth_;
  std::unique_ptr<PolicyBackend> policy_backend_;
  std::unique_ptr<MountTable> table_;
  std::unique_ptr<SysBackend> sys_;
  std::unique_ptr<VaultApi> api_;
};

// ---- token

TEST_F(ApiTest, NoOrBadTokenIs403) {
  for (const std::string token : {"", "wrong", "s.root-token ", "S.ROOT-TOKEN"}) {
    HttpResponse r = Call("GET", "/v1/pki/roles/web", "", token);
    EXPECT_EQ(r.status, 403) << token;
    EXPECT_EQ(J(r), Json({{"errors", {"permission denied"}}}));
  }
  EXPECT_TRUE(Engine("pki/")->requests.empty());
}

TEST_F(ApiTest, TokenFromHeaderOrBearer) {
  EXPECT_EQ(Call("GET", "/v1/pki/roles/web").status, 200);
  EXPECT_EQ(Call("GET", "/v1/pki/roles/web", "", "", {{"Authorization", std::string("Bearer ") + kToken}}).status,
            200);
  EXPECT_EQ(Call("GET", "/v1/pki/roles/web", "", "", {{"authorization", std::string("Basic ") + kToken}}).status,
            403);
}

TEST(TokenStoreTest, ComparesWholeTokens) {
  MemoryStorage storage;
  FakeClock clock(1700000000);
  TokenStore store(&storage, &clock);
  ASSERT_TRUE(store.EnsureToken("abc", {"root"}, "root").ok());
  EXPECT_TRUE(store.Lookup("abc").has_value());
  EXPECT_FALSE(store.Lookup("").has_value());
  EXPECT_FALSE(store.Lookup("ab").has_value());
  EXPECT_FALSE(store.Lookup("abcd").has_value());
  HttpRequest req;
  req.headers = {{"Authorization", "Bearer   tok  "}};
  EXPECT_EQ(TokenStore::ClientToken(req), "tok");
  req.headers.emplace_back("x-vault-token", "vt");
  EXPECT_EQ(TokenStore::ClientToken(req), "vt");  // X-Vault-Token wins
}

// ---- unauthenticated paths

TEST_F(ApiTest, UnauthenticatedPathsNeedNoToken) {
  for (const char* target : {"/v1/pki/ca", "/v1/pki/cert/3a-f1", "/v1/pki/issuer/default/pem", "/v1/pki/issuers"}) {
    const char* method = std::string(target) == "/v1/pki/issuers" ? "LIST" : "GET";
    EXPECT_EQ(Call(method, target, "", "").status, 200) << target;
  }
  EXPECT_EQ(Call("POST", "/v1/pki/ocsp", "", "", {{"Content-Type", "application/ocsp-request"}}).status, 200);
  // Near misses still need the token.
  for (const char* target : {"/v1/pki/ca/pem", "/v1/pki/issuer/default/json", "/v1/pki/issuer/a/b/pem",
                             "/v1/pki/issuers", "/v1/pki/cert"}) {
    EXPECT_EQ(Call("GET", target, "", "").status, 403) << target;
  }
}

TEST_F(ApiTest, UnknownMountIs403WithoutTokenAnd404WithIt) {
  EXPECT_EQ(Call("GET", "/v1/nope/x", "", "").status, 403);
  HttpResponse r = Call("GET", "/v1/nope/x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(J(r), Json({{"errors", {"no handler for route \"nope/x\". route entry not found."}}}));
}

// ---- routing

TEST_F(ApiTest, RequestsReachTheEngineMountRelative) {
  HttpResponse r = Call("POST", "/v1/pki/roles/web", R"({"ttl":"1h"})");
  ASSERT_EQ(r.status, 200);
  Request req = Engine("pki/")->last();
  EXPECT_EQ(req.operation, Operation::kUpdate);
  EXPECT_EQ(req.path, "roles/web");
  EXPECT_EQ(req.mount_point, "pki/");
  EXPECT_EQ(req.data, Json({{"ttl", "1h"}}));
  EXPECT_EQ(J(r)["mount_type"], "pki");
  EXPECT_EQ(J(r)["request_id"].get<std::string>().size(), 36u);
}

TEST_F(ApiTest, ListSpellingsReachTheEngineAsList) {
  Engine("pki/")->handler = [](const Request&) { return Response::Data({{"keys", {"web"}}}); };
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"LIST", "/v1/pki/roles"}, {"GET", "/v1/pki/roles?list=True"}, {"GET", "/v1/pki/roles/?list=1"}}) {
    HttpResponse r = Call(method, target);
    EXPECT_EQ(r.status, 200) << method << " " << target;
    EXPECT_EQ(J(r)["data"]["keys"], Json::array({"web"}));
    Request req = Engine("pki/")->last();
    EXPECT_EQ(req.operation, Operation::kList);
    EXPECT_EQ(req.path, "roles/");
  }
  Engine("pki/")->handler = [](const Request&) { return Response::Data({{"keys", Json::array()}}); };
  HttpResponse empty = Call("LIST", "/v1/pki/roles");
  EXPECT_EQ(empty.status, 404);
  EXPECT_EQ(J(empty), Json({{"errors", Json::array()}}));
}

TEST_F(ApiTest, LongestMountPrefixWins) {
  for (const char* path : {"pki-int/", "team/a/pki/"}) {
    MountEntry e;
    e.path = path;
    e.type = "pki";
    ASSERT_TRUE(table_->AddMount(e).ok()) << path;
  }
  EXPECT_EQ(Call("GET", "/v1/pki-int/roles/x").status, 200);
  EXPECT_EQ(Engine("pki-int/")->last().path, "roles/x");
  EXPECT_EQ(Call("GET", "/v1/team/a/pki/roles/y").status, 200);
  EXPECT_EQ(Engine("team/a/pki/")->last().path, "roles/y");
  EXPECT_EQ(Call("GET", "/v1/pki").status, 200);  // "pki" means "pki/"
  EXPECT_EQ(Engine("pki/")->last().path, "");
  EXPECT_EQ(Call("GET", "/v1/pkix/roles").status, 404);
  EXPECT_EQ(Call("GET", "/v1/team/a/roles").status, 404);
  EXPECT_EQ(Engine("pki/")->requests.size(), 1u);
}

TEST_F(ApiTest, EngineErrorsAndNilMapLikeVault) {
  FakeEngine* e = Engine("pki/");
  e->handler = [](const Request& req) -> Result<Response> {
    if (req.path == "bad") return Status::BadRequest("role not found");
    if (req.path == "nil") return Response::Nil();
    if (req.path == "boom") return Status::Internal("storage failed");
    if (req.path == "throws") throw std::runtime_error("secret detail");
    if (req.path == "raw") return Response::Raw("application/pkix-cert", "DER");
    return Status::NotFound("unsupported path");
  };
  EXPECT_EQ(Call("POST", "/v1/pki/bad").status, 400);
  EXPECT_EQ(J(Call("POST", "/v1/pki/bad")), Json({{"errors", {"role not found"}}}));
  EXPECT_EQ(Call("GET", "/v1/pki/nil").status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/pki/nil").status, 204);
  EXPECT_EQ(Call("GET", "/v1/pki/boom").status, 500);
  HttpResponse thrown = Call("GET", "/v1/pki/throws");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.body.find("secret detail"), std::string::npos);
  HttpResponse raw = Call("GET", "/v1/pki/raw");
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.content_type, "application/pkix-cert");
  EXPECT_EQ(raw.body, "DER");
  EXPECT_EQ(J(Call("GET", "/v1/pki/other")), Json({{"errors", {"1 error occurred:\n\t* unsupported path\n\n"}}}));
}

TEST_F(ApiTest, HttpLevelRefusalsComeFirst) {
  EXPECT_EQ(Call("POST", "/v1/pki/roles/web", "{bad", "").status, 400);  // body parsed before the token check
  EXPECT_EQ(Call("OPTIONS", "/v1/pki/roles").status, 405);
  EXPECT_EQ(Call("HEAD", "/v1/pki/roles/web").status, 405);
  EXPECT_EQ(Call("GET", "/v1/pki/roles?list=maybe").status, 400);
  for (const auto& r : {Call("GET", "/v1/pki/roles/web"), Call("GET", "/v1/pki/roles/web", "", "")}) {
    bool no_store = false;
    for (const auto& [k, v] : r.headers) no_store = no_store || (k == "Cache-Control" && v == "no-store");
    EXPECT_TRUE(no_store);
  }
}

// ---- hostile input

size_t RequestCount(FakeEngine* e) {
  std::lock_guard<std::mutex> lock(e->mu);
  return e->requests.size();
}

TEST_F(ApiTest, DeeplyNestedJsonIs400AndNeverReachesAnEngine) {
  const std::string body = "{\"zzz\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  FakeEngine* e = Engine("pki/");
  for (const char* target : {"/v1/pki/config/urls", "/v1/sys/mounts/deep", "/v1/sys/mounts/pki/tune",
                             "/v1/auth/token/lookup-self"}) {
    HttpResponse r = Call("POST", target, body, kToken, {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.content_type, "application/json");
    Json j = J(r);
    ASSERT_TRUE(j["errors"].is_array()) << r.body;
    EXPECT_EQ(j.size(), 1u);
    EXPECT_NE(j["errors"][0].get<std::string>().find("nesting depth"), std::string::npos) << r.body;
  }
  EXPECT_EQ(RequestCount(e), 0u);
  EXPECT_EQ(table_->List().size(), 1u);
  // Within the limit the body still reaches the engine (which echoes it, copying and dumping it).
  std::string ok = "{\"zzz\":" + std::string(299, '[') + std::string(299, ']') + "}";
  EXPECT_EQ(Call("POST", "/v1/pki/config/urls", ok).status, 200);
}

TEST_F(ApiTest, InvalidUtf8InFormQueryOrPathIs400NotInternalError) {
  FakeEngine* e = Engine("pki/");
  // An engine that stores what it gets, serialising it strictly as the PKI stores do.
  e->handler = [](const Request& req) -> Result<Response> {
    std::string stored = req.data.dump();
    return Response::Data({{"stored", stored}, {"path", req.path}});
  };
  const std::vector<std::pair<std::string, std::string>> form = {
      {"Content-Type", "application/x-www-form-urlencoded"}};
  HttpResponse r = Call("POST", "/v1/pki/roles/web", "allowed_domains=%FF.x&max_ttl=1h", kToken, form);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(J(r)["errors"][0].get<std::string>().find("allowed_domains"), std::string::npos) << r.body;
  EXPECT_EQ(Call("POST", "/v1/pki/roles/web", "%FF=1", kToken, form).status, 400);
  EXPECT_EQ(Call("GET", "/v1/pki/certs?after=%FF").status, 400);
  EXPECT_EQ(Call("LIST", "/v1/pki/certs?after=%C3").status, 400);
  EXPECT_EQ(Call("DELETE", "/v1/pki/roles/web?x=%FE").status, 400);
  EXPECT_EQ(Call("POST", "/v1/pki/roles/%FF", "{}").status, 400);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/p4", "type=pki&description=%FF", kToken, form).status, 400);
  EXPECT_EQ(RequestCount(e), 0u);
  EXPECT_EQ(table_->List().size(), 1u);

  HttpResponse good = Call("POST", "/v1/pki/roles/web", "allowed_domains=%C3%A9.x", kToken, form);
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(J(good)["data"]["stored"], "{\"allowed_domains\":\"\xC3\xA9.x\"}");
}

TEST_F(ApiTest, InvalidUtf8MountPathIsRefusedWithoutLeavingAMountBehind) {
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/%FF", R"({"type":"pki"})").status, 400);
  // The mount table refuses it too, when called directly, instead of throwing while persisting.
  MountEntry bad;
  bad.path = "\xFF/";
  bad.type = "pki";
  Result<MountEntry> added = table_->AddMount(bad);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(table_->List().size(), 1u);
  size_t dirs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/mounts")) dirs += entry.is_directory();
  EXPECT_EQ(dirs, 1u);
}

TEST_F(ApiTest, InvalidUtf8InAResponseIsReplacedNotThrown) {
  Engine("pki/")->handler = [](const Request& req) -> Result<Response> {
    if (req.path == "err") return Status::BadRequest("bad name \xFF");
    Response r = Response::Data({{"v\xFE", std::string("\xFF\xC3")}, {"ok", "fine"}});
    r.warnings.push_back("warn \xC0");
    return r;
  };
  HttpResponse r = Call("GET", "/v1/pki/data");
  ASSERT_EQ(r.status, 200);
  Json j = J(r);
  EXPECT_EQ(j["data"]["ok"], "fine");
  EXPECT_EQ(j["data"]["v\xEF\xBF\xBD"], "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(j["warnings"][0], "warn \xEF\xBF\xBD");
  HttpResponse err = Call("GET", "/v1/pki/err");
  EXPECT_EQ(err.status, 400);
  EXPECT_EQ(J(err)["errors"][0], "bad name \xEF\xBF\xBD");
}

TEST_F(ApiTest, NlohmannExceptionsFromAnEngineAre500NotACrash) {
  Engine("pki/")->handler = [](const Request& req) -> Result<Response> {
    if (req.path == "type") return Response::Data({{"n", req.data.at("n").get<std::string>()}});
    if (req.path == "range") return Response::Data({{"n", req.data.at("missing")}});
    if (req.path == "parse") return Response::Data(Json::parse("{oops"));
    if (req.path == "dump") return Response::Data({{"s", Json(std::string("\xFF")).dump()}});
    throw 42;  // not even a std::exception
  };
  for (const char* path : {"type", "range", "parse", "dump", "other"}) {
    HttpResponse r = Call("POST", std::string("/v1/pki/") + path, R"({"n":1})");
    EXPECT_EQ(r.status, 500) << path;
    EXPECT_TRUE(J(r)["errors"].is_array()) << path;
  }
}

TEST_F(ApiTest, OnlyReadsOfSysPathsAreServedInline) {
  auto req = [](std::string method, std::string target) {
    HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    return r;
  };
  for (const char* t : {"/v1/sys/health", "/v1/sys/health?standbyok=true", "/v1/sys/mounts", "/v1/sys",
                        "/v1/sys/mounts/pki/tune", "/v1/sys/%6Dounts"}) {
    EXPECT_TRUE(VaultApi::ServesInline(req("GET", t))) << t;
  }
  EXPECT_TRUE(VaultApi::ServesInline(req("HEAD", "/v1/sys/health")));
  EXPECT_FALSE(VaultApi::ServesInline(req("POST", "/v1/sys/mounts/x")));
  EXPECT_FALSE(VaultApi::ServesInline(req("DELETE", "/v1/sys/mounts/x")));
  EXPECT_FALSE(VaultApi::ServesInline(req("LIST", "/v1/sys/mounts")));
  for (const char* t : {"/v1/pki/ca", "/v1/sysx/health", "/v1/%73ys/health", "/v1/auth/token/lookup-self"}) {
    EXPECT_FALSE(VaultApi::ServesInline(req("GET", t))) << t;
  }
}

// ---- sys/health

TEST_F(ApiTest, HealthIsUnauthenticatedVaultJson) {
  HttpResponse r = Call("GET", "/v1/sys/health", "", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  Json h = J(r);
  EXPECT_EQ(h["initialized"], true);
  EXPECT_EQ(h["sealed"], false);
  EXPECT_EQ(h["standby"], false);
  EXPECT_EQ(h["server_time_utc"], 1700000000);
  EXPECT_EQ(h["cluster_name"], "pki-cluster-test");
  EXPECT_TRUE(h["version"].is_string());
  HttpResponse head = Call("HEAD", "/v1/sys/health", "", "");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  Engine("pki/")->serving = false;
  EXPECT_EQ(Call("GET", "/v1/sys/health", "", "").status, 503);
}

TEST_F(ApiTest, SealStatusAndLeaderAnswerVaultStatus) {
  HttpResponse seal = Call("GET", "/v1/sys/seal-status", "", "");
  ASSERT_EQ(seal.status, 200);
  EXPECT_EQ(J(seal)["sealed"], false);
  EXPECT_EQ(J(seal)["initialized"], true);
  EXPECT_EQ(J(seal)["cluster_name"], "pki-cluster-test");
  HttpResponse leader = Call("GET", "/v1/sys/leader", "", "");
  ASSERT_EQ(leader.status, 200);
  EXPECT_EQ(J(leader)["ha_enabled"], false);
}

// ---- auth/token

TEST_F(ApiTest, TokenLookupSelfDescribesTheRootToken) {
  EXPECT_EQ(Call("GET", "/v1/auth/token/lookup-self", "", "").status, 403);
  EXPECT_EQ(Call("GET", "/v1/auth/token/lookup-self", "", "wrong").status, 403);
  HttpResponse r = Call("GET", "/v1/auth/token/lookup-self");
  ASSERT_EQ(r.status, 200);
  Json body = J(r);
  EXPECT_EQ(body["data"]["id"], kToken);
  EXPECT_EQ(body["data"]["policies"], Json::array({"root"}));
  EXPECT_EQ(body["mount_type"], "token");
  EXPECT_FALSE(body.contains("id"));  // no top-level copy outside sys/
  EXPECT_EQ(Call("POST", "/v1/auth/token/lookup-self").status, 200);
  EXPECT_EQ(Call("GET", "/v1/auth/token/create").status, 405);
  EXPECT_EQ(Call("GET", "/v1/auth/token/nope").status, 404);
}

// ---- sys/mounts

TEST_F(ApiTest, MountsListsEveryMountLikeVault) {
  EXPECT_EQ(Call("GET", "/v1/sys/mounts", "", "").status, 403);
  HttpResponse r = Call("GET", "/v1/sys/mounts");
  ASSERT_EQ(r.status, 200);
  Json body = J(r);
  Json pki = body["data"]["pki/"];
  EXPECT_EQ(body["pki/"], pki);  // also at the top level
  EXPECT_EQ(pki["type"], "pki");
  EXPECT_EQ(pki["uuid"], factory_.specs["pki/"].uuid);
  EXPECT_EQ(pki["accessor"].get<std::string>().rfind("pki_", 0), 0u);
  EXPECT_EQ(pki["config"]["default_lease_ttl"], 2764800);
  EXPECT_EQ(pki["config"]["max_lease_ttl"], 2764800);
  EXPECT_EQ(pki["local"], false);
  EXPECT_EQ(pki["seal_wrap"], false);
  EXPECT_TRUE(pki["options"].is_null());
  EXPECT_EQ(body["mount_type"], "system");
}

TEST_F(ApiTest, EnableMountStartsAnEngineWithItsOwnDirectory) {
  HttpResponse r = Call("POST", "/v1/sys/mounts/pki-int",
                        R"({"type":"pki","description":"intermediate","config":{"max_lease_ttl":"87600h",
                            "default_lease_ttl":3600},"options":{"storage":"rocksdb"}})");
  ASSERT_EQ(r.status, 204) << r.body;
  const MountSpec& spec = factory_.specs.at("pki-int/");
  EXPECT_EQ(spec.type, "pki");
  EXPECT_EQ(spec.options, (std::map<std::string, std::string>{{"storage", "rocksdb"}}));
  EXPECT_EQ(spec.data_dir, dir_ + "/mounts/" + spec.uuid);
  EXPECT_TRUE(std::filesystem::is_directory(spec.data_dir));
  EXPECT_EQ(Engine("pki-int/")->system->MaxLeaseTtl(), 315360000);
  EXPECT_EQ(Engine("pki-int/")->system->DefaultLeaseTtl(), 3600);
  Json info = J(Call("GET", "/v1/sys/mounts/pki-int"))["data"];
  EXPECT_EQ(info["description"], "intermediate");
  EXPECT_EQ(info["options"], Json({{"storage", "rocksdb"}}));
}

TEST_F(ApiTest, EnableMountRefusals) {
  HttpResponse kv = Call("POST", "/v1/sys/mounts/kv", R"({"type":"kv"})");
  EXPECT_EQ(kv.status, 400);
  EXPECT_NE(J(kv)["errors"][0].get<std::string>().find("only \"pki\""), std::string::npos);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/x", "{}").status, 400);  // no type
  HttpResponse taken = Call("POST", "/v1/sys/mounts/pki", R"({"type":"pki"})");
  EXPECT_EQ(taken.status, 409);
  EXPECT_EQ(J(taken), Json({{"errors", {"path is already in use at pki/"}}}));
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/pki/sub", R"({"type":"pki"})").status, 409);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/sys/x", R"({"type":"pki"})").status, 403);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/a/../b", R"({"type":"pki"})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/p2", R"({"type":"pki","config":{"default_lease_ttl":"2h",
      "max_lease_ttl":"1h"}})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/p2", R"({"type":"pki","config":{"default_lease_ttl":"9999h"}})").status,
            400);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/p2", R"({"type":"pki","config":{"max_lease_ttl":"soon"}})").status, 400);
  factory_.fail = Status::Internal("engine failed to start");
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/p3", R"({"type":"pki"})").status, 500);
  factory_.fail = Status::Ok();
  EXPECT_EQ(table_->List().size(), 1u);
  // A refused or failed mount leaves no directory behind.
  size_t dirs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/mounts")) dirs += entry.is_directory();
  EXPECT_EQ(dirs, 1u);
}

TEST_F(ApiTest, DisableMountClosesTheEngineAndRemovesItsData) {
  ASSERT_EQ(Call("POST", "/v1/sys/mounts/tmp", R"({"type":"pki"})").status, 204);
  std::string data_dir = factory_.specs.at("tmp/").data_dir;
  ASSERT_TRUE(std::filesystem::exists(data_dir));
  EXPECT_EQ(Call("DELETE", "/v1/sys/mounts/tmp").status, 204);
  EXPECT_FALSE(std::filesystem::exists(data_dir));
  EXPECT_EQ(Call("GET", "/v1/tmp/x").status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/sys/mounts/never").status, 204);  // as Vault: does not reveal absence
  EXPECT_EQ(Call("DELETE", "/v1/sys/mounts/sys").status, 400);
}

TEST_F(ApiTest, UnmountWaitsForRequestsInFlight) {
  ASSERT_EQ(Call("POST", "/v1/sys/mounts/busy", R"({"type":"pki"})").status, 204);
  FakeEngine* engine = Engine("busy/");
  std::string data_dir = factory_.specs.at("busy/").data_dir;
  auto match = table_->Resolve("busy/x");  // what a request in flight holds
  ASSERT_TRUE(match.has_value());
  std::atomic<bool> removed{false};
  std::thread unmount([&] {
    EXPECT_TRUE(table_->RemoveMount("busy/").ok());
    removed.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The unmount waits for the request; the engine stays open and its data stays.
  EXPECT_FALSE(removed.load());
  EXPECT_EQ(engine->closes.load(), 0);
  EXPECT_TRUE(std::filesystem::exists(data_dir));
  EXPECT_FALSE(table_->Resolve("busy/x").has_value());  // but no new request finds the mount
  match.reset();
  unmount.join();
  // Closing and removal happened on the unmounting thread, before RemoveMount returned.
  EXPECT_TRUE(removed.load());
  EXPECT_FALSE(std::filesystem::exists(data_dir));
}

// ---- tune

TEST(ParseLeaseTtlTest, AcceptsVaultSpellings) {
  auto v = [](const Json& j) {
    auto r = ParseLeaseTtl(j);
    EXPECT_TRUE(r.ok()) << j.dump();
    return r.ok() ? r.value() : std::optional<int64_t>(-1);
  };
  EXPECT_EQ(v("87600h"), 315360000);
  EXPECT_EQ(v("768h"), 2764800);
  EXPECT_EQ(v("1h30m"), 5400);
  EXPECT_EQ(v("3d"), 259200);
  EXPECT_EQ(v("3600"), 3600);
  EXPECT_EQ(v(3600), 3600);
  EXPECT_EQ(v(90.7), 90);
  EXPECT_EQ(v("system"), 0);
  EXPECT_EQ(v(""), std::nullopt);
  EXPECT_EQ(v(nullptr), std::nullopt);
  for (const Json& bad : {Json("soon"), Json(-1), Json("-5s"), Json(true), Json::array()}) {
    EXPECT_FALSE(ParseLeaseTtl(bad).ok()) << bad.dump();
  }
}

TEST_F(ApiTest, TuneReadsAndWritesLeaseTtls) {
  Json t = J(Call("GET", "/v1/sys/mounts/pki/tune"));
  EXPECT_EQ(t["data"]["default_lease_ttl"], 2764800);
  EXPECT_EQ(t["data"]["max_lease_ttl"], 2764800);
  EXPECT_EQ(t["max_lease_ttl"], 2764800);  // sys responses also carry data at the top level

  ASSERT_EQ(Call("POST", "/v1/sys/mounts/pki/tune", R"({"max_lease_ttl":"87600h","default_lease_ttl":3600})").status,
            204);
  t = J(Call("GET", "/v1/sys/mounts/pki/tune"));
  EXPECT_EQ(t["data"]["max_lease_ttl"], 315360000);
  EXPECT_EQ(t["data"]["default_lease_ttl"], 3600);
  EXPECT_EQ(Engine("pki/")->system->MaxLeaseTtl(), 315360000);  // live, without a restart
  EXPECT_EQ(J(Call("GET", "/v1/sys/mounts"))["data"]["pki/"]["config"]["max_lease_ttl"], 315360000);

  HttpResponse bad = Call("POST", "/v1/sys/mounts/pki/tune", R"({"max_lease_ttl":"30m"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(J(bad)["errors"][0], "backend max lease TTL of 1800 would be less than backend default lease TTL of 3600");
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/pki/tune", R"({"max_lease_ttl":"forever"})").status, 400);
  EXPECT_EQ(Engine("pki/")->system->MaxLeaseTtl(), 315360000);

  ASSERT_EQ(Call("POST", "/v1/sys/mounts/pki/tune", R"({"default_lease_ttl":"system","description":"d"})").status,
            204);
  t = J(Call("GET", "/v1/sys/mounts/pki/tune"));
  EXPECT_EQ(t["data"]["default_lease_ttl"], 2764800);
  EXPECT_EQ(t["data"]["max_lease_ttl"], 315360000);
  EXPECT_EQ(t["data"]["description"], "d");

  EXPECT_EQ(Call("GET", "/v1/sys/mounts/nope/tune").status, 400);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/nope/tune", R"({"max_lease_ttl":"1h"})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/sys/mounts/sys/tune", R"({"max_lease_ttl":"1h"})").status, 400);
  EXPECT_EQ(Call("DELETE", "/v1/sys/mounts/pki/tune").status, 405);
}

// ---- persistence

TEST_F(ApiTest, MountTablePersistsAcrossReopen) {
  ASSERT_EQ(Call("POST", "/v1/sys/mounts/pki-int", R"({"type":"pki","options":{"k":"v"}})").status, 204);
  ASSERT_EQ(Call("POST", "/v1/sys/mounts/pki-int/tune", R"({"max_lease_ttl":"100h"})").status, 204);
  std::string uuid = factory_.specs.at("pki-int/").uuid;
  std::string pki_uuid = factory_.specs.at("pki/").uuid;
  EXPECT_FALSE(table_->loaded_from_storage());

  factory_.specs.clear();
  OpenTable();
  EXPECT_TRUE(table_->loaded_from_storage());
  ASSERT_EQ(factory_.specs.size(), 2u);
  EXPECT_EQ(factory_.specs.at("pki-int/").uuid, uuid);
  EXPECT_EQ(factory_.specs.at("pki/").uuid, pki_uuid);
  EXPECT_EQ(factory_.specs.at("pki-int/").options.at("k"), "v");
  EXPECT_EQ(Engine("pki-int/")->system->MaxLeaseTtl(), 360000);
  EXPECT_EQ(Call("GET", "/v1/pki-int/roles/x").status, 200);
}

TEST_F(ApiTest, CloseClosesEveryEngineOnce) {
  std::shared_ptr<Mount> held = table_->Find("pki/");  // keeps the engine alive to look at it
  FakeEngine* e = Engine("pki/");
  ASSERT_TRUE(table_->Close().ok());
  EXPECT_EQ(e->closes.load(), 1);
  EXPECT_TRUE(table_->List().empty());
  held.reset();
}

// ---- tokens and policies

// Stores `policy` as `name` with the root token; returns the HTTP status.
#define PUT_POLICY(name, policy) \
  Call("PUT", "/v1/sys/policies/acl/" name, DumpJson(Json({{"policy", policy}}))).status

TEST_F(ApiTest, PolicyEndpointsInVaultsShapes) {
  const std::string web = R"({"path":{"pki/issue/web":{"capabilities":["update"]}}})";
  HttpResponse put = Call("PUT", "/v1/sys/policy/Web", DumpJson(Json({{"policy", web}})));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(J(put)["warnings"], Json::array({"policy name was converted to web"}));
  HttpResponse old = Call("GET", "/v1/sys/policy/web");
  ASSERT_EQ(old.status, 200);
  EXPECT_EQ(J(old)["data"], Json({{"name", "web"}, {"rules", web}}));
  HttpResponse current = Call("GET", "/v1/sys/policies/acl/WEB");
  ASSERT_EQ(current.status, 200);
  EXPECT_EQ(J(current)["data"], Json({{"name", "web"}, {"policy", web}}));
  EXPECT_EQ(J(current)["policy"], web);  // sys/ answers also carry data at the top level
  EXPECT_EQ(J(Call("LIST", "/v1/sys/policies/acl"))["data"]["keys"], Json::array({"default", "web", "root"}));
  Json listed = J(Call("GET", "/v1/sys/policy"));
  EXPECT_EQ(listed["data"]["policies"], Json::array({"default", "web", "root"}));
  EXPECT_EQ(listed["data"]["keys"], listed["data"]["policies"]);
  EXPECT_EQ(Call("PUT", "/v1/sys/policy/r2", DumpJson(Json({{"rules", web}}))).status, 200);
  EXPECT_EQ(Call("PUT", "/v1/sys/policies/acl/r3", DumpJson(Json({{"rules", web}}))).status, 400);

  HttpResponse hcl = Call("PUT", "/v1/sys/policies/acl/h",
                          DumpJson(Json({{"policy", "path \"pki/*\" { capabilities = [\"read\"] }"}})));
  EXPECT_EQ(hcl.status, 400);
  EXPECT_NE(hcl.body.find("only the JSON form"), std::string::npos) << hcl.body;
  EXPECT_EQ(PUT_POLICY("bad", R"({"path":{"x":{"capabilities":["fly"]}}})"), 400);
  EXPECT_EQ(PUT_POLICY("root", "{}"), 400);
  EXPECT_EQ(Call("DELETE", "/v1/sys/policy/root").status, 400);
  EXPECT_EQ(Call("DELETE", "/v1/sys/policies/acl/default").status, 400);
  EXPECT_EQ(Call("GET", "/v1/sys/policies/acl/bad").status, 404);  // nothing stored on refusal
  EXPECT_EQ(Call("DELETE", "/v1/sys/policies/acl/web").status, 204);
  EXPECT_EQ(Call("GET", "/v1/sys/policies/acl/web").status, 404);
  EXPECT_EQ(Call("GET", "/v1/sys/policies/acl/root").status, 200);
}

class AclApiTest : public ApiTest {
 protected:
  // A token created by the root token with `body` (auth/token/create); returns its id.
  std::string NewToken(const Json& body) {
    HttpResponse r = Call("POST", "/v1/auth/token/create", DumpJson(body));
    EXPECT_EQ(r.status, 200) << r.body;
    return J(r)["auth"]["client_token"].get<std::string>();
  }
};

TEST_F(AclApiTest, ATokenReachesOnlyWhatItsPoliciesGrant) {
  ASSERT_EQ(PUT_POLICY("web", R"({"path":{"pki/issue/web":{"capabilities":["update"]}}})"), 204);
  HttpResponse created = Call("POST", "/v1/auth/token/create", R"({"policies":["web"],"display_name":"svc a"})");
  ASSERT_EQ(created.status, 200) << created.body;
  Json auth = J(created)["auth"];
  EXPECT_EQ(auth["policies"], Json::array({"default", "web"}));
  EXPECT_EQ(auth["token_policies"], auth["policies"]);
  EXPECT_EQ(auth["lease_duration"], 768 * 3600);
  EXPECT_EQ(auth["renewable"], true);
  EXPECT_EQ(auth["orphan"], false);
  EXPECT_EQ(J(created)["data"], nullptr);
  const std::string token = auth["client_token"];

  FakeEngine* e = Engine("pki/");
  size_t before = e->requests.size();
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", R"({"common_name":"a"})", token).status, 200);
  EXPECT_EQ(e->last().client_token, "");  // never handed to engines
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/pki/roles/web"}, {"POST", "/v1/pki/roles/web"}, {"POST", "/v1/pki/issue/other"},
           {"LIST", "/v1/pki/roles"}, {"POST", "/v1/pki/revoke"}, {"GET", "/v1/sys/mounts"},
           {"POST", "/v1/sys/mounts/pki2"}, {"GET", "/v1/sys/policy"}, {"GET", "/v1/nope/x"}}) {
    HttpResponse r = Call(method, target, "{}", token);
    EXPECT_EQ(r.status, 403) << method << " " << target;
    EXPECT_EQ(J(r), Json({{"errors", {"permission denied"}}}));
  }
  EXPECT_EQ(e->requests.size(), before + 1);
  // Unauthenticated paths stay open; the default policy lets the token look itself up.
  EXPECT_EQ(Call("GET", "/v1/pki/ca", "", "").status, 200);
  HttpResponse self = Call("GET", "/v1/auth/token/lookup-self", "", token);
  ASSERT_EQ(self.status, 200);
  EXPECT_EQ(J(self)["data"]["policies"], Json::array({"default", "web"}));
  EXPECT_EQ(J(self)["data"]["display_name"], "token-svc-a");
  EXPECT_EQ(J(self)["data"]["accessor"], auth["accessor"]);
  EXPECT_EQ(J(self)["data"]["ttl"], 768 * 3600);
  // Revoked: every later request is refused.
  EXPECT_EQ(Call("POST", "/v1/auth/token/revoke-self", "", token).status, 204);
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}", token).status, 403);
  EXPECT_EQ(Call("GET", "/v1/auth/token/lookup-self", "", token).status, 403);
}

TEST_F(AclApiTest, RootPathsNeedSudo) {
  ASSERT_EQ(PUT_POLICY("ca", R"({"path":{"pki/root/sign-self-issued":{"capabilities":["update"]},
                                          "pki/root":{"capabilities":["delete"]},
                                          "pki/root/generate/*":{"capabilities":["update"]}}})"), 204);
  ASSERT_EQ(PUT_POLICY("ca-sudo", R"({"path":{"pki/root/sign-self-issued":{"capabilities":["update","sudo"]},
                                               "pki/root":{"capabilities":["delete","sudo"]}}})"), 204);
  const std::string plain = NewToken({{"policies", {"ca"}}});
  const std::string sudo = NewToken({{"policies", {"ca-sudo"}}});
  EXPECT_EQ(Call("POST", "/v1/pki/root/sign-self-issued", "{}", plain).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/pki/root", "", plain).status, 403);
  // Not a root path (Vault's are exact): update is enough.
  EXPECT_EQ(Call("POST", "/v1/pki/root/generate/internal", "{}", plain).status, 200);
  EXPECT_EQ(Call("POST", "/v1/pki/root/sign-self-issued", "{}", sudo).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/pki/root", "", sudo).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/pki/root").status, 200);  // the root token always passes
}

TEST_F(AclApiTest, ExtraSlashesAndDotSegmentsDoNotSlipPastExactRules) {
  // Broad grants with exact exceptions: the exceptions must hold however the path is spelt.
  ASSERT_EQ(PUT_POLICY("broad", R"({"path":{
      "pki/*":{"capabilities":["create","read","update","delete","list"]},
      "pki/roles/web":{"capabilities":["deny"]},
      "pki/issue/web":{"capabilities":["update"],"allowed_parameters":{"common_name":["a.example.com"]}},
      "sys/mounts/*":{"capabilities":["create","read","update","delete"]},
      "sys/mounts/x":{"capabilities":["deny"]},
      "sys/policies/acl/*":{"capabilities":["create","read","update","delete"]},
      "sys/policies/acl/broad":{"capabilities":["deny"]}}})"),
            204);
  const std::string token = NewToken({{"policies", {"broad"}}});
  FakeEngine* e = Engine("pki/");
  const size_t before = e->requests.size();
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/pki/roles/web/"}, {"POST", "/v1/pki/roles/web//"}, {"GET", "/v1/pki//roles/web"},
           {"GET", "/v1/pki/roles/web%2F"}, {"DELETE", "/v1/pki/root/"}, {"DELETE", "/v1/pki//root"},
           {"POST", "/v1/pki/root/sign-self-issued/"}, {"DELETE", "/v1/sys/mounts//x"},
           {"DELETE", "/v1/sys/mounts/x/"}, {"DELETE", "/v1//sys/mounts/x"}, {"PUT", "/v1/sys/policies/acl/BROAD"},
           {"DELETE", "/v1/sys/policies/acl/Broad/"}}) {
    HttpResponse r = Call(method, target, "{}", token);
    EXPECT_EQ(r.status, 403) << method << " " << target << ": " << r.body;
  }
  // The parameter rule too: only a.example.com may be asked for, trailing slash or not.
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web/", R"({"common_name":"evil.example.com"})", token).status, 403);
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", R"({"common_name":"a.example.com"})", token).status, 200);
  EXPECT_EQ(e->requests.size(), before + 1);
  EXPECT_TRUE(Engine("pki/") != nullptr);
  // Dot segments never reach a backend.
  for (const char* target : {"/v1/pki/roles/../root", "/v1/pki/./root", "/v1/sys/mounts/%2e%2e/x"}) {
    EXPECT_EQ(Call("GET", target).status, 400) << target;
  }
  EXPECT_EQ(CanonicalAclPath("sys/mounts//x/", false), "sys/mounts/x");
  EXPECT_EQ(CanonicalAclPath("/pki/roles", true), "pki/roles/");
}

TEST_F(AclApiTest, TokenCreationFollowsVaultsRules) {
  ASSERT_EQ(PUT_POLICY("web", R"({"path":{"pki/issue/web":{"capabilities":["update"]},
                                           "auth/token/create":{"capabilities":["update"]},
                                           "auth/token/create-orphan":{"capabilities":["update"]}}})"), 204);
  ASSERT_EQ(PUT_POLICY("ops", R"({"path":{"auth/token/create":{"capabilities":["update","sudo"]}}})"), 204);
  const std::string web = NewToken({{"policies", {"web"}}});
  HttpResponse wider = Call("POST", "/v1/auth/token/create", R"({"policies":["web","ops"]})", web);
  EXPECT_EQ(wider.status, 400);
  EXPECT_EQ(J(wider)["errors"], Json::array({"child policies must be subset of parent"}));
  EXPECT_EQ(Call("POST", "/v1/auth/token/create", R"({"policies":["root"]})", web).status, 400);
  EXPECT_EQ(Call("POST", "/v1/auth/token/create", R"({"no_parent":true})", web).status, 400);
  HttpResponse inherited = Call("POST", "/v1/auth/token/create", "{}", web);
  ASSERT_EQ(inherited.status, 200) << inherited.body;
  EXPECT_EQ(J(inherited)["auth"]["policies"], Json::array({"default", "web"}));
  HttpResponse orphan = Call("POST", "/v1/auth/token/create-orphan", R"({"policies":["web"]})", web);
  ASSERT_EQ(orphan.status, 200);
  EXPECT_EQ(J(orphan)["auth"]["orphan"], true);
  // With sudo on auth/token/create, any policies (but not root).
  const std::string ops = NewToken({{"policies", {"ops"}}});
  HttpResponse any = Call("POST", "/v1/auth/token/create", R"({"policies":["web","nosuch"],"ttl":"1h"})", ops);
  ASSERT_EQ(any.status, 200) << any.body;
  EXPECT_EQ(J(any)["auth"]["policies"], Json::array({"default", "nosuch", "web"}));
  EXPECT_EQ(J(any)["auth"]["lease_duration"], 3600);
  EXPECT_EQ(J(any)["warnings"], Json::array({"Policy \"nosuch\" does not exist"}));
  EXPECT_EQ(Call("POST", "/v1/auth/token/create", R"({"policies":["root"]})", ops).status, 400);
  // Limited-use tokens cannot create tokens; bad input is a 400.
  const std::string limited = NewToken({{"policies", {"web"}}, {"num_uses", 5}});
  EXPECT_EQ(Call("POST", "/v1/auth/token/create", "{}", limited).status, 400);
  EXPECT_EQ(Call("POST", "/v1/auth/token/create", R"({"num_uses":-1})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/auth/token/create", R"({"ttl":"soon"})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/auth/token/create", R"({"type":"batch"})").status, 400);
  // The root token's children without a TTL never expire and are not renewable.
  HttpResponse forever = Call("POST", "/v1/auth/token/create", "{}");
  EXPECT_EQ(J(forever)["auth"]["policies"], Json::array({"root"}));
  EXPECT_EQ(J(forever)["auth"]["lease_duration"], 0);
  EXPECT_EQ(J(forever)["auth"]["renewable"], false);
  // Over the maximum: capped, with Vault's warning.
  HttpResponse capped = Call("POST", "/v1/auth/token/create", R"({"policies":["web"],"ttl":"10000h"})");
  EXPECT_EQ(J(capped)["auth"]["lease_duration"], 768 * 3600);
  EXPECT_EQ(J(capped)["warnings"].size(), 1u);
}

TEST_F(AclApiTest, UsesExpiryRenewalAndChildren) {
  ASSERT_EQ(PUT_POLICY("web", R"({"path":{"pki/issue/web":{"capabilities":["update"]},
                                           "auth/token/create":{"capabilities":["update"]}}})"), 204);
  const std::string twice = NewToken({{"policies", {"web"}}, {"num_uses", 2}});
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}", twice).status, 200);
  EXPECT_EQ(Call("GET", "/v1/pki/roles/web", "", twice).status, 403);  // a denied request counts
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}", twice).status, 403);

  const std::string parent = NewToken({{"policies", {"web"}}, {"ttl", "1h"}});
  HttpResponse child_r = Call("POST", "/v1/auth/token/create", R"({"ttl":"10h"})", parent);
  ASSERT_EQ(child_r.status, 200);
  const std::string child = J(child_r)["auth"]["client_token"];
  const std::string accessor = J(child_r)["auth"]["accessor"];
  HttpResponse by_accessor = Call("POST", "/v1/auth/token/lookup-accessor", DumpJson(Json({{"accessor", accessor}})));
  ASSERT_EQ(by_accessor.status, 200);
  EXPECT_EQ(J(by_accessor)["data"]["id"], "");
  EXPECT_EQ(J(by_accessor)["data"]["orphan"], false);
  HttpResponse lookup = Call("POST", "/v1/auth/token/lookup", DumpJson(Json({{"token", child}})));
  EXPECT_EQ(J(lookup)["data"]["id"], child);
  EXPECT_EQ(Call("POST", "/v1/auth/token/lookup", R"({"token":"hvs.nope"})").status, 403);

  clock_.Advance(1800);
  HttpResponse renewed = Call("POST", "/v1/auth/token/renew-self", R"({"increment":"1h"})", parent);
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  EXPECT_EQ(J(renewed)["auth"]["lease_duration"], 3600);
  clock_.Advance(3599);
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}", parent).status, 200);
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}", child).status, 200);
  clock_.Advance(1);
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}", parent).status, 403);
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}", child).status, 403);  // died with its parent

  const std::string gone = NewToken({{"policies", {"web"}}});
  HttpResponse gone_lookup = Call("GET", "/v1/auth/token/lookup-self", "", gone);
  ASSERT_EQ(Call("POST", "/v1/auth/token/revoke-accessor",
                 DumpJson(Json({{"accessor", J(gone_lookup)["data"]["accessor"]}}))).status, 204);
  EXPECT_EQ(Call("POST", "/v1/pki/issue/web", "{}", gone).status, 403);
  EXPECT_EQ(Call("POST", "/v1/auth/token/revoke-accessor", R"({"accessor":"nope"})").status, 400);
}

TEST_F(AclApiTest, CapabilitiesSelfAndOfAnotherToken) {
  ASSERT_EQ(PUT_POLICY("web", R"({"path":{"pki/issue/web":{"capabilities":["update","read"]},
                                           "pki/roles/*":{"capabilities":["deny"]}}})"), 204);
  const std::string token = NewToken({{"policies", {"web"}}});
  HttpResponse one = Call("POST", "/v1/sys/capabilities-self", R"({"paths":["pki/issue/web"]})", token);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(J(one)["data"]["capabilities"], Json::array({"read", "update"}));
  EXPECT_EQ(J(one)["data"]["pki/issue/web"], Json::array({"read", "update"}));
  EXPECT_EQ(J(one)["capabilities"], Json::array({"read", "update"}));  // top level, as Vault's sys/ answers
  HttpResponse two = Call("POST", "/v1/sys/capabilities-self", R"({"paths":"pki/roles/web,pki/ca"})", token);
  EXPECT_EQ(J(two)["data"], Json({{"pki/roles/web", {"deny"}}, {"pki/ca", {"deny"}}}));
  HttpResponse root = Call("POST", "/v1/sys/capabilities-self", R"({"path":"pki/anything"})");
  EXPECT_EQ(J(root)["data"]["capabilities"], Json::array({"root"}));
  // sys/capabilities needs its own grant; the root token has it.
  EXPECT_EQ(Call("POST", "/v1/sys/capabilities", DumpJson(Json({{"token", token}, {"paths", {"x"}}})), token).status,
            403);
  HttpResponse other = Call("POST", "/v1/sys/capabilities", DumpJson(Json({{"token", token}, {"paths", {"pki/issue/web"}}})));
  EXPECT_EQ(J(other)["data"]["capabilities"], Json::array({"read", "update"}));
  EXPECT_EQ(Call("POST", "/v1/sys/capabilities", R"({"token":"hvs.bad","paths":["x"]})").status, 400);
}

}  // namespace
}  // namespace pki::server
