// Fail closed and observe safely, with real processes over mTLS: a dead
// audit, policy (when the gateway asks it) or consent service means nothing
// is disclosed, and a dead policy service changes no answer when the gateway
// decides with its own copy of the policy set (the default); metrics are
// served over HTTP; no log line or metric carries a child identifier, name
// or record content.

#include <map>
#include <optional>
#include <string>

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/build_info.h"
#include "services/common/error_reason.h"
#include "services/common/grpc_status.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"

namespace kinex::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;

// Publishes every part of maisie-thornbury; returns her Kinex id.
std::string SeedMaisie(KinexCluster& c) {
  absl::StatusOr<std::string> kid = PublishDemoChild(c, "maisie-thornbury");
  EXPECT_TRUE(kid.ok()) << kid.status();
  return kid.ok() ? *kid : "";
}

grpc::Status GetAsVsh(KinexCluster& c, const std::string& kid, ev1::GetChildRecordResponse* r) {
  auto stub =
      ev1::Exchange::NewStub(c.AgencyChannel("virtual-school", "E09000033", "virtual-school-head"));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", "V. Head");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_kinex_id(kid);
  req.set_purpose(cv1::EDUCATION_SUPPORT);
  return stub->GetChildRecord(&ctx, req, r);
}

class FailClosedE2E : public ::testing::TestWithParam<const char*> {};

// The policy service is on the read path when the gateway is told to ask
// it (gateway { policy_decisions: SERVICE }).
TEST_P(FailClosedE2E, DeadServiceMeansNothingIsDisclosed) {
  auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kMicroservices,
                                .policy_service_decides = std::string(GetParam()) == "policy"});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string kid = SeedMaisie(**c);
  ev1::GetChildRecordResponse r;
  ASSERT_TRUE(GetAsVsh(**c, kid, &r).ok());  // healthy: disclosed
  (*c)->Kill(GetParam());
  r.Clear();
  grpc::Status s = GetAsVsh(**c, kid, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("nothing was disclosed"));
  EXPECT_FALSE(r.has_record());
  EXPECT_FALSE(r.has_receipt());
}

INSTANTIATE_TEST_SUITE_P(Services, FailClosedE2E, ::testing::Values("audit", "policy", "consent"),
                         [](const auto& info) { return std::string(info.param); });

// By default the gateway decides with its own copy of the policy set, so the
// policy service is not on the read path: with it dead, a read is answered
// exactly as before, and a read no rule allows is still refused.
TEST(LocalPolicyDecisionsE2E, ADeadPolicyServiceChangesNoAnswer) {
  auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kMicroservices});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string kid = SeedMaisie(**c);
  auto get_as_school = [&](ev1::GetChildRecordResponse* r, const std::string& request_id) {
    // A school that is not Maisie's: declared, but with no relationship.
    auto stub = ev1::Exchange::NewStub(
        (*c)->AgencyChannel("school", "141999", "designated-safeguarding-lead"));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "DSL");
    ctx.AddMetadata("x-kinex-request-id", request_id);
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(kid);
    req.set_purpose(cv1::SAFEGUARDING);
    return stub->GetChildRecord(&ctx, req, r);
  };
  ev1::GetChildRecordResponse before;
  ASSERT_TRUE(GetAsVsh(**c, kid, &before).ok());
  ASSERT_TRUE(before.record().has_education());
  ASSERT_FALSE(before.record().has_health());
  ev1::GetChildRecordResponse refused_before;
  const grpc::Status denied_before = get_as_school(&refused_before, "local-policy-1");
  ASSERT_EQ(denied_before.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << denied_before.error_message();
  EXPECT_EQ(denied_before.error_message(),
            "no record you may see for this child and purpose (request id local-policy-1)");

  (*c)->Kill("policy");
  ev1::GetChildRecordResponse after;
  const grpc::Status s = GetAsVsh(**c, kid, &after);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(after.record().SerializeAsString(), before.record().SerializeAsString());
  EXPECT_EQ(std::vector<std::string>(after.receipt().disclosed_paths().begin(),
                                     after.receipt().disclosed_paths().end()),
            std::vector<std::string>(before.receipt().disclosed_paths().begin(),
                                     before.receipt().disclosed_paths().end()));
  EXPECT_GT(after.receipt().leaf_index(), before.receipt().leaf_index());
  ev1::GetChildRecordResponse refused_after;
  const grpc::Status denied_after = get_as_school(&refused_after, "local-policy-2");
  EXPECT_EQ(denied_after.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(denied_after.error_message(),
            "no record you may see for this child and purpose (request id local-policy-2)");
  EXPECT_FALSE(refused_after.has_record());
}

TEST(ObservabilityE2E, MetricsAndLogsCarryNoChildData) {
  auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kAllInOne});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string kid = SeedMaisie(**c);
  ev1::GetChildRecordResponse r;
  ASSERT_TRUE(GetAsVsh(**c, kid, &r).ok());
  // A break-glass read by police, counted in metrics.
  {
    auto stub =
        ev1::Exchange::NewStub((*c)->AgencyChannel("police", "01", "public-protection-officer"));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "PC Example");
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_nhs_number("9990000107");
    req.set_purpose(cv1::SAFEGUARDING);
    req.set_break_glass(true);
    req.set_justification("Child missing overnight; need medical context for the search");
    ev1::GetChildRecordResponse resp;
    grpc::Status s = stub->GetChildRecord(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // A refused call, counted by its reason: no child named.
  std::string refusal_reason;
  {
    auto stub = ev1::Exchange::NewStub(
        (*c)->AgencyChannel("virtual-school", "E09000033", "virtual-school-head"));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-kinex-actor", "V. Head");
    ev1::GetChildRecordRequest req;
    req.set_purpose(cv1::EDUCATION_SUPPORT);
    ev1::GetChildRecordResponse resp;
    grpc::Status s = stub->GetChildRecord(&ctx, req, &resp);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    refusal_reason = ErrorReasonOf(FromGrpcStatus(s));
  }
  // A method no service has: counted as "unknown", never under the name
  // the caller chose (a caller must not grow the label set).
  {
    grpc::GenericStub generic(
        (*c)->AgencyChannel("virtual-school", "E09000033", "virtual-school-head"));
    grpc::ClientContext ctx;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    grpc::Status done;
    absl::Notification finished;
    generic.UnaryCall(&ctx, "/kinex.exchange.v1.Exchange/NoSuchMethodAnywhere", grpc::StubOptions(),
                      &request, &response, [&](grpc::Status s) {
                        done = s;
                        finished.Notify();
                      });
    finished.WaitForNotification();
    EXPECT_EQ(done.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  const std::string metrics = (*c)->ScrapeMetrics("all");
  ASSERT_FALSE(metrics.empty());
  // Every call counted and timed by service, method and code.
  const std::string get =
      "grpc_method=\"GetChildRecord\",grpc_service=\"kinex.exchange.v1.Exchange\"";
  EXPECT_EQ(MetricValue(metrics, absl::StrCat("kinex_grpc_server_handled_total{grpc_code=\"OK\",",
                                              get, "}")),
            2);
  EXPECT_EQ(MetricValue(metrics, absl::StrCat("kinex_grpc_server_handled_total{grpc_code=\"INVALID_"
                                              "ARGUMENT\",",
                                              get, "}")),
            1);
  EXPECT_EQ(
      MetricValue(metrics, absl::StrCat("kinex_grpc_server_handling_seconds_count{", get, "}")), 3);
  ASSERT_FALSE(refusal_reason.empty());
  EXPECT_EQ(MetricValue(metrics, absl::StrCat("kinex_grpc_server_errors_total{", get, ",reason=\"",
                                              refusal_reason, "\"}")),
            1)
      << metrics;
  EXPECT_THAT(metrics, Not(HasSubstr("NoSuchMethodAnywhere")));
  EXPECT_EQ(MetricValue(metrics,
                        "kinex_grpc_server_handled_total{grpc_code=\"UNIMPLEMENTED\","
                        "grpc_method=\"unknown\",grpc_service=\"unknown\"}"),
            1);
  // What was built, from which commit, as which target.
  EXPECT_EQ(
      MetricValue(metrics, absl::StrCat("kinex_build_info{commit=\"", BuildCommit(),
                                        "\",target=\"all\",version=\"", BuildVersion(), "\"}")),
      1);
  // Certificates: the dev PKI's serving certificate and CA are in date.
  const double now = absl::ToUnixSeconds(absl::Now());
  for (const char* which : {"serving", "ca"}) {
    std::optional<double> expiry = MetricValue(
        metrics,
        absl::StrCat("kinex_certificate_expiry_timestamp_seconds{certificate=\"", which, "\"}"));
    ASSERT_TRUE(expiry.has_value()) << which;
    EXPECT_GT(*expiry, now + 86400) << which;
  }
  // The audit log: at least the five published parts and two disclosures.
  std::optional<double> size = MetricValue(metrics, "kinex_audit_tree_size");
  ASSERT_TRUE(size.has_value());
  EXPECT_GE(*size, 7);
  std::optional<double> head = MetricValue(metrics, "kinex_audit_signed_head_timestamp_seconds");
  ASSERT_TRUE(head.has_value());
  EXPECT_LE(*head, now + 1);
  EXPECT_GT(*head, now - 600);
  EXPECT_THAT(metrics, HasSubstr("kinex_policy_info{version=\""));
  EXPECT_THAT(metrics, HasSubstr("kinex_requests_total{"));
  EXPECT_THAT(metrics, HasSubstr("method=\"GetChildRecord\""));
  EXPECT_THAT(metrics, HasSubstr("agency_kind=\"virtual-school\""));
  EXPECT_THAT(metrics, HasSubstr("kinex_break_glass_total{agency_kind=\"police\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("kinex_audit_append_seconds_bucket"));

  const std::string logs = (*c)->Logs();
  EXPECT_THAT(logs, HasSubstr("\"msg\":\"request\""));
  EXPECT_THAT(logs, HasSubstr("\"decision\":\"partial+break-glass\""));
  // Nothing that identifies the child, nor anything of the record, anywhere.
  for (const std::string& secret :
       {kid, std::string("9990000107"), std::string("X213700025001"), std::string("WCC-100231"),
        std::string("Maisie"), std::string("Thornbury"), std::string("SW1A 0AA"),
        std::string("Police attended a domestic incident")}) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << "logs leak " << secret;
    EXPECT_EQ(metrics.find(secret), std::string::npos) << "metrics leak " << secret;
  }
}

// In microservices mode every process serves its own metrics: counted
// calls, build info and certificates everywhere; the audit log's size on
// the audit service, the policy version wherever policy is loaded.
TEST(ObservabilityE2E, EveryTargetServesItsMetrics) {
  auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kMicroservices});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string kid = SeedMaisie(**c);
  ev1::GetChildRecordResponse r;
  ASSERT_TRUE(GetAsVsh(**c, kid, &r).ok());
  const std::map<std::string, std::string> service_of = {{"gateway", "kinex.exchange.v1.Exchange"},
                                                         {"records", "kinex.records.v1.Records"},
                                                         {"audit", "kinex.audit.v1.Audit"},
                                                         {"policy", "kinex.policy.v1.Policy"},
                                                         {"consent", "kinex.consent.v1.Consent"}};
  for (const auto& [target, service] : service_of) {
    SCOPED_TRACE(target);
    const std::string metrics = (*c)->ScrapeMetrics(target);
    ASSERT_FALSE(metrics.empty());
    EXPECT_EQ(MetricValue(metrics,
                          absl::StrCat("kinex_build_info{commit=\"", BuildCommit(), "\",target=\"",
                                       target, "\",version=\"", BuildVersion(), "\"}")),
              1);
    EXPECT_TRUE(
        MetricValue(metrics, "kinex_certificate_expiry_timestamp_seconds{certificate=\"serving\"}")
            .has_value());
    // The read above reaches neither consent's own service nor policy's
    // (the gateway decides with its own copy of the policy set by default).
    if (target != "consent" && target != "policy") {
      EXPECT_THAT(metrics, HasSubstr(absl::StrCat("grpc_service=\"", service, "\"")));
    }
    EXPECT_EQ(MetricValue(metrics, "kinex_audit_tree_size").has_value(), target == "audit");
    EXPECT_EQ(absl::StrContains(metrics, "kinex_policy_info{version="),
              target == "gateway" || target == "policy" || target == "consent");
    EXPECT_EQ(absl::StrContains(metrics, "kinex_requests_total{"), target == "gateway");
  }
}

}  // namespace
}  // namespace kinex::testing
