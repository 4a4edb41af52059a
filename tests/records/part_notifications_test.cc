// Tests of NotificationsForPublish: Operation Encompass intents from a police
// part (recipient, reason, deadline from the school calendars, escalation,
// only new entries), VSH alerts from school and LA parts (each reason, the
// cohort and responsible-LA conditions, order), and that every notification
// carries nothing beyond the fields its kind names.
#include "services/records/part_notifications.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/common/textproto.h"
#include "tests/testing/status_matchers.h"

namespace kinex::records {
namespace {

namespace av1 = ::kinex::audit::v1;
namespace cv1 = ::kinex::common::v1;
namespace nv1 = ::kinex::notifications::v1;
namespace rv1 = ::kinex::record::v1;
using ::kinex::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::string_view kKinexId = "K-7Q2M9X";
constexpr absl::string_view kLa = "E09000033";
constexpr absl::string_view kForce = "01";

absl::TimeZone LondonZone() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
  return zone;
}

// Local time in Europe/London.
absl::Time London(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), LondonZone());
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

template <typename Message>
Message Parse(absl::string_view text) {
  Message message;
  EXPECT_THAT(ParseTextProto(text, "test", &message), IsOk());
  return message;
}

// Whether `arg` equals `expected` field for field (so a field set on one
// and not the other is a difference).
MATCHER_P(EqualsProto, expected, "") {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << "differs: " << diff << "got: " << arg.ShortDebugString();
  return false;
}

// Police's Friday 6 Nov 2026 17:00 incident, school 100001 named.
rv1::OperationEncompassNotification FridayIncident(absl::string_view school_urn = "100001") {
  rv1::OperationEncompassNotification entry;
  *entry.mutable_incident_time() = Ts(London(2026, 11, 6, 17, 0));
  entry.set_school_urn(std::string(school_urn));
  *entry.mutable_notified_time() = Ts(London(2026, 11, 6, 19, 30));
  entry.set_child_present(true);
  entry.set_summary("Officers attended a domestic incident; the child was present.");
  return entry;
}

rv1::ChildRecord PolicePart(std::vector<rv1::OperationEncompassNotification> entries) {
  rv1::ChildRecord part;
  for (auto& entry : entries) *part.mutable_police()->add_encompass_notifications() = entry;
  part.mutable_police()->set_criminal_exploitation_risk(true);
  return part;
}

PublishedPart Publish(cv1::AgencyKind kind, absl::string_view code, const rv1::ChildRecord* before,
                      const rv1::ChildRecord* after, bool in_cohort = false,
                      absl::string_view responsible_la = kLa) {
  PublishedPart part;
  part.owner_kind = kind;
  part.owner_code = std::string(code);
  part.kinex_id = std::string(kKinexId);
  part.responsible_la = std::string(responsible_la);
  part.before = before;
  part.after = after;
  part.in_virtual_school_cohort = in_cohort;
  return part;
}

av1::NotifyIntent ExpectedEncompass(cv1::AgencyKind recipient_kind,
                                    absl::string_view recipient_code, absl::string_view reason,
                                    absl::string_view school_urn, absl::Time deadline,
                                    std::vector<std::string> escalate_to) {
  av1::NotifyIntent intent;
  intent.set_recipient_kind(recipient_kind);
  intent.set_recipient_code(std::string(recipient_code));
  nv1::Notification& n = *intent.mutable_notification();
  n.set_kind(nv1::ENCOMPASS);
  n.set_kinex_id(std::string(kKinexId));
  n.set_reason(std::string(reason));
  *n.mutable_deadline() = Ts(deadline);
  n.set_school_urn(std::string(school_urn));
  if (recipient_kind == cv1::LOCAL_AUTHORITY) n.set_force_code(std::string(kForce));
  for (std::string& to : escalate_to) intent.add_escalate_to(std::move(to));
  return intent;
}

av1::NotifyIntent ExpectedVsh(absl::string_view reason) {
  av1::NotifyIntent intent;
  intent.set_recipient_kind(cv1::VIRTUAL_SCHOOL);
  intent.set_recipient_code(std::string(kLa));
  nv1::Notification& n = *intent.mutable_notification();
  n.set_kind(nv1::VSH_ALERT);
  n.set_kinex_id(std::string(kKinexId));
  n.set_reason(std::string(reason));
  return intent;
}

// School 100001, autumn 2026, closed on Monday 9 Nov.
constexpr absl::string_view kSchoolCalendar = R"pb(
  school_urn: "100001"
  terms {
    first { year: 2026 month: 9 day: 2 }
    last { year: 2026 month: 12 day: 18 }
  }
  closures { year: 2026 month: 11 day: 9 }
)pb";

// LA E09000033, autumn 2026, days start 08:30.
constexpr absl::string_view kLaCalendar = R"pb(
  la_code: "E09000033"
  day_start: "08:30"
  terms {
    first { year: 2026 month: 9 day: 3 }
    last { year: 2026 month: 12 day: 18 }
  }
)pb";

std::shared_ptr<const SchoolCalendars> Calendars(std::vector<absl::string_view> texts) {
  std::vector<nv1::SchoolCalendar> calendars;
  for (absl::string_view text : texts) calendars.push_back(Parse<nv1::SchoolCalendar>(text));
  absl::StatusOr<std::shared_ptr<const SchoolCalendars>> loaded =
      SchoolCalendars::FromProtos(std::move(calendars));
  EXPECT_THAT(loaded, IsOk());
  return loaded.ok() ? *loaded : SchoolCalendars::Empty();
}

const SchoolCalendars& NoCalendars() { return *SchoolCalendars::Empty(); }

// --- Operation Encompass ---

TEST(EncompassTest, NewEntryNotifiesTheNamedSchoolByItsNextSchoolDay) {
  const rv1::ChildRecord after = PolicePart({FridayIncident()});
  const std::vector<av1::NotifyIntent> intents =
      NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, &after), NoCalendars());
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_THAT(intents[0],
              EqualsProto(ExpectedEncompass(cv1::SCHOOL, "100001", "ENCOMPASS_INCIDENT", "100001",
                                            London(2026, 11, 9, 8, 0),
                                            {"local-authority/E09000033", "police/01"})));
  // Monday 9 Nov 2026 08:00 GMT.
  EXPECT_EQ(intents[0].notification().deadline().seconds(), 1794211200);
  EXPECT_EQ(intents[0].notification().deadline().nanos(), 0);
}

// The police publish the Friday incident only on Tuesday 10 Nov at 09:00:
// the school's deadline is its next school day after the publish
// (Wednesday 08:00), never one already past.
TEST(EncompassTest, ALatePublishCountsFromThePublishNotTheIncident) {
  const rv1::ChildRecord after = PolicePart({FridayIncident()});
  PublishedPart part = Publish(cv1::POLICE, kForce, nullptr, &after);
  part.published_at = London(2026, 11, 10, 9, 0);
  const std::vector<av1::NotifyIntent> intents = NotificationsForPublish(part, NoCalendars());
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_EQ(intents[0].notification().deadline().seconds(),
            absl::ToUnixSeconds(London(2026, 11, 11, 8, 0)));
  // Published before the incident's own deadline: the incident decides.
  part.published_at = London(2026, 11, 6, 18, 0);
  EXPECT_EQ(NotificationsForPublish(part, NoCalendars()).at(0).notification().deadline().seconds(),
            absl::ToUnixSeconds(London(2026, 11, 9, 8, 0)));
}

// A force the responsible LA has not confirmed (a claimed link) cannot make
// Kinex name the child to a school: its notification goes to the LA.
TEST(EncompassTest, AnUnconfirmedForceTellsTheLaNotTheSchool) {
  const rv1::ChildRecord after = PolicePart({FridayIncident()});
  PublishedPart part = Publish(cv1::POLICE, kForce, nullptr, &after);
  part.publisher_confirmed = false;
  const std::vector<av1::NotifyIntent> intents = NotificationsForPublish(part, NoCalendars());
  ASSERT_EQ(intents.size(), 1u);
  av1::NotifyIntent expected =
      ExpectedEncompass(cv1::LOCAL_AUTHORITY, kLa, "ENCOMPASS_UNCONFIRMED_FORCE", "100001",
                        London(2026, 11, 9, 8, 0), {"police/01"});
  EXPECT_THAT(intents[0], EqualsProto(expected));
  // And an unconfirmed school raises no VSH alert.
  rv1::ChildRecord school;
  school.mutable_education()->add_exclusions()->set_type(rv1::SUSPENSION);
  PublishedPart from_school = Publish(cv1::SCHOOL, "100001", nullptr, &school);
  from_school.in_virtual_school_cohort = true;
  from_school.publisher_confirmed = false;
  EXPECT_TRUE(NotificationsForPublish(from_school, NoCalendars()).empty());
}

TEST(EncompassTest, UnchangedRepublishRaisesNothing) {
  const rv1::ChildRecord before = PolicePart({FridayIncident()});
  const rv1::ChildRecord after = PolicePart({FridayIncident()});
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::POLICE, kForce, &before, &after), NoCalendars()),
              IsEmpty());
}

TEST(EncompassTest, SecondEntryRaisesOnlyTheNewOne) {
  rv1::OperationEncompassNotification tuesday = FridayIncident("100002");
  *tuesday.mutable_incident_time() = Ts(London(2026, 11, 10, 21, 15));
  const rv1::ChildRecord before = PolicePart({FridayIncident()});
  const rv1::ChildRecord after = PolicePart({FridayIncident(), tuesday});
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::POLICE, kForce, &before, &after), NoCalendars()),
              ElementsAre(EqualsProto(ExpectedEncompass(
                  cv1::SCHOOL, "100002", "ENCOMPASS_INCIDENT", "100002", London(2026, 11, 11, 8, 0),
                  {"local-authority/E09000033", "police/01"}))));
}

TEST(EncompassTest, SeveralNewEntriesInTheOrderOfThePart) {
  rv1::OperationEncompassNotification saturday = FridayIncident("100002");
  *saturday.mutable_incident_time() = Ts(London(2026, 11, 7, 2, 0));
  const rv1::ChildRecord after = PolicePart({FridayIncident(), saturday});
  const std::vector<av1::NotifyIntent> intents =
      NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, &after), NoCalendars());
  ASSERT_EQ(intents.size(), 2u);
  EXPECT_EQ(intents[0].recipient_code(), "100001");
  EXPECT_EQ(intents[1].recipient_code(), "100002");
}

TEST(EncompassTest, EditedEntryCountsAsNew) {
  rv1::OperationEncompassNotification edited = FridayIncident();
  edited.set_summary("Corrected summary.");
  const rv1::ChildRecord before = PolicePart({FridayIncident()});
  const rv1::ChildRecord after = PolicePart({edited});
  const std::vector<av1::NotifyIntent> intents =
      NotificationsForPublish(Publish(cv1::POLICE, kForce, &before, &after), NoCalendars());
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_EQ(intents[0].recipient_code(), "100001");
}

TEST(EncompassTest, DuplicateAddedBesideTheOldEntryIsNew) {
  const rv1::ChildRecord before = PolicePart({FridayIncident()});
  const rv1::ChildRecord after = PolicePart({FridayIncident(), FridayIncident()});
  EXPECT_EQ(
      NotificationsForPublish(Publish(cv1::POLICE, kForce, &before, &after), NoCalendars()).size(),
      1u);
}

TEST(EncompassTest, SchoolClosedOnMondayIsDueOnTuesday) {
  const auto calendars = Calendars({kSchoolCalendar});
  const rv1::ChildRecord after = PolicePart({FridayIncident()});
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, &after), *calendars),
              ElementsAre(EqualsProto(ExpectedEncompass(
                  cv1::SCHOOL, "100001", "ENCOMPASS_INCIDENT", "100001", London(2026, 11, 10, 8, 0),
                  {"local-authority/E09000033", "police/01"}))));
}

TEST(EncompassTest, SchoolWithoutItsOwnCalendarUsesTheResponsibleLasCalendar) {
  const auto calendars = Calendars({kLaCalendar});
  const rv1::ChildRecord after = PolicePart({FridayIncident()});
  const std::vector<av1::NotifyIntent> intents =
      NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, &after), *calendars);
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_THAT(intents[0].notification().deadline(), EqualsProto(Ts(London(2026, 11, 9, 8, 30))));
}

TEST(EncompassTest, NoSchoolNotifiesTheResponsibleLa) {
  const rv1::ChildRecord after = PolicePart({FridayIncident("")});
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, &after), NoCalendars()),
              ElementsAre(EqualsProto(
                  ExpectedEncompass(cv1::LOCAL_AUTHORITY, "E09000033", "ENCOMPASS_NO_SCHOOL", "",
                                    London(2026, 11, 9, 8, 0), {"police/01"}))));
}

TEST(EncompassTest, NoSchoolDeadlineFollowsTheLaCalendar) {
  const auto calendars = Calendars({kSchoolCalendar, kLaCalendar});
  const rv1::ChildRecord after = PolicePart({FridayIncident("")});
  const std::vector<av1::NotifyIntent> intents =
      NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, &after), *calendars);
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_THAT(intents[0].notification().deadline(), EqualsProto(Ts(London(2026, 11, 9, 8, 30))));
}

TEST(EncompassTest, NoSchoolAndNoLaRaisesNothing) {
  const rv1::ChildRecord after = PolicePart({FridayIncident("")});
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, &after,
                                              /*in_cohort=*/true, /*responsible_la=*/""),
                                      NoCalendars()),
              IsEmpty());
}

TEST(EncompassTest, NoLaEscalatesToTheForceOnly) {
  const rv1::ChildRecord after = PolicePart({FridayIncident()});
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, &after,
                                              /*in_cohort=*/false, /*responsible_la=*/""),
                                      NoCalendars()),
              ElementsAre(EqualsProto(ExpectedEncompass(cv1::SCHOOL, "100001", "ENCOMPASS_INCIDENT",
                                                        "100001", London(2026, 11, 9, 8, 0),
                                                        {"police/01"}))));
}

TEST(EncompassTest, OnlyPolicePartsRaiseEncompass) {
  // A part of another kind never holds police fields (ownership is checked
  // before this runs); were it to, it would raise nothing.
  const rv1::ChildRecord after = PolicePart({FridayIncident()});
  for (cv1::AgencyKind kind :
       {cv1::LOCAL_AUTHORITY, cv1::SCHOOL, cv1::HEALTH, cv1::VIRTUAL_SCHOOL}) {
    EXPECT_THAT(NotificationsForPublish(Publish(kind, "X", nullptr, &after), NoCalendars()),
                IsEmpty())
        << cv1::AgencyKind_Name(kind);
  }
}

TEST(EncompassTest, PolicePartInCohortRaisesNoVshAlert) {
  const rv1::ChildRecord before = PolicePart({FridayIncident()});
  rv1::ChildRecord after = before;
  after.mutable_police()->set_sexual_exploitation_risk(true);
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::POLICE, kForce, &before, &after,
                                              /*in_cohort=*/true),
                                      NoCalendars()),
              IsEmpty());
}

TEST(NotificationsForPublishTest, WithoutAPartRaisesNothing) {
  EXPECT_THAT(
      NotificationsForPublish(Publish(cv1::POLICE, kForce, nullptr, nullptr, true), NoCalendars()),
      IsEmpty());
}

// --- VSH alerts: school parts ---

// A school part: on roll at 100001 since 2 Sep 2026, one suspension, 95%.
constexpr absl::string_view kSchoolPart = R"pb(
  education {
    enrolments {
      urn: "100001"
      entry_date { year: 2026 month: 9 day: 2 }
    }
    attendance_summary { possible_sessions: 100 attended_sessions: 95 }
    exclusions {
      type: SUSPENSION
      start_date { year: 2026 month: 10 day: 5 }
      sessions: 2
      reason_code: "PP"
      school_urn: "100001"
    }
  }
)pb";

rv1::ChildRecord SchoolPart(absl::string_view extra = "") {
  rv1::ChildRecord part = Parse<rv1::ChildRecord>(kSchoolPart);
  part.MergeFrom(Parse<rv1::ChildRecord>(extra));
  return part;
}

std::vector<av1::NotifyIntent> SchoolPublish(const rv1::ChildRecord* before,
                                             const rv1::ChildRecord& after, bool in_cohort = true) {
  return NotificationsForPublish(Publish(cv1::SCHOOL, "100001", before, &after, in_cohort),
                                 NoCalendars());
}

TEST(VshAlertTest, UnchangedSchoolPartRaisesNothing) {
  const rv1::ChildRecord before = SchoolPart();
  EXPECT_THAT(SchoolPublish(&before, SchoolPart()), IsEmpty());
}

TEST(VshAlertTest, NewEnrolmentIsASchoolMove) {
  const rv1::ChildRecord before = SchoolPart();
  rv1::ChildRecord after = SchoolPart(R"pb(
    education {
      enrolments {
        urn: "100002"
        entry_date { year: 2026 month: 11 day: 16 }
      }
    }
  )pb");
  EXPECT_THAT(SchoolPublish(&before, after), ElementsAre(EqualsProto(ExpectedVsh("SCHOOL_MOVE"))));
}

TEST(VshAlertTest, LeavingDateNewlySetIsASchoolMove) {
  const rv1::ChildRecord before = SchoolPart();
  rv1::ChildRecord after = SchoolPart();
  rv1::Date* leaving = after.mutable_education()->mutable_enrolments(0)->mutable_leaving_date();
  leaving->set_year(2026);
  leaving->set_month(11);
  leaving->set_day(13);
  EXPECT_THAT(SchoolPublish(&before, after), ElementsAre(EqualsProto(ExpectedVsh("SCHOOL_MOVE"))));
  // Once set, republishing it (or correcting it) is no move.
  rv1::ChildRecord corrected = after;
  corrected.mutable_education()->mutable_enrolments(0)->mutable_leaving_date()->set_day(12);
  EXPECT_THAT(SchoolPublish(&after, after), IsEmpty());
  EXPECT_THAT(SchoolPublish(&after, corrected), IsEmpty());
}

TEST(VshAlertTest, OtherEnrolmentEditsAreNoSchoolMove) {
  const rv1::ChildRecord before = SchoolPart();
  rv1::ChildRecord after = SchoolPart();
  after.mutable_education()->mutable_enrolments(0)->set_part_time_timetable(true);
  after.mutable_education()->mutable_enrolments(0)->set_laestab("2024001");
  EXPECT_THAT(SchoolPublish(&before, after), IsEmpty());
}

TEST(VshAlertTest, FirstPartWithAnEnrolmentIsASchoolMove) {
  const rv1::ChildRecord after = Parse<rv1::ChildRecord>(R"pb(
    education {
      enrolments {
        urn: "100001"
        entry_date { year: 2026 month: 9 day: 2 }
      }
    }
  )pb");
  EXPECT_THAT(SchoolPublish(nullptr, after), ElementsAre(EqualsProto(ExpectedVsh("SCHOOL_MOVE"))));
}

TEST(VshAlertTest, NewSuspensionAndNewExclusion) {
  const rv1::ChildRecord before = SchoolPart();
  const rv1::ChildRecord suspended = SchoolPart(R"pb(
    education {
      exclusions {
        type: SUSPENSION
        start_date { year: 2026 month: 11 day: 12 }
        sessions: 4
        school_urn: "100001"
      }
      exclusions {
        type: SUSPENSION
        start_date { year: 2026 month: 11 day: 19 }
        sessions: 2
        school_urn: "100001"
      }
    }
  )pb");
  EXPECT_THAT(SchoolPublish(&before, suspended),
              ElementsAre(EqualsProto(ExpectedVsh("SUSPENSION"))));
  const rv1::ChildRecord excluded = SchoolPart(R"pb(
    education {
      exclusions {
        type: PERMANENT_EXCLUSION
        start_date { year: 2026 month: 11 day: 20 }
        school_urn: "100001"
      }
    }
  )pb");
  EXPECT_THAT(SchoolPublish(&before, excluded), ElementsAre(EqualsProto(ExpectedVsh("EXCLUSION"))));
}

TEST(VshAlertTest, EditedExclusionIsNotNew) {
  const rv1::ChildRecord before = SchoolPart();
  rv1::ChildRecord after = SchoolPart();
  after.mutable_education()->mutable_exclusions(0)->set_sessions(3);
  after.mutable_education()->mutable_exclusions(0)->set_reason_code("VA");
  EXPECT_THAT(SchoolPublish(&before, after), IsEmpty());
}

TEST(VshAlertTest, SuspensionBecomingAPermanentExclusionIsAnExclusion) {
  const rv1::ChildRecord before = SchoolPart();
  rv1::ChildRecord after = SchoolPart();
  after.mutable_education()->mutable_exclusions(0)->set_type(rv1::PERMANENT_EXCLUSION);
  EXPECT_THAT(SchoolPublish(&before, after), ElementsAre(EqualsProto(ExpectedVsh("EXCLUSION"))));
}

TEST(VshAlertTest, AttendanceFallingBelowNinetyPercent) {
  const rv1::ChildRecord before = SchoolPart();  // 95%
  rv1::ChildRecord after = SchoolPart();
  after.mutable_education()->mutable_attendance_summary()->set_attended_sessions(88);
  EXPECT_THAT(SchoolPublish(&before, after),
              ElementsAre(EqualsProto(ExpectedVsh("PERSISTENT_ABSENCE"))));
  // 88% before and now: already below.
  rv1::ChildRecord later = after;
  later.mutable_education()->mutable_attendance_summary()->set_possible_sessions(110);
  later.mutable_education()->mutable_attendance_summary()->set_attended_sessions(97);
  EXPECT_THAT(SchoolPublish(&after, later), IsEmpty());
}

TEST(VshAlertTest, PersistentAbsenceBoundaries) {
  const rv1::ChildRecord before = SchoolPart();  // 95%
  auto with = [](absl::string_view summary) {
    rv1::ChildRecord part = SchoolPart();
    part.mutable_education()->clear_attendance_summary();
    part.MergeFrom(Parse<rv1::ChildRecord>(summary));
    return part;
  };
  // Exactly 90% is not below.
  EXPECT_THAT(
      SchoolPublish(&before,
                    with(R"pb(education {
                                attendance_summary { possible_sessions: 100 attended_sessions: 90 }
                              })pb")),
      IsEmpty());
  // 89.9%.
  EXPECT_THAT(
      SchoolPublish(
          &before, with(R"pb(education {
                               attendance_summary { possible_sessions: 1000 attended_sessions: 899 }
                             })pb")),
      ElementsAre(EqualsProto(ExpectedVsh("PERSISTENT_ABSENCE"))));
  // No possible sessions yet.
  EXPECT_THAT(
      SchoolPublish(&before,
                    with(R"pb(education {
                                attendance_summary { possible_sessions: 0 attended_sessions: 0 }
                              })pb")),
      IsEmpty());
  // The school's own flag.
  EXPECT_THAT(SchoolPublish(&before, with(R"pb(education {
                                                 attendance_summary {
                                                   possible_sessions: 100
                                                   attended_sessions: 95
                                                   persistent_absence: true
                                                 }
                                               })pb")),
              ElementsAre(EqualsProto(ExpectedVsh("PERSISTENT_ABSENCE"))));
  // No previous part counts as not below.
  const rv1::ChildRecord first = with(
      R"pb(education { attendance_summary { possible_sessions: 100 attended_sessions: 88 } })pb");
  // (A first part: its enrolment and suspension are new too.)
  EXPECT_THAT(
      SchoolPublish(nullptr, first),
      ElementsAre(EqualsProto(ExpectedVsh("SCHOOL_MOVE")), EqualsProto(ExpectedVsh("SUSPENSION")),
                  EqualsProto(ExpectedVsh("PERSISTENT_ABSENCE"))));
}

TEST(VshAlertTest, EveryReasonOnceInOrder) {
  const rv1::ChildRecord before = SchoolPart();
  rv1::ChildRecord after = SchoolPart(R"pb(
    education {
      enrolments {
        urn: "100002"
        entry_date { year: 2026 month: 11 day: 16 }
      }
      exclusions {
        type: PERMANENT_EXCLUSION
        start_date { year: 2026 month: 11 day: 12 }
        school_urn: "100001"
      }
      exclusions {
        type: SUSPENSION
        start_date { year: 2026 month: 11 day: 2 }
        sessions: 1
        school_urn: "100001"
      }
    }
  )pb");
  after.mutable_education()->mutable_attendance_summary()->set_attended_sessions(88);
  EXPECT_THAT(
      SchoolPublish(&before, after),
      ElementsAre(EqualsProto(ExpectedVsh("SCHOOL_MOVE")), EqualsProto(ExpectedVsh("SUSPENSION")),
                  EqualsProto(ExpectedVsh("EXCLUSION")),
                  EqualsProto(ExpectedVsh("PERSISTENT_ABSENCE"))));
  // Not in the virtual school's cohort: nothing.
  EXPECT_THAT(SchoolPublish(&before, after, /*in_cohort=*/false), IsEmpty());
  // In the cohort, but no responsible LA to name the virtual school: nothing.
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::SCHOOL, "100001", &before, &after,
                                              /*in_cohort=*/true, /*responsible_la=*/""),
                                      NoCalendars()),
              IsEmpty());
}

// --- VSH alerts: LA parts and others ---

constexpr absl::string_view kLaPart = R"pb(
  legal_status {
    arrangement: KINSHIP_FOSTER_CARE
    ssda903_legal_status: "V2"
    start_date { year: 2025 month: 3 day: 1 }
    end_date { year: 2025 month: 6 day: 30 }
    looked_after: true
  }
)pb";

TEST(VshAlertTest, NewLegalStatusEpisode) {
  const rv1::ChildRecord before = Parse<rv1::ChildRecord>(kLaPart);
  rv1::ChildRecord after = before;
  after.MergeFrom(Parse<rv1::ChildRecord>(R"pb(
    legal_status {
      ssda903_legal_status: "C2"
      start_date { year: 2025 month: 7 day: 1 }
      order_date { year: 2025 month: 7 day: 1 }
      looked_after: true
    }
    legal_status {
      ssda903_legal_status: "E1"
      start_date { year: 2026 month: 2 day: 1 }
      looked_after: true
    }
  )pb"));
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::LOCAL_AUTHORITY, kLa, &before, &after, true),
                                      NoCalendars()),
              ElementsAre(EqualsProto(ExpectedVsh("LEGAL_STATUS"))));
  // Unchanged: nothing; not in the cohort: nothing.
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::LOCAL_AUTHORITY, kLa, &after, &after, true),
                                      NoCalendars()),
              IsEmpty());
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::LOCAL_AUTHORITY, kLa, &before, &after, false),
                                      NoCalendars()),
              IsEmpty());
}

TEST(VshAlertTest, LaPartRaisesNoSchoolAlerts) {
  const rv1::ChildRecord before = Parse<rv1::ChildRecord>(kLaPart);
  rv1::ChildRecord after = before;
  after.MergeFrom(SchoolPart(
      R"pb(education { attendance_summary { possible_sessions: 100 attended_sessions: 50 } })pb"));
  EXPECT_THAT(NotificationsForPublish(Publish(cv1::LOCAL_AUTHORITY, kLa, &before, &after, true),
                                      NoCalendars()),
              IsEmpty());
}

TEST(VshAlertTest, SchoolPartRaisesNoLegalStatusAlert) {
  const rv1::ChildRecord before = SchoolPart();
  rv1::ChildRecord after = before;
  after.MergeFrom(Parse<rv1::ChildRecord>(kLaPart));
  EXPECT_THAT(SchoolPublish(&before, after), IsEmpty());
}

TEST(VshAlertTest, HealthAndVirtualSchoolPartsRaiseNothing) {
  // Every change that would raise an alert from its owner.
  rv1::ChildRecord after = SchoolPart(
      R"pb(education { attendance_summary { possible_sessions: 100 attended_sessions: 50 } })pb");
  after.MergeFrom(Parse<rv1::ChildRecord>(kLaPart));
  *after.mutable_police()->add_encompass_notifications() = FridayIncident();
  after.mutable_health()->set_immunisations_up_to_date(true);
  for (cv1::AgencyKind kind : {cv1::HEALTH, cv1::VIRTUAL_SCHOOL, cv1::AUDITOR}) {
    EXPECT_THAT(NotificationsForPublish(Publish(kind, "RJ1", nullptr, &after, true), NoCalendars()),
                IsEmpty())
        << cv1::AgencyKind_Name(kind);
  }
}

}  // namespace
}  // namespace kinex::records
