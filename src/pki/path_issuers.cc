#include "src/pki/path_issuers.h"

#include <algorithm>

#include "src/core/text.h"
#include "src/pki/cert_store.h"
#include "src/pki/issuance.h"
#include "src/pki/revocation.h"

namespace pki {
namespace {

constexpr char kPkixCert[] = "application/pkix-cert";
constexpr char kPemChain[] = "application/pem-certificate-chain";
const std::vector<std::string> kAllUsages = {kUsageReadOnly, kUsageIssuing, kUsageCrlSigning, kUsageOcspSigning};

Status IssuerNotFound(const std::string& ref) {
  return Status::BadRequest("unable to find PKI issuer for reference: " + ref);
}

Json NullIfEmpty(const std::vector<std::string>& v) { return v.empty() ? Json(nullptr) : Json(v); }

// Vault's respondReadIssuer.
Json IssuerData(const IssuerEntry& e) {
  Json data = {{"issuer_id", e.issuer_id},
               {"issuer_name", e.issuer_name},
               {"key_id", e.key_id},
               {"certificate", e.certificate},
               {"manual_chain", NullIfEmpty(e.manual_chain)},
               {"ca_chain", e.ca_chain},
               {"leaf_not_after_behavior", e.leaf_not_after_behavior},
               {"usage", Join(e.usage, ",")},
               {"revocation_signature_algorithm", e.revocation_signature_algorithm},
               {"revoked", e.revoked},
               {"issuing_certificates", e.issuing_certificates},
               {"crl_distribution_points", e.crl_distribution_points},
               {"delta_crl_distribution_points", e.delta_crl_distribution_points},
               {"ocsp_servers", e.ocsp_servers}};
  if (e.HasAiaUrls()) data["enable_aia_url_templating"] = e.enable_aia_url_templating;
  if (e.revoked) {
    data["revocation_time"] = e.revocation_time;
    data["revocation_time_rfc3339"] = FormatRfc3339(e.revocation_time);
  }
  return data;
}

// One page of ids after `after` (exclusive), at most `limit` (0: all): OpenBao's after/limit on LIST issuers/keys.
template <typename T, typename IdOf>
std::vector<const T*> Page(const std::vector<T>& all, IdOf id_of, const std::string& after, int64_t limit) {
  std::vector<const T*> out;
  for (const auto& item : all) {
    if (!after.empty() && id_of(item) <= after) continue;
    if (limit > 0 && out.size() >= static_cast<size_t>(limit)) break;
    out.push_back(&item);
  }
  return out;
}

class IssuerHandlers {
 public:
  IssuerHandlers(const PkiContext& ctx, CaStore* cas) : ctx_(ctx), cas_(cas) {}

  Result<Response> ListIssuers(const Request&, const FieldData& f) {
    if (f.GetInt("limit") < 0) return Status::BadRequest("limit must be zero or positive");
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    Json keys = Json::array();
    Json info = Json::object();
    for (const IssuerEntry* e : Page(snap->issuers, [](const IssuerEntry& x) { return x.issuer_id; },
                                     f.GetString("after"), f.GetInt("limit"))) {
      keys.push_back(e->issuer_id);
      info[e->issuer_id] = {{"issuer_name", e->issuer_name},
                            {"is_default", e->issuer_id == snap->default_issuer},
                            {"serial_number", e->serial_number},
                            {"key_id", e->key_id}};
    }
    return Response::Data({{"keys", keys}, {"key_info", info}});
  }

  Result<Response> ReadIssuer(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(IssuerEntry e, Resolve(f));
    return Response::Data(IssuerData(e));
  }

  // issuer/:ref/json, /der, /pem (unauthenticated).
  Result<Response> IssuerJson(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(IssuerEntry e, Resolve(f));
    return Response::Data({{"certificate", e.certificate},
                           {"ca_chain", e.ca_chain},
                           {"issuer_id", e.issuer_id},
                           {"issuer_name", e.issuer_name}});
  }
  Result<Response> IssuerDer(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(IssuerEntry e, Resolve(f));
    ASSIGN_OR_RETURN(ossl::X509Ptr cert, ParseCertificatePem(e.certificate));
    return Response::Raw(kPkixCert, CertificateDer(cert.get()));
  }
  Result<Response> IssuerPem(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(IssuerEntry e, Resolve(f));
    return Response::Raw(kPemChain, e.certificate + "\n");
  }

  // POST replaces every field (unset ones take their defaults), PATCH changes only the given ones, as in Vault.
  Result<Response> UpdateIssuer(const Request& r, const FieldData& f) {
    const bool patch = r.operation == Operation::kPatch;
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(IssuerEntry e, Resolve(f));
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    const std::string old_name = e.issuer_name;
    auto given = [&](const char* k) { return !patch || f.Has(k); };

    if (given("issuer_name")) {
      std::string name = f.GetString("issuer_name");
      RETURN_IF_ERROR(cas_->CheckIssuerName(name, e.issuer_id));
      e.issuer_name = name;
    }
    if (given("leaf_not_after_behavior")) {
      std::string b = f.GetString("leaf_not_after_behavior");
      if (b != "err" && b != "truncate" && b != "permit") {
        return Status::BadRequest(
            "Unknown value for field `leaf_not_after_behavior`. Possible values are `err`, `truncate`, and "
            "`permit`.");
      }
      e.leaf_not_after_behavior = b;
    }
    ASSIGN_OR_RETURN(ossl::X509Ptr cert, ParseCertificatePem(e.certificate));
    if (given("usage")) {
      std::vector<std::string> usage = f.GetStrings("usage");
      std::vector<std::string> canonical;
      for (const auto& want : kAllUsages) {
        if (std::find(usage.begin(), usage.end(), want) != usage.end()) canonical.push_back(want);
      }
      for (const auto& u : usage) {
        if (std::find(kAllUsages.begin(), kAllUsages.end(), u) == kAllUsages.end()) {
          return Status::BadRequest("Unable to parse specified usages: [" + Join(usage, " ") +
                                    "] - valid values are " + Join(kAllUsages, ","));
        }
      }
      if (canonical != e.usage) {
        bool issuing = std::find(canonical.begin(), canonical.end(), kUsageIssuing) != canonical.end();
        if (e.revoked && issuing) {
          return Status::BadRequest(
              "This issuer was revoked; unable to modify its usage to include certificate signing again. Reissue "
              "this certificate (preferably with a new key) and modify that entry instead.");
        }
        bool crl = std::find(canonical.begin(), canonical.end(), kUsageCrlSigning) != canonical.end();
        if (crl && !(X509_get_key_usage(cert.get()) & KU_CRL_SIGN)) {
          return Status::BadRequest(
              "This issuer's underlying certificate lacks the CRLSign KeyUsage value; unable to set "
              "CRLSigningUsage on this issuer as a result.");
        }
        e.usage = std::move(canonical);
      }
    }
    if (given("revocation_signature_algorithm")) {
      EVP_PKEY* pub = X509_get0_pubkey(cert.get());
      ASSIGN_OR_RETURN(KeyInfo ki, InspectKey(pub));
      ASSIGN_OR_RETURN(e.revocation_signature_algorithm,
                       CanonicalRevocationAlgorithm(f.GetString("revocation_signature_algorithm"),
                                                    KeyTypeName(ki.type)));
    }
    if (given("enable_aia_url_templating")) e.enable_aia_url_templating = f.GetBool("enable_aia_url_templating");
    if (e.enable_aia_url_templating) {
      return Status::BadRequest("enable_aia_url_templating requires config/cluster, which this mount does not support");
    }
    struct {
      const char* field;
      std::vector<std::string>* dest;
    } aia[] = {{"issuing_certificates", &e.issuing_certificates},
               {"crl_distribution_points", &e.crl_distribution_points},
               {"delta_crl_distribution_points", &e.delta_crl_distribution_points},
               {"ocsp_servers", &e.ocsp_servers}};
    for (auto& [field, dest] : aia) {
      if (!given(field)) continue;
      std::vector<std::string> urls = f.GetStrings(field);
      for (const auto& u : urls) {
        if (!ValidAiaUrl(u)) {
          return Status::BadRequest(std::string("invalid URL found in Authority Information Access (AIA) parameter ") +
                                    field + ": " + u);
        }
      }
      *dest = std::move(urls);
    }
    if (given("manual_chain")) {
      std::vector<std::string> chain;
      std::vector<std::string> refs = f.GetStrings("manual_chain");
      for (size_t i = 0; i < refs.size(); ++i) {
        std::string ref = (i == 0 && refs[i] == "self") ? e.issuer_id : refs[i];
        const IssuerEntry* resolved = snap->FindIssuer(ref);
        if (!resolved) return IssuerNotFound(refs[i]);
        if (i == 0 && resolved->issuer_id != e.issuer_id) {
          return Status::BadRequest("expected first cert in chain to be a self-reference, but was: " + refs[i] + "/" +
                                    resolved->issuer_id);
        }
        chain.push_back(resolved->issuer_id);
      }
      e.manual_chain = std::move(chain);
    }

    WriteBatch batch;
    RETURN_IF_ERROR(cas_->AddToBatch(&batch, nullptr, &e, false));
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    cas_->Committed();
    ASSIGN_OR_RETURN(auto updated, cas_->ResolveIssuer(e.issuer_id));  // with its chain recomputed
    Response resp = Response::Data(IssuerData(updated ? *updated : e));
    if (e.revocation_signature_algorithm.find("PSS") != std::string::npos) {
      resp.warnings.push_back(
          "Issuer uses a PSS Revocation Signature Algorithm. This algorithm will be used for both CRLs and OCSP "
          "responses.");
    }
    if (!old_name.empty() && old_name != e.issuer_name) {
      resp.warnings.push_back("Issuer name " + old_name +
                              " is no longer in use; roles and requests referencing it will now fail.");
    }
    return resp;
  }

  Result<Response> DeleteIssuer(const Request&, const FieldData& f) {
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    const std::string ref = f.GetString("issuer_ref");
    const IssuerEntry* e = snap->FindIssuer(ref);
    if (!e) return Response::Nil();  // as if deleted, as Vault answers
    WriteBatch batch;
    CaStore::DeleteIssuerInBatch(&batch, e->issuer_id);
    const bool was_default = e->issuer_id == snap->default_issuer;
    if (was_default) CaStore::AddIssuersConfigToBatch(&batch, "", snap->default_follows_latest_issuer);
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    cas_->Committed();
    if (!was_default) return Response::Nil();
    Response resp = Response::Data(Json::object());
    resp.warnings.push_back("Deleted issuer " + e->issuer_id + " (via issuer_ref " + ref +
                            "); this was configured as the default issuer. Operations without an explicit issuer "
                            "will not work until a new default is configured.");
    return resp;
  }

  // issuer/:ref/revoke: the issuer stops issuing (its issuing usage is removed, for good); when this mount signed
  // its certificate, the certificate joins the signer's CRL like any revoked leaf.
  Result<Response> RevokeIssuer(const Request&, const FieldData& f) {
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(IssuerEntry e, Resolve(f));
    if (e.revoked) return Response::Data(IssuerData(e));
    const int64_t now = ctx_.clock->Now();
    ASSIGN_OR_RETURN(ossl::X509Ptr cert, ParseCertificatePem(e.certificate));
    CertInfo info = InspectCertificate(cert.get());

    // The CRL entry first: a crash before the issuer is marked leaves a retry that finishes the job.
    CertStore certs(ctx_.storage);
    ASSIGN_OR_RETURN(std::optional<StoredCert> stored, certs.Get(info.serial));
    bool on_parent_crl = false;
    if (stored && stored->der == CertificateDer(cert.get()) && stored->issuer_id != e.issuer_id) {
      ASSIGN_OR_RETURN(std::string group, CrlGroupOf(*cas_, stored->issuer_id));
      RevocationStore revocations(ctx_.storage);
      RETURN_IF_ERROR(revocations.Add(info.serial, stored->issuer_id, group, now).status());
      on_parent_crl = true;
    }

    e.revoked = true;
    e.revocation_time = now;
    e.usage.erase(std::remove(e.usage.begin(), e.usage.end(), kUsageIssuing), e.usage.end());
    WriteBatch batch;
    RETURN_IF_ERROR(cas_->AddToBatch(&batch, nullptr, &e, false));
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    cas_->Committed();

    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    const IssuerEntry* now_stored = snap->FindIssuer(e.issuer_id);
    Response resp = Response::Data(IssuerData(now_stored ? *now_stored : e));
    if (info.subject_der == info.issuer_der) {
      resp.warnings.push_back(
          "This issuer is a self-signed (potentially root) certificate. This means it may not be considered revoked "
          "if there is not an external, cross-signed variant of this certificate. This issuer's serial number will "
          "not appear on its own CRL.");
    }
    if (!on_parent_crl) {
      resp.warnings.push_back(
          "This issuer lacks another parent issuer within the mount. This means it will not appear on any other "
          "CRLs and may not be considered revoked by clients. Consider adding this issuer to its issuer's CRL as "
          "well if it is not self-signed.");
    }
    if (e.issuer_id == snap->default_issuer) {
      resp.warnings.push_back(
          "This issuer is currently configured as the default issuer for this mount; operations such as "
          "certificate issuance may not work until a new default issuer is selected.");
    }
    return resp;
  }

  Result<Response> ReadIssuersConfig(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    return Response::Data(
        {{"default", snap->default_issuer}, {"default_follows_latest_issuer", snap->default_follows_latest_issuer}});
  }

  // config/issuers and root/replace.
  Result<Response> WriteIssuersConfig(const Request&, const FieldData& f) {
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    std::string ref = f.GetString("default");
    bool follows = snap->default_follows_latest_issuer;
    if (f.Has("default_follows_latest_issuer")) follows = f.GetBool("default_follows_latest_issuer");
    std::string id = snap->default_issuer;
    const IssuerEntry* e = nullptr;
    if (!ref.empty() || !f.Has("default_follows_latest_issuer")) {
      if (ref.empty() || ref == "default") {
        return Status::BadRequest("Invalid issuer specification; must be non-empty and can't be 'default'.");
      }
      e = snap->FindIssuer(ref);
      if (!e) return Status::BadRequest("Error resolving issuer reference: unable to find PKI issuer for reference: " + ref);
      id = e->issuer_id;
    }
    WriteBatch batch;
    CaStore::AddIssuersConfigToBatch(&batch, id, follows);
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    cas_->Committed();
    Response resp = Response::Data({{"default", id}, {"default_follows_latest_issuer", follows}});
    if (e && e->key_id.empty()) {
      resp.warnings.push_back(
          "This selected default issuer has no key associated with it. Some operations like issuing certificates "
          "and signing CRLs will be unavailable with the requested default issuer until a key is imported or the "
          "default issuer is changed.");
    }
    return resp;
  }

  // DELETE root: every issuer and key (certificates and revocations stay).
  Result<Response> DeleteRoot(const Request&, const FieldData&) {
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    WriteBatch batch;
    for (const auto& e : snap->issuers) CaStore::DeleteIssuerInBatch(&batch, e.issuer_id);
    for (const auto& k : snap->keys) CaStore::DeleteKeyInBatch(&batch, k.key_id);
    CaStore::AddIssuersConfigToBatch(&batch, "", snap->default_follows_latest_issuer);
    CaStore::AddKeysConfigToBatch(&batch, "");
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    cas_->Committed();
    Response resp = Response::Data(Json::object());
    resp.warnings.push_back(
        "DELETE /root deletes all keys and issuers; prefer the new DELETE /key/:key_ref and DELETE "
        "/issuer/:issuer_ref for finer granularity, unless removal of all keys and issuers is desired.");
    return resp;
  }

  Result<Response> ListKeys(const Request&, const FieldData& f) {
    if (f.GetInt("limit") < 0) return Status::BadRequest("limit must be zero or positive");
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    Json keys = Json::array();
    Json info = Json::object();
    for (const KeyEntry* k :
         Page(snap->keys, [](const KeyEntry& x) { return x.key_id; }, f.GetString("after"), f.GetInt("limit"))) {
      keys.push_back(k->key_id);
      info[k->key_id] = {{"key_name", k->key_name}, {"is_default", k->key_id == snap->default_key}};
    }
    return Response::Data({{"keys", keys}, {"key_info", info}});
  }

  Result<Response> ReadKey(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(KeyEntry k, ResolveKey(f));
    ASSIGN_OR_RETURN(ossl::PKey key, cas_->UnsealKey(k));
    return Response::Data({{"key_id", k.key_id},
                           {"key_name", k.key_name},
                           {"key_type", k.key_type},
                           {"subject_key_id", FormatSerial(KeyIdentifier(key.get()))}});
  }

  Result<Response> UpdateKey(const Request&, const FieldData& f) {
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(KeyEntry k, ResolveKey(f));
    std::string name = f.GetString("key_name");
    RETURN_IF_ERROR(cas_->CheckKeyName(name, k.key_id));
    if (name != k.key_name) {
      k.key_name = name;
      WriteBatch batch;
      RETURN_IF_ERROR(cas_->AddToBatch(&batch, &k, nullptr, false));
      RETURN_IF_ERROR(ctx_.storage->Write(batch));
      cas_->Committed();
    }
    Response resp = Response::Data({{"key_id", k.key_id}, {"key_name", k.key_name}, {"key_type", k.key_type}});
    if (name.empty()) {
      resp.warnings.push_back("Name successfully deleted, you will now need to reference this key by it's Id: " +
                              k.key_id);
    }
    return resp;
  }

  Result<Response> DeleteKey(const Request&, const FieldData& f) {
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    const std::string ref = f.GetString("key_ref");
    const KeyEntry* k = snap->FindKey(ref);
    if (!k) return Response::Nil();
    for (const auto& e : snap->issuers) {
      if (e.key_id == k->key_id) {
        return Status::BadRequest("Failed to Delete Key.  Key in Use by Issuer: " + e.issuer_id);
      }
    }
    WriteBatch batch;
    CaStore::DeleteKeyInBatch(&batch, k->key_id);
    const bool was_default = k->key_id == snap->default_key;
    if (was_default) CaStore::AddKeysConfigToBatch(&batch, "");
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    cas_->Committed();
    if (!was_default) return Response::Nil();
    Response resp = Response::Data(Json::object());
    resp.warnings.push_back("Deleted key " + k->key_id + " (via key_ref " + ref +
                            "); this was configured as the default key. Operations without an explicit key will "
                            "not work until a new default is configured.");
    return resp;
  }

  Result<Response> GenerateKey(const Request&, const FieldData& f) {
    std::string type = f.GetString("type");
    if (type == "kms") return Status::BadRequest("managed keys (type \"kms\") are not supported by this engine");
    if (type != "internal" && type != "exported") return Status::BadRequest("Unknown type of key to generate");
    std::string name = f.GetString("key_name");
    RETURN_IF_ERROR(cas_->CheckKeyName(name));
    auto kt = ParseKeyType(f.GetString("key_type"));
    if (!kt.ok()) return Status::BadRequest("Validation for key_type, key_bits failed: " + kt.status().message());
    auto bits = ResolveKeyBits(*kt, f.GetInt("key_bits"));
    if (!bits.ok()) return Status::BadRequest("Validation for key_type, key_bits failed: " + bits.status().message());
    ASSIGN_OR_RETURN(ossl::PKey key, ::pki::GenerateKey(*kt, *bits));
    ASSIGN_OR_RETURN(KeyEntry entry, cas_->NewKeyEntry(key.get(), name));
    {
      auto write_lock = cas_->LockForWrite();
      RETURN_IF_ERROR(cas_->CheckKeyName(name));
      WriteBatch batch;
      RETURN_IF_ERROR(cas_->AddToBatch(&batch, &entry, nullptr, false));
      RETURN_IF_ERROR(ctx_.storage->Write(batch));
      cas_->Committed();
    }
    Json data = {{"key_id", entry.key_id}, {"key_name", entry.key_name}, {"key_type", entry.key_type}};
    if (type == "exported") {
      ASSIGN_OR_RETURN(std::string pem, PrivateKeyToPem(key.get(), PrivateKeyFormat::kTraditional));
      data["private_key"] = pem;
    }
    return Response::Data(std::move(data));
  }

  Result<Response> ImportKey(const Request&, const FieldData& f) {
    std::string bundle = f.GetString("pem_bundle");
    std::string name = f.GetString("key_name");
    RETURN_IF_ERROR(cas_->CheckKeyName(name));
    if (bundle.size() < 64) {
      return Status::BadRequest(
          "provided data for import was too short; perhaps a path was passed to the API rather than the contents "
          "of a PEM file");
    }
    size_t blocks = 0;
    for (size_t at = bundle.find("-----BEGIN "); at != std::string::npos; at = bundle.find("-----BEGIN ", at + 1)) {
      ++blocks;
    }
    if (blocks != 1) {
      return Status::BadRequest("only a single key can be present within the pem_bundle for importing");
    }
    auto parsed = ParsePrivateKeyPem(bundle);
    if (!parsed.ok()) return Status::BadRequest("unable to parse the private key in the pem_bundle");
    ossl::PKey key = std::move(parsed).value();

    auto write_lock = cas_->LockForWrite();
    RETURN_IF_ERROR(cas_->CheckKeyName(name));
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    for (const auto& k : snap->keys) {
      ASSIGN_OR_RETURN(ossl::PKey existing, cas_->UnsealKey(k));
      if (SamePublicKey(existing.get(), key.get())) {
        Response resp = Response::Data({{"key_id", k.key_id}, {"key_name", k.key_name}, {"key_type", k.key_type}});
        resp.warnings.push_back("Key already imported, use key/ endpoint to update name.");
        return resp;
      }
    }
    ASSIGN_OR_RETURN(KeyEntry entry, cas_->NewKeyEntry(key.get(), name));
    WriteBatch batch;
    RETURN_IF_ERROR(cas_->AddToBatch(&batch, &entry, nullptr, false));
    // Issuers imported earlier without their key gain it now, as Vault pairs them on key import.
    std::vector<IssuerEntry> paired = snap->IssuersAwaitingKey(key.get(), entry.key_id);
    std::vector<const IssuerEntry*> candidates;
    for (const auto& e : paired) candidates.push_back(&e);
    std::string ignored;
    const IssuerEntry* new_default = snap->NoDefaultIssuer() ? snap->ChooseNewDefault(candidates, &ignored) : nullptr;
    for (const IssuerEntry* e : candidates) RETURN_IF_ERROR(cas_->AddToBatch(&batch, nullptr, e, e == new_default));
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    cas_->Committed();
    return Response::Data({{"key_id", entry.key_id}, {"key_name", entry.key_name}, {"key_type", entry.key_type}});
  }

  Result<Response> ReadKeysConfig(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    return Response::Data({{"default", snap->default_key}});
  }

  Result<Response> WriteKeysConfig(const Request&, const FieldData& f) {
    std::string ref = f.GetString("default");
    if (ref.empty() || ref == "default") {
      return Status::BadRequest("Invalid key specification; must be non-empty and can't be 'default'.");
    }
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    const KeyEntry* k = snap->FindKey(ref);
    if (!k) return Status::BadRequest("Error resolving key reference: unable to find PKI key for reference: " + ref);
    WriteBatch batch;
    CaStore::AddKeysConfigToBatch(&batch, k->key_id);
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    cas_->Committed();
    return Response::Data({{"default", k->key_id}});
  }

 private:
  Result<IssuerEntry> Resolve(const FieldData& f) {
    std::string ref = f.GetString("issuer_ref");
    if (ref.empty()) return Status::BadRequest("missing issuer reference");
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    const IssuerEntry* e = snap->FindIssuer(ref);
    if (!e) return IssuerNotFound(ref);
    return *e;
  }

  Result<KeyEntry> ResolveKey(const FieldData& f) {
    std::string ref = f.GetString("key_ref");
    if (ref.empty()) return Status::BadRequest("missing key reference");
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    const KeyEntry* k = snap->FindKey(ref);
    if (!k) return Status::BadRequest("unable to find PKI key for reference: " + ref);
    return *k;
  }

  PkiContext ctx_;
  CaStore* cas_;
};

FieldSchemas IssuerUpdateFields() {
  FieldSchemas f;
  f["issuer_ref"] = {FieldType::kString, nullptr, "Issuer id, name, or \"default\"."};
  f["issuer_name"] = {FieldType::kString, nullptr, "Name of the issuer (unique in the mount)."};
  f["leaf_not_after_behavior"] = {FieldType::kString, "err", "err, truncate or permit."};
  f["usage"] = {FieldType::kCommaStringSlice, Json::array({kUsageReadOnly, kUsageIssuing, kUsageCrlSigning,
                                                           kUsageOcspSigning}),
                "read-only, issuing-certificates, crl-signing, ocsp-signing."};
  f["manual_chain"] = {FieldType::kCommaStringSlice, nullptr, "Issuer references forming the chain (self first)."};
  f["revocation_signature_algorithm"] = {FieldType::kString, nullptr,
                                         "Signature algorithm of CRLs and OCSP responses (e.g. SHA256WithRSAPSS)."};
  f["issuing_certificates"] = {FieldType::kCommaStringSlice, nullptr, "AIA caIssuers URLs of this issuer."};
  f["crl_distribution_points"] = {FieldType::kCommaStringSlice, nullptr, "CRL distribution points of this issuer."};
  f["delta_crl_distribution_points"] = {FieldType::kCommaStringSlice, nullptr, "Delta CRL URLs of this issuer."};
  f["ocsp_servers"] = {FieldType::kCommaStringSlice, nullptr, "AIA OCSP URLs of this issuer."};
  f["enable_aia_url_templating"] = {FieldType::kBool, nullptr, "Templated URLs (not supported)."};
  return f;
}

FieldSchemas PagingFields() {
  FieldSchemas f;
  f["after"] = {FieldType::kString, nullptr, "List entries after this id."};
  f["limit"] = {FieldType::kInt, 0, "Maximum number of entries; 0 for all."};
  return f;
}

}  // namespace

std::vector<PathSpec> IssuerPaths(const PkiContext& ctx, CaStore* cas) {
  auto h = std::make_shared<IssuerHandlers>(ctx, cas);
  std::vector<PathSpec> paths;
  FieldSchemas issuer_ref{{"issuer_ref", {FieldType::kString, nullptr, "Issuer id, name, or \"default\"."}}};
  FieldSchemas key_ref{{"key_ref", {FieldType::kString, nullptr, "Key id, name, or \"default\"."}}};

  PathSpec list{"issuers", PagingFields(), {}, true, "The mount's issuers, with their names and keys."};
  list.operations[Operation::kList] = BindHandler(h, &IssuerHandlers::ListIssuers);
  paths.push_back(list);

  auto raw = [&](const char* pattern, auto method, const char* help) {
    PathSpec p{pattern, issuer_ref, {}, true, help};
    p.operations[Operation::kRead] = BindHandler(h, method);
    paths.push_back(p);
  };
  raw("issuer/:issuer_ref/json", &IssuerHandlers::IssuerJson, "An issuer's certificate and chain.");
  raw("issuer/:issuer_ref/der", &IssuerHandlers::IssuerDer, "An issuer's certificate (DER).");
  raw("issuer/:issuer_ref/pem", &IssuerHandlers::IssuerPem, "An issuer's certificate (PEM).");

  PathSpec revoke{"issuer/:issuer_ref/revoke", issuer_ref, {}, false, "Revoke an issuer (irreversible)."};
  revoke.operations[Operation::kUpdate] = BindHandler(h, &IssuerHandlers::RevokeIssuer);
  paths.push_back(revoke);

  PathSpec issuer{"issuer/:issuer_ref", IssuerUpdateFields(), {}, false, "Read, update or delete an issuer."};
  issuer.operations[Operation::kRead] = BindHandler(h, &IssuerHandlers::ReadIssuer);
  issuer.operations[Operation::kUpdate] = BindHandler(h, &IssuerHandlers::UpdateIssuer);
  issuer.operations[Operation::kPatch] = BindHandler(h, &IssuerHandlers::UpdateIssuer);
  issuer.operations[Operation::kDelete] = BindHandler(h, &IssuerHandlers::DeleteIssuer);
  paths.push_back(issuer);

  FieldSchemas defaults;
  defaults["default"] = {FieldType::kString, nullptr, "Issuer id or name."};
  defaults["default_follows_latest_issuer"] = {FieldType::kBool, nullptr,
                                               "New issuers become the default as they are added."};
  PathSpec config{"config/issuers", defaults, {}, false, "The default issuer."};
  config.operations[Operation::kRead] = BindHandler(h, &IssuerHandlers::ReadIssuersConfig);
  config.operations[Operation::kUpdate] = BindHandler(h, &IssuerHandlers::WriteIssuersConfig);
  paths.push_back(config);
  PathSpec replace{"root/replace", defaults, {}, false, "Make another issuer the default."};
  replace.fields["default"] = {FieldType::kString, "next", "Issuer id or name; default \"next\"."};
  replace.operations[Operation::kUpdate] = BindHandler(h, &IssuerHandlers::WriteIssuersConfig);
  paths.push_back(replace);

  PathSpec root{"root", {}, {}, false, "DELETE: remove every issuer and key."};
  root.operations[Operation::kDelete] = BindHandler(h, &IssuerHandlers::DeleteRoot);
  paths.push_back(root);

  PathSpec keys{"keys", PagingFields(), {}, false, "The mount's keys."};
  keys.operations[Operation::kList] = BindHandler(h, &IssuerHandlers::ListKeys);
  paths.push_back(keys);

  PathSpec generate{"keys/generate/:type", {}, {}, false, "Generate a key (internal or exported)."};
  generate.fields["type"] = {FieldType::kString, nullptr, "internal or exported."};
  generate.fields["key_name"] = {FieldType::kString, nullptr, "Name of the key."};
  generate.fields["key_type"] = {FieldType::kString, "rsa", "rsa, ec or ed25519."};
  generate.fields["key_bits"] = {FieldType::kInt, 0, "Key size; 0 for the type's default."};
  generate.fields["managed_key_name"] = {FieldType::kString, nullptr, "Not supported."};
  generate.fields["managed_key_id"] = {FieldType::kString, nullptr, "Not supported."};
  generate.operations[Operation::kUpdate] = BindHandler(h, &IssuerHandlers::GenerateKey);
  paths.push_back(generate);

  PathSpec import{"keys/import", {}, {}, false, "Import a PEM private key."};
  import.fields["pem_bundle"] = {FieldType::kString, nullptr, "The private key, PEM."};
  import.fields["key_name"] = {FieldType::kString, nullptr, "Name of the key."};
  import.operations[Operation::kUpdate] = BindHandler(h, &IssuerHandlers::ImportKey);
  paths.push_back(import);

  PathSpec key{"key/:key_ref", key_ref, {}, false, "Read, rename or delete a key."};
  key.fields["key_name"] = {FieldType::kString, nullptr, "New name of the key."};
  key.operations[Operation::kRead] = BindHandler(h, &IssuerHandlers::ReadKey);
  key.operations[Operation::kUpdate] = BindHandler(h, &IssuerHandlers::UpdateKey);
  key.operations[Operation::kDelete] = BindHandler(h, &IssuerHandlers::DeleteKey);
  paths.push_back(key);

  PathSpec key_config{"config/keys", {}, {}, false, "The default key."};
  key_config.fields["default"] = {FieldType::kString, nullptr, "Key id or name."};
  key_config.operations[Operation::kRead] = BindHandler(h, &IssuerHandlers::ReadKeysConfig);
  key_config.operations[Operation::kUpdate] = BindHandler(h, &IssuerHandlers::WriteKeysConfig);
  paths.push_back(key_config);
  return paths;
}

}  // namespace pki
