// Hardening with real `kinex` processes over mTLS (issue 12): only declared
// principals at every public front, least privilege between services (the
// service ACL enforced by every internal adapter, over the wire), and no
// internal address in an error an agency receives.
#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "kinex/notifications/v1/notifications.grpc.pb.h"
#include "services/common/service_acl.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"

namespace kinex::testing {
namespace {

namespace av1 = kinex::audit::v1;
namespace ev1 = kinex::exchange::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kServices[] = {"gateway", "policy", "consent", "audit", "records"};

// Calls `method` ("kinex.records.v1.Records/GetRecord") with an empty
// request over `channel`.
grpc::Status CallEmpty(std::shared_ptr<grpc::Channel> channel, const std::string& method) {
  grpc::GenericStub stub(std::move(channel));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, absl::StrCat("/", method), grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

template <typename Fn>
grpc::Status AsAgency(KinexCluster& c, const std::string& cert_base, Fn call) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", "Test Practitioner");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return call(c.Channel(c.gateway_address(), cert_base), ctx);
}

grpc::Status ListChildren(std::shared_ptr<grpc::Channel> ch, grpc::ClientContext& ctx) {
  ev1::ListChildrenRequest req;
  req.set_purpose(kinex::common::v1::EDUCATION_SUPPORT);
  ev1::ListChildrenResponse resp;
  return ev1::Exchange::NewStub(ch)->ListChildren(&ctx, req, &resp);
}
grpc::Status ListAgreements(std::shared_ptr<grpc::Channel> ch, grpc::ClientContext& ctx) {
  kinex::consent::v1::ListSharingAgreementsResponse resp;
  return kinex::consent::v1::Consent::NewStub(ch)->ListSharingAgreements(&ctx, {}, &resp);
}
grpc::Status ListNotifications(std::shared_ptr<grpc::Channel> ch, grpc::ClientContext& ctx) {
  kinex::notifications::v1::ListNotificationsResponse resp;
  return kinex::notifications::v1::Notifications::NewStub(ch)->ListNotifications(&ctx, {}, &resp);
}
grpc::Status AckNotification(std::shared_ptr<grpc::Channel> ch, grpc::ClientContext& ctx) {
  kinex::notifications::v1::AckNotificationRequest req;
  req.set_notification_id("1.0");
  kinex::notifications::v1::Notification resp;
  return kinex::notifications::v1::Notifications::NewStub(ch)->AckNotification(&ctx, req, &resp);
}
// The stream is refused before its first message.
grpc::Status WatchNotifications(std::shared_ptr<grpc::Channel> ch, grpc::ClientContext& ctx) {
  auto stream = kinex::notifications::v1::Notifications::NewStub(ch)->WatchNotifications(&ctx, {});
  kinex::notifications::v1::Notification n;
  while (stream->Read(&n)) {
    ADD_FAILURE() << "an undeclared role was sent notification " << n.notification_id();
  }
  return stream->Finish();
}
grpc::Status TreeHead(std::shared_ptr<grpc::Channel> ch, grpc::ClientContext& ctx) {
  av1::SignedTreeHead head;
  return av1::Audit::NewStub(ch)->GetSignedTreeHead(&ctx, {}, &head);
}

// Every public front, in either mode, refuses an undeclared role with
// UNAUTHENTICATED naming the role and kind; the declared auditor reads the
// log through the gateway.
void ExpectOnlyDeclaredPrincipals(KinexCluster& c) {
  const std::string school =
      "role \"caretaker\" is not declared for agency kind school (declared: "
      "designated-safeguarding-lead, designated-teacher)";
  for (auto call : {&ListChildren, &ListAgreements, &ListNotifications, &AckNotification,
                    &WatchNotifications, &TreeHead}) {
    grpc::Status s = AsAgency(c, "negative/undeclared-school", call);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(s.error_message(), school);
  }
  grpc::Status intern = AsAgency(c, "negative/undeclared-auditor", &TreeHead);
  EXPECT_EQ(intern.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(intern.error_message(),
            "role \"intern\" is not declared for agency kind auditor (declared: auditor)");
  grpc::Status auditor = AsAgency(c, "agencies/auditor-kinex-dpo-auditor", &TreeHead);
  EXPECT_TRUE(auditor.ok()) << auditor.error_message();
  grpc::Status teacher = AsAgency(c, "agencies/school-137000-designated-teacher", &TreeHead);
  EXPECT_EQ(teacher.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(teacher.error_message(), "the audit log is readable by auditors only");
}

TEST(HardeningAllInOneE2E, OnlyDeclaredPrincipalsAtEveryFront) {
  auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kAllInOne});
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectOnlyDeclaredPrincipals(**c);
  // The records and policy adapters share the port: least privilege holds.
  grpc::Status s = CallEmpty((*c)->Channel((*c)->address("all"), "services/policy"),
                             "kinex.records.v1.Records/GetRecord");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "service \"policy\" may not call kinex.records.v1.Records/GetRecord (allowed: "
            "gateway)");
}

class HardeningMicroservicesE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kMicroservices});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static KinexCluster* cluster_;
};
KinexCluster* HardeningMicroservicesE2E::cluster_ = nullptr;

TEST_F(HardeningMicroservicesE2E, OnlyDeclaredPrincipalsAtEveryFront) {
  ASSERT_NE(cluster_, nullptr);
  ExpectOnlyDeclaredPrincipals(*cluster_);
}

TEST_F(HardeningMicroservicesE2E, EveryOtherServiceIdentityIsRefusedByEveryInternalMethod) {
  ASSERT_NE(cluster_, nullptr);
  int refused = 0;
  for (const ServiceAclRow& row : ServiceAcl()) {
    const std::string method(row.method);
    // kinex.<service>.v1.<Name>/<Method>
    const std::string target = method.substr(6, method.find('.', 6) - 6);
    for (const char* svc : kServices) {
      if (std::find(row.callers.begin(), row.callers.end(), svc) != row.callers.end()) continue;
      grpc::Status s = CallEmpty(
          cluster_->Channel(cluster_->address(target), absl::StrCat("services/", svc)), method);
      if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) continue;  // not served yet
      ++refused;
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << svc << " " << method;
      EXPECT_EQ(s.error_message(),
                absl::StrCat("service \"", svc, "\" may not call ", method,
                             " (allowed: ", absl::StrJoin(row.callers, ", "), ")"));
    }
  }
  // The 21 methods served today (records 5, consent 6, policy 2, audit 8)
  // less the 24 allowed pairs among them.
  EXPECT_GE(refused, 81);
}

TEST_F(HardeningMicroservicesE2E, AgenciesCannotReachInternalServicesEvenAuditors) {
  ASSERT_NE(cluster_, nullptr);
  grpc::Status s =
      CallEmpty(cluster_->Channel(cluster_->address("audit"), "agencies/auditor-kinex-dpo-auditor"),
                "kinex.audit.v1.Audit/QueryEvents");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "kinex.audit.v1.Audit/QueryEvents: the audit service accepts Kinex services only "
            "(agencies use the gateway)");
  s = CallEmpty(cluster_->Channel(cluster_->address("records"),
                                  "agencies/local-authority-E09000033-social-worker"),
                "kinex.records.v1.Records/GetRecord");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "kinex.records.v1.Records/GetRecord: the records service accepts Kinex services "
            "only (agencies use the gateway)");
}

TEST_F(HardeningMicroservicesE2E, EachServiceAppendsOnlyItsOwnEventKinds) {
  ASSERT_NE(cluster_, nullptr);
  for (const auto& [svc, kind, message] :
       std::vector<std::tuple<std::string, av1::EventKind, std::string>>{
           {"records", av1::DISCLOSURE,
            "service \"records\" may not append DISCLOSURE events to the audit log (records "
            "appends: PART_PUBLISHED, WRITE_REFUSED, RESPONSIBILITY_TRANSFERRED, LINK_CLAIMED, "
            "LINK_CONFIRMED, LINK_REJECTED, SHARING_DECISION_RECORDED, SHIELD_SET, "
            "SHIELD_REMOVED, CALENDAR_PUBLISHED, PEP_REVIEW_OVERDUE)"},
           {"consent", av1::PART_PUBLISHED,
            "service \"consent\" may not append PART_PUBLISHED events to the audit log "
            "(consent appends: CONSENT_RECORDED, CONSENT_WITHDRAWN, SHARING_AGREEMENT_CREATED, "
            "WRITE_REFUSED)"},
           {"gateway", av1::CONSENT_RECORDED,
            "service \"gateway\" may not append CONSENT_RECORDED events to the audit log "
            "(gateway appends: DISCLOSURE, AUDIT_QUERIED, NOTIFICATION_DELIVERED, "
            "NOTIFICATION_ACKNOWLEDGED, BREAK_GLASS_REVIEWED)"}}) {
    auto stub = av1::Audit::NewStub(
        cluster_->Channel(cluster_->address("audit"), absl::StrCat("services/", svc)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    av1::AppendRequest req;
    req.mutable_event()->set_kind(kind);
    av1::AppendResponse resp;
    grpc::Status s = stub->Append(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << svc;
    EXPECT_EQ(s.error_message(), message);
  }
}

TEST(HardeningKilledDependencyE2E, NoInternalAddressReachesTheAgency) {
  auto c = KinexCluster::Start({.mode = KinexCluster::Mode::kMicroservices});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> kid = PublishDemoChild(**c, "maisie-thornbury");
  ASSERT_TRUE(kid.ok()) << kid.status();
  (*c)->Kill("records");
  auto stub = ev1::Exchange::NewStub(
      (*c)->AgencyChannel("virtual-school", "E09000033", "virtual-school-head"));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", "V. Head");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_kinex_id(*kid);
  req.set_purpose(kinex::common::v1::EDUCATION_SUPPORT);
  ev1::GetChildRecordResponse resp;
  grpc::Status s = stub->GetChildRecord(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("nothing was disclosed"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("127.0.0.1")));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("ipv4:")));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("localhost")));
  const std::string logs = (*c)->Logs();
  EXPECT_THAT(logs, HasSubstr("\"error\":"));
}

}  // namespace
}  // namespace kinex::testing
