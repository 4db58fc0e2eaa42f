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
// Where crl_service keeps the CRL/OCSP configuration (ReadCrlConfig's key): its bytes validate cached answers.
constexpr char kCrlConfigKey[] = "config/crl";
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
// everyone), keyed by the request's DER bytes, so that signing happens only on a miss. An entry is served only while
// everything its answer depends on is unchanged (the caller checks, see AnswerOrError): the stored CRL/OCSP
// configuration (byte for byte), the CA store's snapshot (issuers, their usages and keys; a new snapshot object after
// any change), the revocation count of the answering CRL group, and its expiry. Bounded by bytes (keys, answers and
// the configuration each holds), least recently used out first: requests naming many random serials cannot grow
// it. Thread-safe.
class OcspCache {
 public:
  struct Entry {
    std::shared_ptr<const std::string> der;    // the signed answer
    std::string group;                         // the CRL group that answered
    uint64_t seq = 0;                          // its revocation count when signed
    // The CA store's snapshot it was answered under. Watched, not held: a retired snapshot's issuers and keys are
    // freed at once, while its control block stays (no new snapshot can take its address while an entry points there).
    std::weak_ptr<const CaSnapshot> cas;
    std::string config;                        // the stored config/crl bytes it was answered under
    int64_t expires = 0;                       // unix seconds
  };

  // What a lookup hands back: the answer and what the caller must still check (the group's revocation count).
  struct Hit {
    std::shared_ptr<const std::string> der;
    std::string group;
    uint64_t seq = 0;
    int64_t expires = 0;
  };

  // The entry for `key` if it is unexpired at `now` and was answered under the CA snapshot `cas` and the stored
  // configuration `config`. An expired entry, or one from another snapshot or configuration, is dropped.
  std::optional<Hit> Get(const std::string& key, int64_t now, const CaSnapshot* cas, const std::string& config) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    const Entry& e = it->second->second;
    if (now >= e.expires) {
      Erase(it);
      return std::nullopt;
    }
    if (e.cas.lock().get() != cas || e.config != config) {
      Erase(it);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return Hit{e.der, e.group, e.seq, e.expires};
  }

  void Put(const std::string& key, Entry entry) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) Erase(it);
    bytes_ += Cost(key, entry);
    lru_.emplace_front(key, std::move(entry));
    index_[key] = lru_.begin();
    while (bytes_ > kCacheBytes && !lru_.empty()) Erase(index_.find(lru_.back().first));
  }

 private:
  using Lru = std::list<std::pair<std::string, Entry>>;
  static size_t Cost(const std::string& key, const Entry& e) {
    return 2 * key.size() + e.der->size() + e.group.size() + e.config.size();
  }
  void Erase(std::unordered_map<std::string, Lru::iterator>::iterator it) {
    bytes_ -= Cost(it->first, it->second->second);
    lru_.erase(it->second);
    index_.erase(it);
  }

  size_t bytes_ = 0;  // guarded by mu_: keys (held twice) and answers
  std::mutex mu_;
  Lru lru_;                                                // guarded by mu_; most recent first
  std::unordered_map<std::string, Lru::iterator> index_;  // guarded by mu_
};

// The stored CRL/OCSP configuration's bytes ("" when none is stored): what ReadCrlConfig parses.
Result<std::string> StoredCrlConfig(Storage* storage) {
  std::string bytes;
  Status s = storage->Get(kCrlConfigKey, &bytes);
  if (s.IsNotFound()) return std::string();
  RETURN_IF_ERROR(s);
  return bytes;
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
    // What a cached answer must still match, read before anything else: whatever changes after these reads makes
    // the entry stored below unusable, never a stale one usable.
    ASSIGN_OR_RETURN(std::string config_bytes, StoredCrlConfig(ctx_.storage));
    ASSIGN_OR_RETURN(std::shared_ptr<const CaSnapshot> cas_snapshot, cas_->Snapshot());
    const int64_t now = ctx_.clock->Now();
    if (der.size() <= kMaxRequestBytes) {
      // The same request bytes answered before, under the same configuration and CA store, and no revocation in
      // the answering group since (read now: every revocation acknowledged before this request is seen).
      if (auto hit = cache_.Get(der, now, cas_snapshot.get(), config_bytes)) {
        ASSIGN_OR_RETURN(uint64_t seq_now, RevocationStore(ctx_.storage).Sequence(hit->group));
        if (seq_now == hit->seq) return OcspAnswer(*hit->der, hit->expires - now);
      }
    }

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
    RevocationStore revocations(ctx_.storage);
    // Issuers sharing the responder's subject and key are one CRL group: their certificates and revocations are
    // answered together, whichever of them signs.
    ASSIGN_OR_RETURN(std::string group, CrlGroupOf(*cas_, responder->entry.issuer_id));
    ASSIGN_OR_RETURN(uint64_t seq, revocations.Sequence(group));
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
    if (request->nonce || any_unknown) return Response::Raw(kOcspResponseType, std::move(response));
    int64_t life = ocsp_expiry > 0 ? std::min(kCacheSeconds, ocsp_expiry / 2) : kCacheSecondsWithoutNextUpdate;
    cache_.Put(der, OcspCache::Entry{std::make_shared<const std::string>(response), group, seq,
                                     std::move(cas_snapshot), std::move(config_bytes), now + life});
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
