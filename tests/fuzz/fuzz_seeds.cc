// fuzz_seeds OUT_DIR: writes the seed corpus of every fuzz target into OUT_DIR/<target>/ (scripts/fuzz calls it;
// corpora are build output, never committed). Every seed is made here with the engine's own code and OpenSSL: real
// CSRs and certificates with fresh keys, OCSP requests for the CA of fuzz_engine.h (whose key is fixed, so the
// requests name an issuer the fuzzed engine has), router records and the same requests as serialized
// pb.HandleRequestArgs.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <iostream>
#include <string>
#include <vector>

#include <openssl/ocsp.h>

#include "plugin/wire.h"
#include "src/crypto/keys.h"
#include "src/crypto/x509.h"
#include "tests/fuzz/fuzz_engine.h"

namespace fs = std::filesystem;

namespace pki::fuzz {
namespace {

class SeedWriter {
 public:
  explicit SeedWriter(fs::path dir) : dir_(std::move(dir)) {}
  void Write(const std::string& target, const std::string& bytes) {
    fs::create_directories(dir_ / target);
    int& n = counts_[target];
    std::ofstream(dir_ / target / ("seed-" + std::to_string(n++)), std::ios::binary) << bytes;
  }
  const std::map<std::string, int>& counts() const { return counts_; }

 private:
  fs::path dir_;
  std::map<std::string, int> counts_;
};

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::cerr << "fuzz_seeds: " << what << ": " << r.status().message() << "\n";
    std::exit(1);
  }
  return std::move(r).value();
}

// The DER inside a PEM text (its first block).
std::string PemBody(const std::string& pem) {
  size_t begin = pem.find('\n') + 1;
  size_t end = pem.find("-----END");
  std::string b64;
  for (char c : pem.substr(begin, end - begin)) {
    if (c != '\n') b64 += c;
  }
  return Must(Base64Decode(b64), "PEM body");
}

std::vector<std::string> Csrs() {
  std::vector<std::string> out;
  struct Kind {
    KeyType type;
    int bits;
  };
  for (Kind k : {Kind{KeyType::kEc, 256}, Kind{KeyType::kEc, 384}, Kind{KeyType::kRsa, 2048},
                 Kind{KeyType::kEd25519, 0}}) {
    ossl::PKey key = Must(GenerateKey(k.type, k.bits), "key");
    CsrTemplate t;
    t.subject = {{"CN", "svc.example.com"}, {"O", "Example"}, {"serialNumber", "abc123"}};
    t.dns_names = {"svc.example.com", "*.svc.example.com"};
    t.email_addresses = {"ops@example.com"};
    t.ip_addresses = {"192.0.2.10", "2001:db8::10"};
    t.uris = {"spiffe://example.com/svc"};
    t.other_names = {{"1.3.6.1.4.1.311.20.2.3", "svc@example.com"}};
    t.key_usage = KeyUsageMask({"DigitalSignature", "KeyEncipherment"});
    t.add_basic_constraints = k.type == KeyType::kEc && k.bits == 384;
    out.push_back(Must(CreateCsrPem(t, key.get()), "CSR"));
  }
  // A bare one: a subject and nothing else.
  ossl::PKey key = Must(GenerateKey(KeyType::kEc, 256), "key");
  CsrTemplate bare;
  bare.subject = {{"CN", "bare"}};
  out.push_back(Must(CreateCsrPem(bare, key.get()), "CSR"));
  return out;
}

std::string OcspRequestDer(const X509* ca, const EVP_MD* md, const std::vector<std::string>& serials,
                           const std::string& nonce) {
  OCSP_REQUEST* req = OCSP_REQUEST_new();
  for (const std::string& s : serials) {
    std::string bytes = Must(ParseSerial(s), "serial");
    BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()),
                           nullptr);
    ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, nullptr);
    OCSP_CERTID* id = OCSP_cert_id_new(md, X509_get_subject_name(ca), X509_get0_pubkey_bitstr(ca), serial);
    OCSP_request_add0_id(req, id);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
  }
  if (!nonce.empty()) {
    OCSP_request_add1_nonce(req, reinterpret_cast<unsigned char*>(const_cast<char*>(nonce.data())),
                            static_cast<int>(nonce.size()));
  }
  unsigned char* der = nullptr;
  int len = i2d_OCSP_REQUEST(req, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  OCSP_REQUEST_free(req);
  return out;
}

Request Req(Operation op, std::string path, Json data = Json::object()) {
  Request r;
  r.operation = op;
  r.path = std::move(path);
  r.data = std::move(data);
  r.mount_point = "pki/";
  return r;
}

void WriteAll(SeedWriter& out) {
  FuzzEngine engine;
  const std::string& ca_pem = engine.ca_pem();
  const std::string good = engine.serials()[0];
  const std::string revoked = engine.serials()[1];
  ossl::X509Ptr ca = Must(ParseCertificatePem(ca_pem), "CA");
  // A leaf of the fuzz CA, through the engine, for the certificate and router seeds.
  auto in = engine.Fresh();
  Result<Response> leaf_resp =
      in->backend->HandleRequest(Req(Operation::kUpdate, "issue/web", {{"common_name", "c.example.com"}}));
  const Json leaf = Must(std::move(leaf_resp), "issue").data;
  const std::string leaf_pem = leaf["certificate"].get<std::string>();
  const std::string leaf_key = leaf["private_key"].get<std::string>();

  // csr_fuzz: each CSR as DER and as PEM.
  std::vector<std::string> csrs = Csrs();
  for (const std::string& pem : csrs) {
    out.Write("csr_fuzz", PemBody(pem));
    out.Write("csr_fuzz", pem);
  }

  // cert_fuzz: certificates as DER and PEM, a chain, keys.
  out.Write("cert_fuzz", ca_pem);
  out.Write("cert_fuzz", PemBody(ca_pem));
  out.Write("cert_fuzz", leaf_pem);
  out.Write("cert_fuzz", PemBody(leaf_pem));
  out.Write("cert_fuzz", leaf_pem + "\n" + ca_pem + "\n");
  out.Write("cert_fuzz", leaf_key);
  out.Write("cert_fuzz", PemBody(leaf_key));

  // fields_fuzz: a selector byte (FieldType index mod 7) and the text.
  const std::vector<std::pair<int, std::string>> fields = {
      {3, "72h"}, {3, "3d"}, {3, "1h30m15s"}, {3, "500ms"}, {3, "3600"}, {3, "\"-1s\""}, {3, "2562047h"},
      {1, "42"}, {1, "\"17\""}, {1, "4.5"}, {2, "true"}, {2, "\"T\""}, {2, "0"},
      {4, "a.example.com,b.example.com"}, {4, "[\"a\",\"b\"]"}, {5, "[\"x\", 1, true]"}, {5, "single"},
      {6, "{\"k\":\"v\",\"n\":{\"m\":[1,2]}}"}, {0, "\"text\""}, {0, "123"},
      {0, "3a:f1:00:7b:c4:12:ff:01"}, {0, "3a-f1-00-7b"}, {0, "00:00:01"},
      {4, "192.0.2.1,2001:db8::1,::ffff:192.0.2.2"}, {4, "spiffe://example.com/a,https://x.example.com/p?q=1#f"},
      {4, "1.3.6.1.4.1.311.20.2.3;UTF8:user@example.com,1.2.3.4;utf-8:a;b:c"},
      {0, "10.0.0.0/8"}, {0, "2001:db8::/32"}, {0, "*.example.com"}, {0, "b\xc3\xbc" "cher.example.com"},
      {0, "xn--bcher-kva.example.com"}, {0, "ops@example.com"}, {0, "abc123"},
      {0, "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"}};
  for (const auto& [sel, text] : fields) out.Write("fields_fuzz", std::string(1, static_cast<char>(sel)) + text);

  // ocsp_fuzz: requests about the fuzz CA's good, revoked and unknown serials.
  const std::string unknown = "01:02:03:04";
  out.Write("ocsp_fuzz", OcspRequestDer(ca.get(), EVP_sha1(), {good}, ""));
  out.Write("ocsp_fuzz", OcspRequestDer(ca.get(), EVP_sha1(), {revoked}, ""));
  out.Write("ocsp_fuzz", OcspRequestDer(ca.get(), EVP_sha256(), {good, revoked, unknown}, ""));
  out.Write("ocsp_fuzz", OcspRequestDer(ca.get(), EVP_sha1(), {good}, std::string(16, 'n')));
  out.Write("ocsp_fuzz", OcspRequestDer(ca.get(), EVP_sha512(), {unknown}, std::string(32, 'x')));
  out.Write("ocsp_fuzz", OcspRequestDer(ca.get(), EVP_sha384(), {revoked, good}, ""));

  // router_fuzz records and plugin_request_fuzz messages: issue, sign, roles, revoke, fetch, CRL, CA management.
  const std::string csr = csrs[0];
  const std::vector<std::vector<Request>> flows = {
      {Req(Operation::kUpdate, "issue/web", {{"common_name", "x.example.com"}, {"alt_names", "y.example.com"},
                                             {"ttl", "2h"}, {"ip_sans", "192.0.2.7"}, {"format", "pem_bundle"}})},
      {Req(Operation::kUpdate, "issue/any",
           {{"common_name", "anything"}, {"key_type", "ed25519"}, {"uri_sans", "spiffe://example.com/w"},
            {"other_sans", "1.2.3.4;UTF8:v"}, {"exclude_cn_from_sans", true}, {"private_key_format", "pkcs8"}})},
      {Req(Operation::kUpdate, "sign/web", {{"csr", csr}, {"common_name", "svc.example.com"}, {"ttl", "1h"}})},
      {Req(Operation::kUpdate, "sign-verbatim", {{"csr", csr}, {"ttl", "1h"}, {"ext_key_usage", "ServerAuth"}})},
      {Req(Operation::kUpdate, "root/sign-intermediate", {{"csr", csrs[1]}, {"common_name", "Sub CA"}})},
      {Req(Operation::kUpdate, "roles/r",
           {{"allowed_domains", "example.net,example.org"}, {"allow_subdomains", true}, {"key_type", "ec"},
            {"key_bits", 384}, {"ttl", "1h"}, {"max_ttl", "24h"}, {"key_usage", "DigitalSignature"},
            {"ext_key_usage", "ServerAuth,ClientAuth"}, {"no_store", false}}),
       Req(Operation::kUpdate, "issue/r", {{"common_name", "a.example.net"}}),
       Req(Operation::kRead, "roles/r"), Req(Operation::kList, "roles/")},
      {Req(Operation::kPatch, "roles/web", {{"allow_bare_domains", true}, {"ttl", "30m"}}),
       Req(Operation::kUpdate, "issue/web", {{"common_name", "example.com"}})},
      {Req(Operation::kUpdate, "revoke", {{"serial_number", good}}), Req(Operation::kRead, "crl"),
       Req(Operation::kRead, "cert/" + good), Req(Operation::kList, "certs/revoked/")},
      {Req(Operation::kUpdate, "revoke-with-key", {{"certificate", leaf_pem}, {"private_key", leaf_key}})},
      {Req(Operation::kList, "certs/detailed/", {{"limit", 5}}), Req(Operation::kRead, "cert/" + revoked + "/raw/pem")},
      {Req(Operation::kUpdate, "config/crl", {{"expiry", "48h"}, {"auto_rebuild", true}, {"enable_delta", true}}),
       Req(Operation::kUpdate, "crl/rotate"), Req(Operation::kRead, "crl/delta/pem")},
      {Req(Operation::kUpdate, "tidy", {{"tidy_cert_store", true}, {"safety_buffer", "1s"}}),
       Req(Operation::kRead, "tidy-status")},
      {Req(Operation::kUpdate, "intermediate/generate/internal", {{"common_name", "Int"}, {"key_type", "ec"}}),
       Req(Operation::kUpdate, "root/rotate/internal", {{"common_name", "Root 2"}, {"key_type", "ed25519"}}),
       Req(Operation::kList, "issuers/")},
      {Req(Operation::kUpdate, "issuers/import/bundle", {{"pem_bundle", ca_pem + "\n" + leaf_pem}}),
       Req(Operation::kRead, "issuer/default/json")},
      {Req(Operation::kUpdate, "issuer/root", {{"leaf_not_after_behavior", "truncate"}, {"usage", "read-only"}}),
       Req(Operation::kUpdate, "issuer/root/issue/web", {{"common_name", "z.example.com"}})},
      {Req(Operation::kUpdate, "keys/generate/internal", {{"key_type", "ec"}, {"key_name", "k2"}}),
       Req(Operation::kUpdate, "intermediate/cross-sign", {{"key_ref", "k2"}, {"common_name", "Cross"}})},
      {Req(Operation::kUpdate, "config/urls", {{"crl_distribution_points", "http://crl.example/a,http://b/c"}}),
       Req(Operation::kRead, "config/urls"), Req(Operation::kRead, "ca_chain")},
      {Req(Operation::kUpdate, "config/auto-tidy", {{"enabled", true}, {"interval_duration", "1h"}}),
       Req(Operation::kDelete, "roles/any"), Req(Operation::kDelete, "issuer/root")},
  };
  for (const auto& flow : flows) {
    std::string text;
    for (const Request& r : flow) text += std::string(OperationName(r.operation)) + " " + r.path + "\n" + r.data.dump() + "\n";
    out.Write("router_fuzz", text);
    for (const Request& r : flow) {
      pb::HandleRequestArgs args;
      *args.mutable_request() = plugin::ToProtoRequest(r, "seed");
      out.Write("plugin_request_fuzz", args.SerializeAsString());
    }
  }
  // A lease revocation, as Vault sends one for a role with generate_lease.
  Request lease = Req(Operation::kRevoke, "");
  lease.secret_internal_data = {{"secret_type", "pki"}, {"serial_number", good}};
  pb::HandleRequestArgs args;
  *args.mutable_request() = plugin::ToProtoRequest(lease, "seed");
  out.Write("plugin_request_fuzz", args.SerializeAsString());
}

}  // namespace
}  // namespace pki::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds OUT_DIR\n";
    return 2;
  }
  pki::fuzz::SeedWriter out{fs::path(argv[1])};
  pki::fuzz::WriteAll(out);
  for (const auto& [target, n] : out.counts()) std::cout << target << ": " << n << " seeds\n";
  return 0;
}
