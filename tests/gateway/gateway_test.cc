// The gateway core over the real records core, policy engine (default policy
// set) and audit log: orchestration, redaction, receipts, audit-before-reply,
// uniform denials and fail-closed behaviour.
#include "services/gateway/gateway.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_sink.h"
#include "services/audit/log_verifier.h"
#include "services/audit/tree_head.h"
#include "services/policy/policy_decider.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/testing/status_matchers.h"

namespace kinex::gateway::testing {
namespace {

using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;
namespace ev1 = kinex::exchange::v1;
namespace cv1 = kinex::common::v1;

class GatewayTest : public GatewayFixture {
 protected:
  absl::StatusOr<ev1::GetChildRecordResponse> Get(const CallContext& call, const std::string& kid,
                                                  cv1::Purpose purpose,
                                                  const std::string& justification = "",
                                                  bool break_glass = false) {
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(kid);
    req.set_purpose(purpose);
    req.set_justification(justification);
    req.set_break_glass(break_glass);
    return gateway_->GetChildRecord(call, req);
  }
  kinex::audit::v1::LogEntry Entry(uint64_t index) {
    kinex::audit::v1::GetEntriesRequest req;
    req.set_start_index(index);
    req.set_end_index(index + 1);
    auto got = audit_->GetEntries(req);
    EXPECT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->entries_size(), 1);
    return got->entries(0);
  }
};

TEST_F(GatewayTest, VirtualSchoolHeadSeesExactlyItsFieldsWithAVerifiableReceipt) {
  const std::string kid = SeedChild("WCC-1", "9434765919");
  const CallContext vsh = Caller(kVsh, "V. Head");
  auto r = Get(vsh, kid, cv1::EDUCATION_SUPPORT);
  ASSERT_TRUE(r.ok()) << r.status();

  const std::vector<std::string> visible = PresentLeafPaths(r->record());
  EXPECT_THAT(visible,
              ElementsAre("education.attendance_summary.attended_sessions",
                          "education.attendance_summary.possible_sessions",
                          "identity.date_of_birth", "identity.family_name", "identity.given_name",
                          "identity.kinex_id", "identity.la_child_id", "identity.nhs_number",
                          "legal_status.arrangement", "legal_status.looked_after",
                          "legal_status.start_date", "scope.current_school_urn",
                          "scope.registered_gp_ods_code", "scope.responsible_la_code"));
  // Never police, safeguarding, placement address, finance or health detail.
  EXPECT_FALSE(r->record().has_safeguarding());
  EXPECT_FALSE(r->record().has_placement());
  EXPECT_FALSE(r->record().has_financial_support());
  EXPECT_FALSE(r->record().has_health());

  const ev1::DisclosureReceipt& receipt = r->receipt();
  EXPECT_THAT(
      std::vector<std::string>(receipt.disclosed_paths().begin(), receipt.disclosed_paths().end()),
      ElementsAreArray(visible));
  EXPECT_EQ(receipt.policy_version(), engine_->version());
  EXPECT_EQ(r->request_id(), vsh.request_id);
  bool safeguarding_denied = false;
  for (const auto& w : receipt.withheld()) {
    if (w.category() == kinex::record::v1::SAFEGUARDING) {
      safeguarding_denied =
          w.reason() == kinex::policy::v1::DENIED_BY_RULE && w.rule_id() == "vsh-never";
    }
  }
  EXPECT_TRUE(safeguarding_denied);

  // The receipt verifies offline and matches what the log holds.
  auto verifier = kinex::audit::TreeHeadVerifier::FromPublicKeyPem(public_key_pem_);
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE(kinex::audit::VerifyReceipt(receipt, **verifier).ok());
  const kinex::audit::v1::LogEntry entry = Entry(receipt.leaf_index());
  EXPECT_TRUE(kinex::audit::VerifyReceiptMatchesEntry(receipt, entry).ok());
  EXPECT_EQ(entry.event().principal(), kVsh);
  EXPECT_EQ(entry.event().actor(), "V. Head");
  EXPECT_EQ(entry.event().request_id(), vsh.request_id);
  EXPECT_EQ(entry.event().purpose(), cv1::EDUCATION_SUPPORT);
  EXPECT_EQ(entry.event().decision(), kinex::audit::v1::PARTIAL);
  EXPECT_EQ(entry.event().method(), "GetChildRecord");
  // The log holds pseudonyms, never identifiers.
  // One per identifier the child is known by (kinex id, NHS number, LA
  // child id), so auditors can search by any of them.
  EXPECT_EQ(entry.event().children_size(), 0);
  EXPECT_EQ(entry.event().child_pseudonyms_size(), 3);
  for (const std::string& p : entry.event().child_pseudonyms()) {
    EXPECT_EQ(p.find(kid), std::string::npos);
    EXPECT_EQ(p.find("9434765919"), std::string::npos);
  }
}

TEST_F(GatewayTest, NoMatchingRuleIsDeniedAndTheDenialIsAudited) {
  const std::string kid = SeedChild("WCC-2", "4010232137");
  const uint64_t before = audit_->Size();
  auto r = Get(Caller(kAuditor), kid, cv1::CARE_PLANNING);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("no record you may see for this child and purpose (request id req-"));
  ASSERT_EQ(audit_->Size(), before + 1);
  const auto entry = Entry(before);
  EXPECT_EQ(entry.event().decision(), kinex::audit::v1::DENY);
  EXPECT_EQ(entry.event().disclosed_paths_size(), 0);
}

TEST_F(GatewayTest, UnknownChildLooksExactlyLikeADenialAndIsAudited) {
  SeedChild("WCC-3", "9434765919");
  const uint64_t before = audit_->Size();
  CallContext vsh = Caller(kVsh);
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_nhs_number("4010232137");  // valid, but no such child
  req.set_purpose(cv1::EDUCATION_SUPPORT);
  auto r = gateway_->GetChildRecord(vsh, req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().message(),
            "no record you may see for this child and purpose (request id " + vsh.request_id + ")");
  EXPECT_THAT(r, HasErrorReason("CHILD_NOT_FOUND_OR_OUT_OF_SCOPE"));
  ASSERT_EQ(audit_->Size(), before + 1);
  const auto entry = Entry(before);
  EXPECT_EQ(entry.event().decision(), kinex::audit::v1::DENY);
  // Matched through its pseudonym, so an auditor can find probes by NHS number.
  EXPECT_EQ(entry.event().child_pseudonyms_size(), 1);
}

TEST_F(GatewayTest, OtherAuthoritysVirtualSchoolIsOutOfScope) {
  const std::string kid = SeedChild("WCC-4", "9434765919");
  auto r = Get(Caller(kOtherVsh), kid, cv1::EDUCATION_SUPPORT);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(GatewayTest, AuditFailureDisclosesNothing) {
  const std::string kid = SeedChild("WCC-5", "9434765919");
  FailingAuditSink failing;
  audit_override_ = &failing;
  Rebuild();
  auto r = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(),
            "audit log could not answer (audit storage cannot commit); nothing was disclosed");
  // Retryable, with the failing service's reason.
  EXPECT_THAT(r, HasErrorReason("AUDIT_UNAVAILABLE"));
  EXPECT_THAT(r, HasErrorMetadata("service", "audit"));
}

// An audit sink and a policy decider that fail with a given status.
class BrokenAuditSink final : public kinex::audit::AuditSink {
 public:
  explicit BrokenAuditSink(absl::Status status) : status_(std::move(status)) {}
  absl::StatusOr<kinex::audit::AppendResult> Append(const kinex::audit::v1::AuditEvent&) override {
    return status_;
  }

 private:
  absl::Status status_;
};
class BrokenPolicyDecider final : public kinex::policy::PolicyDecider {
 public:
  explicit BrokenPolicyDecider(absl::Status status) : status_(std::move(status)) {}
  absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest&) const override {
    return status_;
  }

 private:
  absl::Status status_;
};

// A corrupt log or a dependency's bug is not retryable: DATA_LOSS and
// INTERNAL reach the caller as they are, never as UNAVAILABLE.
TEST_F(GatewayTest, DataLossAndInternalFromADependencyAreNotMadeRetryable) {
  const std::string kid = SeedChild("WCC-5c", "9434765919");
  BrokenAuditSink torn(absl::DataLossError("entry 7 does not match its hash"));
  audit_override_ = &torn;
  Rebuild();
  auto r = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss,
                          "audit log could not answer (entry 7 does not match its hash); "
                          "nothing was disclosed"));
  EXPECT_THAT(r, HasErrorReason("DEPENDENCY_FAILED"));
  EXPECT_THAT(r, HasErrorMetadata("service", "audit"));
  EXPECT_THAT(r, HasErrorMetadata("cause", "DATA_LOSS"));

  BrokenPolicyDecider bug(absl::InternalError("plan compile failed"));
  audit_override_ = nullptr;
  policy_override_ = &bug;
  Rebuild();
  r = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInternal,
                          "policy service could not answer (plan compile failed); nothing was "
                          "disclosed"));
  EXPECT_THAT(r, HasErrorReason("DEPENDENCY_FAILED"));
  EXPECT_THAT(r, HasErrorMetadata("service", "policy"));
  EXPECT_THAT(r, HasErrorMetadata("cause", "INTERNAL"));
}

TEST_F(GatewayTest, ConsentFailureDisclosesNothingAndAppendsNothing) {
  const std::string kid = SeedChild("WCC-6", "9434765919");
  FailingConsentRegistry failing;
  consent_override_ = &failing;
  Rebuild();
  const uint64_t before = audit_->Size();
  auto r = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(),
            "consent service could not answer (consent store is down); nothing was disclosed");
  EXPECT_EQ(audit_->Size(), before);
}

TEST_F(GatewayTest, PolicyFailureDisclosesNothing) {
  const std::string kid = SeedChild("WCC-7", "9434765919");
  FailingPolicyDecider failing;
  policy_override_ = &failing;
  Rebuild();
  auto r = Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(),
            "policy service could not answer (policy service is down); nothing was disclosed");
}

TEST_F(GatewayTest, BreakGlassNeedsALongEnoughJustification) {
  const std::string kid = SeedChild("WCC-8", "9434765919");
  const uint64_t before = audit_->Size();
  auto r = Get(Caller(kVsh), kid, cv1::SAFEGUARDING, "urgent", /*break_glass=*/true);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "justification: break-glass needs a written justification of at least 20 "
            "characters (got 6)");
  EXPECT_EQ(audit_->Size(), before);  // bad input changes nothing
}

TEST_F(GatewayTest, PurposeMustBeKnown) {
  const std::string kid = SeedChild("WCC-9", "9434765919");
  auto r = Get(Caller(kVsh), kid, cv1::PURPOSE_UNSPECIFIED);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("purpose: required"));
  r = Get(Caller(kVsh), kid, static_cast<cv1::Purpose>(99));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "purpose: unknown value 99 for kinex.common.v1.Purpose");
  EXPECT_THAT(r, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(r, HasErrorMetadata("field", "purpose"));
}

TEST_F(GatewayTest, MalformedIdentifierIsInvalidArgumentNotADenial) {
  ev1::GetChildRecordRequest req;
  req.mutable_child()->set_nhs_number("9434765918");
  req.set_purpose(cv1::EDUCATION_SUPPORT);
  auto r = gateway_->GetChildRecord(Caller(kVsh), req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("modulus-11"));
}

TEST_F(GatewayTest, PublishingAFieldAnotherAgencyOwnsIsRefusedAndChangesNothing) {
  const std::string kid = SeedChild("WCC-10", "9434765919");
  ev1::PublishRecordRequest req;
  req.mutable_child()->set_kinex_id(kid);
  req.mutable_record()->mutable_health()->set_camhs(kinex::record::v1::CAMHS_DISCHARGED);
  req.mutable_record()->mutable_scope()->set_current_school_urn("141999");
  auto r = gateway_->PublishRecord(Caller(kSchool), req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("health.camhs"));
  kinex::records::v1::GetRecordRequest get;
  get.mutable_child()->set_kinex_id(kid);
  auto stored = records_->GetRecord(get);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->record().scope().current_school_urn(), "137000");
  EXPECT_EQ(stored->record().health().camhs(), kinex::record::v1::CAMHS_OPEN);
}

TEST_F(GatewayTest, CohortListsOnlyInScopeChildrenPageByPage) {
  const std::string a = SeedChild("WCC-11", "9434765919");
  const std::string b = SeedChild("WCC-12", "4010232137");
  SeedChild("BHM-1", "9434765870", "E08000025");  // another LA's child
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    ev1::ListChildrenRequest req;
    req.set_purpose(cv1::EDUCATION_SUPPORT);
    req.set_page_size(1);
    req.set_page_token(token);
    auto r = gateway_->ListChildren(Caller(kVsh), req);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_LE(r->children_size(), 1);
    for (const auto& c : r->children()) {
      seen.insert(c.record().identity().kinex_id());
      EXPECT_FALSE(c.record().has_safeguarding());
      EXPECT_GT(c.receipt().signed_tree_head().tree_size(), c.receipt().leaf_index());
    }
    token = r->next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen, (std::set<std::string>{a, b}));
}

TEST_F(GatewayTest, CohortPageTokensAreBoundToTheCallerAndPurpose) {
  SeedChild("WCC-14", "9434765919");
  SeedChild("WCC-15", "4010232137");
  ev1::ListChildrenRequest req;
  req.set_purpose(cv1::EDUCATION_SUPPORT);
  req.set_page_size(1);
  auto first = gateway_->ListChildren(Caller(kVsh), req);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());
  req.set_page_token(first->next_page_token());
  EXPECT_TRUE(gateway_->ListChildren(Caller(kVsh), req).ok());
  const std::string refused =
      "page_token: not a token from exchange.ListChildren for this caller and filter (list "
      "again from the first page)";
  // Another agency replaying it.
  EXPECT_THAT(gateway_->ListChildren(Caller(kOtherVsh), req).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, refused));
  // The same agency with another purpose.
  req.set_purpose(cv1::SAFEGUARDING);
  EXPECT_THAT(gateway_->ListChildren(Caller(kVsh), req).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, refused));
  // AIP-158: a page size over the maximum is served as the maximum.
  req.set_purpose(cv1::EDUCATION_SUPPORT);
  req.clear_page_token();
  req.set_page_size(100000);
  EXPECT_TRUE(gateway_->ListChildren(Caller(kVsh), req).ok());
  req.set_page_size(-1);
  EXPECT_THAT(
      gateway_->ListChildren(Caller(kVsh), req).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, "page_size: must not be negative (got -1)"));
}

TEST_F(GatewayTest, MetricsCountDecisionsWithoutChildData) {
  const std::string kid = SeedChild("WCC-13", "9434765919");
  ASSERT_TRUE(Get(Caller(kVsh), kid, cv1::EDUCATION_SUPPORT).ok());
  const std::string text = metrics_.Text();
  EXPECT_THAT(text, HasSubstr("kinex_decisions_total{outcome=\"allow\"} 1"));
  EXPECT_THAT(text, HasSubstr("kinex_audit_append_seconds_count 1"));
  EXPECT_EQ(text.find(kid), std::string::npos);
  EXPECT_EQ(text.find("9434765919"), std::string::npos);
}

TEST_F(GatewayTest, NewClaimsAreCountedPerAgencyAndConfirmedLinksAreNot) {
  const std::string kid = SeedChild("WCC-14", "9434765919");  // school 137000 named: confirmed
  EXPECT_THAT(metrics_.Text(), Not(HasSubstr("kinex_link_claims_total{")));
  ev1::PublishRecordRequest claim;
  claim.mutable_child()->set_kinex_id(kid);
  claim.mutable_proof_date_of_birth()->set_year(2015);
  claim.mutable_proof_date_of_birth()->set_month(4);
  claim.mutable_proof_date_of_birth()->set_day(2);
  claim.mutable_record()->mutable_scope()->set_current_school_urn("141999");
  auto pub = gateway_->PublishRecord(
      Caller("spiffe://kinex.dev/school/141999/designated-safeguarding-lead"), claim);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->link_state(), kinex::record::v1::CLAIMED);
  const std::string text = metrics_.Text();
  EXPECT_THAT(
      text, HasSubstr("kinex_link_claims_total{agency_code=\"141999\",agency_kind=\"school\"} 1"));
  EXPECT_EQ(text.find(kid), std::string::npos);
}

// A malformed identifier is the caller's error, and its refusal is audited
// by the real log (which would refuse to pseudonymise the bad value).
TEST_F(GatewayTest, MalformedChildReferencesOnWritesAreInvalidAndAudited) {
  const uint64_t before = audit_->Size();
  ev1::PublishRecordRequest bad_nhs;
  bad_nhs.mutable_child()->set_nhs_number("1234567890");
  bad_nhs.mutable_record()->mutable_identity()->set_given_name("X");
  auto pub = gateway_->PublishRecord(Caller(kLa), bad_nhs);
  EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument) << pub.status();
  EXPECT_THAT(std::string(pub.status().message()), HasSubstr("child.nhs_number: "));
  ev1::TransferResponsibilityRequest bad_id;
  bad_id.mutable_child()->set_kinex_id("");
  bad_id.set_to_la_code("E08000025");
  bad_id.set_reason("moved");
  auto moved = gateway_->TransferResponsibility(
      Caller("spiffe://kinex.dev/local-authority/E09000033/team-manager"), bad_id);
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kInvalidArgument) << moved.status();
  EXPECT_EQ(moved.status().message(),
            "child.kinex_id: not a Kinex id (expected \"kx_\" then letters and digits)");
  EXPECT_EQ(audit_->Size(), before + 2);  // two WRITE_REFUSED events
}

// Every ListSharingDecisions is an AUDIT_QUERIED event naming the caller,
// what was asked and how many decisions it got, durable before the reply.
TEST_F(GatewayTest, SharingDecisionListingsAreAuditedAsQueries) {
  const std::string kid = SeedChild("WCC-SD1", "9434765919");
  const CallContext la = Caller(kLa, "S. Worker");
  ev1::ListSharingDecisionsRequest req;
  req.mutable_child()->set_kinex_id(kid);
  req.set_include_removed(true);
  req.add_kinds(cv1::SHIELD);
  auto listed = gateway_->ListSharingDecisions(la, req);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->decisions_size(), 0);
  const kinex::audit::v1::AuditEvent event = Entry(audit_->Size() - 1).event();
  EXPECT_EQ(event.kind(), kinex::audit::v1::AUDIT_QUERIED);
  EXPECT_EQ(event.method(), "ListSharingDecisions");
  EXPECT_EQ(event.request_id(), la.request_id);
  EXPECT_EQ(event.principal(), kLa);
  EXPECT_EQ(event.agency_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(event.agency_code(), "E09000033");
  EXPECT_EQ(event.actor(), "S. Worker");
  EXPECT_EQ(event.query(), "sharing_decisions child=given include_removed=true kinds=SHIELD");
  EXPECT_EQ(event.result_count(), 0);
  EXPECT_EQ(event.child_pseudonyms_size(), 1);
  EXPECT_EQ(event.decision(), kinex::audit::v1::DECISION_UNSPECIFIED);
  EXPECT_EQ(event.refusal(), "");
}

// A listing records refuses (a bad filter, a page token it did not issue, a
// malformed child) is audited too, with the refusal the caller got, and the
// caller gets records' status unchanged.
TEST_F(GatewayTest, RefusedSharingDecisionListingsAreAuditedWithTheRefusal) {
  const std::string kid = SeedChild("WCC-SD2", "9434765919");
  const CallContext la = Caller(kLa, "S. Worker");
  ev1::ListSharingDecisionsRequest ok_req;
  ok_req.mutable_child()->set_kinex_id(kid);
  ASSERT_TRUE(gateway_->ListSharingDecisions(la, ok_req).ok());
  const kinex::audit::v1::AuditEvent allowed = Entry(audit_->Size() - 1).event();
  ASSERT_EQ(allowed.child_pseudonyms_size(), 1);

  // An unknown kind: refused, and audited about the same child.
  ev1::ListSharingDecisionsRequest bad_kind = ok_req;
  bad_kind.add_kinds(static_cast<cv1::SharingDecisionKind>(0));
  uint64_t before = audit_->Size();
  auto refused = gateway_->ListSharingDecisions(la, bad_kind);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument, "kinds[0]: unknown value 0"));
  EXPECT_THAT(refused, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(refused, HasErrorMetadata("field", "kinds[0]"));
  ASSERT_EQ(audit_->Size(), before + 1);
  kinex::audit::v1::AuditEvent event = Entry(before).event();
  EXPECT_EQ(event.kind(), kinex::audit::v1::AUDIT_QUERIED);
  EXPECT_EQ(event.method(), "ListSharingDecisions");
  EXPECT_EQ(event.request_id(), la.request_id);
  EXPECT_EQ(event.principal(), kLa);
  EXPECT_EQ(event.agency_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(event.agency_code(), "E09000033");
  EXPECT_EQ(event.actor(), "S. Worker");
  EXPECT_EQ(event.decision(), kinex::audit::v1::DENY);
  EXPECT_EQ(event.refusal(), "INVALID_ARGUMENT: kinds[0]: unknown value 0");
  EXPECT_EQ(event.query(), "sharing_decisions child=given kinds=SHARING_DECISION_KIND_UNSPECIFIED");
  EXPECT_EQ(event.result_count(), 0);
  EXPECT_THAT(event.child_pseudonyms(), ElementsAreArray(allowed.child_pseudonyms()));

  // A page token records did not issue.
  ev1::ListSharingDecisionsRequest bad_token;
  bad_token.set_page_token("garbage");
  before = audit_->Size();
  refused = gateway_->ListSharingDecisions(la, bad_token);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument,
                                "page_token: not a token from ListSharingDecisions"));
  EXPECT_THAT(refused, HasErrorReason("PAGE_TOKEN_INVALID"));
  ASSERT_EQ(audit_->Size(), before + 1);
  event = Entry(before).event();
  EXPECT_EQ(event.kind(), kinex::audit::v1::AUDIT_QUERIED);
  EXPECT_EQ(event.method(), "ListSharingDecisions");
  EXPECT_EQ(event.decision(), kinex::audit::v1::DENY);
  EXPECT_EQ(event.refusal(), "INVALID_ARGUMENT: page_token: not a token from ListSharingDecisions");
  EXPECT_EQ(event.query(), "sharing_decisions page_token=given");
  EXPECT_EQ(event.child_pseudonyms_size(), 0);

  // A malformed child: the log cannot pseudonymise it, so the refusal is
  // audited without it (and never with the value in the text).
  ev1::ListSharingDecisionsRequest bad_child;
  bad_child.mutable_child()->set_nhs_number("1234567890");
  before = audit_->Size();
  refused = gateway_->ListSharingDecisions(la, bad_child);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument,
                                "child.nhs_number: NHS number fails its modulus-11 check digit"));
  ASSERT_EQ(audit_->Size(), before + 1);
  event = Entry(before).event();
  EXPECT_EQ(event.kind(), kinex::audit::v1::AUDIT_QUERIED);
  EXPECT_EQ(event.refusal(),
            "INVALID_ARGUMENT: child.nhs_number: NHS number fails its modulus-11 check digit");
  EXPECT_EQ(event.query(), "sharing_decisions child=given");
  EXPECT_EQ(event.child_pseudonyms_size(), 0);
}

// Fail closed: a refused listing the log cannot record answers with the
// audit failure, not with the refusal.
TEST_F(GatewayTest, ARefusedListingThatCannotBeAuditedFailsClosed) {
  FailingAuditSink failing;
  audit_override_ = &failing;
  Rebuild();
  ev1::ListSharingDecisionsRequest bad_token;
  bad_token.set_page_token("garbage");
  auto r = gateway_->ListSharingDecisions(Caller(kLa), bad_token);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kUnavailable,
                          "audit log could not answer (audit storage cannot commit); nothing was "
                          "disclosed"));
  EXPECT_THAT(r, HasErrorReason("AUDIT_UNAVAILABLE"));
  EXPECT_THAT(r, HasErrorMetadata("service", "audit"));
}

}  // namespace
}  // namespace kinex::gateway::testing
