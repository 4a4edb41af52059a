// The overdue-PEP sweep end to end (docs/notifications.md, issue #15): real
// `kinex` processes over mTLS on loopback, in every deployment (all in one
// process on SQLite; one process per service on SQLite and on PostgreSQL),
// with the records service sweeping every second
// (records.pep_sweep_interval_seconds: 1), driven only through the public
// Exchange, Notifications and Audit APIs.
//
// A local authority creates a child, its virtual school publishes a personal
// education plan whose next review was due in the past; the virtual school
// head then finds exactly one VSH_ALERT, reason PEP_REVIEW_OVERDUE, for that
// child (however many sweeps ran), carrying only the minimal payload, and
// one PEP_REVIEW_OVERDUE audit event by the records service; another LA's
// virtual school is told nothing.
//
// The sweep runs on its own clock, so the test polls for the alert (with a
// generous limit, as a failure, not as a timing assertion). That later
// sweeps raised nothing is shown by waiting for a second child's alert,
// which only a later sweep can raise.
//
// Example:
//   build/bin/pep_sweep_e2e_test --gtest_filter='*AllInOneSqlite*'
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "kinex/notifications/v1/notifications.grpc.pb.h"
#include "tests/integration/agencies.h"
#include "tests/integration/cluster.h"
#include "tests/testing/test_dates.h"

namespace kinex::testing {
namespace {

using ::testing::IsEmpty;
namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace nv1 = kinex::notifications::v1;
namespace rv1 = kinex::record::v1;

constexpr char kActor[] = "E2E practitioner";
// How long a test waits for a sweep (every second) before it fails.
constexpr absl::Duration kGiveUp = absl::Seconds(60);

class PepSweepE2E : public PerDeploymentTest<PepSweepE2E> {
 public:
  // Every records process sweeps every second.
  static void CustomizeCluster(const Deployment& /*deployment*/, KinexCluster::Options& options) {
    options.records_config = "pep_sweep_interval_seconds: 1";
  }

 protected:
  static void Prepare(grpc::ClientContext& ctx, const std::string& request_id) {
    ctx.AddMetadata("x-kinex-actor", kActor);
    ctx.AddMetadata("x-kinex-request-id", request_id);
  }

  // Fresh child numbers per test, per deployment.
  int NextSeed() {
    static std::map<std::string, int> seeds;
    return 100 + seeds[GetParam().name]++;
  }

  grpc::Status Publish(const Agency& a, const ev1::PublishRecordRequest& req,
                       ev1::PublishRecordResponse* resp, const std::string& request_id) {
    grpc::ClientContext ctx;
    Prepare(ctx, request_id);
    return ev1::Exchange::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role))
        ->PublishRecord(&ctx, req, resp);
  }

  // Westminster creates a child (previously looked after: a special
  // guardianship order made from care); its virtual school publishes
  // a plan last reviewed on 1 March 2024 and due again on `next_review_due`.
  // Returns the Kinex id.
  std::string ChildWithPlan(const rv1::Date& next_review_due) {
    const std::string id = absl::StrCat("PEP-", NextSeed());
    ev1::PublishRecordRequest la;
    la.mutable_child()->mutable_la_child_id()->set_la_code(kLa.code);
    la.mutable_child()->mutable_la_child_id()->set_id(id);
    rv1::ChildRecord* r = la.mutable_record();
    r->mutable_identity()->set_la_child_id(id);
    r->mutable_identity()->set_given_name("Wren");
    r->mutable_identity()->set_family_name("Halloway");
    *r->mutable_identity()->mutable_date_of_birth() = Date(2015, 4, 2);
    auto* ep = r->add_legal_status();
    ep->set_arrangement(rv1::SPECIAL_GUARDIANSHIP_ORDER);
    *ep->mutable_start_date() = Date(2023, 2, 1);
    ep->set_previously_looked_after(true);
    ev1::PublishRecordResponse la_resp;
    grpc::Status s = Publish(kLa, la, &la_resp, "pep-create");
    EXPECT_TRUE(s.ok()) << s.error_message();

    ev1::PublishRecordRequest vs;
    vs.mutable_child()->set_kinex_id(la_resp.kinex_id());
    rv1::PersonalEducationPlan* pep = vs.mutable_record()->mutable_education()->mutable_pep();
    *pep->mutable_last_review_date() = Date(2024, 3, 1);
    pep->set_status(rv1::PEP_CURRENT);
    *pep->mutable_next_review_due() = next_review_due;
    ev1::PublishRecordResponse vs_resp;
    s = Publish(kVsh, vs, &vs_resp, "pep-plan");
    EXPECT_TRUE(s.ok()) << s.error_message();
    return la_resp.kinex_id();
  }

  // `a`'s notifications about child `kid`, every page.
  std::vector<nv1::Notification> About(const Agency& a, const std::string& kid) {
    auto stub = nv1::Notifications::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role));
    std::vector<nv1::Notification> out;
    std::string token;
    do {
      grpc::ClientContext ctx;
      Prepare(ctx, "pep-list");
      nv1::ListNotificationsRequest req;
      req.set_page_size(100);
      req.set_page_token(token);
      nv1::ListNotificationsResponse resp;
      grpc::Status s = stub->ListNotifications(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& n : resp.notifications()) {
        if (n.kinex_id() == kid) out.push_back(n);
      }
      token = resp.next_page_token();
    } while (!token.empty());
    return out;
  }

  // `a`'s notifications about `kid` once there is at least one (polling the
  // sweep); empty if none came within kGiveUp.
  std::vector<nv1::Notification> AwaitAbout(const Agency& a, const std::string& kid) {
    const absl::Time give_up = absl::Now() + kGiveUp;
    for (;;) {
      std::vector<nv1::Notification> got = About(a, kid);
      if (!got.empty() || absl::Now() > give_up) return got;
      absl::SleepFor(absl::Milliseconds(200));
    }
  }

  // The audit events of `kind` about child `kid`, as the auditor sees them.
  std::vector<av1::AuditEvent> Events(const std::string& kid, av1::EventKind kind) {
    av1::QueryEventsRequest query;
    query.mutable_child()->set_kinex_id(kid);
    query.add_kinds(kind);
    return AuditEvents(*cluster_, query, "pep-audit");
  }
};

// The names of a message's populated fields.
std::set<std::string> Populated(const google::protobuf::Message& m) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  std::set<std::string> names;
  for (const auto* f : fields) names.insert(f->name());
  return names;
}

TEST_P(PepSweepE2E, AnOverduePlanAlertsItsVirtualSchoolOnce) {
  const std::string kid = ChildWithPlan(Date(2025, 9, 1));
  const std::vector<nv1::Notification> first = AwaitAbout(kVsh, kid);
  ASSERT_EQ(first.size(), 1u) << "no overdue-PEP alert within " << kGiveUp;
  const nv1::Notification& n = first[0];
  EXPECT_EQ(n.kind(), nv1::VSH_ALERT);
  EXPECT_EQ(n.reason(), "PEP_REVIEW_OVERDUE");
  EXPECT_EQ(n.kinex_id(), kid);
  EXPECT_EQ(n.recipient_kind(), cv1::VIRTUAL_SCHOOL);
  EXPECT_EQ(n.recipient_code(), kVsh.code);
  EXPECT_EQ(n.state(), nv1::DELIVERED);
  EXPECT_EQ(n.notification_id(), absl::StrCat(n.cause_leaf_index(), ".0"));
  // The minimal payload: a VSH alert's common fields only.
  EXPECT_EQ(Populated(n),
            (std::set<std::string>{"notification_id", "kind", "state", "create_time", "kinex_id",
                                   "request_id", "cause_leaf_index", "reason", "recipient_kind",
                                   "recipient_code", "deliver_time"}));
  EXPECT_EQ(n.request_id().rfind("pep-overdue/", 0), 0u) << n.request_id();
  EXPECT_EQ(n.request_id().find(kid), std::string::npos) << n.request_id();

  // A second child's alert can only come from a later sweep: by then the
  // first child has had more sweeps, and still one alert.
  const std::string later = ChildWithPlan(Date(2025, 10, 1));
  ASSERT_EQ(AwaitAbout(kVsh, later).size(), 1u);
  const std::vector<nv1::Notification> again = About(kVsh, kid);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].notification_id(), n.notification_id());

  // One audit event by the records service, no agency, about the child.
  const std::vector<av1::AuditEvent> events = Events(kid, av1::PEP_REVIEW_OVERDUE);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].principal(), "spiffe://kinex.dev/service/records");
  EXPECT_EQ(events[0].agency_kind(), cv1::AGENCY_KIND_UNSPECIFIED);
  EXPECT_EQ(events[0].idempotency_key(), n.request_id());
  ASSERT_EQ(events[0].notified_size(), 1);
  EXPECT_EQ(events[0].notified(0).recipient_kind(), cv1::VIRTUAL_SCHOOL);
  EXPECT_EQ(events[0].notified(0).recipient_code(), kVsh.code);
  EXPECT_EQ(events[0].notified(0).kind(), nv1::VSH_ALERT);

  // Nobody else is told: not another LA's virtual school, not the LA.
  EXPECT_THAT(About(kWelshVsh, kid), IsEmpty());
  EXPECT_THAT(About(Agency{"virtual-school", "E08000025", "virtual-school-head"}, kid), IsEmpty());
  EXPECT_THAT(About(kLa, kid), IsEmpty());
}

TEST_P(PepSweepE2E, APlanDueInTheFutureRaisesNothing) {
  const std::string future = ChildWithPlan(Date(2099, 1, 1));
  // Overdue, published after: its alert proves the sweeps ran over both.
  const std::string overdue = ChildWithPlan(Date(2025, 9, 1));
  ASSERT_EQ(AwaitAbout(kVsh, overdue).size(), 1u);
  EXPECT_THAT(About(kVsh, future), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Deployments, PepSweepE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

}  // namespace
}  // namespace kinex::testing
