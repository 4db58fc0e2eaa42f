// Tests for Vault's rendering of logical results: envelope fields, nil/list/raw rules and the error mapping.
#include <gtest/gtest.h>

#include "src/server/envelope.h"

namespace pki::server {
namespace {

const EnvelopeContext kCtx{"11111111-2222-4333-8444-555555555555", "pki", false};

Json BodyJson(const HttpResponse& r) { return Json::parse(r.body); }

TEST(EnvelopeTest, SuccessHasEveryVaultField) {
  HttpResponse r = RenderLogicalResult(Operation::kRead, Response::Data({{"certificate", "PEM"}}), kCtx);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body.back(), '\n');
  Json want = {{"request_id", kCtx.request_id}, {"lease_id", ""},        {"renewable", false},
               {"lease_duration", 0},           {"data", {{"certificate", "PEM"}}},
               {"wrap_info", nullptr},          {"warnings", nullptr},   {"auth", nullptr},
               {"mount_type", "pki"}};
  EXPECT_EQ(BodyJson(r), want);
  // Vault's field order is kept.
  EXPECT_EQ(r.body.rfind("{\"request_id\":", 0), 0u);
  EXPECT_LT(r.body.find("\"lease_id\""), r.body.find("\"data\""));
}

TEST(EnvelopeTest, WarningsAreAnArrayAndEmptyDataIsNull) {
  Response resp;
  resp.warnings = {"w1", "w2"};
  Json body = BodyJson(RenderLogicalResult(Operation::kUpdate, resp, kCtx));
  EXPECT_EQ(body["warnings"], Json::array({"w1", "w2"}));
  EXPECT_TRUE(body["data"].is_null());
}

TEST(EnvelopeTest, StatusOverrideKeepsTheEnvelope) {
  Response resp;
  resp.status = 202;
  resp.warnings = {"Tidy operation successfully started."};
  HttpResponse r = RenderLogicalResult(Operation::kUpdate, resp, kCtx);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(BodyJson(r)["warnings"][0], "Tidy operation successfully started.");
}

TEST(EnvelopeTest, NilIs404ForReadsAnd204ForWrites) {
  for (Operation op : {Operation::kRead, Operation::kList, Operation::kPatch}) {
    HttpResponse r = RenderLogicalResult(op, Response::Nil(), kCtx);
    EXPECT_EQ(r.status, 404) << OperationName(op);
    EXPECT_EQ(BodyJson(r), Json({{"errors", Json::array()}}));
  }
  for (Operation op : {Operation::kUpdate, Operation::kCreate, Operation::kDelete}) {
    HttpResponse r = RenderLogicalResult(op, Response::Nil(), kCtx);
    EXPECT_EQ(r.status, 204) << OperationName(op);
    EXPECT_TRUE(r.body.empty());
    EXPECT_TRUE(r.content_type.empty());
  }
}

TEST(EnvelopeTest, ListWithoutKeysIs404) {
  EXPECT_EQ(RenderLogicalResult(Operation::kList, Response::Data({{"keys", Json::array()}}), kCtx).status, 404);
  EXPECT_EQ(RenderLogicalResult(Operation::kList, Response::Data(Json::object()), kCtx).status, 404);
  EXPECT_EQ(RenderLogicalResult(Operation::kList, Response::Data({{"keys", nullptr}}), kCtx).status, 404);
  EXPECT_EQ(RenderLogicalResult(Operation::kList, Response::Data({{"keys", nullptr}, {"n", 0}}), kCtx).status, 200);
  HttpResponse ok = RenderLogicalResult(Operation::kList, Response::Data({{"keys", {"a", "b"}}}), kCtx);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(BodyJson(ok)["data"]["keys"], Json::array({"a", "b"}));
  // Other data, or warnings alone, are shown as they are.
  EXPECT_EQ(RenderLogicalResult(Operation::kList, Response::Data({{"other", 1}}), kCtx).status, 200);
  Response warn_only;
  warn_only.warnings = {"w"};
  EXPECT_EQ(RenderLogicalResult(Operation::kList, warn_only, kCtx).status, 200);
  // Keys that are not strings are the engine's fault.
  EXPECT_EQ(RenderLogicalResult(Operation::kList, Response::Data({{"keys", {1, 2}}}), kCtx).status, 500);
  // The list rule applies to lists only.
  EXPECT_EQ(RenderLogicalResult(Operation::kRead, Response::Data({{"keys", Json::array()}}), kCtx).status, 200);
}

TEST(EnvelopeTest, RawResponsesKeepTheirOwnStatusTypeAndBody) {
  HttpResponse r = RenderLogicalResult(Operation::kRead, Response::Raw("application/pkix-crl", "DER"), kCtx);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/pkix-crl");
  EXPECT_EQ(r.body, "DER");
  r = RenderLogicalResult(Operation::kUpdate, Response::Raw("application/ocsp-response", "X", 401), kCtx);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "X");
  r = RenderLogicalResult(Operation::kRead, Response::Raw("application/pkix-cert", ""), kCtx);
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(r.content_type.empty());
  Response cached = Response::Raw("application/ocsp-response", "Y");
  cached.raw->cache_control = "max-age=60, public";
  r = RenderLogicalResult(Operation::kRead, cached, kCtx);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], std::make_pair(std::string("Cache-Control"), std::string("max-age=60, public")));
}

TEST(EnvelopeTest, StatusCodesMapToVaultHttpStatuses) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kBadRequest), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnsupportedOperation), 405);
  EXPECT_EQ(HttpStatusFor(StatusCode::kTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
}

TEST(EnvelopeTest, ErrorBodiesAreVaultShaped) {
  struct Case {
    Status status;
    int http;
    Json errors;
  };
  const Case cases[] = {
      {Status::BadRequest("common name x not allowed by this role"), 400,
       Json::array({"common name x not allowed by this role"})},
      {Status::PermissionDenied(), 403, Json::array({"permission denied"})},
      {Status::NotFound("unsupported path"), 404, Json::array({"1 error occurred:\n\t* unsupported path\n\n"})},
      {Status::NotFound(), 404, Json::array()},
      {Status::Unsupported(), 405, Json::array({"1 error occurred:\n\t* unsupported operation\n\n"})},
      {Status::TooLarge("too big"), 413, Json::array({"too big"})},
      {Status::Internal("could not fetch the CA certificate"), 500,
       Json::array({"1 error occurred:\n\t* could not fetch the CA certificate\n\n"})},
  };
  for (const auto& c : cases) {
    HttpResponse r = RenderLogicalResult(Operation::kRead, Result<Response>(c.status), kCtx);
    EXPECT_EQ(r.status, c.http) << c.status.message();
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(BodyJson(r), Json({{"errors", c.errors}})) << c.status.message();
  }
}

TEST(EnvelopeTest, SysResponsesAlsoCarryDataAtTopLevel) {
  EnvelopeContext ctx = kCtx;
  ctx.mount_type = "system";
  ctx.inject_data = true;
  Json body = BodyJson(RenderLogicalResult(
      Operation::kRead, Response::Data({{"pki/", {{"type", "pki"}}}, {"data", "shadowed"}}), ctx));
  EXPECT_EQ(body["pki/"]["type"], "pki");
  EXPECT_EQ(body["data"]["pki/"]["type"], "pki");
  EXPECT_EQ(body["data"]["data"], "shadowed");  // envelope keys win at the top level
  EXPECT_EQ(body["mount_type"], "system");
}

TEST(EnvelopeTest, InvalidUtf8DoesNotThrow) {
  HttpResponse r = RenderLogicalResult(Operation::kRead, Response::Data({{"v", std::string("\xff\xfe")}}), kCtx);
  EXPECT_EQ(r.status, 200);
  EXPECT_NO_THROW((void)Json::parse(r.body));
}

}  // namespace
}  // namespace pki::server
