#include "src/pki/path_ca.h"

#include <algorithm>
#include <optional>
#include <cctype>
#include <limits>

#include <openssl/pem.h>

#include "src/core/uuid.h"

#include "src/pki/cert_store.h"
#include "src/pki/issuance.h"
#include "src/pki/name_policy.h"
#include "src/pki/role_store.h"

namespace pki {
namespace {

constexpr char kNoAiaWarning[] =
    "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for "
    "systems to find missing certificates in the chain or to validate revocation status of certificates. Consider "
    "updating /config/urls or the newly generated issuer with this information.";

// The key material a CA path works with: generated here, or an existing stored key.
struct CaKey {
  ossl::PKey key;
  std::optional<KeyEntry> new_entry;  // set when the key must be stored
  std::string key_id;
  std::string key_name;
};

class CaPathHandlers {
 public:
  CaPathHandlers(const PkiContext& ctx, CaStore* cas) : ctx_(ctx), cas_(cas), certs_(ctx.storage) {}

  Result<Response> GenerateRoot(const Request&, const FieldData& f) {
    std::vector<std::string> warnings;
    std::string type = f.GetString("type");
    std::string issuer_name = f.GetString("issuer_name");
    RETURN_IF_ERROR(cas_->CheckIssuerName(issuer_name));
    ASSIGN_OR_RETURN(CaKey ck, ObtainKey(type, f));
    ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(f.GetString("format")));
    ASSIGN_OR_RETURN(PrivateKeyFormat key_format, ParsePrivateKeyFormat(f.GetString("private_key_format")));

    int64_t now = ctx_.clock->Now();
    ASSIGN_OR_RETURN(int64_t not_after, CaNotAfter(f, now, &warnings));

    CertTemplate t;
    SubjectFields subject = SubjectFromFields(f);
    t.subject = BuildSubject(subject);
    RETURN_IF_ERROR(FillSans(f, subject.common_name, &t));
    ASSIGN_OR_RETURN(t.serial, UniqueSerial(certs_));
    t.not_before = now - f.GetDuration("not_before_duration");
    t.not_after = not_after;
    t.public_key = ck.key.get();
    t.is_ca = true;
    t.basic_constraints = true;
    ASSIGN_OR_RETURN(t.max_path_length, MaxPathLength(f));
    t.key_usage = KeyUsageMask({"CertSign", "CRLSign"});
    ASSIGN_OR_RETURN(t.name_constraints, NameConstraintsFromFields(f));
    ASSIGN_OR_RETURN(t.signature_bits, SignatureBits(f));
    t.use_pss = f.GetBool("use_pss");
    ASSIGN_OR_RETURN(UrlConfig urls, ReadUrlConfig(ctx_.storage));
    ApplyUrls(urls, &t);
    ASSIGN_OR_RETURN(ossl::X509Ptr cert, SignCertificate(t, nullptr, ck.key.get()));

    IssuerEntry issuer;
    issuer.issuer_id = NewUuid();
    issuer.issuer_name = issuer_name;
    issuer.key_id = ck.key_id;
    issuer.certificate = CertificatePem(cert.get());
    issuer.ca_chain = {issuer.certificate};

    auto write_lock = cas_->LockForWrite();
    RETURN_IF_ERROR(cas_->CheckIssuerName(issuer_name));  // again, now that no other writer runs
    if (ck.new_entry) RETURN_IF_ERROR(cas_->CheckKeyName(ck.key_name));
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    // An existing key may have been deleted since it was loaded: an issuer must never name a missing key.
    if (!ck.new_entry && !snap->FindKey(ck.key_id)) {
      return Status::BadRequest("unable to find PKI key for reference: " + ck.key_id);
    }
    WriteBatch batch;
    RETURN_IF_ERROR(cas_->AddToBatch(&batch, ck.new_entry ? &*ck.new_entry : nullptr, &issuer,
                                     snap->NewIssuerBecomesDefault()));
    ASSIGN_OR_RETURN(
        CertStore::SerialLock serial_lock,
        certs_.AddToBatch(&batch, t.serial, {CertificateDer(cert.get()), issuer.issuer_id, "", not_after}));
    RETURN_IF_ERROR(ctx_.storage->Write(batch));
    serial_lock.unlock();
    cas_->Committed();

    if (urls.issuing_certificates.empty() && urls.ocsp_servers.empty() && urls.crl_distribution_points.empty()) {
      warnings.push_back(kNoAiaWarning);
    }
    if (subject.common_name.empty() && t.subject.empty()) {
      warnings.push_back(
          "This issuer certificate was generated without a Subject; this makes it likely that issuing leaf "
          "certs with this certificate will cause TLS validation libraries to reject this certificate.");
    }
    if (t.max_path_length == 0) {
      warnings.push_back(
          "Max path length of the generated certificate is zero. This certificate cannot be used to issue "
          "intermediate CA certificates.");
    }
    const EVP_PKEY* exported = type == "exported" ? ck.key.get() : nullptr;
    ASSIGN_OR_RETURN(Json data, CertificateResponse(cert.get(), DescribeChain(issuer.ca_chain), format, false, exported,
                                                    key_format));
    data.erase("ca_chain");
    data.erase("not_before");
    data["issuer_id"] = issuer.issuer_id;
    data["issuer_name"] = issuer.issuer_name;
    data["key_id"] = ck.key_id;
    data["key_name"] = ck.key_name;
    Response resp = Response::Data(std::move(data));
    resp.warnings = std::move(warnings);
    return resp;
  }

  Result<Response> GenerateIntermediate(const Request&, const FieldData& f) {
    return IntermediateCsr(f.GetString("type"), f);
  }

  // intermediate/cross-sign: a CSR from an existing key, to have another CA sign this CA's subject and key.
  Result<Response> CrossSignCsr(const Request&, const FieldData& f) { return IntermediateCsr("existing", f); }

  Result<Response> SetSigned(const Request&, const FieldData& f) {
    std::string pem = f.GetString("certificate");
    if (pem.empty()) return Status::BadRequest("no certificate provided in the \"certificate\" parameter");
    ASSIGN_OR_RETURN(auto certs, ParseCertificatesPem(pem));
    if (certs.empty()) return Status::BadRequest("no certificates found in the \"certificate\" parameter");
    return ImportCertificates(std::move(certs), nullptr);
  }

  // config/ca and issuers/import/bundle: certificates and (optionally) their key.
  Result<Response> ConfigCa(const Request&, const FieldData& f) { return ImportBundle(f, /*keys_allowed=*/true); }
  // issuers/import/cert: certificates only.
  Result<Response> ImportCert(const Request&, const FieldData& f) { return ImportBundle(f, /*keys_allowed=*/false); }

  Result<Response> SignIntermediate(const Request&, const FieldData& f) {
    std::vector<std::string> warnings;
    ASSIGN_OR_RETURN(auto issuer, cas_->SigningIssuerFor(f.GetString("issuer_ref")));
    RETURN_IF_ERROR(issuer->entry.EnsureUsage(kUsageIssuing));
    ASSIGN_OR_RETURN(CsrInfo csr, ParseCsrPem(f.GetString("csr")));
    ASSIGN_OR_RETURN(KeyInfo csr_key, InspectKey(csr.public_key.get()));
    if (csr_key.type == KeyType::kRsa && csr_key.bits < 2048) {
      return Status::BadRequest("RSA keys < 2048 bits are unsafe and not supported: got " +
                                std::to_string(csr_key.bits));
    }
    ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(f.GetString("format")));
    bool use_csr_values = f.GetBool("use_csr_values");

    CertTemplate t;
    SubjectFields subject = SubjectFromFields(f);
    if (use_csr_values) {
      CopyCsrNames(csr, &t);
      t.subject_name = X509_REQ_get_subject_name(csr.req.get());
      t.csr_extensions = csr.extensions.get();
    } else {
      // Without a common_name the CSR's is used, as Vault does.
      if (subject.common_name.empty()) subject.common_name = csr.common_name;
      t.subject = BuildSubject(subject);
      RETURN_IF_ERROR(FillSans(f, subject.common_name, &t));
    }

    int64_t now = ctx_.clock->Now();
    ASSIGN_OR_RETURN(int64_t not_after, CaNotAfter(f, now, &warnings));
    std::string behavior = f.GetBool("enforce_leaf_not_after_behavior") ? issuer->entry.leaf_not_after_behavior
                                                                         : std::string("truncate");
    int64_t requested_not_after = not_after;
    ASSIGN_OR_RETURN(not_after, ApplyLeafNotAfterBehavior(not_after, behavior, issuer->info.not_after));
    if (not_after < requested_not_after) {
      warnings.push_back("The expiration time for the signed certificate requested (" +
                         FormatRfc3339(requested_not_after) + ") is beyond the issuer's expiration (" +
                         FormatRfc3339(issuer->info.not_after) + "); it was truncated to the issuer's expiration.");
    }

    ASSIGN_OR_RETURN(int max_path, MaxPathLength(f));
    if (issuer->info.max_path_length == 0) {
      return Status::BadRequest(
          "signing certificate has a max path length of zero, and cannot issue further CA certificates");
    }
    if (issuer->info.max_path_length > 0 && (max_path < 0 || max_path >= issuer->info.max_path_length)) {
      max_path = issuer->info.max_path_length - 1;
    }

    ASSIGN_OR_RETURN(t.serial, UniqueSerial(certs_));
    t.not_before = now - f.GetDuration("not_before_duration");
    t.not_after = not_after;
    t.public_key = csr.public_key.get();
    t.is_ca = true;
    t.basic_constraints = true;
    t.max_path_length = max_path;
    t.key_usage = KeyUsageMask({"CertSign", "CRLSign"});
    ASSIGN_OR_RETURN(t.name_constraints, NameConstraintsFromFields(f));
    ASSIGN_OR_RETURN(t.signature_bits, SignatureBits(f));
    t.use_pss = f.GetBool("use_pss");
    std::string skid = f.GetString("skid");
    if (!skid.empty()) {
      ASSIGN_OR_RETURN(t.subject_key_id, HexDecode(skid));
    }
    ASSIGN_OR_RETURN(UrlConfig urls, EffectiveUrls(ctx_.storage, issuer->entry));
    ApplyUrls(urls, &t);
    ASSIGN_OR_RETURN(ossl::X509Ptr cert, SignCertificate(t, issuer->cert.get(), issuer->key.get()));

    {
      WriteBatch batch;
      ASSIGN_OR_RETURN(CertStore::SerialLock serial_lock,
                       certs_.AddToBatch(&batch, t.serial,
                                         {CertificateDer(cert.get()), issuer->entry.issuer_id, "", not_after}));
      RETURN_IF_ERROR(ctx_.storage->Write(batch));
    }

    ASSIGN_OR_RETURN(Json data, CertificateResponse(cert.get(), issuer->chain, format, false, nullptr,
                                                    PrivateKeyFormat::kTraditional));
    // The response chain starts with the new intermediate itself, as Vault's does.
    data["ca_chain"].insert(data["ca_chain"].begin(), format == OutputFormat::kDer
                                                          ? Json(Base64Encode(CertificateDer(cert.get())))
                                                          : Json(CertificatePem(cert.get())));
    data.erase("not_before");
    if (urls.issuing_certificates.empty() && urls.ocsp_servers.empty() && urls.crl_distribution_points.empty()) {
      warnings.push_back(kNoAiaWarning);
    }
    if (max_path == 0) {
      warnings.push_back(
          "Max path length of the signed certificate is zero. This certificate cannot be used to issue "
          "intermediate CA certificates.");
    }
    Response resp = Response::Data(std::move(data));
    resp.warnings = std::move(warnings);
    return resp;
  }

  // root/sign-self-issued, issuer/:ref/sign-self-issued (sudo): a self-issued CA certificate (typically the new
  // key of a rolled-over CA) re-signed by an issuer of this mount, everything else kept, so clients trusting the
  // old CA accept the new key.
  Result<Response> SignSelfIssued(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(auto issuer, cas_->SigningIssuerFor(f.GetString("issuer_ref")));
    RETURN_IF_ERROR(issuer->entry.EnsureUsage(kUsageIssuing));
    std::string pem = f.GetString("certificate");
    if (pem.find("-----BEGIN") == std::string::npos) {
      return Status::BadRequest("certificate could not be PEM-decoded");
    }
    auto certs = ParseCertificatesPem(pem);
    if (!certs.ok()) return Status::BadRequest("error parsing certificate: " + certs.status().message());
    if (certs->size() != 1) {
      return Status::BadRequest(std::to_string(certs->size()) + " certificates found in PEM file, expected 1");
    }
    const X509* cert = (*certs)[0].get();
    CertInfo info = InspectCertificate(cert);
    if (!info.is_ca) return Status::BadRequest("given certificate is not a CA certificate");
    if (info.subject_der != info.issuer_der) return Status::BadRequest("given certificate is not self-issued");
    ASSIGN_OR_RETURN(KeyInfo theirs, InspectKey(X509_get0_pubkey(cert)));
    ASSIGN_OR_RETURN(KeyInfo ours, InspectKey(issuer->key.get()));
    if (f.GetBool("require_matching_certificate_algorithms") && theirs.type != ours.type) {
      return Status::BadRequest(std::string("signing certificate's public key algorithm (") + KeyTypeName(ours.type) +
                                ") does not match submitted certificate's (" + KeyTypeName(theirs.type) +
                                "), and require_matching_certificate_algorithms is set");
    }
    ASSIGN_OR_RETURN(ossl::X509Ptr signed_cert, ResignCertificate(cert, issuer->cert.get(), issuer->key.get()));
    return Response::Data({{"certificate", CertificatePem(signed_cert.get())},
                           {"issuing_ca", issuer->entry.certificate}});
  }

  Result<Response> ReadUrls(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(UrlConfig c, ReadUrlConfig(ctx_.storage));
    return Response::Data(UrlConfigToJson(c));
  }

  Result<Response> WriteUrls(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(UrlConfig c, ReadUrlConfig(ctx_.storage));
    if (f.Has("issuing_certificates")) c.issuing_certificates = f.GetStrings("issuing_certificates");
    if (f.Has("crl_distribution_points")) c.crl_distribution_points = f.GetStrings("crl_distribution_points");
    if (f.Has("ocsp_servers")) c.ocsp_servers = f.GetStrings("ocsp_servers");
    if (f.Has("delta_crl_distribution_points")) {
      c.delta_crl_distribution_points = f.GetStrings("delta_crl_distribution_points");
    }
    if (f.Has("enable_templating")) c.enable_templating = f.GetBool("enable_templating");
    if (c.enable_templating) {
      return Status::BadRequest("enable_templating requires config/cluster, which this mount does not support");
    }
    for (const auto* list :
         {&c.issuing_certificates, &c.crl_distribution_points, &c.ocsp_servers, &c.delta_crl_distribution_points}) {
      for (const auto& u : *list) {
        if (!ValidAiaUrl(u)) return Status::BadRequest("invalid URL found: " + u);
      }
    }
    RETURN_IF_ERROR(ctx_.storage->Put("config/urls", UrlConfigToJson(c).dump()));
    return Response::Data(UrlConfigToJson(c));
  }

 private:
  // An intermediate's CSR from a key of `type` (internal, exported, existing, kms).
  Result<Response> IntermediateCsr(const std::string& type, const FieldData& f) {
    ASSIGN_OR_RETURN(CaKey ck, ObtainKey(type, f));
    ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(f.GetString("format")));
    ASSIGN_OR_RETURN(PrivateKeyFormat key_format, ParsePrivateKeyFormat(f.GetString("private_key_format")));
    CsrTemplate t;
    SubjectFields subject = SubjectFromFields(f);
    t.subject = BuildSubject(subject);
    CertTemplate sans;
    RETURN_IF_ERROR(FillSans(f, subject.common_name, &sans));
    t.dns_names = sans.dns_names;
    t.email_addresses = sans.email_addresses;
    t.ip_addresses = sans.ip_addresses;
    t.uris = sans.uris;
    t.other_names = sans.other_names;
    t.add_basic_constraints = f.GetBool("add_basic_constraints");
    t.key_usage = KeyUsageMask(f.GetStrings("key_usage"));
    ASSIGN_OR_RETURN(std::string csr_pem, CreateCsrPem(t, ck.key.get()));

    if (ck.new_entry) {
      auto write_lock = cas_->LockForWrite();
      RETURN_IF_ERROR(cas_->CheckKeyName(ck.key_name));
      WriteBatch batch;
      RETURN_IF_ERROR(cas_->AddToBatch(&batch, &*ck.new_entry, nullptr, false));
      RETURN_IF_ERROR(ctx_.storage->Write(batch));
      cas_->Committed();
    }
    Json data = Json::object();
    if (format == OutputFormat::kDer) {
      ossl::Bio bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
      X509_REQ* req = PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr);
      unsigned char* der = nullptr;
      int n = i2d_X509_REQ(req, &der);
      data["csr"] = Base64Encode(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(n)));
      OPENSSL_free(der);
      X509_REQ_free(req);
    } else {
      data["csr"] = csr_pem;
    }
    data["key_id"] = ck.key_id;
    data["key_name"] = ck.key_name;
    if (type == "exported") {
      ASSIGN_OR_RETURN(KeyInfo ki, InspectKey(ck.key.get()));
      if (format == OutputFormat::kDer) {
        ASSIGN_OR_RETURN(std::string der, PrivateKeyToDer(ck.key.get(), key_format));
        data["private_key"] = Base64Encode(der);
      } else {
        ASSIGN_OR_RETURN(std::string pem, PrivateKeyToPem(ck.key.get(), key_format));
        data["private_key"] = pem;
      }
      data["private_key_type"] = KeyTypeName(ki.type);
    }
    return Response::Data(std::move(data));
  }

  // max_path_length: -1 (no limit) or a non-negative int.
  static Result<int> MaxPathLength(const FieldData& f) {
    int64_t v = f.GetInt("max_path_length");
    if (v < -1 || v > std::numeric_limits<int32_t>::max()) {
      return Status::BadRequest("max_path_length must be -1 or between 0 and 2147483647");
    }
    return static_cast<int>(v);
  }

  // A CA certificate's notAfter: the request's ttl or not_after, else the mount default, capped by the mount max.
  Result<int64_t> CaNotAfter(const FieldData& f, int64_t now, std::vector<std::string>* warnings) {
    ValidityInputs v;
    v.now = now;
    v.request_ttl = f.GetDuration("ttl");
    v.not_after = f.GetString("not_after");
    v.mount = ctx_.system;
    return ComputeNotAfter(v, warnings);
  }

  static void ApplyUrls(const UrlConfig& urls, CertTemplate* t) {
    t->issuing_certificates = urls.issuing_certificates;
    t->ocsp_servers = urls.ocsp_servers;
    t->crl_distribution_points = urls.crl_distribution_points;
  }

  // Generates a key (internal/exported) or loads the stored one named by key_ref (existing).
  Result<CaKey> ObtainKey(const std::string& type, const FieldData& f) {
    CaKey ck;
    if (type == "internal" || type == "exported") {
      std::string key_name = f.GetString("key_name");
      RETURN_IF_ERROR(cas_->CheckKeyName(key_name));
      ASSIGN_OR_RETURN(KeyType kt, ParseKeyType(f.GetString("key_type")));
      ASSIGN_OR_RETURN(int bits, ResolveKeyBits(kt, f.GetInt("key_bits")));
      ASSIGN_OR_RETURN(ck.key, GenerateKey(kt, bits));
      ASSIGN_OR_RETURN(KeyEntry entry, cas_->NewKeyEntry(ck.key.get(), key_name));
      ck.key_id = entry.key_id;
      ck.key_name = key_name;
      ck.new_entry = std::move(entry);
      return ck;
    }
    if (type == "existing") {
      std::string ref = f.GetString("key_ref");
      if (ref.empty()) ref = "default";
      ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
      const KeyEntry* k = snap->FindKey(ref);
      if (!k) return Status::BadRequest("unable to find PKI key for reference: " + ref);
      ASSIGN_OR_RETURN(ck.key, cas_->UnsealKey(*k));
      ck.key_id = k->key_id;
      ck.key_name = k->key_name;
      return ck;
    }
    if (type == "kms") return Status::BadRequest("managed keys (type \"kms\") are not supported by this engine");
    return Status::BadRequest("invalid type: \"" + type + "\"; expected internal, exported or existing");
  }

  // SANs of CA paths: alt_names, the CN (unless excluded), ip_sans, uri_sans and other_sans, no role policy.
  Status FillSans(const FieldData& f, const std::string& cn, CertTemplate* t) {
    DnsAndEmailNames names;
    RETURN_IF_ERROR(AddAltNamesToSans(f.GetString("alt_names"), &names));
    if (!f.GetBool("exclude_cn_from_sans")) RETURN_IF_ERROR(AddCommonNameToSans(cn, &names));
    t->dns_names = std::move(names.dns_names);
    t->email_addresses = std::move(names.emails);
    for (const auto& ip : f.GetStrings("ip_sans")) t->ip_addresses.push_back(ip);
    t->uris = f.GetStrings("uri_sans");
    ASSIGN_OR_RETURN(auto others, ParseOtherSans(f.GetStrings("other_sans")));
    for (auto& o : others) t->other_names.push_back({o.oid, o.value});
    return Status::Ok();
  }

  Result<Response> ImportBundle(const FieldData& f, bool keys_allowed) {
    std::string bundle = f.GetString("pem_bundle");
    if (bundle.empty()) return Status::BadRequest("'pem_bundle' was empty");
    if (bundle.size() < 64) {
      return Status::BadRequest(
          "provided data for import was too short; perhaps a path was passed to the API rather than the contents "
          "of a PEM file");
    }
    ASSIGN_OR_RETURN(auto certs, ParseCertificatesPem(bundle));
    ossl::PKey key;
    if (bundle.find("PRIVATE KEY-----") != std::string::npos) {
      if (!keys_allowed) {
        return Status::BadRequest(
            "private keys found in the PEM bundle but not allowed by the path; use /issuers/import/bundle");
      }
      auto parsed = ParsePrivateKeyPem(bundle);
      if (!parsed.ok()) return Status::BadRequest("error parsing PEM bundle: unable to parse the private key");
      key = std::move(parsed).value();
    }
    if (certs.empty() && !key) return Status::BadRequest("error parsing PEM bundle: no certificates found");
    return ImportCertificates(std::move(certs), key.get());
  }

  // Vault's importIssuers: certificates become issuers (one per distinct certificate), the key (if any) is stored
  // once and paired with the certificates it belongs to. The first keyed issuer becomes the default when the mount
  // has none (or default_follows_latest_issuer is set); chains are recomputed from the issuers, not written.
  Result<Response> ImportCertificates(std::vector<ossl::X509Ptr> certs, const EVP_PKEY* key) {
    auto write_lock = cas_->LockForWrite();
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    WriteBatch batch;
    Json mapping = Json::object();
    std::vector<std::string> imported_issuers, existing_issuer_ids, imported_keys, existing_key_ids;
    std::vector<std::string> warnings;

    // Which stored key (if any) matches each certificate.
    std::vector<std::pair<std::string, ossl::PKey>> keys;  // key id, private key
    for (const auto& k : snap->keys) {
      ASSIGN_OR_RETURN(ossl::PKey pk, cas_->UnsealKey(k));
      keys.emplace_back(k.key_id, std::move(pk));
    }
    std::optional<KeyEntry> new_key;
    if (key) {
      bool found = false;
      for (const auto& [id, pk] : keys) {
        if (SamePublicKey(pk.get(), key)) {
          existing_key_ids.push_back(id);
          found = true;
        }
      }
      if (!found) {
        ASSIGN_OR_RETURN(KeyEntry entry, cas_->NewKeyEntry(key, ""));
        EVP_PKEY_up_ref(const_cast<EVP_PKEY*>(key));  // `keys` owns a reference of its own
        keys.emplace_back(entry.key_id, ossl::PKey(const_cast<EVP_PKEY*>(key)));
        imported_keys.push_back(entry.key_id);
        new_key = std::move(entry);
      }
    }

    std::vector<IssuerEntry> added;
    for (const auto& cert : certs) {
      CertInfo info = InspectCertificate(cert.get());
      if (!info.is_ca) return Status::BadRequest("refusing to import non-CA certificate " + FormatSerial(info.serial));
      std::string pem = CertificatePem(cert.get());
      auto same = std::find_if(snap->issuers.begin(), snap->issuers.end(),
                               [&](const IssuerEntry& e) { return e.certificate == pem; });
      if (same != snap->issuers.end()) {
        existing_issuer_ids.push_back(same->issuer_id);
        continue;
      }
      if (std::any_of(added.begin(), added.end(), [&](const IssuerEntry& e) { return e.certificate == pem; })) {
        continue;
      }
      IssuerEntry e;
      e.issuer_id = NewUuid();
      e.certificate = pem;
      for (const auto& [id, pk] : keys) {
        if (SamePublicKey(pk.get(), X509_get0_pubkey(cert.get()))) e.key_id = id;
      }
      // A certificate without the cRLSign key usage cannot sign CRLs (Vault drops the usage likewise).
      if (!(X509_get_key_usage(cert.get()) & KU_CRL_SIGN)) {
        e.usage.erase(std::remove(e.usage.begin(), e.usage.end(), kUsageCrlSigning), e.usage.end());
      }
      mapping[e.issuer_id] = e.key_id;
      imported_issuers.push_back(e.issuer_id);
      added.push_back(e);
    }
    for (const auto& e : added) {
      if (e.key_id.empty()) {
        warnings.push_back("certificate " + e.issuer_id + " was imported without a matching private key");
      }
    }
    if (new_key) RETURN_IF_ERROR(cas_->AddToBatch(&batch, &*new_key, nullptr, false));
    // Issuers already here without a key gain the bundle's key when it is theirs.
    std::vector<IssuerEntry> paired;
    if (key) {
      std::string key_id = new_key ? new_key->key_id : existing_key_ids.front();
      paired = snap->IssuersAwaitingKey(key, key_id);
    }
    std::vector<const IssuerEntry*> candidates;
    for (const auto& e : added) candidates.push_back(&e);
    for (const auto& e : paired) candidates.push_back(&e);
    std::string warning;
    const IssuerEntry* new_default = snap->ChooseNewDefault(candidates, &warning);
    if (!warning.empty()) warnings.push_back(warning);
    for (const IssuerEntry* e : candidates) RETURN_IF_ERROR(cas_->AddToBatch(&batch, nullptr, e, e == new_default));
    if (!batch.empty()) {
      RETURN_IF_ERROR(ctx_.storage->Write(batch));
      cas_->Committed();
    }
    auto list_or_null = [](const std::vector<std::string>& v) { return v.empty() ? Json(nullptr) : Json(v); };
    Json data = {{"mapping", mapping},
                 {"imported_issuers", list_or_null(imported_issuers)},
                 {"imported_keys", list_or_null(imported_keys)},
                 {"existing_issuers", list_or_null(existing_issuer_ids)},
                 {"existing_keys", list_or_null(existing_key_ids)}};
    Response resp = Response::Data(std::move(data));
    resp.warnings = std::move(warnings);
    return resp;
  }

  PkiContext ctx_;
  CaStore* cas_;
  CertStore certs_;
};

FieldSchemas KeyGenerationFields() {
  FieldSchemas f;
  AddCaSubjectFields(&f);
  f["type"] = {FieldType::kString, nullptr, "internal, exported or existing."};
  f["key_type"] = {FieldType::kString, "rsa", "rsa, ec or ed25519."};
  f["key_bits"] = {FieldType::kInt, 0, "Key size; 0 for the type's default."};
  f["key_name"] = {FieldType::kString, nullptr, "Name of the new key."};
  f["key_ref"] = {FieldType::kString, nullptr, "Existing key (type existing)."};
  f["managed_key_name"] = {FieldType::kString, nullptr, "Not supported."};
  f["managed_key_id"] = {FieldType::kString, nullptr, "Not supported."};
  return f;
}

}  // namespace

std::vector<PathSpec> CaPaths(const PkiContext& ctx, CaStore* cas) {
  auto h = std::make_shared<CaPathHandlers>(ctx, cas);
  std::vector<PathSpec> paths;

  for (const char* pattern : {"root/generate/:type", "issuers/generate/root/:type", "root/rotate/:type"}) {
    PathSpec root{pattern, KeyGenerationFields(), {}, false,
                  "Generate a self-signed root CA (a new issuer; the default only when the mount has none, or "
                  "default_follows_latest_issuer is set)."};
    root.fields["issuer_name"] = {FieldType::kString, nullptr, "Name of the new issuer."};
    root.operations[Operation::kUpdate] = BindHandler(h, &CaPathHandlers::GenerateRoot);
    paths.push_back(root);
  }

  for (const char* pattern : {"intermediate/generate/:type", "issuers/generate/intermediate/:type",
                              "intermediate/cross-sign"}) {
    const bool cross_sign = std::string_view(pattern) == "intermediate/cross-sign";
    PathSpec inter{pattern, KeyGenerationFields(), {}, false, "Generate a key and a CSR for an intermediate CA."};
    inter.fields["add_basic_constraints"] = {FieldType::kBool, nullptr, "Request CA:TRUE in the CSR."};
    inter.fields["key_usage"] = {FieldType::kCommaStringSlice, Json::array(),
                                 "Key usages to request in the CSR (Vault's names, e.g. CertSign,CRLSign); none "
                                 "by default."};
    inter.operations[Operation::kUpdate] =
        BindHandler(h, cross_sign ? &CaPathHandlers::CrossSignCsr : &CaPathHandlers::GenerateIntermediate);
    paths.push_back(inter);
  }

  PathSpec set_signed{"intermediate/set-signed", {}, {}, false, "Import the signed intermediate certificate."};
  set_signed.fields["certificate"] = {FieldType::kString, nullptr, "PEM certificate, optionally with its chain."};
  set_signed.operations[Operation::kUpdate] = BindHandler(h, &CaPathHandlers::SetSigned);
  paths.push_back(set_signed);

  for (const char* pattern : {"root/sign-intermediate", "issuer/:issuer_ref/sign-intermediate"}) {
    PathSpec sign_inter{pattern, {}, {}, false, "Sign an intermediate CA's CSR."};
    AddCaSubjectFields(&sign_inter.fields);
    sign_inter.fields["csr"] = {FieldType::kString, nullptr, "PEM CSR."};
    sign_inter.fields["use_csr_values"] = {FieldType::kBool, nullptr, "Take subject and SANs from the CSR."};
    sign_inter.fields["skid"] = {FieldType::kString, nullptr, "Subject key identifier (hex)."};
    sign_inter.fields["issuer_ref"] = {FieldType::kString, "default", "Issuer that signs."};
    sign_inter.fields["enforce_leaf_not_after_behavior"] = {FieldType::kBool, nullptr,
                                                            "Apply the issuer's leaf_not_after_behavior."};
    sign_inter.operations[Operation::kUpdate] = BindHandler(h, &CaPathHandlers::SignIntermediate);
    paths.push_back(sign_inter);
  }

  for (const char* pattern : {"root/sign-self-issued", "issuer/:issuer_ref/sign-self-issued"}) {
    PathSpec p{pattern, {}, {}, false, "Re-sign a self-issued CA certificate with an issuer of this mount."};
    p.fields["certificate"] = {FieldType::kString, nullptr, "The self-issued CA certificate, PEM."};
    p.fields["issuer_ref"] = {FieldType::kString, "default", "Issuer that signs."};
    p.fields["require_matching_certificate_algorithms"] = {FieldType::kBool, nullptr,
                                                          "Refuse a certificate whose key type differs."};
    p.operations[Operation::kUpdate] = BindHandler(h, &CaPathHandlers::SignSelfIssued);
    paths.push_back(p);
  }

  for (const char* pattern : {"config/ca", "issuers/import/bundle"}) {
    PathSpec import{pattern, {}, {}, false, "Import CA certificates and their private key (PEM bundle)."};
    import.fields["pem_bundle"] = {FieldType::kString, nullptr, "PEM certificates and private key."};
    import.operations[Operation::kUpdate] = BindHandler(h, &CaPathHandlers::ConfigCa);
    paths.push_back(import);
  }
  PathSpec import_cert{"issuers/import/cert", {}, {}, false, "Import CA certificates (no keys)."};
  import_cert.fields["pem_bundle"] = {FieldType::kString, nullptr, "PEM certificates."};
  import_cert.operations[Operation::kUpdate] = BindHandler(h, &CaPathHandlers::ImportCert);
  paths.push_back(import_cert);

  PathSpec urls{"config/urls", {}, {}, false, "URLs embedded in issued certificates."};
  urls.fields["issuing_certificates"] = {FieldType::kCommaStringSlice, nullptr, "AIA caIssuers URLs."};
  urls.fields["crl_distribution_points"] = {FieldType::kCommaStringSlice, nullptr, "CRL distribution points."};
  urls.fields["ocsp_servers"] = {FieldType::kCommaStringSlice, nullptr, "AIA OCSP URLs."};
  urls.fields["delta_crl_distribution_points"] = {FieldType::kCommaStringSlice, nullptr,
                                                  "Delta CRL URLs, named by complete CRLs (Freshest CRL)."};
  urls.fields["enable_templating"] = {FieldType::kBool, nullptr, "Templated URLs (not supported)."};
  urls.operations[Operation::kRead] = BindHandler(h, &CaPathHandlers::ReadUrls);
  urls.operations[Operation::kUpdate] = BindHandler(h, &CaPathHandlers::WriteUrls);
  paths.push_back(urls);
  return paths;
}

}  // namespace pki
