// Tidy paths: tidy, tidy-status, tidy-cancel, config/auto-tidy (Vault's API over a Tidier, src/pki/tidy.h).
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/context.h"
#include "src/pki/tidy.h"

namespace pki {

// `tidier` must outlive the returned paths.
std::vector<PathSpec> TidyPaths(const PkiContext& ctx, Tidier* tidier);

}  // namespace pki
