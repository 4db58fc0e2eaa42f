// Random (version 4) UUIDs for issuer, key and request ids.
#pragma once

#include <string>

namespace pki {

// A random UUID in canonical lowercase form, from OpenSSL's CSPRNG.
std::string NewUuid();

}  // namespace pki
