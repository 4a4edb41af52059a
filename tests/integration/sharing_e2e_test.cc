// Recorded decisions not to share and shields, end to end: real `kinex`
// processes over mTLS on loopback, in every deployment (all in one process
// on SQLite; one process per service on SQLite and on PostgreSQL), driven
// only through the public Exchange and Audit APIs.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "tests/integration/agencies.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"

namespace kinex::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace rv1 = kinex::record::v1;
namespace rsv1 = kinex::records::v1;

rv1::Date Dob(int y, int m, int d) {
  rv1::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

class SharingE2E : public PerDeploymentTest<SharingE2E> {
 protected:
  std::unique_ptr<ev1::Exchange::Stub> Exchange(const Agency& a) {
    return ev1::Exchange::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role));
  }
  static void Prepare(grpc::ClientContext& ctx, const std::string& request_id) {
    ctx.AddMetadata("x-kinex-actor", "E2E practitioner");
    ctx.AddMetadata("x-kinex-request-id", request_id);
  }
  int NextSeed() {
    static std::map<std::string, int> seeds;
    return 100 + seeds[GetParam().name]++;
  }

  // The LA creates a child naming school A, which attaches (confirmed).
  cv1::ChildRef CreateChild() {
    const std::string id = absl::StrCat("SD-", NextSeed());
    ev1::PublishRecordRequest req;
    req.mutable_child()->mutable_la_child_id()->set_la_code(kLa.code);
    req.mutable_child()->mutable_la_child_id()->set_id(id);
    rv1::ChildRecord* r = req.mutable_record();
    r->mutable_identity()->set_la_child_id(id);
    r->mutable_identity()->set_given_name("Wren");
    r->mutable_identity()->set_family_name("Halloway");
    *r->mutable_identity()->mutable_date_of_birth() = Dob(2015, 4, 2);
    auto* named = r->add_named_agencies();
    named->set_agency_kind(cv1::SCHOOL);
    named->set_agency_code(kSchoolA.code);
    auto* ep = r->add_legal_status();
    ep->set_arrangement(rv1::SPECIAL_GUARDIANSHIP_ORDER);
    *ep->mutable_start_date() = Dob(2023, 2, 1);
    ep->set_previously_looked_after(true);
    r->mutable_safeguarding()->set_child_in_need_plan_open(true);
    ev1::PublishRecordResponse resp;
    grpc::ClientContext ctx;
    Prepare(ctx, "sd-create");
    grpc::Status s = Exchange(kLa)->PublishRecord(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    cv1::ChildRef child;
    child.set_kinex_id(resp.kinex_id());
    ev1::PublishRecordRequest school;
    *school.mutable_child() = child;
    *school.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
    school.mutable_record()->mutable_scope()->set_current_school_urn(kSchoolA.code);
    auto* e = school.mutable_record()->mutable_education()->add_enrolments();
    e->set_urn(kSchoolA.code);
    *e->mutable_entry_date() = Dob(2022, 9, 5);
    grpc::ClientContext sctx;
    Prepare(sctx, "sd-school");
    ev1::PublishRecordResponse sresp;
    s = Exchange(kSchoolA)->PublishRecord(&sctx, school, &sresp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(sresp.link_state(), rv1::CONFIRMED);
    return child;
  }

  grpc::Status Record(const Agency& a, const cv1::ChildRef& child, const rsv1::SharingDecision& d,
                      rsv1::SharingDecision* out, const std::string& request_id = "sd-record") {
    ev1::RecordSharingDecisionRequest req;
    *req.mutable_child() = child;
    *req.mutable_decision() = d;
    grpc::ClientContext ctx;
    Prepare(ctx, request_id);
    return Exchange(a)->RecordSharingDecision(&ctx, req, out);
  }

  // The decision ids `a` lists about `child` (with removed shields).
  std::vector<std::string> Listed(const Agency& a, const cv1::ChildRef& child) {
    ev1::ListSharingDecisionsRequest req;
    *req.mutable_child() = child;
    req.set_include_removed(true);
    grpc::ClientContext ctx;
    Prepare(ctx, "sd-list");
    rsv1::ListSharingDecisionsResponse resp;
    grpc::Status s = Exchange(a)->ListSharingDecisions(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& d : resp.decisions()) ids.push_back(d.decision_id());
    return ids;
  }

  // The audit events of `kind` about `child`, oldest first.
  std::vector<av1::AuditEvent> Events(const cv1::ChildRef& child, av1::EventKind kind) {
    auto stub =
        av1::Audit::NewStub(cluster_->AgencyChannel(kAuditor.kind, kAuditor.code, kAuditor.role));
    grpc::ClientContext ctx;
    Prepare(ctx, "sd-audit");
    av1::QueryEventsRequest req;
    *req.mutable_child() = child;
    req.add_kinds(kind);
    req.set_page_size(100);
    av1::QueryEventsResponse resp;
    grpc::Status s = stub->QueryEvents(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<av1::AuditEvent> out;
    for (const auto& e : resp.entries()) out.push_back(e.event());
    return out;
  }

  grpc::Status Get(const Agency& a, const cv1::ChildRef& child, cv1::Purpose purpose,
                   ev1::GetChildRecordResponse* resp, bool break_glass = false) {
    ev1::GetChildRecordRequest req;
    *req.mutable_child() = child;
    req.set_purpose(purpose);
    if (break_glass) {
      req.set_break_glass(true);
      req.set_justification("Child reported missing overnight; locating urgently.");
    }
    grpc::ClientContext ctx;
    Prepare(ctx, "sd-get");
    return Exchange(a)->GetChildRecord(&ctx, req, resp);
  }

  grpc::Status Unshield(const Agency& a, const cv1::ChildRef& child, const std::string& id,
                        rsv1::SharingDecision* out) {
    ev1::RemoveShieldRequest req;
    *req.mutable_child() = child;
    req.set_decision_id(id);
    req.set_reason("The birth father is in custody; risk reviewed at strategy meeting.");
    grpc::ClientContext ctx;
    Prepare(ctx, "sd-unshield");
    return Exchange(a)->RemoveShield(&ctx, req, out);
  }
};

rsv1::SharingDecision NotShared() {
  rsv1::SharingDecision d;
  d.set_kind(cv1::NOT_SHARED);
  d.set_reason(cv1::MORE_DETRIMENTAL_TO_CHILD);
  d.set_rationale("Sharing the exclusion history now would undermine the placement.");
  d.set_recipient_kind(cv1::POLICE);
  d.set_recipient_code("01");
  d.set_purpose(cv1::SAFEGUARDING);
  return d;
}

rsv1::SharingDecision ShieldOf(const std::string& path) {
  rsv1::SharingDecision d;
  d.set_kind(cv1::SHIELD);
  d.set_reason(cv1::RISK_OF_HARM_TO_A_PERSON);
  d.set_rationale("Kinship carers' whereabouts must not reach the birth father.");
  d.add_field_paths(path);
  return d;
}

TEST_P(SharingE2E, ANotSharedDecisionIsListedToTheLaAndAuditorsAndAudited) {
  const cv1::ChildRef child = CreateChild();
  rsv1::SharingDecision decided;
  grpc::Status s = Record(kSchoolA, child, NotShared(), &decided);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(decided.kind(), cv1::NOT_SHARED);
  EXPECT_EQ(decided.reason(), cv1::MORE_DETRIMENTAL_TO_CHILD);
  EXPECT_EQ(decided.decider(), "spiffe://kinex.dev/school/137000/designated-safeguarding-lead");
  EXPECT_EQ(decided.actor(), "E2E practitioner");
  EXPECT_EQ(decided.kinex_id(), child.kinex_id());

  EXPECT_THAT(Listed(kSchoolA, child), ElementsAre(decided.decision_id()));
  EXPECT_THAT(Listed(kLa, child), ElementsAre(decided.decision_id()));
  EXPECT_THAT(Listed(kAuditor, child), ElementsAre(decided.decision_id()));
  EXPECT_THAT(Listed(kSchoolB, child), IsEmpty());

  // An unrelated school cannot record one: the write path's one refusal.
  rsv1::SharingDecision none;
  grpc::Status refused = Record(kSchoolB, child, NotShared(), &none, "sd-unrelated");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(refused.error_message(),
            "no child you may publish to matches this request (request id sd-unrelated)");

  std::vector<av1::AuditEvent> recorded = Events(child, av1::SHARING_DECISION_RECORDED);
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].record_id(), decided.decision_id());
  EXPECT_EQ(recorded[0].sharing_kind(), cv1::NOT_SHARED);
  EXPECT_EQ(recorded[0].sharing_reason(), cv1::MORE_DETRIMENTAL_TO_CHILD);
  EXPECT_EQ(recorded[0].subject_agency(), "police/01");
  EXPECT_EQ(recorded[0].justification(), NotShared().rationale());
  EXPECT_EQ(recorded[0].agency_code(), kSchoolA.code);
  // The listings were audited as queries about the child.
  std::vector<av1::AuditEvent> queried = Events(child, av1::AUDIT_QUERIED);
  std::vector<std::string> methods;
  for (const auto& e : queried) methods.push_back(e.method());
  EXPECT_GE(std::count(methods.begin(), methods.end(), "ListSharingDecisions"), 4);
}

// A listing records refuses is audited too (the refusal the caller got),
// findable by the child it named.
TEST_P(SharingE2E, ARefusedListingIsAuditedWithTheRefusal) {
  const cv1::ChildRef child = CreateChild();
  ev1::ListSharingDecisionsRequest req;
  *req.mutable_child() = child;
  req.add_kinds(static_cast<cv1::SharingDecisionKind>(0));
  grpc::ClientContext ctx;
  Prepare(ctx, "sd-list-refused");
  rsv1::ListSharingDecisionsResponse resp;
  grpc::Status s = Exchange(kLa)->ListSharingDecisions(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "kinds[0]: unknown value 0");

  std::vector<av1::AuditEvent> refused;
  for (const av1::AuditEvent& e : Events(child, av1::AUDIT_QUERIED)) {
    if (e.request_id() == "sd-list-refused") refused.push_back(e);
  }
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].method(), "ListSharingDecisions");
  EXPECT_EQ(refused[0].principal(), "spiffe://kinex.dev/local-authority/E09000033/social-worker");
  EXPECT_EQ(refused[0].actor(), "E2E practitioner");
  EXPECT_EQ(refused[0].decision(), av1::DENY);
  EXPECT_EQ(refused[0].refusal(), "INVALID_ARGUMENT: kinds[0]: unknown value 0");
  EXPECT_EQ(refused[0].query(),
            "sharing_decisions child=given kinds=SHARING_DECISION_KIND_UNSPECIFIED");
  EXPECT_EQ(refused[0].result_count(), 0);
}

TEST_P(SharingE2E, AShieldIsSetAndRemovedByTheLaWithAuditEvents) {
  const cv1::ChildRef child = CreateChild();
  rsv1::SharingDecision shield;
  // A school may not shield.
  grpc::Status by_school = Record(kSchoolA, child, ShieldOf("identity.given_name"), &shield);
  EXPECT_EQ(by_school.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(by_school.error_message(),
            "only the child's responsible local authority sets or removes shields");
  grpc::Status s = Record(kLa, child, ShieldOf("identity.given_name"), &shield);
  ASSERT_TRUE(s.ok()) << s.error_message();
  rsv1::SharingDecision removed;
  grpc::Status no = Unshield(kSchoolA, child, shield.decision_id(), &removed);
  EXPECT_EQ(no.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  s = Unshield(kLa, child, shield.decision_id(), &removed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(removed.removed_by(), "spiffe://kinex.dev/local-authority/E09000033/social-worker");
  EXPECT_TRUE(removed.has_removed_at());

  std::vector<av1::AuditEvent> set = Events(child, av1::SHIELD_SET);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].record_id(), shield.decision_id());
  EXPECT_THAT(set[0].decision_paths(), ElementsAre("identity.given_name"));
  std::vector<av1::AuditEvent> gone = Events(child, av1::SHIELD_REMOVED);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].record_id(), shield.decision_id());
  EXPECT_EQ(gone[0].justification(),
            "The birth father is in custody; risk reviewed at strategy meeting.");
  // The removed shield stays listed (with its removal) to the LA and auditors.
  EXPECT_THAT(Listed(kLa, child), ElementsAre(shield.decision_id()));
  EXPECT_THAT(Listed(kAuditor, child), ElementsAre(shield.decision_id()));
}

// The disclosure effect (the policy evaluator reads ChildFacts.shielded_paths):
// a shielded field is withheld from a school, even on break-glass, the LA
// still sees it, and it is disclosed again once the shield is removed.
TEST_P(SharingE2E, AShieldedFieldIsWithheldFromEveryoneButTheLa) {
  const cv1::ChildRef child = CreateChild();
  ev1::GetChildRecordResponse school_before;
  ASSERT_TRUE(Get(kSchoolA, child, cv1::SAFEGUARDING, &school_before).ok());
  ASSERT_EQ(school_before.record().identity().given_name(), "Wren");

  rsv1::SharingDecision shield;
  ASSERT_TRUE(Record(kLa, child, ShieldOf("identity.given_name"), &shield).ok());
  ev1::GetChildRecordResponse school, emergency, la;
  ASSERT_TRUE(Get(kSchoolA, child, cv1::SAFEGUARDING, &school).ok());
  EXPECT_EQ(school.record().identity().given_name(), "");
  EXPECT_THAT(school.receipt().disclosed_paths(), Not(Contains("identity.given_name")));
  // The requester is told NOT_GRANTED, never that a shield exists.
  for (const auto& w : school.receipt().withheld()) {
    EXPECT_NE(w.reason(), kinex::policy::v1::SHIELDED);
  }
  // The audit keeps the true reason: the school's disclosure event says
  // SHIELDED for IDENTITY.
  bool audited_shield = false;
  for (const auto& e : Events(child, av1::DISCLOSURE)) {
    if (e.agency_kind() != cv1::SCHOOL) continue;
    for (const auto& w : e.withheld()) {
      audited_shield |=
          w.category() == kinex::record::v1::IDENTITY && w.reason() == kinex::policy::v1::SHIELDED;
    }
  }
  EXPECT_TRUE(audited_shield);
  // Break-glass does not pass a shield.
  ASSERT_TRUE(Get(kSchoolA, child, cv1::SAFEGUARDING, &emergency, /*break_glass=*/true).ok());
  EXPECT_EQ(emergency.record().identity().given_name(), "");
  EXPECT_EQ(emergency.record().identity().family_name(),
            school_before.record().identity().family_name());
  ASSERT_TRUE(Get(kLa, child, cv1::CARE_PLANNING, &la).ok());
  EXPECT_EQ(la.record().identity().given_name(), "Wren");

  rsv1::SharingDecision removed;
  ASSERT_TRUE(Unshield(kLa, child, shield.decision_id(), &removed).ok());
  ev1::GetChildRecordResponse school_after;
  ASSERT_TRUE(Get(kSchoolA, child, cv1::SAFEGUARDING, &school_after).ok());
  EXPECT_EQ(school_after.record().identity().given_name(), "Wren");
}

INSTANTIATE_TEST_SUITE_P(Deployments, SharingE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

}  // namespace
}  // namespace kinex::testing
