// Random identifiers from the CSPRNG (OpenSSL RAND_bytes): mount accessors and dev root tokens (UUIDs come from
// src/core/uuid.h). Thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "src/core/status.h"

namespace pki::server {

// `hex_chars` lowercase hex digits (e.g. the 8 after "pki_" in a mount accessor).
Result<std::string> RandomHex(size_t hex_chars);

// `length` characters from [A-Za-z0-9], uniformly (rejection sampling).
Result<std::string> RandomAlphanumeric(size_t length);

}  // namespace pki::server
