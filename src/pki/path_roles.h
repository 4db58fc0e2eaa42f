// The role paths of the PKI engine: `roles` (list) and `roles/:name` (read, write, patch, delete), as Vault's
// path_roles.go.
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"

namespace pki {

// Path specs for the router. `ctx.storage` must outlive the returned handlers; they are safe to call concurrently.
//
//   LIST   roles          {"keys":[..]} in name order, paged by `after`/`limit` (OpenBao); nil (404) when empty
//   GET    roles/:name    the full role (RoleToResponse); nil (404) when absent
//   POST   roles/:name    create or overwrite (omitted fields take defaults); 200 with the full role + warnings
//   PATCH  roles/:name    merge into the existing role; 400 "Unable to fetch role entry to patch" when absent
//   DELETE roles/:name    nil (204), also when absent
// Role names must match Vault's `\w(([\w-.]+)?\w)?` (400 otherwise).
// `cas` resolves a written role's issuer_ref, for Vault's warning when it names no issuer (yet).
std::vector<PathSpec> RolePaths(const PkiContext& ctx, const CaStore* cas);

}  // namespace pki
