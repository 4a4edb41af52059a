// Conformance suite for ConsentStorage backends, through the consent core.
#include "tests/consent/consent_conformance.h"

#include "gmock/gmock.h"
#include "tests/consent/consent_test_util.h"

namespace kinex::consent::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using kinex::common::v1::AgencyKind;
using kinex::common::v1::LegalBasis;
using kinex::common::v1::Purpose;
using kinex::record::v1::Category;

TEST_P(ConsentConformanceTest, RecordsAndListsConsentsAndRefusals) {
  ConsentHarness h(MakeStorage());
  const std::string given = h.MustRecord(ConsentRequest(
      h.child(), AgencyKind::VIRTUAL_SCHOOL, Purpose::EDUCATION_SUPPORT, Category::EDUCATION));
  const std::string refused = h.MustRecord(
      ConsentRequest(h.child(), AgencyKind::SCHOOL, Purpose::HEALTH_CARE, Category::HEALTH,
                     cv1::CONSENT_REFUSED));
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
  ConsentHarness h(MakeStorage());
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
  EXPECT_THAT(h.core().LookupBases(Lookup(h.kinex_id(), kVirtualSchool, Purpose::SAFEGUARDING))
                  ->consents(),
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
  ConsentHarness h(MakeStorage());
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
  EXPECT_STATUS(h.core().WithdrawConsent(As(kLa), w).status(),
                absl::StatusCode::kFailedPrecondition, "already withdrawn");
}

TEST_P(ConsentConformanceTest, RefusalsAreReportedAsRefusals) {
  ConsentHarness h(MakeStorage());
  const std::string id = h.MustRecord(
      ConsentRequest(h.child(), AgencyKind::SCHOOL, Purpose::HEALTH_CARE, Category::HEALTH,
                     cv1::CONSENT_REFUSED));
  auto r = h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::HEALTH_CARE));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->consents(), IsEmpty());
  ASSERT_THAT(r->refusals(), SizeIs(1));
  EXPECT_EQ(r->refusals(0).consent_id(), id);
  EXPECT_THAT(r->refusals(0).categories(), ElementsAre(Category::HEALTH));
}

TEST_P(ConsentConformanceTest, RecipientCodesNarrowAConsent) {
  ConsentHarness h(MakeStorage());
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
  ConsentHarness h(MakeStorage());
  const std::string id = h.MustRecord(BasisRequest(
      h.child(), LegalBasis::SAFEGUARDING_OF_CHILDREN, "s47 enquiry opened", Purpose::SAFEGUARDING));
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
  ConsentHarness h(MakeStorage());
  const std::string id = h.MustRecord(
      BasisRequest(h.child(), LegalBasis::HEALTH_OR_SOCIAL_CARE, "care order C2",
                   Purpose::CARE_PLANNING));
  h.MustRecord(BasisRequest(h.child(), LegalBasis::SAFEGUARDING_OF_CHILDREN,
                            "s47 enquiry opened", Purpose::SAFEGUARDING));
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
  auto storage = MakeStorage();
  cv1::ConsentEntry e;
  e.set_consent_id("cn_A");
  e.set_kinex_id("kx_1");
  ASSERT_TRUE(storage->Transact([&](ConsentTxn& t) { return t.InsertEntry(e); }).ok());
  EXPECT_STATUS(storage->Transact([&](ConsentTxn& t) { return t.InsertEntry(e); }),
                absl::StatusCode::kAborted, "concurrent update");
  cv1::ConsentEntry missing;
  missing.set_consent_id("cn_B");
  EXPECT_STATUS(storage->Transact([&](ConsentTxn& t) { return t.UpdateEntry(missing); }),
                absl::StatusCode::kNotFound, "no consent entry");
  // Rolled back: an insert followed by a failure leaves nothing.
  EXPECT_STATUS(storage->Transact([&](ConsentTxn& t) -> absl::Status {
    if (auto s = t.InsertEntry(missing); !s.ok()) return s;
    return absl::CancelledError("gave up");
  }),
                absl::StatusCode::kCancelled, "gave up");
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

}  // namespace
}  // namespace kinex::consent::testing
