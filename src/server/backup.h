// DataDirBackup: `POST sys/storage/backup {"path": DIR}` (pki-server operator backup): a copy of the running
// server's data directory, written while it serves, that `pki-server -data-dir=DIR` (or a config file whose
// data_dir is DIR) starts from.
//
// DIR (absolute, on the server's machine, outside the data directory) must not exist; its parent must. The copy
// is built in a sibling "DIR.tmp-<random>" (0700) and renamed to DIR only once complete, so a failed backup
// leaves nothing. It holds, in the data directory's layout:
//   sys/                     RocksDB checkpoint of the server's own database (mount table, tokens, policies)
//   mounts/<uuid>/rocksdb    storage=rocksdb: a checkpoint written by the mount's plugin, which holds the database
//   mounts/<uuid>/rocksdb.seal-key   its seal key, copied by the plugin
//   mounts/<uuid>/host-storage       the checkpoint of a mount's host storage, where it exists
//   pki-seal.key             the server's barrier key (and the legacy mounts' seal key)
//   root-token               when the data directory holds one (a configured server's default root_token_file)
// Each database is copied as of one point in time after the request arrived (every write acknowledged before it
// is in the copy); mounts, unmounts and tunes wait for the backup, so the mount table copied names exactly the
// mounts copied. Key files are 0600. Thread-safe; concurrent backups run one after the other.
#pragma once

#include <string>

#include "src/core/status.h"
#include "src/engine/request.h"
#include "src/server/mount_table.h"
#include "storage/rocksdb_storage.h"

namespace pki::server {

class DataDirBackup {
 public:
  // The running server's data directory `data_dir` (laid out as DataLayout::For(data_dir)), its open database
  // and its mounts; all outlive the object.
  DataDirBackup(std::string data_dir, RocksDBStorage* sys_storage, MountTable* mounts)
      : data_dir_(std::move(data_dir)), sys_storage_(sys_storage), mounts_(mounts) {}

  // Writes the backup to `path`. Returns {"path", "contents": [{"path" (relative to `path`), "kind", "mount"}]}.
  // BadRequest for a path that is not absolute, exists, has no parent directory or lies in the data directory;
  // Internal (with nothing left behind) when writing fails.
  Result<Json> Write(const std::string& path);

 private:
  const std::string data_dir_;
  RocksDBStorage* const sys_storage_;
  MountTable* const mounts_;
};

}  // namespace pki::server
