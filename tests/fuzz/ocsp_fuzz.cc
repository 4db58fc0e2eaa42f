// Fuzz target: a DER OCSPRequest, parsed by ParseOcspRequest (src/crypto/ocsp) and answered by the engine's OCSP
// responder (src/pki/path_ocsp) as a POST body and as the base64 of a GET path, on a fresh engine per input whose
// CA the seeds name (fuzz_engine.h). Every answer must itself be a DER OCSPResponse.
#include <cstddef>
#include <cstdint>
#include <string>

#include <openssl/ocsp.h>

#include "src/crypto/ocsp.h"
#include "src/crypto/x509.h"
#include "tests/fuzz/fuzz_engine.h"

namespace {

void CheckIsOcspResponse(const pki::Result<pki::Response>& r) {
  // Malformed or not, a request is answered with an OCSP response, never an HTTP error.
  if (!r.ok() || !r->raw) __builtin_trap();
  const std::string& body = r->raw->body;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(body.data());
  OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(body.size()));
  if (resp == nullptr) __builtin_trap();
  OCSP_RESPONSE_free(resp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pki::fuzz::FuzzEngine* engine = new pki::fuzz::FuzzEngine();
  std::string der(reinterpret_cast<const char*>(data), size);
  pki::Result<pki::OcspRequestInfo> parsed = pki::ParseOcspRequest(der);
  if (parsed.ok() && parsed->ids.empty()) __builtin_trap();  // "at least one" is the parser's promise

  auto in = engine->Fresh();
  pki::Request post;
  post.operation = pki::Operation::kUpdate;
  post.path = "ocsp";
  post.mount_point = "pki/";
  post.data = pki::Json::object({{"http_raw_body", pki::Base64Encode(der)}});
  CheckIsOcspResponse(in->backend->HandleRequest(post));

  // "ocsp/" alone is no OCSP GET (the request is missing): it is routed elsewhere, not answered here.
  if (der.empty()) {
    engine->Reuse(std::move(in));
    return 0;
  }
  pki::Request get = post;
  get.operation = pki::Operation::kRead;
  get.path = "ocsp/" + pki::Base64Encode(der);
  get.data = pki::Json::object();
  CheckIsOcspResponse(in->backend->HandleRequest(get));
  engine->Reuse(std::move(in));
  return 0;
}
