// The PKI secrets engine as a LogicalBackend: Vault's pki/ paths over one mount's Storage.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/engine/request.h"
#include "src/engine/router.h"
#include "src/pki/context.h"
#include "src/pki/tidy.h"

namespace pki {

struct PkiBackendOptions {
  // Tidy's background thread and test hook (src/pki/tidy.h).
  TidierOptions tidy;
  // tidy_expired_issuers' deletion of issuers; empty: the engine's own (see backend.cc).
  ExpiredIssuerTidy tidy_expired_issuers;
};

// One mount's engine. Safe for concurrent HandleRequest calls. Its destructor cancels a running tidy and joins the
// tidy and auto-tidy threads before returning (the plugin destroys engines on Cleanup).
class PkiBackend : public LogicalBackend {
 public:
  // Auto-tidy's periodic check, run now: starts a tidy when config/auto-tidy says one is due. Returns whether it
  // started one.
  virtual Result<bool> MaybeStartAutoTidy() = 0;
  // Blocks until no tidy is running.
  virtual void WaitForTidy() = 0;
  // The engine's paths, in routing order (mount-relative patterns, see src/engine/router.h).
  virtual std::vector<Router::Entry> PathTable() const = 0;
  // The path a request for `path` reaches and what it captures (Router::Resolve); nullptr when none.
  virtual const PathSpec* ResolvePath(std::string_view path, std::map<std::string, std::string>* captures) const = 0;
};

// Builds the engine for one mount. Every pointer in `ctx` must outlive the backend. With a null `ctx.storage`
// the engine only answers what needs no storage (its special paths) and starts no thread.
std::unique_ptr<PkiBackend> NewPkiBackend(const PkiContext& ctx, PkiBackendOptions options = {});

}  // namespace pki
