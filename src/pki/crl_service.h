// CrlService: each CRL group's complete CRL (issuers sharing a subject and key share one, as in Vault), built from
// the revoked index and served pre-encoded.
//
// A revocation only bumps the issuer's revocation count (src/pki/revocation.h). The CRL is rebuilt when someone
// reads it and it is stale: never built, built before the latest revocation, within the grace period of its
// nextUpdate, or asked for by crl/rotate or a config change. So a burst of revocations costs one rebuild, and
// every acknowledged revocation is in the next CRL anyone fetches (Vault's auto_rebuild=false promise, without
// Vault's rebuild per revocation).
//
// With enable_delta (which Vault ties to auto_rebuild) a delta CRL lists the revocations since the complete CRL it
// extends (RFC 5280 Delta CRL Indicator naming the complete CRL's number), read from the issuer's delta index
// rather than the whole revoked set, and is rebuilt at most every delta_rebuild_interval.
//
// Keys (docs/design.md):
//   config/crl                                          Vault's CRL configuration (JSON, version 1)
//   crl/state/<group>, crl/delta-state/<group>        JSON: number, revocation count covered, base, this/next
//                                                       update, chunk count
//   crl/der/<group>/<number:016x>/<chunk:06x>             the DER in chunks of at most 256 KiB (complete and delta
//                                                       CRLs alike; numbers are unique per issuer)
// CRL numbers strictly increase per issuer, are shared by complete and delta CRLs as RFC 5280 requires, and
// survive restarts (they live in the state entries).
// Thread-safe: rebuilds are serialised; readers share the cached DER of the current number.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "src/engine/request.h"
#include "src/engine/router.h"
#include "src/pki/ca_store.h"
#include "src/pki/context.h"

namespace pki {

// config/crl, as Vault keeps it: durations as the strings the user gave.
struct CrlConfig {
  std::string expiry = "72h";
  bool disable = false;
  bool ocsp_disable = false;
  std::string ocsp_expiry = "12h";
  bool auto_rebuild = false;
  std::string auto_rebuild_grace_period = "12h";
  bool enable_delta = false;
  std::string delta_rebuild_interval = "15m";
  // Ours, not Vault's: OCSP answers "good" for serials the mount has no record of (Vault's answer), instead of
  // "unknown". Certificates from no_store roles have no record, so a mount issuing them may want this.
  bool ocsp_unknown_good = false;
  // Vault 1.19's field: a CRL (complete or delta) with more entries than this is not built (the rebuild fails with
  // a 400); -1 lifts the limit. Writes of 0 or below -1 leave it unchanged, as in Vault. Unlike Vault (default
  // 100000, a guard for its in-memory CRL building) the default is -1: CRLs here are streamed from an index, and a
  // limit is the operator's choice.
  int64_t max_crl_entries = -1;
};

Json CrlConfigToJson(const CrlConfig& c);
Result<CrlConfig> ReadCrlConfig(Storage* storage);

class CrlService {
 public:
  enum class Kind { kComplete, kDelta };

  CrlService(const PkiContext& ctx, CaStore* cas) : ctx_(ctx), cas_(cas) {}

  // The DER of `issuer_id`'s current complete CRL, rebuilt first when stale.
  Result<std::shared_ptr<const std::string>> Current(const std::string& issuer_id);

  // The DER of the issuer's current delta CRL (revocations since its complete CRL), rebuilt when stale; nullptr
  // when delta CRLs are not enabled.
  Result<std::shared_ptr<const std::string>> CurrentDelta(const std::string& issuer_id);

  // Rebuilds the CRLs of `kind` of every issuer that has a key (crl/rotate, crl/rotate-delta, config changes).
  // Returns warnings for issuers that could not be built.
  Result<std::vector<std::string>> RotateAll(Kind kind = Kind::kComplete);

 private:
  struct State {
    uint64_t number = 0;
    uint64_t built_seq = 0;  // the issuer's revocation count the CRL covers
    uint64_t base = 0;       // delta: the complete CRL number it extends
    int64_t this_update = 0;
    int64_t next_update = 0;
    uint64_t chunks = 0;
    bool disabled = false;  // the empty CRL Vault leaves in place while CRLs are disabled
  };
  struct Cached {
    uint64_t number = 0;
    std::shared_ptr<const std::string> der;
  };
  using States = std::pair<std::optional<State>, std::optional<State>>;  // complete, delta

  // The issuer that signs the group's CRLs: `issuer_id` when it has a key and the crl-signing usage, else another
  // issuer of its group that has them (reissued CAs share a CRL).
  Result<std::string> CrlSignerOf(const std::string& issuer_id, const std::string& group) const;
  Result<std::optional<State>> ReadState(const std::string& group, Kind kind) const;
  Result<States> ReadStates(const std::string& group) const;
  // `target`: the revocation count the caller's read must cover.
  Result<bool> CompleteStale(const std::optional<State>& state, uint64_t target, const CrlConfig& config) const;
  Result<bool> DeltaStale(const States& states, uint64_t target, const CrlConfig& config) const;
  // Builds, stores and caches a new CRL of `kind`. Caller holds build_mu_.
  // `issuer_id` signs; `group` (its CRL group) names the revoked set and the stored CRL.
  Result<std::shared_ptr<const std::string>> Rebuild(const std::string& issuer_id, const std::string& group,
                                                     Kind kind, const States& states, const CrlConfig& config);
  Result<std::shared_ptr<const std::string>> Load(const std::string& group, Kind kind, const State& state);

  PkiContext ctx_;
  CaStore* cas_;
  std::mutex build_mu_;  // one rebuild at a time per mount
  std::mutex cache_mu_;
  std::map<std::pair<std::string, Kind>, Cached> cache_;  // guarded by cache_mu_
};

// crl, crl/pem, cert/crl, crl/delta, crl/delta/pem, cert/delta-crl, crl/rotate, crl/rotate-delta, config/crl.
std::vector<PathSpec> CrlPaths(const PkiContext& ctx, CaStore* cas, std::shared_ptr<CrlService> crls);

}  // namespace pki
