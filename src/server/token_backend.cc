#include "src/server/token_backend.h"

namespace pki::server {

TokenBackend::TokenBackend(std::string root_token, std::string accessor, int64_t creation_time)
    : root_token_(std::move(root_token)), accessor_(std::move(accessor)), creation_time_(creation_time) {}

Result<Response> TokenBackend::HandleRequest(const Request& req) {
  if (req.path != "lookup-self") return Status::NotFound("unsupported path");
  if (req.operation != Operation::kRead && req.operation != Operation::kUpdate) return Status::Unsupported();
  // The caller passed the token check, so it holds the root token: describe it as Vault describes a root token.
  return Response::Data({{"accessor", accessor_},
                         {"creation_time", creation_time_},
                         {"creation_ttl", 0},
                         {"display_name", "root"},
                         {"entity_id", ""},
                         {"expire_time", nullptr},
                         {"explicit_max_ttl", 0},
                         {"id", root_token_},
                         {"meta", nullptr},
                         {"num_uses", 0},
                         {"orphan", true},
                         {"path", "auth/token/root"},
                         {"policies", {"root"}},
                         {"ttl", 0},
                         {"type", "service"}});
}

}  // namespace pki::server
