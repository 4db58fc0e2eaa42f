#include "src/pki/backend.h"

#include "src/engine/router.h"
#include "src/crypto/x509.h"
#include "src/pki/ca_store.h"
#include "src/pki/crl_service.h"
#include "src/pki/cert_store.h"
#include "src/pki/path_ca.h"
#include "src/pki/path_fetch.h"
#include "src/pki/path_issue.h"
#include "src/pki/path_issuers.h"
#include "src/pki/path_ocsp.h"
#include "src/pki/path_revoke.h"
#include "src/pki/path_roles.h"
#include "src/pki/path_tidy.h"
#include "src/pki/revocation.h"
#include "src/pki/role_store.h"

namespace pki {
namespace {

// The PKI engine of one mount. Thread-safe: the router is immutable, the stores guard their own caches, the
// tidier its runs.
class PkiEngine final : public PkiBackend {
 public:
  PkiEngine(const PkiContext& ctx, PkiBackendOptions options)
      : ctx_(ctx),
        certs_(ctx.storage),
        cas_(ctx),
        roles_(ctx.storage),
        tidier_(ctx, &cas_,
                options.tidy_expired_issuers ? std::move(options.tidy_expired_issuers) : ExpiredIssuerDeletion(),
                std::move(options.tidy)),
        router_(BuildPaths(ctx)) {}

  Result<bool> MaybeStartAutoTidy() override { return tidier_.MaybeStartAutoTidy(); }
  void WaitForTidy() override { tidier_.WaitForIdle(); }

  Result<Response> HandleRequest(const Request& req) override {
    // Once, before this process's first write (never during Setup, where a host's storage is not to be used).
    RETURN_IF_ERROR(tidier_.Prepare());
    if (req.operation == Operation::kRevoke) return RevokeLease(req);
    return router_.Route(req);
  }

  std::vector<std::string> UnauthenticatedPaths() const override { return router_.UnauthenticatedPatterns(); }

  // As Vault's PKI engine: creating or self-signing a root needs sudo.
  std::vector<std::string> RootPaths() const override { return {"root", "root/sign-self-issued"}; }
  std::vector<Router::Entry> PathTable() const override { return router_.Table(); }
  const PathSpec* ResolvePath(std::string_view path, std::map<std::string, std::string>* captures) const override {
    return router_.Resolve(path, captures);
  }
  // OCSP POST bodies are DER, handed over unparsed.
  std::vector<std::string> BinaryPaths() const override { return {"ocsp"}; }

  void InvalidateKey(std::string_view key) override {
    if (key.starts_with("issuer/") || key.starts_with("key/") || key == "config/issuers" || key == "config/keys") {
      cas_.Committed();
    }
  }

 private:
  // The host's lease manager revoking a certificate issued under generate_lease (Vault's secretCredsRevoke).
  Result<Response> RevokeLease(const Request& req) {
    const Json& internal = req.secret_internal_data;
    if (!internal.is_object() || internal.value("secret_type", "") != kLeaseSecretType) {
      return Status::Unsupported("unsupported operation");
    }
    auto serial_text = internal.find("serial_number");
    if (serial_text == internal.end() || !serial_text->is_string()) {
      return Status::Internal("could not find serial in internal secret data");
    }
    ASSIGN_OR_RETURN(std::string serial, ParseSerial(serial_text->get<std::string>()));
    ASSIGN_OR_RETURN(std::optional<StoredCert> cert, certs_.Get(serial));
    // A certificate tidied away since its lease began has nothing left to revoke.
    if (!cert) return Response::Nil();
    ASSIGN_OR_RETURN(RevokeOutcome outcome, RevokeStoredCertificate(ctx_, cas_, serial, *cert));
    (void)outcome;  // an expired certificate stays off the CRL, as Vault leaves it
    return Response::Nil();
  }

  std::vector<PathSpec> BuildPaths(const PkiContext& ctx) {
    std::vector<PathSpec> all;
    auto append = [&all](std::vector<PathSpec> more) {
      for (auto& p : more) all.push_back(std::move(p));
    };
    // Before the fetch paths: "cert/crl" would otherwise match "cert/:serial".
    append(CrlPaths(ctx, &cas_, std::make_shared<CrlService>(ctx, &cas_)));
    append(FetchPaths(ctx, &cas_));
    append(RolePaths(ctx, &cas_));
    append(CaPaths(ctx, &cas_));
    append(IssuerPaths(ctx, &cas_));
    append(IssuePaths(ctx, &cas_, &roles_));
    append(RevokePaths(ctx, &cas_));
    append(OcspPaths(ctx, &cas_));
    append(TidyPaths(ctx, &tidier_));
    return all;
  }

  // tidy_expired_issuers: issuers expired before the cutoff go (never the default; keys stay), through this
  // engine's CaStore so its snapshot and signing cache see the deletion.
  ExpiredIssuerTidy ExpiredIssuerDeletion() {
    return [this](int64_t not_after_cutoff) -> Result<int> {
      ASSIGN_OR_RETURN(std::vector<std::string> deleted, DeleteExpiredIssuers(ctx_.storage, cas_, not_after_cutoff));
      return static_cast<int>(deleted.size());
    };
  }

  const PkiContext ctx_;
  CertStore certs_;
  CaStore cas_;
  RoleStore roles_;
  Tidier tidier_;  // after the stores it uses: destroyed (threads joined) before them
  Router router_;  // declared last: its paths capture the stores above
};

}  // namespace

std::unique_ptr<PkiBackend> NewPkiBackend(const PkiContext& ctx, PkiBackendOptions options) {
  return std::make_unique<PkiEngine>(ctx, std::move(options));
}

}  // namespace pki
