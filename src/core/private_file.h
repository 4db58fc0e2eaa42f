// Files holding secrets (seal keys, tokens) copied for backups: never readable by others, never replacing an
// existing file, durable once the call returns.
#pragma once

#include <string>

#include "src/core/status.h"

namespace pki {

// Copies the regular file `from` to the new file `to` (mode 0600, fsynced). Fails, writing nothing, when `to`
// exists (a symbolic link included); a copy that fails half way is removed. Messages name the paths, never the
// content.
Status CopyPrivateFile(const std::string& from, const std::string& to);

// fsyncs directory `dir`, so that the entries created or renamed in it survive a crash.
Status SyncDirectory(const std::string& dir);

}  // namespace pki
