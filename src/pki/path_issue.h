// Leaf issuance paths: issue/:role, sign/:role, sign-verbatim and sign-verbatim/:role.
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"
#include "src/pki/role_store.h"

namespace pki {

// The secret type of certificates issued under roles with generate_lease (Vault's SecretCertsType).
inline constexpr char kLeaseSecretType[] = "pki";

std::vector<PathSpec> IssuePaths(const PkiContext& ctx, CaStore* cas, RoleStore* roles);

}  // namespace pki
