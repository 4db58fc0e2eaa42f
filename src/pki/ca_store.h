// CaStore: issuers (CA certificates) and keys, stored separately with ids as Vault 1.11+ does.
//
// Keys (docs/design.md):
//   issuer/<issuer_id>   JSON IssuerEntry (certificate and chain PEM, key id, name, leaf_not_after_behavior)
//   key/<key_id>         JSON KeyEntry; the private key is PKCS#8 DER sealed by the KeySealer (AES-256-GCM)
//   config/issuers       {"default": issuer_id}
// Signing material (parsed certificate, unsealed key) is cached per issuer id; the cache is dropped whenever this
// process writes issuers or keys. Thread-safe: mu_ guards the caches and their generation; write_mu_ serialises
// the writers of issuers and keys (see LockForWrite).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "src/crypto/x509.h"
#include "src/engine/request.h"
#include "src/pki/context.h"

namespace pki {

struct KeyEntry {
  std::string key_id;
  std::string key_name;
  std::string key_type;  // rsa | ec | ed25519
  int key_bits = 0;
  std::string sealed_private_key;  // sealed PKCS#8 DER
};

struct IssuerEntry {
  std::string issuer_id;
  std::string issuer_name;
  std::string key_id;  // empty for a certificate imported without its key
  std::string certificate;  // PEM, no trailing newline
  std::vector<std::string> ca_chain;  // PEM: this certificate first, then its issuers up to the root
  std::string leaf_not_after_behavior = "err";
  std::string usage = "read-only,issuing-certificates,crl-signing,ocsp-signing";
};

// One certificate of an issuer's chain, in the forms responses need (parsed once, not per request).
struct ChainCert {
  std::string pem;
  std::string der_base64;
  bool self_signed = false;
};
std::vector<ChainCert> DescribeChain(const std::vector<std::string>& pems);

// An issuer ready to sign: immutable once built, shared by concurrent requests.
struct SigningIssuer {
  IssuerEntry entry;
  std::vector<ChainCert> chain;  // entry.ca_chain, described
  ossl::X509Ptr cert;
  ossl::PKey key;
  CertInfo info;
};

class CaStore {
 public:
  explicit CaStore(const PkiContext& ctx) : ctx_(ctx) {}

  // Resolves "default", an issuer id or an issuer name. nullopt when nothing matches.
  Result<std::optional<IssuerEntry>> ResolveIssuer(const std::string& ref) const;
  // Resolves `ref` and loads its signing material. Errors as Vault's: 500 "could not fetch the CA certificate
  // (was one set?): ..." when the reference does not resolve or the issuer has no key.
  Result<std::shared_ptr<const SigningIssuer>> SigningIssuerFor(const std::string& ref) const;

  Result<std::optional<KeyEntry>> GetKey(const std::string& key_id) const;
  Result<std::vector<KeyEntry>> ListKeys() const;
  Result<std::vector<IssuerEntry>> ListIssuers() const;
  // Unseals a key's private half.
  Result<ossl::PKey> UnsealKey(const KeyEntry& key) const;

  // Seals `key` into a new KeyEntry (not yet stored).
  Result<KeyEntry> NewKeyEntry(const EVP_PKEY* key, const std::string& name) const;

  // Adds the writes for `key` (may be null), `issuer` (may be null) and, when `make_default`, the default-issuer
  // config naming `issuer`, to `batch`. Call Committed() after the batch is written.
  Status AddToBatch(WriteBatch* batch, const KeyEntry* key, const IssuerEntry* issuer, bool make_default) const;
  // Drops cached state after a write to issuers or keys.
  void Committed() const;

  // Whether an issuer name is already taken (names are unique per mount, as in Vault).
  Result<bool> IssuerNameTaken(const std::string& name) const;
  Result<bool> KeyNameTaken(const std::string& name) const;

  Result<std::string> DefaultIssuerId() const;

  // Held by a writer of issuers or keys from its name checks and default-issuer choice through its batch write and
  // Committed(), so that concurrent writers cannot both take a name or both become the default.
  std::unique_lock<std::mutex> LockForWrite() const { return std::unique_lock<std::mutex>(write_mu_); }

 private:
  Result<std::optional<IssuerEntry>> GetIssuer(const std::string& id) const;

  PkiContext ctx_;
  mutable std::mutex write_mu_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const SigningIssuer>> cache_;  // guarded by mu_
  mutable std::optional<std::string> default_id_;                              // guarded by mu_
  // Bumped by Committed(); a value read from storage is cached only if no commit happened meanwhile.
  mutable uint64_t generation_ = 0;  // guarded by mu_
};

Json IssuerToJson(const IssuerEntry& e);
IssuerEntry IssuerFromJson(const Json& j);

}  // namespace pki
