#include "src/pki/backend.h"

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/path_ca.h"
#include "src/pki/path_fetch.h"
#include "src/pki/path_issue.h"
#include "src/pki/path_roles.h"
#include "src/pki/role_store.h"

namespace pki {
namespace {

// The PKI engine of one mount. Thread-safe: the router is immutable, the stores guard their own caches.
class PkiBackend final : public LogicalBackend {
 public:
  explicit PkiBackend(const PkiContext& ctx) : cas_(ctx), roles_(ctx.storage), router_(BuildPaths(ctx)) {}

  Result<Response> HandleRequest(const Request& req) override { return router_.Route(req); }

  std::vector<std::string> UnauthenticatedPaths() const override { return router_.UnauthenticatedPatterns(); }

 private:
  std::vector<PathSpec> BuildPaths(const PkiContext& ctx) {
    std::vector<PathSpec> all;
    auto append = [&all](std::vector<PathSpec> more) {
      for (auto& p : more) all.push_back(std::move(p));
    };
    append(FetchPaths(ctx, &cas_));
    append(RolePaths(ctx, &cas_));
    append(CaPaths(ctx, &cas_));
    append(IssuePaths(ctx, &cas_, &roles_));
    return all;
  }

  CaStore cas_;
  RoleStore roles_;
  Router router_;  // declared last: its paths capture the stores above
};

}  // namespace

std::unique_ptr<LogicalBackend> NewPkiBackend(const PkiContext& ctx) { return std::make_unique<PkiBackend>(ctx); }

}  // namespace pki
