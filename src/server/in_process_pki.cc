#include "src/server/in_process_pki.h"

#include "src/pki/backend.h"
#include "storage/rocksdb_storage.h"

namespace pki::server {
namespace {

// One mount's engine and the storage under it.
class InProcessPkiBackend final : public MountedBackend {
 public:
  InProcessPkiBackend(std::unique_ptr<RocksDBStorage> storage, const PkiContext& ctx)
      : storage_(std::move(storage)) {
    PkiContext c = ctx;
    c.storage = storage_.get();
    engine_ = NewPkiBackend(c);
  }

  Result<Response> HandleRequest(const Request& req) override { return engine_->HandleRequest(req); }
  std::vector<std::string> UnauthenticatedPaths() const override { return engine_->UnauthenticatedPaths(); }
  std::vector<std::string> RootPaths() const override { return engine_->RootPaths(); }
  bool Serving() const override { return engine_ != nullptr; }

  // The mount's data directory is the database itself; its seal key is the server's (pki-seal.key).
  Result<std::vector<BackupItem>> Checkpoint(const std::string& dir) override {
    RETURN_IF_ERROR(storage_->Checkpoint(dir));
    return std::vector<BackupItem>{{"", "RocksDB checkpoint"}};
  }

  Status Close() override {
    engine_.reset();  // before the storage it uses
    return storage_->Flush();
  }

 private:
  std::unique_ptr<RocksDBStorage> storage_;  // declared first: destroyed after engine_
  std::unique_ptr<LogicalBackend> engine_;   // reset by Close(), after the last request
};

}  // namespace

Result<std::unique_ptr<InProcessPkiFactory>> InProcessPkiFactory::Create(const std::string& seal_key_file,
                                                                         const Clock* clock) {
  ASSIGN_OR_RETURN(std::unique_ptr<KeySealer> sealer, OpenAesGcmSealer(seal_key_file));
  return std::unique_ptr<InProcessPkiFactory>(new InProcessPkiFactory(std::move(sealer), clock));
}

Result<std::unique_ptr<MountedBackend>> InProcessPkiFactory::Start(const MountSpec& spec, const SystemView* system) {
  if (spec.type != "pki") return Status::BadRequest("unsupported secrets engine type \"" + spec.type + "\"");
  if (auto it = spec.options.find("storage"); it != spec.options.end() && it->second != "rocksdb") {
    return Status::BadRequest("storage=" + it->second +
                              " is not available: this server hosts the PKI engine in-process with storage=rocksdb");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RocksDBStorage> storage, RocksDBStorage::Open(spec.data_dir));
  PkiContext ctx;
  ctx.clock = clock_;
  ctx.system = system;
  ctx.sealer = sealer_.get();
  return std::unique_ptr<MountedBackend>(new InProcessPkiBackend(std::move(storage), ctx));
}

}  // namespace pki::server
