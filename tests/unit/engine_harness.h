// EngineHarness: the PKI engine over memory storage with a fake clock, for tests that need no socket.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "src/core/clock.h"
#include "src/crypto/sealer.h"
#include "src/crypto/x509.h"
#include "src/engine/request.h"
#include "src/engine/system_view.h"
#include "src/pki/backend.h"
#include "src/pki/ca_store.h"
#include "src/pki/revocation.h"
#include "storage/memory_storage.h"

namespace pki::testing {

// Options for an engine whose auto-tidy check never runs on its own (tests call MaybeStartAutoTidy or tidy).
inline PkiBackendOptions NoBackgroundCheck() {
  PkiBackendOptions o;
  o.tidy.auto_tidy_check_interval = std::chrono::milliseconds(0);
  return o;
}

class FixedSystemView final : public SystemView {
 public:
  int64_t DefaultLeaseTtl() const override { return default_ttl; }
  int64_t MaxLeaseTtl() const override { return max_ttl; }
  int64_t default_ttl = 768 * 3600;
  int64_t max_ttl = 768 * 3600;
};

class EngineHarness {
 public:
  static constexpr int64_t kStart = 1767225600;  // 2026-01-01T00:00:00Z

  explicit EngineHarness(PkiBackendOptions options = {})
      : clock(kStart), sealer(NewAesGcmSealer(std::string(32, 'k'))) {
    Reopen(std::move(options));
  }

  // A new engine over the same storage (a restart): the old one is destroyed first, its threads joined.
  void Reopen(PkiBackendOptions options = {}) {
    backend.reset();
    PkiContext ctx;
    ctx.storage = &storage;
    ctx.clock = &clock;
    ctx.system = &system;
    ctx.sealer = sealer.get();
    backend = NewPkiBackend(ctx, std::move(options));
  }

  Result<Response> Call(Operation op, const std::string& path, Json data = Json::object()) {
    Request req;
    req.operation = op;
    req.path = path;
    req.data = std::move(data);
    req.mount_point = "pki/";
    return backend->HandleRequest(req);
  }
  Result<Response> Write(const std::string& path, Json data = Json::object()) {
    return Call(Operation::kUpdate, path, std::move(data));
  }
  Result<Response> Read(const std::string& path) { return Call(Operation::kRead, path); }

  // The CRL group (storage key component of revocation indexes and CRLs) of an issuer of this mount.
  std::string CrlGroup(const std::string& issuer_id) {
    PkiContext ctx{&storage, &clock, &system, sealer.get()};
    CaStore cas(ctx);
    return CrlGroupOf(cas, issuer_id).value();
  }

  MemoryStorage storage;
  FakeClock clock;
  FixedSystemView system;
  std::unique_ptr<KeySealer> sealer;
  std::unique_ptr<PkiBackend> backend;
};

// Whether OpenSSL verifies `leaf_pem` at `at` to one of `anchors` (the only trusted certificates) through
// `untrusted` (PEMs).
inline bool VerifiesTo(const std::string& leaf_pem, const std::vector<std::string>& anchors,
                       const std::vector<std::string>& untrusted, int64_t at) {
  auto leaf = ParseCertificatePem(leaf_pem);
  if (!leaf.ok()) return false;
  std::vector<ossl::X509Ptr> owned;
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509)* chain = sk_X509_new_null();
  bool parsed = true;
  for (const auto* list : {&anchors, &untrusted}) {
    for (const auto& pem : *list) {
      auto c = ParseCertificatePem(pem);
      if (!c.ok()) {
        parsed = false;
        continue;
      }
      if (list == &anchors) {
        X509_STORE_add_cert(store, c->get());
      } else {
        sk_X509_push(chain, c->get());
      }
      owned.push_back(std::move(c).value());
    }
  }
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf->get(), chain);
  X509_STORE_CTX_set_time(ctx, 0, static_cast<time_t>(at));
  int ok = parsed ? X509_verify_cert(ctx) : 0;
  X509_STORE_CTX_free(ctx);
  sk_X509_free(chain);
  X509_STORE_free(store);
  return ok == 1;
}

struct ParsedCrl {
  long number = -1;
  long delta_base = -1;  // the Delta CRL Indicator, -1 on a complete CRL
  std::vector<std::string> serials;  // colon form
  int64_t this_update = 0;
  int64_t next_update = 0;
  bool verified = false;
  std::set<std::string> SerialSet() const { return {serials.begin(), serials.end()}; }
};

// A CRL's number, delta base, serials and times, and whether `ca_pem`'s key verifies it.
inline ParsedCrl ParseCrl(const std::string& der, const std::string& ca_pem) {
  ParsedCrl out;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509_CRL* crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()));
  if (crl == nullptr) return out;
  ASN1_INTEGER* num = static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr));
  if (num != nullptr) out.number = ASN1_INTEGER_get(num);
  ASN1_INTEGER_free(num);
  int crit = 0;
  ASN1_INTEGER* base = static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, nullptr));
  if (base != nullptr && crit == 1) out.delta_base = ASN1_INTEGER_get(base);
  ASN1_INTEGER_free(base);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
    std::string bytes(static_cast<size_t>(serial->length), '\0');
    std::copy(serial->data, serial->data + serial->length, bytes.begin());
    out.serials.push_back(FormatSerial(bytes));
  }
  out.this_update = Asn1TimeToUnix(X509_CRL_get0_lastUpdate(crl));
  out.next_update = Asn1TimeToUnix(X509_CRL_get0_nextUpdate(crl));
  auto ca = ParseCertificatePem(ca_pem);
  if (ca.ok()) out.verified = X509_CRL_verify(crl, X509_get0_pubkey(ca->get())) == 1;
  X509_CRL_free(crl);
  return out;
}

}  // namespace pki::testing
