// The services gRPC provides on every port (issue 12): health answers any
// Kinex certificate, even one whose role is not declared (it reveals only
// whether services are serving, nothing about children, and probes need
// it); server reflection is off unless server.enable_reflection asks for it
// (it listed every internal method to any certificate, and each of its
// streams held a server thread).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
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
constexpr char kReflection[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

TEST(BuiltinServicesE2E, HealthAnswersAnyKinexCertificateAndReflectionIsOffByDefault) {
  auto cluster = KinexCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  KinexCluster& c = **cluster;
  for (const char* cert : {"agencies/local-authority-E09000033-social-worker",
                           "negative/undeclared-school", "services/records"}) {
    auto channel = c.Channel(c.gateway_address(), cert);
    grpc::Status health = CallEmpty(channel, kHealth);
    EXPECT_TRUE(health.ok()) << cert << ": " << health.error_message();
    grpc::Status reflection = CallEmpty(channel, kReflection);
    EXPECT_EQ(reflection.error_code(), grpc::StatusCode::UNIMPLEMENTED) << cert;
  }
}

TEST(BuiltinServicesE2E, ReflectionIsServedWhenConfigured) {
  auto cluster = KinexCluster::Start({.extra_config = "server { enable_reflection: true }\n"});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  KinexCluster& c = **cluster;
  // A bidi method called with one message and half-close: an empty
  // ServerReflectionRequest gets an error *response*, and the stream ends OK.
  grpc::Status reflection =
      CallEmpty(c.Channel(c.gateway_address(), "agencies/local-authority-E09000033-social-worker"),
                kReflection);
  EXPECT_NE(reflection.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace kinex::testing
