// The token boundary over every path of the API: the real server (DevServer, Beast listener, token store, ACL
// policies) with the real PKI engine in process, called over HTTP. Every call is made without a token, with a
// token the server never issued, and with a token whose policy covers none of these paths; each must answer 403
// {"errors":["permission denied"]} unless its mount declares it unauthenticated, and those answer without a token.
//
// The engine's paths come from its own routing table (PkiBackend::PathTable), so a path added to the engine is
// covered here without touching this test; the server's system and token paths are listed below (those backends
// dispatch by hand). How pki-server hosts the engine (in process here, a pki-plugin child in production) does not
// enter: the check happens in the server before any engine sees the request.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/core/clock.h"
#include "src/pki/backend.h"
#include "src/server/dev_server.h"
#include "src/server/in_process_pki.h"
#include "tests/unit/http_test_client.h"
#include "tests/unit/test_dev_server.h"

namespace pki::server {
namespace {

using Json = nlohmann::json;
using pki::testing::HttpTestClient;
using pki::testing::TestDevServer;

constexpr char kRootToken[] = "s.auth-boundary-root";

struct Call {
  std::string method;
  std::string path;   // below /v1/
  bool open = false;  // declared unauthenticated
  bool granted_by_default_policy = false;
};

// A concrete path for an engine pattern: each ":name" segment a plain value, a final "*name" two segments.
std::string ConcretePath(const std::string& pattern) {
  std::string out;
  size_t start = 0;
  while (start <= pattern.size()) {
    size_t end = pattern.find('/', start);
    if (end == std::string::npos) end = pattern.size();
    std::string seg = pattern.substr(start, end - start);
    if (!seg.empty() && seg[0] == ':') seg = "x1";
    if (!seg.empty() && seg[0] == '*') seg = "x1/x2";
    if (!out.empty()) out += "/";
    out += seg;
    start = end + 1;
  }
  return out;
}

// The HTTP methods that reach an operation (Vault: GET read, POST/PUT create and update, LIST or GET ?list=true
// list, DELETE delete, PATCH patch). Lease revocation ("revoke") comes from the host's lease manager, not HTTP.
std::vector<std::string> MethodsFor(Operation op) {
  switch (op) {
    case Operation::kRead: return {"GET"};
    case Operation::kCreate:
    case Operation::kUpdate: return {"POST", "PUT"};
    case Operation::kList: return {"LIST"};
    case Operation::kDelete: return {"DELETE"};
    case Operation::kPatch: return {"PATCH"};
    default: return {};
  }
}

// Vault's PKI engine's PathsSpecial.Unauthenticated (builtin/logical/pki/backend.go; ACME paths aside, which this
// engine does not serve): the independent expectation for the engine's own list.
const std::vector<std::string> kVaultUnauthenticated = {
    "cert/*", "ca/pem", "ca_chain", "ca", "crl/delta", "crl/delta/pem", "crl/pem", "crl", "issuer/+/crl/der",
    "issuer/+/crl/pem", "issuer/+/crl", "issuer/+/crl/delta/der", "issuer/+/crl/delta/pem", "issuer/+/crl/delta",
    "issuer/+/pem", "issuer/+/der", "issuer/+/json", "issuers/", "ocsp", "ocsp/*", "issuer/+/unified-crl",
    "issuer/+/unified-crl/der", "issuer/+/unified-crl/pem", "issuer/+/unified-crl/delta",
    "issuer/+/unified-crl/delta/der", "issuer/+/unified-crl/delta/pem", "unified-crl", "unified-crl/pem",
    "unified-crl/delta", "unified-crl/delta/pem", "unified-ocsp", "unified-ocsp/*"};

// The engine's table, mounted at pki/.
std::vector<Call> EngineCalls() {
  std::unique_ptr<PkiBackend> engine = NewPkiBackend(PkiContext{});  // no storage: the table only
  const std::vector<std::string> open_patterns = engine->UnauthenticatedPaths();
  std::vector<Call> calls;
  std::set<std::string> seen;
  for (const Router::Entry& e : engine->PathTable()) {
    const std::string path = ConcretePath(e.pattern);
    for (Operation op : e.operations) {
      for (const std::string& method : MethodsFor(op)) {
        // A LIST request's path ends in '/', as Vault's clients send it.
        const std::string p = method == "LIST" ? path + "/" : path;
        if (!seen.insert(method + " " + p).second) continue;
        const bool open = MatchesSpecialPath(kVaultUnauthenticated, p);
        EXPECT_EQ(MatchesSpecialPath(open_patterns, p), open) << method << " " << p << ": not as in Vault";
        calls.push_back({method, "pki/" + p, open});
      }
    }
  }
  return calls;
}

// The server's own paths (src/server/sys_backend.cc, policy_backend.cc, token_backend.cc).
std::vector<Call> ServerCalls() {
  std::vector<Call> calls = {
      {"GET", "sys/health", true},
      {"GET", "sys/seal-status", true},
      {"GET", "sys/leader", true},
      {"GET", "sys/mounts"},
      {"GET", "sys/mounts/x1"},
      {"POST", "sys/mounts/x1"},
      {"DELETE", "sys/mounts/x1"},
      {"GET", "sys/mounts/pki/tune"},
      {"POST", "sys/mounts/pki/tune"},
      {"GET", "sys/policy"},
      {"GET", "sys/policy/x1"},
      {"PUT", "sys/policy/x1"},
      {"DELETE", "sys/policy/x1"},
      {"LIST", "sys/policies/acl"},
      {"GET", "sys/policies/acl/x1"},
      {"PUT", "sys/policies/acl/x1"},
      {"DELETE", "sys/policies/acl/x1"},
      {"POST", "sys/capabilities"},
      {"POST", "sys/capabilities-self", false, true},
      {"POST", "sys/capabilities-accessor"},
      {"POST", "sys/storage/backup"},
      {"POST", "auth/token/create"},
      {"POST", "auth/token/create-orphan"},
      {"POST", "auth/token/lookup"},
      {"GET", "auth/token/lookup-self", false, true},
      {"POST", "auth/token/lookup-accessor"},
      {"POST", "auth/token/renew"},
      {"POST", "auth/token/renew-self", false, true},
      {"POST", "auth/token/renew-accessor"},
      {"POST", "auth/token/revoke"},
      {"POST", "auth/token/revoke-self", false, true},
      {"POST", "auth/token/revoke-accessor"},
      {"LIST", "auth/token/accessors/"},
      // Paths nobody serves are refused before anyone looks for them.
      {"GET", "pki/no/such/path"},
      {"GET", "sys/no-such-path"},
      {"GET", "no-such-mount/x1"},
  };
  return calls;
}

class AuthBoundaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = TestDevServer::Start("server_auth_test", kRootToken,
                                        [](const DataLayout& layout) -> Result<std::unique_ptr<MountBackendFactory>> {
      ASSIGN_OR_RETURN(std::unique_ptr<InProcessPkiFactory> f,
                       InProcessPkiFactory::Create(layout.seal_key_file, &SystemClock::Instance()));
      return std::unique_ptr<MountBackendFactory>(std::move(f));
    });
    ASSERT_TRUE(started.ok()) << started.status().message();
    server_ = std::move(started).value();
    client_ = std::make_unique<HttpTestClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  HttpTestClient::Response Send(const std::string& method, const std::string& path, const std::string& token) {
    // As Vault's clients send them: JSON bodies for writes, a merge patch for PATCH (which Vault refuses with a
    // 400 before any token check when it lacks that media type).
    const bool write = method == "POST" || method == "PUT" || method == "PATCH";
    return client_->Send(method, "/v1/" + path, write ? "{}" : "", token,
                         method == "PATCH" ? "application/merge-patch+json" : write ? "application/json" : "");
  }

  // A token with the default policy and one granting only update on pki/issue/web (no path called here).
  std::string LimitedToken() {
    Json policy = {{"path", {{"pki/issue/web", {{"capabilities", {"update"}}}}}}};
    auto put = client_->Send("PUT", "/v1/sys/policy/web-issuer", Json{{"policy", policy.dump()}}.dump(), kRootToken);
    EXPECT_EQ(put.result_int(), 204) << put.body();
    auto created = client_->Send("POST", "/v1/auth/token/create", R"({"policies":["web-issuer"],"ttl":"1h"})",
                                 kRootToken);
    EXPECT_EQ(created.result_int(), 200) << created.body();
    return Json::parse(created.body())["auth"]["client_token"].get<std::string>();
  }

  std::unique_ptr<TestDevServer> server_;
  std::unique_ptr<HttpTestClient> client_;
};

TEST_F(AuthBoundaryTest, EveryPathRefusesCallersWithoutAValidTokenOrAPolicyThatCoversIt) {
  std::vector<Call> calls = EngineCalls();
  ASSERT_GT(calls.size(), 60u);  // the engine's table really was walked
  size_t open = 0;
  for (const Call& c : calls) open += c.open;
  ASSERT_GT(open, 10u);  // and its unauthenticated paths recognised (ca, crl, cert/..., issuer/.../pem, ocsp, ...)
  for (Call& c : ServerCalls()) calls.push_back(std::move(c));
  const std::string limited = LimitedToken();
  const std::pair<std::string, std::string> callers[] = {
      {"no token", ""},
      {"a token never issued", "hvs.NeverIssuedByThisServer0000"},
      {"a token without the policy", limited}};

  for (const Call& c : calls) {
    const std::string what = c.method + " /v1/" + c.path;
    if (c.open) {
      auto r = Send(c.method, c.path, "");
      EXPECT_NE(r.result_int(), 403) << what << " is unauthenticated: " << r.body();
      EXPECT_LT(r.result_int(), 500) << what << ": " << r.body();
      continue;
    }
    for (const auto& [who, token] : callers) {
      if (token == limited && c.granted_by_default_policy) continue;
      auto r = Send(c.method, c.path, token);
      EXPECT_EQ(r.result_int(), 403) << what << " with " << who << ": " << r.body();
      auto body = Json::parse(r.body(), nullptr, false);
      EXPECT_EQ(body, Json({{"errors", {"permission denied"}}})) << what << " with " << who;
    }
  }
  // The refusals changed nothing: no mount, no policy, the limited token still alive and the engine unconfigured.
  auto mounts = Json::parse(Send("GET", "sys/mounts", kRootToken).body());
  EXPECT_FALSE(mounts["data"].contains("x1/"));
  EXPECT_EQ(Send("GET", "sys/policy/x1", kRootToken).result_int(), 404);
  EXPECT_EQ(Send("GET", "auth/token/lookup-self", limited).result_int(), 200);
  EXPECT_EQ(Send("GET", "pki/roles/x1", kRootToken).result_int(), 404);
  EXPECT_EQ(Send("LIST", "pki/issuers/", kRootToken).result_int(), 404);
}

TEST_F(AuthBoundaryTest, TheDefaultPolicyGrantsOnlyWhatVaultsDoes) {
  const std::string limited = LimitedToken();
  for (const Call& c : ServerCalls()) {
    if (!c.granted_by_default_policy || c.path == "auth/token/revoke-self") continue;
    auto r = Send(c.method, c.path, limited);
    EXPECT_NE(r.result_int(), 403) << c.method << " " << c.path << ": " << r.body();
  }
}

}  // namespace
}  // namespace pki::server
