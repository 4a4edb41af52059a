// The Policy gRPC service over a real in-process server (port 0), and the
// kinex binary's policy target.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "kinex/policy/v1/policy.grpc.pb.h"
#include "services/common/clock.h"
#include "services/policy/policy_client.h"
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
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    stub_ = pv1::Policy::NewStub(channel_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  std::shared_ptr<PolicyEngine> engine_;
  std::unique_ptr<PolicyService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
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

TEST_F(PolicyServiceTest, BatchDecideDecidesEachAsDecideDoes) {
  Start({});
  pv1::DecisionRequest police = VirtualSchoolHead();
  police.mutable_principal()->set_agency_kind(kinex::common::v1::POLICE);
  police.mutable_principal()->set_role("public-protection-officer");
  pv1::BatchDecideRequest batch;
  *batch.add_requests() = VirtualSchoolHead();
  *batch.add_requests() = pv1::DecisionRequest();
  *batch.add_requests() = police;
  grpc::ClientContext ctx;
  pv1::BatchDecideResponse decided;
  grpc::Status s = stub_->BatchDecide(&ctx, batch, &decided);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(decided.decisions_size(), 3);
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext one_ctx;
    pv1::Decision one;
    ASSERT_TRUE(stub_->Decide(&one_ctx, batch.requests(i), &one).ok());
    EXPECT_EQ(decided.decisions(i).SerializeAsString(), one.SerializeAsString()) << i;
  }
  EXPECT_TRUE(decided.decisions(0).allowed());
  EXPECT_EQ(decided.decisions(1).deny_reason(), "invalid request: principal agency kind is unset");

  pv1::BatchDecideRequest too_many;
  for (int i = 0; i <= kMaxBatchDecide; ++i) *too_many.add_requests() = VirtualSchoolHead();
  grpc::ClientContext over_ctx;
  s = stub_->BatchDecide(&over_ctx, too_many, &decided);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "requests: at most 500 (got 501)");
}

TEST_F(PolicyServiceTest, RemoteDeciderEvaluatesAPageInOneCallAndSplitsPastTheLimit) {
  Start({});
  RemotePolicyDecider decider(channel_);
  std::vector<pv1::DecisionRequest> page(kMaxBatchDecide + 1, VirtualSchoolHead());
  page[1] = pv1::DecisionRequest();
  auto evaluated = decider.EvaluateAll(page);
  ASSERT_TRUE(evaluated.ok()) << evaluated.status();
  ASSERT_EQ(evaluated->size(), page.size());
  EXPECT_TRUE((*evaluated)[0]->decision.allowed());
  EXPECT_FALSE((*evaluated)[1]->decision.allowed());
  EXPECT_TRUE((*evaluated)[kMaxBatchDecide]->decision.allowed());
  auto one = decider.Evaluate(page[0]);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ((*evaluated)[0]->decision.SerializeAsString(), (*one)->decision.SerializeAsString());
}

// A policy service from before BatchDecide (a rolling upgrade that reached
// the gateway first): it answers Decide only, and is asked once per child.
class DecideOnlyService final : public pv1::Policy::Service {
 public:
  explicit DecideOnlyService(const PolicyEngine& engine) : engine_(engine) {}
  grpc::Status Decide(grpc::ServerContext*, const pv1::DecisionRequest* request,
                      pv1::Decision* response) override {
    calls_.fetch_add(1);
    absl::StatusOr<pv1::Decision> d = engine_.Decide(*request);
    if (!d.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "decide failed");
    *response = std::move(*d);
    return grpc::Status::OK;
  }
  int calls() const { return calls_.load(); }

 private:
  const PolicyEngine& engine_;
  std::atomic<int> calls_{0};
};

TEST_F(PolicyServiceTest, AnOlderPolicyServiceIsAskedOneDecideEach) {
  Start({});
  DecideOnlyService older(*engine_);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&older);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  RemotePolicyDecider decider(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  auto evaluated = decider.EvaluateAll({VirtualSchoolHead(), pv1::DecisionRequest()});
  server->Shutdown();
  ASSERT_TRUE(evaluated.ok()) << evaluated.status();
  ASSERT_EQ(evaluated->size(), 2u);
  EXPECT_TRUE((*evaluated)[0]->decision.allowed());
  EXPECT_FALSE((*evaluated)[1]->decision.allowed());
  EXPECT_EQ(older.calls(), 2);
}

TEST_F(PolicyServiceTest, UnauthenticatedCallerIsRefused) {
  Start({.trust_domain = "kinex.dev"});
  grpc::ClientContext ctx;
  pv1::Decision decision;
  grpc::Status s = stub_->Decide(&ctx, VirtualSchoolHead(), &decision);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(decision.allowed());
  grpc::ClientContext batch_ctx;
  pv1::BatchDecideRequest batch;
  *batch.add_requests() = VirtualSchoolHead();
  pv1::BatchDecideResponse decided;
  s = stub_->BatchDecide(&batch_ctx, batch, &decided);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(decided.decisions_size(), 0);
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
