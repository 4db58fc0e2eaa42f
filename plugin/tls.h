// gRPC credentials for go-plugin's AutoMTLS, for both ends of both kinds of connection:
//   - the plugin's server (host dials in) and the host's broker listeners (plugin dials in) use ServerCredentials:
//     own certificate, client certificate required and verified against the peer's pinned certificate;
//   - the host dialling the plugin and the plugin dialling a broker listener use ChannelCredentials: own
//     certificate as client certificate, server verified against the peer's pinned certificate under the name
//     "localhost".
// With TLS disabled (a host that sets no PLUGIN_CLIENT_CERT) both are plaintext.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

namespace pki::plugin {

struct PeerTls {
  bool enabled = false;
  std::string own_cert_pem;
  std::string own_key_pem;    // secret
  std::string peer_cert_pem;  // the only certificate trusted for the peer
};

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const PeerTls& tls);
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const PeerTls& tls);

// Channel arguments both ends use: the TLS name "localhost", message limits raised to INT_MAX as Vault does.
grpc::ChannelArguments ChannelArgs();
// Applies the same message limits to a server.
void ConfigureServerBuilder(grpc::ServerBuilder* builder);

// Process-wide gRPC runtime settings both ends apply once at start-up, before any channel or server exists:
// Debian's Abseil tracks lock-order cycles on every absl::Mutex operation (its debug default), which gRPC's core
// takes many times per call; that bookkeeping goes through a global lock. It is turned off.
void TuneGrpcRuntime();

// Dials `network` ("unix" or "tcp") `address` as go-plugin does.
std::shared_ptr<grpc::Channel> Dial(const std::string& network, const std::string& address, const PeerTls& tls);
// gRPC's target for a go-plugin address ("unix:/path", or "host:port" for tcp).
std::string GrpcTarget(const std::string& network, const std::string& address);

}  // namespace pki::plugin
