// Leaf issuance paths: issue/:role, sign/:role, sign-verbatim and sign-verbatim/:role.
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"
#include "src/pki/role_store.h"

namespace pki {

std::vector<PathSpec> IssuePaths(const PkiContext& ctx, CaStore* cas, RoleStore* roles);

}  // namespace pki
