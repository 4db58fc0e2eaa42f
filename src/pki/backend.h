// The PKI secrets engine as a LogicalBackend: Vault's pki/ paths over one mount's Storage.
#pragma once

#include <memory>

#include "src/engine/request.h"
#include "src/pki/context.h"

namespace pki {

// Builds the engine for one mount. Every pointer in `ctx` must outlive the backend. The returned backend is
// safe for concurrent HandleRequest calls.
std::unique_ptr<LogicalBackend> NewPkiBackend(const PkiContext& ctx);

}  // namespace pki
