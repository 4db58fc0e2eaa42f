// SystemView: what the host tells the engine about its mount, as Vault's logical.SystemView.
#pragma once

#include <cstdint>

namespace pki {

// Thread-safe: the host may retune a mount while requests run.
class SystemView {
 public:
  virtual ~SystemView() = default;
  // The mount's default lease TTL, in seconds (Vault's default: 768h).
  virtual int64_t DefaultLeaseTtl() const = 0;
  // The mount's maximum lease TTL, in seconds (Vault's default: 768h).
  virtual int64_t MaxLeaseTtl() const = 0;
};

}  // namespace pki
