// EngineHarness: the PKI engine over memory storage with a fake clock, for tests that need no socket.
#pragma once

#include <memory>
#include <string>

#include "src/core/clock.h"
#include "src/crypto/sealer.h"
#include "src/engine/request.h"
#include "src/engine/system_view.h"
#include "src/pki/backend.h"
#include "src/pki/ca_store.h"
#include "src/pki/revocation.h"
#include "storage/memory_storage.h"

namespace pki::testing {

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

}  // namespace pki::testing
