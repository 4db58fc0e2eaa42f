// Tests for the ACL policy language and its matching rules (src/server/acl_policy.h) and the PolicyStore:
// parsing and refusals, exact/prefix/segment-wildcard priority, list fallbacks, deny, parameter rules, merging
// across policies, and the builtin root and default policies.
#include <gtest/gtest.h>

#include "src/crypto/x509.h"
#include "src/server/acl_policy.h"
#include "src/server/policy_store.h"
#include "storage/memory_storage.h"

namespace pki::server {
namespace {

std::shared_ptr<const AclPolicy> P(const std::string& name, const std::string& text) {
  auto p = ParseAclPolicy(name, text);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return std::make_shared<AclPolicy>(p.ok() ? p.value() : AclPolicy{});
}

std::shared_ptr<const Acl> A(const std::vector<std::shared_ptr<const AclPolicy>>& policies) {
  auto acl = Acl::Build(policies);
  EXPECT_TRUE(acl.ok()) << acl.status().message();
  return acl.value();
}

bool Allows(const Acl& acl, Operation op, const std::string& path, const Json& data = Json::object()) {
  return acl.Check(op, path, data).allowed;
}

TEST(AclPolicyParse, AcceptsTheJsonFormAndRefusesEverythingElse) {
  auto ok = ParseAclPolicy("p", R"({"path":{"pki/issue/web":{"capabilities":["update"]},
                                          "/pki/roles/*":{"capabilities":["read","list"]},
                                          "pki/+/web":{"capabilities":["read"]}}})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_EQ(ok->rules.size(), 3u);

  auto hcl = ParseAclPolicy("p", "path \"pki/issue/web\" {\n  capabilities = [\"update\"]\n}\n");
  ASSERT_FALSE(hcl.ok());
  EXPECT_EQ(hcl.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(hcl.status().message().find("only the JSON form"), std::string::npos) << hcl.status().message();

  struct Bad {
    std::string text;
    const char* says;
  };
  for (const Bad& b : std::vector<Bad>{
           {R"({"path":{"a":{"capabilities":["write"]}}})", "invalid capability \"write\""},
           {R"({"path":{"a":{"capabilities":["root"]}}})", "invalid capability \"root\""},
           {R"({"path":{"a":{"capabilities":"read"}}})", "capabilities must be a list"},
           {R"({"path":{"a":{"capabilites":["read"]}}})", "invalid key \"capabilites\""},
           {R"({"paths":{}})", "invalid key \"paths\""},
           {R"({"path":{"a/+*":{"capabilities":["read"]}}})", "'+*' is forbidden"},
           {R"({"path":{"a":{"capabilities":["read"],"max_wrapping_ttl":"1h"}}})", "not supported"},
           {R"({"path":{"a":{"allowed_parameters":{"x":"y"}}}})", "must be a list"},
           {R"([1,2])", "root object"},
           {R"({"path":{"a":{"allowed_parameters":{"x":[)" + std::string(400, '[') + std::string(400, ']') + "]}}}}",
            "nested too deeply"},
       }) {
    auto r = ParseAclPolicy("p", b.text);
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(r.status().message().find(b.says), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("failed to parse policy: ", 0), 0u);
  }
}

TEST(AclPolicyParse, AcceptsBase64AndOldStylePolicies) {
  const std::string text = R"({"path":{"secret/*":{"policy":"write"}}})";
  auto p = ParseAclPolicy("p", Base64Encode(text));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->raw, text);
  auto acl = A({std::make_shared<AclPolicy>(*p)});
  EXPECT_EQ(acl->Capabilities("secret/x"), (std::vector<std::string>{"create", "delete", "list", "read", "update"}));
}

TEST(AclMatch, ExactBeatsPrefixAndLongestPrefixWins) {
  auto acl = A({P("p", R"({"path":{
      "pki/*":{"capabilities":["read"]},
      "pki/roles/*":{"capabilities":["list"]},
      "pki/roles/web":{"capabilities":["update"]},
      "pki/issue/web":{"capabilities":["update"]}}})")});
  EXPECT_TRUE(Allows(*acl, Operation::kUpdate, "pki/issue/web"));
  EXPECT_FALSE(Allows(*acl, Operation::kUpdate, "pki/issue/other"));
  EXPECT_TRUE(Allows(*acl, Operation::kRead, "pki/issue/other"));  // pki/*
  EXPECT_TRUE(Allows(*acl, Operation::kUpdate, "pki/roles/web"));
  EXPECT_FALSE(Allows(*acl, Operation::kRead, "pki/roles/web"));   // the exact rule, not pki/*
  EXPECT_FALSE(Allows(*acl, Operation::kRead, "pki/roles/db"));    // pki/roles/* is longer than pki/*
  EXPECT_TRUE(Allows(*acl, Operation::kList, "pki/roles/"));
  EXPECT_FALSE(Allows(*acl, Operation::kRead, "pkix"));
  // A glob '*' only counts at the end: elsewhere it is a literal character.
  auto literal = A({P("p", R"({"path":{"a/*/b":{"capabilities":["read"]}}})")});
  EXPECT_FALSE(Allows(*literal, Operation::kRead, "a/x/b"));
  EXPECT_TRUE(Allows(*literal, Operation::kRead, "a/*/b"));
}

TEST(AclMatch, SegmentWildcardsAndVaultPriority) {
  auto acl = A({P("p", R"({"path":{
      "pki/+/web":{"capabilities":["read"]},
      "pki/issue/+":{"capabilities":["update"]},
      "pki/+/+":{"capabilities":["delete"]},
      "pki/iss*":{"capabilities":["list"]},
      "pki/+/web/*":{"capabilities":["patch"]}}})")});
  // "pki/issue/web": pki/issue/+ has its first '+' later than pki/+/web and pki/+/+, and the prefix pki/iss*
  // has its glob earlier than the '+' of pki/issue/+: pki/issue/+ wins.
  EXPECT_EQ(acl->Capabilities("pki/issue/web"), std::vector<std::string>{"update"});
  // "pki/roles/web": pki/+/web (one '+') beats pki/+/+ (two); both have '+' at the same place.
  EXPECT_EQ(acl->Capabilities("pki/roles/web"), std::vector<std::string>{"read"});
  EXPECT_EQ(acl->Capabilities("pki/roles/db"), std::vector<std::string>{"delete"});
  // '+' matches exactly one segment.
  EXPECT_EQ(acl->Capabilities("pki/a/b/web"), std::vector<std::string>{"deny"});
  EXPECT_EQ(acl->Capabilities("pki/roles/web/x/y"), std::vector<std::string>{"patch"});
  // At the same first wildcard, a non-prefix pattern beats a prefix one.
  auto prefix_vs_exact = A({P("p", R"({"path":{"a/+/b":{"capabilities":["read"]},
                                              "a/+/b*":{"capabilities":["list"]}}})")});
  EXPECT_EQ(prefix_vs_exact->Capabilities("a/x/b"), std::vector<std::string>{"read"});
  EXPECT_EQ(prefix_vs_exact->Capabilities("a/x/bc"), std::vector<std::string>{"list"});
  // Longer prefix wins among prefixes with the same first wildcard.
  auto lengths = A({P("p", R"({"path":{"a/+/b*":{"capabilities":["read"]},
                                      "a/+/bar*":{"capabilities":["update"]}}})")});
  EXPECT_EQ(lengths->Capabilities("a/x/barn"), std::vector<std::string>{"update"});
  EXPECT_EQ(lengths->Capabilities("a/x/bin"), std::vector<std::string>{"read"});
}

TEST(AclMatch, ListFallsBackToThePathWithoutItsSlash) {
  auto acl = A({P("p", R"({"path":{"pki/roles":{"capabilities":["list"]},
                                  "pki/certs*":{"capabilities":["list"]}}})")});
  EXPECT_TRUE(Allows(*acl, Operation::kList, "pki/roles/"));
  EXPECT_FALSE(Allows(*acl, Operation::kRead, "pki/roles/"));
  EXPECT_TRUE(Allows(*acl, Operation::kList, "pki/certs/"));
  EXPECT_FALSE(Allows(*acl, Operation::kList, "pki/issuers/"));
}

TEST(AclMatch, DenyWinsAndMergesAcrossPolicies) {
  auto a = P("a", R"({"path":{"pki/roles/*":{"capabilities":["read","update"]},
                              "pki/issue/web":{"capabilities":["update"]}}})");
  auto b = P("b", R"({"path":{"pki/roles/*":{"capabilities":["list","delete"]},
                              "pki/issue/web":{"capabilities":["deny"]}}})");
  auto acl = A({a, b});
  EXPECT_EQ(acl->Capabilities("pki/roles/x"), (std::vector<std::string>{"delete", "list", "read", "update"}));
  EXPECT_FALSE(Allows(*acl, Operation::kUpdate, "pki/issue/web"));
  EXPECT_EQ(acl->Capabilities("pki/issue/web"), std::vector<std::string>{"deny"});
  // Order does not matter.
  auto reversed = A({b, a});
  EXPECT_FALSE(Allows(*reversed, Operation::kUpdate, "pki/issue/web"));
  // Deny in the same stanza drops the other capabilities.
  auto same = A({P("c", R"({"path":{"x":{"capabilities":["read","deny"]}}})")});
  EXPECT_FALSE(Allows(*same, Operation::kRead, "x"));
  // A more specific path without deny is a different rule: deny on a prefix does not reach it.
  auto specific = A({P("d", R"({"path":{"pki/*":{"capabilities":["deny"]},
                                       "pki/ca":{"capabilities":["read"]}}})")});
  EXPECT_TRUE(Allows(*specific, Operation::kRead, "pki/ca"));
  EXPECT_FALSE(Allows(*specific, Operation::kRead, "pki/crl"));
}

TEST(AclMatch, ParameterRules) {
  auto acl = A({P("p", R"({"path":{
      "pki/issue/web":{"capabilities":["update"],
                       "allowed_parameters":{"common_name":["*.example.com","example.com"],"TTL":[]},
                       "denied_parameters":{"ttl":["8760h"]},
                       "required_parameters":["common_name"]},
      "pki/roles/*":{"capabilities":["update","read"],"denied_parameters":{"*":[]}},
      "pki/sign/*":{"capabilities":["update"],"allowed_parameters":{"*":[],"csr":[]},
                    "denied_parameters":{"format":["der"]}}}})")});
  const Operation u = Operation::kUpdate;
  EXPECT_TRUE(Allows(*acl, u, "pki/issue/web", {{"common_name", "a.example.com"}}));
  EXPECT_TRUE(Allows(*acl, u, "pki/issue/web", {{"common_name", "example.com"}, {"ttl", "1h"}}));
  EXPECT_FALSE(Allows(*acl, u, "pki/issue/web", {{"common_name", "evil.com"}}));
  EXPECT_FALSE(Allows(*acl, u, "pki/issue/web", {{"common_name", "a.example.com"}, {"ttl", "8760h"}}));
  EXPECT_FALSE(Allows(*acl, u, "pki/issue/web", {{"common_name", "a.example.com"}, {"alt_names", "x"}}));
  EXPECT_FALSE(Allows(*acl, u, "pki/issue/web", {{"ttl", "1h"}}));  // required common_name missing
  EXPECT_FALSE(Allows(*acl, u, "pki/issue/web"));
  // denied "*": any parameter refuses; none passes.
  EXPECT_TRUE(Allows(*acl, u, "pki/roles/web"));
  EXPECT_FALSE(Allows(*acl, u, "pki/roles/web", {{"ttl", "1h"}}));
  // Reads check parameters too (query parameters), as Vault does.
  EXPECT_FALSE(Allows(*acl, Operation::kRead, "pki/roles/web", {{"x", "1"}}));
  // allowed "*" with others: unknown parameters pass, listed ones must match their list.
  EXPECT_TRUE(Allows(*acl, u, "pki/sign/web", {{"csr", "..."}, {"common_name", "x"}}));
  EXPECT_FALSE(Allows(*acl, u, "pki/sign/web", {{"csr", "..."}, {"format", "der"}}));
}

TEST(AclMatch, ParameterListsMergeAndEmptyListWins) {
  auto a = P("a", R"({"path":{"x":{"capabilities":["update"],"allowed_parameters":{"k":["1"]},
                                   "required_parameters":["k"]}}})");
  auto b = P("b", R"({"path":{"x":{"capabilities":["update"],"allowed_parameters":{"k":["2"],"j":["3"]},
                                   "required_parameters":["j"]}}})");
  auto acl = A({a, b});
  EXPECT_TRUE(Allows(*acl, Operation::kUpdate, "x", {{"k", "1"}, {"j", "3"}}));
  EXPECT_TRUE(Allows(*acl, Operation::kUpdate, "x", {{"k", "2"}, {"j", "3"}}));
  EXPECT_FALSE(Allows(*acl, Operation::kUpdate, "x", {{"k", "3"}, {"j", "3"}}));
  EXPECT_FALSE(Allows(*acl, Operation::kUpdate, "x", {{"k", "1"}}));  // both required lists apply
  auto any = P("c", R"({"path":{"x":{"capabilities":["update"],"allowed_parameters":{"k":[]}}}})");
  auto acl2 = A({a, any});
  EXPECT_TRUE(Allows(*acl2, Operation::kUpdate, "x", {{"k", "anything"}}));
}

TEST(AclMatch, RootAclAllowsEverythingAndStandsAlone) {
  auto root = std::make_shared<AclPolicy>();
  root->name = "root";
  auto acl = A({root});
  AclDecision d = acl->Check(Operation::kDelete, "pki/root", Json::object());
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.sudo);
  EXPECT_EQ(acl->Capabilities("anything"), std::vector<std::string>{"root"});
  EXPECT_FALSE(Acl::Build({root, P("p", "{}")}).ok());
  // Sudo is reported from the matching rule.
  auto sudo = A({P("s", R"({"path":{"pki/root/sign-self-issued":{"capabilities":["update","sudo"]}}})")});
  EXPECT_TRUE(sudo->Check(Operation::kUpdate, "pki/root/sign-self-issued", Json::object()).sudo);
  EXPECT_FALSE(sudo->Check(Operation::kUpdate, "pki/root", Json::object()).sudo);
  // Nothing granted reads as deny.
  EXPECT_EQ(A({})->Capabilities("pki/ca"), std::vector<std::string>{"deny"});
}

TEST(GlobbedStrings, MatchAsVault) {
  EXPECT_FALSE(GlobbedStringsMatch("*", "anything"));  // shorter than 2: compared as is, as in Vault
  EXPECT_TRUE(GlobbedStringsMatch("*", "*"));
  EXPECT_TRUE(GlobbedStringsMatch("*.example.com", "a.example.com"));
  EXPECT_FALSE(GlobbedStringsMatch("*.example.com", "example.com"));
  EXPECT_TRUE(GlobbedStringsMatch("web-*", "web-1"));
  EXPECT_TRUE(GlobbedStringsMatch("*mid*", "a-mid-b"));
  EXPECT_TRUE(GlobbedStringsMatch("a*b", "a*b"));  // '*' inside is literal
  EXPECT_FALSE(GlobbedStringsMatch("a*b", "axb"));
}

TEST(PolicyStoreTest, BuiltinsNamesAndPersistence) {
  MemoryStorage storage;
  {
    auto store = PolicyStore::Open(&storage);
    ASSERT_TRUE(store.ok());
    auto text = (*store)->GetPolicyText("default");
    ASSERT_TRUE(text.ok() && text->has_value());
    EXPECT_EQ(**text, kDefaultPolicyText);
    EXPECT_EQ((*store)->GetPolicyText("ROOT")->value(), "");
    EXPECT_EQ((*store)->PutPolicy("root", "{}").code(), StatusCode::kBadRequest);
    EXPECT_EQ((*store)->DeletePolicy("root").code(), StatusCode::kBadRequest);
    EXPECT_EQ((*store)->DeletePolicy("Default").code(), StatusCode::kBadRequest);
    EXPECT_EQ((*store)->PutPolicy("x", "").code(), StatusCode::kBadRequest);
    EXPECT_EQ((*store)->PutPolicy(" ", "{}").code(), StatusCode::kBadRequest);
    ASSERT_TRUE((*store)->PutPolicy(" Web ", R"({"path":{"pki/issue/web":{"capabilities":["update"]}}})").ok());
    ASSERT_TRUE((*store)->PutPolicy("default", R"({"path":{"sys/capabilities-self":{"capabilities":["update"]}}})")
                    .ok());
    auto acl = (*store)->AclFor({"WEB", "missing"});
    ASSERT_TRUE(acl.ok());
    EXPECT_TRUE((*acl)->Check(Operation::kUpdate, "pki/issue/web", Json::object()).allowed);
    // A rewrite takes effect at once (the cached ACL is dropped).
    ASSERT_TRUE((*store)->PutPolicy("web", R"({"path":{"pki/issue/db":{"capabilities":["update"]}}})").ok());
    EXPECT_FALSE((*(*store)->AclFor({"web"}))->Check(Operation::kUpdate, "pki/issue/web", Json::object()).allowed);
    EXPECT_EQ(*(*store)->ListPolicies(), (std::vector<std::string>{"default", "web"}));
  }
  // Reopened: the rewritten default is kept, not reset.
  auto store = PolicyStore::Open(&storage);
  ASSERT_TRUE(store.ok());
  EXPECT_NE((*store)->GetPolicyText("default")->value().find("capabilities-self"), std::string::npos);
  EXPECT_EQ((*store)->GetPolicyText("default")->value().find("lookup-self"), std::string::npos);
  EXPECT_TRUE((*(*store)->AclFor({"web"}))->Check(Operation::kUpdate, "pki/issue/db", Json::object()).allowed);
  ASSERT_TRUE((*store)->DeletePolicy("web").ok());
  ASSERT_TRUE((*store)->DeletePolicy("web").ok());  // absent: still fine
  EXPECT_FALSE((*store)->GetPolicyText("web")->has_value());
  EXPECT_FALSE((*(*store)->AclFor({"web"}))->Check(Operation::kUpdate, "pki/issue/db", Json::object()).allowed);
}

}  // namespace
}  // namespace pki::server
