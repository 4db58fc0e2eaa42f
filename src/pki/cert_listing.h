// Detailed certificate listing: one page of LIST certs/detailed, OpenBao's `keys` + `key_info` answer over certs/.
//
// key_info[serial] carries OpenBao's members (common_name, issuer, key_type, key_bits, not_before, not_after as
// RFC 3339, dns_names) and this engine's additions from the stored record and revoked/: ip_addresses,
// email_addresses, uris, expiration (unix seconds, as issue/sign answer it), issuer_id, role, revoked,
// revocation_time and revocation_time_rfc3339 (as cert/:serial answers them). Name lists hold at most the first
// kMaxNamesPerKind of their kind, as OpenBao cuts dns_names, so a page's size is bounded by its limit; the whole
// certificate is at cert/:serial. Stateless functions over Storage: thread-safe when the storage is.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "src/core/status.h"
#include "src/engine/request.h"
#include "storage/storage.h"

namespace pki {

inline constexpr size_t kMaxNamesPerKind = 5;

struct DetailedCertPage {
  std::vector<std::string> keys;  // colon serials in storage order
  Json key_info = Json::object();  // serial -> description
  size_t unreadable = 0;           // entries whose description carries "error"
};

// Reads up to `limit` (0: all) certificates after the colon/dash serial `after` (400 when it is not a serial):
// one ordered walk of certs/ plus one point read of revoked/<serial> per certificate, each stored DER parsed once,
// so the cost is O(page) whatever the mount holds. A storage failure fails the page; a record that cannot be
// decoded or whose DER cannot be parsed is still listed, its key_info holding "error" and what could be read, so
// one bad record neither hides the others nor stops paging past it.
Result<DetailedCertPage> ReadDetailedCertPage(Storage* storage, const std::string& after, size_t limit);

}  // namespace pki
