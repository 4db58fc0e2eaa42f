// Reading the engine's JSON configuration entries (config/urls, config/crl, config/auto-tidy) one way.
#pragma once

#include <optional>
#include <string>

#include "src/core/status.h"
#include "src/engine/request.h"
#include "storage/storage.h"

namespace pki {

// The JSON object stored under `key`: nullopt when absent; Internal "corrupt <key> entry" when it is not a JSON
// object.
Result<std::optional<Json>> ReadJsonObject(Storage* storage, const std::string& key);

}  // namespace pki
