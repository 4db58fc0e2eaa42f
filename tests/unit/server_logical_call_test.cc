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

// ---- hostile input: nesting depth and UTF-8

std::string Nested(size_t depth, const std::string& leaf = "1") {
  return std::string(depth, '[') + leaf + std::string(depth, ']');
}

TEST(LogicalCallTest, DeeplyNestedJsonBodyIs400WithoutRecursion) {
  // 100000 levels: recursing over this (copy, dump, destroy) overflows the stack.
  const std::string body = "{\"zzz\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  for (const char* method : {"POST", "PUT"}) {
    HttpError e = MustFail(Req(method, "/v1/pki/config/urls", body, {{"Content-Type", "application/json"}}));
    EXPECT_EQ(e.status, 400);
    ASSERT_EQ(e.errors.size(), 1u);
    EXPECT_NE(e.errors[0].find("nesting depth"), std::string::npos) << e.errors[0];
  }
  HttpError patch =
      MustFail(Req("PATCH", "/v1/pki/roles/web", body, {{"Content-Type", "application/merge-patch+json"}}));
  EXPECT_EQ(patch.status, 400);
  // A form content type whose body looks like JSON is parsed as JSON, with the same limit.
  EXPECT_EQ(MustFail(Req("POST", "/v1/sys/mounts/x", body,
                         {{"Content-Type", "application/x-www-form-urlencoded"}})).status,
            400);
  // Objects count as much as arrays; an unbalanced deep prefix is refused the same way (not as a parse error).
  std::string objects;
  for (int i = 0; i < 5000; ++i) objects += "{\"a\":";
  EXPECT_NE(MustFail(Req("POST", "/v1/pki/roles/web", objects)).errors.at(0).find("nesting depth"),
            std::string::npos);
}

TEST(LogicalCallTest, JsonNestingLimitIsVaultsDefaultOf300) {
  EXPECT_EQ(kMaxRequestJsonDepth, 300u);
  // The top-level object is depth 1: 299 arrays inside it reach 300, which is allowed; 300 arrays are not.
  LogicalCall ok = MustParse(Req("POST", "/v1/pki/roles/web", "{\"a\":" + Nested(299) + "}"));
  EXPECT_TRUE(ok.data.contains("a"));
  EXPECT_EQ(MustFail(Req("POST", "/v1/pki/roles/web", "{\"a\":" + Nested(300) + "}")).status, 400);
  // Brackets inside strings (with escaped quotes) are not nesting.
  std::string text = "\\\"" + std::string(1000, '[') + "\\\\";
  LogicalCall s = MustParse(Req("POST", "/v1/pki/roles/web", "{\"a\":\"" + text + "\",\"b\":[[1]]}"));
  EXPECT_EQ(s.data["b"], Json::parse("[[1]]"));
}

TEST(LogicalCallTest, InvalidUtf8InFormBodyIs400) {
  for (const char* body : {"allowed_domains=%FF.x", "a=%C3%28", "%FF=1", "a=%ED%A0%80", "a=%F4%90%80%80",
                           "a=%C0%AF", "a=%E2%82"}) {
    HttpError e = MustFail(Req("POST", "/v1/pki/roles/web", body,
                               {{"Content-Type", "application/x-www-form-urlencoded"}}));
    EXPECT_EQ(e.status, 400) << body;
    ASSERT_EQ(e.errors.size(), 1u) << body;
    EXPECT_NE(e.errors[0].find("UTF-8"), std::string::npos) << e.errors[0];
    EXPECT_NO_THROW(Json(e.errors[0]).dump()) << "the message itself must be valid UTF-8";
  }
  LogicalCall c = MustParse(Req("POST", "/v1/pki/roles/web", "cn=%C3%A9t%C3%A9&e=%F0%9F%94%92",
                                {{"Content-Type", "application/x-www-form-urlencoded"}}));
  EXPECT_EQ(c.data, Json({{"cn", "\xC3\xA9t\xC3\xA9"}, {"e", "\xF0\x9F\x94\x92"}}));
}

TEST(LogicalCallTest, InvalidUtf8InQueryOrPathIs400) {
  for (const char* target : {"/v1/pki/certs?after=%FF", "/v1/pki/certs?%FE=1", "/v1/pki/roles/%FF",
                             "/v1/pki/certs?list=true&after=%C3"}) {
    for (const char* method : {"GET", "LIST", "DELETE"}) {
      HttpError e = MustFail(Req(method, target));
      EXPECT_EQ(e.status, 400) << method << " " << target;
      ASSERT_EQ(e.errors.size(), 1u);
      EXPECT_NE(e.errors[0].find("UTF-8"), std::string::npos) << e.errors[0];
      EXPECT_NO_THROW(Json(e.errors[0]).dump());
    }
  }
  EXPECT_EQ(MustFail(Req("POST", "/v1/pki/roles/%FF", "{}")).status, 400);
  LogicalCall c = MustParse(Req("GET", "/v1/pki/roles/%C3%A9?x=%C3%A9"));
  EXPECT_EQ(c.path, "pki/roles/\xC3\xA9");
  EXPECT_EQ(c.data, Json({{"x", "\xC3\xA9"}}));
}

TEST(UrlTest, Utf8ValidationIsStrict) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\x92\xF4\x8F\xBF\xBF\xEF\xBF\xBF"));
  for (const char* bad : {"\xFF", "\x80", "\xC3", "\xC3(", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "\xE2\x82", "a\xF0\x9F\x94"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
  // Whatever IsValidUtf8 accepts, nlohmann dumps without throwing.
  EXPECT_NO_THROW(Json("\xF4\x8F\xBF\xBF").dump());
}

TEST(UrlTest, QueryStringFollowsGo) {
  auto q = ParseQueryString("a=1&&b&c=%41%42&bad=%G1&semi=1;2&d=x+y");
  std::vector<std::pair<std::string, std::string>> want = {{"a", "1"}, {"b", ""}, {"c", "AB"}, {"d", "x y"}};
  EXPECT_EQ(q, want);
}

}  // namespace
}  // namespace pki::server
