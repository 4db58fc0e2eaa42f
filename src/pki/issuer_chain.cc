#include "src/pki/issuer_chain.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace pki {
namespace {

std::string NameDer(const X509_NAME* name) {
  unsigned char* der = nullptr;
  int n = i2d_X509_NAME(name, &der);
  std::string out = n > 0 ? std::string(reinterpret_cast<char*>(der), static_cast<size_t>(n)) : std::string();
  OPENSSL_free(der);
  return out;
}

std::string SpkiDer(const X509* cert) {
  unsigned char* der = nullptr;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  std::string out = n > 0 ? std::string(reinterpret_cast<char*>(der), static_cast<size_t>(n)) : std::string();
  OPENSSL_free(der);
  return out;
}

std::string OctetString(const ASN1_OCTET_STRING* s) {
  return s ? std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s))
           : std::string();
}

struct Node {
  std::string subject, issuer, spki, ski, aki;
  bool self_signed = false;
  size_t group = 0;
};

}  // namespace

std::vector<std::vector<size_t>> BuildIssuerChains(const std::vector<ChainInput>& issuers) {
  const size_t n = issuers.size();
  std::vector<Node> nodes(n);
  std::map<std::string, size_t> id_index;
  for (size_t i = 0; i < n; ++i) id_index[issuers[i].id] = i;

  // Key groups: (subject, SPKI) -> members, members ordered self-signed first, then by id.
  std::map<std::pair<std::string, std::string>, size_t> group_of_key;
  std::vector<std::vector<size_t>> groups;
  std::multimap<std::string, size_t> groups_by_subject;
  for (size_t i = 0; i < n; ++i) {
    X509* cert = const_cast<X509*>(issuers[i].cert);
    if (!cert) continue;
    Node& node = nodes[i];
    node.subject = NameDer(X509_get_subject_name(cert));
    node.issuer = NameDer(X509_get_issuer_name(cert));
    node.spki = SpkiDer(cert);
    node.ski = OctetString(X509_get0_subject_key_id(cert));
    node.aki = OctetString(X509_get0_authority_key_id(cert));
    EVP_PKEY* own = X509_get0_pubkey(cert);
    node.self_signed = node.subject == node.issuer && own && X509_verify(cert, own) == 1;
    auto [it, inserted] = group_of_key.emplace(std::make_pair(node.subject, node.spki), groups.size());
    if (inserted) {
      groups.emplace_back();
      groups_by_subject.emplace(node.subject, it->second);
    }
    node.group = it->second;
    groups[it->second].push_back(i);
  }
  for (auto& members : groups) {
    std::sort(members.begin(), members.end(), [&](size_t a, size_t b) {
      if (nodes[a].self_signed != nodes[b].self_signed) return nodes[a].self_signed;
      return issuers[a].id < issuers[b].id;
    });
  }

  // Parent groups of each group: one signature check per (member, candidate group).
  std::vector<std::vector<size_t>> parents(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    std::set<size_t> found;
    for (size_t m : groups[g]) {
      X509* cert = const_cast<X509*>(issuers[m].cert);
      auto [lo, hi] = groups_by_subject.equal_range(nodes[m].issuer);
      for (auto it = lo; it != hi; ++it) {
        size_t h = it->second;
        if (h == g || found.count(h)) continue;
        size_t rep = groups[h].front();
        // Key identifiers are a hint only when every member of the candidate group has one and none matches.
        if (!nodes[m].aki.empty()) {
          bool hinted_elsewhere = true;
          for (size_t member : groups[h]) {
            if (nodes[member].ski.empty() || nodes[member].ski == nodes[m].aki) hinted_elsewhere = false;
          }
          if (hinted_elsewhere) continue;
        }
        EVP_PKEY* key = X509_get0_pubkey(const_cast<X509*>(issuers[rep].cert));
        if (key && X509_verify(cert, key) == 1) found.insert(h);
      }
    }
    parents[g].assign(found.begin(), found.end());
    // Roots first, so a straight chain ends as early as it can; then by the first member's id.
    std::sort(parents[g].begin(), parents[g].end(), [&](size_t a, size_t b) {
      size_t ra = groups[a].front(), rb = groups[b].front();
      if (nodes[ra].self_signed != nodes[rb].self_signed) return nodes[ra].self_signed;
      return issuers[ra].id < issuers[rb].id;
    });
  }
  ERR_clear_error();  // failed verifications leave errors on the queue

  std::vector<std::vector<size_t>> chains(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<size_t>& chain = chains[i];
    if (!issuers[i].manual_chain.empty()) {
      for (const auto& id : issuers[i].manual_chain) {
        auto it = id_index.find(id);
        if (it != id_index.end()) chain.push_back(it->second);
      }
      if (!chain.empty()) continue;
    }
    chain.push_back(i);
    if (!issuers[i].cert) continue;
    std::vector<bool> seen(groups.size(), false);
    std::deque<size_t> queue = {nodes[i].group};
    seen[nodes[i].group] = true;
    for (size_t m : groups[nodes[i].group]) {
      if (m != i) chain.push_back(m);
    }
    while (!queue.empty()) {
      size_t g = queue.front();
      queue.pop_front();
      for (size_t h : parents[g]) {
        if (seen[h]) continue;
        seen[h] = true;
        queue.push_back(h);
        chain.insert(chain.end(), groups[h].begin(), groups[h].end());
      }
    }
  }
  return chains;
}

}  // namespace pki
