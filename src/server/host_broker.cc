#include "src/server/host_broker.h"

#include <unistd.h>

#include <chrono>

namespace pki::server {
namespace {

// Broker calls in flight (storage reads and writes) get this long to finish when the connection closes.
constexpr auto kListenerDrain = std::chrono::seconds(2);

}  // namespace

Result<std::unique_ptr<HostBroker>> HostBroker::Open(const std::shared_ptr<grpc::Channel>& channel,
                                                     plugin::PeerTls tls, std::string socket_dir) {
  std::unique_ptr<HostBroker> broker(new HostBroker(std::move(tls), std::move(socket_dir)));
  broker->stub_ = ::plugin::GRPCBroker::NewStub(channel);
  broker->stream_ = broker->stub_->StartStream(&broker->stream_ctx_);
  if (!broker->stream_) return Status::Internal("cannot open the plugin's broker stream");
  broker->stream_open_.store(true);
  broker->reader_ = std::thread([b = broker.get()] { b->ReadStream(); });
  return broker;
}

HostBroker::~HostBroker() { Close(); }

void HostBroker::ReadStream() {
  ::plugin::ConnInfo info;
  while (stream_->Read(&info)) {
    // A plugin announcing its own listener (go-plugin's Accept on the plugin side) is not part of Vault's backend
    // protocol; nothing here dials it.
  }
  std::lock_guard<std::mutex> lock(mu_);
  finished_ = true;
  stream_open_.store(false);
  grpc::Status ignored = stream_->Finish();  // the stream's end is the news; its status adds nothing
  (void)ignored;
}

Status HostBroker::AcceptAndServe(uint32_t id, std::vector<std::unique_ptr<grpc::Service>> services) {
  auto listener = std::make_unique<Listener>();
  listener->socket_path = socket_dir_ + "/broker-" + std::to_string(id) + ".sock";
  listener->services = std::move(services);
  ::unlink(listener->socket_path.c_str());

  grpc::ServerBuilder builder;
  plugin::ConfigureServerBuilder(&builder);
  builder.AddListeningPort("unix:" + listener->socket_path, plugin::ServerCredentials(tls_));
  for (const auto& s : listener->services) builder.RegisterService(s.get());
  listener->server = builder.BuildAndStart();
  if (!listener->server) return Status::Internal("cannot listen on the broker socket " + listener->socket_path);

  ::plugin::ConnInfo info;
  info.set_service_id(id);
  info.set_network("unix");
  info.set_address(listener->socket_path);
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || finished_ || !stream_->Write(info)) {
    listener->server->Shutdown();
    ::unlink(listener->socket_path.c_str());
    return Status::Internal("the plugin's broker stream is closed");
  }
  listeners_.push_back(std::move(listener));
  return Status::Ok();
}

void HostBroker::EndStream() {
  std::call_once(stream_ended_, [this] {
    stream_ctx_.TryCancel();
    if (reader_.joinable()) reader_.join();
  });
}

void HostBroker::Close() {
  std::vector<std::unique_ptr<Listener>> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    listeners.swap(listeners_);
  }
  EndStream();
  for (auto& l : listeners) {
    l->server->Shutdown(std::chrono::system_clock::now() + kListenerDrain);
    ::unlink(l->socket_path.c_str());
  }
}

}  // namespace pki::server
