// The engine's Request/Response against Vault's pb.Request / pb.HandleRequestReply, in both directions: the plugin
// decodes requests and encodes replies, the host (pki-server) does the reverse. Both follow what Vault's own host
// and SDK do, so that either side can talk to Vault's counterpart:
//   - data fields are JSON object text;
//   - leased secrets (roles with generate_lease) travel as pb.Secret, and come back as "revoke" requests;
//   - raw responses travel as data {"http_status_code", "http_content_type", "http_raw_body" (base64)};
//   - a 400 travels as response data {"error": msg}; other errors as ProtoError types (403 PermissionDenied,
//     404 UnsupportedPath or CodedError 404, 405 UnsupportedOperation, CodedError 413, plain error 500).
#pragma once

#include <string>
#include <string_view>

#include "backend.pb.h"
#include "src/core/status.h"
#include "src/engine/request.h"

namespace pki::plugin {

// Vault's operation names ("read", "update", "create", "delete", "list", "patch", "revoke").
const char* OperationToWire(Operation op);
// Unknown or unserved operations ("renew", "rollback", "help", ...) are Unsupported.
Result<Operation> OperationFromWire(std::string_view name);

// ProtoError for a non-OK status that is not a 400 (400s travel as error responses).
pb::ProtoError ToProtoError(const Status& status);
// The status a host derives from a ProtoError, as Vault's RespondErrorCommon does.
Status FromProtoError(const pb::ProtoError& err);

// Plugin side.
Result<Request> FromProtoRequest(const pb::Request& req);
// `request_id` goes into the envelope of responses that carry their own HTTP status (Vault's
// RespondWithStatusCode, e.g. 202).
pb::HandleRequestReply ToProtoReply(const Result<Response>& result, const std::string& request_id);

// Host side.
pb::Request ToProtoRequest(const Request& req, const std::string& request_id);
Result<Response> FromProtoReply(const pb::HandleRequestReply& reply);

}  // namespace pki::plugin
