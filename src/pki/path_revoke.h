// Revocation paths: revoke, revoke-with-key, LIST certs/revoked.
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"

namespace pki {

std::vector<PathSpec> RevokePaths(const PkiContext& ctx, CaStore* cas);

}  // namespace pki
