// Decide, then fetch what was allowed: the gateway reads a child's facts
// (records.GetChildFacts), decides, and only on an allow reads the record,
// only the allowed sections, pinned to the facts decided on. A RecordsStore
// double counts the reads, so these tests prove that a denial or a probe
// moves no record content, that a transfer landing between the decision and
// the read is not disclosed past, and that a cohort page costs one facts
// call, one consent lookup, one policy call and one batch read. Also: gateway and consent derive
// the same policy context for the same child (policy::ChildContextFromFacts).
#include <functional>
#include <set>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/consent/consent_registry.h"
#include "services/policy/evaluator.h"
#include "tests/gateway/gateway_fixture.h"

namespace kinex::gateway::testing {
namespace {

using ::testing::HasSubstr;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace pv1 = kinex::policy::v1;
namespace rsv1 = kinex::records::v1;

// Forwards to the real records core, counting reads. `before_read` runs
// once, before the first GetRecord is forwarded (to land a write between
// the decision and the read); `abort_reads` answers that many GetRecords
// ABORTED without forwarding them. Thread-compatible (tests are serial).
class CountingRecords final : public kinex::records::RecordsStore {
 public:
  explicit CountingRecords(kinex::records::RecordsStore* inner) : inner_(inner) {}

  absl::StatusOr<rsv1::GetRecordResponse> GetRecord(const rsv1::GetRecordRequest& r) override {
    ++get_record;
    last_get = r;
    if (before_read) {
      auto hook = std::move(before_read);
      before_read = nullptr;
      hook();
    }
    if (abort_reads > 0) {
      --abort_reads;
      return absl::AbortedError("the child's facts changed since facts version x");
    }
    if (fail_reads > 0) {
      --fail_reads;
      return fail_with;
    }
    return inner_->GetRecord(r);
  }
  absl::StatusOr<rsv1::BatchGetRecordsResponse> BatchGetRecords(
      const rsv1::BatchGetRecordsRequest& r) override {
    ++batch_get;
    batch_size += r.requests_size();
    return inner_->BatchGetRecords(r);
  }
  absl::StatusOr<rsv1::ChildFacts> GetChildFacts(const rsv1::GetChildFactsRequest& r) override {
    ++facts;
    return inner_->GetChildFacts(r);
  }
  absl::StatusOr<rsv1::ListChildrenResponse> ListChildren(
      const rsv1::ListChildrenRequest& r) override {
    ++list;
    return inner_->ListChildren(r);
  }
  absl::StatusOr<rsv1::PutPartResponse> PutPart(const rsv1::PutPartRequest& r) override {
    return inner_->PutPart(r);
  }
  absl::StatusOr<rsv1::ResolveChildResponse> ResolveChild(
      const rsv1::ResolveChildRequest& r) override {
    return inner_->ResolveChild(r);
  }
  absl::StatusOr<rsv1::ListPartVersionsResponse> ListPartVersions(
      const rsv1::ListPartVersionsRequest& r) override {
    return inner_->ListPartVersions(r);
  }
  absl::StatusOr<rsv1::GetPartResponse> GetPart(const rsv1::GetPartRequest& r) override {
    return inner_->GetPart(r);
  }
  absl::StatusOr<rsv1::ListLinksResponse> ListLinks(const rsv1::ListLinksRequest& r) override {
    return inner_->ListLinks(r);
  }
  absl::StatusOr<rsv1::DecideLinkResponse> DecideLink(const rsv1::DecideLinkRequest& r) override {
    return inner_->DecideLink(r);
  }
  absl::StatusOr<rsv1::TransferResponsibilityResponse> TransferResponsibility(
      const rsv1::TransferResponsibilityRequest& r) override {
    return inner_->TransferResponsibility(r);
  }
  absl::StatusOr<rsv1::SharingDecision> RecordSharingDecision(
      const rsv1::RecordSharingDecisionRequest& r) override {
    return inner_->RecordSharingDecision(r);
  }
  absl::StatusOr<rsv1::ListSharingDecisionsResponse> ListSharingDecisions(
      const rsv1::ListSharingDecisionsRequest& r) override {
    return inner_->ListSharingDecisions(r);
  }
  absl::StatusOr<rsv1::SharingDecision> RemoveShield(const rsv1::RemoveShieldRequest& r) override {
    return inner_->RemoveShield(r);
  }
  absl::StatusOr<rsv1::PublishedCalendar> PutCalendar(const rsv1::PutCalendarRequest& r) override {
    return inner_->PutCalendar(r);
  }
  absl::StatusOr<rsv1::PublishedCalendar> GetCalendar(const rsv1::GetCalendarRequest& r) override {
    return inner_->GetCalendar(r);
  }

  int get_record = 0, batch_get = 0, batch_size = 0, facts = 0, list = 0;
  // Forgets what seeding counted (a school or LA publish asks for the
  // child's facts to decide its virtual school's cohort).
  void ResetCounts() { get_record = batch_get = batch_size = facts = list = 0; }
  int abort_reads = 0;
  // That many GetRecords answered `fail_with` without forwarding them.
  int fail_reads = 0;
  absl::Status fail_with = absl::UnavailableError("records is down");
  std::function<void()> before_read;
  rsv1::GetRecordRequest last_get;

 private:
  kinex::records::RecordsStore* inner_;
};

// Records every decision request the gateway makes, then decides.
class CapturingDecider final : public PolicyDecider {
 public:
  explicit CapturingDecider(const PolicyDecider& inner) : inner_(inner) {}
  absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> Evaluate(
      const pv1::DecisionRequest& request) const override {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    return inner_.Evaluate(request);
  }
  absl::StatusOr<std::vector<std::shared_ptr<const kinex::policy::Evaluation>>> EvaluateAll(
      absl::Span<const pv1::DecisionRequest> requests) const override {
    absl::MutexLock lock(&mu_);
    requests_.insert(requests_.end(), requests.begin(), requests.end());
    batch_sizes_.push_back(static_cast<int>(requests.size()));
    return inner_.EvaluateAll(requests);
  }
  std::vector<pv1::DecisionRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  // The size of each EvaluateAll call (Evaluate is one of size 1 through
  // the gateway, which only calls EvaluateAll).
  std::vector<int> batch_sizes() const {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }

 private:
  const PolicyDecider& inner_;
  mutable absl::Mutex mu_;
  mutable std::vector<pv1::DecisionRequest> requests_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
};

// Forwards to the real consent core, counting lookups.
class CountingConsent final : public kinex::consent::ConsentRegistry {
 public:
  explicit CountingConsent(kinex::consent::ConsentRegistry& inner) : inner_(inner) {}
  absl::StatusOr<kinex::consent::v1::RecordConsentResponse> RecordConsent(
      const kinex::consent::Caller& c, const kinex::consent::v1::RecordConsentRequest& r) override {
    return inner_.RecordConsent(c, r);
  }
  absl::StatusOr<kinex::consent::v1::WithdrawConsentResponse> WithdrawConsent(
      const kinex::consent::Caller& c,
      const kinex::consent::v1::WithdrawConsentRequest& r) override {
    return inner_.WithdrawConsent(c, r);
  }
  absl::StatusOr<kinex::consent::v1::ListConsentsResponse> ListConsents(
      const kinex::consent::v1::ListConsentsRequest& r) override {
    return inner_.ListConsents(r);
  }
  absl::StatusOr<kinex::consent::v1::SharingAgreement> CreateSharingAgreement(
      const kinex::consent::Caller& c,
      const kinex::consent::v1::CreateSharingAgreementRequest& r) override {
    return inner_.CreateSharingAgreement(c, r);
  }
  absl::StatusOr<kinex::consent::v1::ListSharingAgreementsResponse> ListSharingAgreements(
      const kinex::consent::v1::ListSharingAgreementsRequest& r) override {
    return inner_.ListSharingAgreements(r);
  }
  absl::StatusOr<kinex::consent::v1::LookupBasesResponse> LookupBases(
      const kinex::consent::v1::LookupBasesRequest& r) override {
    ++lookups;
    return inner_.LookupBases(r);
  }
  absl::StatusOr<kinex::consent::v1::BatchLookupBasesResponse> BatchLookupBases(
      const kinex::consent::v1::BatchLookupBasesRequest& r) override {
    batch_sizes.push_back(r.requests_size());
    return inner_.BatchLookupBases(r);
  }
  int lookups = 0;
  std::vector<int> batch_sizes;

 private:
  kinex::consent::ConsentRegistry& inner_;
};

// Records the facts the consent core hands its authorizer, then asks the
// real (policy) authorizer.
class RecordingAuthorizer final : public kinex::consent::ConsentRecordingAuthorizer {
 public:
  explicit RecordingAuthorizer(const kinex::consent::ConsentRecordingAuthorizer& inner)
      : inner_(inner) {}
  absl::Status MayRecord(const SpiffeId& recorder, const rsv1::ChildFacts& child,
                         const kinex::consent::v1::RecordConsentRequest& request) const override {
    {
      absl::MutexLock lock(&mu_);
      facts_.push_back(child);
    }
    return inner_.MayRecord(recorder, child, request);
  }
  std::vector<rsv1::ChildFacts> facts() const {
    absl::MutexLock lock(&mu_);
    return facts_;
  }

 private:
  const kinex::consent::ConsentRecordingAuthorizer& inner_;
  mutable absl::Mutex mu_;
  mutable std::vector<rsv1::ChildFacts> facts_ ABSL_GUARDED_BY(mu_);
};

class DecideFirstTest : public GatewayFixture {
 protected:
  void SetUp() override {
    GatewayFixture::SetUp();
    counting_ = std::make_unique<CountingRecords>(records_.get());
    records_override_ = counting_.get();
    Rebuild();
  }

  absl::StatusOr<ev1::GetChildRecordResponse> Get(const CallContext& call, const std::string& kid,
                                                  cv1::Purpose purpose) {
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(kid);
    req.set_purpose(purpose);
    return gateway_->GetChildRecord(call, req);
  }

  // Westminster hands the child to `to_la`.
  void Transfer(const std::string& kid, const std::string& to_la) {
    rsv1::TransferResponsibilityRequest t;
    t.mutable_child()->set_kinex_id(kid);
    t.set_to_la_code(to_la);
    t.set_reason("child moved");
    t.set_principal("spiffe://kinex.dev/local-authority/E09000033/team-manager");
    t.set_request_id("req-transfer-" + kid);
    auto done = records_->TransferResponsibility(t);
    ASSERT_TRUE(done.ok()) << done.status();
  }

  // The child's facts version in records now.
  std::string FactsVersionNow(const std::string& kid) {
    rsv1::GetChildFactsRequest ask;
    ask.mutable_child()->set_kinex_id(kid);
    auto facts = records_->GetChildFacts(ask);
    EXPECT_TRUE(facts.ok()) << facts.status();
    return facts.ok() ? facts->facts_version() : "";
  }

  std::unique_ptr<CountingRecords> counting_;
};

TEST_F(DecideFirstTest, DenialsAndProbesReadNoRecordContent) {
  const std::string kid = SeedChild("WCC-D1", "9434765919");
  counting_->ResetCounts();
  const uint64_t before = audit_->Size();
  // Out of scope (another LA's virtual school), no rule (an auditor), and an
  // unknown child: each decided on facts alone, audited, and no record read.
  EXPECT_EQ(Get(Caller(kOtherVsh), kid, cv1::EDUCATION_SUPPORT).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Get(Caller(kAuditor), kid, cv1::CARE_PLANNING).status().code(),
            absl::StatusCode::kPermissionDenied);
  ev1::GetChildRecordRequest probe;
  probe.mutable_child()->set_nhs_number("4010232137");  // valid, no such child
  probe.set_purpose(cv1::EDUCATION_SUPPORT);
  EXPECT_EQ(gateway_->GetChildRecord(Caller(kVsh), probe).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(counting_->facts, 3);
  EXPECT_EQ(counting_->get_record, 0);
  EXPECT_EQ(counting_->batch_get, 0);
  EXPECT_EQ(audit_->Size(), before + 3);  // every denial is still audited
}

TEST_F(DecideFirstTest, AnAllowReadsOnlyTheAllowedSectionsPinnedToTheFacts) {
  const std::string kid = SeedChild("WCC-D2", "9434765919");
  counting_->ResetCounts();
  auto r = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(counting_->facts, 1);
  ASSERT_EQ(counting_->get_record, 1);
  const rsv1::GetRecordRequest& read = counting_->last_get;
  EXPECT_EQ(read.child().kinex_id(), kid);
  rsv1::GetChildFactsRequest ask;
  ask.mutable_child()->set_kinex_id(kid);
  auto facts = records_->GetChildFacts(ask);
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(read.facts_version(), facts->facts_version());
  // Only the sections of the allowed paths: never the placement,
  // safeguarding or financial data a virtual school head may not see.
  std::set<std::string> sections(read.paths().begin(), read.paths().end());
  std::set<std::string> of_disclosed;
  for (const std::string& p : r->receipt().disclosed_paths()) {
    of_disclosed.insert(p.substr(0, p.find('.')));
  }
  EXPECT_FALSE(sections.empty());
  for (const std::string& s : of_disclosed) EXPECT_TRUE(sections.count(s)) << s;
  for (const char* never : {"placement", "safeguarding", "financial_support", "police"}) {
    EXPECT_FALSE(sections.count(never)) << never;
  }
  EXPECT_TRUE(r->record().has_education());
  EXPECT_FALSE(r->record().has_safeguarding());
}

TEST_F(DecideFirstTest, ATransferBetweenDecisionAndReadIsNotDisclosedPast) {
  const std::string kid = SeedChild("WCC-D3", "9434765919");
  counting_->ResetCounts();
  // Allowed on the first facts; before the pinned read, the LA hands the
  // child to Sheffield. The read is ABORTED, the gateway decides again on
  // the new facts, and Westminster is now out of scope.
  counting_->before_read = [&] {
    rsv1::TransferResponsibilityRequest t;
    t.mutable_child()->set_kinex_id(kid);
    t.set_to_la_code("E08000025");
    t.set_reason("child moved to Sheffield");
    t.set_principal("spiffe://kinex.dev/local-authority/E09000033/team-manager");
    t.set_request_id("req-transfer");
    auto done = records_->TransferResponsibility(t);
    ASSERT_TRUE(done.ok()) << done.status();
  };
  const uint64_t before = audit_->Size();  // the transfer adds one event
  auto r = Get(Caller(kLa), kid, cv1::CARE_PLANNING);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_EQ(counting_->facts, 2);
  EXPECT_EQ(counting_->get_record, 1);    // the aborted one; nothing was returned
  EXPECT_EQ(audit_->Size(), before + 2);  // the transfer, then the denial
}

TEST_F(DecideFirstTest, FactsMovingTwiceFailsClosedAndDisclosesNothing) {
  const std::string kid = SeedChild("WCC-D4", "9434765919");
  counting_->ResetCounts();
  counting_->abort_reads = 2;
  const uint64_t before = audit_->Size();
  auto r = Get(Caller(kLa), kid, cv1::CARE_PLANNING);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nothing was disclosed"));
  EXPECT_EQ(counting_->facts, 2);
  EXPECT_EQ(counting_->get_record, 2);
  EXPECT_EQ(audit_->Size(), before);
  // Once: the second decision's read succeeds.
  counting_->abort_reads = 1;
  EXPECT_TRUE(Get(Caller(kLa), kid, cv1::CARE_PLANNING).ok());
}

TEST_F(DecideFirstTest, ACohortPageIsOneFactsCallAndOneBatchRead) {
  SeedChild("WCC-D5", "9434765919");
  SeedChild("WCC-D6", "4010232137");
  SeedChild("BHM-D1", "9434765870", "E08000025");
  CapturingDecider decider(*decider_);
  CountingConsent consent(*consent_);
  policy_override_ = &decider;
  consent_override_ = &consent;
  Rebuild();
  counting_->ResetCounts();
  ev1::ListChildrenRequest req;
  req.set_purpose(cv1::EDUCATION_SUPPORT);
  req.set_page_size(10);
  auto r = gateway_->ListChildren(Caller(kVsh), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->children_size(), 2);
  EXPECT_EQ(counting_->list, 1);
  EXPECT_EQ(counting_->facts, 0);
  EXPECT_EQ(counting_->get_record, 0);
  EXPECT_EQ(counting_->batch_get, 1);
  EXPECT_EQ(counting_->batch_size, 2);
  // The page's children decided together: one consent lookup and one
  // policy call for the page, never one per child.
  EXPECT_THAT(consent.batch_sizes, ::testing::ElementsAre(2));
  EXPECT_EQ(consent.lookups, 0);
  EXPECT_THAT(decider.batch_sizes(), ::testing::ElementsAre(2));
  // A page the caller may see nothing of reads no record at all.
  ev1::ListChildrenRequest none;
  none.set_purpose(cv1::EDUCATION_SUPPORT);
  auto empty = gateway_->ListChildren(Caller(kAuditor), none);
  EXPECT_FALSE(empty.ok() && empty->children_size() > 0);
  EXPECT_EQ(counting_->batch_get, 1);
}

TEST_F(DecideFirstTest, GatewayAndConsentDeriveTheSameContextForTheSameChild) {
  const std::string kid = SeedChild("WCC-D7", "9434765919");
  counting_->ResetCounts();
  CapturingDecider decider(*decider_);
  policy_override_ = &decider;
  RecordingAuthorizer recording(*authorizer_);
  auto consent = kinex::consent::ConsentCore::Create({.storage = &consent_storage_,
                                                      .records = records_.get(),
                                                      .authorizer = &recording,
                                                      .clock = &clock_,
                                                      .audit = audit_.get()});
  ASSERT_TRUE(consent.ok()) << consent.status();
  consent_override_ = consent->get();
  Rebuild();

  ASSERT_TRUE(Get(Caller(kLa), kid, cv1::CARE_PLANNING).ok());
  kinex::consent::v1::RecordConsentRequest record;
  record.mutable_child()->set_kinex_id(kid);
  auto* c = record.mutable_entry()->mutable_consent();
  c->set_decision(kinex::consent::v1::CONSENT_GIVEN);
  c->mutable_given_by()->set_kind(kinex::consent::v1::PARENTAL_RESPONSIBILITY_HOLDER);
  // The child is in kinship foster care: its birth parent keeps PR.
  c->mutable_given_by()->set_name("A. Parent");
  c->mutable_given_by()->set_relationship(kinex::consent::v1::PARENT);
  c->mutable_scope()->add_categories(kinex::record::v1::HEALTH);
  c->mutable_scope()->add_recipient_kinds(cv1::VIRTUAL_SCHOOL);
  c->mutable_scope()->add_purposes(cv1::EDUCATION_SUPPORT);
  const CallContext la = Caller(kLa);
  auto recorded = (*consent)->RecordConsent({la.principal, la.actor, la.request_id}, record);
  ASSERT_TRUE(recorded.ok()) << recorded.status();

  const auto decisions = decider.requests();
  ASSERT_EQ(decisions.size(), 1u);
  const auto facts = recording.facts();
  ASSERT_EQ(facts.size(), 1u);
  const pv1::ChildContext from_gateway = decisions[0].child();
  const pv1::ChildContext from_consent =
      kinex::policy::ChildContextFromFacts(facts[0], clock_.Now());
  EXPECT_EQ(from_gateway.SerializeAsString(), from_consent.SerializeAsString())
      << from_gateway.DebugString() << "\nvs\n"
      << from_consent.DebugString();
  // The whole context, not the scope alone: status and arrangement too.
  EXPECT_TRUE(from_consent.looked_after());
  ASSERT_EQ(from_consent.arrangement_types_size(), 1);
  EXPECT_EQ(from_consent.arrangement_types(0), kinex::record::v1::KINSHIP_FOSTER_CARE);
  EXPECT_EQ(from_consent.scope().responsible_la_code(), "E09000033");
}

// Kept facts (FactsCache): a repeated read decides without asking records
// for the child's facts first; records confirms them under the read's pin.
TEST_F(DecideFirstTest, ARepeatedReadDecidesOnKeptFactsThatRecordsConfirms) {
  const std::string kid = SeedChild("WCC-K1", "9434765919");
  ASSERT_TRUE(Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT).ok());
  counting_->ResetCounts();
  const uint64_t before = audit_->Size();
  auto r = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(counting_->facts, 0);
  ASSERT_EQ(counting_->get_record, 1);
  EXPECT_EQ(counting_->last_get.child().kinex_id(), kid);
  EXPECT_EQ(counting_->last_get.facts_version(), FactsVersionNow(kid));
  EXPECT_TRUE(r->record().has_education());
  EXPECT_FALSE(r->record().has_safeguarding());
  EXPECT_FALSE(r->record().has_placement());
  EXPECT_EQ(audit_->Size(), before + 1);
  const FactsCache::Stats stats = gateway_->facts_cache_stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.entries, 1);
}

TEST_F(DecideFirstTest, KeptFactsThatMovedAreNotDisclosedPast) {
  const std::string kid = SeedChild("WCC-K2", "9434765919");
  ASSERT_TRUE(Get(Caller(kLa), kid, cv1::CARE_PLANNING).ok());  // keeps the facts
  Transfer(kid, "E08000025");
  counting_->ResetCounts();
  const uint64_t before = audit_->Size();
  // Allowed on the kept (Westminster) facts; the pinned read is refused,
  // and on fresh facts Westminster is out of scope.
  auto r = Get(Caller(kLa), kid, cv1::CARE_PLANNING);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_EQ(counting_->get_record, 1);  // ABORTED: nothing was returned
  EXPECT_EQ(counting_->facts, 1);
  EXPECT_EQ(audit_->Size(), before + 1);  // the denial, once
  EXPECT_EQ(gateway_->facts_cache_stats().stale, 1);
  // The fresh facts are kept: the next read needs no ABORTED read.
  counting_->ResetCounts();
  EXPECT_EQ(Get(Caller(kLa), kid, cv1::CARE_PLANNING).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(counting_->get_record, 0);
  EXPECT_EQ(counting_->facts, 1);  // the denial confirmed on fresh facts
}

TEST_F(DecideFirstTest, ARefusalOnKeptFactsStandsOnlyOnFreshFacts) {
  const std::string kid = SeedChild("WCC-K3", "9434765919");
  // Sheffield's virtual school head, while Westminster is responsible.
  EXPECT_EQ(Get(Caller(kOtherVsh), kid, cv1::EDUCATION_SUPPORT).status().code(),
            absl::StatusCode::kPermissionDenied);
  counting_->ResetCounts();
  uint64_t before = audit_->Size();
  EXPECT_EQ(Get(Caller(kOtherVsh), kid, cv1::EDUCATION_SUPPORT).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(counting_->facts, 1);  // the kept facts confirmed: the same version
  EXPECT_EQ(counting_->get_record, 0);
  EXPECT_EQ(gateway_->facts_cache_stats().stale, 0);
  EXPECT_EQ(audit_->Size(), before + 1);
  // The child moves to Sheffield: the refusal on the kept facts does not
  // stand, and the decision on fresh facts allows.
  Transfer(kid, "E08000025");
  counting_->ResetCounts();
  before = audit_->Size();
  auto r = Get(Caller(kOtherVsh), kid, cv1::EDUCATION_SUPPORT);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->record().has_education());
  EXPECT_EQ(counting_->facts, 1);
  ASSERT_EQ(counting_->get_record, 1);
  EXPECT_EQ(counting_->last_get.facts_version(), FactsVersionNow(kid));
  EXPECT_EQ(audit_->Size(), before + 1);
  EXPECT_EQ(gateway_->facts_cache_stats().stale, 1);
}

TEST_F(DecideFirstTest, AShieldSetAfterTheFactsWereKeptHoldsOnTheNextRead) {
  const std::string kid = SeedChild("WCC-K7", "9434765919");
  auto first = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);  // keeps the facts
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->record().has_education());
  // The responsible LA shields the child's education data (the kept facts
  // do not list it: they were read before).
  ev1::RecordSharingDecisionRequest shield;
  shield.mutable_child()->set_kinex_id(kid);
  rsv1::SharingDecision& d = *shield.mutable_decision();
  d.set_kind(cv1::SHIELD);
  d.set_reason(cv1::RISK_OF_HARM_TO_A_PERSON);
  d.set_rationale("Kinship carers' address must not reach the birth father.");
  d.add_field_paths("education");
  auto set = gateway_->RecordSharingDecision(Caller(kLa), shield);
  ASSERT_TRUE(set.ok()) << set.status();
  counting_->ResetCounts();
  // Allowed on the kept facts; records refuses the pinned read (a shield
  // changes the facts version), and on fresh facts education is withheld.
  auto r = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->record().has_education());
  EXPECT_EQ(r->record().identity().kinex_id(), kid);
  EXPECT_EQ(r->record().scope().responsible_la_code(), "E09000033");
  EXPECT_EQ(counting_->facts, 1);
  EXPECT_EQ(counting_->get_record, 2);  // the first refused under the pin
  EXPECT_EQ(gateway_->facts_cache_stats().stale, 1);
}

TEST_F(DecideFirstTest, KeptFactsOfAnIdentifierTheChildChangedAreRedoneOnFreshFacts) {
  const std::string kid = SeedChild("WCC-K4", "9434765919");
  auto by_nhs = [&](const std::string& nhs) {
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_nhs_number(nhs);
    req.set_purpose(cv1::CARE_PLANNING);
    return gateway_->GetChildRecord(Caller(kLa), req);
  };
  ASSERT_TRUE(by_nhs("9434765919").ok());
  // Records resolves the caller's identifier again in the read's own
  // snapshot, not the Kinex id the kept facts resolved it to.
  EXPECT_EQ(counting_->last_get.child().nhs_number(), "9434765919");
  EXPECT_FALSE(counting_->last_get.child().has_la_child_id());
  // The GP corrects the NHS number: the kept facts (which list the child's
  // identifiers) no longer hold, so the pinned read is refused and the
  // read is decided again on fresh facts.
  ev1::GetMyPartRequest mine;
  mine.mutable_child()->set_kinex_id(kid);
  auto part = gateway_->GetMyPart(Caller(kHealth), mine);
  ASSERT_TRUE(part.ok()) << part.status();
  ev1::PublishRecordRequest fix;
  fix.mutable_child()->set_kinex_id(kid);
  *fix.mutable_record() = part->record();
  fix.mutable_record()->mutable_identity()->set_nhs_number("4010232137");
  fix.set_etag(part->etag());
  ASSERT_TRUE(gateway_->PublishRecord(Caller(kHealth), fix).ok());
  counting_->ResetCounts();
  auto r = by_nhs("9434765919");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(counting_->get_record, 2);  // the first refused under the pin
  EXPECT_EQ(counting_->facts, 1);
  EXPECT_EQ(counting_->last_get.facts_version(), FactsVersionNow(kid));
  EXPECT_EQ(r->record().identity().nhs_number(), "4010232137");
}

TEST_F(DecideFirstTest, AnyRefusalOfAReadOnKeptFactsIsRedoneOnFreshFacts) {
  const std::string kid = SeedChild("WCC-K6", "9434765919");
  ASSERT_TRUE(Get(Caller(kLa), kid, cv1::CARE_PLANNING).ok());
  // Records finds no child for the kept identifier (say it was withdrawn):
  // not an outage, and not the answer; fresh facts decide.
  counting_->ResetCounts();
  counting_->fail_reads = 1;
  counting_->fail_with = absl::NotFoundError("no child with that identifier");
  const uint64_t before = audit_->Size();
  auto r = Get(Caller(kLa), kid, cv1::CARE_PLANNING);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(counting_->get_record, 2);
  EXPECT_EQ(counting_->facts, 1);
  EXPECT_EQ(audit_->Size(), before + 1);
  // On fresh facts the same refusal is records failing: nothing disclosed.
  gateway_options_.facts_cache_entries = 0;
  Rebuild();
  counting_->fail_reads = 1;
  auto failed = Get(Caller(kLa), kid, cv1::CARE_PLANNING);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_EQ(audit_->Size(), before + 1);
}

TEST_F(DecideFirstTest, WithNoFactsKeptEveryReadAsksRecordsForTheFacts) {
  gateway_options_.facts_cache_entries = 0;
  Rebuild();
  const std::string kid = SeedChild("WCC-K5", "9434765919");
  counting_->ResetCounts();
  ASSERT_TRUE(Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT).ok());
  ASSERT_TRUE(Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT).ok());
  EXPECT_EQ(counting_->facts, 2);
  EXPECT_EQ(counting_->get_record, 2);
  EXPECT_EQ(gateway_->facts_cache_stats().hits, 0);
}

}  // namespace
}  // namespace kinex::gateway::testing
