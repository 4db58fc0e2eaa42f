// Private and public keys: generation, inspection, PEM/DER encoding. All through OpenSSL 3.
#pragma once

#include <string>

#include "src/core/status.h"
#include "src/crypto/ossl.h"

namespace pki {

// Key types as Vault names them.
enum class KeyType { kRsa, kEc, kEd25519 };

const char* KeyTypeName(KeyType t);  // "rsa", "ec", "ed25519"
Result<KeyType> ParseKeyType(const std::string& name);

struct KeyInfo {
  KeyType type;
  int bits;  // RSA modulus bits, EC curve bits (224/256/384/521), 0 for Ed25519
};

// Vault's key_bits for a key type: 0 means the default (RSA 2048, EC 256); other values must be supported by
// GenerateKey (400 otherwise). Ed25519 ignores bits and resolves to 0.
Result<int> ResolveKeyBits(KeyType type, int64_t bits);

// Generates a key. RSA: bits in {2048, 3072, 4096, 8192}; EC: bits in {224, 256, 384, 521}; Ed25519: bits ignored.
Result<ossl::PKey> GenerateKey(KeyType type, int bits);

// The type and size of a key, or 400 for key types Vault does not issue with (DSA, Ed448, other curves).
Result<KeyInfo> InspectKey(const EVP_PKEY* key);

// Private key encodings as Vault's private_key_format: "der" (the default: PKCS#1 for RSA, SEC1 for EC, PKCS#8
// for Ed25519) or "pkcs8".
enum class PrivateKeyFormat { kTraditional, kPkcs8 };
Result<std::string> PrivateKeyToPem(const EVP_PKEY* key, PrivateKeyFormat format);
Result<std::string> PrivateKeyToDer(const EVP_PKEY* key, PrivateKeyFormat format);

// Parses a PEM private key (PKCS#1, SEC1 or PKCS#8, unencrypted).
Result<ossl::PKey> ParsePrivateKeyPem(const std::string& pem);
// Parses a DER private key in any of the same encodings.
Result<ossl::PKey> ParsePrivateKeyDer(const std::string& der);

// DER SubjectPublicKeyInfo of a key.
std::string PublicKeyDer(const EVP_PKEY* key);

// Whether two keys have the same public half.
bool SamePublicKey(const EVP_PKEY* a, const EVP_PKEY* b);

}  // namespace pki
