// PkiContext: what every path family of the PKI engine shares. Owned by the backend; all members are thread-safe.
#pragma once

#include "src/core/clock.h"
#include "src/crypto/sealer.h"
#include "src/engine/system_view.h"
#include "storage/storage.h"

namespace pki {

struct PkiContext {
  Storage* storage = nullptr;
  const Clock* clock = nullptr;
  const SystemView* system = nullptr;
  const KeySealer* sealer = nullptr;
};

}  // namespace pki
