// The plugin wire as the hosts expect it: package, service and method names and the field numbers and types that
// Vault's sdk/plugin/pb/backend.proto and go-plugin's protos use, written down independently in
// ../shared/reference/vault-plugin-protocol.md and checked here against our generated descriptors.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>

#include "backend.pb.h"
#include "grpc_broker.pb.h"
#include "grpc_controller.pb.h"
#include "grpc_stdio.pb.h"
#include "logical_version.pb.h"

namespace pki {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;

// The generated pool holds a file's descriptors once its object file is linked in: name one type of each.
const DescriptorPool* LinkedPool() {
  pb::Request::descriptor();
  plugin::ConnInfo::descriptor();
  plugin::Empty::descriptor();
  plugin::StdioData::descriptor();
  logical::VersionReply::descriptor();
  return DescriptorPool::generated_pool();
}

struct FieldFact {
  const char* message;
  int number;
  FieldDescriptor::Type type;
  bool repeated;
  const char* message_type;  // for TYPE_MESSAGE fields: the full name of the field's type
};

TEST(ProtoWire, FieldNumbersAndTypesMatchTheHosts) {
  using F = FieldDescriptor;
  const FieldFact facts[] = {
      {"pb.Request", 1, F::TYPE_STRING, false, nullptr},      // id
      {"pb.Request", 3, F::TYPE_STRING, false, nullptr},      // operation
      {"pb.Request", 4, F::TYPE_STRING, false, nullptr},      // path
      {"pb.Request", 5, F::TYPE_STRING, false, nullptr},      // data (JSON text)
      {"pb.Request", 6, F::TYPE_MESSAGE, false, "pb.Secret"},
      {"pb.Request", 12, F::TYPE_STRING, false, nullptr},     // mount_point
      {"pb.Request", 16, F::TYPE_INT64, false, nullptr},      // client_token_remaining_uses
      {"pb.Request", 19, F::TYPE_BOOL, false, nullptr},       // unauthenticated
      {"pb.Request", 20, F::TYPE_MESSAGE, false, "pb.Connection"},
      {"pb.Response", 1, F::TYPE_MESSAGE, false, "pb.Secret"},
      {"pb.Response", 3, F::TYPE_STRING, false, nullptr},     // data
      {"pb.Response", 5, F::TYPE_STRING, true, nullptr},      // warnings
      {"pb.Response", 6, F::TYPE_MESSAGE, false, "pb.ResponseWrapInfo"},
      {"pb.Secret", 1, F::TYPE_MESSAGE, false, "pb.LeaseOptions"},
      {"pb.Secret", 2, F::TYPE_STRING, false, nullptr},       // internal_data
      {"pb.Secret", 3, F::TYPE_STRING, false, nullptr},       // lease_id
      {"pb.LeaseOptions", 1, F::TYPE_INT64, false, nullptr},  // TTL (ns)
      {"pb.LeaseOptions", 4, F::TYPE_MESSAGE, false, "google.protobuf.Timestamp"},
      {"pb.LeaseOptions", 5, F::TYPE_INT64, false, nullptr},  // MaxTTL
      {"pb.Auth", 11, F::TYPE_MESSAGE, false, "logical.Alias"},
      {"pb.Auth", 17, F::TYPE_UINT32, false, nullptr},        // token_type
      {"pb.Paths", 1, F::TYPE_STRING, true, nullptr},         // root
      {"pb.Paths", 2, F::TYPE_STRING, true, nullptr},         // unauthenticated
      {"pb.Paths", 4, F::TYPE_STRING, true, nullptr},         // seal_wrap_storage
      {"pb.Paths", 6, F::TYPE_STRING, true, nullptr},         // binary
      {"pb.HandleRequestArgs", 1, F::TYPE_UINT32, false, nullptr},
      {"pb.HandleRequestArgs", 2, F::TYPE_MESSAGE, false, "pb.Request"},
      {"pb.HandleRequestReply", 1, F::TYPE_MESSAGE, false, "pb.Response"},
      {"pb.HandleRequestReply", 2, F::TYPE_MESSAGE, false, "pb.ProtoError"},
      {"pb.HandleExistenceCheckReply", 3, F::TYPE_MESSAGE, false, "pb.ProtoError"},
      {"pb.SetupArgs", 1, F::TYPE_UINT32, false, nullptr},    // broker_id
      {"pb.SetupArgs", 3, F::TYPE_STRING, false, nullptr},    // backendUUID
      {"pb.SetupReply", 1, F::TYPE_STRING, false, nullptr},   // err
      {"pb.TypeReply", 1, F::TYPE_UINT32, false, nullptr},
      {"pb.InvalidateKeyArgs", 1, F::TYPE_STRING, false, nullptr},
      {"pb.StorageEntry", 1, F::TYPE_STRING, false, nullptr},
      {"pb.StorageEntry", 2, F::TYPE_BYTES, false, nullptr},
      {"pb.StorageEntry", 3, F::TYPE_BOOL, false, nullptr},
      {"pb.StorageListReply", 1, F::TYPE_STRING, true, nullptr},
      {"pb.StorageListReply", 2, F::TYPE_STRING, false, nullptr},
      {"pb.StorageGetReply", 1, F::TYPE_MESSAGE, false, "pb.StorageEntry"},
      {"pb.StoragePutArgs", 1, F::TYPE_MESSAGE, false, "pb.StorageEntry"},
      {"pb.TTLReply", 1, F::TYPE_INT64, false, nullptr},
      {"pb.ResponseWrapInfo", 9, F::TYPE_BOOL, false, nullptr},  // seal_wrap
      {"pb.Connection", 3, F::TYPE_INT32, false, nullptr},       // remote_port
      {"plugin.ConnInfo", 1, F::TYPE_UINT32, false, nullptr},    // service_id
      {"plugin.ConnInfo", 2, F::TYPE_STRING, false, nullptr},    // network
      {"plugin.ConnInfo", 3, F::TYPE_STRING, false, nullptr},    // address
  };
  const DescriptorPool* pool = LinkedPool();
  for (const auto& f : facts) {
    const auto* message = pool->FindMessageTypeByName(f.message);
    ASSERT_NE(message, nullptr) << f.message;
    const auto* field = message->FindFieldByNumber(f.number);
    ASSERT_NE(field, nullptr) << f.message << " #" << f.number;
    EXPECT_EQ(field->type(), f.type) << f.message << " #" << f.number;
    EXPECT_EQ(field->is_repeated(), f.repeated) << f.message << " #" << f.number;
    if (f.message_type) {
      EXPECT_EQ(field->message_type()->full_name(), f.message_type) << f.message << " #" << f.number;
    }
  }
  // Maps: Request.headers (8) and SetupArgs.Config (2).
  EXPECT_TRUE(pool->FindMessageTypeByName("pb.Request")->FindFieldByNumber(8)->is_map());
  const auto* config = pool->FindMessageTypeByName("pb.SetupArgs")->FindFieldByNumber(2);
  ASSERT_TRUE(config->is_map());
  EXPECT_EQ(config->message_type()->map_value()->type(), FieldDescriptor::TYPE_STRING);
}

TEST(ProtoWire, ServicesAndMethodsCarryTheHostsNames) {
  const DescriptorPool* pool = LinkedPool();
  struct ServiceFact {
    const char* service;
    std::vector<const char*> methods;
  } services[] = {
      {"pb.Backend", {"HandleRequest", "SpecialPaths", "HandleExistenceCheck", "Cleanup", "InvalidateKey", "Setup",
                      "Initialize", "Type"}},
      {"pb.Storage", {"List", "Get", "Put", "Delete"}},
      {"pb.SystemView", {"DefaultLeaseTTL", "MaxLeaseTTL"}},
      {"plugin.GRPCBroker", {"StartStream"}},
      {"plugin.GRPCController", {"Shutdown"}},
      {"plugin.GRPCStdio", {"StreamStdio"}},
      {"logical.PluginVersion", {"Version"}},
  };
  for (const auto& s : services) {
    const auto* service = pool->FindServiceByName(s.service);
    ASSERT_NE(service, nullptr) << s.service;
    for (const char* m : s.methods) EXPECT_NE(service->FindMethodByName(m), nullptr) << s.service << "/" << m;
  }
  const auto* start_stream = pool->FindMethodByName("plugin.GRPCBroker.StartStream");
  ASSERT_NE(start_stream, nullptr);
  EXPECT_TRUE(start_stream->client_streaming());
  EXPECT_TRUE(start_stream->server_streaming());
  EXPECT_EQ(pool->FindMethodByName("plugin.GRPCController.Shutdown")->input_type()->full_name(), "plugin.Empty");
}

TEST(ProtoWire, RequestRoundTripsThroughTheWire) {
  pb::HandleRequestArgs args;
  args.mutable_request()->set_path("issue/web");
  args.mutable_request()->set_data(R"({"common_name":"a.example.com"})");
  args.mutable_request()->set_mount_point("pki/");
  std::string wire = args.SerializeAsString();
  pb::HandleRequestArgs back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.request().path(), "issue/web");
  EXPECT_EQ(back.request().mount_point(), "pki/");
}

}  // namespace
}  // namespace pki
