// plugin/wire: the engine's requests and responses on Vault's pb wire, both directions, and the handshake pieces.
#include <gtest/gtest.h>

#include "plugin/automtls.h"
#include "plugin/handshake.h"
#include "plugin/wire.h"
#include "src/crypto/x509.h"

namespace pki::plugin {
namespace {

Result<Response> RoundTrip(const Result<Response>& in) { return FromProtoReply(ToProtoReply(in, "req-1")); }

TEST(PluginWire, RequestRoundTripAddsListSlashAndKeepsData) {
  Request req;
  req.operation = Operation::kList;
  req.path = "roles";
  req.mount_point = "pki/";
  req.data = Json::object({{"after", "a"}, {"limit", 5}});
  pb::Request wire = ToProtoRequest(req, "id-1");
  EXPECT_EQ(wire.operation(), "list");
  EXPECT_EQ(wire.path(), "roles/");
  EXPECT_EQ(wire.id(), "id-1");
  Result<Request> back = FromProtoRequest(wire);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->operation, Operation::kList);
  EXPECT_EQ(back->data, req.data);
  EXPECT_EQ(back->mount_point, "pki/");
}

TEST(PluginWire, EmptyDataIsNullOnTheWireAndAnObjectBack) {
  Request req;
  req.path = "ca/pem";
  pb::Request wire = ToProtoRequest(req, "");
  EXPECT_EQ(wire.data(), "null");
  Result<Request> back = FromProtoRequest(wire);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->data.is_object());
  EXPECT_TRUE(back->data.empty());
}

TEST(PluginWire, BadRequestDataAndUnknownOperationsAreRefused) {
  pb::Request wire;
  wire.set_operation("read");
  wire.set_data("[1,2]");
  EXPECT_EQ(FromProtoRequest(wire).status().code(), StatusCode::kBadRequest);
  wire.set_data("{");
  EXPECT_EQ(FromProtoRequest(wire).status().code(), StatusCode::kBadRequest);
  wire.set_data("{}");
  wire.set_operation("rollback");
  EXPECT_EQ(FromProtoRequest(wire).status().code(), StatusCode::kUnsupportedOperation);
}

// Found by plugin_request_fuzz: data nested a hundred thousand deep parsed fine and then overflowed the plugin's
// stack where the engine copied it. Refused before parsing now, and ordinary nesting still passes.
TEST(PluginWire, DeeplyNestedRequestDataIsRefusedBeforeParsing) {
  pb::Request wire;
  wire.set_operation("update");
  wire.set_path("roles/x");
  const size_t deep = 1'000'000;
  wire.set_data("{\"common_name\":" + std::string(deep, '[') + std::string(deep, ']') + "}");
  Result<Request> refused = FromProtoRequest(wire);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(refused.status().message(), "request data is nested deeper than 1000");

  wire.set_data("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}");
  Result<Request> nested = FromProtoRequest(wire);
  ASSERT_TRUE(nested.ok());
  Json copy = nested->data;  // what overflowed: a recursive copy
  EXPECT_TRUE(copy["a"].is_array());
}

TEST(PluginWire, DataResponseRoundTrips) {
  Response r = Response::Data(Json::object({{"certificate", "PEM"}, {"ttl", 3600}}));
  r.warnings = {"careful"};
  Result<Response> back = RoundTrip(r);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->nil);
  EXPECT_EQ(back->data, r.data);
  EXPECT_EQ(back->warnings, r.warnings);
}

TEST(PluginWire, NilResponseHasNoResponseMessage) {
  pb::HandleRequestReply reply = ToProtoReply(Response::Nil(), "");
  EXPECT_FALSE(reply.has_response());
  EXPECT_FALSE(reply.has_err());
  Result<Response> back = FromProtoReply(reply);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->nil);
}

TEST(PluginWire, EmptyDataIsNeverAnEmptyString) {
  // Vault's host unmarshals Response.data whenever a response is present: "" would be an error there.
  pb::HandleRequestReply reply = ToProtoReply(Response::Data(Json::object()), "");
  ASSERT_TRUE(reply.has_response());
  EXPECT_EQ(reply.response().data(), "null");
}

TEST(PluginWire, RawResponseTravelsBase64InVaultKeys) {
  std::string der("\x30\x82\x00\x01\xff", 5);
  pb::HandleRequestReply reply = ToProtoReply(Response::Raw("application/pkix-cert", der), "");
  Json data = Json::parse(reply.response().data());
  EXPECT_EQ(data["http_status_code"], 200);
  EXPECT_EQ(data["http_content_type"], "application/pkix-cert");
  EXPECT_EQ(data["http_raw_body"], Base64Encode(der));
  Result<Response> back = FromProtoReply(reply);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->raw.has_value());
  EXPECT_EQ(back->raw->body, der);
  EXPECT_EQ(back->raw->status, 200);
  EXPECT_TRUE(back->raw->cache_control.empty());

  Response cached = Response::Raw("application/ocsp-response", der);
  cached.raw->cache_control = "max-age=3600, public, no-transform, must-revalidate";
  Result<Response> again = RoundTrip(cached);
  ASSERT_TRUE(again.ok() && again->raw);
  EXPECT_EQ(again->raw->cache_control, cached.raw->cache_control);
}

TEST(PluginWire, StatusOverrideBecomesRawEnvelope) {
  Response r = Response::Data(Json::object({{"state", "Running"}}));
  r.status = 202;
  Result<Response> back = RoundTrip(r);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->raw.has_value());
  EXPECT_EQ(back->raw->status, 202);
  Json env = Json::parse(back->raw->body);
  EXPECT_EQ(env["request_id"], "req-1");
  EXPECT_EQ(env["data"]["state"], "Running");
}

TEST(PluginWire, ErrorsKeepTheirClass) {
  struct Case {
    Status status;
    StatusCode code;
    std::string message;
  } cases[] = {
      {Status::BadRequest("common name not allowed"), StatusCode::kBadRequest, "common name not allowed"},
      {Status::PermissionDenied(), StatusCode::kPermissionDenied, "permission denied"},
      {Status::NotFound("unsupported path"), StatusCode::kNotFound, "unsupported path"},
      {Status::NotFound("unknown issuer"), StatusCode::kNotFound, "unknown issuer"},
      {Status::Unsupported(), StatusCode::kUnsupportedOperation, "unsupported operation"},
      {Status::TooLarge("body too large"), StatusCode::kTooLarge, "body too large"},
      {Status::Internal("storage failed"), StatusCode::kInternal, "storage failed"},
  };
  for (const auto& c : cases) {
    Result<Response> back = RoundTrip(c.status);
    ASSERT_FALSE(back.ok()) << c.message;
    EXPECT_EQ(back.status().code(), c.code) << c.message;
    EXPECT_EQ(back.status().message(), c.message);
  }
}

TEST(PluginWire, BadRequestIsAnErrorResponseAsVaultsFrameworkSends) {
  pb::HandleRequestReply reply = ToProtoReply(Status::BadRequest("no"), "");
  ASSERT_TRUE(reply.has_response());
  EXPECT_EQ(Json::parse(reply.response().data()), Json::object({{"error", "no"}}));
  // A Go plugin may send the error response alone.
  reply.clear_err();
  EXPECT_EQ(FromProtoReply(reply).status().code(), StatusCode::kBadRequest);
}

TEST(PluginWire, GarbledReplyDataIsAnInternalErrorNotACrash) {
  pb::HandleRequestReply reply;
  reply.mutable_response()->set_data("{not json");
  EXPECT_FALSE(FromProtoReply(reply).ok());
  reply.mutable_response()->set_data(R"({"http_status_code":"x"})");
  EXPECT_EQ(FromProtoReply(reply).status().code(), StatusCode::kInternal);
}

TEST(PluginWire, LeaseTravelsAsVaultSecretAndComesBackAsRevoke) {
  Response r = Response::Data(Json::object({{"serial_number", "01:02"}}));
  r.lease = Lease{"pki", 3600, false, Json::object({{"serial_number", "01:02"}})};
  pb::HandleRequestReply reply = ToProtoReply(r, "");
  ASSERT_TRUE(reply.response().has_secret());
  const pb::Secret& secret = reply.response().secret();
  EXPECT_EQ(secret.lease_options().ttl(), int64_t{3600} * 1000000000);
  EXPECT_TRUE(secret.lease_options().has_issue_time());
  Json internal = Json::parse(secret.internal_data());
  EXPECT_EQ(internal["secret_type"], "pki");
  EXPECT_EQ(internal["serial_number"], "01:02");

  Result<Response> back = FromProtoReply(reply);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->lease.has_value());
  EXPECT_EQ(back->lease->secret_type, "pki");
  EXPECT_EQ(back->lease->ttl_seconds, 3600);

  // The host's lease manager sends the secret back with operation "revoke".
  pb::Request revoke;
  revoke.set_operation("revoke");
  revoke.set_path("issue/web");
  *revoke.mutable_secret() = secret;
  Result<Request> req = FromProtoRequest(revoke);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->operation, Operation::kRevoke);
  EXPECT_EQ(req->secret_internal_data["serial_number"], "01:02");
}

TEST(PluginHandshake, NegotiatesVersionFive) {
  EXPECT_EQ(NegotiateProtocolVersion("5").value(), 5);
  EXPECT_EQ(NegotiateProtocolVersion("3, 4,5").value(), 5);
  EXPECT_EQ(NegotiateProtocolVersion(nullptr).value(), 5);
  EXPECT_FALSE(NegotiateProtocolVersion("3,4").ok());
  EXPECT_FALSE(NegotiateProtocolVersion("50").ok());
}

TEST(PluginHandshake, CookieMustMatchExactly) {
  EXPECT_TRUE(HasMagicCookie("6669da05-b1c8-4f49-97d9-c8e5bed98e20"));
  EXPECT_FALSE(HasMagicCookie(nullptr));
  EXPECT_FALSE(HasMagicCookie(""));
  EXPECT_FALSE(HasMagicCookie("6669da05-b1c8-4f49-97d9-c8e5bed98e2"));
}

TEST(PluginHandshake, LineCarriesUnpaddedCertificate) {
  Result<TlsIdentity> id = GenerateTlsIdentity(1700000000);
  ASSERT_TRUE(id.ok());
  std::string line = HandshakeLine(5, "unix", "/tmp/x/plugin.sock", id->cert_der);
  std::string prefix = "1|5|unix|/tmp/x/plugin.sock|grpc|";
  ASSERT_EQ(line.rfind(prefix, 0), 0u);
  std::string cert = line.substr(prefix.size());
  EXPECT_EQ(cert.find('='), std::string::npos);
  EXPECT_EQ(DecodeRawBase64(cert).value(), id->cert_der);
  EXPECT_EQ(HandshakeLine(5, "unix", "/s", ""), "1|5|unix|/s|grpc|");
}

TEST(PluginAutoMtls, CertificateIsGoPluginsTemplate) {
  Result<TlsIdentity> id = GenerateTlsIdentity(1700000000);
  ASSERT_TRUE(id.ok());
  Result<ossl::X509Ptr> cert = ParseCertificateDer(id->cert_der);
  ASSERT_TRUE(cert.ok());
  CertInfo info = InspectCertificate(cert->get());
  EXPECT_EQ(info.dns_names, std::vector<std::string>{"localhost"});
  EXPECT_TRUE(info.is_ca);
  EXPECT_EQ(info.not_before, 1700000000 - 30);
  EXPECT_EQ(info.not_after, 1700000000 + int64_t{262980} * 3600);
  EXPECT_EQ(info.common_name, "localhost");
}

}  // namespace
}  // namespace pki::plugin
