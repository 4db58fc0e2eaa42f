// The OCSP responder (RFC 6960): GET ocsp/<base64 request> and POST ocsp (DER body), unauthenticated.
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"

namespace pki {

std::vector<PathSpec> OcspPaths(const PkiContext& ctx, CaStore* cas);

}  // namespace pki
