// Published school calendars end to end (docs/notifications.md,
// "Deadlines"; issue #15): real `kinex` processes over mTLS on loopback, in
// every deployment (all in one process on SQLite; one process per service
// on SQLite and on PostgreSQL), driven only through the public Exchange,
// Notifications and Audit APIs.
//
// A school publishes its calendar (an INSET day on a Monday, its day
// starting at 08:40) and a police Operation Encompass incident on the
// Friday before is due at the school on Tuesday at 08:40, Europe/London.
// Only a school publishes its own calendar: another school naming its URN
// is PERMISSION_DENIED and audited as WRITE_REFUSED; health and police may
// not publish calendars at all; an invalid calendar is INVALID_ARGUMENT
// naming the field. GetSchoolCalendar returns what was stored, with its
// etag, and a publish needs the current etag.
//
// Example:
//   build/bin/calendars_e2e_test --gtest_filter='*AllInOneSqlite*'
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "kinex/notifications/v1/notifications.grpc.pb.h"
#include "services/common/grpc_status.h"
#include "services/common/textproto.h"
#include "tests/integration/agencies.h"
#include "tests/integration/cluster.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_dates.h"

namespace kinex::testing {
namespace {

namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace nv1 = kinex::notifications::v1;
namespace rv1 = kinex::record::v1;

constexpr char kActor[] = "School Office";

// School A's (URN 137000) autumn term 2027: Monday 8 November is an INSET
// day, the school day starts at 08:40.
nv1::SchoolCalendar SchoolACalendar() {
  nv1::SchoolCalendar calendar;
  EXPECT_TRUE(ParseTextProto(R"pb(
                               school_urn: "137000"
                               terms {
                                 first { year: 2027 month: 9 day: 1 }
                                 last { year: 2027 month: 12 day: 17 }
                               }
                               closures { year: 2027 month: 11 day: 8 }
                               day_start: "08:40"
                             )pb",
                             "calendar", &calendar)
                  .ok());
  return calendar;
}

class CalendarsE2E : public PerDeploymentTest<CalendarsE2E> {
 protected:
  std::unique_ptr<ev1::Exchange::Stub> Exchange(const Agency& a) {
    return ev1::Exchange::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role));
  }
  static void Prepare(grpc::ClientContext& ctx, const std::string& request_id) {
    ctx.AddMetadata("x-kinex-actor", kActor);
    ctx.AddMetadata("x-kinex-request-id", request_id);
  }

  absl::Status PublishCalendar(const Agency& a, const nv1::SchoolCalendar& calendar,
                               const std::string& etag, const std::string& request_id,
                               ev1::PublishSchoolCalendarResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(ctx, request_id);
    ev1::PublishSchoolCalendarRequest req;
    *req.mutable_calendar() = calendar;
    req.set_etag(etag);
    return FromGrpcStatus(Exchange(a)->PublishSchoolCalendar(&ctx, req, resp));
  }

  absl::Status GetCalendar(const Agency& a, ev1::GetSchoolCalendarResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(ctx, "cal-get");
    return FromGrpcStatus(Exchange(a)->GetSchoolCalendar(&ctx, {}, resp));
  }

  grpc::Status Publish(const Agency& a, const ev1::PublishRecordRequest& req,
                       ev1::PublishRecordResponse* resp, const std::string& request_id) {
    grpc::ClientContext ctx;
    Prepare(ctx, request_id);
    return Exchange(a)->PublishRecord(&ctx, req, resp);
  }

  // The LA creates a child naming the Met and school A (so both attach
  // confirmed); the Kinex id.
  std::string CreateChild(const std::string& la_child_id) {
    ev1::PublishRecordRequest req;
    req.mutable_child()->mutable_la_child_id()->set_la_code(kLa.code);
    req.mutable_child()->mutable_la_child_id()->set_id(la_child_id);
    rv1::ChildRecord* r = req.mutable_record();
    r->mutable_identity()->set_la_child_id(la_child_id);
    r->mutable_identity()->set_given_name("Wren");
    r->mutable_identity()->set_family_name("Halloway");
    *r->mutable_identity()->mutable_date_of_birth() = Date(2015, 4, 2);
    for (const auto& [kind, code] : std::vector<std::pair<cv1::AgencyKind, std::string>>{
             {cv1::POLICE, kMet.code}, {cv1::SCHOOL, kSchoolA.code}}) {
      auto* a = r->add_named_agencies();
      a->set_agency_kind(kind);
      a->set_agency_code(code);
    }
    ev1::PublishRecordResponse resp;
    grpc::Status s = Publish(kLa, req, &resp, "cal-create");
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.kinex_id();
  }

  // The school's notifications about `kid`.
  std::vector<nv1::Notification> About(const Agency& a, const std::string& kid) {
    auto stub = nv1::Notifications::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role));
    grpc::ClientContext ctx;
    Prepare(ctx, "cal-list");
    nv1::ListNotificationsRequest req;
    req.set_page_size(100);
    nv1::ListNotificationsResponse resp;
    grpc::Status s = stub->ListNotifications(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<nv1::Notification> out;
    for (const auto& n : resp.notifications()) {
      if (n.kinex_id() == kid) out.push_back(n);
    }
    return out;
  }

  // The audit events by `a`'s agency of `kind`, oldest first.
  std::vector<av1::AuditEvent> EventsBy(const Agency& a, cv1::AgencyKind agency_kind,
                                        av1::EventKind kind) {
    av1::QueryEventsRequest query;
    query.set_agency_kind(agency_kind);
    query.set_agency_code(a.code);
    query.add_kinds(kind);
    return AuditEvents(*cluster_, query, "cal-audit");
  }
};

TEST_P(CalendarsE2E, APublishedCalendarDecidesTheEncompassDeadline) {
  ev1::PublishSchoolCalendarResponse published;
  ASSERT_THAT(PublishCalendar(kSchoolA, SchoolACalendar(), "", "cal-publish", &published), IsOk());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(published.calendar(), SchoolACalendar()));
  EXPECT_THAT(published.etag(), ::testing::MatchesRegex("[0-9a-f]{24}"));
  EXPECT_GT(published.publish_time().seconds(), 0);

  // GetSchoolCalendar returns what was stored; any role of the school reads it.
  ev1::GetSchoolCalendarResponse got;
  ASSERT_THAT(GetCalendar(kTeacher, &got), IsOk());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(got.calendar(), SchoolACalendar()));
  EXPECT_EQ(got.etag(), published.etag());
  EXPECT_EQ(got.publish_time().seconds(), published.publish_time().seconds());
  EXPECT_EQ(got.principal(), "spiffe://kinex.dev/school/137000/designated-safeguarding-lead");
  EXPECT_EQ(got.actor(), kActor);

  // The publish is audited, about no child.
  std::vector<av1::AuditEvent> events = EventsBy(kSchoolA, cv1::SCHOOL, av1::CALENDAR_PUBLISHED);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].record_id(), "school:137000");
  EXPECT_EQ(events[0].request_id(), "cal-publish");
  EXPECT_EQ(events[0].method(), "PublishSchoolCalendar");
  EXPECT_EQ(events[0].child_pseudonyms_size(), 0);

  // The police attend an incident on Friday 5 November 2027 at 17:00. The
  // school's next school day is Tuesday (Monday is its INSET day), from
  // 08:40.
  const std::string kid = CreateChild("CAL-1");
  ev1::PublishRecordRequest met;
  met.mutable_child()->set_kinex_id(kid);
  *met.mutable_proof_date_of_birth() = Date(2015, 4, 2);
  met.mutable_record()->mutable_scope()->set_police_force_code(kMet.code);
  rv1::OperationEncompassNotification* e =
      met.mutable_record()->mutable_police()->add_encompass_notifications();
  *e->mutable_incident_time() = LondonTime(2027, 11, 5, 17, 0);
  *e->mutable_notified_time() = LondonTime(2027, 11, 5, 17, 30);
  e->set_school_urn(kSchoolA.code);
  e->set_child_present(true);
  ev1::PublishRecordResponse met_resp;
  grpc::Status s = Publish(kMet, met, &met_resp, "cal-encompass");
  ASSERT_TRUE(s.ok()) << s.error_message();

  std::vector<nv1::Notification> at_school = About(kSchoolA, kid);
  ASSERT_EQ(at_school.size(), 1u);
  EXPECT_EQ(at_school[0].kind(), nv1::ENCOMPASS);
  EXPECT_EQ(at_school[0].school_urn(), kSchoolA.code);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(at_school[0].deadline(),
                                                                 LondonTime(2027, 11, 9, 8, 40)))
      << at_school[0].deadline().ShortDebugString();

  // Replacing needs the current etag.
  nv1::SchoolCalendar later = SchoolACalendar();
  later.set_day_start("08:30");
  ev1::PublishSchoolCalendarResponse replaced;
  const absl::Status stale = PublishCalendar(kSchoolA, later, "", "cal-stale", &replaced);
  EXPECT_THAT(stale, StatusIs(absl::StatusCode::kAborted,
                              absl::StrCat("etag: required; your calendar is published already, "
                                           "its etag is ",
                                           published.etag(), " (retry with that etag)")));
  ASSERT_THAT(PublishCalendar(kSchoolA, later, published.etag(), "cal-replace", &replaced), IsOk());
  EXPECT_NE(replaced.etag(), published.etag());
  ASSERT_THAT(GetCalendar(kSchoolA, &got), IsOk());
  EXPECT_EQ(got.etag(), replaced.etag());
  EXPECT_EQ(got.calendar().day_start(), "08:30");
}

TEST_P(CalendarsE2E, AnotherSchoolMayNotPublishASchoolsCalendar) {
  ev1::PublishSchoolCalendarResponse resp;
  const absl::Status denied =
      PublishCalendar(kSchoolB, SchoolACalendar(), "", "cal-other-school", &resp);
  EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied,
                               "calendar.school_urn \"137000\" is not your school (141999)"));
  EXPECT_THAT(denied, HasErrorReason("AGENCY_CODE_NOT_OWN"));
  EXPECT_THAT(denied, HasErrorMetadata("field", "calendar.school_urn"));

  bool found = false;
  for (const av1::AuditEvent& e : EventsBy(kSchoolB, cv1::SCHOOL, av1::WRITE_REFUSED)) {
    if (e.request_id() != "cal-other-school") continue;
    found = true;
    EXPECT_EQ(e.method(), "PublishSchoolCalendar");
    EXPECT_EQ(e.record_id(), "school:141999");
    EXPECT_EQ(e.refusal(),
              "PERMISSION_DENIED: calendar.school_urn \"137000\" is not your school (141999)");
  }
  EXPECT_TRUE(found) << "no WRITE_REFUSED event for the refused publish";

  // School B has no calendar.
  ev1::GetSchoolCalendarResponse got;
  EXPECT_THAT(GetCalendar(kSchoolB, &got),
              StatusIs(absl::StatusCode::kNotFound,
                       "no calendar is published for school:141999 (PublishSchoolCalendar "
                       "publishes one)"));
}

TEST_P(CalendarsE2E, HealthAndPoliceMayNotPublishCalendars) {
  for (const Agency& a : {kGp, kMet}) {
    ev1::PublishSchoolCalendarResponse resp;
    const absl::Status denied = PublishCalendar(a, SchoolACalendar(), "", "cal-not-school", &resp);
    EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied,
                                 absl::StrCat("a ", a.kind,
                                              " agency may not publish school calendars (only "
                                              "schools and local authorities do; spiffe://"
                                              "kinex.dev/",
                                              a.kind, "/", a.code, "/", a.role, ")")))
        << a.kind;
    ev1::GetSchoolCalendarResponse got;
    EXPECT_EQ(GetCalendar(a, &got).code(), absl::StatusCode::kPermissionDenied) << a.kind;
  }
}

TEST_P(CalendarsE2E, AnInvalidCalendarIsRefusedNamingTheField) {
  nv1::SchoolCalendar bad = SchoolACalendar();
  bad.set_school_urn(kSchoolB.code);
  nv1::DateRange* spring = bad.add_terms();
  *spring->mutable_first() = Date(2028, 1, 5);
  *spring->mutable_last() = Date(2028, 1, 4);
  ev1::PublishSchoolCalendarResponse resp;
  const absl::Status invalid = PublishCalendar(kSchoolB, bad, "", "cal-invalid", &resp);
  EXPECT_THAT(invalid, StatusIs(absl::StatusCode::kInvalidArgument,
                                "calendar.terms[1].last: 2028-01-04 is before first 2028-01-05"));
  EXPECT_THAT(invalid, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(invalid, HasErrorMetadata("field", "calendar.terms[1].last"));
  ev1::GetSchoolCalendarResponse got;
  EXPECT_EQ(GetCalendar(kSchoolB, &got).code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Deployments, CalendarsE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

}  // namespace
}  // namespace kinex::testing
