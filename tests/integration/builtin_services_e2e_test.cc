// The services gRPC provides on every port (issue 12): health answers any
// Kinex certificate, even one whose role is not declared (it reveals only
// whether services are serving, nothing about children, and probes need
// it); server reflection is off unless server.enable_reflection asks for it
// (it listed every internal method to any certificate, and each of its
// streams held a server thread); when on, v1 and v1alpha list only the
// public services.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster.h"

namespace kinex::testing {
namespace {

grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel, const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return status;
}

constexpr char kHealth[] = "/grpc.health.v1.Health/Check";

TEST(BuiltinServicesE2E, HealthAnswersAnyKinexCertificateAndReflectionIsOffByDefault) {
  auto cluster = KinexCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  KinexCluster& c = **cluster;
  for (const char* cert : {"agencies/local-authority-E09000033-social-worker",
                           "negative/undeclared-school", "services/records"}) {
    auto channel = c.Channel(c.gateway_address(), cert);
    grpc::Status health = CallEmpty(channel, kHealth);
    EXPECT_TRUE(health.ok()) << cert << ": " << health.error_message();
    for (const char* reflection : {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                   "/grpc.reflection.v1alpha.ServerReflection/"
                                   "ServerReflectionInfo"}) {
      EXPECT_EQ(CallEmpty(channel, reflection).error_code(), grpc::StatusCode::UNIMPLEMENTED)
          << cert << " " << reflection;
    }
  }
}

// One request and its response on a reflection stream of either version.
template <typename Api>
absl::StatusOr<typename Api::ServerReflectionResponse> Reflect(
    const std::shared_ptr<grpc::Channel>& channel,
    const typename Api::ServerReflectionRequest& request) {
  auto stub = Api::ServerReflection::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->ServerReflectionInfo(&ctx);
  typename Api::ServerReflectionResponse response;
  const bool answered = stream->Write(request) && stream->Read(&response);
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!status.ok()) return absl::UnknownError(status.error_message());
  if (!answered) return absl::UnknownError("no response");
  return response;
}

struct V1 {
  using ServerReflection = grpc::reflection::v1::ServerReflection;
  using ServerReflectionRequest = grpc::reflection::v1::ServerReflectionRequest;
  using ServerReflectionResponse = grpc::reflection::v1::ServerReflectionResponse;
};
struct V1Alpha {
  using ServerReflection = grpc::reflection::v1alpha::ServerReflection;
  using ServerReflectionRequest = grpc::reflection::v1alpha::ServerReflectionRequest;
  using ServerReflectionResponse = grpc::reflection::v1alpha::ServerReflectionResponse;
};

template <typename Api>
class ReflectionE2E : public ::testing::Test {};
using Versions = ::testing::Types<V1, V1Alpha>;
TYPED_TEST_SUITE(ReflectionE2E, Versions);

// Both versions served when configured; they list only what an agency may
// call on the port (not --target=all's internal Policy and Records), and
// describe a public method's file with its imports.
TYPED_TEST(ReflectionE2E, ListsOnlyPublicServicesAndDescribesThem) {
  auto cluster = KinexCluster::Start({.extra_config = "server { enable_reflection: true }\n"});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  KinexCluster& c = **cluster;
  auto channel = c.Channel(c.gateway_address(), "agencies/local-authority-E09000033-social-worker");

  typename TypeParam::ServerReflectionRequest list;
  list.set_list_services("");
  auto listed = Reflect<TypeParam>(channel, list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> names;
  for (const auto& s : listed->list_services_response().service()) names.push_back(s.name());
  EXPECT_THAT(names, ::testing::ElementsAre(
                         "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                         "grpc.reflection.v1alpha.ServerReflection", "kinex.audit.v1.Audit",
                         "kinex.consent.v1.Consent", "kinex.exchange.v1.Exchange",
                         "kinex.notifications.v1.Notifications"));

  typename TypeParam::ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol("kinex.exchange.v1.Exchange.GetChildRecord");
  auto described = Reflect<TypeParam>(channel, symbol);
  ASSERT_TRUE(described.ok()) << described.status();
  std::vector<std::string> files;
  for (const std::string& bytes : described->file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    files.push_back(file.name());
  }
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files.back(), "kinex/exchange/v1/exchange.proto") << "imports first, the file last";
  EXPECT_THAT(files, ::testing::Contains("kinex/record/v1/record.proto"));

  typename TypeParam::ServerReflectionRequest unknown;
  unknown.set_file_containing_symbol("kinex.exchange.v1.NoSuchThing");
  auto missing = Reflect<TypeParam>(channel, unknown);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(missing->error_response().error_message(),
            "file_containing_symbol: no symbol \"kinex.exchange.v1.NoSuchThing\"");
}

}  // namespace
}  // namespace kinex::testing
