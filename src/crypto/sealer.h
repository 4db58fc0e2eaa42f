// KeySealer: encryption at rest for CA private keys.
#pragma once

#include <memory>
#include <string>

#include "src/core/status.h"

namespace pki {

// Thread-safe: Seal and Open may be called concurrently.
class KeySealer {
 public:
  virtual ~KeySealer() = default;
  // Encrypts `plaintext`; the result is self-describing (version, nonce, tag) and safe to store.
  virtual Result<std::string> Seal(const std::string& plaintext) const = 0;
  // Decrypts what Seal produced; fails (without revealing content) on tampering or a wrong key.
  virtual Result<std::string> Open(const std::string& sealed) const = 0;
};

// AES-256-GCM with a 32-byte key read from `key_file`, created with mode 0600 from the CSPRNG when absent.
// Sealed form: "pkiseal1" || 12-byte nonce || ciphertext || 16-byte tag.
Result<std::unique_ptr<KeySealer>> OpenAesGcmSealer(const std::string& key_file);

// Same, with a key given directly (tests).
std::unique_ptr<KeySealer> NewAesGcmSealer(const std::string& key32);

}  // namespace pki
