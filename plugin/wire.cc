#include "plugin/wire.h"

#include <chrono>

#include "src/core/text.h"
#include "src/crypto/x509.h"

namespace pki::plugin {
namespace {

// sdk/plugin/pb/translation.go error types.
enum ErrType : uint32_t {
  kErrUnknown = 0,
  kErrUser = 1,
  kErrInternal = 2,
  kErrCoded = 3,
  kErrStatusBadRequest = 4,
  kErrUnsupportedOperation = 5,
  kErrUnsupportedPath = 6,
  kErrInvalidRequest = 7,
  kErrPermissionDenied = 8,
  kErrMultiAuthzPending = 9,
  kErrUnrecoverable = 10,
};

constexpr char kUnsupportedPath[] = "unsupported path";

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Request data deeper than this is refused before it is parsed: the engine copies and dumps it recursively, and a
// host that passes deeper JSON (Vault's max_request_json_depth, 300 by default, may be raised) would otherwise
// overflow the plugin's stack. Well above what any PKI request nests, far below what a stack holds.
constexpr size_t kMaxWireJsonDepth = 1000;

// JSON object text from the wire; Go marshals a nil map as "null".
Result<Json> ParseObject(const std::string& text, const char* what) {
  if (text.empty() || text == "null") return Json::object();
  if (JsonNestingExceeds(text, kMaxWireJsonDepth)) {
    return Status::BadRequest(std::string(what) + " is nested deeper than " + std::to_string(kMaxWireJsonDepth));
  }
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::BadRequest(std::string(what) + " is not a JSON object");
  return j;
}

// Vault's logical.Response.IsError: data holding only "error" (or "error" and "data").
bool IsErrorData(const Json& data) {
  if (!data.is_object() || !data.contains("error")) return false;
  return data.size() == 1 || (data.size() == 2 && data.contains("data"));
}

std::string ErrorText(const Json& data) {
  const Json& e = data["error"];
  return e.is_string() ? e.get<std::string>() : Dump(e);
}

Status CodedStatus(int64_t code, std::string msg) {
  switch (code) {
    case 400: return Status::BadRequest(std::move(msg));
    case 403: return Status::PermissionDenied(msg.empty() ? "permission denied" : std::move(msg));
    case 404: return Status::NotFound(std::move(msg));
    case 405: return Status::Unsupported(msg.empty() ? "unsupported operation" : std::move(msg));
    case 413: return Status::TooLarge(std::move(msg));
    default: return Status::Internal(std::move(msg));
  }
}

constexpr int64_t kNanosPerSecond = 1000000000;

// Vault's logical.Secret on the wire: durations in nanoseconds, the secret type inside the internal data (where
// the SDK's framework keeps it to route the revocation back), an issue time always present (Vault's host rejects
// a nil timestamp).
pb::Secret ToProtoSecret(const Lease& lease) {
  pb::Secret s;
  Json internal = lease.internal_data.is_object() ? lease.internal_data : Json::object();
  internal["secret_type"] = lease.secret_type;
  s.set_internal_data(Dump(internal));
  pb::LeaseOptions* o = s.mutable_lease_options();
  o->set_ttl(lease.ttl_seconds * kNanosPerSecond);
  o->set_renewable(lease.renewable);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  o->mutable_issue_time()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  return s;
}

}  // namespace

const char* OperationToWire(Operation op) { return OperationName(op); }

Result<Operation> OperationFromWire(std::string_view name) {
  for (Operation op : {Operation::kRead, Operation::kUpdate, Operation::kCreate, Operation::kDelete,
                       Operation::kList, Operation::kPatch, Operation::kRevoke}) {
    if (name == OperationName(op)) return op;
  }
  return Status::Unsupported();
}

pb::ProtoError ToProtoError(const Status& status) {
  pb::ProtoError e;
  e.set_err_msg(status.message());
  switch (status.code()) {
    case StatusCode::kOk:
    case StatusCode::kInternal:
      e.set_err_type(kErrUnknown);
      break;
    case StatusCode::kBadRequest:
      e.set_err_type(kErrInvalidRequest);
      break;
    case StatusCode::kPermissionDenied:
      e.set_err_type(kErrPermissionDenied);
      break;
    case StatusCode::kNotFound:
      if (status.message() == kUnsupportedPath) {
        e.set_err_type(kErrUnsupportedPath);
      } else {
        e.set_err_type(kErrCoded);
        e.set_err_code(404);
      }
      break;
    case StatusCode::kUnsupportedOperation:
      e.set_err_type(kErrUnsupportedOperation);
      break;
    case StatusCode::kTooLarge:
      e.set_err_type(kErrCoded);
      e.set_err_code(413);
      break;
  }
  return e;
}

Status FromProtoError(const pb::ProtoError& err) {
  const std::string& msg = err.err_msg();
  switch (err.err_type()) {
    case kErrCoded: return CodedStatus(err.err_code(), msg);
    case kErrStatusBadRequest:
    case kErrInvalidRequest: return Status::BadRequest(msg.empty() ? "invalid request" : msg);
    case kErrPermissionDenied: return Status::PermissionDenied();
    case kErrUnsupportedOperation: return Status::Unsupported();
    case kErrUnsupportedPath: return Status::NotFound(kUnsupportedPath);
    case kErrMultiAuthzPending: return Status::Internal("request waiting for control group authorization");
    default: return Status::Internal(msg.empty() ? "plugin error" : msg);
  }
}

Result<Request> FromProtoRequest(const pb::Request& req) {
  Request r;
  ASSIGN_OR_RETURN(r.operation, OperationFromWire(req.operation()));
  r.path = req.path();
  r.mount_point = req.mount_point();
  ASSIGN_OR_RETURN(r.data, ParseObject(req.data(), "request data"));
  if (req.has_secret()) {
    ASSIGN_OR_RETURN(r.secret_internal_data, ParseObject(req.secret().internal_data(), "secret internal data"));
  }
  return r;
}

pb::HandleRequestReply ToProtoReply(const Result<Response>& result, const std::string& request_id) {
  pb::HandleRequestReply reply;
  if (!result.ok()) {
    const Status& s = result.status();
    if (s.code() == StatusCode::kBadRequest) {
      // logical.ErrorResponse with ErrInvalidRequest, as the SDK's framework answers bad input.
      reply.mutable_response()->set_data(Dump(Json::object({{"error", s.message()}})));
    }
    *reply.mutable_err() = ToProtoError(s);
    return reply;
  }
  const Response& resp = result.value();
  if (resp.nil) return reply;
  pb::Response* out = reply.mutable_response();
  for (const auto& w : resp.warnings) out->add_warnings(w);
  if (resp.raw) {
    Json d = Json::object();
    d["http_status_code"] = resp.raw->status;
    d["http_content_type"] = resp.raw->content_type;
    d["http_raw_body"] = Base64Encode(resp.raw->body);
    if (!resp.raw->cache_control.empty()) d["http_raw_cache_control"] = resp.raw->cache_control;
    out->set_data(Dump(d));
    return reply;
  }
  bool no_data = resp.data.is_null() || (resp.data.is_object() && resp.data.empty());
  if (resp.status != 0) {
    // Vault's logical.RespondWithStatusCode: the whole HTTP envelope as a raw JSON body.
    Json env = Json::object();
    env["request_id"] = request_id;
    env["lease_id"] = "";
    env["renewable"] = false;
    env["lease_duration"] = 0;
    env["data"] = no_data ? Json(nullptr) : resp.data;
    env["wrap_info"] = nullptr;
    env["warnings"] = resp.warnings.empty() ? Json(nullptr) : Json(resp.warnings);
    env["auth"] = nullptr;
    Json d = Json::object();
    d["http_status_code"] = resp.status;
    d["http_content_type"] = "application/json";
    d["http_raw_body"] = Base64Encode(Dump(env));
    out->clear_warnings();
    out->set_data(Dump(d));
    return reply;
  }
  out->set_data(no_data ? "null" : Dump(resp.data));
  if (resp.lease) *out->mutable_secret() = ToProtoSecret(*resp.lease);
  return reply;
}

pb::Request ToProtoRequest(const Request& req, const std::string& request_id) {
  pb::Request r;
  r.set_id(request_id);
  r.set_operation(OperationToWire(req.operation));
  r.set_path(req.path);
  // Vault's HTTP layer hands list requests to the backend with a trailing slash.
  if (req.operation == Operation::kList && (r.path().empty() || r.path().back() != '/')) r.mutable_path()->push_back('/');
  r.set_mount_point(req.mount_point);
  r.set_mount_type("pki");
  r.set_data(req.data.is_object() && !req.data.empty() ? Dump(req.data) : "null");
  if (req.operation == Operation::kRevoke) {
    r.mutable_secret()->set_internal_data(Dump(req.secret_internal_data));
  }
  return r;
}

Result<Response> FromProtoReply(const pb::HandleRequestReply& reply) {
  Json data = Json::object();
  if (reply.has_response()) {
    ASSIGN_OR_RETURN(data, ParseObject(reply.response().data(), "plugin response data"));
  }
  // As Vault's RespondErrorCommon: an error response is a 400 unless the error type names another status.
  if (reply.has_err()) {
    uint32_t type = reply.err().err_type();
    bool names_status = type == kErrCoded || type == kErrPermissionDenied || type == kErrUnsupportedOperation ||
                        type == kErrUnsupportedPath;
    if (!names_status && IsErrorData(data)) return Status::BadRequest(ErrorText(data));
    return FromProtoError(reply.err());
  }
  if (IsErrorData(data)) return Status::BadRequest(ErrorText(data));
  if (!reply.has_response()) return Response::Nil();

  const pb::Response& r = reply.response();
  Response out;
  for (const auto& w : r.warnings()) out.warnings.push_back(w);
  if (data.contains("http_status_code")) {
    const Json& code = data["http_status_code"];
    if (!code.is_number_integer()) return Status::Internal("plugin returned a raw response without a status code");
    RawBody raw;
    raw.status = code.get<int>();
    if (data.contains("http_content_type") && data["http_content_type"].is_string()) {
      raw.content_type = data["http_content_type"].get<std::string>();
    }
    if (data.contains("http_raw_body") && data["http_raw_body"].is_string()) {
      // Go marshals []byte as base64; a plain string body is taken as it is, as Vault's host does.
      std::string text = data["http_raw_body"].get<std::string>();
      Result<std::string> decoded = Base64Decode(text);
      raw.body = decoded.ok() ? std::move(decoded.value()) : std::move(text);
    }
    if (data.contains("http_raw_cache_control") && data["http_raw_cache_control"].is_string()) {
      raw.cache_control = data["http_raw_cache_control"].get<std::string>();
    }
    out.raw = std::move(raw);
    return out;
  }
  out.data = std::move(data);
  if (r.has_secret()) {
    ASSIGN_OR_RETURN(Json internal, ParseObject(r.secret().internal_data(), "plugin secret internal data"));
    Lease lease;
    lease.secret_type = internal.value("secret_type", "");
    lease.ttl_seconds = r.secret().lease_options().ttl() / kNanosPerSecond;
    lease.renewable = r.secret().lease_options().renewable();
    lease.internal_data = std::move(internal);
    out.lease = std::move(lease);
  }
  return out;
}

}  // namespace pki::plugin
