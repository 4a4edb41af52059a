// Unit tests of the overdue-PEP sweep (RecordsCore::SweepOverduePeps,
// docs/notifications.md): which plans are overdue (PepReviewDue: the due
// date, or the last review plus six months, before today in Europe/London),
// whose virtual school is alerted (the responsible LA's, never a previous
// LA's after a transfer), the exact event and alert, once per due date
// (again in this process, after a restart, and a new alert for a new due
// date), and fail-safe behaviour when the audit log is down. Over the
// in-memory fake, a FakeClock and the recording audit sink, which honours
// idempotency keys as the real log does.
//
// Example:
//   build/bin/pep_sweep_test --gtest_filter='PepSweepTest.*'
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/records/part_notifications.h"
#include "services/records/records_core.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_records_storage.h"
#include "tests/testing/recording_audit_sink.h"

namespace kinex::records::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace nv1 = kinex::notifications::v1;
namespace rec = kinex::record::v1;
namespace rv1 = kinex::records::v1;

constexpr char kLaCode[] = "E09000033";
constexpr char kLa2Code[] = "E08000025";
constexpr char kVirtualSchool2[] =
    "spiffe://kinex.dev/virtual-school/E08000025/virtual-school-head";
// hex(SHA-256("kx_PEP1000"))[:32], the first child's key hash.
constexpr char kFirstChildHash[] = "dee6ca500cb4a9c6aa90a4510c2aa737";

rec::Date Day(int y, int m, int d) {
  rec::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

absl::Time LondonTime(int y, int m, int d, int hh, int mm) {
  absl::TimeZone london;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &london)) << "install tzdata";
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), london);
}

// A plan due on `due` (next_review_due), last reviewed six months earlier.
rec::PersonalEducationPlan DueOn(const rec::Date& due) {
  rec::PersonalEducationPlan pep;
  *pep.mutable_last_review_date() = Day(2026, 5, 1);
  pep.set_status(rec::PEP_CURRENT);
  *pep.mutable_next_review_due() = due;
  return pep;
}

class PepSweepTest : public ::testing::Test {
 protected:
  // 20 November 2026, midday in London (GMT).
  PepSweepTest() : clock_(LondonTime(2026, 11, 20, 12, 0)) { core_ = NewCore(); }

  // A core over the same storage and audit sink (a restart, or a second
  // replica sharing the database and the log).
  std::unique_ptr<RecordsCore> NewCore() {
    RecordsCore::Options o;
    o.storage = &storage_;
    o.clock = &clock_;
    o.audit = &audit_;
    o.new_kinex_id = [this]() -> absl::StatusOr<std::string> {
      return absl::StrCat("kx_PEP", 1000 + next_id_++);
    };
    auto core = RecordsCore::Create(std::move(o));
    EXPECT_TRUE(core.ok()) << core.status();
    return std::move(*core);
  }

  // Westminster creates a child; returns its Kinex id.
  std::string CreateChild(const std::string& la_child_id) {
    auto r = core_->PutPart(Put(kLa, LaRef(kLaCode, la_child_id), LaPart(la_child_id)));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->kinex_id() : "";
  }

  // The virtual school `principal` publishes `pep` for the child; returns
  // the new etag.
  std::string VsPublishes(const std::string& kid, const rec::PersonalEducationPlan& pep,
                          const std::string& etag = "",
                          const std::string& principal = kVirtualSchool) {
    rec::ChildRecord part;
    *part.mutable_education()->mutable_pep() = pep;
    auto r = core_->PutPart(Put(principal, KinexRef(kid), part, etag));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->etag() : "";
  }

  std::vector<av1::AuditEvent> Alerts() const {
    return audit_.EventsOfKind(av1::PEP_REVIEW_OVERDUE);
  }

  FakeClock clock_;
  kinex::testing::RecordingAuditSink audit_;
  FakeRecordsStorage storage_;
  int next_id_ = 0;
  std::unique_ptr<RecordsCore> core_;
};

TEST(PepReviewDueTest, TheDueDateOrTheLastReviewPlusSixMonths) {
  rec::PersonalEducationPlan pep;
  EXPECT_EQ(PepReviewDue(pep), std::nullopt);  // no plan dates: nothing due
  *pep.mutable_last_review_date() = Day(2026, 5, 19);
  EXPECT_EQ(PepReviewDue(pep), absl::CivilDay(2026, 11, 19));
  *pep.mutable_next_review_due() = Day(2026, 9, 30);
  EXPECT_EQ(PepReviewDue(pep), absl::CivilDay(2026, 9, 30));  // the due date wins
  // A month without the day: its last day.
  pep.clear_next_review_due();
  *pep.mutable_last_review_date() = Day(2026, 8, 31);
  EXPECT_EQ(PepReviewDue(pep), absl::CivilDay(2027, 2, 28));
  *pep.mutable_last_review_date() = Day(2027, 8, 31);
  EXPECT_EQ(PepReviewDue(pep), absl::CivilDay(2028, 2, 29));
  *pep.mutable_last_review_date() = Day(2026, 12, 31);
  EXPECT_EQ(PepReviewDue(pep), absl::CivilDay(2027, 6, 30));
  // A due date that is not a calendar date counts as absent.
  *pep.mutable_next_review_due() = Day(2026, 4, 31);
  EXPECT_EQ(PepReviewDue(pep), absl::CivilDay(2027, 6, 30));
  *pep.mutable_next_review_due() = Day(2026, 13, 1);
  EXPECT_EQ(PepReviewDue(pep), absl::CivilDay(2027, 6, 30));
  *pep.mutable_last_review_date() = Day(0, 0, 0);
  EXPECT_EQ(PepReviewDue(pep), std::nullopt);
}

TEST(PepOverdueKeyTest, HashesTheKinexIdAndNamesTheDueDate) {
  EXPECT_EQ(PepOverdueKey("kx_PEP1000", absl::CivilDay(2026, 11, 19)),
            absl::StrCat("pep-overdue/", kFirstChildHash, "/2026-11-19"));
  EXPECT_EQ(PepOverdueKey("kx_PEP1000", absl::CivilDay(2027, 1, 5)),
            absl::StrCat("pep-overdue/", kFirstChildHash, "/2027-01-05"));
}

TEST_F(PepSweepTest, APlanDueYesterdayRaisesExactlyOneAlert) {
  const std::string kid = CreateChild("P1");
  ASSERT_EQ(kid, "kx_PEP1000");
  VsPublishes(kid, DueOn(Day(2026, 11, 19)));
  const size_t before = audit_.Events().size();

  auto swept = core_->SweepOverduePeps();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(*swept, 1);
  const std::vector<av1::AuditEvent> events = audit_.Events();
  ASSERT_EQ(events.size(), before + 1);

  const std::string key = absl::StrCat("pep-overdue/", kFirstChildHash, "/2026-11-19");
  av1::AuditEvent want;
  want.set_kind(av1::PEP_REVIEW_OVERDUE);
  want.set_request_id(key);
  want.set_idempotency_key(key);
  want.set_principal("spiffe://kinex.dev/service/records");
  want.set_method("SweepOverduePeps");
  want.add_children()->set_kinex_id(kid);
  av1::NotifyIntent* alert = want.add_notify();
  alert->set_recipient_kind(cv1::VIRTUAL_SCHOOL);
  alert->set_recipient_code(kLaCode);
  alert->mutable_notification()->set_kind(nv1::VSH_ALERT);
  alert->mutable_notification()->set_kinex_id(kid);
  alert->mutable_notification()->set_reason("PEP_REVIEW_OVERDUE");
  EXPECT_EQ(events.back().DebugString(), want.DebugString());
  // The key the log stores in its leaf holds no Kinex id.
  EXPECT_THAT(events.back().idempotency_key(), Not(HasSubstr(kid)));
}

TEST_F(PepSweepTest, SweepingAgainRaisesNothingNewHereAfterARestartOrOnAnotherReplica) {
  const std::string kid = CreateChild("P1");
  VsPublishes(kid, DueOn(Day(2026, 11, 19)));
  ASSERT_EQ(core_->SweepOverduePeps().value_or(-1), 1);
  const int calls = audit_.append_calls();

  // This process remembers what it raised: no second append at all.
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 0);
  EXPECT_EQ(audit_.append_calls(), calls);
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 0);
  EXPECT_EQ(Alerts().size(), 1u);

  // A restart (or another replica) appends again; the log's idempotency key
  // answers with the first leaf and raises nothing.
  std::unique_ptr<RecordsCore> replica = NewCore();
  EXPECT_EQ(replica->SweepOverduePeps().value_or(-1), 1);
  EXPECT_EQ(audit_.append_calls(), calls + 1);
  EXPECT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(replica->SweepOverduePeps().value_or(-1), 0);
  EXPECT_EQ(Alerts().size(), 1u);
}

TEST_F(PepSweepTest, APlanDueTodayOrTomorrowIsNotOverdue) {
  VsPublishes(CreateChild("P1"), DueOn(Day(2026, 11, 20)));
  VsPublishes(CreateChild("P2"), DueOn(Day(2026, 11, 21)));
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 0);
  EXPECT_TRUE(Alerts().empty());
  // Tomorrow, the plan due today is overdue; the other is due.
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 1);
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(Alerts()[0].children(0).kinex_id(), "kx_PEP1000");
}

TEST_F(PepSweepTest, TodayIsTodayInLondon) {
  // 23:30 UTC on 30 June is 00:30 on 1 July in London (BST).
  clock_.Set(absl::FromCivil(absl::CivilMinute(2026, 6, 30, 23, 30), absl::UTCTimeZone()));
  VsPublishes(CreateChild("P1"), DueOn(Day(2026, 6, 30)));
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 1);
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_THAT(Alerts()[0].idempotency_key(), ::testing::EndsWith("/2026-06-30"));
}

TEST_F(PepSweepTest, WithoutADueDateTheLastReviewPlusSixMonthsIsTheDueDate) {
  rec::PersonalEducationPlan overdue;
  *overdue.mutable_last_review_date() = Day(2026, 5, 19);  // due 19 November
  overdue.set_status(rec::PEP_CURRENT);
  rec::PersonalEducationPlan due_today;
  *due_today.mutable_last_review_date() = Day(2026, 5, 20);  // due 20 November
  due_today.set_status(rec::PEP_CURRENT);
  const std::string kid = CreateChild("P1");
  VsPublishes(kid, overdue);
  VsPublishes(CreateChild("P2"), due_today);
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 1);
  ASSERT_EQ(Alerts().size(), 1u);
  EXPECT_EQ(Alerts()[0].children(0).kinex_id(), kid);
  EXPECT_EQ(Alerts()[0].idempotency_key(),
            absl::StrCat("pep-overdue/", kFirstChildHash, "/2026-11-19"));
}

TEST_F(PepSweepTest, AfterATransferTheOldLasVirtualSchoolGetsNothing) {
  const std::string kid = CreateChild("P1");
  VsPublishes(kid, DueOn(Day(2026, 11, 1)));
  rv1::TransferResponsibilityRequest transfer;
  *transfer.mutable_child() = KinexRef(kid);
  transfer.set_to_la_code(kLa2Code);
  transfer.set_principal(kLaManager);
  transfer.set_request_id("req-transfer");
  transfer.set_reason("moved to Sandwell");
  ASSERT_TRUE(core_->TransferResponsibility(transfer).ok());

  // Westminster's virtual school still holds an overdue plan, but the child
  // is Sandwell's now.
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 0);
  EXPECT_TRUE(Alerts().empty());

  // Sandwell's virtual school publishes its own plan, overdue too: its
  // virtual school is told.
  VsPublishes(kid, DueOn(Day(2026, 11, 10)), "", kVirtualSchool2);
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 1);
  ASSERT_EQ(Alerts().size(), 1u);
  ASSERT_EQ(Alerts()[0].notify_size(), 1);
  EXPECT_EQ(Alerts()[0].notify(0).recipient_kind(), cv1::VIRTUAL_SCHOOL);
  EXPECT_EQ(Alerts()[0].notify(0).recipient_code(), kLa2Code);
  EXPECT_EQ(Alerts()[0].idempotency_key(),
            absl::StrCat("pep-overdue/", kFirstChildHash, "/2026-11-10"));
}

TEST_F(PepSweepTest, AChildWithoutAVirtualSchoolPlanRaisesNothing) {
  CreateChild("P1");  // no virtual school part
  rec::ChildRecord no_plan;
  no_plan.mutable_education()->mutable_pupil_premium_plus()->set_eligible(true);
  no_plan.mutable_education()->mutable_pupil_premium_plus()->set_basis(rec::PPP_LOOKED_AFTER);
  const std::string kid = CreateChild("P2");
  ASSERT_TRUE(core_->PutPart(Put(kVirtualSchool, KinexRef(kid), no_plan)).ok());
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 0);
  EXPECT_TRUE(Alerts().empty());
}

TEST_F(PepSweepTest, ALaterDueDateThatPassesRaisesASecondAlert) {
  const std::string kid = CreateChild("P1");
  const std::string etag = VsPublishes(kid, DueOn(Day(2026, 11, 19)));
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 1);

  // The review is held; the new plan is due on 1 December.
  VsPublishes(kid, DueOn(Day(2026, 12, 1)), etag);
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 0);
  clock_.Set(LondonTime(2026, 12, 1, 23, 59));
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 0);
  clock_.Set(LondonTime(2026, 12, 2, 0, 0));
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 1);
  const std::vector<av1::AuditEvent> alerts = Alerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].idempotency_key(),
            absl::StrCat("pep-overdue/", kFirstChildHash, "/2026-11-19"));
  EXPECT_EQ(alerts[1].idempotency_key(),
            absl::StrCat("pep-overdue/", kFirstChildHash, "/2026-12-01"));
  EXPECT_EQ(alerts[1].notify(0).notification().reason(), "PEP_REVIEW_OVERDUE");
}

TEST_F(PepSweepTest, AnAuditFailureStopsTheSweepAndTheNextSweepRaisesTheAlert) {
  const std::string kid = CreateChild("P1");
  VsPublishes(kid, DueOn(Day(2026, 11, 19)));
  audit_.set_failing(true);
  absl::StatusOr<int> swept = core_->SweepOverduePeps();
  EXPECT_THAT(swept.status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       "overdue-PEP sweep: the audit log could not record an alert (UNAVAILABLE); "
                       "0 raised this sweep, the rest are raised by the next"));
  EXPECT_THAT(swept.status(), HasErrorReason("AUDIT_UNAVAILABLE"));
  EXPECT_THAT(std::string(swept.status().message()), Not(HasSubstr(kid)));
  EXPECT_TRUE(Alerts().empty());

  audit_.set_failing(false);
  EXPECT_EQ(core_->SweepOverduePeps().value_or(-1), 1);
  EXPECT_EQ(Alerts().size(), 1u);
}

TEST_F(PepSweepTest, TheSweepThreadSweepsAtOnceAndStopsCleanly) {
  VsPublishes(CreateChild("P1"), DueOn(Day(2026, 11, 19)));
  absl::Notification swept;
  absl::StatusOr<int> first = absl::UnknownError("not run");
  int runs = 0;
  core_->StartPepSweep(absl::Hours(1), [&](const absl::StatusOr<int>& r) {
    if (++runs == 1) {
      first = r;
      swept.Notify();
    }
  });
  swept.WaitForNotification();
  core_->StopPepSweep();  // wakes the hour's wait and joins
  core_->StopPepSweep();  // idempotent
  EXPECT_EQ(runs, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1);
  EXPECT_EQ(Alerts().size(), 1u);
}

}  // namespace
}  // namespace kinex::records::testing
