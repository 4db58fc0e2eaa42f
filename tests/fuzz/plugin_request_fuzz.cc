// Fuzz target: an arbitrary serialized pb.HandleRequestArgs, as a host sends it to pki-plugin's
// pb.Backend/HandleRequest. The bytes go through the real BackendService before any Setup (the decode and the
// error reply) and then through what HandleRequest does on a set-up mount, against a fresh engine over memory
// storage (fuzz_engine.h): FromProtoRequest, the engine, ToProtoReply. The reply is decoded again as the host
// decodes it (FromProtoReply) and must serialise.
#include <cstddef>
#include <cstdint>

#include <google/protobuf/stubs/logging.h>

#include "plugin/backend_service.h"
#include "plugin/wire.h"
#include "tests/fuzz/fuzz_engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pki::fuzz::FuzzEngine* engine = new pki::fuzz::FuzzEngine();
  static pki::FakeClock clock(pki::fuzz::kFuzzNow);
  // No broker: the service is never set up, so it never dials one.
  static pki::plugin::BackendService* service = new pki::plugin::BackendService(nullptr, &clock, "/nonexistent");
  // protobuf logs every string field that is not UTF-8 (and refuses the message): noise at thousands a second.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;

  pb::HandleRequestArgs args;
  if (!args.ParseFromArray(data, static_cast<int>(size))) return 0;
  pb::HandleRequestReply unset;
  (void)service->HandleRequest(nullptr, &args, &unset);

  pki::Result<pki::Request> req = pki::plugin::FromProtoRequest(args.request());
  if (!req.ok()) return 0;
  auto in = engine->Fresh();
  if (pki::fuzz::FuzzEngine::GeneratesCostlyKey(*in, req.value())) {
    engine->Reuse(std::move(in));
    return 0;
  }
  pb::HandleRequestReply reply =
      pki::plugin::ToProtoReply(in->backend->HandleRequest(req.value()), args.request().id());
  std::string wire;
  if (!reply.SerializeToString(&wire)) __builtin_trap();
  (void)pki::plugin::FromProtoReply(reply);
  engine->Reuse(std::move(in));
  return 0;
}
