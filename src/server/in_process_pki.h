// InProcessPkiFactory: hosts the PKI engine inside the server process, one engine per mount, each over its own
// RocksDB in the mount's data directory, all sharing one seal key file. A test seam: pki-server itself hosts each
// mount in a pki-plugin child (PluginFactory, plugin_host.h); nothing else in the server depends on which is used.
#pragma once

#include <memory>
#include <string>

#include "src/core/clock.h"
#include "src/crypto/sealer.h"
#include "src/server/mount_backend.h"

namespace pki::server {

class InProcessPkiFactory final : public MountBackendFactory {
 public:
  // Opens (creating with mode 0600 when absent) the seal key at `seal_key_file`. `clock` outlives the factory.
  static Result<std::unique_ptr<InProcessPkiFactory>> Create(const std::string& seal_key_file, const Clock* clock);

  // Mount options: `storage=rocksdb` (the default) is the only storage an in-process engine has.
  Result<std::unique_ptr<MountedBackend>> Start(const MountSpec& spec, const SystemView* system) override;

 private:
  InProcessPkiFactory(std::unique_ptr<KeySealer> sealer, const Clock* clock)
      : sealer_(std::move(sealer)), clock_(clock) {}

  const std::unique_ptr<KeySealer> sealer_;  // thread-safe; shared by every mount's engine
  const Clock* const clock_;
};

}  // namespace pki::server
