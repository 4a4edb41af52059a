// The Consent API's write path: no oracles (authorisation before anything
// that reads the child's data; unknown and out-of-scope get one answer) and
// exactly one audit event per write attempt, through a failing audit log
// and a restart (the outbox). Over the in-memory fake; the outbox's storage
// contract is in consent_conformance.cc.
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/error_reason.h"
#include "services/consent/consent_core.h"
#include "tests/consent/consent_test_util.h"
#include "tests/testing/fake_consent_storage.h"

namespace kinex::consent::testing {
namespace {

namespace av1 = kinex::audit::v1;
using kinex::common::v1::AgencyKind;
using kinex::common::v1::Purpose;
using kinex::record::v1::Category;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kDenied[] = "no child you may record consent for matches this reference";
constexpr char kNoEntry[] = "no consent entry you may withdraw matches this consent_id";

class ConsentWriteAuditTest : public ::testing::Test {
 protected:
  ConsentWriteAuditTest() {
    auto storage = std::make_unique<FakeConsentStorage>();
    storage_ = storage.get();
    h_ = std::make_unique<ConsentHarness>(std::move(storage));
  }

  cv1::RecordConsentRequest Valid(const kinex::common::v1::ChildRef& child) {
    return ConsentRequest(child, AgencyKind::SCHOOL, Purpose::EDUCATION_SUPPORT, Category::HEALTH);
  }
  // A consent the child gives as CHILD_AGED_16_OR_OVER, from `valid_from`.
  cv1::RecordConsentRequest SixteenPlus(const kinex::common::v1::ChildRef& child,
                                        absl::Time valid_from) {
    auto req = Valid(child);
    auto* by = req.mutable_entry()->mutable_consent()->mutable_given_by();
    by->set_kind(cv1::CHILD_AGED_16_OR_OVER);
    by->clear_relationship();
    by->clear_name();
    *req.mutable_entry()->mutable_valid_from() = Ts(valid_from);
    return req;
  }
  // A second child, born 2008-03-10 (18 in September 2026), LA child id C2.
  kinex::common::v1::ChildRef PublishAdult() {
    auto part = kinex::records::testing::LaPart("C2");
    part.mutable_identity()->mutable_date_of_birth()->set_year(2008);
    part.mutable_identity()->mutable_date_of_birth()->set_month(3);
    part.mutable_identity()->mutable_date_of_birth()->set_day(10);
    auto ref = kinex::records::testing::LaRef("E09000033", "C2");
    auto put = h_->records().PutPart(PutAsLa(ref, part));
    EXPECT_TRUE(put.ok()) << put.status();
    return ref;
  }
  static absl::Time Day(int y, int m, int d) {
    return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
  }

  FakeConsentStorage* storage_;
  std::unique_ptr<ConsentHarness> h_;
};

// An out-of-scope school sends CHILD_AGED_16_OR_OVER consents with
// valid_from dates bracketing each child's sixteenth birthday: before the
// fix the FAILED_PRECONDITION / PERMISSION_DENIED boundary gave the date of
// birth away in about 15 calls. Now every answer is the same.
TEST_F(ConsentWriteAuditTest, DateOfBirthBinarySearchLearnsNothing) {
  const auto under16 = h_->child();    // born 2015-04-02
  const auto over16 = PublishAdult();  // born 2008-03-10
  const std::vector<absl::Time> probes = {Day(2000, 1, 1),  Day(2024, 3, 9), Day(2024, 3, 10),
                                          Day(2024, 3, 11), Day(2026, 9, 1), Day(2031, 4, 1),
                                          Day(2031, 4, 2),  Day(2031, 4, 3), Day(2040, 1, 1)};
  // The same answer to the byte, its ErrorInfo included.
  const absl::Status expected =
      WithErrorReason(absl::PermissionDeniedError(kDenied), reason::kChildNotFoundOrOutOfScope);
  int attempts = 0;
  for (const auto& child : {under16, over16}) {
    // Binary search over the birthday, as the attacker did.
    absl::Time lo = Day(2000, 1, 1), hi = Day(2040, 1, 1);
    for (int i = 0; i < 15; ++i) {
      const absl::Time mid = lo + (hi - lo) / 2;
      const absl::Status s =
          h_->core().RecordConsent(As(kSchool), SixteenPlus(child, mid)).status();
      ++attempts;
      ASSERT_EQ(s, expected) << "probe " << i;
      (i % 2 ? lo : hi) = mid;  // whatever the answer, it is the same
    }
    for (absl::Time from : probes) {
      EXPECT_EQ(h_->core().RecordConsent(As(kSchool), SixteenPlus(child, from)).status(), expected)
          << absl::FormatTime(from);
      ++attempts;
    }
  }
  EXPECT_EQ(storage_->EntryCount(), 0u);
  EXPECT_EQ(storage_->PendingEventCount(), 0u);
  // Each probe is on the log, with the refusal the school got.
  const auto events = h_->audit().Events();
  ASSERT_THAT(events, SizeIs(attempts));
  for (const auto& e : events) {
    EXPECT_EQ(e.kind(), av1::WRITE_REFUSED);
    EXPECT_EQ(e.refusal(), absl::StrCat("PERMISSION_DENIED: ", kDenied));
    EXPECT_EQ(e.principal(), kSchool);
  }
  // The authorised LA still gets the age check (after authorisation).
  EXPECT_THAT(
      h_->core().RecordConsent(As(kLa), SixteenPlus(under16, Day(2031, 4, 1))).status(),
      StatusIs(
          absl::StatusCode::kFailedPrecondition,
          HasSubstr(
              "entry.consent.given_by.kind: CHILD_AGED_16_OR_OVER, but the child is under 16 "
              "at entry.valid_from (a younger child may consent as GILLICK_COMPETENT_CHILD)")));
  EXPECT_TRUE(h_->core().RecordConsent(As(kLa), SixteenPlus(under16, Day(2031, 4, 2))).ok());
  EXPECT_TRUE(h_->core().RecordConsent(As(kLa), SixteenPlus(over16, Day(2026, 9, 1))).ok());
}

TEST_F(ConsentWriteAuditTest, KnownAndUnknownChildGetTheSameAnswer) {
  using kinex::records::testing::KinexRef;
  using kinex::records::testing::LaRef;
  using kinex::records::testing::Upn;
  using kinex::records::testing::UpnRef;
  const absl::Status known = h_->core().RecordConsent(As(kSchool), Valid(h_->child())).status();
  const absl::Status known_by_kid =
      h_->core().RecordConsent(As(kSchool), Valid(KinexRef(h_->kinex_id()))).status();
  const absl::Status unknown_upn =
      h_->core().RecordConsent(As(kSchool), Valid(UpnRef(Upn(3)))).status();
  const absl::Status unknown_la =
      h_->core().RecordConsent(As(kSchool), Valid(LaRef("E09000033", "C999"))).status();
  const absl::Status unknown_kid =
      h_->core().RecordConsent(As(kSchool), Valid(KinexRef("kx_NOSUCHCHILD000"))).status();
  EXPECT_EQ(known.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(known.message(), kDenied);
  for (const absl::Status& s : {known_by_kid, unknown_upn, unknown_la, unknown_kid}) {
    EXPECT_EQ(s.ToString(), known.ToString());  // byte for byte
    EXPECT_EQ(s, known);
  }
  // Even an authorised LA learns nothing about a child that does not exist.
  EXPECT_EQ(h_->core().RecordConsent(As(kLa), Valid(UpnRef(Upn(3)))).status(), known);
  EXPECT_EQ(storage_->EntryCount(), 0u);
  // ListConsents answers an unknown child the same way.
  cv1::ListConsentsRequest list;
  *list.mutable_child() = UpnRef(Upn(3));
  EXPECT_THAT(h_->core().ListConsents(list).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(kDenied)));
  // Malformed input is still INVALID_ARGUMENT, without echoing the value.
  auto bad = h_->core().RecordConsent(As(kSchool), Valid(UpnRef("X123"))).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), ::testing::Not(::testing::HasSubstr("X123")));
}

TEST_F(ConsentWriteAuditTest, UnknownAndForeignConsentIdsGetTheSameAnswer) {
  const std::string id = h_->MustRecord(Valid(h_->child()));  // by the LA
  cv1::WithdrawConsentRequest foreign;
  foreign.set_consent_id(id);
  cv1::WithdrawConsentRequest unknown;
  unknown.set_consent_id("cn_NOSUCH");
  const absl::Status a = h_->core().WithdrawConsent(As(kSchool), foreign).status();
  const absl::Status b = h_->core().WithdrawConsent(As(kSchool), unknown).status();
  EXPECT_EQ(a.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(a.message(), kNoEntry);
  EXPECT_EQ(a.ToString(), b.ToString());
  EXPECT_EQ(a, b);
  // The LA itself gets the same answer for an id that does not exist.
  EXPECT_EQ(h_->core().WithdrawConsent(As(kLa), unknown).status(), a);
  // Nothing changed.
  cv1::ListConsentsRequest list;
  *list.mutable_child() = h_->child();
  auto listed = h_->core().ListConsents(list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(listed->entries(), SizeIs(1));
  EXPECT_FALSE(listed->entries(0).has_withdraw_time());
}

TEST_F(ConsentWriteAuditTest, EveryWriteAndRefusalIsOneEvent) {
  Caller la = As(kLa, "sw.smith");
  la.request_id = "req-1";
  auto recorded = h_->core().RecordConsent(la, Valid(h_->child()));
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  const std::string id = recorded->consent_id();
  EXPECT_EQ(id, "cn_T1000");

  cv1::WithdrawConsentRequest w;
  w.set_consent_id(id);
  la.request_id = "req-2";
  ASSERT_TRUE(h_->core().WithdrawConsent(la, w).ok());
  la.request_id = "req-3";
  EXPECT_THAT(h_->core().WithdrawConsent(la, w).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("consent entry already withdrawn from 2026-09-01T08:00:00Z")));

  cv1::SharingAgreement isa;
  isa.set_title("MASH");
  isa.add_parties()->set_kind(AgencyKind::LOCAL_AUTHORITY);
  isa.add_parties()->set_kind(AgencyKind::POLICE);
  isa.add_purposes(Purpose::SAFEGUARDING);
  isa.add_categories(Category::POLICE);
  la.request_id = "req-4";
  auto created = h_->core().CreateSharingAgreement(la, IsaRequest(isa));
  ASSERT_TRUE(created.ok()) << created.status();

  Caller school = As(kSchool, "dsl.jones");
  school.request_id = "req-5";
  EXPECT_THAT(h_->core().RecordConsent(school, Valid(h_->child())).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(kDenied)));

  const auto events = h_->audit().Events();
  ASSERT_THAT(events, SizeIs(5));
  EXPECT_EQ(events[0].kind(), av1::CONSENT_RECORDED);
  EXPECT_EQ(events[0].record_id(), id);
  EXPECT_EQ(events[0].method(), "RecordConsent");
  EXPECT_EQ(events[0].decision(), av1::ALLOW);
  EXPECT_TRUE(events[0].refusal().empty());
  // The identifier the caller used and the Kinex id (the log pseudonymises
  // both).
  ASSERT_THAT(events[0].children(), SizeIs(2));
  EXPECT_EQ(events[0].children(0).la_child_id().id(), "C1");
  EXPECT_EQ(events[0].children(1).kinex_id(), h_->kinex_id());

  EXPECT_EQ(events[1].kind(), av1::CONSENT_WITHDRAWN);
  EXPECT_EQ(events[1].record_id(), id);
  EXPECT_EQ(events[1].method(), "WithdrawConsent");
  ASSERT_THAT(events[1].children(), SizeIs(1));
  EXPECT_EQ(events[1].children(0).kinex_id(), h_->kinex_id());

  EXPECT_EQ(events[2].kind(), av1::WRITE_REFUSED);
  EXPECT_EQ(events[2].record_id(), id);
  EXPECT_EQ(events[2].decision(), av1::DENY);
  EXPECT_EQ(events[2].refusal(),
            "FAILED_PRECONDITION: consent entry already withdrawn from 2026-09-01T08:00:00Z");

  EXPECT_EQ(events[3].kind(), av1::SHARING_AGREEMENT_CREATED);
  EXPECT_EQ(events[3].record_id(), created->agreement_id());
  EXPECT_EQ(events[3].method(), "CreateSharingAgreement");
  EXPECT_THAT(events[3].children(), IsEmpty());

  EXPECT_EQ(events[4].kind(), av1::WRITE_REFUSED);
  EXPECT_EQ(events[4].refusal(), absl::StrCat("PERMISSION_DENIED: ", kDenied));
  EXPECT_TRUE(events[4].record_id().empty());
  EXPECT_EQ(events[4].principal(), kSchool);
  EXPECT_EQ(events[4].agency_kind(), AgencyKind::SCHOOL);
  EXPECT_EQ(events[4].agency_code(), "100001");
  EXPECT_EQ(events[4].actor(), "dsl.jones");
  ASSERT_THAT(events[4].children(), SizeIs(2));  // findable by child

  std::set<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(events[i].request_id(), absl::StrCat("req-", i + 1));
    EXPECT_FALSE(events[i].idempotency_key().empty());
    keys.insert(events[i].idempotency_key());
    if (i < 4) {
      EXPECT_EQ(events[i].principal(), kLa);
      EXPECT_EQ(events[i].agency_kind(), AgencyKind::LOCAL_AUTHORITY);
      EXPECT_EQ(events[i].agency_code(), "E09000033");
      EXPECT_EQ(events[i].actor(), "sw.smith");
    }
    // A refusal never names the child.
    EXPECT_THAT(events[i].refusal(), ::testing::Not(::testing::HasSubstr("C1")));
    EXPECT_THAT(events[i].refusal(), ::testing::Not(::testing::HasSubstr(h_->kinex_id())));
  }
  EXPECT_THAT(keys, SizeIs(5));
  EXPECT_EQ(storage_->PendingEventCount(), 0u);
}

TEST_F(ConsentWriteAuditTest, WithoutARequestIdTheEventGetsOne) {
  ASSERT_TRUE(h_->core().RecordConsent(As(kLa), Valid(h_->child())).ok());
  ASSERT_THAT(h_->audit().Events(), SizeIs(1));
  EXPECT_THAT(h_->audit().Events()[0].request_id(), ::testing::StartsWith("rq_"));
  Caller bad = As(kLa);
  bad.request_id = "has space";
  EXPECT_THAT(
      h_->core().RecordConsent(bad, Valid(h_->child())).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("request_id: at most 128 printable ASCII characters without spaces")));
}

TEST_F(ConsentWriteAuditTest, FailingAuditLogGivesUnavailableAndTheNextWriteLogsTheEventOnce) {
  h_->audit().set_failing(true);
  EXPECT_THAT(
      h_->core().RecordConsent(As(kLa), Valid(h_->child())).status(),
      StatusIs(
          absl::StatusCode::kUnavailable,
          HasSubstr("consent entry cn_T1000 is stored, but its audit event could not be logged yet "
                    "(audit log unavailable (test sink)); it will be logged when the audit log is "
                    "available: do not repeat the request")));
  EXPECT_EQ(storage_->EntryCount(), 1u);
  EXPECT_EQ(storage_->PendingEventCount(), 1u);
  EXPECT_THAT(h_->audit().Events(), IsEmpty());
  // While the log is down, the outbox stays.
  EXPECT_THAT(h_->core().DrainAuditOutbox(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("queued consent audit events could not be logged (audit log "
                                 "unavailable (test sink))")));
  EXPECT_EQ(storage_->PendingEventCount(), 1u);

  h_->audit().set_failing(false);
  auto next = h_->core().RecordConsent(As(kLa), Valid(h_->child()));
  ASSERT_TRUE(next.ok()) << next.status();
  const auto events = h_->audit().Events();
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].kind(), av1::CONSENT_RECORDED);
  EXPECT_EQ(events[0].record_id(), "cn_T1000");
  EXPECT_EQ(events[1].record_id(), "cn_T1001");
  EXPECT_EQ(storage_->PendingEventCount(), 0u);
  // Draining again adds nothing.
  EXPECT_TRUE(h_->core().DrainAuditOutbox().ok());
  EXPECT_THAT(h_->audit().Events(), SizeIs(2));
}

TEST_F(ConsentWriteAuditTest, StartUpDrainsTheOutboxExactlyOnce) {
  cv1::WithdrawConsentRequest w;
  w.set_consent_id(h_->MustRecord(Valid(h_->child())));
  h_->audit().set_failing(true);
  EXPECT_THAT(
      h_->core().WithdrawConsent(As(kLa), w).status(),
      StatusIs(
          absl::StatusCode::kUnavailable,
          HasSubstr("the withdrawal of consent entry cn_T1000 is stored, but its audit event")));
  EXPECT_EQ(storage_->PendingEventCount(), 1u);
  // A restart while the log is still down keeps the row (and starts).
  h_->Restart();
  EXPECT_EQ(storage_->PendingEventCount(), 1u);
  h_->audit().set_failing(false);
  h_->Restart();
  EXPECT_EQ(storage_->PendingEventCount(), 0u);
  EXPECT_THAT(h_->audit().Kinds(), ElementsAre(av1::CONSENT_RECORDED, av1::CONSENT_WITHDRAWN));

  // A crash after the append but before the row was deleted: the row comes
  // back at start-up and is appended again under the same key, so the log
  // still holds one event.
  const av1::AuditEvent withdrawn = h_->audit().Events()[1];
  ASSERT_TRUE(h_->storage()
                  .Transact([&](ConsentTxn& txn) {
                    return txn.InsertPendingEvent({withdrawn.idempotency_key(),
                                                   withdrawn.SerializeAsString(),
                                                   h_->clock().Now()});
                  })
                  .ok());
  h_->Restart();
  EXPECT_EQ(storage_->PendingEventCount(), 0u);
  EXPECT_THAT(h_->audit().Kinds(), ElementsAre(av1::CONSENT_RECORDED, av1::CONSENT_WITHDRAWN));
}

TEST_F(ConsentWriteAuditTest, ARefusalThatCannotBeAuditedIsUnavailable) {
  h_->audit().set_failing(true);
  EXPECT_THAT(
      h_->core().RecordConsent(As(kSchool), Valid(h_->child())).status(),
      StatusIs(
          absl::StatusCode::kUnavailable,
          HasSubstr("nothing was stored, and the refused request could not be audited (audit log "
                    "unavailable (test sink)); try again later")));
  EXPECT_EQ(storage_->EntryCount(), 0u);
  EXPECT_EQ(storage_->PendingEventCount(), 0u);
  h_->audit().set_failing(false);
  EXPECT_THAT(h_->core().RecordConsent(As(kSchool), Valid(h_->child())).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(kDenied)));
  EXPECT_THAT(h_->audit().Kinds(), ElementsAre(av1::WRITE_REFUSED));
}

TEST(ConsentCoreWithoutAuditTest, WritesFailClosedWithoutAnAuditSink) {
  FakeClock clock;
  kinex::records::FakeRecordsStorage records_storage;
  RecordingAuditSink records_audit;
  auto records = kinex::records::RecordsCore::Create(
      {.storage = &records_storage, .clock = &clock, .audit = &records_audit});
  ASSERT_TRUE(records.ok());
  FakeConsentStorage storage;
  FakeAuthorizer authorizer;
  ConsentCore::Options o;
  o.storage = &storage;
  o.records = records->get();
  o.authorizer = &authorizer;
  o.clock = &clock;
  auto core = ConsentCore::Create(std::move(o));
  ASSERT_TRUE(core.ok()) << core.status();
  EXPECT_THAT(
      (*core)
          ->RecordConsent(As(kLa), ConsentRequest(kinex::records::testing::LaRef("E09000033", "C1"),
                                                  AgencyKind::SCHOOL, Purpose::EDUCATION_SUPPORT,
                                                  Category::HEALTH))
          .status(),
      StatusIs(absl::StatusCode::kUnavailable,
               HasSubstr("consent writes are unavailable: no audit log is configured (nothing was "
                         "stored)")));
  EXPECT_EQ(storage.EntryCount(), 0u);
}

}  // namespace
}  // namespace kinex::consent::testing
