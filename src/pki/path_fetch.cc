#include "src/pki/path_fetch.h"

#include "src/crypto/x509.h"
#include "src/pki/cert_listing.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"

namespace pki {
namespace {

constexpr char kPkixCert[] = "application/pkix-cert";
constexpr char kPemChain[] = "application/pem-certificate-chain";

class FetchHandlers {
 public:
  FetchHandlers(const PkiContext& ctx, CaStore* cas) : ctx_(ctx), cas_(cas), certs_(ctx.storage) {}

  // GET ca: the default issuer's certificate, DER. No CA: an empty 204, as Vault.
  Result<Response> CaDer(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto issuer, cas_->ResolveIssuer("default"));
    if (!issuer) return Response::Raw(kPkixCert, "", 204);
    ASSIGN_OR_RETURN(auto cert, ParseCertificatePem(issuer->certificate));
    return Response::Raw(kPkixCert, CertificateDer(cert.get()));
  }

  Result<Response> CaPem(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto issuer, cas_->ResolveIssuer("default"));
    if (!issuer) return Response::Raw(kPemChain, "", 204);
    return Response::Raw(kPemChain, issuer->certificate);
  }

  Result<Response> CaChainRaw(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto issuer, cas_->ResolveIssuer("default"));
    if (!issuer) return Response::Raw(kPkixCert, "", 204);
    return Response::Raw(kPkixCert, JoinChain(issuer->ca_chain));
  }

  // GET cert/ca_chain: JSON with the chain PEM in "certificate" and "ca_chain".
  Result<Response> CertCaChain(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto issuer, cas_->ResolveIssuer("default"));
    if (!issuer) return Response::Nil();
    std::string chain = JoinChain(issuer->ca_chain);
    return Response::Data({{"certificate", chain},
                           {"ca_chain", chain},
                           {"revocation_time", 0},
                           {"revocation_time_rfc3339", ""}});
  }

  Result<Response> CertCa(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto issuer, cas_->ResolveIssuer("default"));
    if (!issuer) return Response::Nil();
    return Response::Data({{"certificate", issuer->certificate},
                           {"revocation_time", 0},
                           {"revocation_time_rfc3339", ""}});
  }

  Result<Response> CertJson(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(auto cert, Lookup(f));
    if (!cert) return Response::Nil();
    ASSIGN_OR_RETURN(std::string serial, ParseSerial(f.GetString("serial")));
    ASSIGN_OR_RETURN(std::optional<RevocationRecord> revoked, RevocationStore(ctx_.storage).Get(serial));
    Json data = {{"certificate", DerToPem(cert->der, "CERTIFICATE")},
                 {"revocation_time", revoked ? revoked->revocation_time : 0},
                 {"revocation_time_rfc3339", revoked ? FormatRfc3339(revoked->revocation_time) : ""}};
    if (revoked) data["issuer_id"] = revoked->issuer_id;
    return Response::Data(std::move(data));
  }

  // cert/:serial/raw: DER; "ca" names the default issuer and "ca_chain" its PEM chain, as in Vault.
  Result<Response> CertRawDer(const Request& r, const FieldData& f) {
    std::string serial = f.GetString("serial");
    if (serial == "ca") return CaDer(r, f);
    if (serial == "ca_chain") return CaChainRaw(r, f);
    ASSIGN_OR_RETURN(auto cert, Lookup(f));
    if (!cert) return Response::Raw(kPkixCert, "", 204);
    return Response::Raw(kPkixCert, cert->der);
  }

  Result<Response> CertRawPem(const Request& r, const FieldData& f) {
    std::string serial = f.GetString("serial");
    if (serial == "ca") return CaPem(r, f);
    if (serial == "ca_chain") return CaChainRaw(r, f);
    ASSIGN_OR_RETURN(auto cert, Lookup(f));
    if (!cert) return Response::Raw(kPemChain, "", 204);
    return Response::Raw(kPemChain, DerToPem(cert->der, "CERTIFICATE"));
  }

  // LIST certs: serials in colon form; OpenBao's after/limit paging.
  Result<Response> ListCerts(const Request&, const FieldData& f) {
    int64_t limit = f.GetInt("limit");
    if (limit < 0) return Status::BadRequest("limit must be non-negative");
    ASSIGN_OR_RETURN(auto keys, certs_.List(f.GetString("after"), static_cast<size_t>(limit)));
    if (keys.empty()) return Response::Nil();
    return Response::Data({{"keys", keys}});
  }

  // LIST certs/detailed: OpenBao's keys + key_info page (src/pki/cert_listing.h), O(page) reads.
  Result<Response> ListCertsDetailed(const Request&, const FieldData& f) {
    int64_t limit = f.GetInt("limit");
    if (limit < 0) return Status::BadRequest("limit must be non-negative");
    ASSIGN_OR_RETURN(DetailedCertPage page,
                     ReadDetailedCertPage(ctx_.storage, f.GetString("after"), static_cast<size_t>(limit)));
    if (page.keys.empty()) return Response::Nil();
    Response r = Response::Data({{"keys", std::move(page.keys)}, {"key_info", std::move(page.key_info)}});
    if (page.unreadable != 0) {
      r.warnings.push_back(std::to_string(page.unreadable) +
                           " stored certificate record(s) in this page could not be fully read; their key_info "
                           "entries carry \"error\"");
    }
    return r;
  }

 private:
  // PEMs joined by newlines, no trailing newline (Vault trims raw and JSON chains alike).
  static std::string JoinChain(const std::vector<std::string>& chain) {
    std::string out;
    for (const auto& pem : chain) out += (out.empty() ? "" : "\n") + pem;
    return out;
  }

  // A serial that is not hex is not a path Vault routes (its pattern is [0-9A-Fa-f-:]+): 404.
  Result<std::optional<StoredCert>> Lookup(const FieldData& f) {
    auto serial = ParseSerial(f.GetString("serial"));
    if (!serial.ok()) return Status::NotFound("unsupported path");
    return certs_.Get(*serial);
  }

  PkiContext ctx_;
  CaStore* cas_;
  CertStore certs_;
};

}  // namespace

std::vector<PathSpec> FetchPaths(const PkiContext& ctx, CaStore* cas) {
  auto h = std::make_shared<FetchHandlers>(ctx, cas);
  auto read_path = [&](const char* pattern, auto method, bool unauth, const char* help) {
    PathSpec p{pattern, {}, {}, unauth, help};
    p.operations[Operation::kRead] = BindHandler(h, method);
    return p;
  };
  FieldSchemas serial{{"serial", {FieldType::kString, nullptr, "Serial number, colon- or dash-separated hex."}}};
  std::vector<PathSpec> paths;
  paths.push_back(read_path("ca", &FetchHandlers::CaDer, true, "The default issuer's certificate (DER)."));
  paths.push_back(read_path("ca/pem", &FetchHandlers::CaPem, true, "The default issuer's certificate (PEM)."));
  paths.push_back(read_path("ca_chain", &FetchHandlers::CaChainRaw, true, "The default issuer's chain (PEM)."));
  paths.push_back(read_path("cert/ca_chain", &FetchHandlers::CertCaChain, true, "The default issuer's chain."));
  paths.push_back(read_path("cert/ca", &FetchHandlers::CertCa, true, "The default issuer's certificate."));
  PathSpec raw_pem = read_path("cert/:serial/raw/pem", &FetchHandlers::CertRawPem, true, "A certificate (PEM).");
  raw_pem.fields = serial;
  paths.push_back(raw_pem);
  PathSpec raw = read_path("cert/:serial/raw", &FetchHandlers::CertRawDer, true, "A certificate (DER).");
  raw.fields = serial;
  paths.push_back(raw);
  PathSpec json = read_path("cert/:serial", &FetchHandlers::CertJson, true, "A certificate and its status.");
  json.fields = serial;
  paths.push_back(json);
  PathSpec list{"certs", {}, {}, false, "Serial numbers of the stored certificates."};
  list.fields["after"] = {FieldType::kString, nullptr, "List serials after this one."};
  list.fields["limit"] = {FieldType::kInt, 0, "Maximum number of serials; 0 for all."};
  list.operations[Operation::kList] = BindHandler(h, &FetchHandlers::ListCerts);
  paths.push_back(list);
  PathSpec detailed{"certs/detailed", list.fields, {}, false,
                    "Stored certificates with their names, validity, issuer, role and revocation state."};
  detailed.operations[Operation::kList] = BindHandler(h, &FetchHandlers::ListCertsDetailed);
  paths.push_back(detailed);
  return paths;
}

}  // namespace pki
