#include "src/pki/cert_listing.h"

#include <optional>

#include "src/crypto/x509.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"

namespace pki {
namespace {

Json FirstNames(const std::vector<std::string>& names) {
  Json out = Json::array();
  for (size_t i = 0; i < names.size() && i < kMaxNamesPerKind; ++i) out.push_back(names[i]);
  return out;
}

void AddError(Json* info, const std::string& error) {
  auto it = info->find("error");
  if (it == info->end()) {
    (*info)["error"] = error;
  } else {
    *it = it->get<std::string>() + "; " + error;
  }
}

// The key_info entry of one certificate: what its DER says, then what the record and revoked/ add.
Json Describe(const StoredCertEntry& entry) {
  Json info = Json::object();
  if (!entry.cert) {
    AddError(&info, entry.error);
    return info;
  }
  const StoredCert& cert = *entry.cert;
  info["issuer_id"] = cert.issuer_id;
  info["role"] = cert.role;
  int64_t not_after = cert.not_after;
  auto parsed = ParseCertificateDer(cert.der);
  if (parsed.ok()) {
    CertDescription d = DescribeCertificate(parsed->get());
    info["common_name"] = d.common_name;
    info["issuer"] = d.issuer;
    info["key_type"] = d.key_type;
    info["key_bits"] = d.key_bits;
    info["not_before"] = FormatRfc3339(d.not_before);
    info["dns_names"] = FirstNames(d.dns_names);
    info["ip_addresses"] = FirstNames(d.ip_addresses);
    info["email_addresses"] = FirstNames(d.email_addresses);
    info["uris"] = FirstNames(d.uris);
    not_after = d.not_after;  // the certificate's own word over the record's copy
  } else {
    AddError(&info, "unable to parse the stored certificate for " + entry.serial);
  }
  info["not_after"] = FormatRfc3339(not_after);
  info["expiration"] = not_after;
  return info;
}

}  // namespace

Result<DetailedCertPage> ReadDetailedCertPage(Storage* storage, const std::string& after, size_t limit) {
  ASSIGN_OR_RETURN(std::vector<StoredCertEntry> entries, CertStore(storage).Page(after, limit));
  DetailedCertPage page;
  page.keys.reserve(entries.size());
  for (const auto& entry : entries) {
    Json info = Describe(entry);
    // The revocation state, read by key: a storage failure fails the page, a bad record only this entry.
    std::string hyphen = entry.serial;
    for (auto& c : hyphen) {
      if (c == ':') c = '-';
    }
    std::string value;
    Status s = storage->Get(RevocationStore::RecordKey(hyphen), &value);
    if (!s.ok() && !s.IsNotFound()) return s;
    std::optional<RevocationRecord> revocation;
    if (s.ok()) {
      auto record = RevocationStore::DecodeRecord(value, entry.serial);
      if (record.ok()) {
        revocation = *record;
      } else {
        AddError(&info, record.status().message());
        revocation = RevocationRecord{};  // revoked, at a time the record no longer tells
      }
    }
    info["revoked"] = revocation.has_value();
    info["revocation_time"] = revocation ? revocation->revocation_time : 0;
    info["revocation_time_rfc3339"] =
        revocation && revocation->revocation_time != 0 ? FormatRfc3339(revocation->revocation_time) : "";
    if (info.contains("error")) ++page.unreadable;
    page.key_info[entry.serial] = std::move(info);
    page.keys.push_back(entry.serial);
  }
  return page;
}

}  // namespace pki
