// Unit tests of the consent core over the in-memory fake: bad input, the
// recording authorizer, and fail-closed storage. Behaviour common to every
// backend is in consent_conformance.cc.
#include "services/consent/consent_core.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/consent/consent_test_util.h"
#include "tests/testing/fake_consent_storage.h"

namespace kinex::consent::testing {
namespace {

using kinex::common::v1::AgencyKind;
using kinex::common::v1::LegalBasis;
using kinex::common::v1::Purpose;
using kinex::record::v1::Category;
using ::testing::HasSubstr;

class ConsentCoreTest : public ::testing::Test {
 protected:
  ConsentCoreTest() {
    auto storage = std::make_unique<FakeConsentStorage>();
    storage_ = storage.get();
    h_ = std::make_unique<ConsentHarness>(std::move(storage));
  }
  cv1::RecordConsentRequest Valid() {
    return ConsentRequest(h_->child(), AgencyKind::VIRTUAL_SCHOOL, Purpose::EDUCATION_SUPPORT,
                          Category::EDUCATION);
  }
  absl::Status Record(const cv1::RecordConsentRequest& req, const std::string& by = kLa) {
    return h_->core().RecordConsent(As(by), req).status();
  }

  FakeConsentStorage* storage_;
  std::unique_ptr<ConsentHarness> h_;
};

TEST_F(ConsentCoreTest, WindowEndingBeforeItStartsIsInvalidNamingBothFields) {
  auto req = Valid();
  const absl::Time now = h_->clock().Now();  // 2026-09-01T08:00:00Z
  *req.mutable_entry()->mutable_valid_from() = Ts(now);
  *req.mutable_entry()->mutable_valid_until() = Ts(now - absl::Hours(1));
  EXPECT_THAT(
      Record(req),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("entry.valid_until (2026-09-01T07:00:00Z) must be after entry.valid_from "
                         "(2026-09-01T08:00:00Z)")));
  *req.mutable_entry()->mutable_valid_until() = Ts(now);  // empty window
  EXPECT_THAT(Record(req),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be after")));
  EXPECT_EQ(storage_->EntryCount(), 0u);
}

TEST_F(ConsentCoreTest, UnknownEnumValuesAreInvalid) {
  auto req = Valid();
  req.mutable_entry()->mutable_consent()->mutable_scope()->set_purposes(0,
                                                                        static_cast<Purpose>(99));
  EXPECT_THAT(Record(req),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry.consent.scope.purposes: unknown enum value 99")));
  req = Valid();
  req.mutable_entry()->mutable_consent()->mutable_scope()->add_categories(
      static_cast<Category>(77));
  EXPECT_THAT(Record(req),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry.consent.scope.categories: unknown enum value 77")));
  req = Valid();
  req.mutable_entry()->mutable_consent()->set_decision(static_cast<cv1::ConsentDecision>(9));
  EXPECT_THAT(Record(req), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("entry.consent.decision: unknown enum value 9")));
  auto basis = BasisRequest(h_->child(), static_cast<LegalBasis>(42), "x", Purpose::SAFEGUARDING);
  EXPECT_THAT(Record(basis),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry.statutory_basis.basis: unknown enum value 42")));
  EXPECT_THAT(
      h_->core().LookupBases(Lookup(h_->kinex_id(), kSchool, static_cast<Purpose>(99))).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("purpose: unknown enum value 99")));
  EXPECT_EQ(storage_->EntryCount(), 0u);
}

TEST_F(ConsentCoreTest, WhoGaveConsentMustBeComplete) {
  auto req = Valid();
  req.mutable_entry()->mutable_consent()->mutable_given_by()->clear_name();
  EXPECT_THAT(
      Record(req),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("entry.consent.given_by.name: required for PARENTAL_RESPONSIBILITY_HOLDER")));
  req = Valid();
  req.mutable_entry()->mutable_consent()->mutable_given_by()->clear_relationship();
  EXPECT_THAT(Record(req), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("entry.consent.given_by.relationship: required")));
  req = Valid();
  req.mutable_entry()->mutable_consent()->mutable_given_by()->set_kind(
      cv1::GILLICK_COMPETENT_CHILD);
  EXPECT_THAT(Record(req),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("relationship: only for PARENTAL_RESPONSIBILITY_HOLDER")));
  req.mutable_entry()->mutable_consent()->mutable_given_by()->clear_relationship();
  EXPECT_TRUE(Record(req).ok());  // a Gillick-competent child consents for themselves
  req = Valid();
  req.mutable_entry()->mutable_consent()->mutable_scope()->clear_purposes();
  EXPECT_THAT(Record(req),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry.consent.scope.purposes: at least one value is required")));
  req = Valid();
  req.mutable_entry()->clear_kind();
  EXPECT_THAT(Record(req),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry: one of consent or statutory_basis is required")));
  req = Valid();
  req.mutable_entry()->set_consent_id("cn_MINE");
  EXPECT_THAT(Record(req), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("entry.consent_id: output only")));
}

// Who may consent follows the arrangement: a consent given as a person with
// parental responsibility stands only when the child's legal-status
// episodes in force at valid_from give that kind of person PR.
TEST_F(ConsentCoreTest, ParentalResponsibilityFollowsTheArrangement) {
  namespace rec = kinex::record::v1;
  struct Case {
    const char* la_child_id;
    rec::ArrangementType arrangement;
    const char* ssda903;  // legal status code, for care orders
    bool looked_after;
    cv1::PrRelationship relationship;
    const char* refused;  // "" = accepted
  };
  const char* kSuffix = " (the responsible LA's legal-status episodes); nothing was stored";
  const std::vector<Case> cases = {
      {"A1", rec::SPECIAL_GUARDIANSHIP_ORDER, "", false, cv1::SPECIAL_GUARDIAN, ""},
      {"A2", rec::CHILD_ARRANGEMENTS_ORDER, "", false, cv1::SPECIAL_GUARDIAN,
       "SPECIAL_GUARDIAN, but the child's legal status at entry.valid_from has no special "
       "guardianship order in force"},
      {"A3", rec::CHILD_ARRANGEMENTS_ORDER, "", false, cv1::CHILD_ARRANGEMENTS_ORDER_CARER, ""},
      {"A4", rec::SPECIAL_GUARDIANSHIP_ORDER, "", false, cv1::CHILD_ARRANGEMENTS_ORDER_CARER,
       "CHILD_ARRANGEMENTS_ORDER_CARER, but the child's legal status at entry.valid_from has "
       "no child arrangements order in force"},
      {"A5", rec::KINSHIP_FOSTER_CARE, "C2", true, cv1::LOCAL_AUTHORITY_UNDER_CARE_ORDER, ""},
      {"A6", rec::KINSHIP_FOSTER_CARE, "V2", true, cv1::LOCAL_AUTHORITY_UNDER_CARE_ORDER,
       "LOCAL_AUTHORITY_UNDER_CARE_ORDER, but the child's legal status at entry.valid_from has "
       "no care order in force (SSDA903 C1 or C2; under s20 the LA holds no PR)"},
      {"A7", rec::ADOPTION, "", false, cv1::ADOPTIVE_PARENT, ""},
      {"A8", rec::KINSHIP_FOSTER_CARE, "C2", true, cv1::ADOPTIVE_PARENT,
       "ADOPTIVE_PARENT, but the child's legal status at entry.valid_from has no adoption"},
      {"A9", rec::KINSHIP_FOSTER_CARE, "C2", true, cv1::PARENT, ""},
  };
  for (const Case& c : cases) {
    rec::ChildRecord part = kinex::records::testing::LaPart(c.la_child_id);
    auto* e = part.add_legal_status();
    e->set_arrangement(c.arrangement);
    e->set_ssda903_legal_status(c.ssda903);
    e->set_looked_after(c.looked_after);
    e->mutable_start_date()->set_year(2024);
    e->mutable_start_date()->set_month(1);
    e->mutable_start_date()->set_day(10);
    const kinex::common::v1::ChildRef ref =
        kinex::records::testing::LaRef("E09000033", c.la_child_id);
    ASSERT_TRUE(h_->records().PutPart(PutAsLa(ref, part)).ok()) << c.la_child_id;
    cv1::RecordConsentRequest req = ConsentRequest(ref, AgencyKind::VIRTUAL_SCHOOL,
                                                   Purpose::EDUCATION_SUPPORT, Category::EDUCATION);
    req.mutable_entry()->mutable_consent()->mutable_given_by()->set_relationship(c.relationship);
    const size_t before = h_->audit().Events().size();
    absl::Status s = Record(req);
    if (std::string(c.refused).empty()) {
      EXPECT_TRUE(s.ok()) << c.la_child_id << ": " << s;
      continue;
    }
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << c.la_child_id;
    EXPECT_EQ(s.message(),
              absl::StrCat("entry.consent.given_by.relationship: ", c.refused, kSuffix))
        << c.la_child_id;
    EXPECT_THAT(s, HasErrorReason("PARENTAL_RESPONSIBILITY_NOT_HELD")) << c.la_child_id;
    EXPECT_THAT(s, HasErrorMetadata("field", "entry.consent.given_by.relationship"))
        << c.la_child_id;
    // Refused, stored nothing, and audited once.
    ASSERT_EQ(h_->audit().Events().size(), before + 1);
    EXPECT_EQ(h_->audit().Events().back().kind(), kinex::audit::v1::WRITE_REFUSED);
  }
}

TEST_F(ConsentCoreTest, AnAdoptionEndsTheBirthParentsParentalResponsibility) {
  namespace rec = kinex::record::v1;
  rec::ChildRecord part = kinex::records::testing::LaPart("AD1");
  auto* e = part.add_legal_status();
  e->set_arrangement(rec::ADOPTION);
  e->mutable_start_date()->set_year(2024);
  e->mutable_start_date()->set_month(6);
  e->mutable_start_date()->set_day(1);
  const kinex::common::v1::ChildRef ref = kinex::records::testing::LaRef("E09000033", "AD1");
  ASSERT_TRUE(h_->records().PutPart(PutAsLa(ref, part)).ok());
  cv1::RecordConsentRequest req = ConsentRequest(ref, AgencyKind::VIRTUAL_SCHOOL,
                                                 Purpose::EDUCATION_SUPPORT, Category::EDUCATION);
  req.mutable_entry()->mutable_consent()->mutable_given_by()->set_relationship(cv1::PARENT);
  EXPECT_THAT(
      Record(req),
      StatusIs(
          absl::StatusCode::kFailedPrecondition,
          HasSubstr("entry.consent.given_by.relationship: PARENT, but the child was adopted before "
                    "entry.valid_from (an adoption ends the birth parents' parental "
                    "responsibility); nothing was stored")));
  EXPECT_THAT(Record(req), HasErrorReason("PARENTAL_RESPONSIBILITY_NOT_HELD"));
}

TEST_F(ConsentCoreTest, ChildAged16OrOverIsCheckedAgainstTheDateOfBirth) {
  // The harness child was born 2015-04-02: 11 in September 2026.
  auto req = Valid();
  auto* by = req.mutable_entry()->mutable_consent()->mutable_given_by();
  by->set_kind(cv1::CHILD_AGED_16_OR_OVER);
  by->clear_relationship();
  EXPECT_THAT(
      Record(req),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("CHILD_AGED_16_OR_OVER, but the child is under 16 at entry.valid_from")));
  EXPECT_THAT(Record(req), HasErrorReason("CONSENT_GIVER_UNDER_16"));
  EXPECT_THAT(Record(req), HasErrorMetadata("field", "entry.consent.given_by.kind"));
  // From the sixteenth birthday it is accepted.
  *req.mutable_entry()->mutable_valid_from() =
      Ts(absl::FromCivil(absl::CivilDay(2031, 4, 2), absl::UTCTimeZone()));
  EXPECT_TRUE(Record(req).ok());
}

TEST_F(ConsentCoreTest, StatutoryBasesNeedABasisOtherThanConsentAndAReference) {
  EXPECT_THAT(Record(BasisRequest(h_->child(), LegalBasis::CONSENT, "x", Purpose::SAFEGUARDING)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not CONSENT")));
  EXPECT_THAT(Record(BasisRequest(h_->child(), LegalBasis::PUBLIC_TASK, "", Purpose::SAFEGUARDING)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry.statutory_basis.reference: 1-500")));
}

TEST_F(ConsentCoreTest, AuthorizerDecidesWhoMayRecordAndSeesTheChildScope) {
  const absl::Status refused = Record(Valid(), kSchool);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kPermissionDenied,
                                HasSubstr(ConsentCore::kNoChildToRecord)));
  EXPECT_THAT(refused, HasErrorReason("CHILD_NOT_FOUND_OR_OUT_OF_SCOPE"));
  EXPECT_EQ(h_->authorizer().last_recorder(), kSchool);
  EXPECT_EQ(h_->authorizer().last_scope().responsible_la_code(), "E09000033");
  EXPECT_EQ(storage_->EntryCount(), 0u);
  h_->authorizer().set_allow_all(true);
  EXPECT_TRUE(Record(Valid(), kSchool).ok());
  EXPECT_EQ(storage_->EntryCount(), 1u);
}

TEST_F(ConsentCoreTest, WithdrawingNeedsTheRecordingPermission) {
  const std::string id = h_->MustRecord(Valid());
  cv1::WithdrawConsentRequest w;
  w.set_consent_id(id);
  const absl::Status refused = h_->core().WithdrawConsent(As(kSchool), w).status();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kPermissionDenied,
                                HasSubstr(ConsentCore::kNoEntryToWithdraw)));
  EXPECT_THAT(refused, HasErrorReason("CONSENT_NOT_FOUND_OR_OUT_OF_SCOPE"));
  EXPECT_TRUE(h_->core().WithdrawConsent(As(kLa), w).ok());
  const absl::Status twice = h_->core().WithdrawConsent(As(kLa), w).status();
  EXPECT_THAT(twice, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr("consent entry already withdrawn from ")));
  EXPECT_THAT(twice, HasErrorReason("CONSENT_ALREADY_WITHDRAWN"));
}

TEST_F(ConsentCoreTest, WithdrawalBadInput) {
  const std::string id = h_->MustRecord(Valid());
  cv1::WithdrawConsentRequest w;
  w.set_consent_id(id);
  *w.mutable_effective_time() = Ts(h_->clock().Now() - absl::Minutes(1));
  EXPECT_THAT(h_->core().WithdrawConsent(As(kLa), w).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("effective_time (2026-09-01T07:59:00Z) must not be in the past")));
  w.clear_effective_time();
  w.set_consent_id("cn_NOSUCH");
  EXPECT_THAT(
      h_->core().WithdrawConsent(As(kLa), w).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(ConsentCore::kNoEntryToWithdraw)));
  w.set_consent_id("drop table");
  EXPECT_THAT(h_->core().WithdrawConsent(As(kLa), w).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("consent_id: not a consent entry id")));
}

TEST_F(ConsentCoreTest, ServicesCannotRecordAndUnknownChildrenAreDenied) {
  EXPECT_THAT(Record(Valid(), kinex::records::testing::kGatewayService),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("agency identities only")));
  EXPECT_THAT(Record(Valid(), kinex::records::testing::kGatewayService),
              HasErrorReason("AGENCY_REQUIRED"));
  auto req = Valid();
  *req.mutable_child() = kinex::records::testing::UpnRef(kinex::records::testing::Upn(3));
  EXPECT_THAT(Record(req), StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr(ConsentCore::kNoChildToRecord)));
  EXPECT_EQ(storage_->EntryCount(), 0u);
}

TEST_F(ConsentCoreTest, LookupBadInput) {
  EXPECT_THAT(h_->core().LookupBases(Lookup("nope", kSchool, Purpose::SAFEGUARDING)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kinex_id: not a Kinex id")));
  EXPECT_THAT(h_->core()
                  .LookupBases(Lookup(h_->kinex_id(), "spiffe://x/y", Purpose::SAFEGUARDING))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("recipient: ")));
  EXPECT_THAT(h_->core()
                  .LookupBases(Lookup(h_->kinex_id(), kSchool, Purpose::PURPOSE_UNSPECIFIED))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("purpose: required")));
}

TEST_F(ConsentCoreTest, SharingAgreementsNeedAPartyAndValidShape) {
  cv1::SharingAgreement isa;
  isa.set_title("x");
  auto* p = isa.add_parties();
  p->set_kind(AgencyKind::POLICE);
  p->set_code("01");
  isa.add_parties()->set_kind(AgencyKind::HEALTH);
  isa.add_purposes(Purpose::SAFEGUARDING);
  isa.add_categories(Category::POLICE);
  EXPECT_THAT(h_->core().CreateSharingAgreement(As(kLa), IsaRequest(isa)).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only a party")));
  isa.mutable_parties()->RemoveLast();
  EXPECT_THAT(
      h_->core().CreateSharingAgreement(As(kLa), IsaRequest(isa)).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agreement.parties: at least two")));
}

// A FakeConsentStorage that refuses ListEntries: reading a child's whole
// history, withdrawn and expired entries included, is for ListConsents only.
class NoHistoryStorage final : public ConsentStorage {
 public:
  absl::Status Transact(const std::function<absl::Status(ConsentTxn&)>& fn) override {
    return inner_.Transact([&](ConsentTxn& txn) {
      Txn no_history(txn);
      return fn(no_history);
    });
  }

 private:
  class Txn final : public ConsentTxn {
   public:
    explicit Txn(ConsentTxn& inner) : inner_(inner) {}
    absl::Status InsertEntry(const cv1::ConsentEntry& e) override { return inner_.InsertEntry(e); }
    absl::Status UpdateEntry(const cv1::ConsentEntry& e) override { return inner_.UpdateEntry(e); }
    absl::StatusOr<std::optional<cv1::ConsentEntry>> GetEntry(const std::string& id) override {
      return inner_.GetEntry(id);
    }
    absl::StatusOr<std::vector<cv1::ConsentEntry>> ListEntries(const std::string&,
                                                               const std::string&, int) override {
      return absl::FailedPreconditionError("read the whole history");
    }
    absl::StatusOr<std::vector<cv1::ConsentEntry>> ListEntriesInForce(const std::string& kinex_id,
                                                                      absl::Time now) override {
      return inner_.ListEntriesInForce(kinex_id, now);
    }
    absl::Status InsertAgreement(const cv1::SharingAgreement& a) override {
      return inner_.InsertAgreement(a);
    }
    absl::StatusOr<std::vector<cv1::SharingAgreement>> ListAgreements() override {
      return inner_.ListAgreements();
    }
    absl::Status InsertPendingEvent(const PendingAuditEvent& e) override {
      return inner_.InsertPendingEvent(e);
    }
    absl::StatusOr<std::vector<PendingAuditEvent>> ListPendingEvents(int limit) override {
      return inner_.ListPendingEvents(limit);
    }
    absl::Status DeletePendingEvent(const std::string& key) override {
      return inner_.DeletePendingEvent(key);
    }

   private:
    ConsentTxn& inner_;
  };

  FakeConsentStorage inner_;
};

TEST(ConsentCoreLookupTest, LookupReadsOnlyTheEntriesInForce) {
  ConsentHarness h(std::make_unique<NoHistoryStorage>());
  const auto request = [&](cv1::ConsentDecision decision) {
    return ConsentRequest(h.child(), AgencyKind::SCHOOL, Purpose::HEALTH_CARE, Category::HEALTH,
                          decision);
  };
  // A history of refusals and consents, each withdrawn, then one in force.
  for (int i = 0; i < 4; ++i) {
    cv1::WithdrawConsentRequest w;
    w.set_consent_id(h.MustRecord(request(i % 2 ? cv1::CONSENT_GIVEN : cv1::CONSENT_REFUSED)));
    ASSERT_TRUE(h.core().WithdrawConsent(As(kLa), w).ok());
  }
  const std::string given = h.MustRecord(request(cv1::CONSENT_GIVEN));
  auto r = h.core().LookupBases(Lookup(h.kinex_id(), kSchool, Purpose::HEALTH_CARE));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_THAT(r->consents(), ::testing::SizeIs(1));
  EXPECT_EQ(r->consents(0).consent_id(), given);
  EXPECT_THAT(r->refusals(), ::testing::IsEmpty());
}

TEST_F(ConsentCoreTest, FailingStorageFailsClosed) {
  kinex::records::FakeRecordsStorage records_storage;
  kinex::records::RecordsCore::Options ro;
  ro.storage = &records_storage;
  ro.clock = &h_->clock();
  RecordingAuditSink records_audit;
  ro.audit = &records_audit;
  auto records = kinex::records::RecordsCore::Create(std::move(ro));
  ASSERT_TRUE(records.ok());
  FailingConsentStorage failing;
  FakeAuthorizer authorizer;
  ConsentCore::Options o;
  o.storage = &failing;
  o.records = records->get();
  o.authorizer = &authorizer;
  o.clock = &h_->clock();
  auto core = ConsentCore::Create(std::move(o));
  ASSERT_TRUE(core.ok());
  EXPECT_THAT((*core)->LookupBases(Lookup("kx_ANY", kSchool, Purpose::SAFEGUARDING)).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("consent storage unavailable")));
  ConsentCore::Options missing;
  EXPECT_THAT(ConsentCore::Create(missing).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "ConsentCore: storage is required"));
  EXPECT_THAT(ConsentCore::Create(missing).status(), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(ConsentCore::Create(missing).status(), HasErrorMetadata("field", "storage"));
  // A core without an audit log stores nothing.
  cv1::RecordConsentRequest req = ConsentRequest(h_->child(), AgencyKind::VIRTUAL_SCHOOL,
                                                 Purpose::EDUCATION_SUPPORT, Category::EDUCATION);
  const absl::Status unaudited = (*core)->RecordConsent(As(kLa), req).status();
  EXPECT_THAT(unaudited, StatusIs(absl::StatusCode::kUnavailable,
                                  "consent writes are unavailable: no audit log is configured "
                                  "(nothing was stored)"));
  EXPECT_THAT(unaudited, HasErrorReason("AUDIT_NOT_CONFIGURED"));
}

TEST_F(ConsentCoreTest, AnAuditLogThatDoesNotAnswerIsNamed) {
  h_->audit().set_failing(true);
  // Refused, and the refusal cannot be logged.
  auto bad = Valid();
  bad.mutable_entry()->set_consent_id("cn_X");
  absl::Status s = Record(bad);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable,
                          HasSubstr("nothing was stored, and the refused request could not be "
                                    "audited")));
  EXPECT_THAT(s, HasErrorReason("AUDIT_UNAVAILABLE"));
  EXPECT_THAT(s, HasErrorMetadata("service", "audit"));
  // Stored, its event queued: do not repeat it.
  s = Record(Valid());
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("do not repeat the request")));
  EXPECT_THAT(s, HasErrorReason("AUDIT_PENDING"));
  EXPECT_EQ(storage_->EntryCount(), 1u);
  // The queue cannot be emptied while the log is down.
  EXPECT_THAT(h_->core().DrainAuditOutbox(), HasErrorReason("AUDIT_UNAVAILABLE"));
}

TEST_F(ConsentCoreTest, AQueuedEventThatDoesNotParseIsNamed) {
  ASSERT_TRUE(storage_
                  ->Transact([&](ConsentTxn& txn) {
                    return txn.InsertPendingEvent({"ae_corrupt", "\xff\xff", h_->clock().Now()});
                  })
                  .ok());
  const absl::Status drained = h_->core().DrainAuditOutbox();
  EXPECT_THAT(drained, StatusIs(absl::StatusCode::kDataLoss,
                                "queued audit event ae_corrupt does not parse; it stays queued"));
  EXPECT_THAT(drained, HasErrorReason("STORAGE_CORRUPT"));
  EXPECT_THAT(drained, HasErrorMetadata("item", "audit_outbox_event"));
}

}  // namespace
}  // namespace kinex::consent::testing
