// Notifications in the audit log core (docs/notifications.md), over the
// in-memory store with an injected clock: rows are created with their leaf
// and only with it; every read checks a row against its verified leaf; a
// notification event may only name notifications of its own agency; a
// missed Operation Encompass deadline is escalated once.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "tests/audit/test_events.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_log_storage.h"
#include "tests/testing/status_matchers.h"

namespace kinex::audit {
namespace {

using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::ElementsAre;
namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace nv1 = kinex::notifications::v1;

constexpr char kKid[] = "kx_child1";
constexpr char kLa[] = "E09000033";

class NotificationsLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 6, 17, 0, 0), absl::UTCTimeZone()));
    Reopen(absl::ZeroDuration());
  }

  // Opens the log (again) over the same store.
  void Reopen(absl::Duration notification_retention) {
    log_.reset();
    AuditLog::Options options;
    options.notification_retention = notification_retention;
    options.storage = &storage_;
    options.signer = signer_;
    options.pseudonymizer = testing::TestPseudonymizer();
    options.clock = &clock_;
    options.start_signer_thread = false;
    auto log = AuditLog::Create(std::move(options));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  // A police disclosure about kKid that tells the responsible LA.
  static av1::AuditEvent PoliceRead(const std::string& request_id) {
    av1::AuditEvent e = testing::SampleEvent(request_id, "");
    e.set_principal("spiffe://kinex.dev/police/01/public-protection-officer");
    e.set_agency_kind(cv1::POLICE);
    e.set_agency_code("01");
    e.add_children()->set_kinex_id(kKid);
    av1::NotifyIntent* intent = e.add_notify();
    intent->set_recipient_kind(cv1::LOCAL_AUTHORITY);
    intent->set_recipient_code(kLa);
    intent->mutable_notification()->set_kind(nv1::ACCESS);
    intent->mutable_notification()->set_kinex_id(kKid);
    intent->mutable_notification()->set_reason("NOTIFY_RESPONSIBLE_LA");
    return e;
  }

  // PoliceRead with two lawful bases, as the gateway's disclosures carry.
  static av1::AuditEvent PoliceReadWithBases(const std::string& request_id) {
    av1::AuditEvent e = PoliceRead(request_id);
    cv1::LawfulBasis* force = e.add_lawful_bases();
    force->set_controller_kind(cv1::POLICE);
    force->set_controller_code("01");
    force->add_citations("DPA 2018 s35(2)(b) law enforcement");
    cv1::LawfulBasis* la = e.add_lawful_bases();
    la->set_controller_kind(cv1::LOCAL_AUTHORITY);
    la->set_controller_code(kLa);
    la->add_citations("UK GDPR Art 6(1)(e) public task");
    return e;
  }

  // A police publish telling school 100001 of an incident, deadline `due`.
  static av1::AuditEvent Encompass(const std::string& request_id, absl::Time due) {
    av1::AuditEvent e = PoliceRead(request_id);
    e.set_kind(av1::PART_PUBLISHED);
    e.clear_notify();
    av1::NotifyIntent* intent = e.add_notify();
    intent->set_recipient_kind(cv1::SCHOOL);
    intent->set_recipient_code("100001");
    nv1::Notification& n = *intent->mutable_notification();
    n.set_kind(nv1::ENCOMPASS);
    n.set_kinex_id(kKid);
    n.set_reason("ENCOMPASS_INCIDENT");
    n.set_school_urn("100001");
    n.mutable_deadline()->set_seconds(absl::ToUnixSeconds(due));
    intent->add_escalate_to("local-authority/E09000033");
    intent->add_escalate_to("police/01");
    return e;
  }

  // An event of `kind` by `agency` naming notification `id`.
  static av1::AuditEvent Update(av1::EventKind kind, cv1::AgencyKind agency_kind,
                                const std::string& agency_code, const std::string& id) {
    av1::AuditEvent e = testing::SampleEvent("upd", "");
    e.set_kind(kind);
    e.set_agency_kind(agency_kind);
    e.set_agency_code(agency_code);
    e.clear_purpose();
    e.clear_decision();
    e.add_notification_ids(id);
    e.add_children()->set_kinex_id(kKid);
    return e;
  }

  std::vector<nv1::Notification> Read(const av1::ReadNotificationsRequest& request) {
    auto got = log_->ReadNotifications(request);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return {};
    return {got->notifications().begin(), got->notifications().end()};
  }

  static av1::ReadNotificationsRequest For(cv1::AgencyKind kind, const std::string& code) {
    av1::ReadNotificationsRequest r;
    r.set_recipient_kind(kind);
    r.set_recipient_code(code);
    return r;
  }

  kinex::FakeClock clock_;
  FakeLogStorage storage_;
  const std::shared_ptr<const TreeHeadSigner> signer_ = testing::TestSigner();
  std::unique_ptr<AuditLog> log_;
};

TEST_F(NotificationsLogTest, ANotificationIsCreatedWithItsLeafAndSaysWhatTheLeafSays) {
  auto appended = log_->Append(PoliceRead("req-1"));
  ASSERT_TRUE(appended.ok()) << appended.status();
  std::vector<nv1::Notification> got = Read(For(cv1::LOCAL_AUTHORITY, kLa));
  ASSERT_EQ(got.size(), 1u);
  const nv1::Notification& n = got[0];
  EXPECT_EQ(n.notification_id(), absl::StrCat(appended->leaf_index, ".0"));
  EXPECT_EQ(n.cause_leaf_index(), appended->leaf_index);
  EXPECT_EQ(n.kind(), nv1::ACCESS);
  EXPECT_EQ(n.state(), nv1::PENDING);
  EXPECT_EQ(n.kinex_id(), kKid);
  EXPECT_EQ(n.request_id(), "req-1");
  EXPECT_EQ(n.reason(), "NOTIFY_RESPONSIBLE_LA");
  EXPECT_EQ(n.recipient_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(n.recipient_code(), kLa);
  EXPECT_EQ(n.create_time().seconds(), absl::ToUnixSeconds(clock_.Now()));
  // The leaf keeps the recipient and kind; the intent itself is not stored.
  av1::GetEntriesRequest entries;
  entries.set_start_index(appended->leaf_index);
  entries.set_end_index(appended->leaf_index + 1);
  const av1::AuditEvent leaf = log_->GetEntries(entries)->entries(0).event();
  EXPECT_EQ(leaf.notify_size(), 0);
  ASSERT_EQ(leaf.notified_size(), 1);
  EXPECT_EQ(leaf.notified(0).recipient_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(leaf.notified(0).recipient_code(), kLa);
  EXPECT_EQ(leaf.notified(0).kind(), nv1::ACCESS);
  // Nobody else sees it.
  EXPECT_TRUE(Read(For(cv1::LOCAL_AUTHORITY, "E08000025")).empty());
  EXPECT_TRUE(Read(For(cv1::SCHOOL, "100001")).empty());
}

TEST_F(NotificationsLogTest, AccessNotificationsTakeWhoWhyAndBasesFromTheirLeafAndStoreNone) {
  av1::AuditEvent e = PoliceReadWithBases("req-1");
  e.set_break_glass(true);
  av1::NotifyIntent review = e.notify(0);
  review.mutable_notification()->set_kind(nv1::BREAK_GLASS_REVIEW);
  review.mutable_notification()->set_reason("BREAK_GLASS_REVIEW");
  *e.add_notify() = review;
  ASSERT_TRUE(log_->Append(e).ok());
  // The rows hold the kind, child, reason and request, and nothing the leaf has.
  int rows = 0;
  storage_.MutateNotifications([&](auto& stored) {
    for (const auto& [key, row] : stored) {
      av1::NotifyIntent intent;
      ASSERT_TRUE(intent.ParseFromString(row.payload));
      const nv1::Notification& n = intent.notification();
      EXPECT_FALSE(n.has_accessor());
      EXPECT_EQ(n.purpose(), cv1::PURPOSE_UNSPECIFIED);
      EXPECT_EQ(n.lawful_bases_size(), 0);
      EXPECT_FALSE(n.break_glass());
      EXPECT_EQ(n.kinex_id(), kKid);
      ++rows;
    }
  });
  EXPECT_EQ(rows, 2);
  std::vector<nv1::Notification> got = Read(For(cv1::LOCAL_AUTHORITY, kLa));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind(), nv1::ACCESS);
  EXPECT_EQ(got[1].kind(), nv1::BREAK_GLASS_REVIEW);
  for (const nv1::Notification& n : got) {
    EXPECT_EQ(n.accessor().agency_kind(), cv1::POLICE);
    EXPECT_EQ(n.accessor().agency_code(), "01");
    EXPECT_EQ(n.accessor().principal(), "spiffe://kinex.dev/police/01/public-protection-officer");
    EXPECT_EQ(n.accessor().actor(), "j.smith");
    EXPECT_EQ(n.purpose(), cv1::EDUCATION_SUPPORT);
    EXPECT_TRUE(n.break_glass());
    ASSERT_EQ(n.lawful_bases_size(), 2);
    EXPECT_EQ(n.lawful_bases(0).SerializeAsString(), e.lawful_bases(0).SerializeAsString());
    EXPECT_EQ(n.lawful_bases(1).SerializeAsString(), e.lawful_bases(1).SerializeAsString());
  }
}

TEST_F(NotificationsLogTest, AnAccessIntentMaySayWhatItsEventSaysAndNothingElse) {
  // Set equal to the event's: accepted, and stored without them.
  av1::AuditEvent same = PoliceReadWithBases("req-1");
  nv1::Notification& n = *same.mutable_notify(0)->mutable_notification();
  n.mutable_accessor()->set_agency_kind(cv1::POLICE);
  n.mutable_accessor()->set_agency_code("01");
  n.mutable_accessor()->set_principal(same.principal());
  n.mutable_accessor()->set_actor(same.actor());
  n.set_purpose(same.purpose());
  *n.mutable_lawful_bases() = same.lawful_bases();
  ASSERT_TRUE(log_->Append(same).ok());
  EXPECT_EQ(Read(For(cv1::LOCAL_AUTHORITY, kLa)).at(0).lawful_bases_size(), 2);
  struct Case {
    std::string field;
    std::function<void(nv1::Notification&)> change;
  };
  const std::vector<Case> cases = {
      {"accessor", [](nv1::Notification& c) { c.mutable_accessor()->set_actor("someone else"); }},
      {"purpose", [](nv1::Notification& c) { c.set_purpose(cv1::SAFEGUARDING); }},
      {"lawful_bases",
       [](nv1::Notification& c) { c.mutable_lawful_bases(1)->set_controller_code("E08000025"); }},
      {"lawful_bases", [](nv1::Notification& c) { c.mutable_lawful_bases()->RemoveLast(); }},
      {"break_glass", [](nv1::Notification& c) { c.set_break_glass(true); }},
  };
  for (const Case& c : cases) {
    av1::AuditEvent e = same;
    e.set_request_id("req-2");
    c.change(*e.mutable_notify(0)->mutable_notification());
    const std::string field = "event.notify[0].notification." + c.field;
    const auto appended = log_->Append(e);
    EXPECT_THAT(appended, StatusIs(absl::StatusCode::kInvalidArgument,
                                   field + ": differs from the event's (an access or break-glass "
                                           "review notification says what its leaf records)"))
        << c.field;
    EXPECT_THAT(appended, HasErrorMetadata("field", field));
  }
  EXPECT_EQ(log_->Size(), 1u);
}

TEST_F(NotificationsLogTest, AnAccessRowHoldingItsOwnCopyIsServedOnlyIfItIsTheLeafs) {
  ASSERT_TRUE(log_->Append(PoliceReadWithBases("req-1")).ok());
  // A row as stored before the log took these from the leaf: the same
  // values, held in the row.
  auto store_copy = [&](const std::function<void(nv1::Notification&)>& edit) {
    storage_.MutateNotifications([&](auto& rows) {
      StoredNotification& row = rows.begin()->second;
      av1::NotifyIntent intent;
      ASSERT_TRUE(intent.ParseFromString(row.payload));
      nv1::Notification& n = *intent.mutable_notification();
      n.mutable_accessor()->set_agency_kind(cv1::POLICE);
      n.mutable_accessor()->set_agency_code("01");
      n.mutable_accessor()->set_principal("spiffe://kinex.dev/police/01/public-protection-officer");
      n.mutable_accessor()->set_actor("j.smith");
      n.set_purpose(cv1::EDUCATION_SUPPORT);
      *n.mutable_lawful_bases() = PoliceReadWithBases("").lawful_bases();
      edit(n);
      row.payload = intent.SerializeAsString();
    });
  };
  store_copy([](nv1::Notification&) {});
  const std::vector<nv1::Notification> got = Read(For(cv1::LOCAL_AUTHORITY, kLa));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].accessor().actor(), "j.smith");
  EXPECT_EQ(got[0].lawful_bases_size(), 2);
  // A DBA changes who read, or why, or on which basis: never served.
  const std::vector<std::function<void(nv1::Notification&)>> edits = {
      [](nv1::Notification& n) { n.mutable_accessor()->set_agency_code("20"); },
      [](nv1::Notification& n) { n.set_purpose(cv1::HEALTH_CARE); },
      [](nv1::Notification& n) { n.mutable_lawful_bases(0)->set_citations(0, "consent"); },
      [](nv1::Notification& n) { n.set_break_glass(true); },
  };
  for (const auto& edit : edits) {
    store_copy(edit);
    const auto read = log_->ReadNotifications(For(cv1::LOCAL_AUTHORITY, kLa));
    EXPECT_THAT(read, StatusIs(absl::StatusCode::kDataLoss,
                               "notification 0.0 (leaf index 0): accessor, purpose, lawful bases "
                               "or break-glass differ from the leaf's"));
    EXPECT_THAT(read, HasErrorReason("AUDIT_INDEX_TAMPERED"));
  }
}

TEST_F(NotificationsLogTest, AnIntentMustNameAChildTheEventRecords) {
  av1::AuditEvent e = PoliceRead("req-1");
  e.mutable_notify(0)->mutable_notification()->set_kinex_id("kx_someone_else");
  EXPECT_THAT(log_->Append(e), StatusIs(absl::StatusCode::kInvalidArgument,
                                        "event.notify[0].notification.kinex_id: not one of the "
                                        "event's children (a notification names a child its "
                                        "leaf records)"));
  EXPECT_EQ(log_->Size(), 0u);
}

TEST_F(NotificationsLogTest, UpdatesApplyOnceAndOnlyForTheirRecipient) {
  ASSERT_TRUE(log_->Append(PoliceRead("req-1")).ok());
  const std::string id = Read(For(cv1::LOCAL_AUTHORITY, kLa)).at(0).notification_id();
  // Another agency cannot deliver, acknowledge or review it.
  EXPECT_THAT(
      log_->Append(Update(av1::NOTIFICATION_ACKNOWLEDGED, cv1::LOCAL_AUTHORITY, "E08000025", id)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               absl::StrCat("event.notification_ids: notification ", id,
                            " is not addressed to the event's agency")));
  EXPECT_THAT(
      log_->Append(Update(av1::NOTIFICATION_ACKNOWLEDGED, cv1::LOCAL_AUTHORITY, "E08000025", id)),
      HasErrorReason("NOTIFICATION_NOT_FOUND"));
  EXPECT_THAT(log_->Append(Update(av1::NOTIFICATION_DELIVERED, cv1::LOCAL_AUTHORITY, kLa, "99.0")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "event.notification_ids: notification 99.0 does not exist"));
  // Its recipient can; the first acknowledgement stands.
  ASSERT_TRUE(
      log_->Append(Update(av1::NOTIFICATION_DELIVERED, cv1::LOCAL_AUTHORITY, kLa, id)).ok());
  EXPECT_EQ(Read(For(cv1::LOCAL_AUTHORITY, kLa)).at(0).state(), nv1::DELIVERED);
  av1::AuditEvent ack = Update(av1::NOTIFICATION_ACKNOWLEDGED, cv1::LOCAL_AUTHORITY, kLa, id);
  ack.set_actor("first");
  ASSERT_TRUE(log_->Append(ack).ok());
  const absl::Time first = clock_.Now();
  clock_.Advance(absl::Minutes(5));
  ack.set_actor("second");
  ASSERT_TRUE(log_->Append(ack).ok());
  const nv1::Notification n = Read(For(cv1::LOCAL_AUTHORITY, kLa)).at(0);
  EXPECT_EQ(n.state(), nv1::ACKNOWLEDGED);
  EXPECT_EQ(n.acked_by(), "first");
  EXPECT_EQ(n.ack_time().seconds(), absl::ToUnixSeconds(first));
  // Only a break-glass review can be reviewed.
  av1::AuditEvent review = Update(av1::BREAK_GLASS_REVIEWED, cv1::LOCAL_AUTHORITY, kLa, id);
  review.set_review_outcome(nv1::UPHELD);
  review.set_justification("Justified: the police needed the address at once.");
  EXPECT_THAT(log_->Append(review), HasErrorReason("NOTIFICATION_STATE_CONFLICT"));
  // Filters: unacknowledged only.
  av1::ReadNotificationsRequest open = For(cv1::LOCAL_AUTHORITY, kLa);
  open.set_unacknowledged_only(true);
  EXPECT_TRUE(Read(open).empty());
}

TEST_F(NotificationsLogTest, ARowThatDisagreesWithItsLeafIsNeverServed) {
  ASSERT_TRUE(log_->Append(PoliceRead("req-1")).ok());
  // A DBA points the LA's notification at another LA, or at another child.
  storage_.MutateNotifications(
      [](auto& rows) { rows.begin()->second.recipient_code = "E08000025"; });
  auto read = log_->ReadNotifications(For(cv1::LOCAL_AUTHORITY, "E08000025"));
  EXPECT_THAT(read, StatusIs(absl::StatusCode::kDataLoss,
                             "notification 0.0 (leaf index 0): recipient or kind differ from the "
                             "leaf's"));
  EXPECT_THAT(read, HasErrorReason("AUDIT_INDEX_TAMPERED"));
  EXPECT_THAT(read, HasErrorMetadata("leaf_index", "0"));
  storage_.MutateNotifications([](auto& rows) {
    StoredNotification& row = rows.begin()->second;
    row.recipient_code = kLa;
    av1::NotifyIntent intent;
    ASSERT_TRUE(intent.ParseFromString(row.payload));
    intent.set_recipient_code(kLa);
    intent.mutable_notification()->set_kinex_id("kx_other_child");
    row.payload = intent.SerializeAsString();
  });
  EXPECT_THAT(log_->ReadNotifications(For(cv1::LOCAL_AUTHORITY, kLa)),
              StatusIs(absl::StatusCode::kDataLoss,
                       "notification 0.0 (leaf index 0): child, request or time differ from the "
                       "leaf's"));
  // A row for a leaf that created no notification.
  storage_.MutateNotifications([](auto& rows) {
    StoredNotification extra = rows.begin()->second;
    extra.key.ordinal = 1;
    rows[extra.key] = extra;
    rows.erase(rows.begin());
  });
  EXPECT_THAT(log_->ReadNotifications(For(cv1::LOCAL_AUTHORITY, kLa)),
              StatusIs(absl::StatusCode::kDataLoss,
                       "notification 0.1 (leaf index 0): the leaf created no such notification"));
}

TEST_F(NotificationsLogTest, AMissedEncompassDeadlineEscalatesOnceToTheLaAndTheForce) {
  const absl::Time monday_8am =
      absl::FromCivil(absl::CivilSecond(2026, 11, 9, 8, 0, 0), absl::UTCTimeZone());
  ASSERT_TRUE(log_->Append(Encompass("enc-1", monday_8am)).ok());
  const nv1::Notification school = Read(For(cv1::SCHOOL, "100001")).at(0);
  EXPECT_EQ(school.kind(), nv1::ENCOMPASS);
  EXPECT_EQ(school.deadline().seconds(), absl::ToUnixSeconds(monday_8am));
  EXPECT_EQ(school.force_code(), "");
  // Before the deadline: nothing.
  clock_.Set(monday_8am - absl::Seconds(1));
  EXPECT_EQ(*log_->EscalateDue(), 0);
  // At it, unacknowledged: escalated once, however often the sweeper runs.
  clock_.Set(monday_8am);
  EXPECT_EQ(*log_->EscalateDue(), 1);
  EXPECT_EQ(*log_->EscalateDue(), 0);
  EXPECT_TRUE(Read(For(cv1::SCHOOL, "100001")).at(0).escalated());
  const nv1::Notification la = Read(For(cv1::LOCAL_AUTHORITY, kLa)).at(0);
  EXPECT_EQ(la.kind(), nv1::ENCOMPASS_ESCALATION);
  EXPECT_EQ(la.reason(), "DEADLINE_MISSED");
  EXPECT_EQ(la.about_notification_id(), school.notification_id());
  EXPECT_EQ(la.school_urn(), "100001");
  EXPECT_EQ(la.force_code(), "01");
  EXPECT_EQ(la.kinex_id(), kKid);
  EXPECT_EQ(la.deadline().seconds(), absl::ToUnixSeconds(monday_8am));
  const nv1::Notification force = Read(For(cv1::POLICE, "01")).at(0);
  EXPECT_EQ(force.kind(), nv1::ENCOMPASS_ESCALATION);
  EXPECT_EQ(force.about_notification_id(), school.notification_id());
  // The escalation is its own leaf, by the audit service.
  av1::GetEntriesRequest entries;
  entries.set_start_index(la.cause_leaf_index());
  entries.set_end_index(la.cause_leaf_index() + 1);
  const av1::AuditEvent leaf = log_->GetEntries(entries)->entries(0).event();
  EXPECT_EQ(leaf.kind(), av1::NOTIFICATION_ESCALATED);
  EXPECT_EQ(leaf.principal(), "spiffe://kinex.dev/service/audit");
  EXPECT_THAT(leaf.notification_ids(), ElementsAre(school.notification_id()));
  EXPECT_EQ(leaf.notified_size(), 2);
  auto stats = log_->ReadNotificationStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->deadline_misses, 1);
  EXPECT_EQ(stats->unacknowledged, 3);
}

TEST_F(NotificationsLogTest, AnAcknowledgedEncompassNotificationIsNotEscalated) {
  const absl::Time due = clock_.Now() + absl::Hours(63);
  ASSERT_TRUE(log_->Append(Encompass("enc-1", due)).ok());
  const std::string id = Read(For(cv1::SCHOOL, "100001")).at(0).notification_id();
  ASSERT_TRUE(log_->Append(Update(av1::NOTIFICATION_ACKNOWLEDGED, cv1::SCHOOL, "100001", id)).ok());
  clock_.Set(due + absl::Hours(1));
  EXPECT_EQ(*log_->EscalateDue(), 0);
  EXPECT_FALSE(Read(For(cv1::SCHOOL, "100001")).at(0).escalated());
  EXPECT_TRUE(Read(For(cv1::POLICE, "01")).empty());
}

TEST_F(NotificationsLogTest, RetentionDeletesOnlyWhatWasAcknowledgedLongAgo) {
  // Zero retention (the log's default): nothing is ever deleted.
  ASSERT_TRUE(log_->Append(PoliceRead("req-acked")).ok());
  ASSERT_TRUE(log_->Append(PoliceRead("req-open")).ok());
  const std::vector<nv1::Notification> access = Read(For(cv1::LOCAL_AUTHORITY, kLa));
  ASSERT_EQ(access.size(), 2u);
  ASSERT_TRUE(log_->Append(Update(av1::NOTIFICATION_ACKNOWLEDGED, cv1::LOCAL_AUTHORITY, kLa,
                                  access[0].notification_id()))
                  .ok());
  clock_.Advance(absl::Hours(24 * 365));
  EXPECT_EQ(*log_->PruneNotifications(), 0);
  EXPECT_EQ(Read(For(cv1::LOCAL_AUTHORITY, kLa)).size(), 2u);

  // 30 days. An Encompass notification missed, escalated, then acknowledged
  // by the school; the LA acknowledges its escalation, the force does not.
  Reopen(absl::Hours(24 * 30));
  const absl::Time due = clock_.Now() + absl::Hours(63);
  ASSERT_TRUE(log_->Append(Encompass("enc-1", due)).ok());
  const std::string school_id = Read(For(cv1::SCHOOL, "100001")).at(0).notification_id();
  clock_.Set(due);
  ASSERT_EQ(*log_->EscalateDue(), 1);
  ASSERT_TRUE(
      log_->Append(Update(av1::NOTIFICATION_ACKNOWLEDGED, cv1::SCHOOL, "100001", school_id)).ok());
  const std::vector<nv1::Notification> at_la = Read(For(cv1::LOCAL_AUTHORITY, kLa));
  ASSERT_EQ(at_la.size(), 3u);
  ASSERT_EQ(at_la[2].kind(), nv1::ENCOMPASS_ESCALATION);
  ASSERT_TRUE(log_->Append(Update(av1::NOTIFICATION_ACKNOWLEDGED, cv1::LOCAL_AUTHORITY, kLa,
                                  at_la[2].notification_id()))
                  .ok());
  const uint64_t size = log_->Size();

  // 29 days on: only the ACCESS acknowledged over a year ago goes.
  clock_.Advance(absl::Hours(24 * 29));
  EXPECT_EQ(*log_->PruneNotifications(), 1);
  // 31 days on: the LA's escalation acknowledged 31 days ago goes too; the
  // unacknowledged ones and the school's escalated Encompass notification
  // (a deadline miss) stay.
  clock_.Advance(absl::Hours(24 * 2));
  EXPECT_EQ(*log_->PruneNotifications(), 1);
  EXPECT_EQ(*log_->PruneNotifications(), 0);
  const std::vector<nv1::Notification> left = Read(For(cv1::LOCAL_AUTHORITY, kLa));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].notification_id(), access[1].notification_id());
  EXPECT_EQ(left[0].request_id(), "req-open");
  ASSERT_EQ(Read(For(cv1::SCHOOL, "100001")).size(), 1u);
  EXPECT_TRUE(Read(For(cv1::SCHOOL, "100001")).at(0).escalated());
  EXPECT_EQ(Read(For(cv1::POLICE, "01")).size(), 1u);
  EXPECT_EQ(log_->ReadNotificationStats()->deadline_misses, 1);
  // The log itself is untouched, and a pruned notification no longer exists.
  EXPECT_EQ(log_->Size(), size);
  EXPECT_THAT(log_->Append(Update(av1::NOTIFICATION_ACKNOWLEDGED, cv1::LOCAL_AUTHORITY, kLa,
                                  access[0].notification_id())),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("event.notification_ids: notification ",
                                    access[0].notification_id(), " does not exist")));
}

TEST_F(NotificationsLogTest, ReadsCheckTheirRequest) {
  av1::ReadNotificationsRequest r;
  r.set_recipient_code(kLa);
  EXPECT_THAT(log_->ReadNotifications(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "recipient_kind and recipient_code: set both or neither"));
  r = For(cv1::LOCAL_AUTHORITY, kLa);
  r.set_after("7");
  EXPECT_THAT(log_->ReadNotifications(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "after: notification id \"7\" is not of the form <leaf index>.<ordinal>"));
  r = For(cv1::LOCAL_AUTHORITY, kLa);
  r.set_limit(1001);
  EXPECT_THAT(log_->ReadNotifications(r),
              StatusIs(absl::StatusCode::kInvalidArgument, "limit must be 0-1000 (got 1001)"));
  r = For(cv1::LOCAL_AUTHORITY, kLa);
  r.add_kinds(static_cast<nv1::NotificationKind>(42));
  EXPECT_THAT(log_->ReadNotifications(r),
              StatusIs(absl::StatusCode::kInvalidArgument, "kinds: unknown notification kind 42"));
  // size_only answers the log's size and nothing else.
  ASSERT_TRUE(log_->Append(PoliceRead("req-1")).ok());
  av1::ReadNotificationsRequest size;
  size.set_size_only(true);
  auto got = log_->ReadNotifications(size);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->log_size(), 1u);
  EXPECT_EQ(got->notifications_size(), 0);
}

}  // namespace
}  // namespace kinex::audit
