// Issuer and key management (Vault 1.11+): LIST issuers, issuer/:ref (read, update, patch, delete, json/der/pem,
// revoke), config/issuers, root/replace, DELETE root, LIST keys, key/:ref, keys/generate/:type, keys/import,
// config/keys. Generation and import of issuers live in path_ca.
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"

namespace pki {

std::vector<PathSpec> IssuerPaths(const PkiContext& ctx, CaStore* cas);

}  // namespace pki
