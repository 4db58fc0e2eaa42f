#include "src/pki/ca_store.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "src/core/text.h"
#include "src/core/uuid.h"
#include "src/pki/issuer_chain.h"
#include "src/pki/role_store.h"

namespace pki {
namespace {

constexpr char kIssuerPrefix[] = "issuer/";
constexpr char kKeyPrefix[] = "key/";
constexpr char kIssuersConfig[] = "config/issuers";
constexpr char kKeysConfig[] = "config/keys";

// Typed reads of a stored entry's members that never throw: a member of another type reads as absent.
std::string Str(const Json& j, const char* name, const std::string& fallback = "") {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}
bool Bool(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
int64_t Int(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

Status CaFetchError(const std::string& why) {
  return Status::Internal("could not fetch the CA certificate (was one set?): " + why);
}

Json KeyToJson(const KeyEntry& k) {
  return {{"key_id", k.key_id},
          {"key_name", k.key_name},
          {"key_type", k.key_type},
          {"key_bits", k.key_bits},
          {"sealed_private_key", Base64Encode(k.sealed_private_key)}};
}

Result<KeyEntry> KeyFromJson(const Json& j) {
  if (!j.is_object()) return Status::Internal("corrupt key entry");
  KeyEntry k;
  k.key_id = Str(j, "key_id");
  k.key_name = Str(j, "key_name");
  k.key_type = Str(j, "key_type");
  k.key_bits = static_cast<int>(Int(j, "key_bits"));
  auto sealed = Base64Decode(Str(j, "sealed_private_key"));
  if (!sealed.ok()) return Status::Internal("corrupt key entry " + k.key_id);
  k.sealed_private_key = *sealed;
  return k;
}

Result<Json> ReadJson(Storage* storage, const std::string& key) {
  std::string value;
  Status s = storage->Get(key, &value);
  if (s.IsNotFound()) return Json(nullptr);
  RETURN_IF_ERROR(s);
  Json j = Json::parse(value, nullptr, false);
  if (j.is_discarded()) return Status::Internal("corrupt storage entry " + key);
  return j;
}

std::vector<std::string> StringList(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_array()) return {};
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// 32 hex digits of SHA-256 over `material`.
std::string GroupId(const std::string& material) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(material.data(), material.size(), digest, &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string group;
  for (unsigned int i = 0; i < 16; ++i) {
    group.push_back(kHex[digest[i] >> 4]);
    group.push_back(kHex[digest[i] & 15]);
  }
  return group;
}

}  // namespace

bool IssuerEntry::HasUsage(const std::string& u) const {
  return std::find(usage.begin(), usage.end(), u) != usage.end();
}

Status IssuerEntry::EnsureUsage(const std::string& u) const {
  if (HasUsage(u)) return Status::Ok();
  std::string ref = "id:" + issuer_id;
  if (!issuer_name.empty()) ref += " / name:" + issuer_name;
  return Status::BadRequest("requested usage " + u + " for issuer [" + ref + "] but only had usage " +
                            Join(usage, ","));
}

const IssuerEntry* CaSnapshot::FindIssuer(const std::string& ref) const {
  const std::string& id = (ref.empty() || ref == "default") ? default_issuer : ref;
  if (id.empty()) return nullptr;
  auto by_id = std::lower_bound(issuers.begin(), issuers.end(), id,
                                [](const IssuerEntry& e, const std::string& v) { return e.issuer_id < v; });
  if (by_id != issuers.end() && by_id->issuer_id == id) return &*by_id;
  if (id != ref) return nullptr;  // a dangling default
  for (const auto& e : issuers) {
    if (!e.issuer_name.empty() && e.issuer_name == ref) return &e;
  }
  return nullptr;
}

const KeyEntry* CaSnapshot::FindKey(const std::string& ref) const {
  const std::string& id = (ref.empty() || ref == "default") ? default_key : ref;
  if (id.empty()) return nullptr;
  for (const auto& k : keys) {
    if (k.key_id == id) return &k;
  }
  if (id != ref) return nullptr;
  for (const auto& k : keys) {
    if (!k.key_name.empty() && k.key_name == ref) return &k;
  }
  return nullptr;
}

const IssuerEntry* CaSnapshot::ChooseNewDefault(const std::vector<const IssuerEntry*>& added,
                                               std::string* warning) const {
  std::vector<const IssuerEntry*> keyed;
  for (const IssuerEntry* e : added) {
    if (!e->key_id.empty()) keyed.push_back(e);
  }
  if (keyed.empty()) return nullptr;
  if (NoDefaultIssuer()) return keyed.front();
  if (!default_follows_latest_issuer) return nullptr;
  if (keyed.size() == 1) return keyed.front();
  *warning =
      "Default issuer left unchanged: could not select new issuer automatically as multiple imported issuers had "
      "key material in Vault.";
  return nullptr;
}

std::vector<IssuerEntry> CaSnapshot::IssuersAwaitingKey(const EVP_PKEY* key, const std::string& key_id) const {
  std::vector<IssuerEntry> out;
  for (const auto& e : issuers) {
    if (!e.key_id.empty()) continue;
    auto cert = ParseCertificatePem(e.certificate);
    if (!cert.ok() || !SamePublicKey(X509_get0_pubkey(cert->get()), key)) continue;
    IssuerEntry paired = e;
    paired.key_id = key_id;
    out.push_back(std::move(paired));
  }
  return out;
}

std::vector<ChainCert> DescribeChain(const std::vector<std::string>& pems) {
  std::vector<ChainCert> out;
  for (const auto& pem : pems) {
    ChainCert c;
    c.pem = pem;
    auto cert = ParseCertificatePem(pem);
    if (cert.ok()) {
      CertInfo info = InspectCertificate(cert->get());
      c.self_signed = info.subject_der == info.issuer_der;
      c.der_base64 = Base64Encode(CertificateDer(cert->get()));
    }
    out.push_back(std::move(c));
  }
  return out;
}

Json IssuerToJson(const IssuerEntry& e) {
  return {{"issuer_id", e.issuer_id},
          {"issuer_name", e.issuer_name},
          {"key_id", e.key_id},
          {"certificate", e.certificate},
          {"manual_chain", e.manual_chain},
          {"leaf_not_after_behavior", e.leaf_not_after_behavior},
          {"usage", e.usage},
          {"revocation_signature_algorithm", e.revocation_signature_algorithm},
          {"revoked", e.revoked},
          {"revocation_time", e.revocation_time},
          {"issuing_certificates", e.issuing_certificates},
          {"crl_distribution_points", e.crl_distribution_points},
          {"delta_crl_distribution_points", e.delta_crl_distribution_points},
          {"ocsp_servers", e.ocsp_servers},
          {"enable_aia_url_templating", e.enable_aia_url_templating}};
}

IssuerEntry IssuerFromJson(const Json& j) {
  IssuerEntry e;
  if (!j.is_object()) return e;
  e.issuer_id = Str(j, "issuer_id");
  e.issuer_name = Str(j, "issuer_name");
  e.key_id = Str(j, "key_id");
  e.certificate = Str(j, "certificate");
  e.manual_chain = StringList(j, "manual_chain");
  e.leaf_not_after_behavior = Str(j, "leaf_not_after_behavior", "err");
  auto usage = j.find("usage");
  if (usage != j.end() && usage->is_array()) {
    e.usage = StringList(j, "usage");
  } else if (usage != j.end() && usage->is_string()) {
    e.usage = Split(usage->get<std::string>(), ',');
  }
  e.revocation_signature_algorithm = Str(j, "revocation_signature_algorithm");
  e.revoked = Bool(j, "revoked");
  e.revocation_time = Int(j, "revocation_time");
  e.issuing_certificates = StringList(j, "issuing_certificates");
  e.crl_distribution_points = StringList(j, "crl_distribution_points");
  e.delta_crl_distribution_points = StringList(j, "delta_crl_distribution_points");
  e.ocsp_servers = StringList(j, "ocsp_servers");
  e.enable_aia_url_templating = Bool(j, "enable_aia_url_templating");
  return e;
}

Result<std::shared_ptr<const CaSnapshot>> CaStore::LoadSnapshot() const {
  auto snap = std::make_shared<CaSnapshot>();
  std::vector<std::string> ids;
  RETURN_IF_ERROR(ctx_.storage->List(kIssuerPrefix, "", 0, &ids));
  std::vector<ossl::X509Ptr> certs;
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(Json j, ReadJson(ctx_.storage, kIssuerPrefix + id));
    if (j.is_null()) continue;
    if (!j.is_object()) return Status::Internal("corrupt storage entry " + std::string(kIssuerPrefix) + id);
    IssuerEntry e = IssuerFromJson(j);
    if (e.issuer_id.empty()) e.issuer_id = id;
    auto cert = ParseCertificatePem(e.certificate);
    if (cert.ok()) {
      CertInfo info = InspectCertificate(cert->get());
      e.serial_number = FormatSerial(info.serial);
      e.not_after = info.not_after;
      e.crl_group = GroupId(info.subject_der + "|" + PublicKeyDer(X509_get0_pubkey(cert->get())));
      certs.push_back(std::move(cert).value());
    } else {
      e.crl_group = GroupId("unparsable issuer " + e.issuer_id);
      certs.emplace_back(nullptr);
    }
    snap->issuers.push_back(std::move(e));
  }
  std::vector<ChainInput> inputs;
  for (size_t i = 0; i < snap->issuers.size(); ++i) {
    inputs.push_back({certs[i].get(), snap->issuers[i].issuer_id, snap->issuers[i].manual_chain});
  }
  std::vector<std::vector<size_t>> chains = BuildIssuerChains(inputs);
  for (size_t i = 0; i < snap->issuers.size(); ++i) {
    for (size_t c : chains[i]) snap->issuers[i].ca_chain.push_back(snap->issuers[c].certificate);
  }

  ids.clear();
  RETURN_IF_ERROR(ctx_.storage->List(kKeyPrefix, "", 0, &ids));
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(Json j, ReadJson(ctx_.storage, kKeyPrefix + id));
    if (j.is_null()) continue;
    ASSIGN_OR_RETURN(KeyEntry k, KeyFromJson(j));
    snap->keys.push_back(std::move(k));
  }

  ASSIGN_OR_RETURN(Json icfg, ReadJson(ctx_.storage, kIssuersConfig));
  if (icfg.is_object()) {
    snap->default_issuer = Str(icfg, "default");
    snap->default_follows_latest_issuer = Bool(icfg, "default_follows_latest_issuer");
  }
  ASSIGN_OR_RETURN(Json kcfg, ReadJson(ctx_.storage, kKeysConfig));
  if (kcfg.is_object()) snap->default_key = Str(kcfg, "default");
  return std::shared_ptr<const CaSnapshot>(std::move(snap));
}

Result<std::shared_ptr<const CaSnapshot>> CaStore::Snapshot() const {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_) return snapshot_;
    generation = generation_;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const CaSnapshot> snap, LoadSnapshot());
  std::lock_guard<std::mutex> lock(mu_);
  if (generation == generation_) snapshot_ = snap;
  return snap;
}

Result<std::string> CaStore::DefaultIssuerId() const {
  ASSIGN_OR_RETURN(auto snap, Snapshot());
  return snap->default_issuer;
}

Result<std::optional<IssuerEntry>> CaStore::ResolveIssuer(const std::string& ref) const {
  ASSIGN_OR_RETURN(auto snap, Snapshot());
  const IssuerEntry* e = snap->FindIssuer(ref);
  if (!e) return std::optional<IssuerEntry>();
  return std::optional<IssuerEntry>(*e);
}

Result<std::shared_ptr<const SigningIssuer>> CaStore::SigningIssuerFor(const std::string& ref) const {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(ref.empty() ? "default" : ref);
    if (it != cache_.end()) return it->second;
    generation = generation_;
  }
  ASSIGN_OR_RETURN(auto snap, Snapshot());
  if ((ref.empty() || ref == "default") && snap->default_issuer.empty()) {
    return CaFetchError("no default issuer currently configured");
  }
  const IssuerEntry* entry = snap->FindIssuer(ref);
  if (!entry) return CaFetchError("unable to find PKI issuer for reference: " + ref);
  if (entry->key_id.empty()) return CaFetchError("issuer " + entry->issuer_id + " has no private key");
  const KeyEntry* key_entry = snap->FindKey(entry->key_id);
  if (!key_entry) return CaFetchError("key " + entry->key_id + " of issuer " + entry->issuer_id + " is missing");
  auto signing = std::make_shared<SigningIssuer>();
  ASSIGN_OR_RETURN(signing->key, UnsealKey(*key_entry));
  auto cert = ParseCertificatePem(entry->certificate);
  if (!cert.ok()) return Status::Internal("stored issuer certificate is corrupt: " + entry->issuer_id);
  signing->cert = std::move(cert).value();
  signing->info = InspectCertificate(signing->cert.get());
  signing->chain = DescribeChain(entry->ca_chain);
  signing->entry = *entry;
  std::shared_ptr<const SigningIssuer> out = signing;
  std::lock_guard<std::mutex> lock(mu_);
  if (generation != generation_) return out;  // a writer committed meanwhile: do not cache what may be stale
  cache_[ref.empty() ? "default" : ref] = out;
  return out;
}

Result<ossl::PKey> CaStore::UnsealKey(const KeyEntry& key) const {
  ASSIGN_OR_RETURN(std::string der, ctx_.sealer->Open(key.sealed_private_key));
  auto parsed = ParsePrivateKeyDer(der);
  OPENSSL_cleanse(der.data(), der.size());
  return parsed;
}

Result<KeyEntry> CaStore::NewKeyEntry(const EVP_PKEY* key, const std::string& name) const {
  ASSIGN_OR_RETURN(KeyInfo info, InspectKey(key));
  ASSIGN_OR_RETURN(std::string der, PrivateKeyToDer(key, PrivateKeyFormat::kPkcs8));
  auto sealed = ctx_.sealer->Seal(der);
  OPENSSL_cleanse(der.data(), der.size());
  if (!sealed.ok()) return sealed.status();
  KeyEntry k;
  k.key_id = NewUuid();
  k.key_name = name;
  k.key_type = KeyTypeName(info.type);
  k.key_bits = info.bits;
  k.sealed_private_key = std::move(sealed).value();
  return k;
}

Status CaStore::AddToBatch(WriteBatch* batch, const KeyEntry* key, const IssuerEntry* issuer,
                           bool make_default) const {
  ASSIGN_OR_RETURN(auto snap, Snapshot());
  if (key) {
    batch->Put(kKeyPrefix + key->key_id, KeyToJson(*key).dump());
    if (snap->default_key.empty() || !snap->FindKey(snap->default_key)) AddKeysConfigToBatch(batch, key->key_id);
  }
  if (issuer) {
    batch->Put(kIssuerPrefix + issuer->issuer_id, IssuerToJson(*issuer).dump());
    if (make_default) AddIssuersConfigToBatch(batch, issuer->issuer_id, snap->default_follows_latest_issuer);
  }
  return Status::Ok();
}

void CaStore::AddIssuersConfigToBatch(WriteBatch* batch, const std::string& default_id, bool follows_latest) {
  batch->Put(kIssuersConfig,
             Json{{"default", default_id}, {"default_follows_latest_issuer", follows_latest}}.dump());
}

void CaStore::AddKeysConfigToBatch(WriteBatch* batch, const std::string& default_key_id) {
  batch->Put(kKeysConfig, Json{{"default", default_key_id}}.dump());
}

void CaStore::DeleteIssuerInBatch(WriteBatch* batch, const std::string& issuer_id) {
  batch->Delete(kIssuerPrefix + issuer_id);
}

void CaStore::DeleteKeyInBatch(WriteBatch* batch, const std::string& key_id) { batch->Delete(kKeyPrefix + key_id); }

void CaStore::Committed() const {
  std::lock_guard<std::mutex> lock(mu_);
  cache_.clear();
  snapshot_.reset();
  ++generation_;
}

Status CaStore::CheckIssuerName(const std::string& name, const std::string& self_id) const {
  if (name.empty()) return Status::Ok();
  if (name == "default" || name.size() > 128 || !IsValidRoleName(name)) {
    return Status::BadRequest("issuer name contained invalid characters");
  }
  ASSIGN_OR_RETURN(auto snap, Snapshot());
  for (const auto& e : snap->issuers) {
    if (e.issuer_name == name && e.issuer_id != self_id) return Status::BadRequest("issuer name already in use");
  }
  return Status::Ok();
}

Status CaStore::CheckKeyName(const std::string& name, const std::string& self_id) const {
  if (name.empty()) return Status::Ok();
  if (name == "default" || name.size() > 128 || !IsValidRoleName(name)) {
    return Status::BadRequest("key name contained invalid characters");
  }
  ASSIGN_OR_RETURN(auto snap, Snapshot());
  for (const auto& k : snap->keys) {
    if (k.key_name == name && k.key_id != self_id) return Status::BadRequest("key name already in use");
  }
  return Status::Ok();
}

namespace {

struct RevocationAlgorithm {
  const char* name;
  const char* key_type;
  RevocationSigning signing;
};

constexpr RevocationAlgorithm kRevocationAlgorithms[] = {
    {"SHA256WithRSA", "rsa", {256, false}},      {"SHA384WithRSA", "rsa", {384, false}},
    {"SHA512WithRSA", "rsa", {512, false}},      {"SHA256WithRSAPSS", "rsa", {256, true}},
    {"SHA384WithRSAPSS", "rsa", {384, true}},    {"SHA512WithRSAPSS", "rsa", {512, true}},
    {"ECDSAWithSHA256", "ec", {256, false}},     {"ECDSAWithSHA384", "ec", {384, false}},
    {"ECDSAWithSHA512", "ec", {512, false}},     {"PureEd25519", "ed25519", {0, false}},
};

}  // namespace

Result<std::string> CanonicalRevocationAlgorithm(const std::string& name, const std::string& key_type) {
  if (name.empty()) return name;
  for (const auto& a : kRevocationAlgorithms) {
    if (!EqualFoldAscii(name, a.name) && !(EqualFoldAscii(name, "Ed25519") && a.key_type == std::string("ed25519"))) {
      continue;
    }
    if (key_type != a.key_type) {
      return Status::BadRequest("unable to use issuer of type " + key_type + " to sign with " + a.name +
                                " key type");
    }
    return std::string(a.name);
  }
  std::vector<std::string> known;
  for (const auto& a : kRevocationAlgorithms) known.push_back(a.name);
  return Status::BadRequest("Unknown signature algorithm value: " + name + " - valid values are " +
                            Join(known, ", "));
}

RevocationSigning RevocationSigningOf(const IssuerEntry& issuer) {
  for (const auto& a : kRevocationAlgorithms) {
    if (issuer.revocation_signature_algorithm == a.name) return a.signing;
  }
  return {};
}

Result<std::vector<std::string>> DeleteExpiredIssuers(Storage* storage, const CaStore& cas, int64_t cutoff) {
  auto write_lock = cas.LockForWrite();
  ASSIGN_OR_RETURN(auto snap, cas.Snapshot());
  std::vector<std::string> deleted;
  WriteBatch batch;
  for (const auto& e : snap->issuers) {
    if (e.issuer_id == snap->default_issuer || e.not_after == 0 || e.not_after >= cutoff) continue;
    CaStore::DeleteIssuerInBatch(&batch, e.issuer_id);
    deleted.push_back(e.issuer_id);
  }
  if (deleted.empty()) return deleted;
  RETURN_IF_ERROR(storage->Write(batch));
  cas.Committed();
  return deleted;
}

}  // namespace pki
