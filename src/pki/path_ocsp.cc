#include "src/pki/path_ocsp.h"

#include <memory>

#include "src/core/duration.h"
#include "src/crypto/ocsp.h"
#include "src/crypto/x509.h"
#include "src/pki/cert_store.h"
#include "src/pki/crl_service.h"
#include "src/pki/revocation.h"

namespace pki {
namespace {

constexpr char kOcspResponseType[] = "application/ocsp-response";
// Vault's limit on an OCSP request, GET or POST.
constexpr size_t kMaxRequestBytes = 2048;

Response OcspError(int ocsp_status, int http_status) {
  return Response::Raw(kOcspResponseType, OcspErrorResponse(ocsp_status), http_status);
}

class OcspHandlers {
 public:
  OcspHandlers(const PkiContext& ctx, CaStore* cas) : ctx_(ctx), cas_(cas), certs_(ctx.storage) {}

  Result<Response> Get(const Request&, const FieldData& f) {
    Result<std::string> der = Base64Decode(f.GetString("req"));
    if (!der.ok()) return OcspError(kOcspMalformedRequest, 400);
    return Answer(der.value());
  }

  Result<Response> Post(const Request&, const FieldData& f) {
    Result<std::string> der = Base64Decode(f.GetString("http_raw_body"));
    if (!der.ok()) return OcspError(kOcspMalformedRequest, 400);
    return Answer(der.value());
  }

 private:
  // Every failure is an OCSP response, never an HTTP error page: relying parties parse what they get.
  Result<Response> Answer(const std::string& der) {
    Result<Response> r = AnswerOrError(der);
    if (!r.ok()) return OcspError(kOcspInternalError, 500);
    return r;
  }

  Result<Response> AnswerOrError(const std::string& der) {
    ASSIGN_OR_RETURN(CrlConfig config, ReadCrlConfig(ctx_.storage));
    if (config.ocsp_disable) return OcspError(kOcspUnauthorized, 401);
    if (der.empty() || der.size() > kMaxRequestBytes) return OcspError(kOcspMalformedRequest, 400);
    Result<OcspRequestInfo> request = ParseOcspRequest(der);
    if (!request.ok()) return OcspError(kOcspMalformedRequest, 400);

    // The responder is the issuer the first certificate names (clients expect one issuer per response); when no
    // issuer of the mount is named, the default issuer answers "unknown", as Vault does.
    ASSIGN_OR_RETURN(std::vector<IssuerEntry> issuers, cas_->ListIssuers());
    std::shared_ptr<const SigningIssuer> responder;
    for (const auto& entry : issuers) {
      if (entry.key_id.empty()) continue;
      auto signing = cas_->SigningIssuerFor(entry.issuer_id);
      if (!signing.ok()) continue;
      if (CertIdMatchesIssuer(request->ids.front(), signing.value()->cert.get())) {
        responder = signing.value();
        break;
      }
    }
    if (!responder) {
      auto fallback = cas_->SigningIssuerFor("default");
      if (!fallback.ok()) return OcspError(kOcspUnauthorized, 401);
      responder = fallback.value();
    }
    if (responder->entry.usage.find("ocsp-signing") == std::string::npos) return OcspError(kOcspUnauthorized, 401);

    ASSIGN_OR_RETURN(int64_t ocsp_expiry, ParseDurationSeconds(config.ocsp_expiry));
    const int64_t now = ctx_.clock->Now();
    RevocationStore revocations(ctx_.storage);
    std::vector<OcspSingleAnswer> answers;
    for (const auto& id : request->ids) {
      OcspSingleAnswer a;
      a.id = &id;
      a.this_update = now;
      a.next_update = ocsp_expiry > 0 ? now + ocsp_expiry : 0;
      ASSIGN_OR_RETURN(a.status, StatusOf(id, *responder, config, revocations, &a.revocation_time));
      answers.push_back(a);
    }
    OcspSigner signer{responder->cert.get(), responder->key.get()};
    ASSIGN_OR_RETURN(std::string response, BuildOcspResponse(signer, answers, request->nonce, now));
    return Response::Raw(kOcspResponseType, std::move(response));
  }

  // revoked when the revoked index says so; good when the mount issued the certificate under this issuer;
  // otherwise unknown (a forged or foreign serial), unless the mount asks for Vault's answer (good).
  Result<OcspStatus> StatusOf(const OcspCertId& id, const SigningIssuer& responder, const CrlConfig& config,
                              const RevocationStore& revocations, int64_t* revoked_at) {
    if (!CertIdMatchesIssuer(id, responder.cert.get())) return OcspStatus::kUnknown;
    ASSIGN_OR_RETURN(std::optional<RevocationRecord> revoked, revocations.Get(id.serial));
    if (revoked && (revoked->issuer_id.empty() || revoked->issuer_id == responder.entry.issuer_id)) {
      *revoked_at = revoked->revocation_time;
      return OcspStatus::kRevoked;
    }
    ASSIGN_OR_RETURN(std::optional<StoredCert> cert, certs_.Get(id.serial));
    if (cert && cert->issuer_id == responder.entry.issuer_id) return OcspStatus::kGood;
    return config.ocsp_unknown_good ? OcspStatus::kGood : OcspStatus::kUnknown;
  }

  PkiContext ctx_;
  CaStore* cas_;
  CertStore certs_;
};

}  // namespace

std::vector<PathSpec> OcspPaths(const PkiContext& ctx, CaStore* cas) {
  auto h = std::make_shared<OcspHandlers>(ctx, cas);
  std::vector<PathSpec> paths;
  PathSpec post{"ocsp", {}, {}, true, "OCSP (RFC 6960): POST a DER OCSPRequest (application/ocsp-request)."};
  post.fields["http_raw_body"] = {FieldType::kString, nullptr, "The request body, base64 (set by the host)."};
  post.operations[Operation::kUpdate] = BindHandler(h, &OcspHandlers::Post);
  paths.push_back(post);
  PathSpec get{"ocsp/*req", {}, {}, true, "OCSP (RFC 6960): GET with the base64 DER OCSPRequest in the path."};
  get.fields["req"] = {FieldType::kString, nullptr, "The base64 DER OCSPRequest."};
  get.operations[Operation::kRead] = BindHandler(h, &OcspHandlers::Get);
  paths.push_back(get);
  return paths;
}

}  // namespace pki
