// Conformance of sharing decisions and shields (records_core.h, "Sharing
// decisions"), through the records core on every RecordsStorage backend:
// validation, the write relationship, roles, audit events through the
// outbox, removal, listing visibility, facts and the facts version, and
// transfer of responsibility.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "services/records/records_core.h"
#include "tests/records/records_conformance.h"
#include "tests/records/records_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/recording_audit_sink.h"

namespace kinex::records::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;
namespace rv1 = kinex::records::v1;
namespace cv1 = kinex::common::v1;
namespace av1 = kinex::audit::v1;
namespace rec = kinex::record::v1;

constexpr char kLaCode[] = "E09000033";
constexpr char kNotResponsible[] =
    "no child you are the responsible local authority for matches this reference (request id "
    "req-1)";

// A child of E09000033 with a confirmed school (100001), a claimed health
// provider (RJ1) and an unrelated second school (100002, no part).
class World {
 public:
  explicit World(const RecordsBackend& backend) {
    auto storage = backend.make();
    EXPECT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    RecordsCore::Options o;
    o.storage = storage_.get();
    o.clock = &clock_;
    o.audit = &audit_;
    auto core = RecordsCore::Create(std::move(o));
    EXPECT_TRUE(core.ok()) << core.status();
    core_ = std::move(*core);
    rec::ChildRecord la = LaPart("c1");
    Name(la, cv1::SCHOOL, "100001");
    auto put = core_->PutPart(Put(kLa, LaRef(kLaCode, "c1"), la));
    EXPECT_TRUE(put.ok()) << put.status();
    kinex_id_ = put->kinex_id();
    clock_.Advance(absl::Seconds(1));
    EXPECT_TRUE(core_->PutPart(Attach(kSchool, KinexRef(kinex_id_), SchoolPart(Upn(1)))).ok());
    clock_.Advance(absl::Seconds(1));
    EXPECT_TRUE(core_->PutPart(Attach(kHealth, KinexRef(kinex_id_), HealthPart(Nhs(1)))).ok());
    clock_.Advance(absl::Seconds(1));
    seen_ = audit_.Events().size();
  }

  RecordsCore& core() { return *core_; }
  FakeClock& clock() { return clock_; }
  const std::string& kinex_id() const { return kinex_id_; }
  cv1::ChildRef child() const { return KinexRef(kinex_id_); }

  // The audit events since the last call.
  std::vector<av1::AuditEvent> NewEvents() {
    std::vector<av1::AuditEvent> all = audit_.Events();
    std::vector<av1::AuditEvent> out(all.begin() + seen_, all.end());
    seen_ = all.size();
    return out;
  }
  kinex::testing::RecordingAuditSink& audit() { return audit_; }

  absl::StatusOr<rv1::SharingDecision> Record(const std::string& principal,
                                              const rv1::SharingDecision& d,
                                              const cv1::ChildRef* ref = nullptr) {
    rv1::RecordSharingDecisionRequest req;
    req.set_principal(principal);
    req.set_actor("test-actor");
    req.set_request_id("req-1");
    *req.mutable_child() = ref != nullptr ? *ref : child();
    *req.mutable_decision() = d;
    auto r = core_->RecordSharingDecision(req);
    clock_.Advance(absl::Seconds(1));
    return r;
  }
  absl::StatusOr<rv1::SharingDecision> Remove(const std::string& principal, const std::string& id,
                                              const std::string& reason = "Risk has passed.") {
    rv1::RemoveShieldRequest req;
    req.set_principal(principal);
    req.set_actor("test-actor");
    req.set_request_id("req-1");
    *req.mutable_child() = child();
    req.set_decision_id(id);
    req.set_reason(reason);
    auto r = core_->RemoveShield(req);
    clock_.Advance(absl::Seconds(1));
    return r;
  }
  // Decision ids `principal` lists (newest first).
  std::vector<std::string> Listed(const std::string& principal, bool include_removed = false) {
    rv1::ListSharingDecisionsRequest req;
    req.set_principal(principal);
    req.set_include_removed(include_removed);
    auto r = core_->ListSharingDecisions(req);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> ids;
    if (r.ok()) {
      for (const auto& d : r->decisions()) ids.push_back(d.decision_id());
    }
    return ids;
  }
  rv1::ChildFacts Facts() {
    rv1::GetChildFactsRequest req;
    *req.mutable_child() = child();
    auto f = core_->GetChildFacts(req);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *f : rv1::ChildFacts();
  }

 private:
  FakeClock clock_;
  kinex::testing::RecordingAuditSink audit_;
  std::unique_ptr<RecordsStorage> storage_;
  std::unique_ptr<RecordsCore> core_;
  std::string kinex_id_;
  size_t seen_ = 0;
};

rv1::SharingDecision NotShared() {
  rv1::SharingDecision d;
  d.set_kind(cv1::NOT_SHARED);
  d.set_reason(cv1::MORE_DETRIMENTAL_TO_CHILD);
  d.set_rationale("Disclosure to the school now would put the placement at risk.");
  d.set_recipient_kind(cv1::SCHOOL);
  d.set_recipient_code("100002");
  d.set_purpose(cv1::EDUCATION_SUPPORT);
  return d;
}

rv1::SharingDecision Shield() {
  rv1::SharingDecision d;
  d.set_kind(cv1::SHIELD);
  d.set_reason(cv1::RISK_OF_HARM_TO_A_PERSON);
  d.set_rationale("Kinship carers' address must not reach the birth father.");
  d.add_field_paths("identity.given_name");
  d.add_field_paths("education");
  d.add_field_paths("identity.given_name");
  return d;
}

TEST_P(RecordsConformanceTest, SharingDecisionIsStoredAndAuditedOnce) {
  World w(GetParam());
  auto d = w.Record(kSchool, NotShared());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->decision_id(), StartsWith("sd_"));
  EXPECT_EQ(d->kinex_id(), w.kinex_id());
  EXPECT_EQ(d->decider_kind(), cv1::SCHOOL);
  EXPECT_EQ(d->decider_code(), "100001");
  EXPECT_EQ(d->decider(), kSchool);
  EXPECT_EQ(d->actor(), "test-actor");
  EXPECT_TRUE(d->has_decided_at());
  EXPECT_FALSE(d->has_removed_at());
  std::vector<av1::AuditEvent> events = w.NewEvents();
  ASSERT_EQ(events.size(), 1u);
  const av1::AuditEvent& e = events[0];
  EXPECT_EQ(e.kind(), av1::SHARING_DECISION_RECORDED);
  EXPECT_EQ(e.record_id(), d->decision_id());
  EXPECT_EQ(e.sharing_kind(), cv1::NOT_SHARED);
  EXPECT_EQ(e.sharing_reason(), cv1::MORE_DETRIMENTAL_TO_CHILD);
  EXPECT_EQ(e.subject_agency(), "school/100002");
  EXPECT_EQ(e.purpose(), cv1::EDUCATION_SUPPORT);
  EXPECT_EQ(e.justification(), NotShared().rationale());
  EXPECT_EQ(e.principal(), kSchool);
  EXPECT_EQ(e.method(), "RecordSharingDecision");
  EXPECT_THAT(e.idempotency_key(), StartsWith("records:"));
  ASSERT_EQ(e.children_size(), 1);
  EXPECT_EQ(e.children(0).kinex_id(), w.kinex_id());
  // Listed to its decider with every field as returned.
  rv1::ListSharingDecisionsRequest list;
  list.set_principal(kSchool);
  auto listed = w.core().ListSharingDecisions(list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->decisions_size(), 1);
  EXPECT_EQ(listed->decisions(0).SerializeAsString(), d->SerializeAsString());
}

TEST_P(RecordsConformanceTest, SharingDecisionEventIsAppendedOnceAfterTheLogReturns) {
  World w(GetParam());
  w.audit().set_failing(true);
  auto d = w.Record(kSchool, NotShared());
  EXPECT_THAT(d.status(), StatusIs(absl::StatusCode::kUnavailable,
                                   HasSubstr("stored but its audit event is not in the audit "
                                             "log yet")));
  EXPECT_THAT(w.NewEvents(), IsEmpty());
  w.audit().set_failing(false);
  // The next write drains the outbox first: the decision's event, then its own.
  ASSERT_TRUE(w.Record(kLa, NotShared()).ok());
  std::vector<av1::AuditEvent> events = w.NewEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].principal(), kSchool);
  EXPECT_EQ(events[1].principal(), kLa);
  // A further drain appends nothing twice.
  ASSERT_TRUE(w.core().DrainAuditOutbox().ok());
  EXPECT_THAT(w.NewEvents(), IsEmpty());
  EXPECT_EQ(w.Listed(kSchool).size(), 1u);
}

TEST_P(RecordsConformanceTest, SharingDecisionValidationNamesFieldAndStoresNothing) {
  World w(GetParam());
  struct Case {
    std::function<void(rv1::SharingDecision&)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& d) { d.clear_kind(); },
       "decision.kind: required (NOT_SHARED, SHARED_IN_PART, DEFERRED or SHIELD)"},
      {[](auto& d) { d.set_kind(static_cast<cv1::SharingDecisionKind>(9)); },
       "decision.kind: unknown value 9"},
      {[](auto& d) { d.clear_reason(); },
       "decision.reason: required (e.g. MORE_DETRIMENTAL_TO_CHILD)"},
      {[](auto& d) { d.set_reason(static_cast<cv1::SharingDecisionReason>(77)); },
       "decision.reason: unknown value 77"},
      {[](auto& d) { d.clear_rationale(); },
       "decision.rationale: required, 1-4000 characters (got 0)"},
      {[](auto& d) { d.set_rationale(std::string(4001, 'r')); },
       "decision.rationale: required, 1-4000 characters (got 4001)"},
      {[](auto& d) {
         d.set_kind(cv1::SHARED_IN_PART);
         d.add_field_paths("education.attendance_summary");
         d.add_field_paths("identity.shoe_size");
       },
       "decision.field_paths[1]: \"identity.shoe_size\" is not a field of "
       "kinex.record.v1.ChildRecord"},
      {[](auto& d) { d.add_field_paths("education"); },
       "decision.field_paths: only SHIELD and SHARED_IN_PART decisions name paths (NOT_SHARED "
       "is about everything asked for)"},
      {[](auto& d) { d.set_locating(true); },
       "decision.locating: only a SHIELD covers the (locates) fields (got NOT_SHARED)"},
      {[](auto& d) { d.set_recipient_kind(static_cast<cv1::AgencyKind>(42)); },
       "decision.recipient_kind: unknown value 42"},
      {[](auto& d) { d.set_purpose(static_cast<cv1::Purpose>(42)); },
       "decision.purpose: unknown value 42"},
      {[](auto& d) { d.set_recipient_code("12"); }, "decision.recipient_code: "},
      {[](auto& d) { d.clear_recipient_kind(); },
       "decision.recipient_kind: required with recipient_code"},
      {[](auto& d) { d.set_about_request_id("has space"); },
       "decision.about_request_id: at most 128 printable ASCII characters"},
      {[](auto& d) {
         d.set_kind(cv1::SHIELD);
         d.clear_field_paths();
       },
       "decision.field_paths: a SHIELD names the fields it shields, sets locating, or both"},
      {[](auto& d) {
         d.set_kind(cv1::SHIELD);
         d.add_field_paths("identity");
       },
       "decision.recipient_kind: a SHIELD withholds from everyone: set no recipient or "
       "purpose"},
  };
  for (const Case& c : cases) {
    rv1::SharingDecision d = NotShared();
    c.mutate(d);
    absl::Status s = w.Record(kLa, d).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(s.message()), StartsWith(c.message));
    EXPECT_THAT(s, HasErrorReason("INVALID_FIELD")) << c.message;
    // Audited as a refused write, nothing stored.
    std::vector<av1::AuditEvent> events = w.NewEvents();
    ASSERT_EQ(events.size(), 1u) << c.message;
    EXPECT_EQ(events[0].kind(), av1::WRITE_REFUSED);
    EXPECT_EQ(events[0].refusal(), absl::StrCat("INVALID_ARGUMENT: ", s.message()));
  }
  EXPECT_THAT(w.Listed(kLa, true), IsEmpty());
  EXPECT_THAT(w.Listed(kAuditor, true), IsEmpty());
}

TEST_P(RecordsConformanceTest, SharingDecisionNeedsTheWriteRelationship) {
  World w(GetParam());
  const std::string refusal = kNoChild;
  // Unrelated school, claimed (unconfirmed) health provider, another LA,
  // another LA's virtual school, and an unknown child: one refusal.
  const cv1::ChildRef unknown = NhsRef(Nhs(99));
  for (const char* principal :
       {kSchool2, kHealth, kLa2,
        "spiffe://kinex.dev/virtual-school/E08000025/virtual-school-head"}) {
    EXPECT_THAT(w.Record(principal, NotShared()).status(),
                StatusIs(absl::StatusCode::kPermissionDenied, refusal))
        << principal;
    EXPECT_THAT(w.Record(principal, NotShared(), &unknown).status(),
                StatusIs(absl::StatusCode::kPermissionDenied, refusal))
        << principal;
  }
  std::vector<av1::AuditEvent> events = w.NewEvents();
  ASSERT_EQ(events.size(), 8u);
  for (const auto& e : events) {
    EXPECT_EQ(e.kind(), av1::WRITE_REFUSED);
    EXPECT_EQ(e.refusal(), absl::StrCat("PERMISSION_DENIED: ", refusal));
  }
  // The related ones: the responsible LA, its virtual school, the confirmed
  // school.
  for (const char* principal : {kLa, kVirtualSchool, kSchool}) {
    EXPECT_TRUE(w.Record(principal, NotShared()).ok()) << principal;
  }
  // Not an agency.
  EXPECT_THAT(w.Record(kAuditor, NotShared()).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("principal ", kAuditor,
                                    " may not record sharing decisions (only agencies do)")));
  EXPECT_THAT(w.Record(kAuditor, NotShared()).status(), HasErrorReason("AGENCY_REQUIRED"));
  EXPECT_EQ(w.Listed(kAuditor).size(), 3u);
}

TEST_P(RecordsConformanceTest, ShieldOnlyByTheResponsibleLasDecidingRoles) {
  World w(GetParam());
  const absl::Status school = w.Record(kSchool, Shield()).status();
  EXPECT_THAT(school,
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "only the child's responsible local authority sets or removes shields"));
  EXPECT_THAT(school, HasErrorReason("POLICY_DENIED"));
  const absl::Status iro =
      w.Record("spiffe://kinex.dev/local-authority/E09000033/independent-reviewing-officer",
               Shield())
          .status();
  EXPECT_THAT(iro, StatusIs(absl::StatusCode::kPermissionDenied,
                            "role independent-reviewing-officer may not set or remove shields "
                            "(social-worker or team-manager)"));
  EXPECT_THAT(iro, HasErrorReason("POLICY_DENIED"));
  const absl::Status other_la = w.Record(kLa2, Shield()).status();
  EXPECT_THAT(other_la, StatusIs(absl::StatusCode::kPermissionDenied, kNotResponsible));
  EXPECT_THAT(other_la, HasErrorReason("CHILD_NOT_FOUND_OR_OUT_OF_SCOPE"));
  EXPECT_EQ(w.NewEvents().size(), 3u);
  EXPECT_THAT(w.Listed(kAuditor, true), IsEmpty());
  auto shield = w.Record(kLaManager, Shield());
  ASSERT_TRUE(shield.ok()) << shield.status();
  // Paths sorted and distinct.
  EXPECT_THAT(shield->field_paths(), ElementsAre("education", "identity.given_name"));
  std::vector<av1::AuditEvent> events = w.NewEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), av1::SHIELD_SET);
  EXPECT_EQ(events[0].record_id(), shield->decision_id());
  EXPECT_EQ(events[0].sharing_kind(), cv1::SHIELD);
  EXPECT_EQ(events[0].sharing_reason(), cv1::RISK_OF_HARM_TO_A_PERSON);
  EXPECT_THAT(events[0].decision_paths(), ElementsAre("education", "identity.given_name"));
  EXPECT_FALSE(events[0].shield_locating());
  EXPECT_EQ(events[0].subject_agency(), "");
}

TEST_P(RecordsConformanceTest, ShieldsAreInTheFactsAndMoveTheFactsVersion) {
  World w(GetParam());
  const rv1::ChildFacts before = w.Facts();
  EXPECT_THAT(before.shielded_paths(), IsEmpty());
  EXPECT_FALSE(before.shield_locating());
  auto first = w.Record(kLa, Shield());
  ASSERT_TRUE(first.ok()) << first.status();
  rv1::SharingDecision locating;
  locating.set_kind(cv1::SHIELD);
  locating.set_reason(cv1::RISK_OF_HARM_TO_A_PERSON);
  locating.set_rationale("Whereabouts kept from the birth family.");
  locating.set_locating(true);
  locating.add_field_paths("identity.given_name");
  auto second = w.Record(kLa, locating);
  ASSERT_TRUE(second.ok()) << second.status();
  const rv1::ChildFacts shielded = w.Facts();
  EXPECT_THAT(shielded.shielded_paths(), ElementsAre("education", "identity.given_name"));
  EXPECT_TRUE(shielded.shield_locating());
  EXPECT_NE(shielded.facts_version(), before.facts_version());
  // A read pinned to the facts from before the shield reads nothing.
  rv1::GetRecordRequest read;
  *read.mutable_child() = w.child();
  read.set_facts_version(before.facts_version());
  read.add_paths("identity");
  EXPECT_THAT(w.core().GetRecord(read).status(),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("the child's facts changed since facts version")));
  rv1::BatchGetRecordsRequest batch;
  *batch.add_requests() = read;
  EXPECT_EQ(w.core().BatchGetRecords(batch).status().code(), absl::StatusCode::kAborted);
  // ListChildren carries the same facts.
  rv1::ListChildrenRequest cohort;
  cohort.set_agency_kind(cv1::LOCAL_AUTHORITY);
  cohort.set_agency_code(kLaCode);
  auto listed = w.core().ListChildren(cohort);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->children_size(), 1);
  EXPECT_EQ(listed->children(0).facts().SerializeAsString(), shielded.SerializeAsString());
  // Removing the second shield changes the version though the first still
  // covers identity.given_name.
  ASSERT_TRUE(w.Remove(kLa, second->decision_id()).ok());
  const rv1::ChildFacts after = w.Facts();
  EXPECT_THAT(after.shielded_paths(), ElementsAre("education", "identity.given_name"));
  EXPECT_FALSE(after.shield_locating());
  EXPECT_NE(after.facts_version(), shielded.facts_version());
  read.set_facts_version(shielded.facts_version());
  EXPECT_EQ(w.core().GetRecord(read).status().code(), absl::StatusCode::kAborted);
  read.set_facts_version(after.facts_version());
  EXPECT_TRUE(w.core().GetRecord(read).ok());
}

TEST_P(RecordsConformanceTest, RemovedShieldStaysListedAndIsAudited) {
  World w(GetParam());
  auto shield = w.Record(kLa, Shield());
  ASSERT_TRUE(shield.ok()) << shield.status();
  w.NewEvents();
  // Who may remove, and what.
  EXPECT_THAT(w.Remove(kSchool, shield->decision_id()).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "only the child's responsible local authority sets or removes shields"));
  EXPECT_THAT(w.Remove(kLa2, shield->decision_id()).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, kNotResponsible));
  EXPECT_THAT(
      w.Remove(kLa, shield->decision_id(), "").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, "reason: required, 1-2000 characters (got 0)"));
  EXPECT_THAT(w.Remove(kLa, shield->decision_id(), std::string(2001, 'x')).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "reason: required, 1-2000 characters (got 2001)"));
  EXPECT_THAT(w.Remove(kLa, "nope").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "decision_id: required, a shield's id (sd_...)"));
  // Each refusal is one WRITE_REFUSED event.
  EXPECT_EQ(w.NewEvents().size(), 5u);
  auto not_shield = w.Record(kLa, NotShared());
  ASSERT_TRUE(not_shield.ok());
  w.NewEvents();
  const absl::Status not_a_shield = w.Remove(kLa, not_shield->decision_id()).status();
  EXPECT_THAT(not_a_shield, StatusIs(absl::StatusCode::kNotFound,
                                     absl::StrCat("decision_id: no shield ",
                                                  not_shield->decision_id(), " on this child")));
  EXPECT_THAT(not_a_shield, HasErrorReason("SHIELD_NOT_FOUND"));
  EXPECT_THAT(not_a_shield, HasErrorMetadata("field", "decision_id"));
  EXPECT_EQ(w.NewEvents().size(), 1u);
  auto removed = w.Remove(kLaManager, shield->decision_id(), "Father moved abroad.");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(removed->has_removed_at());
  EXPECT_EQ(removed->removed_by(), kLaManager);
  EXPECT_EQ(removed->removal_reason(), "Father moved abroad.");
  std::vector<av1::AuditEvent> events = w.NewEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), av1::SHIELD_REMOVED);
  EXPECT_EQ(events[0].record_id(), shield->decision_id());
  EXPECT_EQ(events[0].justification(), "Father moved abroad.");
  // Twice: no longer in force.
  const absl::Status twice = w.Remove(kLa, shield->decision_id()).status();
  EXPECT_THAT(twice, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr(absl::StrCat("decision_id: shield ", shield->decision_id(),
                                                     " is no longer in force (removed "))));
  EXPECT_THAT(twice, HasErrorReason("SHIELD_ALREADY_REMOVED"));
  EXPECT_THAT(twice, HasErrorMetadata("field", "decision_id"));
  // Listed only with include_removed, with its removal.
  EXPECT_THAT(w.Listed(kLa), ElementsAre(not_shield->decision_id()));
  EXPECT_THAT(w.Listed(kLa, true), ElementsAre(not_shield->decision_id(), shield->decision_id()));
  EXPECT_THAT(w.Facts().shielded_paths(), IsEmpty());
}

TEST_P(RecordsConformanceTest, SharingDecisionListingVisibility) {
  World w(GetParam());
  auto by_school = w.Record(kSchool, NotShared());
  auto by_vs = w.Record(kVirtualSchool, NotShared());
  auto by_la = w.Record(kLa, Shield());
  ASSERT_TRUE(by_school.ok() && by_vs.ok() && by_la.ok());
  // Decider: its own. Responsible LA: every decision about its children.
  // Auditor: all. Another agency: nothing.
  EXPECT_THAT(w.Listed(kSchool), ElementsAre(by_school->decision_id()));
  EXPECT_THAT(w.Listed(kVirtualSchool), ElementsAre(by_vs->decision_id()));
  EXPECT_THAT(w.Listed(kLa),
              ElementsAre(by_la->decision_id(), by_vs->decision_id(), by_school->decision_id()));
  EXPECT_THAT(w.Listed(kAuditor),
              ElementsAre(by_la->decision_id(), by_vs->decision_id(), by_school->decision_id()));
  EXPECT_THAT(w.Listed(kSchool2), IsEmpty());
  EXPECT_THAT(w.Listed(kLa2), IsEmpty());
  // Filters: a child, kinds; an unknown child lists nothing.
  rv1::ListSharingDecisionsRequest req;
  req.set_principal(kAuditor);
  req.add_kinds(cv1::SHIELD);
  auto shields = w.core().ListSharingDecisions(req);
  ASSERT_TRUE(shields.ok());
  ASSERT_EQ(shields->decisions_size(), 1);
  EXPECT_EQ(shields->decisions(0).decision_id(), by_la->decision_id());
  req.clear_kinds();
  *req.mutable_child() = NhsRef(Nhs(98));
  auto none = w.core().ListSharingDecisions(req);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->decisions_size(), 0);
  req.add_kinds(static_cast<cv1::SharingDecisionKind>(0));
  EXPECT_THAT(w.core().ListSharingDecisions(req).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "kinds[0]: unknown value 0"));
  // Paging, newest first, a token bound to its caller.
  rv1::ListSharingDecisionsRequest page;
  page.set_principal(kLa);
  page.set_page_size(2);
  auto p1 = w.core().ListSharingDecisions(page);
  ASSERT_TRUE(p1.ok()) << p1.status();
  ASSERT_EQ(p1->decisions_size(), 2);
  ASSERT_FALSE(p1->next_page_token().empty());
  page.set_page_token(p1->next_page_token());
  auto p2 = w.core().ListSharingDecisions(page);
  ASSERT_TRUE(p2.ok()) << p2.status();
  ASSERT_EQ(p2->decisions_size(), 1);
  EXPECT_EQ(p2->decisions(0).decision_id(), by_school->decision_id());
  EXPECT_TRUE(p2->next_page_token().empty());
  page.set_principal(kAuditor);
  EXPECT_EQ(w.core().ListSharingDecisions(page).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Listing writes nothing to the audit log (the gateway audits it).
  EXPECT_EQ(w.NewEvents().size(), 3u);
}

// AIP-158: a page token is bound to its caller. Two callers of the same LA
// that list the same decisions: the social worker's token is refused for
// the team manager, who pages from its own first page.
TEST_P(RecordsConformanceTest, SharingDecisionPageTokensAreBoundToTheCaller) {
  World w(GetParam());
  ASSERT_TRUE(w.Record(kSchool, NotShared()).ok());
  ASSERT_TRUE(w.Record(kVirtualSchool, NotShared()).ok());
  ASSERT_TRUE(w.Record(kLa, Shield()).ok());
  ASSERT_EQ(w.Listed(kLa).size(), 3u);
  ASSERT_EQ(w.Listed(kLaManager), w.Listed(kLa));
  rv1::ListSharingDecisionsRequest a;
  a.set_principal(kLa);
  a.set_page_size(2);
  auto first = w.core().ListSharingDecisions(a);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());

  rv1::ListSharingDecisionsRequest b = a;
  b.set_principal(kLaManager);
  b.set_page_token(first->next_page_token());
  auto replayed = w.core().ListSharingDecisions(b);
  EXPECT_THAT(replayed, StatusIs(absl::StatusCode::kInvalidArgument,
                                 "page_token: not a token from ListSharingDecisions for this "
                                 "caller and filter (list again from the first page)"));
  EXPECT_THAT(replayed, HasErrorReason("PAGE_TOKEN_INVALID"));
  EXPECT_THAT(replayed, HasErrorMetadata("field", "page_token"));

  // The token still serves its own caller, and B pages from its own start.
  a.set_page_token(first->next_page_token());
  auto second = w.core().ListSharingDecisions(a);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->decisions_size(), 1);
  b.clear_page_token();
  auto own = w.core().ListSharingDecisions(b);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->decisions_size(), 2);
}

TEST_P(RecordsConformanceTest, ShieldsOutliveATransferOfResponsibility) {
  World w(GetParam());
  auto shield = w.Record(kLa, Shield());
  ASSERT_TRUE(shield.ok()) << shield.status();
  rv1::TransferResponsibilityRequest transfer;
  transfer.set_principal(kLaManager);
  transfer.set_request_id("req-1");
  *transfer.mutable_child() = w.child();
  transfer.set_to_la_code("E08000025");
  transfer.set_reason("The family moved.");
  ASSERT_TRUE(w.core().TransferResponsibility(transfer).ok());
  EXPECT_THAT(w.Facts().shielded_paths(), ElementsAre("education", "identity.given_name"));
  // The new LA sees the decisions about its child; the old LA only its own.
  EXPECT_THAT(w.Listed(kLa2), ElementsAre(shield->decision_id()));
  EXPECT_THAT(w.Remove(kLa, shield->decision_id()).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, kNotResponsible));
  ASSERT_TRUE(w.Remove(kLa2, shield->decision_id()).ok());
  EXPECT_THAT(w.Facts().shielded_paths(), IsEmpty());
}

}  // namespace
}  // namespace kinex::records::testing
