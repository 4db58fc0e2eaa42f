// OCSP benchmark tools of pki_bench: ocsp-reqs (the request bodies of the ocsp_post scenario, drawn from a data
// set made by `pki_bench crl-load`) and ocsp-verify (checks OCSP answers: signed by the CA, naming the asked
// serial, with the expected status). scripts/benchlib/ocsp.py drives them.
//
// The serials come from the data set's recipe (tests/scale/cert_loader.h: record i has SyntheticCertSet::Serial(i);
// crl-load revokes records 0..N-1 of the M stored), so no database is opened: the marker pki_bench-crl.json gives M
// and N, D/ca.pem the CA. Requests are what browsers send: one SHA-1 CertID, no nonce, unsigned, DER.
//
// Single-threaded; stateless apart from the files named on the command line.
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_mount.h"
#include "tests/bench/commands.h"
#include "tests/scale/cert_loader.h"

namespace pki::bench {
namespace {

using Json = nlohmann::json;

int Error(const std::string& msg) {
  std::fprintf(stderr, "%s\n", msg.c_str());
  return 1;
}

std::string Hex(const std::string& bytes) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool Unhex(const std::string& hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (size_t k = i; k < i + 2; ++k) {
      const char c = hex[k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return false;
    }
    out->push_back(static_cast<char>(v));
  }
  return true;
}

X509* ReadCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return nullptr;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return cert;
}

// A SHA-1 CertID for `serial` (magnitude bytes) under `ca`, as browsers and `openssl ocsp -issuer` make them.
OCSP_CERTID* CertId(X509* ca, const std::string& serial) {
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), static_cast<int>(serial.size()),
                         nullptr);
  ASN1_INTEGER* asn1 = bn ? BN_to_ASN1_INTEGER(bn, nullptr) : nullptr;
  BN_free(bn);
  if (!asn1) return nullptr;
  OCSP_CERTID* id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca), X509_get0_pubkey_bitstr(ca), asn1);
  ASN1_INTEGER_free(asn1);
  return id;
}

// The DER OCSPRequest asking for `serial`, without nonce.
std::string RequestDer(X509* ca, const std::string& serial) {
  OCSP_REQUEST* req = OCSP_REQUEST_new();
  OCSP_CERTID* id = CertId(ca, serial);
  std::string out;
  if (req && id && OCSP_request_add0_id(req, id)) {
    id = nullptr;  // owned by req now
    unsigned char* der = nullptr;
    const int len = i2d_OCSP_REQUEST(req, &der);
    if (len > 0) out.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
  }
  OCSP_CERTID_free(id);
  OCSP_REQUEST_free(req);
  return out;
}

// `count` distinct record indexes from [lo, hi), drawn with a fixed seed.
std::vector<size_t> Draw(size_t count, size_t lo, size_t hi, std::mt19937_64* rng) {
  std::vector<size_t> out;
  std::unordered_set<size_t> seen;
  std::uniform_int_distribution<size_t> pick(lo, hi - 1);
  while (out.size() < count) {
    const size_t i = pick(*rng);
    if (seen.insert(i).second) out.push_back(i);
  }
  return out;
}

// ---- ocsp-reqs ----

int OcspReqs(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  const char* usage = "usage: pki_bench ocsp-reqs --dir D --count K [--revoked-share F] --out FILE --expect FILE\n";
  if (!ParseFlags(argc, argv, {"dir", "count", "revoked-share", "out", "expect"}, &flags) || !flags.count("dir") ||
      !flags.count("count") || !flags.count("out") || !flags.count("expect")) {
    std::fprintf(stderr, "%s", usage);
    return 2;
  }
  const std::string dir = flags["dir"];
  const size_t count = std::strtoull(flags["count"].c_str(), nullptr, 10);
  const double share = flags.count("revoked-share") ? std::strtod(flags["revoked-share"].c_str(), nullptr) : 0.1;
  if (count == 0 || share < 0 || share > 1) {
    std::fprintf(stderr, "%s", usage);
    return 2;
  }
  std::ifstream marker_in(dir + "/pki_bench-crl.json");  // written by crl-load
  Json marker = Json::parse(marker_in, nullptr, false);
  if (!marker_in || marker.is_discarded() || !marker.contains("stored") || !marker.contains("revoked")) {
    return Error(dir + " is not a pki_bench crl-load data set");
  }
  const size_t stored = marker["stored"].get<size_t>(), revoked = marker["revoked"].get<size_t>();
  const size_t want_revoked = static_cast<size_t>(count * share + 0.5), want_good = count - want_revoked;
  if (want_revoked > revoked || want_good > stored - revoked) {
    return Error("the data set has " + std::to_string(revoked) + " revoked and " + std::to_string(stored - revoked) +
                 " good certificates; asked for " + std::to_string(want_revoked) + " and " + std::to_string(want_good));
  }
  X509* ca = ReadCert(dir + "/ca.pem");
  if (!ca) return Error("cannot read " + dir + "/ca.pem");

  std::mt19937_64 rng(8);  // fixed: every run asks the same serials
  std::vector<std::pair<size_t, bool>> picks;  // record index, revoked
  for (size_t i : Draw(want_revoked, 0, revoked, &rng)) picks.emplace_back(i, true);
  for (size_t i : Draw(want_good, revoked, stored, &rng)) picks.emplace_back(i, false);
  std::shuffle(picks.begin(), picks.end(), rng);  // revoked ones spread through the file

  testing::SyntheticCertSet set;  // only Serial(i) is used: it depends on i alone
  set.count = stored;
  std::ofstream out(flags["out"], std::ios::trunc), expect(flags["expect"], std::ios::trunc);
  size_t bytes = 0;
  for (const auto& [i, is_revoked] : picks) {
    const std::string serial = set.Serial(i);
    const std::string der = RequestDer(ca, serial);
    if (der.empty()) {
      X509_free(ca);
      return Error("cannot encode an OCSP request");
    }
    bytes += der.size();
    out << Hex(der) << '\n';
    expect << Hex(serial) << '\t' << (is_revoked ? "revoked" : "good") << '\n';
  }
  X509_free(ca);
  if (!out.good() || !expect.good()) return Error("cannot write the request files");
  Json report = {{"requests", picks.size()}, {"revoked", want_revoked}, {"good", want_good},
                 {"mean_bytes", static_cast<double>(bytes) / picks.size()}};
  std::printf("%s\n", report.dump().c_str());
  return 0;
}

// ---- ocsp-verify ----

// Checks one DER OCSPResponse: successful, a BasicOCSPResponse whose signature verifies with the CA's key, one
// answer for `serial` under the CA with status `want` ("good" or "revoked"), current (thisUpdate not in the future,
// nextUpdate not past). Empty string when it holds, else what is wrong.
std::string CheckResponse(const std::string& der, X509* ca, STACK_OF(X509)* signers, X509_STORE* store,
                          const std::string& serial, const std::string& want) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()));
  if (!resp) return "not an OCSP response";
  std::string problem;
  OCSP_BASICRESP* basic = nullptr;
  OCSP_CERTID* id = nullptr;
  int status = -1, reason = -1;
  ASN1_GENERALIZEDTIME *rev = nullptr, *this_upd = nullptr, *next_upd = nullptr;
  if (OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    problem = "response status " + std::to_string(OCSP_response_status(resp));
  } else if (!(basic = OCSP_response_get1_basic(resp))) {
    problem = "no basic response";
  } else if (OCSP_basic_verify(basic, signers, store, OCSP_TRUSTOTHER) != 1) {
    problem = "signature does not verify with the CA";
  } else if (!(id = CertId(ca, serial))) {
    problem = "cannot make the CertID";
  } else if (OCSP_resp_find_status(basic, id, &status, &reason, &rev, &this_upd, &next_upd) != 1) {
    problem = "no answer for the serial asked";
  } else if (OCSP_check_validity(this_upd, next_upd, 300, -1) != 1) {
    problem = "thisUpdate/nextUpdate not current";
  } else {
    const std::string got = status == V_OCSP_CERTSTATUS_GOOD      ? "good"
                            : status == V_OCSP_CERTSTATUS_REVOKED ? "revoked"
                                                                  : "unknown";
    if (got != want) problem = "answered " + got + ", expected " + want;
  }
  ERR_clear_error();
  OCSP_CERTID_free(id);
  OCSP_BASICRESP_free(basic);
  OCSP_RESPONSE_free(resp);
  return problem;
}

int OcspVerify(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  if (!ParseFlags(argc, argv, {"ca", "in"}, &flags) || !flags.count("ca") || !flags.count("in")) {
    std::fprintf(stderr,
                 "usage: pki_bench ocsp-verify --ca CA.pem --in FILE  (lines: response-hex TAB serial-hex TAB "
                 "good|revoked)\n");
    return 2;
  }
  X509* ca = ReadCert(flags["ca"]);
  if (!ca) return Error("cannot read " + flags["ca"]);
  STACK_OF(X509)* signers = sk_X509_new_null();
  sk_X509_push(signers, ca);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  std::ifstream in(flags["in"]);
  std::string line;
  size_t checked = 0, good = 0, revoked = 0, failed = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string resp_hex, serial_hex, want, der, serial;
    fields >> resp_hex >> serial_hex >> want;
    std::string problem;
    if (!Unhex(resp_hex, &der) || !Unhex(serial_hex, &serial) || (want != "good" && want != "revoked")) {
      problem = "unreadable line";
    } else {
      problem = CheckResponse(der, ca, signers, store, serial, want);
    }
    ++checked;
    if (!problem.empty()) {
      if (++failed <= 5) std::fprintf(stderr, "serial %s: %s\n", serial_hex.c_str(), problem.c_str());
      continue;
    }
    (want == "good" ? good : revoked)++;
  }
  X509_STORE_free(store);
  sk_X509_free(signers);
  X509_free(ca);
  Json report = {{"checked", checked}, {"good", good}, {"revoked", revoked}, {"failed", failed}};
  std::printf("%s\n", report.dump().c_str());
  return failed == 0 && checked > 0 ? 0 : 1;
}

RegisterBenchCommand register_reqs("ocsp-reqs", OcspReqs,
                                   "--dir D --count K [--revoked-share F] --out FILE --expect FILE: K OCSP requests "
                                   "(DER as hex lines, no nonce) for distinct serials of crl-load's data set D, a "
                                   "share F (0.1) of them revoked; FILE lists serial TAB good|revoked per request");
RegisterBenchCommand register_verify("ocsp-verify", OcspVerify,
                                     "--ca CA.pem --in FILE: check OCSP answers (lines: response hex, serial hex, "
                                     "good|revoked): successful, signed by the CA, current, the expected status");

}  // namespace
}  // namespace pki::bench
