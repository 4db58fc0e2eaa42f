// Vault's HTTP conventions that both HTTP faces of this project share, pki-server's API (src/server) and the
// plugin's publication listener (plugin/publish): status codes and error texts for a Status, and strict %XX
// decoding of request paths. They live here because the server links the plugin library, not the reverse.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/status.h"

namespace pki::plugin {

// The HTTP status of a non-ok Status code (400, 403, 404, 405, 413, 500).
int HttpStatusFor(StatusCode code);

// The text Vault puts in "errors" for `status`. Errors that reach Vault's core as Go errors (internal, unsupported
// path, unsupported operation) are wrapped as go-multierror prints them: "1 error occurred:\n\t* msg\n\n".
// Errors that are Vault ErrorResponses (bad request, permission denied, too large) are the message itself.
// An empty message yields no entry.
std::vector<std::string> VaultErrorTexts(const Status& status);

// Decodes %XX escapes (and '+' as a space when asked, for form and query encoding); a malformed escape is an
// error (nullopt), not kept as is.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_as_space);

}  // namespace pki::plugin
