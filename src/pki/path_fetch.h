// Fetch paths: ca, ca/pem, ca_chain, cert/ca_chain, cert/ca, cert/:serial(/raw(/pem)), and the certs list.
#pragma once

#include <vector>

#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"

namespace pki {

std::vector<PathSpec> FetchPaths(const PkiContext& ctx, CaStore* cas);

}  // namespace pki
