// Fuzz target: requests with JSON bodies through the engine's Router, field schemas and handlers (issue, sign,
// roles, revoke, CA and issuer management, fetch, CRL, tidy, ...) on a fresh engine per input (fuzz_engine.h).
// Input: up to four records "<operation> <path>\n<JSON body>\n"; each response is also rendered as the server
// renders it, so data a handler returns must survive JSON serialisation.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/server/envelope.h"
#include "src/server/logical_call.h"
#include "tests/fuzz/fuzz_engine.h"

namespace {

bool TooDeep(std::string_view text, size_t limit) { return pki::JsonNestingExceeds(text, limit); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pki::fuzz::FuzzEngine* engine = new pki::fuzz::FuzzEngine();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<pki::Request> requests =
      pki::fuzz::ParseRecords(input, 4, pki::server::kMaxRequestJsonDepth, &TooDeep);
  if (requests.empty()) return 0;
  auto in = engine->Fresh();
  for (const pki::Request& req : requests) {
    if (pki::fuzz::FuzzEngine::GeneratesCostlyKey(*in, req)) continue;
    pki::Result<pki::Response> result = in->backend->HandleRequest(req);
    (void)pki::server::RenderLogicalResult(req.operation, result, {"fuzz-request", "pki", false});
  }
  engine->Reuse(std::move(in));
  return 0;
}
