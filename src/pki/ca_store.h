// CaStore: issuers (CA certificates) and keys, stored separately with ids as Vault 1.11+ does.
//
// Keys (docs/design.md):
//   issuer/<issuer_id>   JSON IssuerEntry (certificate PEM, key id, name, usage, manual chain, AIA URLs, revocation)
//   key/<key_id>         JSON KeyEntry; the private key is PKCS#8 DER sealed by the KeySealer (AES-256-GCM)
//   config/issuers       {"default": issuer_id, "default_follows_latest_issuer": bool}
//   config/keys          {"default": key_id}
// Issuers and keys are few and read on every issuance, so the store keeps one immutable snapshot of all of them
// (with every issuer's ca_chain computed, src/pki/issuer_chain.h), rebuilt on first use after a write: chains are
// never stored, so adding an issuer writes one entry, not one per issuer. Signing material (parsed certificate,
// unsealed key) is cached per issuer. Both are dropped whenever issuers or keys are written (Committed(), or the
// host's InvalidateKey). Thread-safe: mu_ guards the caches and their generation; write_mu_ serialises the writers
// of issuers and keys (see LockForWrite).
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

// Issuer usages, as Vault names them.
inline constexpr char kUsageReadOnly[] = "read-only";
inline constexpr char kUsageIssuing[] = "issuing-certificates";
inline constexpr char kUsageCrlSigning[] = "crl-signing";
inline constexpr char kUsageOcspSigning[] = "ocsp-signing";

struct IssuerEntry {
  std::string issuer_id;
  std::string issuer_name;
  std::string key_id;  // empty for a certificate imported without its key
  std::string certificate;  // PEM, no trailing newline
  std::vector<std::string> manual_chain;  // issuer ids, this issuer first; empty: built from the issuers
  std::string leaf_not_after_behavior = "err";
  std::vector<std::string> usage = {kUsageReadOnly, kUsageIssuing, kUsageCrlSigning, kUsageOcspSigning};
  std::string revocation_signature_algorithm;  // empty: the key's default
  bool revoked = false;
  int64_t revocation_time = 0;
  // Per-issuer AIA URLs; when any is set they replace config/urls for certificates this issuer signs.
  std::vector<std::string> issuing_certificates;
  std::vector<std::string> crl_distribution_points;
  std::vector<std::string> delta_crl_distribution_points;
  std::vector<std::string> ocsp_servers;
  bool enable_aia_url_templating = false;

  // Computed when the snapshot is built, never stored.
  std::vector<std::string> ca_chain;  // PEM: this certificate first, then the chain up to the roots
  std::string serial_number;          // colon hex
  int64_t not_after = 0;
  // The CRL group: 32 hex digits of SHA-256 over the subject and the SubjectPublicKeyInfo, so issuers sharing
  // both (reissues, cross-signed twins) share one revoked set and CRL; fixed by the certificate alone.
  std::string crl_group;

  bool HasUsage(const std::string& u) const;
  // Whether the issuer's own URLs replace config/urls (delta CRL URLs alone do not, as in Vault).
  bool HasAiaUrls() const {
    return !issuing_certificates.empty() || !crl_distribution_points.empty() || !ocsp_servers.empty();
  }
  // Vault's error for a missing usage: "requested usage X for issuer [id:… / name:…] but only had usage …".
  Status EnsureUsage(const std::string& u) const;
};

// Every issuer and key of the mount at one moment, with the defaults. Immutable.
struct CaSnapshot {
  std::vector<IssuerEntry> issuers;  // ordered by id
  std::vector<KeyEntry> keys;        // ordered by id
  std::string default_issuer;        // id, or empty
  bool default_follows_latest_issuer = false;
  std::string default_key;           // id, or empty

  // "default", an id or a name; null when nothing matches.
  const IssuerEntry* FindIssuer(const std::string& ref) const;
  const KeyEntry* FindKey(const std::string& ref) const;
  // Whether the default names no issuer the mount has (never set, or its issuer deleted).
  bool NoDefaultIssuer() const { return default_issuer.empty() || !FindIssuer(default_issuer); }
  // Whether a newly added issuer becomes the default (none yet, or default_follows_latest_issuer).
  bool NewIssuerBecomesDefault() const { return NoDefaultIssuer() || default_follows_latest_issuer; }
  // Vault's choice among issuers just added (`added`, in order): only one with a key qualifies; with no default
  // the first such, with default_follows_latest_issuer the only such (several: none, and `*warning` says why).
  const IssuerEntry* ChooseNewDefault(const std::vector<const IssuerEntry*>& added, std::string* warning) const;
  // The key-less issuers whose certificate holds `key`'s public half, paired with `key_id` (not yet stored):
  // importing a key completes the issuers imported before it, as Vault's importKey does.
  std::vector<IssuerEntry> IssuersAwaitingKey(const EVP_PKEY* key, const std::string& key_id) const;
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

  // The current snapshot (built from storage when a write made the last one stale).
  Result<std::shared_ptr<const CaSnapshot>> Snapshot() const;

  // Resolves "default", an issuer id or an issuer name. nullopt when nothing matches.
  Result<std::optional<IssuerEntry>> ResolveIssuer(const std::string& ref) const;
  // Resolves `ref` and loads its signing material. Errors as Vault's: 500 "could not fetch the CA certificate
  // (was one set?): ..." when the reference does not resolve or the issuer has no key.
  Result<std::shared_ptr<const SigningIssuer>> SigningIssuerFor(const std::string& ref) const;

  // Unseals a key's private half.
  Result<ossl::PKey> UnsealKey(const KeyEntry& key) const;

  // Seals `key` into a new KeyEntry (not yet stored).
  Result<KeyEntry> NewKeyEntry(const EVP_PKEY* key, const std::string& name) const;

  // Adds the writes for `key` (may be null; it becomes the default key when the mount has none), `issuer` (may be
  // null) and, when `make_default`, the default-issuer config naming `issuer`, to `batch`. Call Committed() after
  // the batch is written.
  Status AddToBatch(WriteBatch* batch, const KeyEntry* key, const IssuerEntry* issuer, bool make_default) const;
  // config/issuers and config/keys.
  static void AddIssuersConfigToBatch(WriteBatch* batch, const std::string& default_id, bool follows_latest);
  static void AddKeysConfigToBatch(WriteBatch* batch, const std::string& default_key_id);
  static void DeleteIssuerInBatch(WriteBatch* batch, const std::string& issuer_id);
  static void DeleteKeyInBatch(WriteBatch* batch, const std::string& key_id);
  // Drops cached state after a write to issuers or keys.
  void Committed() const;

  // A name a writer may give an issuer (or key): empty, or valid, not "default" and not taken by another one
  // than `self_id`. 400 otherwise.
  Status CheckIssuerName(const std::string& name, const std::string& self_id = "") const;
  Status CheckKeyName(const std::string& name, const std::string& self_id = "") const;

  Result<std::string> DefaultIssuerId() const;

  // Held by a writer of issuers or keys from its name checks and default-issuer choice through its batch write and
  // Committed(), so that concurrent writers cannot both take a name or both become the default.
  std::unique_lock<std::mutex> LockForWrite() const { return std::unique_lock<std::mutex>(write_mu_); }

 private:
  Result<std::shared_ptr<const CaSnapshot>> LoadSnapshot() const;

  PkiContext ctx_;
  mutable std::mutex write_mu_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<const CaSnapshot> snapshot_;                         // guarded by mu_
  mutable std::map<std::string, std::shared_ptr<const SigningIssuer>> cache_;  // guarded by mu_
  // Bumped by Committed(); a value read from storage is cached only if no commit happened meanwhile.
  mutable uint64_t generation_ = 0;  // guarded by mu_
};

// Vault's revocation_signature_algorithm names (Go's x509.SignatureAlgorithm), and what they mean for signing
// CRLs and OCSP responses.
struct RevocationSigning {
  int signature_bits = 0;  // 0: the key's default
  bool use_pss = false;
};
// The canonical name of `name` (case-insensitive; empty stays empty) when a key of `key_type` ("rsa", "ec",
// "ed25519") can sign with it; 400 otherwise.
Result<std::string> CanonicalRevocationAlgorithm(const std::string& name, const std::string& key_type);
RevocationSigning RevocationSigningOf(const IssuerEntry& issuer);

// tidy_expired_issuers: deletes the issuers whose certificate expired before `cutoff`, never the default one;
// their keys stay (Vault's rule). Returns the ids deleted.
Result<std::vector<std::string>> DeleteExpiredIssuers(Storage* storage, const CaStore& cas, int64_t cutoff);

// The stored form of an issuer (without the computed fields).
Json IssuerToJson(const IssuerEntry& e);
IssuerEntry IssuerFromJson(const Json& j);

}  // namespace pki
