#include "plugin/broker.h"

namespace pki::plugin {

grpc::Status BrokerService::StartStream(grpc::ServerContext* context,
                                        grpc::ServerReaderWriter<::plugin::ConnInfo, ::plugin::ConnInfo>* stream) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "plugin is shutting down");
    ++open_streams_;
    had_stream_ = true;
  }
  ::plugin::ConnInfo info;
  // Read returns false when the host closes its side or the call is cancelled (Shutdown cancels via the server).
  while (!context->IsCancelled() && stream->Read(&info)) {
    // The multiplexed "knock" variant is only used when the host sets PLUGIN_MULTIPLEX_GRPC, which we never
    // advertise; such messages are ignored.
    if (info.has_knock() && info.knock().knock()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    pending_[info.service_id()] = info;
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  --open_streams_;
  cv_.notify_all();
  return grpc::Status::OK;
}

Result<std::shared_ptr<grpc::Channel>> BrokerService::Dial(uint32_t id, std::chrono::milliseconds timeout) {
  ::plugin::ConnInfo info;
  {
    std::unique_lock<std::mutex> lock(mu_);
    bool found = cv_.wait_for(lock, timeout, [&] { return shutdown_ || pending_.count(id) > 0; });
    if (shutdown_) return Status::Internal("plugin is shutting down");
    if (!found) return Status::Internal("timeout waiting for connection info for broker id " + std::to_string(id));
    info = pending_[id];
    pending_.erase(id);
  }
  if (info.network() != "unix" && info.network() != "tcp") {
    return Status::Internal("broker announced unsupported network \"" + info.network() + "\"");
  }
  return pki::plugin::Dial(info.network(), info.address(), tls_);
}

void BrokerService::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

bool BrokerService::StreamOpened() const {
  std::lock_guard<std::mutex> lock(mu_);
  return had_stream_;
}

bool BrokerService::StreamEnded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return had_stream_ && open_streams_ == 0;
}

}  // namespace pki::plugin
