// CA set-up paths: root/generate, intermediate/generate, intermediate/set-signed, root/sign-intermediate,
// config/ca and config/urls.
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"

namespace pki {

std::vector<PathSpec> CaPaths(const PkiContext& ctx, CaStore* cas);

}  // namespace pki
