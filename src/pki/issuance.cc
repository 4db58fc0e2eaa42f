#include "src/pki/issuance.h"

#include <cctype>

#include "src/core/duration.h"
#include "src/pki/role.h"
#include "src/pki/stored_json.h"

namespace pki {

Result<int64_t> ComputeNotAfter(const ValidityInputs& in, std::vector<std::string>* warnings) {
  int64_t ttl = in.request_ttl;
  if (ttl > 0 && !in.not_after.empty()) {
    return Status::BadRequest(
        "Either ttl or not_after should be provided. Both should not be provided in the same request.");
  }
  if (ttl == 0 && in.role_ttl > 0) ttl = in.role_ttl;
  int64_t max_ttl = in.role_max_ttl > 0 ? in.role_max_ttl : in.mount->MaxLeaseTtl();
  if (ttl == 0) ttl = in.mount->DefaultLeaseTtl();
  if (ttl > max_ttl) {
    warnings->push_back("TTL \"" + FormatGoDuration(ttl) + "\" is longer than permitted maxTTL \"" +
                        FormatGoDuration(max_ttl) + "\", so maxTTL is being used");
    ttl = max_ttl;
  }
  if (!in.not_after.empty()) return ParseRfc3339Seconds(in.not_after);
  return in.now + ttl;
}

Result<int64_t> ApplyLeafNotAfterBehavior(int64_t not_after, const std::string& behavior, int64_t issuer_not_after) {
  if (not_after <= issuer_not_after) return not_after;
  if (behavior == "truncate") return issuer_not_after;
  if (behavior == "permit") return not_after;
  return Status::BadRequest("cannot satisfy request, as TTL would result in notAfter of " + FormatRfc3339(not_after) +
                            " that is beyond the expiration of the CA certificate at " +
                            FormatRfc3339(issuer_not_after));
}

DistinguishedName BuildSubject(const SubjectFields& f) {
  DistinguishedName dn;
  auto add = [&](const char* attr, const std::vector<std::string>& values) {
    for (const auto& v : values) dn.emplace_back(attr, v);
  };
  add("C", f.country);
  add("O", f.organization);
  add("OU", f.ou);
  add("L", f.locality);
  add("ST", f.province);
  add("street", f.street_address);
  add("postalCode", f.postal_code);
  if (!f.serial_number.empty()) dn.emplace_back("serialNumber", f.serial_number);
  if (!f.common_name.empty()) dn.emplace_back("CN", f.common_name);
  add("UID", f.user_ids);
  return dn;
}

void CopyCsrNames(const CsrInfo& csr, CertTemplate* t) {
  t->subject = csr.subject;
  t->dns_names = csr.dns_names;
  t->email_addresses = csr.email_addresses;
  t->ip_addresses = csr.ip_addresses;
  t->uris = csr.uris;
  t->other_names = csr.other_names;
}

Result<OutputFormat> ParseOutputFormat(const std::string& format) {
  if (format.empty() || format == "pem") return OutputFormat::kPem;
  if (format == "der") return OutputFormat::kDer;
  if (format == "pem_bundle") return OutputFormat::kPemBundle;
  return Status::BadRequest("the \"format\" path parameter must be \"pem\", \"der\", or \"pem_bundle\"");
}

Result<PrivateKeyFormat> ParsePrivateKeyFormat(const std::string& format) {
  if (format.empty() || format == "der" || format == "pem") return PrivateKeyFormat::kTraditional;
  if (format == "pkcs8") return PrivateKeyFormat::kPkcs8;
  return Status::BadRequest("the \"private_key_format\" parameter must be \"der\", \"pem\" or \"pkcs8\"");
}

Result<Json> CertificateResponse(const X509* cert, const std::vector<ChainCert>& issuer_chain, OutputFormat format,
                                 bool remove_roots_from_chain, const EVP_PKEY* private_key,
                                 PrivateKeyFormat key_format) {
  std::vector<const ChainCert*> chain;
  for (const auto& c : issuer_chain) {
    if (remove_roots_from_chain && c.self_signed) continue;
    chain.push_back(&c);
  }
  Json chain_pem = Json::array();
  for (const auto* c : chain) chain_pem.push_back(c->pem);
  std::string issuing_ca_pem = issuer_chain.empty() ? "" : issuer_chain.front().pem;
  Json data = Json::object();
  std::string cert_pem = CertificatePem(cert);
  std::string key_text;
  const char* key_type = nullptr;
  if (private_key) {
    ASSIGN_OR_RETURN(KeyInfo ki, InspectKey(private_key));
    key_type = KeyTypeName(ki.type);
    if (format == OutputFormat::kDer) {
      ASSIGN_OR_RETURN(std::string der, PrivateKeyToDer(private_key, key_format));
      key_text = Base64Encode(der);
    } else {
      ASSIGN_OR_RETURN(key_text, PrivateKeyToPem(private_key, key_format));
    }
  }
  switch (format) {
    case OutputFormat::kPem:
      data["certificate"] = cert_pem;
      data["issuing_ca"] = issuing_ca_pem;
      data["ca_chain"] = chain_pem;
      break;
    case OutputFormat::kPemBundle: {
      std::string bundle = private_key ? key_text + "\n" + cert_pem : cert_pem;
      for (const auto* c : chain) bundle += "\n" + c->pem;
      data["certificate"] = bundle;
      data["issuing_ca"] = issuing_ca_pem;
      data["ca_chain"] = chain_pem;
      break;
    }
    case OutputFormat::kDer: {
      data["certificate"] = Base64Encode(CertificateDer(cert));
      data["issuing_ca"] = issuer_chain.empty() ? "" : issuer_chain.front().der_base64;
      Json ders = Json::array();
      for (const auto* c : chain) ders.push_back(c->der_base64);
      data["ca_chain"] = ders;
      break;
    }
  }
  // Only these three fields of the new certificate: InspectCertificate would also decode its extensions and key.
  data["serial_number"] = FormatSerial(SerialBytes(cert));
  data["expiration"] = Asn1TimeToUnix(X509_get0_notAfter(cert));
  data["not_before"] = Asn1TimeToUnix(X509_get0_notBefore(cert));
  if (private_key) {
    data["private_key"] = key_text;
    data["private_key_type"] = key_type;
  }
  return data;
}

Result<std::string> UniqueSerial(const CertStore& certs) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    ASSIGN_OR_RETURN(std::string serial, RandomSerial());
    ASSIGN_OR_RETURN(bool taken, certs.Exists(serial));
    if (!taken) return serial;
  }
  return Status::Internal("could not draw an unused serial number");
}

Result<UrlConfig> ReadUrlConfig(Storage* storage) {
  UrlConfig c;
  ASSIGN_OR_RETURN(std::optional<Json> stored, ReadJsonObject(storage, "config/urls"));
  if (!stored) return c;
  const Json& j = *stored;
  c.issuing_certificates = j.value("issuing_certificates", std::vector<std::string>{});
  c.crl_distribution_points = j.value("crl_distribution_points", std::vector<std::string>{});
  c.ocsp_servers = j.value("ocsp_servers", std::vector<std::string>{});
  c.delta_crl_distribution_points = j.value("delta_crl_distribution_points", std::vector<std::string>{});
  c.enable_templating = j.value("enable_templating", false);
  return c;
}

Json UrlConfigToJson(const UrlConfig& c) {
  return {{"issuing_certificates", c.issuing_certificates},
          {"crl_distribution_points", c.crl_distribution_points},
          {"ocsp_servers", c.ocsp_servers},
          {"delta_crl_distribution_points", c.delta_crl_distribution_points},
          {"enable_templating", c.enable_templating}};
}

void AddCaSubjectFields(FieldSchemas* f) {
  auto& m = *f;
  m["common_name"] = {FieldType::kString, nullptr, "The requested common name."};
  m["alt_names"] = {FieldType::kString, nullptr, "DNS names and email addresses for the SAN extension."};
  m["ip_sans"] = {FieldType::kCommaStringSlice, nullptr, "IP addresses for the SAN extension."};
  m["uri_sans"] = {FieldType::kCommaStringSlice, nullptr, "URIs for the SAN extension."};
  m["other_sans"] = {FieldType::kCommaStringSlice, nullptr, "Other SANs: <oid>;UTF8:<value>."};
  m["ttl"] = {FieldType::kDuration, nullptr, "Requested validity."};
  m["not_after"] = {FieldType::kString, nullptr, "Absolute NotAfter, RFC 3339."};
  m["not_before_duration"] = {FieldType::kDuration, 30, "Backdating of NotBefore."};
  m["format"] = {FieldType::kString, "pem", "pem, der or pem_bundle."};
  m["private_key_format"] = {FieldType::kString, "der", "der, pem or pkcs8."};
  m["exclude_cn_from_sans"] = {FieldType::kBool, nullptr, "Do not add the common name to the SANs."};
  m["ou"] = {FieldType::kCommaStringSlice, nullptr, "OU values of the subject."};
  m["organization"] = {FieldType::kCommaStringSlice, nullptr, "O values of the subject."};
  m["country"] = {FieldType::kCommaStringSlice, nullptr, "C values of the subject."};
  m["locality"] = {FieldType::kCommaStringSlice, nullptr, "L values of the subject."};
  m["province"] = {FieldType::kCommaStringSlice, nullptr, "ST values of the subject."};
  m["street_address"] = {FieldType::kCommaStringSlice, nullptr, "Street address values of the subject."};
  m["postal_code"] = {FieldType::kCommaStringSlice, nullptr, "Postal code values of the subject."};
  m["serial_number"] = {FieldType::kString, nullptr, "Subject serialNumber attribute (not the certificate serial)."};
  m["max_path_length"] = {FieldType::kInt, -1, "Max path length of the CA; -1 for no limit."};
  m["permitted_dns_domains"] = {FieldType::kCommaStringSlice, nullptr, "Name constraints: permitted DNS domains."};
  m["excluded_dns_domains"] = {FieldType::kCommaStringSlice, nullptr, "Name constraints: excluded DNS domains."};
  m["permitted_ip_ranges"] = {FieldType::kCommaStringSlice, nullptr, "Name constraints: permitted IP ranges (CIDR)."};
  m["excluded_ip_ranges"] = {FieldType::kCommaStringSlice, nullptr, "Name constraints: excluded IP ranges (CIDR)."};
  m["permitted_email_addresses"] = {FieldType::kCommaStringSlice, nullptr,
                                    "Name constraints: permitted email addresses, hosts or .domains."};
  m["excluded_email_addresses"] = {FieldType::kCommaStringSlice, nullptr,
                                   "Name constraints: excluded email addresses, hosts or .domains."};
  m["permitted_uri_domains"] = {FieldType::kCommaStringSlice, nullptr, "Name constraints: permitted URI hosts."};
  m["excluded_uri_domains"] = {FieldType::kCommaStringSlice, nullptr, "Name constraints: excluded URI hosts."};
  m["signature_bits"] = {FieldType::kInt, 0, "Hash size of the signature: 256, 384 or 512; 0 for automatic."};
  m["use_pss"] = {FieldType::kBool, nullptr, "RSA-PSS signatures."};
}

Result<NameConstraintSet> NameConstraintsFromFields(const FieldData& f) {
  NameConstraintSet c;
  c.permitted_dns_domains = f.GetStrings("permitted_dns_domains");
  c.excluded_dns_domains = f.GetStrings("excluded_dns_domains");
  c.permitted_ip_ranges = f.GetStrings("permitted_ip_ranges");
  c.excluded_ip_ranges = f.GetStrings("excluded_ip_ranges");
  c.permitted_email_addresses = f.GetStrings("permitted_email_addresses");
  c.excluded_email_addresses = f.GetStrings("excluded_email_addresses");
  c.permitted_uri_domains = f.GetStrings("permitted_uri_domains");
  c.excluded_uri_domains = f.GetStrings("excluded_uri_domains");
  for (const auto* field : {"permitted_ip_ranges", "excluded_ip_ranges"}) {
    for (const auto& range : f.GetStrings(field)) {
      Result<std::string> encoded = EncodeIpRange(range);
      if (!encoded.ok()) {
        return Status::BadRequest("invalid " + std::string(field) + " value: " + encoded.status().message());
      }
    }
  }
  return c;
}

Result<int> SignatureBits(const FieldData& f) {
  int64_t bits = f.GetInt("signature_bits");
  if (bits != 0 && bits != 256 && bits != 384 && bits != 512) {
    return Status::BadRequest("unsupported signature_bits " + std::to_string(bits) + ": use 256, 384 or 512");
  }
  return static_cast<int>(bits);
}

SubjectFields SubjectFromFields(const FieldData& f) {
  SubjectFields s;
  s.common_name = f.GetString("common_name");
  s.ou = f.GetStrings("ou");
  s.organization = f.GetStrings("organization");
  s.country = f.GetStrings("country");
  s.locality = f.GetStrings("locality");
  s.province = f.GetStrings("province");
  s.street_address = f.GetStrings("street_address");
  s.postal_code = f.GetStrings("postal_code");
  s.serial_number = f.GetString("serial_number");
  return s;
}

Result<UrlConfig> EffectiveUrls(Storage* storage, const IssuerEntry& issuer) {
  if (!issuer.HasAiaUrls()) return ReadUrlConfig(storage);
  UrlConfig c;
  c.issuing_certificates = issuer.issuing_certificates;
  c.crl_distribution_points = issuer.crl_distribution_points;
  c.ocsp_servers = issuer.ocsp_servers;
  c.delta_crl_distribution_points = issuer.delta_crl_distribution_points;
  return c;
}

bool ValidAiaUrl(const std::string& u) {
  if (u.empty() || u.size() > 8192) return false;
  for (unsigned char c : u) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  size_t sep = u.find("://");
  if (sep == std::string::npos || sep == 0 || !std::isalpha(static_cast<unsigned char>(u[0]))) return false;
  for (size_t i = 1; i < sep; ++i) {
    char c = u[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '.' && c != '-') return false;
  }
  size_t host_end = u.find_first_of("/?#", sep + 3);
  return (host_end == std::string::npos ? u.size() : host_end) > sep + 3;
}

}  // namespace pki
