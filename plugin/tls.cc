#include "plugin/tls.h"

#include <climits>

#include <absl/synchronization/mutex.h>

namespace pki::plugin {

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const PeerTls& tls) {
  if (!tls.enabled) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions opts(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = tls.peer_cert_pem;
  opts.pem_key_cert_pairs.push_back({tls.own_key_pem, tls.own_cert_pem});
  return grpc::SslServerCredentials(opts);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const PeerTls& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = tls.peer_cert_pem;
  opts.pem_private_key = tls.own_key_pem;
  opts.pem_cert_chain = tls.own_cert_pem;
  return grpc::SslCredentials(opts);
}

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetMaxReceiveMessageSize(INT_MAX);
  args.SetMaxSendMessageSize(INT_MAX);
  return args;
}

void ConfigureServerBuilder(grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(INT_MAX);
  builder->SetMaxSendMessageSize(INT_MAX);
  // gRPC's synchronous server runs handlers on its polling threads and, by default, ends any thread beyond two
  // when its call returns: under concurrent requests that is a thread created and destroyed per call. Keep
  // enough threads for the host's concurrency instead.
  builder->SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder->SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
}

void TuneGrpcRuntime() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

std::string GrpcTarget(const std::string& network, const std::string& address) {
  if (network == "unix") return "unix:" + address;
  return address;  // host:port, resolved by gRPC
}

std::shared_ptr<grpc::Channel> Dial(const std::string& network, const std::string& address, const PeerTls& tls) {
  return grpc::CreateCustomChannel(GrpcTarget(network, address), ChannelCredentials(tls), ChannelArgs());
}

}  // namespace pki::plugin
