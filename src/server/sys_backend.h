// SysBackend: the sys/ paths the server serves itself, as a LogicalBackend (paths relative to "sys/"):
//   health                 GET: Vault's health JSON (raw; unauthenticated)
//   seal-status, leader    GET: Vault's JSON for an unsealed, non-HA server (raw; unauthenticated; `vault status`)
//   mounts                 GET: the mount table
//   mounts/<path>          GET: one mount; POST: mount a PKI engine there; DELETE: unmount it
//   mounts/<path>/tune     GET/POST: default_lease_ttl, max_lease_ttl, description
//   policy*, policies/acl*, capabilities*   forwarded to the policy backend (policy_backend.h), when given
//   storage/backup         POST {"path"}: a backup of the data directory (backup.h), when given; needs sudo
// Thread-safe: all state lives in the MountTable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/engine/request.h"
#include "src/server/backup.h"
#include "src/server/mount_table.h"
#include "storage/storage.h"

namespace pki::server {

// The cluster's name and id, reported by sys/health; created on a server's first start.
struct ClusterIdentity {
  std::string name;  // "pki-cluster-1a2b3c4d"
  std::string id;    // a UUID
};

// Reads the identity from `storage` (key "core/cluster"), creating and storing it when absent.
Result<ClusterIdentity> LoadOrCreateClusterIdentity(Storage* storage);

// Parses a lease TTL as Vault's tune and mount endpoints do: absent or "" = unchanged (nullopt), "system" = 0
// (use the system value), a JSON number or numeric string = seconds, else a Go duration ("87600h", "30m", "3d").
// Negative values are refused.
Result<std::optional<int64_t>> ParseLeaseTtl(const Json& value);

class SysBackend final : public LogicalBackend {
 public:
  // `mounts`, `clock`, `policies` (may be null: no policy paths) and `backup` (may be null: no storage/backup)
  // must outlive the backend.
  SysBackend(MountTable* mounts, ClusterIdentity cluster, const Clock* clock, LogicalBackend* policies = nullptr,
             DataDirBackup* backup = nullptr);

  Result<Response> HandleRequest(const Request& req) override;
  std::vector<std::string> UnauthenticatedPaths() const override { return {"health", "seal-status", "leader"}; }
  // Vault's sys/ root paths (sudo required); most are not served here, listed so that serving them later
  // keeps Vault's protection.
  std::vector<std::string> RootPaths() const override;

 private:
  Result<Response> Health() const;
  Result<Response> SealStatus() const;
  static Result<Response> Leader();
  Result<Response> ReadMounts() const;
  Result<Response> ReadMount(const std::string& path) const;
  Result<Response> EnableMount(const std::string& path, const Json& data);
  Result<Response> DisableMount(const std::string& path);
  Result<Response> ReadTune(const std::string& path) const;
  Result<Response> WriteTune(const std::string& path, const Json& data);
  Result<Response> Backup(const Json& data);

  MountTable* const mounts_;
  const ClusterIdentity cluster_;
  const Clock* const clock_;
  LogicalBackend* const policies_;
  DataDirBackup* const backup_;
};

}  // namespace pki::server
