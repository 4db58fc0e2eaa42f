// PluginFactory: hosts each PKI mount in its own pki-plugin child process, over HashiCorp go-plugin's gRPC protocol
// with AutoMTLS, as Vault hosts an external secrets plugin (one process per mount: the plugin is not multiplexed).
//
// Per mount, a supervisor thread owns the child from launch to exit:
//   launch   spawn (PluginProcess) -> handshake line -> mTLS dial -> health "plugin" SERVING -> broker stream ->
//            broker listener serving pb.Storage + pb.SystemView -> Setup -> Type (must be 1) -> SpecialPaths ->
//            Initialize;
//   watch    reap-poll the child, ping its health service; a child that dies (or stops answering pings) is
//            replaced by a new one with backoff (100 ms doubling to 5 s), requests meanwhile waiting briefly and
//            then failing with 500 "plugin is not running";
//   close    Cleanup -> stop the broker -> GRPCController/Shutdown -> up to 2 s for the exit -> SIGKILL -> reap.
// Spawning from that long-lived thread also matters to the child: Linux's parent-death signal follows the
// launching thread, not the process.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "src/crypto/sealer.h"
#include "src/server/mount_backend.h"

namespace pki::server {

struct PluginHostOptions {
  std::string plugin_binary;               // absolute path of pki-plugin
  std::string plugin_name = "pki-plugin";  // Setup's plugin_name
  std::chrono::milliseconds handshake_timeout{30'000};
  std::chrono::milliseconds restart_backoff_min{100};
  std::chrono::milliseconds restart_backoff_max{5'000};
  // How long a request waits for a restarting plugin before failing with 500.
  std::chrono::milliseconds request_wait{3'000};
  // The seal key of mounts created when the engine ran inside pki-server (their RocksDB sits directly in the
  // mount's data directory); such mounts keep their data and key. Empty: no such mounts.
  std::string legacy_seal_key_file;
  // pki-server's barrier: seals every value a plugin keeps in the host's storage (storage=host). Required.
  std::shared_ptr<const KeySealer> barrier;
};

// The SetupArgs.Config a mount's plugin receives: the mount's options, plugin_name and plugin_type "secret", and for
// storage=rocksdb (the default) rocksdb_path=<data_dir>/rocksdb unless the options name one (the plugin keeps its
// seal key beside it). storage=host needs nothing more: the host serves the storage.
std::map<std::string, std::string> SetupConfig(const MountSpec& spec, const PluginHostOptions& options);

// Removes the socket directories ($TMPDIR or /tmp, "pki-server-<pid>-*") that pki-servers killed before they could
// clean up left behind: only directories of ours whose server is gone.
void RemoveStaleRuntimeDirs();

// pki-plugin next to the running pki-server executable (/proc/self/exe).
Result<std::string> DefaultPluginPath();

// Resolves `path` (empty: DefaultPluginPath) to an absolute path and checks it names an executable file.
Result<std::string> ResolvePluginBinary(const std::string& path);

class PluginFactory final : public MountBackendFactory {
 public:
  explicit PluginFactory(PluginHostOptions options) : options_(std::move(options)) {}

  // Launches the mount's plugin and returns once it is initialized. A plugin that refuses the mount's options
  // (SetupReply.err) fails the mount with BadRequest; any other launch failure is Internal. Either way the child
  // is gone when this returns an error.
  Result<std::unique_ptr<MountedBackend>> Start(const MountSpec& spec, const SystemView* system) override;

 private:
  const PluginHostOptions options_;
};

}  // namespace pki::server
