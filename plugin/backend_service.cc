#include "plugin/backend_service.h"

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "plugin/host_storage.h"
#include "plugin/log.h"
#include "plugin/publish.h"
#include "plugin/wire.h"
#include "src/core/private_file.h"
#include "src/crypto/sealer.h"
#include "src/pki/backend.h"
#include "storage/rocksdb_storage.h"

namespace pki::plugin {
namespace {

constexpr auto kBrokerDialTimeout = std::chrono::seconds(10);
constexpr auto kRocksDbLockWait = std::chrono::seconds(15);
constexpr int64_t kVaultDefaultTtlSeconds = 768 * 3600;
// logical.BackendType: TypeLogical (a secrets engine).
constexpr uint32_t kTypeLogical = 1;
// Storage prefixes holding CA private keys: declared for seal wrapping so that a host with a seal-wrap capable
// barrier wraps them, and written with seal_wrap set.
const std::vector<std::string> kSealWrapPrefixes = {"key/"};
// Per-cluster state on Vault Enterprise performance secondaries (Vault's PKI declares its certificate and
// revocation entries the same way): issued certificates and their indexes are not replicated.
const std::vector<std::string> kLocalStoragePrefixes = {"certs/", "revoked/", "index/", "crl/"};

// The plugin's own path (answered here, before the engine's router): a checkpoint of a storage=rocksdb mount's
// database and a copy of its seal key, for backups (docs/vault.md). Declared a root path, so a host requires sudo.
constexpr char kCheckpointPath[] = "storage/checkpoint";

// Mount options the plugin reads. Vault adds plugin_name, plugin_type and plugin_version itself.
const char* const kKnownOptions[] = {"storage", "rocksdb_path", "seal_key_file", "publish_address"};

std::string KnownOptionsList() {
  std::string out;
  for (const char* o : kKnownOptions) out += (out.empty() ? "" : ", ") + std::string(o);
  return out;
}

// Lease TTLs when the host offers no SystemView (no broker): Vault's defaults.
class FixedSystemView final : public SystemView {
 public:
  int64_t DefaultLeaseTtl() const override { return kVaultDefaultTtlSeconds; }
  int64_t MaxLeaseTtl() const override { return kVaultDefaultTtlSeconds; }
};

// storage=host: the key material is written as is and protected by the host's barrier (and seal wrapping where
// the host has it), as Vault's own PKI engine stores its keys.
class BarrierSealer final : public KeySealer {
 public:
  Result<std::string> Seal(const std::string& plaintext) const override { return plaintext; }
  Result<std::string> Open(const std::string& sealed) const override { return sealed; }
};

bool IsSafePathComponent(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

Status MakePrivateDirs(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  return Status::Ok();
}

// A previous plugin of this mount whose host died may still be finishing (it exits within seconds of noticing):
// its RocksDB lock is waited for rather than failing the mount.
Result<std::unique_ptr<RocksDBStorage>> OpenRocksDbWaitingForLock(const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + kRocksDbLockWait;
  for (;;) {
    Result<std::unique_ptr<RocksDBStorage>> rocks = RocksDBStorage::Open(path);
    bool locked = !rocks.ok() && rocks.status().message().find("lock") != std::string::npos;
    if (!locked || std::chrono::steady_clock::now() > deadline) return rocks;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string OptionOr(const std::map<std::string, std::string>& opts, const std::string& key, std::string dflt) {
  auto it = opts.find(key);
  return it == opts.end() || it->second.empty() ? std::move(dflt) : it->second;
}

// SpecialPaths' answer: the engine's root, unauthenticated and binary paths, and the storage prefixes this
// adapter declares.
pb::Paths SpecialPathsOf(const LogicalBackend& engine) {
  pb::Paths paths;
  for (const auto& p : engine.RootPaths()) paths.add_root(p);
  for (const auto& p : engine.BinaryPaths()) paths.add_binary(p);
  for (const auto& p : engine.UnauthenticatedPaths()) paths.add_unauthenticated(p);
  for (const auto& p : kLocalStoragePrefixes) paths.add_local_storage(p);
  for (const auto& p : kSealWrapPrefixes) paths.add_seal_wrap_storage(p);
  paths.add_root(kCheckpointPath);
  return paths;
}

}  // namespace

struct BackendService::Mount {
  std::unique_ptr<RocksDBStorage> rocks;   // storage=rocksdb
  std::string rocksdb_path;                // storage=rocksdb: the directory of `rocks`
  std::string seal_key_file;               // storage=rocksdb: the key sealing the CA keys in `rocks`
  std::unique_ptr<Storage> host_storage;   // storage=host
  std::unique_ptr<KeySealer> sealer;
  std::unique_ptr<SystemView> system;
  std::unique_ptr<LogicalBackend> engine;  // null after a probe Setup (no storage)
  // publish_address: serves `engine` on its own threads without taking BackendService::mu_. Declared after the
  // engine so that it is destroyed first, and stopped first in Close: the engine outlives every request it serves.
  std::unique_ptr<Publisher> publisher;

  Status Close() {
    if (publisher) publisher->Stop();
    publisher.reset();
    engine.reset();
    if (rocks) {
      Status s = rocks->Flush();
      rocks.reset();
      return s;
    }
    return Status::Ok();
  }
};

BackendService::BackendService(BrokerService* broker, const Clock* clock, std::string working_dir)
    : broker_(broker),
      clock_(clock),
      working_dir_(std::move(working_dir)),
      // The engine's special paths do not depend on the mount: read them once off an engine without storage.
      special_(SpecialPathsOf(*NewPkiBackend(PkiContext{}))) {}

BackendService::~BackendService() { Close(); }

void BackendService::Close() {
  std::unique_lock lock(mu_);
  if (!mount_) return;
  if (Status s = mount_->Close(); !s.ok()) Log(LogLevel::kError, "closing storage failed", {{"error", s.message()}});
  mount_.reset();
}

grpc::Status BackendService::Setup(grpc::ServerContext*, const pb::SetupArgs* args, pb::SetupReply* reply) {
  std::map<std::string, std::string> opts(args->config().begin(), args->config().end());
  for (const auto& [k, v] : opts) {
    if (k.rfind("plugin_", 0) == 0) continue;
    bool known = false;
    for (const char* o : kKnownOptions) known = known || k == o;
    if (!known) {
      reply->set_err("unknown mount option \"" + k + "\" (known: " + KnownOptionsList() + ")");
      return grpc::Status::OK;
    }
  }
  const std::string storage_kind = OptionOr(opts, "storage", "rocksdb");
  if (storage_kind != "rocksdb" && storage_kind != "host") {
    reply->set_err("invalid storage \"" + storage_kind + "\": use storage=rocksdb or storage=host");
    return grpc::Status::OK;
  }
  // Checked before the current mount is let go, so that a typo does not cost it.
  std::optional<PublishAddress> publish;
  if (const std::string text = OptionOr(opts, "publish_address", ""); !text.empty()) {
    Result<PublishAddress> parsed = ParsePublishAddress(text);
    if (!parsed.ok()) {
      reply->set_err(parsed.status().message());
      return grpc::Status::OK;
    }
    publish = parsed.value();
  }

  // A second Setup replaces the first: close the old storage before opening (RocksDB locks its directory), and
  // the old listener before binding (the new one most likely wants the same port).
  std::unique_lock lock(mu_);
  if (mount_) {
    (void)mount_->Close();
    mount_.reset();
  }

  auto mount = std::make_unique<Mount>();
  std::shared_ptr<grpc::Channel> channel;
  if (args->broker_id() != 0) {
    Result<std::shared_ptr<grpc::Channel>> dialled = broker_->Dial(args->broker_id(), kBrokerDialTimeout);
    if (!dialled.ok()) {
      reply->set_err("cannot reach the host's storage: " + dialled.status().message());
      return grpc::Status::OK;
    }
    channel = std::move(dialled.value());
    mount->system = std::make_unique<HostSystemView>(channel);
  } else {
    mount->system = std::make_unique<FixedSystemView>();
  }

  const std::string& uuid = args->backenduuid();
  Storage* storage = nullptr;
  if (storage_kind == "host") {
    if (!channel) {
      reply->set_err("storage=host needs the host's broker, and this host offered none");
      return grpc::Status::OK;
    }
    mount->host_storage = std::make_unique<HostStorage>(channel, kSealWrapPrefixes);
    mount->sealer = std::make_unique<BarrierSealer>();
    storage = mount->host_storage.get();
  } else if (!uuid.empty() || opts.count("rocksdb_path") > 0) {
    std::string path;
    if (opts.count("rocksdb_path") > 0) {
      path = opts["rocksdb_path"];
    } else if (IsSafePathComponent(uuid)) {
      path = (std::filesystem::path(working_dir_) / "pki-plugin-data" / uuid).string();
    } else {
      reply->set_err("backend UUID \"" + uuid + "\" cannot name a directory; set rocksdb_path");
      return grpc::Status::OK;
    }
    std::string key_file = OptionOr(opts, "seal_key_file", path + ".seal-key");
    if (Status s = MakePrivateDirs(std::filesystem::path(path).parent_path()); !s.ok()) {
      reply->set_err(s.message());
      return grpc::Status::OK;
    }
    Result<std::unique_ptr<RocksDBStorage>> rocks = OpenRocksDbWaitingForLock(path);
    if (!rocks.ok()) {
      reply->set_err("cannot open RocksDB at " + path + ": " + rocks.status().message());
      return grpc::Status::OK;
    }
    Result<std::unique_ptr<KeySealer>> sealer = OpenAesGcmSealer(key_file);
    if (!sealer.ok()) {
      reply->set_err(sealer.status().message());
      return grpc::Status::OK;
    }
    mount->rocks = std::move(rocks.value());
    mount->rocksdb_path = path;
    mount->seal_key_file = key_file;
    mount->sealer = std::move(sealer.value());
    storage = mount->rocks.get();
  }

  if (storage != nullptr) {
    PkiContext ctx;
    ctx.storage = storage;
    ctx.clock = clock_;
    ctx.system = mount->system.get();
    ctx.sealer = mount->sealer.get();
    mount->engine = NewPkiBackend(ctx);
    if (publish) {
      // A listener that cannot bind refuses the mount: relying parties were promised that address.
      mount->publisher =
          std::make_unique<Publisher>(mount->engine.get(), *publish, /*local_storage=*/storage_kind == "rocksdb");
      if (Status s = mount->publisher->Start(); !s.ok()) {
        if (Status c = mount->Close(); !c.ok()) {
          Log(LogLevel::kError, "closing storage failed", {{"error", c.message()}});
        }
        reply->set_err(s.message());
        return grpc::Status::OK;
      }
    }
  }
  Log(LogLevel::kInfo, "set up", {{"storage", storage != nullptr ? storage_kind : "none"}, {"backend_uuid", uuid}});
  mount_ = std::move(mount);
  return grpc::Status::OK;
}

grpc::Status BackendService::Initialize(grpc::ServerContext*, const pb::InitializeArgs*, pb::InitializeReply*) {
  // Nothing to load: the engine reads storage on demand and builds no in-memory index at start-up.
  return grpc::Status::OK;
}

grpc::Status BackendService::Type(grpc::ServerContext*, const pb::Empty*, pb::TypeReply* reply) {
  reply->set_type(kTypeLogical);
  return grpc::Status::OK;
}

grpc::Status BackendService::SpecialPaths(grpc::ServerContext*, const pb::Empty*, pb::SpecialPathsReply* reply) {
  *reply->mutable_paths() = special_;
  return grpc::Status::OK;
}

grpc::Status BackendService::HandleRequest(grpc::ServerContext*, const pb::HandleRequestArgs* args,
                                           pb::HandleRequestReply* reply) {
  const pb::Request& wire = args->request();
  Result<Request> req = FromProtoRequest(wire);
  if (!req.ok()) {
    *reply = ToProtoReply(req.status(), wire.id());
    return grpc::Status::OK;
  }
  std::shared_lock lock(mu_);
  if (!mount_ || !mount_->engine) {
    *reply = ToProtoReply(Status::Internal("the PKI plugin has no storage: the host has not set up this mount"),
                          wire.id());
    return grpc::Status::OK;
  }
  if (req->path == kCheckpointPath) {
    *reply = ToProtoReply(Checkpoint(*mount_, req.value()), wire.id());
    return grpc::Status::OK;
  }
  *reply = ToProtoReply(mount_->engine->HandleRequest(req.value()), wire.id());
  return grpc::Status::OK;
}

Result<Response> BackendService::Checkpoint(const Mount& mount, const Request& req) {
  if (req.operation != Operation::kUpdate && req.operation != Operation::kCreate) return Status::Unsupported();
  if (!mount.rocks) {
    return Status::BadRequest("this mount keeps its data in the host's storage (storage=host): back up the "
                              "host's storage instead");
  }
  auto field = req.data.find("path");
  if (field == req.data.end() || !field->is_string() || field->get<std::string>().empty()) {
    return Status::BadRequest("missing path: the directory to write the checkpoint to");
  }
  std::string path = field->get<std::string>();
  if (path.front() != '/' || path.find('\0') != std::string::npos) {
    return Status::BadRequest("path must be an absolute path on the plugin's machine");
  }
  // "/b/cp/" names the directory "/b/cp", whose key copy is "/b/cp.seal-key" beside it, not inside it.
  path = std::filesystem::path(path).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::string db = std::filesystem::path(mount.rocksdb_path).lexically_normal().string();
  if (path == "/" || path == db || path.rfind(db + "/", 0) == 0) {
    return Status::BadRequest("path must name a new directory outside the mount's database");
  }
  const std::string key_copy = path + ".seal-key";
  std::error_code ec;
  for (const std::string& p : {path, key_copy}) {
    if (std::filesystem::symlink_status(p, ec).type() != std::filesystem::file_type::not_found) {
      return Status::BadRequest(p + " already exists");
    }
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!std::filesystem::is_directory(parent, ec)) {
    return Status::BadRequest("the parent directory " + parent.string() + " does not exist");
  }
  RETURN_IF_ERROR(mount.rocks->Checkpoint(path));
  // Without its seal key the copy's CA keys cannot be read: the two travel together.
  Status copied = CopyPrivateFile(mount.seal_key_file, key_copy);
  if (copied.ok()) copied = SyncDirectory(parent.string());
  if (!copied.ok()) {
    std::filesystem::remove_all(path, ec);
    std::filesystem::remove(key_copy, ec);
    return copied;
  }
  Log(LogLevel::kInfo, "storage checkpoint written", {{"path", path}});
  return Response::Data(Json{{"path", path}, {"seal_key_file", key_copy}});
}

grpc::Status BackendService::HandleExistenceCheck(grpc::ServerContext*, const pb::HandleExistenceCheckArgs*,
                                                  pb::HandleExistenceCheckReply* reply) {
  // No path declares an existence check: the host keeps "update" (the engine treats create and update alike).
  reply->set_check_found(false);
  return grpc::Status::OK;
}

grpc::Status BackendService::InvalidateKey(grpc::ServerContext*, const pb::InvalidateKeyArgs* args, pb::Empty*) {
  std::shared_lock lock(mu_);
  if (mount_ && mount_->engine) mount_->engine->InvalidateKey(args->key());
  return grpc::Status::OK;
}

grpc::Status BackendService::Cleanup(grpc::ServerContext*, const pb::Empty*, pb::Empty*) {
  Close();
  Log(LogLevel::kInfo, "cleaned up");
  return grpc::Status::OK;
}

const char* PluginVersionString() { return "v0.1.0"; }

grpc::Status VersionService::Version(grpc::ServerContext*, const logical::Empty*, logical::VersionReply* reply) {
  reply->set_plugin_version(PluginVersionString());
  return grpc::Status::OK;
}

}  // namespace pki::plugin
