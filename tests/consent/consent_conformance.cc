// Conformance suite for ConsentStorage backends, through the consent core.
#include "tests/consent/consent_conformance.h"

#include <cstdint>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "services/common/status_macros.h"
#include "services/consent/sql_consent_storage.h"
#include "tests/consent/consent_test_util.h"

namespace kinex::consent::testing {

ConsentBackend SqlConsentBackend(SqlBackend backend) {
  return {backend.name, [backend]() -> absl::StatusOr<std::unique_ptr<ConsentStorage>> {
            KINEX_ASSIGN_OR_RETURN(std::string where, backend.create_database());
            KINEX_ASSIGN_OR_RETURN(std::unique_ptr<sql::Db> db, backend.connect(where));
            // Reads on their own connections, as a service opens the store.
            KINEX_ASSIGN_OR_RETURN(auto storage,
                                   SqlConsentStorage::Create(std::move(db), [backend, where] {
                                     return backend.connect(where);
                                   }));
            return std::unique_ptr<ConsentStorage>(std::move(storage));
          }};
}

namespace {

using kinex::common::v1::AgencyKind;
using kinex::common::v1::LegalBasis;
using kinex::common::v1::Purpose;
using kinex::record::v1::Category;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST_P(ConsentConformanceTest, RecordsAndListsConsentsAndRefusals) {
  ConsentHarness h(MakeStore());
  const std::string given = h.MustRecord(ConsentRequest(
      h.child(), AgencyKind::VIRTUAL_SCHOOL, Purpose::EDUCATION_SUPPORT, Category::EDUCATION));
  const std::string refused = h.MustRecord(ConsentRequest(
      h.child(), AgencyKind::SCHOOL, Purpose::HEALTH_CARE, Category::HEALTH, cv1::CONSENT_REFUSED));
  EXPECT_EQ(given, "cn_T1000");
  EXPECT_EQ(refused, "cn_T1001");

  cv1::ListConsentsRequest list;
  *list.mutable_child() = h.child();
  list.set_page_size(1);
  auto page1 = h.core().ListConsents(list);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_THAT(page1->entries(), SizeIs(1));
  const cv1::ConsentEntry& e = page1->entries(0);
  EXPECT_EQ(e.consent_id(), given);
  EXPECT_EQ(e.kinex_id(), h.kinex_id());
  EXPECT_EQ(e.recorded_by(), kLa);
  EXPECT_EQ(e.recorded_by_actor(), "practitioner");
  EXPECT_EQ(e.record_time().seconds(), absl::ToUnixSeconds(h.clock().Now()));
  EXPECT_EQ(e.valid_from().seconds(), absl::ToUnixSeconds(h.clock().Now()));
  EXPECT_EQ(e.consent().given_by().relationship(), cv1::SPECIAL_GUARDIAN);
  list.set_page_token(page1->next_page_token());
  auto page2 = h.core().ListConsents(list);
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_THAT(page2->entries(), SizeIs(1));
  EXPECT_EQ(page2->entries(0).consent().decision(), cv1::CONSENT_REFUSED);
  EXPECT_TRUE(page2->next_page_token().empty());
}

TEST_P(ConsentConformanceTest, LookupRespectsValidityWindows) {
  ConsentHarness h(MakeStore());
  auto req = ConsentRequest(h.child(), AgencyKind::VIRTUAL_SCHOOL, Purpose::EDUCATION_SUPPORT,
                            Category::EDUCATION);
  const absl::Time now = h.clock().Now();
  *req.mutable_entry()->mutable_valid_from() = Ts(now + absl::Hours(1));
  *req.mutable_entry()->mutable_valid_until() = Ts(now + absl::Hours(25));
  const std::string id = h.MustRecord(req);
  auto lookup = Lookup(h.kinex_id(), kVirtualSchool, Purpose::EDUCATION_SUPPORT);
  auto r = h.core().LookupBases(lookup);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->consents(), IsEmpty());  // not yet
  h.clock().Advance(absl::Hours(1));
  r = h.core().LookupBases(lookup);
  ASSERT_TRUE(r.ok());
  ASSERT_THAT(r->consents(), SizeIs(1));
  EXPECT_EQ(r->consents(0).consent_id(), id);
  EXPECT_THAT(r->consents(0).categories(), ElementsAre(Category::EDUCATION));
  // Other purposes and recipients are not covered.
  EXPECT_THAT(
      h.core().LookupBases(Lookup(h.kinex_id(), kVirtualSchool, Purpose::SAFEGUARDING))->consents(),
      IsEmpty());
  EXPECT_THAT(
      h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::EDUCATION_SUPPORT))->consents(),
      IsEmpty());
  h.clock().Advance(absl::Hours(24));  // valid_until is exclusive
  r = h.core().LookupBases(lookup);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->consents(), IsEmpty());
}

TEST_P(ConsentConformanceTest, WithdrawalTakesEffectFromItsTime) {
  ConsentHarness h(MakeStore());
  const std::string id = h.MustRecord(ConsentRequest(
      h.child(), AgencyKind::VIRTUAL_SCHOOL, Purpose::EDUCATION_SUPPORT, Category::EDUCATION));
  cv1::WithdrawConsentRequest w;
  w.set_consent_id(id);
  *w.mutable_effective_time() = Ts(h.clock().Now() + absl::Hours(2));
  w.set_reason("special guardian asked");
  auto done = h.core().WithdrawConsent(As(kLa), w);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->entry().withdrawn_by(), kLa);
  EXPECT_EQ(done->entry().withdraw_reason(), "special guardian asked");
  auto lookup = Lookup(h.kinex_id(), kVirtualSchool, Purpose::EDUCATION_SUPPORT);
  EXPECT_THAT(h.core().LookupBases(lookup)->consents(), SizeIs(1));  // not yet effective
  h.clock().Advance(absl::Hours(2));
  EXPECT_THAT(h.core().LookupBases(lookup)->consents(), IsEmpty());
  // Still on file, marked withdrawn.
  cv1::ListConsentsRequest list;
  *list.mutable_child() = h.child();
  auto listed = h.core().ListConsents(list);
  ASSERT_TRUE(listed.ok());
  ASSERT_THAT(listed->entries(), SizeIs(1));
  EXPECT_TRUE(listed->entries(0).has_withdraw_time());
  w.clear_effective_time();
  EXPECT_THAT(h.core().WithdrawConsent(As(kLa), w).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already withdrawn")));
}

TEST_P(ConsentConformanceTest, RefusalsAreReportedAsRefusals) {
  ConsentHarness h(MakeStore());
  const std::string id = h.MustRecord(ConsentRequest(
      h.child(), AgencyKind::SCHOOL, Purpose::HEALTH_CARE, Category::HEALTH, cv1::CONSENT_REFUSED));
  auto r = h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::HEALTH_CARE));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->consents(), IsEmpty());
  ASSERT_THAT(r->refusals(), SizeIs(1));
  EXPECT_EQ(r->refusals(0).consent_id(), id);
  EXPECT_THAT(r->refusals(0).categories(), ElementsAre(Category::HEALTH));
}

TEST_P(ConsentConformanceTest, RecipientCodesNarrowAConsent) {
  ConsentHarness h(MakeStore());
  auto req = ConsentRequest(h.child(), AgencyKind::SCHOOL, Purpose::EDUCATION_SUPPORT,
                            Category::EDUCATION);
  req.mutable_entry()->mutable_consent()->mutable_scope()->add_recipient_codes("100001");
  h.MustRecord(req);
  EXPECT_THAT(
      h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::EDUCATION_SUPPORT))->consents(),
      SizeIs(1));
  EXPECT_THAT(
      h.core().LookupBases(Lookup(h.kinex_id(), kSchool2, Purpose::EDUCATION_SUPPORT))->consents(),
      IsEmpty());
}

TEST_P(ConsentConformanceTest, StatutoryBasesApplyToTheirPurposes) {
  ConsentHarness h(MakeStore());
  const std::string id = h.MustRecord(BasisRequest(h.child(), LegalBasis::SAFEGUARDING_OF_CHILDREN,
                                                   "s47 enquiry opened", Purpose::SAFEGUARDING));
  EXPECT_EQ(id, "lb_T1000");
  auto r = h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::SAFEGUARDING));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_THAT(r->bases(), SizeIs(1));
  EXPECT_EQ(r->bases(0).consent_id(), id);
  EXPECT_EQ(r->bases(0).basis(), LegalBasis::SAFEGUARDING_OF_CHILDREN);
  EXPECT_EQ(r->bases(0).reference(), "s47 enquiry opened");
  EXPECT_FALSE(r->bases(0).restricted_by_agreement());
  EXPECT_THAT(r->bases(0).categories(), IsEmpty());
  EXPECT_THAT(
      h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::EDUCATION_SUPPORT))->bases(),
      IsEmpty());
  // Ended bases are no longer in force.
  cv1::WithdrawConsentRequest end;
  end.set_consent_id(id);
  end.set_reason("s47 enquiry closed");
  ASSERT_TRUE(h.core().WithdrawConsent(As(kLa), end).ok());
  EXPECT_THAT(h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::SAFEGUARDING))->bases(),
              IsEmpty());
}

TEST_P(ConsentConformanceTest, SharingAgreementsNarrowBasesBetweenTheirParties) {
  ConsentHarness h(MakeStore());
  const std::string id = h.MustRecord(BasisRequest(h.child(), LegalBasis::HEALTH_OR_SOCIAL_CARE,
                                                   "care order C2", Purpose::CARE_PLANNING));
  h.MustRecord(BasisRequest(h.child(), LegalBasis::SAFEGUARDING_OF_CHILDREN, "s47 enquiry opened",
                            Purpose::SAFEGUARDING));
  cv1::SharingAgreement isa;
  isa.set_title("LA and health providers: care planning");
  auto* la = isa.add_parties();
  la->set_kind(AgencyKind::LOCAL_AUTHORITY);
  la->set_code("E09000033");
  isa.add_parties()->set_kind(AgencyKind::HEALTH);  // every health provider
  isa.add_purposes(Purpose::CARE_PLANNING);
  isa.add_categories(Category::HEALTH);
  isa.add_categories(Category::PLACEMENT);
  auto created = h.core().CreateSharingAgreement(As(kLa), IsaRequest(isa));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->agreement_id(), "isa_T1002");
  EXPECT_EQ(created->valid_from().seconds(), absl::ToUnixSeconds(h.clock().Now()));
  auto listed = h.core().ListSharingAgreements({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(listed->agreements(), SizeIs(1));
  EXPECT_EQ(listed->agreements(0).title(), "LA and health providers: care planning");

  // LA -> health for care planning: restricted to the agreement's categories.
  auto r = h.core().LookupBases(Lookup(h.kinex_id(), kHealth, Purpose::CARE_PLANNING));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_THAT(r->bases(), SizeIs(1));
  EXPECT_EQ(r->bases(0).consent_id(), id);
  EXPECT_TRUE(r->bases(0).restricted_by_agreement());
  EXPECT_THAT(r->bases(0).categories(), ElementsAre(Category::PLACEMENT, Category::HEALTH));
  EXPECT_THAT(r->bases(0).agreement_ids(), ElementsAre("isa_T1002"));
  // LA -> health for safeguarding: the agreement exists for the pair but not
  // for this purpose, so the basis does not apply.
  EXPECT_THAT(h.core().LookupBases(Lookup(h.kinex_id(), kHealth, Purpose::SAFEGUARDING))->bases(),
              IsEmpty());
  // LA -> school: no agreement for the pair, unrestricted.
  r = h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::SAFEGUARDING));
  ASSERT_THAT(r->bases(), SizeIs(1));
  EXPECT_FALSE(r->bases(0).restricted_by_agreement());
}

TEST_P(ConsentConformanceTest, StoragePrimitives) {
  auto storage = MakeStore();
  cv1::ConsentEntry e;
  e.set_consent_id("cn_A");
  e.set_kinex_id("kx_1");
  ASSERT_TRUE(storage->Transact([&](ConsentTxn& t) { return t.InsertEntry(e); }).ok());
  EXPECT_THAT(storage->Transact([&](ConsentTxn& t) { return t.InsertEntry(e); }),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("concurrent update")));
  cv1::ConsentEntry missing;
  missing.set_consent_id("cn_B");
  EXPECT_THAT(storage->Transact([&](ConsentTxn& t) { return t.UpdateEntry(missing); }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no consent entry")));
  // Rolled back: an insert followed by a failure leaves nothing.
  EXPECT_THAT(storage->Transact([&](ConsentTxn& t) -> absl::Status {
    if (auto s = t.InsertEntry(missing); !s.ok()) return s;
    return absl::CancelledError("gave up");
  }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("gave up")));
  absl::Status s = storage->Transact([&](ConsentTxn& t) -> absl::Status {
    auto got = t.GetEntry("cn_B");
    if (!got.ok()) return got.status();
    if (got->has_value()) return absl::InternalError("left behind");
    auto list = t.ListEntries("kx_1", "", 10);
    if (!list.ok()) return list.status();
    return list->size() == 1 ? absl::OkStatus() : absl::InternalError("wrong list");
  });
  EXPECT_TRUE(s.ok()) << s;
}

// 2026-09-01T08:00:00Z, the harness clock's start.
const absl::Time kNow = absl::FromUnixSeconds(1788249600);

// The keys ListPendingEvents returns, in its order.
std::vector<std::string> PendingKeys(ConsentStorage& storage, int limit = 100) {
  std::vector<std::string> keys;
  absl::Status s = storage.Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::vector<PendingAuditEvent> events, txn.ListPendingEvents(limit));
    keys.clear();
    for (const auto& e : events) keys.push_back(e.idempotency_key);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return keys;
}

TEST_P(ConsentConformanceTest, AuditOutboxPrimitives) {
  auto storage = MakeStore();
  const std::string binary("ev\0\xff\x01", 5);
  ASSERT_TRUE(storage
                  ->Transact([&](ConsentTxn& t) -> absl::Status {
                    KINEX_RETURN_IF_ERROR(
                        t.InsertPendingEvent({"ae_B", "second", kNow + absl::Seconds(2)}));
                    KINEX_RETURN_IF_ERROR(t.InsertPendingEvent({"ae_C", binary, kNow}));
                    return t.InsertPendingEvent({"ae_A", "first", kNow});
                  })
                  .ok());
  // Oldest first, then by key; limited.
  EXPECT_THAT(PendingKeys(*storage), ElementsAre("ae_A", "ae_C", "ae_B"));
  EXPECT_THAT(PendingKeys(*storage, 2), ElementsAre("ae_A", "ae_C"));
  absl::Status read = storage->Transact([&](ConsentTxn& t) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::vector<PendingAuditEvent> events, t.ListPendingEvents(10));
    if (events.size() != 3 || events[1].payload != binary || events[1].enqueue_time != kNow ||
        events[2].enqueue_time != kNow + absl::Seconds(2)) {
      return absl::InternalError("payload or time not kept");
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(read.ok()) << read;
  EXPECT_THAT(storage->Transact([&](ConsentTxn& t) {
    return t.InsertPendingEvent({"ae_A", "x", kNow});
  }),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("")));
  // Queued in the write's transaction: undone with it.
  EXPECT_THAT(storage->Transact([&](ConsentTxn& t) -> absl::Status {
    KINEX_RETURN_IF_ERROR(t.InsertPendingEvent({"ae_D", "rolled back", kNow}));
    return absl::CancelledError("gave up");
  }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("gave up")));
  EXPECT_THAT(PendingKeys(*storage), ElementsAre("ae_A", "ae_C", "ae_B"));
  // Deleting is idempotent (a concurrent drain may have deleted it).
  ASSERT_TRUE(storage->Transact([&](ConsentTxn& t) { return t.DeletePendingEvent("ae_C"); }).ok());
  ASSERT_TRUE(storage->Transact([&](ConsentTxn& t) { return t.DeletePendingEvent("ae_C"); }).ok());
  EXPECT_THAT(PendingKeys(*storage), ElementsAre("ae_A", "ae_B"));
}

TEST_P(ConsentConformanceTest, AWriteWhoseAuditFailedIsLoggedOnceAfterARestart) {
  ConsentHarness h(MakeStore());
  h.audit().set_failing(true);
  EXPECT_THAT(
      h.core()
          .RecordConsent(As(kLa), ConsentRequest(h.child(), AgencyKind::VIRTUAL_SCHOOL,
                                                 Purpose::EDUCATION_SUPPORT, Category::EDUCATION))
          .status(),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("consent entry cn_T1000 is stored")));
  EXPECT_THAT(PendingKeys(h.storage()), SizeIs(1));
  h.audit().set_failing(false);
  h.Restart();
  EXPECT_THAT(PendingKeys(h.storage()), IsEmpty());
  const auto events = h.audit().Events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].kind(), kinex::audit::v1::CONSENT_RECORDED);
  EXPECT_EQ(events[0].record_id(), "cn_T1000");
  // The entry itself was stored by the first call.
  cv1::ListConsentsRequest list;
  *list.mutable_child() = h.child();
  auto listed = h.core().ListConsents(list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(listed->entries(), SizeIs(1));
}

// A consent entry with this window, written straight to storage (the core
// never sets a withdraw_time in the past, but stores must not care).
cv1::ConsentEntry Entry(const std::string& consent_id, const std::string& kinex_id, absl::Time from,
                        std::optional<absl::Time> until = std::nullopt,
                        std::optional<absl::Time> withdrawn = std::nullopt) {
  cv1::ConsentEntry e;
  e.set_consent_id(consent_id);
  e.set_kinex_id(kinex_id);
  e.mutable_consent()->set_decision(cv1::CONSENT_GIVEN);
  *e.mutable_valid_from() = Ts(from);
  if (until.has_value()) *e.mutable_valid_until() = Ts(*until);
  if (withdrawn.has_value()) *e.mutable_withdraw_time() = Ts(*withdrawn);
  return e;
}

absl::Status InsertAll(ConsentStorage& storage, const std::vector<cv1::ConsentEntry>& entries) {
  return storage.Transact([&](ConsentTxn& txn) -> absl::Status {
    for (const auto& e : entries) KINEX_RETURN_IF_ERROR(txn.InsertEntry(e));
    return absl::OkStatus();
  });
}

// The ids ListEntriesInForce returns, in its order.
std::vector<std::string> InForceIds(ConsentStorage& storage, const std::string& kinex_id,
                                    absl::Time now) {
  std::vector<std::string> ids;
  absl::Status s = storage.Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(std::vector<cv1::ConsentEntry> entries,
                           txn.ListEntriesInForce(kinex_id, now));
    ids.clear();
    for (const auto& e : entries) ids.push_back(e.consent_id());
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return ids;
}

TEST_P(ConsentConformanceTest, ListEntriesInForceKeepsOnlyEntriesInForceAtNow) {
  auto storage = MakeStore();
  const absl::Time past = kNow - absl::Hours(2);
  // Inserted out of id order: the result is in id order all the same.
  ASSERT_TRUE(
      InsertAll(
          *storage,
          {
              Entry("cn_06", "kx_1", kNow),  // valid_from is inclusive
              Entry("cn_01", "kx_1", past),
              Entry("cn_02", "kx_1", kNow + absl::Seconds(1)),                    // not yet
              Entry("cn_03", "kx_1", past, kNow - absl::Seconds(1)),              // expired
              Entry("cn_04", "kx_1", past, std::nullopt, kNow - absl::Hours(1)),  // withdrawn
              Entry("cn_05", "kx_1", past, std::nullopt, kNow + absl::Hours(1)),  // withdrawn later
              Entry("cn_07", "kx_1", past, kNow),                // valid_until is exclusive
              Entry("cn_08", "kx_1", past, std::nullopt, kNow),  // so is withdraw_time
              // The earlier of valid_until and withdraw_time ends it.
              Entry("cn_09", "kx_1", past, kNow + absl::Hours(1), kNow - absl::Minutes(1)),
              Entry("cn_10", "kx_1", past, kNow - absl::Minutes(1), kNow + absl::Hours(1)),
              // A nanosecond either side of now (SQL stores keep microseconds).
              Entry("cn_11", "kx_1", past, kNow + absl::Nanoseconds(1)),
              Entry("cn_12", "kx_1", kNow + absl::Nanoseconds(1)),
              Entry("cn_13", "kx_1", kNow - absl::Nanoseconds(1), std::nullopt,
                    kNow + absl::Nanoseconds(999)),
              Entry("cn_055", "kx_2", past),  // another child's
          })
          .ok());

  EXPECT_THAT(InForceIds(*storage, "kx_1", kNow),
              ElementsAre("cn_01", "cn_05", "cn_06", "cn_11", "cn_13"));
  EXPECT_THAT(InForceIds(*storage, "kx_2", kNow), ElementsAre("cn_055"));
  EXPECT_THAT(InForceIds(*storage, "kx_3", kNow), IsEmpty());
  // `now` is the argument, not the wall clock.
  EXPECT_THAT(
      InForceIds(*storage, "kx_1", kNow - absl::Minutes(90)),
      ElementsAre("cn_01", "cn_03", "cn_04", "cn_05", "cn_07", "cn_08", "cn_09", "cn_10", "cn_11"));
  EXPECT_THAT(InForceIds(*storage, "kx_1", kNow + absl::Hours(1)),
              ElementsAre("cn_01", "cn_02", "cn_06", "cn_12"));
}

TEST_P(ConsentConformanceTest, ListEntriesInForceFollowsUpdateEntry) {
  auto storage = MakeStore();
  const absl::Time past = kNow - absl::Hours(2);
  ASSERT_TRUE(InsertAll(*storage, {Entry("cn_1", "kx_1", past),
                                   Entry("cn_2", "kx_1", past, kNow + absl::Hours(1)),
                                   Entry("cn_3", "kx_1", past)})
                  .ok());
  ASSERT_THAT(InForceIds(*storage, "kx_1", kNow), ElementsAre("cn_1", "cn_2", "cn_3"));
  // Withdrawals are updates: from now, from later, and before an earlier
  // valid_until (which still ends it).
  ASSERT_TRUE(storage
                  ->Transact([&](ConsentTxn& txn) -> absl::Status {
                    KINEX_RETURN_IF_ERROR(
                        txn.UpdateEntry(Entry("cn_1", "kx_1", past, std::nullopt, kNow)));
                    KINEX_RETURN_IF_ERROR(txn.UpdateEntry(
                        Entry("cn_2", "kx_1", past, kNow + absl::Hours(1), kNow + absl::Hours(3))));
                    return txn.UpdateEntry(
                        Entry("cn_3", "kx_1", past, std::nullopt, kNow + absl::Minutes(30)));
                  })
                  .ok());
  EXPECT_THAT(InForceIds(*storage, "kx_1", kNow), ElementsAre("cn_2", "cn_3"));
  EXPECT_THAT(InForceIds(*storage, "kx_1", kNow + absl::Minutes(30)), ElementsAre("cn_2"));
  EXPECT_THAT(InForceIds(*storage, "kx_1", kNow + absl::Hours(1)), IsEmpty());
  // The history is all still there.
  absl::Status s = storage->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_ASSIGN_OR_RETURN(auto all, txn.ListEntries("kx_1", "", 10));
    EXPECT_THAT(all, SizeIs(3));
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

TEST_P(ConsentConformanceTest, AWithdrawnRefusalNoLongerApplies) {
  ConsentHarness h(MakeStore());
  const std::string refused = h.MustRecord(ConsentRequest(
      h.child(), AgencyKind::SCHOOL, Purpose::HEALTH_CARE, Category::HEALTH, cv1::CONSENT_REFUSED));
  cv1::WithdrawConsentRequest w;
  w.set_consent_id(refused);
  ASSERT_TRUE(h.core().WithdrawConsent(As(kLa), w).ok());
  const std::string given = h.MustRecord(
      ConsentRequest(h.child(), AgencyKind::SCHOOL, Purpose::HEALTH_CARE, Category::HEALTH));
  auto r = h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::HEALTH_CARE));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->refusals(), IsEmpty());
  ASSERT_THAT(r->consents(), SizeIs(1));
  EXPECT_EQ(r->consents(0).consent_id(), given);
}

// consent_entries as releases before the in-force columns created it.
constexpr char kSchemaWithoutInForceColumns[] = R"sql(
CREATE TABLE consent_entries (
  consent_id {CTEXT} PRIMARY KEY,
  kinex_id {CTEXT} NOT NULL,
  payload {BLOB} NOT NULL);
CREATE INDEX consent_entries_by_child ON consent_entries (kinex_id, consent_id);
)sql";

// Inserts `e` as releases before the in-force columns did: payload only.
absl::Status InsertPayloadOnly(sql::Db& db, const cv1::ConsentEntry& e) {
  return db
      .Exec("INSERT INTO consent_entries (consent_id, kinex_id, payload) VALUES ($1, $2, $3)",
            {e.consent_id(), e.kinex_id(), sql::Blob{e.SerializeAsString()}})
      .status();
}

// Each row's consent_id, in_force_from_us and in_force_until_us: times in
// microseconds from kNow, the extremes ("since ever", "for ever") as min/max.
std::vector<std::string> InForceColumns(sql::Db& db) {
  auto rows = db.Query(
      "SELECT consent_id, in_force_from_us, in_force_until_us FROM consent_entries "
      "ORDER BY consent_id");
  EXPECT_TRUE(rows.ok()) << rows.status();
  std::vector<std::string> out;
  const auto relative = [](const sql::Row& row, size_t i) -> std::string {
    if (row.IsNull(i)) return "NULL";
    const int64_t us = row.Int(i);
    if (us == std::numeric_limits<int64_t>::min()) return "min";
    if (us == std::numeric_limits<int64_t>::max()) return "max";
    return absl::StrCat(us - absl::ToUnixMicros(kNow));
  };
  for (const auto& row : rows.ok() ? *rows : std::vector<sql::Row>()) {
    out.push_back(absl::StrCat(row.Str(0), " ", relative(row, 1), " ", relative(row, 2)));
  }
  return out;
}

TEST_P(SqlConsentStorageTest, InForceColumnsFollowInsertAndUpdate) {
  auto where = GetParam().create_database();
  ASSERT_TRUE(where.ok()) << where.status();
  auto db = GetParam().connect(*where);
  ASSERT_TRUE(db.ok()) << db.status();
  auto storage = SqlConsentStorage::Create(std::move(*db));
  ASSERT_TRUE(storage.ok()) << storage.status();
  const absl::Time past = kNow - absl::Hours(2);
  ASSERT_TRUE(InsertAll(**storage, {Entry("cn_1", "kx_1", past),
                                    Entry("cn_2", "kx_1", past, kNow + absl::Hours(1))})
                  .ok());
  auto inspect = GetParam().connect(*where);
  ASSERT_TRUE(inspect.ok()) << inspect.status();
  EXPECT_THAT(InForceColumns(**inspect),
              ElementsAre("cn_1 -7200000000 max", "cn_2 -7200000000 3600000000"));
  // A withdrawal (an update) ends the entry in the columns too, so the
  // store stops reading it.
  ASSERT_TRUE((*storage)
                  ->Transact([&](ConsentTxn& txn) -> absl::Status {
                    KINEX_RETURN_IF_ERROR(txn.UpdateEntry(
                        Entry("cn_1", "kx_1", past, std::nullopt, kNow - absl::Nanoseconds(1))));
                    return txn.UpdateEntry(Entry("cn_2", "kx_1", past, kNow + absl::Hours(1),
                                                 kNow + absl::Minutes(1)));
                  })
                  .ok());
  EXPECT_THAT(InForceColumns(**inspect),
              ElementsAre("cn_1 -7200000000 0", "cn_2 -7200000000 60000000"));
}

TEST_P(SqlConsentStorageTest, AuditOutboxIsAddedAtOpenAndSurvivesAReopen) {
  auto where = GetParam().create_database();
  ASSERT_TRUE(where.ok()) << where.status();
  auto old = GetParam().connect(*where);
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE((*old)->ExecScript(kSchemaWithoutInForceColumns).ok());  // a store from before
  auto db = GetParam().connect(*where);
  ASSERT_TRUE(db.ok()) << db.status();
  auto storage = SqlConsentStorage::Create(std::move(*db));
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE((*storage)
                  ->Transact([&](ConsentTxn& t) {
                    return t.InsertPendingEvent({"ae_1", "queued", kNow});
                  })
                  .ok());
  // As after a crash: a new process opens the same database.
  storage->reset();
  auto again = GetParam().connect(*where);
  ASSERT_TRUE(again.ok()) << again.status();
  storage = SqlConsentStorage::Create(std::move(*again));
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_THAT(PendingKeys(**storage), ElementsAre("ae_1"));
}

TEST_P(SqlConsentStorageTest, TableWithoutInForceColumnsIsMigratedOnOpen) {
  auto where = GetParam().create_database();
  ASSERT_TRUE(where.ok()) << where.status();
  auto old = GetParam().connect(*where);
  ASSERT_TRUE(old.ok()) << old.status();
  sql::Db& db = **old;
  ASSERT_TRUE(db.ExecScript(kSchemaWithoutInForceColumns).ok());
  const absl::Time past = kNow - absl::Hours(2);
  for (const auto& e : {
           Entry("cn_1", "kx_1", past),
           Entry("cn_2", "kx_1", past, std::nullopt, kNow - absl::Hours(1)),  // withdrawn
           Entry("cn_3", "kx_1", past, kNow + absl::Nanoseconds(1)),
           Entry("cn_4", "kx_1", kNow + absl::Hours(1)),  // not yet
           Entry("cn_5", "kx_2", past),
       }) {
    ASSERT_TRUE(InsertPayloadOnly(db, e).ok());
  }

  auto migrated = GetParam().connect(*where);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  auto storage = SqlConsentStorage::Create(std::move(*migrated));
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_THAT(InForceIds(**storage, "kx_1", kNow), ElementsAre("cn_1", "cn_3"));
  EXPECT_THAT(InForceIds(**storage, "kx_1", kNow + absl::Hours(1)), ElementsAre("cn_1", "cn_4"));
  EXPECT_THAT(InForceIds(**storage, "kx_2", kNow), ElementsAre("cn_5"));

  // Filled from the payloads (not left at the defaults, which would be read
  // every time): from rounded down, until rounded up to the microsecond.
  EXPECT_THAT(InForceColumns(db),
              ElementsAre("cn_1 -7200000000 max", "cn_2 -7200000000 -3600000000",
                          "cn_3 -7200000000 1", "cn_4 3600000000 max", "cn_5 -7200000000 max"));

  // A row an older release writes later (a rolling upgrade) gets the widest
  // window, so it is still found when in force, and not when it is not.
  ASSERT_TRUE(InsertPayloadOnly(db, Entry("cn_0", "kx_1", past)).ok());
  ASSERT_TRUE(InsertPayloadOnly(db, Entry("cn_9", "kx_1", past, kNow)).ok());
  EXPECT_THAT(InForceColumns(db), ::testing::Contains("cn_9 min max"));
  EXPECT_THAT(InForceIds(**storage, "kx_1", kNow), ElementsAre("cn_0", "cn_1", "cn_3"));

  // Opening again finds the columns in place.
  storage->reset();
  auto again = GetParam().connect(*where);
  ASSERT_TRUE(again.ok()) << again.status();
  storage = SqlConsentStorage::Create(std::move(*again));
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_THAT(InForceIds(**storage, "kx_1", kNow), ElementsAre("cn_0", "cn_1", "cn_3"));
}

// The store's own errors carry explicit reasons and the store and dialect,
// never a value: a payload that does not parse is STORAGE_CORRUPT
// (DATA_LOSS), an update of a missing row STORAGE_ROW_NOT_FOUND (NOT_FOUND),
// and the SQL layer's conflict STORAGE_CONFLICT (ABORTED).
TEST_P(SqlConsentStorageTest, StorageErrorsCarryTheirReasons) {
  auto where = GetParam().create_database();
  ASSERT_TRUE(where.ok()) << where.status();
  auto db = GetParam().connect(*where);
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string dialect(sql::DialectName((*db)->dialect()));
  auto storage = SqlConsentStorage::Create(std::move(*db));
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto raw = GetParam().connect(*where);
  ASSERT_TRUE(raw.ok()) << raw.status();
  // A length-delimited field 1 of 255 bytes, then nothing: does not parse.
  ASSERT_TRUE((*raw)
                  ->Exec("INSERT INTO consent_entries (consent_id, kinex_id, payload) "
                         "VALUES ('cn_torn', 'kx_1', $1)",
                         {sql::Blob{std::string("\x0a\xff", 2)}})
                  .ok());

  absl::Status torn =
      (*storage)->Transact([&](ConsentTxn& txn) { return txn.GetEntry("cn_torn").status(); });
  EXPECT_THAT(torn, StatusIs(absl::StatusCode::kDataLoss, "stored entry does not parse"));
  EXPECT_THAT(torn, HasErrorReason("STORAGE_CORRUPT"));
  EXPECT_THAT(torn, HasErrorMetadata("store", "consent"));
  EXPECT_THAT(torn, HasErrorMetadata("dialect", dialect));

  absl::Status missing = (*storage)->Transact(
      [&](ConsentTxn& txn) { return txn.UpdateEntry(Entry("cn_none", "kx_1", kNow)); });
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(missing, HasErrorReason("STORAGE_ROW_NOT_FOUND"));
  EXPECT_THAT(missing, HasErrorMetadata("store", "consent"));

  absl::Status twice = (*storage)->Transact([&](ConsentTxn& txn) -> absl::Status {
    KINEX_RETURN_IF_ERROR(txn.InsertEntry(Entry("cn_1", "kx_1", kNow)));
    return txn.InsertEntry(Entry("cn_1", "kx_1", kNow));
  });
  EXPECT_THAT(twice, StatusIs(absl::StatusCode::kAborted, HasSubstr("concurrent update")));
  EXPECT_THAT(twice, HasErrorReason("STORAGE_CONFLICT"));
  EXPECT_THAT(twice, HasErrorMetadata("store", "consent"));
  EXPECT_THAT(twice, HasErrorMetadata("dialect", dialect));
}

}  // namespace
}  // namespace kinex::consent::testing
