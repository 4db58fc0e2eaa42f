#include "src/pki/path_issue.h"

#include <algorithm>
#include <set>

#include "src/pki/cert_store.h"
#include "src/pki/issuance.h"
#include "src/pki/name_policy.h"
#include "src/pki/role.h"

namespace pki {
namespace {

constexpr char kIgnoredBasicConstraints[] =
    "specified CSR contained a Basic Constraints extension that was ignored during issuance";

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// What a leaf request resolved to, ready to sign.
struct LeafPlan {
  CertTemplate t;
  std::shared_ptr<const SigningIssuer> issuer;
  bool store = true;
  bool lease = false;  // the role's generate_lease: answer with a leased secret the host can revoke
  std::string role_name;
  std::vector<std::string> warnings;
};

class IssueHandlers {
 public:
  IssueHandlers(const PkiContext& ctx, CaStore* cas, RoleStore* roles)
      : ctx_(ctx), cas_(cas), roles_(roles), certs_(ctx.storage) {}

  Result<Response> Issue(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(RoleEntry role, LoadRole(f.GetString("role")));
    ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(f.GetString("format")));
    ASSIGN_OR_RETURN(PrivateKeyFormat key_format, ParsePrivateKeyFormat(f.GetString("private_key_format")));
    std::vector<std::string> warnings;
    std::string key_type = role.key_type;
    int64_t key_bits = role.key_bits;
    if (role.key_type == "any") {
      if (!f.Has("key_type") && !f.Has("key_bits")) {
        return Status::BadRequest(
            "role key type \"any\" not allowed for issuing certificates without providing key_type and/or key_bits "
            "request parameters");
      }
      key_type = f.Has("key_type") ? f.GetString("key_type") : "rsa";
      key_bits = f.GetInt("key_bits");
    } else if (f.Has("key_type") || f.Has("key_bits")) {
      warnings.push_back("parameters key_type and key_bits ignored as role had specific values");
    }
    ASSIGN_OR_RETURN(KeyType kt, ParseKeyType(key_type));
    ASSIGN_OR_RETURN(int bits, ResolveKeyBits(kt, key_bits));
    // Policy first: a refused request must not cost a key generation.
    ASSIGN_OR_RETURN(LeafPlan plan, PlanLeaf(role, f, nullptr));
    ASSIGN_OR_RETURN(ossl::PKey key, GenerateKey(kt, bits));
    plan.warnings.insert(plan.warnings.begin(), warnings.begin(), warnings.end());
    plan.t.public_key = key.get();
    return SignAndRespond(std::move(plan), f, format, key.get(), key_format);
  }

  Result<Response> Sign(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(RoleEntry role, LoadRole(f.GetString("role")));
    ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(f.GetString("format")));
    ASSIGN_OR_RETURN(CsrInfo csr, ParseCsrPem(f.GetString("csr")));
    RETURN_IF_ERROR(CheckCsrKey(role, csr.public_key.get()));
    ASSIGN_OR_RETURN(LeafPlan plan, PlanLeaf(role, f, &csr));
    plan.t.public_key = csr.public_key.get();
    if (csr.has_basic_constraints) plan.warnings.push_back(kIgnoredBasicConstraints);
    return SignAndRespond(std::move(plan), f, format, nullptr, PrivateKeyFormat::kTraditional);
  }

  Result<Response> SignVerbatim(const Request&, const FieldData& f) {
    std::optional<RoleEntry> role;
    std::string role_name = f.GetString("role");
    if (!role_name.empty()) {
      ASSIGN_OR_RETURN(RoleEntry r, LoadRole(role_name));
      role = std::move(r);
    }
    ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(f.GetString("format")));
    ASSIGN_OR_RETURN(CsrInfo csr, ParseCsrPem(f.GetString("csr")));
    ASSIGN_OR_RETURN(KeyInfo ki, InspectKey(csr.public_key.get()));
    if (ki.type == KeyType::kRsa && ki.bits < 2048) {
      return Status::BadRequest("Vault requires a minimum of a 2048-bit key, but CSR's key is " +
                                std::to_string(ki.bits) + " bits");
    }
    LeafPlan plan;
    plan.role_name = role_name;
    plan.store = !(role && role->no_store);
    plan.lease = role && role->generate_lease;
    ASSIGN_OR_RETURN(plan.issuer, IssuerFor(role ? role->issuer_ref : "default", f));
    CertTemplate& t = plan.t;
    CopyCsrNames(csr, &t);
    t.subject_name = X509_REQ_get_subject_name(csr.req.get());
    t.csr_extensions = csr.extensions.get();
    if (csr.has_basic_constraints) plan.warnings.push_back(kIgnoredBasicConstraints);
    t.public_key = csr.public_key.get();
    t.key_usage = KeyUsageMask(f.GetStrings("key_usage"));
    RETURN_IF_ERROR(AddExtKeyUsages(f.GetStrings("ext_key_usage"), f.GetStrings("ext_key_usage_oids"), &t));
    t.basic_constraints = f.GetBool("basic_constraints_valid_for_non_ca");
    ASSIGN_OR_RETURN(t.signature_bits, SignatureBits(f));
    t.use_pss = f.GetBool("use_pss");
    RETURN_IF_ERROR(SetValidity(role ? &*role : nullptr, f, /*role_not_after=*/false, &plan));
    return SignAndRespond(std::move(plan), f, format, nullptr, PrivateKeyFormat::kTraditional);
  }

 private:
  // The issuer that signs: the path's (issuer/:issuer_ref/...) over the role's, and only one allowed to issue.
  Result<std::shared_ptr<const SigningIssuer>> IssuerFor(const std::string& role_ref, const FieldData& f) {
    std::string ref = f.Has("issuer_ref") ? f.GetString("issuer_ref") : role_ref;
    ASSIGN_OR_RETURN(auto issuer, cas_->SigningIssuerFor(ref.empty() ? "default" : ref));
    RETURN_IF_ERROR(issuer->entry.EnsureUsage(kUsageIssuing));
    return issuer;
  }

  Result<RoleEntry> LoadRole(const std::string& name) {
    ASSIGN_OR_RETURN(auto role, roles_->Get(name));
    if (!role) return Status::BadRequest("unknown role: " + name);
    role->name = name;
    return std::move(*role);
  }

  // Vault's CSR key checks for sign/:role.
  static Status CheckCsrKey(const RoleEntry& role, const EVP_PKEY* key) {
    ASSIGN_OR_RETURN(KeyInfo ki, InspectKey(key));
    std::string type = KeyTypeName(ki.type);
    if (role.key_type != "any" && role.key_type != type) {
      return Status::BadRequest("role requires keys of type " + role.key_type);
    }
    if (role.key_type != "any" && ki.type != KeyType::kEd25519 && ki.bits < role.key_bits) {
      return Status::BadRequest("role requires a minimum of a " + std::to_string(role.key_bits) +
                                "-bit key, but CSR's key is " + std::to_string(ki.bits) + " bits");
    }
    if (ki.type == KeyType::kRsa && ki.bits < 2048) {
      return Status::BadRequest("Vault requires a minimum of a 2048-bit key, but CSR's key is " +
                                std::to_string(ki.bits) + " bits");
    }
    return Status::Ok();
  }

  static Status AddExtKeyUsages(const std::vector<std::string>& names, const std::vector<std::string>& oids,
                                CertTemplate* t) {
    for (const auto& n : names) {
      std::string oid = ExtKeyUsageOid(n);
      if (!oid.empty()) t->ext_key_usage_oids.push_back(oid);
    }
    for (const auto& oid : oids) {
      if (!IsDottedOid(oid)) {
        return Status::BadRequest("\"" + oid + "\" could not be parsed as a valid oid for an extended key usage");
      }
      t->ext_key_usage_oids.push_back(oid);
    }
    std::vector<std::string> unique;
    for (const auto& o : t->ext_key_usage_oids) {
      if (std::find(unique.begin(), unique.end(), o) == unique.end()) unique.push_back(o);
    }
    t->ext_key_usage_oids = std::move(unique);
    return Status::Ok();
  }

  // NotBefore/NotAfter from the request, the role and the mount; the issuer's leaf_not_after_behavior applies.
  // `role_not_after`: whether the role's not_after applies (not for sign-verbatim, as in Vault).
  Status SetValidity(const RoleEntry* role, const FieldData& f, bool role_not_after, LeafPlan* plan) {
    int64_t now = ctx_.clock->Now();
    ValidityInputs v;
    v.now = now;
    v.request_ttl = f.GetDuration("ttl");
    v.not_after = role_not_after && role && !role->not_after.empty() ? role->not_after : f.GetString("not_after");
    v.role_ttl = role ? role->ttl : 0;
    v.role_max_ttl = role ? role->max_ttl : 0;
    v.mount = ctx_.system;
    ASSIGN_OR_RETURN(int64_t not_after, ComputeNotAfter(v, &plan->warnings));
    ASSIGN_OR_RETURN(not_after, ApplyLeafNotAfterBehavior(not_after, plan->issuer->entry.leaf_not_after_behavior,
                                                          plan->issuer->info.not_after));
    plan->t.not_before = now - (role ? role->not_before_duration : 30);
    plan->t.not_after = not_after;
    return Status::Ok();
  }

  // Applies the role's policy to the request (and the CSR, for sign) and fills the certificate template.
  Result<LeafPlan> PlanLeaf(const RoleEntry& role, const FieldData& f, const CsrInfo* csr) {
    LeafPlan plan;
    plan.role_name = role.name;
    plan.store = !role.no_store;
    plan.lease = role.generate_lease;
    ASSIGN_OR_RETURN(plan.issuer, IssuerFor(role.issuer_ref, f));
    CertTemplate& t = plan.t;

    // Common name.
    std::string cn;
    if (csr && role.use_csr_common_name) {
      cn = csr->common_name;
      if (f.Has("common_name") && !f.GetString("common_name").empty()) {
        plan.warnings.push_back(
            "the common_name field was provided but the role is set with \"use_csr_common_name\" set to true");
      }
    }
    if (cn.empty()) cn = f.GetString("common_name");
    if (cn.empty() && role.require_cn) {
      return Status::BadRequest(
          "the common_name field is required, or must be provided in a CSR with \"use_csr_common_name\" set to "
          "true, unless \"require_cn\" is set to false");
    }
    RETURN_IF_ERROR(ValidateCommonName(role, cn));

    // DNS and email SANs, the CN among them unless excluded.
    DnsAndEmailNames names;
    bool sans_from_csr = csr && role.use_csr_sans;
    if (sans_from_csr) {
      names.dns_names = csr->dns_names;
      names.emails = csr->email_addresses;
      if (!f.GetString("alt_names").empty()) {
        plan.warnings.push_back(
            "the alt_names field was provided but the role is set with \"use_csr_sans\" set to true");
      }
    } else {
      RETURN_IF_ERROR(AddAltNamesToSans(f.GetString("alt_names"), &names));
    }
    if (!f.GetBool("exclude_cn_from_sans")) RETURN_IF_ERROR(AddCommonNameToSans(cn, &names));
    std::vector<std::string> dns = SortedUnique(std::move(names.dns_names));
    std::vector<std::string> emails = SortedUnique(std::move(names.emails));
    RETURN_IF_ERROR(ValidateDnsAndEmailSans(role, dns, emails));

    // Other SANs, IPs, URIs.
    std::vector<OtherSan> others;
    if (sans_from_csr) {
      for (const auto& o : csr->other_names) others.push_back({o.oid, o.utf8_value});
    } else {
      ASSIGN_OR_RETURN(others, ParseOtherSans(f.GetStrings("other_sans")));
    }
    RETURN_IF_ERROR(ValidateOtherSans(role, others));
    SanSource source = sans_from_csr ? SanSource::kCsr : SanSource::kApi;
    ASSIGN_OR_RETURN(t.ip_addresses,
                     ParseIpSans(role, sans_from_csr ? csr->ip_addresses : f.GetStrings("ip_sans"), source));
    std::vector<std::string> uris = sans_from_csr ? csr->uris : f.GetStrings("uri_sans");
    RETURN_IF_ERROR(ValidateUriSans(role, uris, source));

    // Subject serialNumber and UIDs.
    std::string subject_serial = f.GetString("serial_number");
    std::vector<std::string> user_ids = f.GetStrings("user_ids");
    if (csr) {
      for (const auto& [attr, value] : csr->subject) {
        if (attr == "serialNumber" && subject_serial.empty() && role.serial_number_source != "json") {
          subject_serial = value;
        }
        if (attr == "UID") user_ids.push_back(value);
      }
    }
    if (!subject_serial.empty()) RETURN_IF_ERROR(ValidateSubjectSerialNumber(role, subject_serial));
    if (!user_ids.empty()) RETURN_IF_ERROR(ValidateUserIds(role, user_ids));

    SubjectFields subject;
    subject.common_name = cn;
    subject.ou = role.ou;
    subject.organization = role.organization;
    subject.country = role.country;
    subject.locality = role.locality;
    subject.province = role.province;
    subject.street_address = role.street_address;
    subject.postal_code = role.postal_code;
    subject.serial_number = subject_serial;
    subject.user_ids = user_ids;
    t.subject = BuildSubject(subject);
    t.dns_names = std::move(dns);
    t.email_addresses = std::move(emails);
    t.uris = std::move(uris);
    for (auto& o : others) t.other_names.push_back({o.oid, o.value});

    // Usages and constraints.
    t.key_usage = KeyUsageMask(role.key_usage);
    std::vector<std::string> eku_names = role.ext_key_usage;
    if (role.server_flag) eku_names.push_back("ServerAuth");
    if (role.client_flag) eku_names.push_back("ClientAuth");
    if (role.code_signing_flag) eku_names.push_back("CodeSigning");
    if (role.email_protection_flag) eku_names.push_back("EmailProtection");
    RETURN_IF_ERROR(AddExtKeyUsages(eku_names, role.ext_key_usage_oids, &t));
    t.basic_constraints = role.basic_constraints_valid_for_non_ca;
    ASSIGN_OR_RETURN(auto policies, ParsePolicyIdentifiers(role.policy_identifiers));
    for (const auto& p : policies) t.policies.push_back({p.oid, p.cps, p.notice});
    t.signature_bits = static_cast<int>(role.signature_bits);
    t.use_pss = role.use_pss;
    RETURN_IF_ERROR(SetValidity(&role, f, /*role_not_after=*/true, &plan));
    return plan;
  }

  Result<Response> SignAndRespond(LeafPlan plan, const FieldData& f, OutputFormat format, const EVP_PKEY* key,
                                  PrivateKeyFormat key_format) {
    ASSIGN_OR_RETURN(UrlConfig urls, EffectiveUrls(ctx_.storage, plan.issuer->entry));
    plan.t.issuing_certificates = urls.issuing_certificates;
    plan.t.ocsp_servers = urls.ocsp_servers;
    plan.t.crl_distribution_points = urls.crl_distribution_points;
    if (plan.store) {
      ASSIGN_OR_RETURN(plan.t.serial, UniqueSerial(certs_));
    } else {
      ASSIGN_OR_RETURN(plan.t.serial, RandomSerial());
    }
    ASSIGN_OR_RETURN(ossl::X509Ptr cert, SignCertificate(plan.t, plan.issuer->cert.get(), plan.issuer->key.get()));
    if (plan.store) {
      WriteBatch batch;
      ASSIGN_OR_RETURN(CertStore::SerialLock serial_lock,
                       certs_.AddToBatch(&batch, plan.t.serial,
                                         {CertificateDer(cert.get()), plan.issuer->entry.issuer_id, plan.role_name,
                                          plan.t.not_after}));
      RETURN_IF_ERROR(ctx_.storage->Write(batch));
    }
    ASSIGN_OR_RETURN(Json data, CertificateResponse(cert.get(), plan.issuer->chain, format,
                                                    f.GetBool("remove_roots_from_chain"), key, key_format));
    Response resp = Response::Data(std::move(data));
    resp.warnings = std::move(plan.warnings);
    if (plan.lease && plan.store) {
      // Vault's secretCerts: type "pki", the serial in the internal data, the lease as long as the certificate.
      Lease lease;
      lease.secret_type = kLeaseSecretType;
      lease.ttl_seconds = std::max<int64_t>(0, plan.t.not_after - ctx_.clock->Now());
      lease.internal_data = Json::object({{"serial_number", FormatSerial(plan.t.serial)}});
      resp.lease = std::move(lease);
    }
    return resp;
  }

  PkiContext ctx_;
  CaStore* cas_;
  RoleStore* roles_;
  CertStore certs_;
};

FieldSchemas CommonIssueFields() {
  FieldSchemas f;
  f["role"] = {FieldType::kString, nullptr, "The role to issue under."};
  f["common_name"] = {FieldType::kString, nullptr, "The requested common name."};
  f["alt_names"] = {FieldType::kString, nullptr, "DNS names and email addresses, comma-separated."};
  f["ip_sans"] = {FieldType::kCommaStringSlice, nullptr, "IP SANs."};
  f["uri_sans"] = {FieldType::kCommaStringSlice, nullptr, "URI SANs."};
  f["other_sans"] = {FieldType::kCommaStringSlice, nullptr, "Other SANs: <oid>;UTF8:<value>."};
  f["serial_number"] = {FieldType::kString, nullptr, "Subject serialNumber attribute."};
  f["user_ids"] = {FieldType::kCommaStringSlice, nullptr, "Subject UID attributes."};
  f["ttl"] = {FieldType::kDuration, nullptr, "Requested validity."};
  f["not_after"] = {FieldType::kString, nullptr, "Absolute NotAfter, RFC 3339."};
  f["format"] = {FieldType::kString, "pem", "pem, der or pem_bundle."};
  f["private_key_format"] = {FieldType::kString, "der", "der, pem or pkcs8."};
  f["exclude_cn_from_sans"] = {FieldType::kBool, nullptr, "Do not add the common name to the SANs."};
  f["remove_roots_from_chain"] = {FieldType::kBool, nullptr, "Leave self-signed certificates out of ca_chain."};
  f["key_type"] = {FieldType::kString, nullptr, "Key type when the role's key_type is any."};
  f["key_bits"] = {FieldType::kInt, nullptr, "Key size when the role's key_type is any."};
  return f;
}

}  // namespace

std::vector<PathSpec> IssuePaths(const PkiContext& ctx, CaStore* cas, RoleStore* roles) {
  auto h = std::make_shared<IssueHandlers>(ctx, cas, roles);
  std::vector<PathSpec> paths;
  FieldSchemas sign_fields = CommonIssueFields();
  sign_fields["csr"] = {FieldType::kString, nullptr, "PEM CSR."};
  FieldSchemas verbatim = CommonIssueFields();
  verbatim["csr"] = {FieldType::kString, nullptr, "PEM CSR."};
  verbatim["key_usage"] = {FieldType::kCommaStringSlice,
                           Json::array({"DigitalSignature", "KeyAgreement", "KeyEncipherment"}), "Key usages."};
  verbatim["ext_key_usage"] = {FieldType::kCommaStringSlice, nullptr, "Extended key usages."};
  verbatim["ext_key_usage_oids"] = {FieldType::kCommaStringSlice, nullptr, "Extended key usage OIDs."};
  verbatim["signature_bits"] = {FieldType::kInt, 0, "Signature hash size."};
  verbatim["use_pss"] = {FieldType::kBool, nullptr, "RSA-PSS signatures."};
  verbatim["basic_constraints_valid_for_non_ca"] = {FieldType::kBool, nullptr, "Add CA:FALSE basic constraints."};
  struct Variant {
    const char* pattern;
    const FieldSchemas* fields;
    Result<Response> (IssueHandlers::*method)(const Request&, const FieldData&);
    const char* help;
  };
  const FieldSchemas issue_fields = CommonIssueFields();
  const Variant variants[] = {
      {"issue/:role", &issue_fields, &IssueHandlers::Issue, "Issue a certificate and key under a role."},
      {"sign/:role", &sign_fields, &IssueHandlers::Sign, "Sign a CSR under a role."},
      {"sign-verbatim", &verbatim, &IssueHandlers::SignVerbatim, "Sign a CSR with its subject and SANs as given."},
      {"sign-verbatim/:role", &verbatim, &IssueHandlers::SignVerbatim,
       "Sign a CSR with its subject and SANs as given."},
  };
  for (const auto& v : variants) {
    PathSpec p{v.pattern, *v.fields, {}, false, v.help};
    p.operations[Operation::kUpdate] = BindHandler(h, v.method);
    paths.push_back(p);
    // issuer/:issuer_ref/...: the same, signed by the named issuer instead of the role's.
    PathSpec by_issuer{std::string("issuer/:issuer_ref/") + v.pattern, *v.fields, {}, false, v.help};
    by_issuer.fields["issuer_ref"] = {FieldType::kString, nullptr, "Issuer id, name, or \"default\"."};
    by_issuer.operations[Operation::kUpdate] = BindHandler(h, v.method);
    paths.push_back(by_issuer);
  }
  return paths;
}

}  // namespace pki
