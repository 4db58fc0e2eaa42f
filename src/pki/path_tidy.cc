#include "src/pki/path_tidy.h"

#include <memory>

#include "src/core/duration.h"
#include "src/crypto/x509.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"

namespace pki {
namespace {

constexpr char kStarted[] =
    "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.";
constexpr char kNoAcme[] = "tidy_acme: this mount keeps no ACME state; there is nothing for it to tidy.";
constexpr char kNoLegacyBundle[] = "tidy_move_legacy_ca_bundle: this mount has no legacy CA bundle to move.";

class TidyHandlers {
 public:
  TidyHandlers(const PkiContext& ctx, Tidier* tidier) : ctx_(ctx), tidier_(tidier) {}

  // POST tidy: validated as Vault validates it, then started on the tidy thread (202), unless one is running.
  Result<Response> Tidy(const Request&, const FieldData& f) {
    TidyParams p;
    p.cert_store = f.GetBool("tidy_cert_store");
    p.revoked_certs = f.GetBool("tidy_revoked_certs") || f.GetBool("tidy_revocation_list");
    p.revoked_cert_issuer_associations = f.GetBool("tidy_revoked_cert_issuer_associations");
    p.expired_issuers = f.GetBool("tidy_expired_issuers");
    p.move_legacy_ca_bundle = f.GetBool("tidy_move_legacy_ca_bundle");
    p.acme = f.GetBool("tidy_acme");
    p.safety_buffer = f.GetDuration("safety_buffer");
    p.issuer_safety_buffer = f.GetDuration("issuer_safety_buffer");
    p.acme_account_safety_buffer = f.GetDuration("acme_account_safety_buffer");
    if (p.safety_buffer < 1) return Status::BadRequest("safety_buffer must be greater than zero");
    if (p.issuer_safety_buffer < 1) return Status::BadRequest("issuer_safety_buffer must be greater than zero");
    if (p.acme_account_safety_buffer < 1) {
      return Status::BadRequest("acme_account_safety_buffer must be greater than zero");
    }
    const std::string pause = f.GetString("pause_duration");
    if (!pause.empty()) {
      auto ms = ParseDurationMillis(pause);
      if (!ms.ok()) return Status::BadRequest("Error parsing pause_duration: " + ms.status().message());
      if (*ms < 0) return Status::BadRequest("received invalid, negative pause_duration");
      p.pause_ms = *ms;
    }

    Response r = Response::Data(Json::object());
    if (!tidier_->Start(p)) {
      r.warnings.push_back("Tidy operation already in progress.");
      return r;
    }
    r.status = 202;
    if (!p.AnyEnabled()) {
      r.warnings.push_back(std::string("Manual tidy requested but no tidy operations were set. Enable at least one "
                                       "tidy operation to be run (") +
                           kTidyOperationNames + ").");
    } else {
      r.warnings.push_back(kStarted);
    }
    if (p.acme) r.warnings.push_back(kNoAcme);
    if (p.move_legacy_ca_bundle) r.warnings.push_back(kNoLegacyBundle);
    return r;
  }

  Result<Response> ReadStatus(const Request&, const FieldData&) { return StatusResponse(); }

  // POST tidy-cancel: the run stops at its next checkpoint; the answer is the status, now Cancelling.
  Result<Response> Cancel(const Request&, const FieldData&) {
    if (!tidier_->Cancel()) {
      Response r = Response::Data(Json::object());
      r.warnings.push_back("Tidy operation cannot be cancelled as none is currently running.");
      return r;
    }
    return StatusResponse();
  }

  Result<Response> ReadAutoTidy(const Request&, const FieldData&) {
    ASSIGN_OR_RETURN(AutoTidyConfig c, ReadAutoTidyConfig(ctx_.storage));
    return Response::Data(AutoTidyConfigToJson(c));
  }

  // POST config/auto-tidy: a partial update with Vault's checks and texts; nothing is stored when one fails.
  Result<Response> WriteAutoTidy(const Request&, const FieldData& f) {
    ASSIGN_OR_RETURN(AutoTidyConfig c, ReadAutoTidyConfig(ctx_.storage));
    const bool was_enabled = c.enabled;
    auto flag = [&](const char* k, bool* v) {
      if (f.Has(k)) *v = f.GetBool(k);
    };
    auto buffer = [&](const char* k, const char* shown, int64_t* v) -> Status {
      if (!f.Has(k)) return Status::Ok();
      *v = f.GetDuration(k);
      if (*v < 1) {
        return Status::BadRequest(std::string("given ") + shown + " must be at least one second; got: " +
                                  std::to_string(*v));
      }
      return Status::Ok();
    };
    flag("enabled", &c.enabled);
    if (f.Has("interval_duration")) c.interval = f.GetDuration("interval_duration");
    flag("tidy_cert_store", &c.params.cert_store);
    flag("tidy_revoked_certs", &c.params.revoked_certs);
    flag("tidy_revoked_cert_issuer_associations", &c.params.revoked_cert_issuer_associations);
    RETURN_IF_ERROR(buffer("safety_buffer", "safety_buffer", &c.params.safety_buffer));
    if (f.Has("pause_duration")) {
      auto ms = ParseDurationMillis(f.GetString("pause_duration"));
      if (!ms.ok()) return Status::BadRequest("unable to parse given pause_duration: " + ms.status().message());
      if (*ms < 0) return Status::BadRequest("received invalid, negative pause_duration");
      c.params.pause_ms = *ms;
    }
    flag("tidy_expired_issuers", &c.params.expired_issuers);
    // Vault's text names safety_buffer here too.
    RETURN_IF_ERROR(buffer("issuer_safety_buffer", "safety_buffer", &c.params.issuer_safety_buffer));
    flag("tidy_move_legacy_ca_bundle", &c.params.move_legacy_ca_bundle);
    flag("tidy_acme", &c.params.acme);
    RETURN_IF_ERROR(
        buffer("acme_account_safety_buffer", "acme_account_safety_buffer", &c.params.acme_account_safety_buffer));
    if (c.enabled && !c.params.AnyEnabled()) {
      return Status::BadRequest(std::string("Auto-tidy enabled but no tidy operations were requested. Enable at "
                                            "least one tidy operation to be run (") +
                                kTidyOperationNames + ").");
    }
    flag("maintain_stored_certificate_counts", &c.maintain_stored_certificate_counts);
    flag("publish_stored_certificate_count_metrics", &c.publish_stored_certificate_count_metrics);
    if (c.publish_stored_certificate_count_metrics && !c.maintain_stored_certificate_counts) {
      return Status::BadRequest(
          "Can not publish a running storage metrics count to metrics without first maintaining that count.  "
          "Enable `maintain_stored_certificate_counts` to enable `publish_stored_certificate_count_metrics`.");
    }
    RETURN_IF_ERROR(WriteAutoTidyConfig(ctx_.storage, c));
    // As Vault: turning auto-tidy on starts its interval now rather than running at once.
    if (c.enabled && !was_enabled) tidier_->RestartAutoTidyInterval();
    return Response::Data(AutoTidyConfigToJson(c));
  }

 private:
  // tidy-status: every field Vault answers with, null until a run has set it.
  Result<Response> StatusResponse() {
    const TidyStatus s = tidier_->Snapshot();
    Json d = Json::object();
    for (const char* k : {"safety_buffer", "issuer_safety_buffer", "tidy_cert_store", "tidy_revoked_certs",
                          "tidy_revoked_cert_issuer_associations", "tidy_expired_issuers",
                          "tidy_move_legacy_ca_bundle", "tidy_acme", "pause_duration", "error", "time_started",
                          "time_finished", "message", "cert_store_deleted_count", "revoked_cert_deleted_count",
                          "missing_issuer_cert_count", "current_cert_store_count", "current_revoked_cert_count",
                          "total_acme_account_count", "acme_account_deleted_count", "acme_account_revoked_count",
                          "acme_orders_deleted_count", "acme_account_safety_buffer"}) {
      d[k] = nullptr;
    }
    d["state"] = TidyStateName(s.state);
    d["last_auto_tidy_finished"] = FormatRfc3339(s.last_auto_tidy_finished);
    Response r;
    // The engine has no backend UUID of its own: internal_backend_uuid is left out.
    if (tidier_->CountsComplete()) {
      ASSIGN_OR_RETURN(int64_t certs, CertStore(ctx_.storage).Count());
      ASSIGN_OR_RETURN(int64_t revoked, RevocationStore(ctx_.storage).Count());
      d["current_cert_store_count"] = certs;
      d["current_revoked_cert_count"] = revoked;
    } else {
      r.warnings.push_back(
          "This mount's certificates were stored before it kept counts of them; current_cert_store_count and "
          "current_revoked_cert_count are unknown.");
    }
    if (s.state != TidyState::kInactive) {
      const TidyParams& p = s.params;
      d["safety_buffer"] = p.safety_buffer;
      d["issuer_safety_buffer"] = p.issuer_safety_buffer;
      d["acme_account_safety_buffer"] = p.acme_account_safety_buffer;
      d["tidy_cert_store"] = p.cert_store;
      d["tidy_revoked_certs"] = p.revoked_certs;
      d["tidy_revoked_cert_issuer_associations"] = p.revoked_cert_issuer_associations;
      d["tidy_expired_issuers"] = p.expired_issuers;
      d["tidy_move_legacy_ca_bundle"] = p.move_legacy_ca_bundle;
      d["tidy_acme"] = p.acme;
      d["pause_duration"] = FormatGoDurationMillis(p.pause_ms);
      d["time_started"] = FormatRfc3339(s.time_started);
      d["message"] = s.message;
      d["cert_store_deleted_count"] = s.cert_store_deleted_count;
      d["revoked_cert_deleted_count"] = s.revoked_cert_deleted_count;
      d["missing_issuer_cert_count"] = s.missing_issuer_cert_count;
      // No ACME state here: a run never finds an account or order.
      for (const char* k : {"total_acme_account_count", "acme_account_deleted_count", "acme_account_revoked_count",
                            "acme_orders_deleted_count"}) {
        d[k] = 0;
      }
      switch (s.state) {
        case TidyState::kFinished:
          d["time_finished"] = FormatRfc3339(s.time_finished);
          d["message"] = nullptr;
          break;
        case TidyState::kError:
        case TidyState::kCancelled:
          // The message stays: it says where the run stopped.
          d["time_finished"] = FormatRfc3339(s.time_finished);
          d["error"] = s.error;
          break;
        default:
          break;
      }
    }
    r.data = std::move(d);
    return r;
  }

  PkiContext ctx_;
  Tidier* tidier_;
};

// The tidy switches and buffers shared by tidy and config/auto-tidy, with Vault's defaults.
FieldSchemas TidyFields() {
  auto flag = [](const char* help) { return FieldSchema{FieldType::kBool, false, help}; };
  FieldSchemas f;
  f["tidy_cert_store"] = flag("Remove expired certificates (not revoked ones) past the safety buffer.");
  f["tidy_revoked_certs"] = flag("Remove expired revoked certificates past the safety buffer, and their "
                                 "revocations (they leave the CRL).");
  f["tidy_revoked_cert_issuer_associations"] =
      flag("Repair the issuer of revocations tidy visits (expired past the safety buffer) whose issuer is gone.");
  f["tidy_expired_issuers"] = flag("Remove issuers expired past issuer_safety_buffer (never the default).");
  f["tidy_move_legacy_ca_bundle"] = flag("Accepted for Vault compatibility: this engine has no legacy CA bundle.");
  f["tidy_acme"] = flag("Accepted for Vault compatibility: this engine keeps no ACME state.");
  f["safety_buffer"] = {FieldType::kDuration, 259200, "Time past notAfter before a certificate is removed; 72h."};
  f["issuer_safety_buffer"] = {FieldType::kDuration, 31536000, "Time past notAfter before an issuer is removed."};
  f["acme_account_safety_buffer"] = {FieldType::kDuration, 2592000, "Accepted for Vault compatibility (ACME)."};
  f["pause_duration"] = {FieldType::kString, "0s", "Pause between certificates, e.g. \"500ms\"; default 0s."};
  return f;
}

}  // namespace

std::vector<PathSpec> TidyPaths(const PkiContext& ctx, Tidier* tidier) {
  auto h = std::make_shared<TidyHandlers>(ctx, tidier);
  std::vector<PathSpec> paths;

  PathSpec tidy{"tidy", TidyFields(), {}, false, "Remove expired certificates and revocations (asynchronous)."};
  tidy.fields["tidy_revocation_list"] = {FieldType::kBool, false, "Deprecated alias of tidy_revoked_certs."};
  tidy.operations[Operation::kUpdate] = BindHandler(h, &TidyHandlers::Tidy);
  paths.push_back(std::move(tidy));

  PathSpec status{"tidy-status", {}, {}, false, "The current or last tidy operation."};
  status.operations[Operation::kRead] = BindHandler(h, &TidyHandlers::ReadStatus);
  paths.push_back(std::move(status));

  PathSpec cancel{"tidy-cancel", {}, {}, false, "Cancel the running tidy operation."};
  cancel.operations[Operation::kUpdate] = BindHandler(h, &TidyHandlers::Cancel);
  paths.push_back(std::move(cancel));

  PathSpec config{"config/auto-tidy", TidyFields(), {}, false, "Automatic tidy configuration."};
  config.fields["enabled"] = {FieldType::kBool, false, "Run tidy automatically."};
  config.fields["interval_duration"] = {FieldType::kDuration, 43200,
                                        "Time from the end of one automatic run to the start of the next; 12h."};
  config.fields["maintain_stored_certificate_counts"] = {
      FieldType::kBool, false, "Accepted and echoed: this engine always maintains the counts, at no start-up cost."};
  config.fields["publish_stored_certificate_count_metrics"] = {
      FieldType::kBool, false, "Accepted and echoed (needs maintain_stored_certificate_counts); no metrics sink."};
  config.operations[Operation::kRead] = BindHandler(h, &TidyHandlers::ReadAutoTidy);
  config.operations[Operation::kUpdate] = BindHandler(h, &TidyHandlers::WriteAutoTidy);
  paths.push_back(std::move(config));
  return paths;
}

}  // namespace pki
