#include "src/pki/ca_store.h"

#include <openssl/crypto.h>

#include "src/core/uuid.h"

namespace pki {
namespace {

constexpr char kIssuerPrefix[] = "issuer/";
constexpr char kKeyPrefix[] = "key/";
constexpr char kIssuersConfig[] = "config/issuers";

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
  KeyEntry k;
  k.key_id = j.value("key_id", "");
  k.key_name = j.value("key_name", "");
  k.key_type = j.value("key_type", "");
  k.key_bits = j.value("key_bits", 0);
  auto sealed = Base64Decode(j.value("sealed_private_key", ""));
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

}  // namespace

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
          {"ca_chain", e.ca_chain},
          {"leaf_not_after_behavior", e.leaf_not_after_behavior},
          {"usage", e.usage}};
}

IssuerEntry IssuerFromJson(const Json& j) {
  IssuerEntry e;
  e.issuer_id = j.value("issuer_id", "");
  e.issuer_name = j.value("issuer_name", "");
  e.key_id = j.value("key_id", "");
  e.certificate = j.value("certificate", "");
  e.ca_chain = j.value("ca_chain", std::vector<std::string>{});
  e.leaf_not_after_behavior = j.value("leaf_not_after_behavior", "err");
  e.usage = j.value("usage", e.usage);
  return e;
}

Result<std::string> CaStore::DefaultIssuerId() const {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (default_id_) return *default_id_;
    generation = generation_;
  }
  ASSIGN_OR_RETURN(Json cfg, ReadJson(ctx_.storage, kIssuersConfig));
  std::string id = cfg.is_object() ? cfg.value("default", "") : "";
  std::lock_guard<std::mutex> lock(mu_);
  if (generation == generation_) default_id_ = id;
  return id;
}

Result<std::optional<IssuerEntry>> CaStore::GetIssuer(const std::string& id) const {
  ASSIGN_OR_RETURN(Json j, ReadJson(ctx_.storage, kIssuerPrefix + id));
  if (j.is_null()) return std::optional<IssuerEntry>();
  return std::optional<IssuerEntry>(IssuerFromJson(j));
}

Result<std::optional<IssuerEntry>> CaStore::ResolveIssuer(const std::string& ref) const {
  if (ref.empty() || ref == "default") {
    ASSIGN_OR_RETURN(std::string id, DefaultIssuerId());
    if (id.empty()) return std::optional<IssuerEntry>();
    return GetIssuer(id);
  }
  ASSIGN_OR_RETURN(auto by_id, GetIssuer(ref));
  if (by_id) return by_id;
  ASSIGN_OR_RETURN(auto all, ListIssuers());
  for (auto& e : all) {
    if (e.issuer_name == ref) return std::optional<IssuerEntry>(std::move(e));
  }
  return std::optional<IssuerEntry>();
}

Result<std::shared_ptr<const SigningIssuer>> CaStore::SigningIssuerFor(const std::string& ref) const {
  std::string id = ref;
  if (ref.empty() || ref == "default") {
    ASSIGN_OR_RETURN(id, DefaultIssuerId());
    if (id.empty()) return CaFetchError("no default issuer currently configured");
  }
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
    generation = generation_;
  }
  ASSIGN_OR_RETURN(auto entry, ResolveIssuer(id));
  if (!entry) return CaFetchError("unable to find PKI issuer for reference: " + ref);
  if (entry->key_id.empty()) return CaFetchError("issuer " + entry->issuer_id + " has no private key");
  ASSIGN_OR_RETURN(auto key_entry, GetKey(entry->key_id));
  if (!key_entry) return CaFetchError("key " + entry->key_id + " of issuer " + entry->issuer_id + " is missing");
  auto signing = std::make_shared<SigningIssuer>();
  ASSIGN_OR_RETURN(signing->key, UnsealKey(*key_entry));
  auto cert = ParseCertificatePem(entry->certificate);
  if (!cert.ok()) return Status::Internal("stored issuer certificate is corrupt: " + entry->issuer_id);
  signing->cert = std::move(cert).value();
  signing->info = InspectCertificate(signing->cert.get());
  signing->chain = DescribeChain(entry->ca_chain);
  signing->entry = std::move(*entry);
  std::shared_ptr<const SigningIssuer> out = signing;
  std::lock_guard<std::mutex> lock(mu_);
  if (generation != generation_) return out;  // a writer committed meanwhile: do not cache what may be stale
  cache_[out->entry.issuer_id] = out;
  if (ref != out->entry.issuer_id && ref != "default" && !ref.empty()) cache_[ref] = out;
  return out;
}

Result<std::optional<KeyEntry>> CaStore::GetKey(const std::string& key_id) const {
  ASSIGN_OR_RETURN(Json j, ReadJson(ctx_.storage, kKeyPrefix + key_id));
  if (j.is_null()) return std::optional<KeyEntry>();
  ASSIGN_OR_RETURN(KeyEntry k, KeyFromJson(j));
  return std::optional<KeyEntry>(std::move(k));
}

Result<std::vector<KeyEntry>> CaStore::ListKeys() const {
  std::vector<std::string> ids;
  RETURN_IF_ERROR(ctx_.storage->List(kKeyPrefix, "", 0, &ids));
  std::vector<KeyEntry> out;
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(auto k, GetKey(id));
    if (k) out.push_back(std::move(*k));
  }
  return out;
}

Result<std::vector<IssuerEntry>> CaStore::ListIssuers() const {
  std::vector<std::string> ids;
  RETURN_IF_ERROR(ctx_.storage->List(kIssuerPrefix, "", 0, &ids));
  std::vector<IssuerEntry> out;
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(auto e, GetIssuer(id));
    if (e) out.push_back(std::move(*e));
  }
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
  if (key) batch->Put(kKeyPrefix + key->key_id, KeyToJson(*key).dump());
  if (issuer) {
    batch->Put(kIssuerPrefix + issuer->issuer_id, IssuerToJson(*issuer).dump());
    if (make_default) batch->Put(kIssuersConfig, Json{{"default", issuer->issuer_id}}.dump());
  }
  return Status::Ok();
}

void CaStore::Committed() const {
  std::lock_guard<std::mutex> lock(mu_);
  cache_.clear();
  default_id_.reset();
  ++generation_;
}

Result<bool> CaStore::IssuerNameTaken(const std::string& name) const {
  if (name.empty()) return false;
  ASSIGN_OR_RETURN(auto all, ListIssuers());
  for (const auto& e : all) {
    if (e.issuer_name == name) return true;
  }
  return false;
}

Result<bool> CaStore::KeyNameTaken(const std::string& name) const {
  if (name.empty()) return false;
  ASSIGN_OR_RETURN(auto all, ListKeys());
  for (const auto& k : all) {
    if (k.key_name == name) return true;
  }
  return false;
}

}  // namespace pki
