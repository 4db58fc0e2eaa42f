// Mounts a configuration file declares (the "mounts" section of pki-server -config), and their reconciliation
// with the mount table at start-up.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/server/mount_table.h"

namespace pki::server {

// One declared mount. Absent tunables leave an existing mount's value as it is (and mean "system" for a new
// mount), as Vault's tune endpoint treats absent fields.
struct ConfiguredMount {
  std::string path;  // sanitised: "pki/"
  std::string type = "pki";
  std::map<std::string, std::string> options;  // fixed when mounted: must match an existing mount's
  MountTune tune;                              // description, default_lease_ttl, max_lease_ttl
};

// Ensures every declared mount exists as described: a free path is mounted with the mount's type, options,
// description and TTLs; a mount at exactly that path must have the same type and options, and is tuned to the
// declared description and TTLs. Everything is checked before anything changes: a different type or options,
// a path overlapping another mount, or TTLs that would end up with default above max fail with a message
// naming the path, and nothing is mounted or tuned. Mounts added here are removed again when a later one fails.
// Mounts in the table that are not declared are left alone (they may have been created through the API).
Status EnsureMounts(MountTable* table, const std::vector<ConfiguredMount>& wanted);

}  // namespace pki::server
