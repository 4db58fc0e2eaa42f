#include "src/pki/path_ocsp.h"

#include <algorithm>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

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

// Signed answers are reused for this long at most (and never past half their validity).
constexpr int64_t kCacheSeconds = 3600;
// Without nextUpdate a response is "fresh now"; it is reused for a minute.
constexpr int64_t kCacheSecondsWithoutNextUpdate = 60;
constexpr size_t kCacheBytes = 64 << 20;

Response OcspError(int ocsp_status, int http_status) {
  return Response::Raw(kOcspResponseType, OcspErrorResponse(ocsp_status), http_status);
}

// Signed answers to requests without a nonce (most relying parties send none, and such answers are the same for
// everyone), reused until they expire from the cache or the issuer's revocation count moves, so signing happens
// only on a miss. Bounded by bytes (keys and answers), least recently used out first: requests naming many random
// serials cannot grow it. Thread-safe.
class OcspCache {
 public:
  struct Entry {
    std::string der;
    uint64_t seq = 0;     // the issuer's revocation count when signed
    int64_t expires = 0;  // unix seconds
  };

  std::optional<Entry> Get(const std::string& key, uint64_t seq, int64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (it->second->second.seq != seq || now >= it->second->second.expires) {
      Erase(it);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }

  void Put(const std::string& key, Entry entry) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) Erase(it);
    bytes_ += 2 * key.size() + entry.der.size();
    lru_.emplace_front(key, std::move(entry));
    index_[key] = lru_.begin();
    while (bytes_ > kCacheBytes && !lru_.empty()) Erase(index_.find(lru_.back().first));
  }

 private:
  using Lru = std::list<std::pair<std::string, Entry>>;
  void Erase(std::unordered_map<std::string, Lru::iterator>::iterator it) {
    bytes_ -= 2 * it->first.size() + it->second->second.der.size();
    lru_.erase(it->second);
    index_.erase(it);
  }

  size_t bytes_ = 0;  // guarded by mu_: keys (held twice) and answers
  std::mutex mu_;
  Lru lru_;                                                // guarded by mu_; most recent first
  std::unordered_map<std::string, Lru::iterator> index_;  // guarded by mu_
};

// What a nonce-less answer depends on besides the revocation count: the responder, each id, and the settings
// that shape the answer.
std::string CacheKey(const std::string& issuer_id, const OcspRequestInfo& request, const CrlConfig& config) {
  std::string key = issuer_id + "|" + config.ocsp_expiry + "|" + (config.ocsp_unknown_good ? "g" : "u");
  for (const auto& id : request.ids) {
    key += "|" + std::to_string(EVP_MD_get_type(id.hash)) + ":" + id.issuer_name_hash + id.issuer_key_hash + ":" +
           id.serial;
  }
  return key;
}

Response OcspAnswer(std::string der, int64_t max_age) {
  Response r = Response::Raw(kOcspResponseType, std::move(der));
  // RFC 5019 section 6.2: caches may keep a nonce-less answer until shortly before nextUpdate.
  if (max_age > 0) r.raw->cache_control = "max-age=" + std::to_string(max_age) + ", public, no-transform, must-revalidate";
  return r;
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
    // Among issuers sharing that subject and key (reissues), the first with the ocsp-signing usage answers.
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    std::shared_ptr<const SigningIssuer> responder;
    bool named = false;
    for (const auto& entry : snap->issuers) {
      if (entry.key_id.empty()) continue;
      auto signing = cas_->SigningIssuerFor(entry.issuer_id);
      if (!signing.ok() || !CertIdMatchesIssuer(request->ids.front(), signing.value()->cert.get())) continue;
      named = true;
      if (!entry.HasUsage(kUsageOcspSigning)) continue;
      responder = signing.value();
      break;
    }
    if (!responder) {
      if (named) return OcspError(kOcspUnauthorized, 401);
      auto fallback = cas_->SigningIssuerFor("default");
      if (!fallback.ok()) return OcspError(kOcspUnauthorized, 401);
      responder = fallback.value();
    }
    if (!responder->entry.HasUsage(kUsageOcspSigning)) return OcspError(kOcspUnauthorized, 401);

    ASSIGN_OR_RETURN(int64_t ocsp_expiry, ParseDurationSeconds(config.ocsp_expiry));
    const int64_t now = ctx_.clock->Now();
    RevocationStore revocations(ctx_.storage);
    // Issuers sharing the responder's subject and key are one CRL group: their certificates and revocations are
    // answered together, whichever of them signs.
    ASSIGN_OR_RETURN(std::string group, CrlGroupOf(*cas_, responder->entry.issuer_id));
    ASSIGN_OR_RETURN(uint64_t seq, revocations.Sequence(group));
    std::string cache_key;
    if (!request->nonce) {
      cache_key = CacheKey(group, *request, config);
      if (auto hit = cache_.Get(cache_key, seq, now)) return OcspAnswer(std::move(hit->der), hit->expires - now);
    }
    std::vector<OcspSingleAnswer> answers;
    for (const auto& id : request->ids) {
      OcspSingleAnswer a;
      a.id = &id;
      a.this_update = now;
      a.next_update = ocsp_expiry > 0 ? now + ocsp_expiry : 0;
      ASSIGN_OR_RETURN(a.status, StatusOf(id, *responder, group, config, revocations, &a.revocation_time));
      answers.push_back(a);
    }
    const RevocationSigning algorithm = RevocationSigningOf(responder->entry);
    OcspSigner signer{responder->cert.get(), responder->key.get(), algorithm.signature_bits, algorithm.use_pss};
    ASSIGN_OR_RETURN(std::string response, BuildOcspResponse(signer, answers, request->nonce, now));
    // An "unknown" can turn "good" without a revocation (the serial gets issued or presented): never cached.
    bool any_unknown = std::any_of(answers.begin(), answers.end(),
                                   [](const OcspSingleAnswer& a) { return a.status == OcspStatus::kUnknown; });
    if (cache_key.empty() || any_unknown) return Response::Raw(kOcspResponseType, std::move(response));
    int64_t life = ocsp_expiry > 0 ? std::min(kCacheSeconds, ocsp_expiry / 2) : kCacheSecondsWithoutNextUpdate;
    cache_.Put(cache_key, OcspCache::Entry{response, seq, now + life});
    return OcspAnswer(std::move(response), life);
  }

  // revoked when the revoked index says so; good when the mount issued the certificate under this issuer;
  // otherwise unknown (a forged or foreign serial), unless the mount asks for Vault's answer (good).
  Result<OcspStatus> StatusOf(const OcspCertId& id, const SigningIssuer& responder, const std::string& group,
                              const CrlConfig& config, const RevocationStore& revocations, int64_t* revoked_at) {
    if (!CertIdMatchesIssuer(id, responder.cert.get())) return OcspStatus::kUnknown;
    ASSIGN_OR_RETURN(std::optional<RevocationRecord> revoked, revocations.Get(id.serial));
    if (revoked) {
      ASSIGN_OR_RETURN(std::string revoked_group, CrlGroupOf(*cas_, revoked->issuer_id));
      if (revoked_group == group) {
        *revoked_at = revoked->revocation_time;
        return OcspStatus::kRevoked;
      }
    }
    ASSIGN_OR_RETURN(std::optional<StoredCert> cert, certs_.Get(id.serial));
    if (cert) {
      ASSIGN_OR_RETURN(std::string cert_group, CrlGroupOf(*cas_, cert->issuer_id));
      if (cert_group == group) return OcspStatus::kGood;
    }
    return config.ocsp_unknown_good ? OcspStatus::kGood : OcspStatus::kUnknown;
  }

  PkiContext ctx_;
  CaStore* cas_;
  CertStore certs_;
  OcspCache cache_;
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
