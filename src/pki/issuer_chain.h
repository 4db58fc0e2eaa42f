// Chain building for a mount's issuers: each issuer's ca_chain, computed from the issuers' certificates.
//
// Issuers sharing a subject and a public key are one "key group": reissued certificates, or a CA certificate and
// its cross-signed twin. They certify the same children, so the graph is built over groups: a group's parents are
// the groups whose key verifies a member's signature (with the member's issuer name as their subject). An issuer's
// chain is itself, the rest of its group, then the groups reachable through parents, breadth first, each member
// once: so a cross-signed intermediate's chain leads to both roots, and cycles (roots cross-signing each other)
// end. Signatures are checked once per (certificate, candidate group), skipped when both sides carry key
// identifiers that differ; chains are at most the number of issuers long. A manual chain replaces the computed one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <openssl/x509.h>

namespace pki {

struct ChainInput {
  const X509* cert = nullptr;                 // parsed; not owned
  std::string id;                             // ties are broken by id, so results are stable
  std::vector<std::string> manual_chain;      // issuer ids (the issuer itself first), or empty
};

// For each input, the indices of its chain (itself first). Inputs whose certificate is null get a chain of
// themselves only.
std::vector<std::vector<size_t>> BuildIssuerChains(const std::vector<ChainInput>& issuers);

}  // namespace pki
