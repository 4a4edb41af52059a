// The Policy gRPC service over a real in-process server (port 0), and the
// kinex binary's policy target.
#include <cstdlib>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "kinex/policy/v1/policy.grpc.pb.h"
#include "services/common/clock.h"
#include "services/policy/policy_service.h"
#include "services/policy/policy_target.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
using ::testing::Contains;
using ::testing::HasSubstr;

std::string SourceDir() {
  const char* dir = std::getenv("KINEX_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

pv1::DecisionRequest VirtualSchoolHead() {
  pv1::DecisionRequest r;
  google::protobuf::TextFormat::ParseFromString(
      "principal { agency_kind: VIRTUAL_SCHOOL agency_code: \"E09000033\" "
      "role: \"virtual-school-head\" } child { scope { responsible_la_code: "
      "\"E09000033\" } looked_after: true } purpose: EDUCATION_SUPPORT",
      &r);
  return r;
}

class PolicyServiceTest : public ::testing::Test {
 protected:
  void Start(PolicyService::Options options) {
    kinex::config::v1::KinexConfig config;
    config.mutable_policy()->set_policy_dir(SourceDir() + "/policy");
    auto engine = PolicyEngine::Create({.policy_dir = SourceDir() + "/policy"});
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    service_ = std::make_unique<PolicyService>(engine_, std::move(options));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pv1::Policy::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                     grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  std::shared_ptr<PolicyEngine> engine_;
  std::unique_ptr<PolicyService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pv1::Policy::Stub> stub_;
};

TEST_F(PolicyServiceTest, DecideOverGrpc) {
  Start({});
  grpc::ClientContext ctx;
  pv1::Decision decision;
  grpc::Status s = stub_->Decide(&ctx, VirtualSchoolHead(), &decision);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(decision.allowed());
  EXPECT_THAT(decision.allowed_paths(), Contains("education"));
  EXPECT_EQ(decision.policy_version(), engine_->version());
}

TEST_F(PolicyServiceTest, ExplainOverGrpc) {
  Start({});
  grpc::ClientContext ctx;
  pv1::ExplainRequest request;
  *request.mutable_request() = VirtualSchoolHead();
  pv1::Explanation explanation;
  grpc::Status s = stub_->Explain(&ctx, request, &explanation);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(explanation.trace(), Contains(HasSubstr("rule \"vsh-looked-after\" (GRANT, ")));
}

TEST_F(PolicyServiceTest, BadRequestIsADenyNotAnError) {
  Start({});
  grpc::ClientContext ctx;
  pv1::Decision decision;
  grpc::Status s = stub_->Decide(&ctx, pv1::DecisionRequest(), &decision);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(decision.allowed());
  EXPECT_EQ(decision.deny_reason(), "invalid request: principal agency kind is unset");
}

TEST_F(PolicyServiceTest, UnauthenticatedCallerIsRefused) {
  Start({.trust_domain = "kinex.dev"});
  grpc::ClientContext ctx;
  pv1::Decision decision;
  grpc::Status s = stub_->Decide(&ctx, VirtualSchoolHead(), &decision);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(decision.allowed());
}

TEST(PolicyTargetTest, LoadsTheConfiguredDirectory) {
  kinex::config::v1::KinexConfig config;
  config.set_trust_domain("kinex.dev");
  config.mutable_policy()->set_policy_dir(SourceDir() + "/policy");
  auto target = MakePolicyTarget(config, kinex::RealClock::Get());
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_NE(target->grpc_service, nullptr);
  EXPECT_EQ(target->engine->version().size(), 64u);
}

TEST(PolicyTargetTest, MissingDirectoryFails) {
  kinex::config::v1::KinexConfig config;
  config.mutable_policy()->set_policy_dir(SourceDir() + "/no-such-policy-dir");
  auto target = MakePolicyTarget(config, kinex::RealClock::Get());
  EXPECT_EQ(target.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(target.status().message(), HasSubstr("does not exist"));
}

}  // namespace
}  // namespace kinex::policy
