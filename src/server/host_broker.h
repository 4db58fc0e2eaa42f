// HostBroker: the host's side of go-plugin's GRPCBroker for one plugin connection.
//
// The host is the client of the plugin's plugin.GRPCBroker/StartStream bidi stream, opened right after connecting
// and kept open for the connection's life. To offer the plugin a service (Vault: pb.Storage and pb.SystemView for
// one Setup) the host does what go-plugin's AcceptAndServe does: listen on a fresh unix socket in a private
// directory, announce ConnInfo{service_id, "unix", path} on the stream, and serve a gRPC server there with the
// AutoMTLS material in reverse roles (the host's certificate as server certificate, the plugin's pinned as the only
// acceptable client certificate).
//
// Thread-safety: NextId, AcceptAndServe, StreamOpen and Close may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "grpc_broker.grpc.pb.h"
#include "plugin/tls.h"
#include "src/core/status.h"

namespace pki::server {

class HostBroker {
 public:
  // Opens the broker stream on `channel`. Listening sockets are made in `socket_dir` (private, owned by the
  // caller, short enough for a unix socket path).
  static Result<std::unique_ptr<HostBroker>> Open(const std::shared_ptr<grpc::Channel>& channel, plugin::PeerTls tls,
                                                  std::string socket_dir);
  ~HostBroker();  // Close()
  HostBroker(const HostBroker&) = delete;
  HostBroker& operator=(const HostBroker&) = delete;

  // A new service id: 1, 2, ... (go-plugin's NextId).
  uint32_t NextId() { return next_id_.fetch_add(1) + 1; }

  // Serves `services` on a new listener for `id` and announces it to the plugin. The listener is up before the
  // announcement is sent, so the plugin may dial as soon as it reads it.
  Status AcceptAndServe(uint32_t id, std::vector<std::unique_ptr<grpc::Service>> services);

  // Whether the plugin still holds the stream open.
  bool StreamOpen() const { return stream_open_.load(); }

  // Ends the stream (the plugin's StartStream handler returns, so its server can stop promptly). Idempotent.
  void EndStream();
  // Ends the stream and stops the listeners, letting calls in flight finish for up to 2 s. A listener's graceful
  // stop waits for the plugin to acknowledge it, so stop them once the plugin has exited. Idempotent.
  void Close();

 private:
  HostBroker(plugin::PeerTls tls, std::string socket_dir) : tls_(std::move(tls)), socket_dir_(std::move(socket_dir)) {}
  // The stream's reader thread: Vault backends never announce anything to the host, but reading is how the end of
  // the stream is noticed.
  void ReadStream();

  struct Listener {
    std::string socket_path;
    std::vector<std::unique_ptr<grpc::Service>> services;  // outlive the server, which holds pointers to them
    std::unique_ptr<grpc::Server> server;
  };

  const plugin::PeerTls tls_;
  const std::string socket_dir_;
  std::atomic<uint32_t> next_id_{0};
  std::atomic<bool> stream_open_{false};

  std::unique_ptr<::plugin::GRPCBroker::Stub> stub_;
  grpc::ClientContext stream_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<::plugin::ConnInfo, ::plugin::ConnInfo>> stream_;
  std::thread reader_;

  std::mutex mu_;  // guards writes on stream_ (one writer at a time), finished_, closed_ and listeners_
  bool finished_ = false;  // the reader called Finish(): no more writes
  bool closed_ = false;    // no new listeners
  std::once_flag stream_ended_;
  std::vector<std::unique_ptr<Listener>> listeners_;
};

}  // namespace pki::server
