// FuzzEngine: the real PKI engine over MemoryStorage with a fixed clock, set up once with a CA, roles and a few
// certificates. Every input gets an engine whose storage holds exactly that set-up: the previous input's engine
// when that input wrote nothing (rebuilding the engine costs more than most inputs), else a new one over a fresh
// copy. So an input never sees another's writes and memory stays flat over millions of runs; what an input can
// inherit is in-memory state that reads leave behind (the OCSP answer cache).
// Shared by the fuzz targets that route requests (router_fuzz, plugin_request_fuzz, ocsp_fuzz) and by the seed
// generator (fuzz_seeds), which must agree with them on the CA: its key is derived from a fixed string, so OCSP
// seeds name an issuer the engine knows.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "src/core/clock.h"
#include "src/core/text.h"
#include "src/crypto/keys.h"
#include "src/crypto/sealer.h"
#include "src/engine/request.h"
#include "src/engine/system_view.h"
#include "src/pki/backend.h"
#include "storage/memory_storage.h"

namespace pki::fuzz {

inline constexpr int64_t kFuzzNow = 1767225600;  // 2026-01-01T00:00:00Z

// The CA's Ed25519 key: its seed is SHA-256 of a fixed text, so every process derives the same key.
inline ossl::PKey FixedCaKey() {
  static constexpr char kLabel[] = "pki-engine fuzz CA key";
  unsigned char seed[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(kLabel), sizeof(kLabel) - 1, seed);
  return ossl::PKey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, sizeof(seed)));
}

class FixedTtls final : public SystemView {
 public:
  int64_t DefaultLeaseTtl() const override { return 768 * 3600; }
  int64_t MaxLeaseTtl() const override { return 10 * 365 * 86400; }
};

// The requests an input may not make, by the cost of the key they would generate: RSA generation takes 0.05-30 s
// (8192 bits), which libFuzzer would report as timeouts and which would cut the run to a few inputs a second.
// Everything else about those paths is still fuzzed with EC and Ed25519 keys; RSA CSRs and keys are parsed in
// csr_fuzz.
inline bool ValidKeyType(const Json& v) { return v.is_string() && (v == "ec" || v == "ed25519"); }

class FuzzEngine {
 public:
  // Storage that remembers whether anything was written through it.
  class WriteTrackingStorage final : public Storage {
   public:
    Status Get(std::string_view key, std::string* value) override { return inner_.Get(key, value); }
    Status Put(std::string_view key, std::string_view value) override {
      written_ = true;
      return inner_.Put(key, value);
    }
    Status Delete(std::string_view key) override {
      written_ = true;
      return inner_.Delete(key);
    }
    Status Write(const WriteBatch& batch) override {
      written_ = true;
      return inner_.Write(batch);
    }
    Status WriteUnsynced(const WriteBatch& batch) override {
      written_ = true;
      return inner_.WriteUnsynced(batch);
    }
    bool AtomicBatches() const override { return inner_.AtomicBatches(); }
    Status List(std::string_view prefix, std::string_view start_after, size_t limit,
                std::vector<std::string>* keys) override {
      return inner_.List(prefix, start_after, limit, keys);
    }
    Status Scan(std::string_view prefix, std::string_view start_after, size_t limit,
                std::vector<std::pair<std::string, std::string>>* entries) override {
      return inner_.Scan(prefix, start_after, limit, entries);
    }
    // Tidy writes from its own thread, which the engine's destructor joins: read it only after that.
    bool written() const { return written_.load(); }
    void ClearWritten() { written_ = false; }

   private:
    MemoryStorage inner_;
    std::atomic<bool> written_{false};
  };

  // One engine over its own copy of the set-up storage.
  struct Instance {
    WriteTrackingStorage storage;
    std::unique_ptr<PkiBackend> backend;
  };

  FuzzEngine() : clock_(kFuzzNow), sealer_(NewAesGcmSealer(std::string(32, 'k'))) {
    Instance setup;
    Open(&setup);
    ossl::PKey key = FixedCaKey();
    Must(setup, "keys/import",
         {{"pem_bundle", PrivateKeyToPem(key.get(), PrivateKeyFormat::kPkcs8).value()}, {"key_name", "fuzz-key"}});
    Must(setup, "root/generate/existing",
         {{"key_ref", "fuzz-key"}, {"common_name", "Fuzz Root"}, {"ttl", "87600h"}, {"issuer_name", "root"}});
    Must(setup, "config/urls", {{"issuing_certificates", "http://ca.example/ca"}});
    Must(setup, "roles/web", {{"allowed_domains", "example.com"}, {"allow_subdomains", true}, {"key_type", "ec"},
                              {"max_ttl", "72h"}});
    Must(setup, "roles/any", {{"allow_any_name", true}, {"key_type", "any"}, {"allowed_uri_sans", "*"},
                              {"allowed_other_sans", "*"}, {"allow_ip_sans", true}, {"generate_lease", true}});
    Response issued = Must(setup, "issue/web", {{"common_name", "a.example.com"}, {"ttl", "1h"}});
    serials_.push_back(issued.data["serial_number"].get<std::string>());
    issued = Must(setup, "issue/web", {{"common_name", "b.example.com"}, {"ttl", "1h"}});
    serials_.push_back(issued.data["serial_number"].get<std::string>());
    Must(setup, "revoke", {{"serial_number", serials_.back()}});
    ca_pem_ = Must(setup, "cert/ca", {}, Operation::kRead).data["certificate"].get<std::string>();
    std::vector<std::pair<std::string, std::string>> all;
    if (!setup.storage.Scan("", "", 0, &all).ok()) Fail("scanning the set-up storage");
    for (auto& kv : all) entries_.push_back(std::move(kv));
    setup.backend.reset();
  }

  // An engine over a copy of the set-up storage: a new one, or one given back with Reuse() whose input wrote
  // nothing.
  std::unique_ptr<Instance> Fresh() const {
    if (spare_) return std::move(spare_);
    auto in = std::make_unique<Instance>();
    for (const auto& [k, v] : entries_) (void)in->storage.Put(k, v);
    in->storage.ClearWritten();
    Open(in.get());
    return in;
  }

  // Gives an engine back after an input: kept for the next one when nothing was written through it.
  // An engine on which a tidy ran (or runs: its thread may write later) is not kept either.
  void Reuse(std::unique_ptr<Instance> in) const {
    if (in->storage.written()) return;
    Request status;
    status.operation = Operation::kRead;
    status.path = "tidy-status";
    status.mount_point = "pki/";
    Result<Response> tidy = in->backend->HandleRequest(status);
    if (!tidy.ok() || tidy->data.value("state", "") != "Inactive") return;
    spare_ = std::move(in);
  }

  // Whether handling `req` on `in` could generate an RSA key (see ValidKeyType). The engine's router says which
  // path the request reaches and what its segments capture, so trailing slashes ("root/generate/internal/") and
  // the like route here as they do in the engine.
  static bool GeneratesCostlyKey(Instance& in, const Request& req) {
    if (req.operation != Operation::kUpdate && req.operation != Operation::kCreate) return false;
    std::map<std::string, std::string> captures;
    const PathSpec* spec = in.backend->ResolvePath(req.path, &captures);
    if (spec == nullptr) return false;
    const std::string& pattern = spec->pattern;
    const Json* type = req.data.is_object() && req.data.contains("key_type") ? &req.data["key_type"] : nullptr;
    if ((pattern.ends_with("/:type") && pattern.find("generate/") != std::string::npos) ||
        pattern == "root/rotate/:type") {
      const std::string& mode = captures["type"];
      if (mode == "existing" || mode == "kms") return false;
      return type == nullptr || !ValidKeyType(*type);
    }
    if (pattern.ends_with("issue/:role")) {
      Request read;
      read.operation = Operation::kRead;
      read.path = "roles/" + captures["role"];
      read.mount_point = "pki/";
      Result<Response> role = in.backend->HandleRequest(read);
      if (!role.ok() || role->nil) return false;
      const Json& role_type = role->data["key_type"];
      if (role_type == "any") return type == nullptr || !ValidKeyType(*type);
      return !ValidKeyType(role_type);
    }
    return false;
  }

  const std::string& ca_pem() const { return ca_pem_; }
  // Serials (colon hex) of the set-up certificates: the first is good, the second revoked.
  const std::vector<std::string>& serials() const { return serials_; }

 private:
  void Open(Instance* in) const {
    PkiContext ctx;
    ctx.storage = &in->storage;
    ctx.clock = &clock_;
    ctx.system = &system_;
    ctx.sealer = sealer_.get();
    PkiBackendOptions options;
    // No auto-tidy thread: one per input would cost more than the input.
    options.tidy.auto_tidy_check_interval = std::chrono::milliseconds(0);
    in->backend = NewPkiBackend(ctx, std::move(options));
  }

  [[noreturn]] static void Fail(const std::string& what) {
    std::fprintf(stderr, "fuzz engine set-up failed: %s\n", what.c_str());
    std::abort();
  }

  static Response Must(Instance& in, const std::string& path, Json data, Operation op = Operation::kUpdate) {
    Request req;
    req.operation = op;
    req.path = path;
    req.data = std::move(data);
    req.mount_point = "pki/";
    Result<Response> r = in.backend->HandleRequest(req);
    if (!r.ok()) Fail(path + ": " + r.status().message());
    return std::move(r).value();
  }

  FakeClock clock_;
  FixedTtls system_;
  std::unique_ptr<KeySealer> sealer_;
  std::vector<std::pair<std::string, std::string>> entries_;
  mutable std::unique_ptr<Instance> spare_;
  std::vector<std::string> serials_;
  std::string ca_pem_;
};

// Requests of a router input: records of two lines, "<operation> <path>" and the JSON body (an object on one
// line, as a client would send it). A record whose operation is unknown or whose body is not a JSON object
// nested at most `max_depth` deep is skipped, as pki-server refuses it before any engine sees it.
inline std::vector<Request> ParseRecords(std::string_view input, size_t max_records, size_t max_depth,
                                         bool (*too_deep)(std::string_view, size_t)) {
  std::vector<Request> out;
  size_t pos = 0;
  auto next_line = [&](std::string_view* line) {
    if (pos >= input.size()) return false;
    size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) nl = input.size();
    *line = input.substr(pos, nl - pos);
    pos = nl + 1;
    return true;
  };
  std::string_view head, body;
  while (out.size() < max_records && next_line(&head)) {
    if (!next_line(&body)) body = "{}";
    size_t space = head.find(' ');
    if (space == std::string_view::npos) continue;
    std::string_view op = head.substr(0, space);
    Request req;
    req.mount_point = "pki/";
    req.path = std::string(head.substr(space + 1));
    bool known = false;
    for (Operation o : {Operation::kRead, Operation::kUpdate, Operation::kCreate, Operation::kDelete,
                        Operation::kList, Operation::kPatch}) {
      if (op == OperationName(o)) {
        req.operation = o;
        known = true;
      }
    }
    // pki-server refuses a path that is not UTF-8, and protobuf a pb.Request string field that is not.
    if (!known || !IsValidUtf8(req.path) || too_deep(body, max_depth)) continue;
    Json data = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (data.is_discarded() || !data.is_object()) continue;
    req.data = std::move(data);
    out.push_back(std::move(req));
  }
  return out;
}

}  // namespace pki::fuzz
