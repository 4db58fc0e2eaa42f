// The seam between the server and the engines it mounts.
//
// The server asks a MountBackendFactory for one MountedBackend per mount and talks to it only through the
// LogicalBackend interface. pki-server uses PluginFactory (plugin_host.h), which launches one pki-plugin child per
// mount over the plugin protocol; InProcessPkiFactory (in_process_pki.h) builds the engine in-process, for tests.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/engine/request.h"
#include "src/engine/system_view.h"

namespace pki::server {

// What a factory needs to start the engine of one mount.
struct MountSpec {
  std::string path;      // "pki/"
  std::string type;      // "pki"
  std::string uuid;      // the mount's UUID, stable across restarts
  std::map<std::string, std::string> options;  // `secrets enable -options=k=v`
  std::string data_dir;  // a directory owned by this mount (<data>/mounts/<uuid>); removed on unmount
};

// One thing a backup wrote: a path relative to the directory given, and what it is.
struct BackupItem {
  std::string path;  // "rocksdb", "rocksdb.seal-key", "host-storage"
  std::string kind;  // "RocksDB checkpoint by the mount's plugin", "seal key", ...
};

// A running engine serving one mount. HandleRequest is called concurrently from the server's threads.
class MountedBackend : public LogicalBackend {
 public:
  // Whether the engine can serve requests now (sys/health answers 200 only while every mount can).
  virtual bool Serving() const = 0;
  // Flushes the engine's state and releases its resources (storage, child process). Called once, after the last
  // request, before destruction.
  virtual Status Close() = 0;
  // Writes a copy of the mount's data into `dir` (absent; its parent exists), laid out as the mount's data
  // directory, so that the same factory starts the mount from it: each database as of one point in time after
  // the call began, while requests keep being served. Returns what it wrote, relative to `dir`. Engines that
  // cannot be copied (test doubles) fail, and so does the whole backup.
  virtual Result<std::vector<BackupItem>> Checkpoint(const std::string& dir) {
    (void)dir;
    return Status::Internal("this mount's engine cannot be backed up");
  }
};

// Starts engines. Called with the server's mount-table lock held, never concurrently.
class MountBackendFactory {
 public:
  virtual ~MountBackendFactory() = default;
  // Starts the engine of `spec`. `system` (the mount's TTL defaults, retunable at runtime) outlives the backend.
  virtual Result<std::unique_ptr<MountedBackend>> Start(const MountSpec& spec, const SystemView* system) = 0;
};

}  // namespace pki::server
