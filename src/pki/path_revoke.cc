#include "src/pki/path_revoke.h"

#include <memory>

#include <openssl/x509.h>

#include "src/crypto/keys.h"
#include "src/crypto/x509.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"

namespace pki {
namespace {

// Vault's guards against a file path passed where PEM contents belong.
constexpr size_t kMinCertificatePem = 75;
constexpr size_t kMinPrivateKeyPem = 64;

class RevokeHandlers {
 public:
  RevokeHandlers(const PkiContext& ctx, CaStore* cas) : ctx_(ctx), cas_(cas), certs_(ctx.storage) {}

  Result<Response> Revoke(const Request&, const FieldData& f) { return RevokeCommon(f, /*with_key=*/false); }
  Result<Response> RevokeWithKey(const Request&, const FieldData& f) { return RevokeCommon(f, /*with_key=*/true); }

  // LIST certs/revoked: colon serials, OpenBao's after/limit paging.
  Result<Response> ListRevoked(const Request&, const FieldData& f) {
    int64_t limit = f.GetInt("limit");
    if (limit < 0) return Status::BadRequest("limit must be non-negative");
    ASSIGN_OR_RETURN(auto keys, RevocationStore(ctx_.storage).List(f.GetString("after"), static_cast<size_t>(limit)));
    if (keys.empty()) return Response::Nil();
    return Response::Data({{"keys", keys}});
  }

 private:
  Result<Response> RevokeCommon(const FieldData& f, bool with_key) {
    const std::string serial_text = f.GetString("serial_number");
    const std::string cert_pem = f.GetString("certificate");
    if (serial_text.empty() && cert_pem.empty()) {
      return Status::BadRequest("The serial number or certificate to revoke must be provided.");
    }
    if (!serial_text.empty() && !cert_pem.empty()) {
      return Status::BadRequest("Must provide either the certificate or the serial to revoke; not both.");
    }
    // Only revoke-with-key declares private_key: reading an undeclared field is a programming error (FieldData).
    const std::string key_pem = with_key ? f.GetString("private_key") : std::string();
    if (with_key) {
      if (key_pem.empty()) return Status::BadRequest("Must have private key to revoke via the /revoke-with-key path.");
      if (key_pem.size() < kMinPrivateKeyPem) {
        return Status::BadRequest(
            "Provided data for private_key was too short; perhaps a path was passed to the API rather than the "
            "contents of a PEM file?");
      }
    }

    std::string serial;
    std::optional<StoredCert> cert;
    bool record_presented = false;  // a presented no_store certificate: stored once everything checks out
    if (!serial_text.empty()) {
      auto parsed = ParseSerial(serial_text);
      if (!parsed.ok()) return Status::BadRequest("certificate with serial " + serial_text + " not found.");
      serial = parsed.value();
      ASSIGN_OR_RETURN(cert, certs_.Get(serial));
      if (!cert) return Status::BadRequest("certificate with serial " + serial_text + " not found.");
    } else {
      ASSIGN_OR_RETURN(PresentedCertificate presented, LoadPresentedCertificate(cert_pem));
      serial = presented.serial;
      cert = std::move(presented.cert);
      record_presented = !presented.stored;
    }

    if (with_key) RETURN_IF_ERROR(CheckPossession(*cert, key_pem));
    if (record_presented) {
      // Checked before anything is stored: a refused request leaves no record behind.
      RETURN_IF_ERROR(RefuseIssuerSerial(*cas_, serial));
      // A serial still revoked whose record tidy_cert_store removed: the revocation stands and is answered as it
      // is. Storing the presented record again could name another notAfter than the expiry entry tidy kept for the
      // revocation, leaving two entries for one record (tidy relies on one; src/pki/tidy.h).
      ASSIGN_OR_RETURN(std::optional<RevocationRecord> existing, RevocationStore(ctx_.storage).Get(serial));
      if (existing) return RevokedAnswer(*existing);
      WriteBatch batch;
      ASSIGN_OR_RETURN(CertStore::SerialLock serial_lock, certs_.AddToBatch(&batch, serial, *cert));
      RETURN_IF_ERROR(ctx_.storage->Write(batch));
    }
    ASSIGN_OR_RETURN(RevokeOutcome outcome, RevokeStoredCertificate(ctx_, *cas_, serial, *cert));
    if (!outcome.record) {
      Response r = Response::Data(Json::object());
      r.warnings.push_back(outcome.warning);
      return r;
    }
    return RevokedAnswer(*outcome.record);
  }

  static Response RevokedAnswer(const RevocationRecord& record) {
    return Response::Data({{"revocation_time", record.revocation_time},
                           {"revocation_time_rfc3339", FormatRfc3339(record.revocation_time)},
                           {"state", "revoked"}});
  }

  struct PresentedCertificate {
    std::string serial;
    StoredCert cert;
    bool stored = false;  // the mount already has this record
  };

  // A certificate given as PEM: the stored record when the mount has one (which must be the same certificate),
  // else, when one of the mount's issuers signed it (a no_store certificate), a record to store.
  Result<PresentedCertificate> LoadPresentedCertificate(const std::string& pem) {
    if (pem.size() < kMinCertificatePem) {
      return Status::BadRequest(
          "provided certificate data was too short; perhaps a path was passed to the API rather than the contents "
          "of a PEM file");
    }
    auto parsed = ParseCertificatePem(pem);
    if (!parsed.ok()) return Status::BadRequest("unable to parse certificate: " + parsed.status().message());
    const X509* x = parsed->get();
    CertInfo info = InspectCertificate(x);
    std::string der = CertificateDer(x);
    ASSIGN_OR_RETURN(std::optional<StoredCert> stored, certs_.Get(info.serial));
    if (stored) {
      if (stored->der != der) {
        return Status::Internal(
            "certificate with same serial but unequal value already present in this cluster's storage; refusing "
            "to revoke");
      }
      return PresentedCertificate{info.serial, *stored, true};
    }
    ASSIGN_OR_RETURN(auto snap, cas_->Snapshot());
    for (const auto& issuer : snap->issuers) {
      auto ca = ParseCertificatePem(issuer.certificate);
      if (!ca.ok()) continue;
      EVP_PKEY* ca_key = X509_get0_pubkey(ca->get());
      if (ca_key == nullptr || X509_verify(const_cast<X509*>(x), ca_key) != 1) continue;
      return PresentedCertificate{info.serial, StoredCert{der, issuer.issuer_id, "", info.not_after}, false};
    }
    return Status::BadRequest(
        "unable to verify signature on presented cert from any present issuer in this mount; certificates from "
        "previous CAs will need to have their issuing CA and key re-imported if revocation is necessary");
  }

  // revoke-with-key: the private key must be the certificate's (Vault answers a mismatch as a user error, 500).
  Status CheckPossession(const StoredCert& cert, const std::string& key_pem) {
    auto key = ParsePrivateKeyPem(key_pem);
    if (!key.ok()) return Status::BadRequest("unable to parse private key: " + key.status().message());
    ASSIGN_OR_RETURN(ossl::X509Ptr x, ParseCertificateDer(cert.der));
    const EVP_PKEY* pub = X509_get0_pubkey(x.get());
    if (pub == nullptr || EVP_PKEY_get_base_id(pub) != EVP_PKEY_get_base_id(key->get())) {
      return Status::Internal("provided private key type does not match certificate's public key type");
    }
    if (!SamePublicKey(pub, key->get())) {
      return Status::Internal("provided private key does not match certificate's public key");
    }
    return Status::Ok();
  }

  PkiContext ctx_;
  CaStore* cas_;
  CertStore certs_;
};

}  // namespace

std::vector<PathSpec> RevokePaths(const PkiContext& ctx, CaStore* cas) {
  auto h = std::make_shared<RevokeHandlers>(ctx, cas);
  FieldSchemas fields;
  fields["serial_number"] = {FieldType::kString, nullptr, "Serial of the certificate to revoke, hyphen or colon hex."};
  fields["certificate"] = {FieldType::kString, nullptr, "The certificate to revoke, PEM."};
  std::vector<PathSpec> paths;
  PathSpec revoke{"revoke", fields, {}, false, "Revoke a certificate by serial number or PEM."};
  revoke.operations[Operation::kUpdate] = BindHandler(h, &RevokeHandlers::Revoke);
  paths.push_back(revoke);
  PathSpec with_key{"revoke-with-key", fields, {}, false, "Revoke a certificate, proving possession of its key."};
  with_key.fields["private_key"] = {FieldType::kString, nullptr, "The certificate's private key, PEM."};
  with_key.operations[Operation::kUpdate] = BindHandler(h, &RevokeHandlers::RevokeWithKey);
  paths.push_back(with_key);
  PathSpec list{"certs/revoked", {}, {}, false, "Serial numbers of the revoked certificates."};
  list.fields["after"] = {FieldType::kString, nullptr, "List serials after this one."};
  list.fields["limit"] = {FieldType::kInt, 0, "Maximum number of serials; 0 for all."};
  list.operations[Operation::kList] = BindHandler(h, &RevokeHandlers::ListRevoked);
  paths.push_back(list);
  return paths;
}

}  // namespace pki
