// Tests for the HTTP -> logical request mapping (methods, list spellings, query and body parsing) and URL decoding.
#include <gtest/gtest.h>

#include <variant>

#include "src/server/logical_call.h"
#include "src/server/url.h"

namespace pki::server {
namespace {

HttpRequest Req(std::string method, std::string target, std::string body = "",
                std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

LogicalCall MustParse(const HttpRequest& req) {
  auto parsed = ParseLogicalCall(req);
  EXPECT_TRUE(std::holds_alternative<LogicalCall>(parsed)) << req.method << " " << req.target;
  if (!std::holds_alternative<LogicalCall>(parsed)) return {};
  return std::get<LogicalCall>(parsed);
}

HttpError MustFail(const HttpRequest& req) {
  auto parsed = ParseLogicalCall(req);
  EXPECT_TRUE(std::holds_alternative<HttpError>(parsed)) << req.method << " " << req.target;
  if (!std::holds_alternative<HttpError>(parsed)) return {};
  return std::get<HttpError>(parsed);
}

TEST(ParseGoBoolTest, AcceptsExactlyGoSpellings) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) EXPECT_EQ(ParseGoBool(t), true) << t;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) EXPECT_EQ(ParseGoBool(f), false) << f;
  for (const char* bad : {"", "yes", "tRUE", "2", " true", "on"}) EXPECT_FALSE(ParseGoBool(bad).has_value()) << bad;
}

TEST(LogicalCallTest, GetIsReadWithQueryAsData) {
  LogicalCall c = MustParse(Req("GET", "/v1/pki/cert/ab?a=1&b=x%20y&b=z+w&help=1"));
  EXPECT_EQ(c.operation, Operation::kRead);
  EXPECT_EQ(c.path, "pki/cert/ab");
  EXPECT_EQ(c.data, Json({{"a", "1"}, {"b", Json::array({"x y", "z w"})}}));  // "help" is reserved
  EXPECT_FALSE(c.head);
}

TEST(LogicalCallTest, GetListTrueInAnyGoSpellingIsList) {
  for (const char* v : {"true", "True", "TRUE", "t", "1"}) {
    LogicalCall c = MustParse(Req("GET", std::string("/v1/pki/roles?list=") + v + "&after=b"));
    EXPECT_EQ(c.operation, Operation::kList) << v;
    EXPECT_EQ(c.path, "pki/roles/") << v;
    EXPECT_EQ(c.data, Json({{"after", "b"}})) << v;  // "list" itself is not data
  }
}

TEST(LogicalCallTest, GetListFalseIsReadAndKeepsTheParameter) {
  LogicalCall c = MustParse(Req("GET", "/v1/pki/roles?list=false"));
  EXPECT_EQ(c.operation, Operation::kRead);
  EXPECT_EQ(c.path, "pki/roles");
  EXPECT_EQ(c.data, Json({{"list", "false"}}));
}

TEST(LogicalCallTest, GetListWithNonBooleanIs400WithoutMessage) {
  HttpError e = MustFail(Req("GET", "/v1/pki/roles?list=yes"));
  EXPECT_EQ(e.status, 400);
  EXPECT_TRUE(e.errors.empty());
}

TEST(LogicalCallTest, ListMethodIsListWithTrailingSlash) {
  LogicalCall c = MustParse(Req("LIST", "/v1/pki/issuers"));
  EXPECT_EQ(c.operation, Operation::kList);
  EXPECT_EQ(c.path, "pki/issuers/");
  c = MustParse(Req("LIST", "/v1/pki/issuers/"));
  EXPECT_EQ(c.path, "pki/issuers/");
}

TEST(LogicalCallTest, PostAndPutAreUpdateWithJsonBody) {
  for (const char* m : {"POST", "PUT"}) {
    LogicalCall c = MustParse(Req(m, "/v1/pki/roles/web?ignored=1", R"({"ttl":"1h","max":3})"));
    EXPECT_EQ(c.operation, Operation::kUpdate) << m;
    EXPECT_EQ(c.path, "pki/roles/web");
    EXPECT_EQ(c.data, Json({{"ttl", "1h"}, {"max", 3}}));
  }
}

TEST(LogicalCallTest, EmptyOrNullBodyIsNoData) {
  for (const char* body : {"", "  \n", "null"}) {
    LogicalCall c = MustParse(Req("POST", "/v1/pki/tidy", body));
    EXPECT_EQ(c.operation, Operation::kUpdate);
    EXPECT_EQ(c.data, Json::object()) << body;
  }
}

TEST(LogicalCallTest, InvalidOrNonObjectJsonIs400) {
  for (const char* body : {"{", "not json", "[1,2]", "\"s\"", "{\"a\":1} x"}) {
    HttpError e = MustFail(Req("POST", "/v1/pki/roles/web", body));
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.errors, std::vector<std::string>{"error parsing JSON"}) << body;
  }
}

TEST(LogicalCallTest, FormBodyIsParsedWhenItIsNotJson) {
  LogicalCall c = MustParse(Req("POST", "/v1/pki/roles/web", "a=1&b=x&b=y",
                                {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}));
  EXPECT_EQ(c.data, Json({{"a", "1"}, {"b", "x,y"}}));
  c = MustParse(Req("POST", "/v1/pki/roles/web", R"({"a":1})", {{"Content-Type", "application/x-www-form-urlencoded"}}));
  EXPECT_EQ(c.data, Json({{"a", 1}}));
}

TEST(LogicalCallTest, OcspRequestBodyIsPassedRaw) {
  std::string der("\x30\x03\x02\x01\x00", 5);
  LogicalCall c = MustParse(Req("POST", "/v1/pki/ocsp", der, {{"Content-Type", "application/ocsp-request"}}));
  EXPECT_EQ(c.operation, Operation::kUpdate);
  EXPECT_EQ(c.data, Json({{"http_raw_body", "MAMCAQA="}}));
}

TEST(LogicalCallTest, DeleteIsDeleteWithQueryAsData) {
  LogicalCall c = MustParse(Req("DELETE", "/v1/pki/roles/web?x=1"));
  EXPECT_EQ(c.operation, Operation::kDelete);
  EXPECT_EQ(c.path, "pki/roles/web");
  EXPECT_EQ(c.data, Json({{"x", "1"}}));
}

TEST(LogicalCallTest, PatchNeedsMergePatchContentType) {
  LogicalCall c = MustParse(Req("PATCH", "/v1/pki/roles/web", R"({"ttl":"2h"})",
                                {{"content-type", "application/merge-patch+json"}}));
  EXPECT_EQ(c.operation, Operation::kPatch);
  EXPECT_EQ(c.data, Json({{"ttl", "2h"}}));

  HttpError e = MustFail(Req("PATCH", "/v1/pki/roles/web", "{}", {{"Content-Type", "application/json"}}));
  EXPECT_EQ(e.status, 415);
  EXPECT_EQ(e.errors.at(0), "PATCH requires Content-Type of application/merge-patch+json, provided application/json");
  EXPECT_EQ(MustFail(Req("PATCH", "/v1/pki/roles/web", "{}")).status, 400);
}

TEST(LogicalCallTest, HeadIsReadWithoutBody) {
  LogicalCall c = MustParse(Req("HEAD", "/v1/sys/health?list=true"));
  EXPECT_EQ(c.operation, Operation::kRead);
  EXPECT_TRUE(c.head);
}

TEST(LogicalCallTest, OtherMethodsAre405) {
  for (const char* m : {"OPTIONS", "TRACE", "CONNECT", "get", "FOO"}) {
    HttpError e = MustFail(Req(m, "/v1/pki/roles"));
    EXPECT_EQ(e.status, 405) << m;
    EXPECT_TRUE(e.errors.empty());
  }
}

TEST(LogicalCallTest, PathsOutsideV1Are404) {
  for (const char* t : {"/", "/v1/", "/v1", "/v2/pki/ca", "/ui/"}) EXPECT_EQ(MustFail(Req("GET", t)).status, 404) << t;
}

TEST(LogicalCallTest, PathIsPercentDecodedButPlusIsKept) {
  LogicalCall c = MustParse(Req("GET", "/v1/pki/ocsp/MEUw%2BQz+a%3D%3D"));
  EXPECT_EQ(c.path, "pki/ocsp/MEUw+Qz+a==");
  EXPECT_EQ(MustFail(Req("GET", "/v1/pki/%zz")).status, 400);
  EXPECT_EQ(MustFail(Req("GET", "/v1/pki/%4")).status, 400);
}

TEST(UrlTest, QueryStringFollowsGo) {
  auto q = ParseQueryString("a=1&&b&c=%41%42&bad=%G1&semi=1;2&d=x+y");
  std::vector<std::pair<std::string, std::string>> want = {{"a", "1"}, {"b", ""}, {"c", "AB"}, {"d", "x y"}};
  EXPECT_EQ(q, want);
}

}  // namespace
}  // namespace pki::server
