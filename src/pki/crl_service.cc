#include "src/pki/crl_service.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "src/core/duration.h"
#include "src/crypto/crl.h"
#include "src/crypto/x509.h"
#include "src/pki/issuance.h"
#include "src/pki/revocation.h"
#include "src/pki/stored_json.h"

namespace pki {
namespace {

constexpr char kConfigKey[] = "config/crl";
// Under every host's entry limit with room for key and barrier overhead (Vault raft's max_entry_size defaults to
// 1 MiB for the whole command, Consul allows 512 KiB, DynamoDB 400 KB).
constexpr size_t kChunkSize = 256 << 10;
constexpr size_t kEntryBatch = 10000;
constexpr char kCrlContentType[] = "application/pkix-crl";
constexpr char kPemContentType[] = "application/x-pem-file";

std::string StateKey(const std::string& group, CrlService::Kind kind) {
  return (kind == CrlService::Kind::kComplete ? "crl/state/" : "crl/delta-state/") + group;
}

// The keys of CRL `number`'s chunks all start with this.
std::string ChunkPrefix(const std::string& group, uint64_t number) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx/", static_cast<unsigned long long>(number));
  return "crl/der/" + group + "/" + buf;
}

std::string ChunkKey(const std::string& group, uint64_t number, uint64_t chunk) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%06llx", static_cast<unsigned long long>(chunk));
  return ChunkPrefix(group, number) + buf;
}

Result<int64_t> ConfigDuration(const std::string& text, const char* what) {
  auto d = ParseDurationSeconds(text);
  if (!d.ok()) return Status::BadRequest(std::string("given ") + what + " could not be decoded: " + d.status().message());
  return d.value();
}

}  // namespace

Json CrlConfigToJson(const CrlConfig& c) {
  return Json::object({{"expiry", c.expiry},
                       {"disable", c.disable},
                       {"ocsp_disable", c.ocsp_disable},
                       {"ocsp_expiry", c.ocsp_expiry},
                       {"auto_rebuild", c.auto_rebuild},
                       {"auto_rebuild_grace_period", c.auto_rebuild_grace_period},
                       {"enable_delta", c.enable_delta},
                       {"delta_rebuild_interval", c.delta_rebuild_interval},
                       {"ocsp_unknown_good", c.ocsp_unknown_good},
                       {"max_crl_entries", c.max_crl_entries},
                       // Vault Enterprise's cross-cluster features, always off here as in Vault CE.
                       {"cross_cluster_revocation", false},
                       {"unified_crl", false},
                       {"unified_crl_on_existing_paths", false}});
}

Result<CrlConfig> ReadCrlConfig(Storage* storage) {
  CrlConfig c;
  ASSIGN_OR_RETURN(std::optional<Json> stored, ReadJsonObject(storage, kConfigKey));
  if (!stored) return c;
  const Json& j = *stored;
  c.expiry = j.value("expiry", c.expiry);
  c.disable = j.value("disable", c.disable);
  c.ocsp_disable = j.value("ocsp_disable", c.ocsp_disable);
  c.ocsp_expiry = j.value("ocsp_expiry", c.ocsp_expiry);
  c.auto_rebuild = j.value("auto_rebuild", c.auto_rebuild);
  c.auto_rebuild_grace_period = j.value("auto_rebuild_grace_period", c.auto_rebuild_grace_period);
  c.enable_delta = j.value("enable_delta", c.enable_delta);
  c.delta_rebuild_interval = j.value("delta_rebuild_interval", c.delta_rebuild_interval);
  c.ocsp_unknown_good = j.value("ocsp_unknown_good", c.ocsp_unknown_good);
  const Json* max_entries = j.contains("max_crl_entries") ? &j["max_crl_entries"] : nullptr;
  if (max_entries && max_entries->is_number_integer()) c.max_crl_entries = max_entries->get<int64_t>();
  return c;
}

Result<std::optional<CrlService::State>> CrlService::ReadState(const std::string& group, Kind kind) const {
  std::string value;
  Status s = ctx_.storage->Get(StateKey(group, kind), &value);
  if (s.IsNotFound()) return std::optional<State>();
  RETURN_IF_ERROR(s);
  Json j = Json::parse(value, nullptr, false);
  if (!j.is_object()) return Status::Internal("corrupt CRL state for CRL group " + group);
  State st;
  st.number = j.value("number", uint64_t{0});
  st.built_seq = j.value("built_seq", uint64_t{0});
  st.base = j.value("base", uint64_t{0});
  st.this_update = j.value("this_update", int64_t{0});
  st.next_update = j.value("next_update", int64_t{0});
  st.chunks = j.value("chunks", uint64_t{0});
  st.disabled = j.value("disabled", false);
  return std::optional<State>(st);
}

Result<CrlService::States> CrlService::ReadStates(const std::string& group) const {
  ASSIGN_OR_RETURN(std::optional<State> complete, ReadState(group, Kind::kComplete));
  ASSIGN_OR_RETURN(std::optional<State> delta, ReadState(group, Kind::kDelta));
  return States{complete, delta};
}

Result<bool> CrlService::CompleteStale(const std::optional<State>& state, uint64_t target,
                                       const CrlConfig& config) const {
  if (!state) return true;
  // Disabled: one empty CRL on the transition, then nothing changes until CRLs are enabled again.
  if (config.disable) return !state->disabled;
  if (state->disabled) return true;
  ASSIGN_OR_RETURN(int64_t expiry, ConfigDuration(config.expiry, "expiry"));
  ASSIGN_OR_RETURN(int64_t grace, ConfigDuration(config.auto_rebuild_grace_period, "auto_rebuild_grace_period"));
  grace = std::min(grace, expiry / 2);
  if (ctx_.clock->Now() >= state->next_update - grace) return true;
  // auto_rebuild (Vault's periodic rebuild) lets revocations wait for the schedule (and the delta CRL);
  // otherwise every revocation acknowledged so far must be on the CRL served.
  if (config.auto_rebuild) return false;
  return target > state->built_seq;
}

Result<bool> CrlService::DeltaStale(const States& states, uint64_t target, const CrlConfig& config) const {
  const auto& [complete, delta] = states;
  if (!delta || !complete || delta->base != complete->number) return true;
  ASSIGN_OR_RETURN(int64_t interval, ConfigDuration(config.delta_rebuild_interval, "delta_rebuild_interval"));
  const int64_t now = ctx_.clock->Now();
  if (now >= delta->next_update - interval) return true;
  if (now < delta->this_update + interval) return false;
  return target > delta->built_seq;
}

Result<std::shared_ptr<const std::string>> CrlService::Rebuild(const std::string& issuer_id, const std::string& group,
                                                               Kind kind, const States& states,
                                                               const CrlConfig& config) {
  const auto& [complete, delta] = states;
  const std::optional<State>& previous = kind == Kind::kComplete ? complete : delta;
  if (kind == Kind::kDelta && !complete) return Status::Internal("a delta CRL needs a complete CRL first");
  ASSIGN_OR_RETURN(std::string signer_id, CrlSignerOf(issuer_id, group));
  ASSIGN_OR_RETURN(std::shared_ptr<const SigningIssuer> issuer, cas_->SigningIssuerFor(signer_id));
  RevocationStore revocations(ctx_.storage);
  // Read before the entries: a revocation landing during the build leaves the CRL stale, never silently missing.
  ASSIGN_OR_RETURN(uint64_t seq, revocations.Sequence(group));
  ASSIGN_OR_RETURN(int64_t expiry, ConfigDuration(config.expiry, "expiry"));

  State st;
  // Complete and delta CRLs share one increasing sequence of numbers (RFC 5280 section 5.2.3).
  st.number = std::max(complete ? complete->number : 0, delta ? delta->number : 0) + 1;
  st.built_seq = seq;
  st.this_update = ctx_.clock->Now();
  st.next_update = st.this_update + expiry;
  st.disabled = kind == Kind::kComplete && config.disable;

  CrlParams params;
  params.issuer = issuer->cert.get();
  params.key = issuer->key.get();
  const RevocationSigning algorithm = RevocationSigningOf(issuer->entry);
  params.signature_bits = algorithm.signature_bits;
  params.use_pss = algorithm.use_pss;
  params.number = st.number;
  params.this_update = st.this_update;
  params.next_update = st.next_update;
  // Vault's guard against runaway revocations: past max_crl_entries the CRL is not built.
  uint64_t listed = 0;
  auto within_limit = [&](size_t more) -> Status {
    listed += more;
    if (config.max_crl_entries >= 0 && listed > static_cast<uint64_t>(config.max_crl_entries)) {
      return Status::BadRequest("error building CRL: revocation list size (" + std::to_string(listed) +
                                " so far) exceeds configured maximum (" + std::to_string(config.max_crl_entries) +
                                "); raise max_crl_entries in config/crl or tidy revoked certificates");
    }
    return Status::Ok();
  };
  CrlEntrySource source;
  std::string cursor;
  uint64_t after_seq = kind == Kind::kDelta ? complete->built_seq : 0;
  bool done = st.disabled;
  if (kind == Kind::kDelta) {
    st.base = complete->number;
    params.delta_base = complete->number;
    // Each revocation moves the group's count two steps (before and after its record; RevocationStore::Add).
    params.expected_entries =
        static_cast<size_t>(std::min<uint64_t>((seq - std::min(seq, after_seq) + 1) / 2, 50'000'000));
    source = [&](std::vector<CrlEntry>* out) -> Result<bool> {
      std::vector<std::pair<std::string, int64_t>> entries;
      ASSIGN_OR_RETURN(bool more, revocations.ReadSince(group, &after_seq, kEntryBatch, &entries));
      RETURN_IF_ERROR(within_limit(entries.size()));
      for (auto& [serial, t] : entries) out->push_back(CrlEntry{std::move(serial), t, -1});
      return more;
    };
  } else {
    // While delta CRLs are on, complete CRLs say where they are (OpenBao's Freshest CRL; RFC 5280 section 5.2.6).
    if (config.enable_delta) {
      ASSIGN_OR_RETURN(UrlConfig urls, ReadUrlConfig(ctx_.storage));
      params.freshest_crl_urls = urls.delta_crl_distribution_points;
    }
    // The group's revocation count bounds the entries, but tidy moves it on too: the mount's count of revocations
    // (all groups) is the tighter bound. A reservation only; a low guess costs a regrowth, not an error.
    ASSIGN_OR_RETURN(int64_t revoked_now, revocations.Count());
    uint64_t bound = std::min<uint64_t>(seq, static_cast<uint64_t>(std::max<int64_t>(revoked_now, 0)));
    params.expected_entries = st.disabled ? 0 : static_cast<size_t>(std::min<uint64_t>(bound, 50'000'000));
    source = [&](std::vector<CrlEntry>* out) -> Result<bool> {
      if (done) return false;
      std::vector<std::pair<std::string, int64_t>> entries;
      ASSIGN_OR_RETURN(bool more, revocations.ReadEntries(group, &cursor, kEntryBatch, &entries));
      RETURN_IF_ERROR(within_limit(entries.size()));
      for (auto& [serial, t] : entries) out->push_back(CrlEntry{std::move(serial), t, -1});
      done = !more;
      return more;
    };
  }
  ASSIGN_OR_RETURN(std::string der, BuildCrlDer(params, source));

  // The new chunks first, each in its own write, unsynced: a CRL of tens of megabytes is never copied whole into
  // one batch, and RocksDB flushes the chunks' memtables while they stream in (storage/rocksdb_storage.h). They are
  // under the new CRL number, which nothing reads until the state names it. Then, in one synced batch, the state
  // naming them and the deletion of the previous CRL's chunks. The sync makes the earlier chunk writes durable
  // too, and storage applies writes in order (a crash loses at most a suffix of them), so a state is never
  // durable without its chunks. A crash before the state leaves chunks under a number that the next build reuses
  // (it derives the number from the durable states) and overwrites; chunks it does not overwrite are deleted with
  // the rest of that number's chunks when its CRL is replaced, since the deletion lists the number's keys.
  st.chunks = (der.size() + kChunkSize - 1) / kChunkSize;
  for (uint64_t i = 0; i < st.chunks; ++i) {
    WriteBatch chunk;
    chunk.Put(ChunkKey(group, st.number, i), der.substr(i * kChunkSize, kChunkSize));
    RETURN_IF_ERROR(ctx_.storage->WriteUnsynced(chunk));
  }
  WriteBatch batch;
  Json state = {{"number", st.number},           {"built_seq", st.built_seq}, {"base", st.base},
                {"this_update", st.this_update}, {"next_update", st.next_update},
                {"chunks", st.chunks},           {"disabled", st.disabled},   {"size", der.size()}};
  batch.Put(StateKey(group, kind), state.dump());
  if (previous && previous->number != st.number) {
    const std::string prefix = ChunkPrefix(group, previous->number);
    std::vector<std::string> old_chunks;
    RETURN_IF_ERROR(ctx_.storage->List(prefix, "", 0, &old_chunks));
    for (const auto& k : old_chunks) batch.Delete(prefix + k);
  }
  RETURN_IF_ERROR(ctx_.storage->Write(batch));
  // A complete CRL now lists every revocation up to `seq`: the delta index before it is no longer needed.
  if (kind == Kind::kComplete) RETURN_IF_ERROR(revocations.PruneDeltaIndex(group, seq));

  auto shared = std::make_shared<const std::string>(std::move(der));
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_[{group, kind}] = Cached{st.number, shared};
  return shared;
}

Result<std::shared_ptr<const std::string>> CrlService::Load(const std::string& group, Kind kind,
                                                            const State& state) {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find({group, kind});
    // A newer CRL than the state this reader saw is as good (a rebuild finished meanwhile).
    if (it != cache_.end() && it->second.number >= state.number) return it->second.der;
  }
  std::string der;
  for (uint64_t i = 0; i < state.chunks; ++i) {
    std::string chunk;
    Status s = ctx_.storage->Get(ChunkKey(group, state.number, i), &chunk);
    if (s.IsNotFound()) {
      // Replaced while being read (by another node, or before this one cached it): read the new one.
      ASSIGN_OR_RETURN(std::optional<State> now, ReadState(group, kind));
      if (!now || now->number == state.number) return Status::Internal("the CRL's stored chunks are missing");
      return Load(group, kind, *now);
    }
    RETURN_IF_ERROR(s);
    der += chunk;
  }
  auto shared = std::make_shared<const std::string>(std::move(der));
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto& slot = cache_[{group, kind}];
  if (slot.number <= state.number) slot = Cached{state.number, shared};
  return shared;
}

Result<std::string> CrlService::CrlSignerOf(const std::string& issuer_id, const std::string& group) const {
  ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
  const IssuerEntry* self = snap->FindIssuer(issuer_id);
  auto can_sign = [](const IssuerEntry& e) { return !e.key_id.empty() && e.HasUsage(kUsageCrlSigning); };
  if (self && can_sign(*self)) return self->issuer_id;
  for (const auto& e : snap->issuers) {
    if (can_sign(e) && e.crl_group == group) return e.issuer_id;
  }
  if (self) RETURN_IF_ERROR(self->EnsureUsage(kUsageCrlSigning));
  return Status::BadRequest("no issuer with a key and the crl-signing usage can sign the CRL of issuer " + issuer_id);
}

Result<std::shared_ptr<const std::string>> CrlService::Current(const std::string& issuer_id) {
  ASSIGN_OR_RETURN(CrlConfig config, ReadCrlConfig(ctx_.storage));
  ASSIGN_OR_RETURN(std::string group, CrlGroupOf(*cas_, issuer_id));
  // What this read must see: every revocation acknowledged before it started. Revocations landing while it waits
  // for a rebuild are the next read's business, so queued readers share one rebuild under steady revocations.
  ASSIGN_OR_RETURN(uint64_t target, RevocationStore(ctx_.storage).Sequence(group));
  ASSIGN_OR_RETURN(std::optional<State> state, ReadState(group, Kind::kComplete));
  ASSIGN_OR_RETURN(bool stale, CompleteStale(state, target, config));
  if (!stale) return Load(group, Kind::kComplete, *state);
  // One rebuild at a time; whoever waited behind it finds the CRL fresh and shares it.
  std::lock_guard<std::mutex> lock(build_mu_);
  ASSIGN_OR_RETURN(States states, ReadStates(group));
  ASSIGN_OR_RETURN(stale, CompleteStale(states.first, target, config));
  if (!stale) return Load(group, Kind::kComplete, *states.first);
  return Rebuild(issuer_id, group, Kind::kComplete, states, config);
}

Result<std::shared_ptr<const std::string>> CrlService::CurrentDelta(const std::string& issuer_id) {
  ASSIGN_OR_RETURN(CrlConfig config, ReadCrlConfig(ctx_.storage));
  if (!config.enable_delta || config.disable) return std::shared_ptr<const std::string>();
  RETURN_IF_ERROR(Current(issuer_id).status());  // the base must be current first
  ASSIGN_OR_RETURN(std::string group, CrlGroupOf(*cas_, issuer_id));
  ASSIGN_OR_RETURN(uint64_t target, RevocationStore(ctx_.storage).Sequence(group));
  ASSIGN_OR_RETURN(States states, ReadStates(group));
  ASSIGN_OR_RETURN(bool stale, DeltaStale(states, target, config));
  if (!stale) return Load(group, Kind::kDelta, *states.second);
  std::lock_guard<std::mutex> lock(build_mu_);
  ASSIGN_OR_RETURN(states, ReadStates(group));
  ASSIGN_OR_RETURN(stale, DeltaStale(states, target, config));
  if (!stale) return Load(group, Kind::kDelta, *states.second);
  return Rebuild(issuer_id, group, Kind::kDelta, states, config);
}

Result<std::vector<std::string>> CrlService::RotateAll(Kind kind) {
  ASSIGN_OR_RETURN(CrlConfig config, ReadCrlConfig(ctx_.storage));
  std::vector<std::string> warnings;
  if (kind == Kind::kDelta && (!config.enable_delta || config.disable)) return warnings;
  ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
  std::lock_guard<std::mutex> lock(build_mu_);
  std::set<std::string> groups;
  for (const auto& issuer : snap->issuers) {
    if (issuer.key_id.empty() || !issuer.HasUsage(kUsageCrlSigning)) continue;  // no key, no CRL (as Vault)
    const std::string& group = issuer.crl_group;
    if (!groups.insert(group).second) continue;  // one CRL per subject and key
    ASSIGN_OR_RETURN(States states, ReadStates(group));
    Result<std::shared_ptr<const std::string>> built = Status::Internal("no complete CRL yet");
    if (kind == Kind::kComplete || states.first) built = Rebuild(issuer.issuer_id, group, kind, states, config);
    if (!built.ok()) {
      warnings.push_back("Warning " + std::to_string(warnings.size() + 1) + " during CRL rebuild: issuer " +
                         issuer.issuer_id + ": " + built.status().message());
    }
  }
  return warnings;
}

namespace {

class CrlHandlers {
 public:
  CrlHandlers(const PkiContext& ctx, CaStore* cas, std::shared_ptr<CrlService> crls)
      : ctx_(ctx), cas_(cas), crls_(std::move(crls)) {}

  Result<Response> CrlDer(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto der, DefaultCrl());
    if (!der) return Response::Raw(kCrlContentType, "", 204);
    return Response::Raw(kCrlContentType, **der);
  }

  Result<Response> CrlPem(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto der, DefaultCrl());
    if (!der) return Response::Raw(kPemContentType, "", 204);
    return Response::Raw(kPemContentType, DerToPem(**der, "X509 CRL"));
  }

  // cert/crl: the CRL as PEM in "certificate", as Vault's legacy fetch path answers.
  Result<Response> CertCrl(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto der, DefaultCrl());
    if (!der) return Response::Nil();
    std::string pem = DerToPem(**der, "X509 CRL");
    while (!pem.empty() && pem.back() == '\n') pem.pop_back();
    return Response::Data({{"certificate", pem}, {"revocation_time", 0}, {"revocation_time_rfc3339", ""}});
  }

  Result<Response> DeltaDer(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto der, DefaultDelta());
    if (!der) return Response::Raw(kCrlContentType, "", 204);
    return Response::Raw(kCrlContentType, *der);
  }

  Result<Response> DeltaPem(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto der, DefaultDelta());
    if (!der) return Response::Raw(kPemContentType, "", 204);
    return Response::Raw(kPemContentType, DerToPem(*der, "X509 CRL"));
  }

  Result<Response> CertDeltaCrl(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(auto der, DefaultDelta());
    if (!der) return Response::Nil();
    std::string pem = DerToPem(*der, "X509 CRL");
    while (!pem.empty() && pem.back() == '\n') pem.pop_back();
    return Response::Data({{"certificate", pem}, {"revocation_time", 0}, {"revocation_time_rfc3339", ""}});
  }

  Result<Response> Rotate(const Request&, const FieldData&) { return RotateKind(CrlService::Kind::kComplete); }
  Result<Response> RotateDelta(const Request&, const FieldData&) { return RotateKind(CrlService::Kind::kDelta); }

  Result<Response> ReadConfig(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(CrlConfig c, ReadCrlConfig(ctx_.storage));
    return Response::Data(CrlConfigToJson(c));
  }

  // POST config/crl: a partial update, validated as Vault validates it; a change that alters what the CRL says
  // (disable, expiry) rebuilds now.
  Result<Response> WriteConfig(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(CrlConfig c, ReadCrlConfig(ctx_.storage));
    const CrlConfig before = c;
    auto str = [&](const char* k, std::string* v) {
      if (f.Has(k)) *v = f.GetString(k);
    };
    auto flag = [&](const char* k, bool* v) {
      if (f.Has(k)) *v = f.GetBool(k);
    };
    str("expiry", &c.expiry);
    flag("disable", &c.disable);
    flag("ocsp_disable", &c.ocsp_disable);
    str("ocsp_expiry", &c.ocsp_expiry);
    flag("auto_rebuild", &c.auto_rebuild);
    str("auto_rebuild_grace_period", &c.auto_rebuild_grace_period);
    flag("enable_delta", &c.enable_delta);
    str("delta_rebuild_interval", &c.delta_rebuild_interval);
    flag("ocsp_unknown_good", &c.ocsp_unknown_good);
    if (f.Has("max_crl_entries")) {
      int64_t v = f.GetInt("max_crl_entries");
      if (v == -1 || v > 0) c.max_crl_entries = v;
    }
    // Vault Enterprise's cross-cluster revocation and unified CRLs: accepted off, refused on (as Vault CE does).
    if (f.GetBool("unified_crl_on_existing_paths") && !f.GetBool("unified_crl")) {
      return Status::BadRequest("unified_crl_on_existing_paths cannot be enabled if unified_crl is disabled");
    }
    if (f.GetBool("cross_cluster_revocation")) {
      return Status::BadRequest(
          "Global, cross-cluster revocation queue (cross_cluster_revocation) can only be enabled on Vault "
          "Enterprise.");
    }
    if (f.GetBool("unified_crl")) return Status::BadRequest("unified_crl can only be enabled on Vault Enterprise");

    ASSIGN_OR_RETURN(int64_t expiry, ConfigDuration(c.expiry, "expiry"));
    ASSIGN_OR_RETURN(int64_t ocsp_expiry, ConfigDuration(c.ocsp_expiry, "ocsp_expiry"));
    if (ocsp_expiry < 0) return Status::BadRequest("ocsp_expiry must be greater than or equal to 0");
    ASSIGN_OR_RETURN(int64_t grace, ConfigDuration(c.auto_rebuild_grace_period, "auto_rebuild_grace_period"));
    ASSIGN_OR_RETURN(int64_t delta, ConfigDuration(c.delta_rebuild_interval, "delta_rebuild_interval"));
    if (c.auto_rebuild && grace >= expiry) {
      return Status::BadRequest("CRL auto-rebuilding grace period (" + c.auto_rebuild_grace_period +
                                ") must be strictly shorter than CRL expiry (" + c.expiry +
                                ") value when auto-rebuilding of CRLs is enabled");
    }
    if (c.enable_delta && !c.auto_rebuild) {
      return Status::BadRequest(
          "Delta CRLs cannot be enabled when auto rebuilding is disabled as the complete CRL is always regenerated!");
    }
    if (c.enable_delta && delta >= expiry) {
      return Status::BadRequest("CRL delta rebuild window (" + c.delta_rebuild_interval +
                                ") must be strictly shorter than CRL expiry (" + c.expiry +
                                ") value when delta CRLs are enabled");
    }

    Json stored = CrlConfigToJson(c);
    stored["version"] = 1;
    RETURN_IF_ERROR(ctx_.storage->Put(kConfigKey, stored.dump()));
    Response r = Response::Data(CrlConfigToJson(c));
    if (c.disable != before.disable || c.expiry != before.expiry || c.auto_rebuild != before.auto_rebuild ||
        c.enable_delta != before.enable_delta) {
      ASSIGN_OR_RETURN(r.warnings, crls_->RotateAll());
    }
    return r;
  }

  // issuer/:issuer_ref/crl[/delta][/der|/pem]: one issuer's CRLs (its CRL group's), JSON {"crl": PEM} or raw.
  enum class Form { kJson, kDer, kPem };
  Result<Response> IssuerCrl(const FieldData& f, CrlService::Kind kind, Form form) {
    std::string ref = f.GetString("issuer_ref");
    ASSIGN_OR_RETURN(std::optional<IssuerEntry> issuer, cas_->ResolveIssuer(ref));
    if (!issuer) return Status::BadRequest("unable to find PKI issuer for reference: " + ref);
    std::shared_ptr<const std::string> der;
    if (kind == CrlService::Kind::kComplete) {
      ASSIGN_OR_RETURN(der, crls_->Current(issuer->issuer_id));
    } else {
      ASSIGN_OR_RETURN(der, crls_->CurrentDelta(issuer->issuer_id));
    }
    switch (form) {
      case Form::kDer:
        return der ? Response::Raw(kCrlContentType, *der) : Response::Raw(kCrlContentType, "", 204);
      case Form::kPem:
        return der ? Response::Raw(kPemContentType, DerToPem(*der, "X509 CRL"))
                   : Response::Raw(kPemContentType, "", 204);
      case Form::kJson:
        break;
    }
    if (!der) return Response::Data({{"crl", ""}});
    std::string pem = DerToPem(*der, "X509 CRL");
    while (!pem.empty() && pem.back() == '\n') pem.pop_back();
    return Response::Data({{"crl", pem}});
  }
  Result<Response> IssuerCrlJson(const Request&, const FieldData& f) {
    return IssuerCrl(f, CrlService::Kind::kComplete, Form::kJson);
  }
  Result<Response> IssuerCrlDer(const Request&, const FieldData& f) {
    return IssuerCrl(f, CrlService::Kind::kComplete, Form::kDer);
  }
  Result<Response> IssuerCrlPem(const Request&, const FieldData& f) {
    return IssuerCrl(f, CrlService::Kind::kComplete, Form::kPem);
  }
  Result<Response> IssuerDeltaJson(const Request&, const FieldData& f) {
    return IssuerCrl(f, CrlService::Kind::kDelta, Form::kJson);
  }
  Result<Response> IssuerDeltaDer(const Request&, const FieldData& f) {
    return IssuerCrl(f, CrlService::Kind::kDelta, Form::kDer);
  }
  Result<Response> IssuerDeltaPem(const Request&, const FieldData& f) {
    return IssuerCrl(f, CrlService::Kind::kDelta, Form::kPem);
  }

 private:
  Result<Response> RotateKind(CrlService::Kind kind) {
    ASSIGN_OR_RETURN(std::vector<std::string> warnings, crls_->RotateAll(kind));
    Response r = Response::Data({{"success", true}});
    r.warnings = std::move(warnings);
    return r;
  }

  // The default issuer's delta CRL; null when there is none (no CA, or delta CRLs not enabled).
  Result<std::shared_ptr<const std::string>> DefaultDelta() {
    ASSIGN_OR_RETURN(std::optional<IssuerEntry> issuer, cas_->ResolveIssuer("default"));
    if (!issuer || issuer->key_id.empty()) return std::shared_ptr<const std::string>();
    return crls_->CurrentDelta(issuer->issuer_id);
  }

  // The default issuer's CRL; nullopt when the mount has no default issuer with a key (Vault answers 204).
  Result<std::optional<std::shared_ptr<const std::string>>> DefaultCrl() {
    ASSIGN_OR_RETURN(std::optional<IssuerEntry> issuer, cas_->ResolveIssuer("default"));
    if (!issuer || issuer->key_id.empty()) return std::optional<std::shared_ptr<const std::string>>();
    ASSIGN_OR_RETURN(auto der, crls_->Current(issuer->issuer_id));
    return std::optional<std::shared_ptr<const std::string>>(std::move(der));
  }

  PkiContext ctx_;
  CaStore* cas_;
  std::shared_ptr<CrlService> crls_;
};

}  // namespace

std::vector<PathSpec> CrlPaths(const PkiContext& ctx, CaStore* cas, std::shared_ptr<CrlService> crls) {
  auto h = std::make_shared<CrlHandlers>(ctx, cas, std::move(crls));
  auto read_path = [&](const char* pattern, auto method, bool unauth, const char* help) {
    PathSpec p{pattern, {}, {}, unauth, help};
    p.operations[Operation::kRead] = BindHandler(h, method);
    return p;
  };
  std::vector<PathSpec> paths;
  paths.push_back(read_path("crl", &CrlHandlers::CrlDer, true, "The default issuer's CRL (DER)."));
  paths.push_back(read_path("crl/pem", &CrlHandlers::CrlPem, true, "The default issuer's CRL (PEM)."));
  paths.push_back(read_path("cert/crl", &CrlHandlers::CertCrl, true, "The default issuer's CRL, PEM in JSON."));
  paths.push_back(read_path("crl/delta", &CrlHandlers::DeltaDer, true, "The default issuer's delta CRL (DER)."));
  paths.push_back(read_path("crl/delta/pem", &CrlHandlers::DeltaPem, true, "The default issuer's delta CRL (PEM)."));
  paths.push_back(read_path("cert/delta-crl", &CrlHandlers::CertDeltaCrl, true, "The delta CRL, PEM in JSON."));
  FieldSchemas issuer_ref{{"issuer_ref", {FieldType::kString, nullptr, "Issuer id, name, or \"default\"."}}};
  auto issuer_path = [&](const char* pattern, auto method, const char* help) {
    PathSpec p = read_path(pattern, method, true, help);
    p.fields = issuer_ref;
    return p;
  };
  paths.push_back(issuer_path("issuer/:issuer_ref/crl", &CrlHandlers::IssuerCrlJson, "An issuer's CRL, PEM in JSON."));
  paths.push_back(issuer_path("issuer/:issuer_ref/crl/der", &CrlHandlers::IssuerCrlDer, "An issuer's CRL (DER)."));
  paths.push_back(issuer_path("issuer/:issuer_ref/crl/pem", &CrlHandlers::IssuerCrlPem, "An issuer's CRL (PEM)."));
  paths.push_back(
      issuer_path("issuer/:issuer_ref/crl/delta", &CrlHandlers::IssuerDeltaJson, "An issuer's delta CRL, in JSON."));
  paths.push_back(
      issuer_path("issuer/:issuer_ref/crl/delta/der", &CrlHandlers::IssuerDeltaDer, "An issuer's delta CRL (DER)."));
  paths.push_back(
      issuer_path("issuer/:issuer_ref/crl/delta/pem", &CrlHandlers::IssuerDeltaPem, "An issuer's delta CRL (PEM)."));
  paths.push_back(read_path("crl/rotate", &CrlHandlers::Rotate, false, "Rebuild every issuer's CRL now."));
  paths.push_back(read_path("crl/rotate-delta", &CrlHandlers::RotateDelta, false, "Rebuild the delta CRLs now."));
  PathSpec config = read_path("config/crl", &CrlHandlers::ReadConfig, false, "CRL and OCSP configuration.");
  auto duration = [](const char* help) { return FieldSchema{FieldType::kString, nullptr, help}; };
  auto flag = [](const char* help) { return FieldSchema{FieldType::kBool, nullptr, help}; };
  config.fields["expiry"] = duration("How long a CRL is valid (nextUpdate - thisUpdate); default 72h.");
  config.fields["disable"] = flag("Stop updating CRLs (one empty CRL is left in place).");
  config.fields["ocsp_disable"] = flag("Answer OCSP requests with unauthorized.");
  config.fields["ocsp_expiry"] = duration("How long OCSP responses are valid; 0 omits nextUpdate; default 12h.");
  config.fields["auto_rebuild"] = flag("Rebuild CRLs on schedule instead of after each revocation.");
  config.fields["auto_rebuild_grace_period"] = duration("Rebuild this long before nextUpdate; default 12h.");
  config.fields["enable_delta"] = flag("Also publish delta CRLs (needs auto_rebuild).");
  config.fields["delta_rebuild_interval"] = duration("How often delta CRLs are rebuilt; default 15m.");
  config.fields["max_crl_entries"] = {FieldType::kInt, nullptr,
                                     "Most entries a CRL may hold; -1 (the default) for no limit."};
  config.fields["cross_cluster_revocation"] = flag("Vault Enterprise only: accepted false, refused true.");
  config.fields["unified_crl"] = flag("Vault Enterprise only: accepted false, refused true.");
  config.fields["unified_crl_on_existing_paths"] = flag("Vault Enterprise only: accepted false, refused true.");
  config.fields["ocsp_unknown_good"] = flag("OCSP answers good, as Vault does, for serials the mount has no record "
                                            "of (no_store certificates); default false: unknown.");
  config.operations[Operation::kUpdate] = BindHandler(h, &CrlHandlers::WriteConfig);
  paths.push_back(config);
  return paths;
}

}  // namespace pki
