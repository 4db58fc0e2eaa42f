// The plugin's side of go-plugin's GRPCBroker.
//
// The host opens plugin.GRPCBroker/StartStream right after connecting and keeps it open for the connection's
// life. When it serves something for the plugin (Vault: pb.Storage and pb.SystemView for one Setup) it listens on a
// fresh socket and announces ConnInfo{service_id, network, address} on the stream; the plugin dials that address,
// with the same TLS material as the main connection but in reverse roles. Announcements may arrive before or after
// the plugin asks for them, so they are kept by id until dialled.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include "grpc_broker.grpc.pb.h"
#include "plugin/tls.h"
#include "src/core/status.h"

namespace pki::plugin {

class BrokerService final : public ::plugin::GRPCBroker::Service {
 public:
  explicit BrokerService(PeerTls tls) : tls_(std::move(tls)) {}

  grpc::Status StartStream(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<::plugin::ConnInfo, ::plugin::ConnInfo>* stream) override;

  // Waits up to `timeout` for the host to announce `id`, then returns a channel to it.
  Result<std::shared_ptr<grpc::Channel>> Dial(uint32_t id, std::chrono::milliseconds timeout);

  // Ends every open stream and wakes waiting dialers (at shutdown).
  void Shutdown();

  // Whether the host has opened its stream (it does so right after connecting).
  bool StreamOpened() const;
  // Whether a host stream was opened and has since ended (the host went away).
  bool StreamEnded() const;

 private:
  const PeerTls tls_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, ::plugin::ConnInfo> pending_;  // guarded by mu_
  bool shutdown_ = false;                            // guarded by mu_
  int open_streams_ = 0;                             // guarded by mu_
  bool had_stream_ = false;                          // guarded by mu_
};

}  // namespace pki::plugin
