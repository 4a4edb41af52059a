// Unit tests of published school calendars in the records core
// (PutCalendar, GetCalendar) over the in-memory fake: who may publish which
// calendar, validation, optimistic concurrency, the audit event of each
// publish and refusal, and that a published calendar decides the next
// Operation Encompass deadline at once, in place of a file calendar.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/common/textproto.h"
#include "services/records/records_core.h"
#include "services/records/school_calendar.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_records_storage.h"
#include "tests/testing/recording_audit_sink.h"

namespace kinex::records::testing {
namespace {

using ::testing::HasSubstr;
namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace nv1 = kinex::notifications::v1;
namespace rec = kinex::record::v1;
namespace rv1 = kinex::records::v1;

absl::Time London(int y, int m, int d, int hh, int mm) {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), zone);
}

nv1::SchoolCalendar Calendar(absl::string_view text) {
  nv1::SchoolCalendar calendar;
  EXPECT_TRUE(ParseTextProto(text, "test", &calendar).ok()) << text;
  return calendar;
}

// School 100001's autumn term 2026 with Monday 9 November closed (an INSET
// day), its day starting at 08:45.
constexpr char kSchoolCalendar[] = R"pb(
  school_urn: "100001"
  terms {
    first { year: 2026 month: 9 day: 2 }
    last { year: 2026 month: 12 day: 18 }
  }
  closures { year: 2026 month: 11 day: 9 }
  day_start: "08:45"
)pb";

rv1::PutCalendarRequest PutCal(const std::string& principal, const nv1::SchoolCalendar& calendar,
                               const std::string& etag = "") {
  rv1::PutCalendarRequest req;
  *req.mutable_calendar() = calendar;
  req.set_etag(etag);
  req.set_principal(principal);
  req.set_actor("office.manager");
  req.set_request_id("req-cal");
  return req;
}

rv1::GetCalendarRequest GetCal(const std::string& principal) {
  rv1::GetCalendarRequest req;
  req.set_principal(principal);
  return req;
}

// Police 01's Friday 6 Nov 2026 17:00 incident naming `school_urn`.
rec::ChildRecord PolicePart(const std::string& school_urn, int day = 6) {
  rec::ChildRecord part;
  rec::OperationEncompassNotification* e = part.mutable_police()->add_encompass_notifications();
  *e->mutable_incident_time() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
      absl::ToUnixSeconds(London(2026, 11, day, 17, 0)));
  e->set_school_urn(school_urn);
  e->set_child_present(true);
  return part;
}

class RecordsCalendarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Friday 6 Nov 2026, 16:00: before the incident.
    clock_.Set(London(2026, 11, 6, 16, 0));
    MakeCore();
  }

  void MakeCore() {
    RecordsCore::Options o;
    o.storage = &storage_;
    o.clock = &clock_;
    o.audit = &audit_;
    o.calendars = [this] { return files_; };
    auto core = RecordsCore::Create(std::move(o));
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = std::move(*core);
  }

  // A child of LA E09000033 naming police force 01 (so the force's link is
  // confirmed when it attaches); its Kinex id.
  std::string ChildWithPolice() {
    rec::ChildRecord la = LaPart("1");
    Name(la, cv1::POLICE, "01");
    auto created = core_->PutPart(Put(kLa, LaRef("E09000033", "1"), la));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->kinex_id() : "";
  }

  // The deadline of the one Encompass notification police 01's publish of
  // `part` raised.
  absl::Time PoliceDeadline(const std::string& kinex_id, const rec::ChildRecord& part,
                            const std::string& etag = "") {
    rv1::PutPartRequest req = Attach(kPolice, KinexRef(kinex_id), part);
    req.set_etag(etag);
    auto put = core_->PutPart(req);
    EXPECT_TRUE(put.ok()) << put.status();
    police_etag_ = put.ok() ? put->etag() : "";
    const av1::AuditEvent event = audit_.Events().back();
    EXPECT_EQ(event.notify_size(), 1);
    if (event.notify_size() != 1) return absl::InfinitePast();
    return absl::FromUnixSeconds(event.notify(0).notification().deadline().seconds());
  }

  // Expects exactly one new audit event since the last call, a WRITE_REFUSED
  // of PublishSchoolCalendar whose refusal is "<CODE>: <message>".
  void ExpectOneRefusal(const absl::Status& status, const std::string& record_id) {
    auto events = audit_.Events();
    ASSERT_EQ(events.size(), seen_ + 1);
    seen_ = events.size();
    EXPECT_EQ(events.back().kind(), av1::WRITE_REFUSED);
    EXPECT_EQ(events.back().method(), "PublishSchoolCalendar");
    EXPECT_EQ(events.back().record_id(), record_id);
    EXPECT_EQ(events.back().children_size(), 0);
    EXPECT_EQ(events.back().refusal(),
              absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message()));
  }

  FakeClock clock_;
  kinex::testing::RecordingAuditSink audit_;
  FakeRecordsStorage storage_;
  std::shared_ptr<const SchoolCalendars> files_ = SchoolCalendars::Empty();
  std::unique_ptr<RecordsCore> core_;
  std::string police_etag_;
  size_t seen_ = 0;
};

TEST_F(RecordsCalendarTest, SchoolPublishesItsCalendarAuditedOnce) {
  const nv1::SchoolCalendar calendar = Calendar(kSchoolCalendar);
  auto put = core_->PutCalendar(PutCal(kSchool, calendar));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->calendar().SerializeAsString(), calendar.SerializeAsString());
  EXPECT_THAT(put->etag(), ::testing::MatchesRegex("[0-9a-f]{24}"));
  EXPECT_EQ(put->publish_time().seconds(), absl::ToUnixSeconds(London(2026, 11, 6, 16, 0)));
  EXPECT_EQ(put->principal(), kSchool);
  EXPECT_EQ(put->actor(), "office.manager");

  auto events = audit_.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), av1::CALENDAR_PUBLISHED);
  EXPECT_EQ(events[0].record_id(), "school:100001");
  EXPECT_EQ(events[0].method(), "PublishSchoolCalendar");
  EXPECT_EQ(events[0].principal(), kSchool);
  EXPECT_EQ(events[0].agency_kind(), cv1::SCHOOL);
  EXPECT_EQ(events[0].agency_code(), "100001");
  EXPECT_EQ(events[0].actor(), "office.manager");
  EXPECT_EQ(events[0].request_id(), "req-cal");
  EXPECT_EQ(events[0].children_size(), 0);
  EXPECT_EQ(storage_.PendingAuditEventCount(), 0u);

  auto got = core_->GetCalendar(GetCal(kSchool));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), put->SerializeAsString());
  // Another school has none.
  EXPECT_THAT(core_->GetCalendar(GetCal(kSchool2)).status(),
              StatusIs(absl::StatusCode::kNotFound,
                       "no calendar is published for school:100002 (PublishSchoolCalendar "
                       "publishes one)"));
}

TEST_F(RecordsCalendarTest, LocalAuthorityPublishesItsLaCalendar) {
  auto put = core_->PutCalendar(PutCal(kLa, Calendar(R"pb(
                                         la_code: "E09000033"
                                         terms {
                                           first { year: 2026 month: 9 day: 1 }
                                           last { year: 2026 month: 12 day: 18 }
                                         }
                                       )pb")));
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_EQ(audit_.Events().size(), 1u);
  EXPECT_EQ(audit_.Events()[0].kind(), av1::CALENDAR_PUBLISHED);
  EXPECT_EQ(audit_.Events()[0].record_id(), "la:E09000033");
  // Any role of the LA reads it.
  auto got = core_->GetCalendar(GetCal(kLaManager));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->etag(), put->etag());
  EXPECT_EQ(got->calendar().la_code(), "E09000033");
}

TEST_F(RecordsCalendarTest, ReplacingNeedsTheCurrentEtag) {
  auto first = core_->PutCalendar(PutCal(kSchool, Calendar(kSchoolCalendar)));
  ASSERT_TRUE(first.ok()) << first.status();
  seen_ = audit_.Events().size();

  // No etag, when one is published: ABORTED naming the current etag.
  nv1::SchoolCalendar later = Calendar(kSchoolCalendar);
  later.set_day_start("09:00");
  absl::Status s = core_->PutCalendar(PutCal(kSchool, later)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted,
                          absl::StrCat("etag: required; your calendar is published already, its "
                                       "etag is ",
                                       first->etag(), " (retry with that etag)")));
  EXPECT_THAT(s, HasErrorReason("ETAG_MISMATCH"));
  EXPECT_THAT(s, HasErrorMetadata("field", "etag"));
  ExpectOneRefusal(s, "school:100001");

  clock_.Advance(absl::Minutes(5));
  auto second = core_->PutCalendar(PutCal(kSchool, later, first->etag()));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->etag(), first->etag());
  EXPECT_EQ(second->calendar().day_start(), "09:00");
  seen_ = audit_.Events().size();

  // The first etag is stale now.
  s = core_->PutCalendar(PutCal(kSchool, later, first->etag())).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted,
                          absl::StrCat("etag: stale; your calendar is published already, its etag "
                                       "is ",
                                       second->etag(), " (retry with that etag)")));
  ExpectOneRefusal(s, "school:100001");

  // An etag for a calendar that does not exist.
  s = core_
          ->PutCalendar(PutCal(kSchool2, Calendar(R"pb(
                                 school_urn: "100002"
                                 terms {
                                   first { year: 2026 month: 9 day: 2 }
                                   last { year: 2026 month: 12 day: 18 }
                                 }
                               )pb"),
                               "0123456789abcdef01234567"))
          .status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted,
                          "etag: stale; you have no published calendar (publish with an empty "
                          "etag)"));
  ExpectOneRefusal(s, "school:100002");

  auto got = core_->GetCalendar(GetCal(kSchool));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->etag(), second->etag());
  EXPECT_EQ(got->calendar().day_start(), "09:00");
}

TEST_F(RecordsCalendarTest, AnotherSchoolsOrLasKeyIsDeniedAndAudited) {
  nv1::SchoolCalendar other = Calendar(kSchoolCalendar);
  other.set_school_urn("100002");
  absl::Status s = core_->PutCalendar(PutCal(kSchool, other)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "calendar.school_urn \"100002\" is not your school (100001)"));
  EXPECT_THAT(s, HasErrorReason("AGENCY_CODE_NOT_OWN"));
  EXPECT_THAT(s, HasErrorMetadata("field", "calendar.school_urn"));
  ExpectOneRefusal(s, "school:100001");

  // A school publishing an LA calendar.
  nv1::SchoolCalendar la = Calendar(kSchoolCalendar);
  la.clear_school_urn();
  la.set_la_code("E09000033");
  s = core_->PutCalendar(PutCal(kSchool, la)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "calendar.la_code \"E09000033\" is not yours: a school publishes its "
                          "own calendar (school_urn 100001)"));
  ExpectOneRefusal(s, "school:100001");

  // An LA publishing another LA's or a school's calendar.
  la.set_la_code("E08000025");
  s = core_->PutCalendar(PutCal(kLa, la)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "calendar.la_code \"E08000025\" is not your local authority "
                          "(E09000033)"));
  ExpectOneRefusal(s, "la:E09000033");
  s = core_->PutCalendar(PutCal(kLa, Calendar(kSchoolCalendar))).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "calendar.school_urn \"100001\" is not yours: a local authority "
                          "publishes its own calendar (la_code E09000033)"));
  ExpectOneRefusal(s, "la:E09000033");

  // Nothing was stored.
  EXPECT_THAT(core_->GetCalendar(GetCal(kSchool)).status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(core_->GetCalendar(GetCal(kLa)).status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RecordsCalendarTest, OnlySchoolsAndLocalAuthoritiesPublishOrRead) {
  for (const char* principal : {kPolice, kHealth, kVirtualSchool}) {
    absl::Status s = core_->PutCalendar(PutCal(principal, Calendar(kSchoolCalendar))).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << principal;
    EXPECT_THAT(s.message(), HasSubstr("school calendars (only schools and local authorities do"));
    EXPECT_THAT(s, HasErrorReason("FIELD_NOT_OWNED"));
    ExpectOneRefusal(s, "");
    EXPECT_EQ(core_->GetCalendar(GetCal(principal)).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  absl::Status s = core_->PutCalendar(PutCal(kPolice, Calendar(kSchoolCalendar))).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "a police agency may not publish school calendars (only schools and "
                          "local authorities do; "
                          "spiffe://kinex.dev/police/01/public-protection)"));
  ExpectOneRefusal(s, "");
  s = core_->PutCalendar(PutCal(kAuditor, Calendar(kSchoolCalendar))).status();
  EXPECT_THAT(s, HasErrorReason("AGENCY_REQUIRED"));
  ExpectOneRefusal(s, "");
  EXPECT_THAT(core_->GetCalendar(GetCal(kGatewayService)).status(),
              HasErrorReason("AGENCY_REQUIRED"));
}

TEST_F(RecordsCalendarTest, AnInvalidCalendarNamesTheFieldAndStoresNothing) {
  nv1::SchoolCalendar bad = Calendar(kSchoolCalendar);
  rec::Date* last = bad.add_terms()->mutable_last();
  rec::Date* first = bad.mutable_terms(1)->mutable_first();
  first->set_year(2027);
  first->set_month(1);
  first->set_day(6);
  last->set_year(2027);
  last->set_month(1);
  last->set_day(3);
  absl::Status s = core_->PutCalendar(PutCal(kSchool, bad)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "calendar.terms[1].last: 2027-01-03 is before first 2027-01-06"));
  EXPECT_THAT(s, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(s, HasErrorMetadata("field", "calendar.terms[1].last"));
  ExpectOneRefusal(s, "school:100001");

  nv1::SchoolCalendar late = Calendar(kSchoolCalendar);
  late.set_day_start("8:45");
  s = core_->PutCalendar(PutCal(kSchool, late)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "calendar.day_start: \"8:45\" is not a time HH:MM (00:00-23:59)"));
  ExpectOneRefusal(s, "school:100001");

  nv1::SchoolCalendar none = Calendar(kSchoolCalendar);
  none.clear_terms();
  s = core_->PutCalendar(PutCal(kSchool, none)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "calendar.terms: at least one term is required"));
  ExpectOneRefusal(s, "school:100001");

  // At most 400 terms and closures together.
  nv1::SchoolCalendar big = Calendar(kSchoolCalendar);
  for (int i = 0; i < 400; ++i) *big.add_closures() = big.closures(0);
  s = core_->PutCalendar(PutCal(kSchool, big)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "calendar: 1 terms and 401 closures (402) exceed the maximum of 400 "
                          "together"));
  ExpectOneRefusal(s, "school:100001");

  rv1::PutCalendarRequest missing = PutCal(kSchool, {});
  missing.clear_calendar();
  s = core_->PutCalendar(missing).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("calendar: required")));
  ExpectOneRefusal(s, "school:100001");

  EXPECT_THAT(core_->GetCalendar(GetCal(kSchool)).status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(storage_.PendingAuditEventCount(), 0u);
}

TEST_F(RecordsCalendarTest, APublishedCalendarReplacesTheFileCalendarForTheNextDeadline) {
  // The operator's file: school 100001 in term, every weekday a school day
  // from 08:30.
  auto files = SchoolCalendars::FromProtos({Calendar(R"pb(
    school_urn: "100001"
    terms {
      first { year: 2026 month: 9 day: 1 }
      last { year: 2026 month: 12 day: 18 }
    }
    day_start: "08:30"
  )pb")});
  ASSERT_TRUE(files.ok()) << files.status();
  files_ = *files;
  const std::string kid = ChildWithPolice();

  // Friday 17:00: the file says Monday 08:30.
  EXPECT_EQ(PoliceDeadline(kid, PolicePart("100001")), London(2026, 11, 9, 8, 30));

  // The school publishes: Monday is an INSET day, the day starts at 08:45.
  ASSERT_TRUE(core_->PutCalendar(PutCal(kSchool, Calendar(kSchoolCalendar))).ok());

  // The police's next publish adds a second entry for the same Friday
  // 17:00 incident: its deadline is Tuesday 08:45, at once.
  rec::ChildRecord two = PolicePart("100001");
  *two.mutable_police()->add_encompass_notifications() =
      PolicePart("100001").police().encompass_notifications(0);
  two.mutable_police()->mutable_encompass_notifications(1)->set_child_present(false);
  EXPECT_EQ(PoliceDeadline(kid, two, police_etag_), London(2026, 11, 10, 8, 45));
}

TEST_F(RecordsCalendarTest, ASchoolWithNoCalendarUsesItsLasPublishedCalendar) {
  const std::string kid = ChildWithPolice();
  // The responsible LA publishes: Monday 9 November closed across the LA,
  // the day starting at 09:00.
  ASSERT_TRUE(core_
                  ->PutCalendar(PutCal(kLa, Calendar(R"pb(
                                         la_code: "E09000033"
                                         terms {
                                           first { year: 2026 month: 9 day: 1 }
                                           last { year: 2026 month: 12 day: 18 }
                                         }
                                         closures { year: 2026 month: 11 day: 9 }
                                         day_start: "09:00"
                                       )pb")))
                  .ok());
  // School 100003 has no calendar, file or published: its LA's decides.
  EXPECT_EQ(PoliceDeadline(kid, PolicePart("100003")), London(2026, 11, 10, 9, 0));
}

TEST_F(RecordsCalendarTest, ASchoolCalendarFollowsItsPublishedLaCalendar) {
  const std::string kid = ChildWithPolice();
  // School 100001's calendar covers only its autumn term and follows LA
  // E08000025's, whose spring term starts on Tuesday 5 January 2027.
  ASSERT_TRUE(core_
                  ->PutCalendar(PutCal(kSchool, Calendar(R"pb(
                                         school_urn: "100001"
                                         follows_la_code: "E08000025"
                                         terms {
                                           first { year: 2026 month: 9 day: 2 }
                                           last { year: 2026 month: 12 day: 18 }
                                         }
                                       )pb")))
                  .ok());
  ASSERT_TRUE(
      core_
          ->PutCalendar(PutCal("spiffe://kinex.dev/local-authority/E08000025/admin", Calendar(R"pb(
                                 la_code: "E08000025"
                                 terms {
                                   first { year: 2026 month: 9 day: 1 }
                                   last { year: 2026 month: 12 day: 18 }
                                 }
                                 terms {
                                   first { year: 2027 month: 1 day: 5 }
                                   last { year: 2027 month: 3 day: 26 }
                                 }
                                 day_start: "08:50"
                               )pb")))
          .ok());
  // An incident on Friday 1 January 2027 (dates the school's calendar does
  // not cover): the LA's decides, Tuesday 5 January at its 08:50.
  clock_.Set(London(2026, 12, 31, 12, 0));
  rec::ChildRecord part = PolicePart("100001");
  *part.mutable_police()->mutable_encompass_notifications(0)->mutable_incident_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(London(2027, 1, 1, 17, 0)));
  EXPECT_EQ(PoliceDeadline(kid, part), London(2027, 1, 5, 8, 50));
}

}  // namespace
}  // namespace kinex::records::testing
