// The write path end to end, as an attacker with a valid certificate and as
// the agencies that legitimately share a child would use it: real `kinex`
// processes over mTLS on loopback, in every deployment (all in one process
// on SQLite; one process per service on SQLite and on PostgreSQL), driven
// only through the public Exchange and Audit APIs.
//
// Each test makes its own children (the LA creates them), so tests do not
// depend on each other. Refusals are asserted to the byte (the caller sets
// its request id) and followed by reads proving nothing changed.
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/identity.h"
#include "services/common/status_macros.h"
#include "tests/integration/agencies.h"
#include "tests/integration/cluster.h"
#include "tests/integration/demo_children.h"
#include "tests/testing/test_identifiers.h"

namespace kinex::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace rv1 = kinex::record::v1;
using Mode = KinexCluster::Mode;

constexpr char kUniform[] = "no child you may publish to matches this request (request id ";

rv1::Date Dob(int y, int m, int d) {
  rv1::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

class WritePathE2E : public PerDeploymentTest<WritePathE2E> {
 protected:
  std::unique_ptr<ev1::Exchange::Stub> Exchange(const Agency& a) {
    return ev1::Exchange::NewStub(cluster_->AgencyChannel(a.kind, a.code, a.role));
  }

  // Fresh child numbers per test, per deployment.
  int NextSeed() {
    static std::map<std::string, int> seeds;
    return 1000 + 10 * seeds[GetParam().name]++;
  }

  void Prepare(grpc::ClientContext& ctx, const std::string& request_id) {
    ctx.AddMetadata("x-kinex-actor", "E2E practitioner");
    ctx.AddMetadata("x-kinex-request-id", request_id);
  }

  grpc::Status Publish(const Agency& a, const ev1::PublishRecordRequest& req,
                       ev1::PublishRecordResponse* resp, const std::string& request_id = "wp") {
    grpc::ClientContext ctx;
    Prepare(ctx, request_id);
    return Exchange(a)->PublishRecord(&ctx, req, resp);
  }

  grpc::Status Get(const Agency& a, const std::string& kid, cv1::Purpose purpose,
                   ev1::GetChildRecordResponse* resp, const std::string& justification = "") {
    grpc::ClientContext ctx;
    Prepare(ctx, "wp-get");
    ev1::GetChildRecordRequest req;
    req.mutable_child()->set_kinex_id(kid);
    req.set_purpose(purpose);
    req.set_justification(justification);
    return Exchange(a)->GetChildRecord(&ctx, req, resp);
  }

  // The LA creates a child (by its LA child id), naming the agencies given.
  // Returns the Kinex id.
  std::string CreateChild(const std::string& la_child_id, const std::string& nhs,
                          const std::vector<std::pair<cv1::AgencyKind, std::string>>& named = {},
                          const Agency& la = kLa) {
    ev1::PublishRecordRequest req;
    req.mutable_child()->mutable_la_child_id()->set_la_code(la.code);
    req.mutable_child()->mutable_la_child_id()->set_id(la_child_id);
    rv1::ChildRecord* r = req.mutable_record();
    r->mutable_identity()->set_la_child_id(la_child_id);
    r->mutable_identity()->set_given_name("Wren");
    r->mutable_identity()->set_family_name("Halloway");
    *r->mutable_identity()->mutable_date_of_birth() = Dob(2015, 4, 2);
    for (const auto& [kind, code] : named) {
      auto* a = r->add_named_agencies();
      a->set_agency_kind(kind);
      a->set_agency_code(code);
    }
    auto* ep = r->add_legal_status();
    ep->set_arrangement(rv1::SPECIAL_GUARDIANSHIP_ORDER);
    *ep->mutable_start_date() = Dob(2023, 2, 1);
    ep->set_previously_looked_after(true);
    r->mutable_safeguarding()->set_child_in_need_plan_open(true);
    ev1::PublishRecordResponse resp;
    grpc::Status s = Publish(la, req, &resp, "wp-create");
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.link_state(), rv1::LINK_STATE_UNSPECIFIED);
    // The GP attaches to give the child its NHS number (confirmed: named).
    if (!nhs.empty()) {
      ev1::PublishRecordRequest gp;
      gp.mutable_child()->set_kinex_id(resp.kinex_id());
      *gp.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
      gp.mutable_record()->mutable_identity()->set_nhs_number(nhs);
      gp.mutable_record()->mutable_scope()->set_registered_gp_ods_code("Y01234");
      ev1::PublishRecordResponse gp_resp;
      s = Publish(kGp, gp, &gp_resp, "wp-gp");
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp.kinex_id();
  }

  // A school part: its own URN, an enrolment from `entry`, a UPN.
  ev1::PublishRecordRequest SchoolPart(const cv1::ChildRef& child, const std::string& urn,
                                       const std::string& upn, rv1::Date entry) {
    ev1::PublishRecordRequest req;
    *req.mutable_child() = child;
    if (!upn.empty()) req.mutable_record()->mutable_identity()->set_upn(upn);
    req.mutable_record()->mutable_scope()->set_current_school_urn(urn);
    auto* e = req.mutable_record()->mutable_education()->add_enrolments();
    e->set_urn(urn);
    *e->mutable_entry_date() = entry;
    req.mutable_record()->mutable_education()->set_missing_education(false);
    return req;
  }

  // Every audit event about the child known by `ref`, oldest first.
  std::vector<av1::AuditEvent> EventsAbout(const cv1::ChildRef& ref) {
    auto stub =
        av1::Audit::NewStub(cluster_->AgencyChannel(kAuditor.kind, kAuditor.code, kAuditor.role));
    std::vector<av1::AuditEvent> out;
    std::string token;
    do {
      grpc::ClientContext ctx;
      Prepare(ctx, "wp-audit");
      av1::QueryEventsRequest req;
      *req.mutable_child() = ref;
      req.set_page_size(100);
      req.set_page_token(token);
      av1::QueryEventsResponse resp;
      grpc::Status s = stub->QueryEvents(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& e : resp.entries()) out.push_back(e.event());
      token = resp.next_page_token();
    } while (!token.empty());
    return out;
  }

  // "kind/code vN" for each source a receipt names.
  static std::vector<std::string> Sources(const ev1::GetChildRecordResponse& r) {
    std::vector<std::string> out;
    for (const auto& s : r.receipt().sources()) {
      out.push_back(
          absl::StrCat(AgencyKindSlug(s.agency_kind()), "/", s.agency_code(), " v", s.version()));
      EXPECT_GT(s.publish_time().seconds(), 0);
    }
    return out;
  }
  static std::vector<av1::EventKind> Kinds(const std::vector<av1::AuditEvent>& events) {
    std::vector<av1::EventKind> out;
    for (const auto& e : events) out.push_back(e.kind());
    return out;
  }
};

TEST_P(WritePathE2E, AnotherLaCannotTakeAChildByItsNhsNumber) {
  const int seed = NextSeed();
  const std::string nhs = TestNhs(seed);
  const std::string kid = CreateChild(absl::StrCat("WP-", seed), nhs, {{cv1::HEALTH, "Y01234"}});

  ev1::PublishRecordRequest grab;
  grab.mutable_child()->set_nhs_number(nhs);
  grab.mutable_record()->mutable_scope()->set_responsible_la_code("E08000025");
  grab.mutable_record()->mutable_identity()->set_given_name("Taken");
  ev1::PublishRecordResponse resp;
  grpc::Status s = Publish(kOtherLa, grab, &resp, "wp-grab-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), absl::StrCat(kUniform, "wp-grab-1)"));
  EXPECT_TRUE(resp.kinex_id().empty());

  // Nothing changed: the real LA still reads its child, the other LA does not.
  ev1::GetChildRecordResponse mine;
  ASSERT_TRUE(Get(kLa, kid, cv1::CARE_PLANNING, &mine).ok());
  EXPECT_EQ(mine.record().scope().responsible_la_code(), "E09000033");
  EXPECT_EQ(mine.record().identity().given_name(), "Wren");
  ev1::GetChildRecordResponse theirs;
  EXPECT_EQ(Get(kOtherLa, kid, cv1::CARE_PLANNING, &theirs).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The refusal is in the log, findable by the NHS number the caller used.
  cv1::ChildRef by_nhs;
  by_nhs.set_nhs_number(nhs);
  std::vector<av1::AuditEvent> refusals;
  for (const av1::AuditEvent& e : EventsAbout(by_nhs)) {
    if (e.kind() == av1::WRITE_REFUSED) refusals.push_back(e);
  }
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].agency_code(), "E08000025");
  EXPECT_EQ(refusals[0].request_id(), "wp-grab-1");
  EXPECT_EQ(refusals[0].refusal(), absl::StrCat("PERMISSION_DENIED: ", kUniform, "wp-grab-1)"));
}

TEST_P(WritePathE2E, AnUnlinkedSchoolNeedsProofAndThenOnlyClaims) {
  const int seed = NextSeed();
  const std::string upn = TestUpn(seed);
  const std::string kid = CreateChild(absl::StrCat("WP-", seed), "", {{cv1::SCHOOL, "137000"}});
  cv1::ChildRef by_kid;
  by_kid.set_kinex_id(kid);
  // The school the LA named attaches and is confirmed at once.
  ev1::PublishRecordRequest a = SchoolPart(by_kid, "137000", upn, Dob(2022, 9, 5));
  *a.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
  ev1::PublishRecordResponse a_resp;
  ASSERT_TRUE(Publish(kSchoolA, a, &a_resp).ok());
  EXPECT_EQ(a_resp.link_state(), rv1::CONFIRMED);

  cv1::ChildRef by_upn;
  by_upn.set_upn(upn);
  ev1::PublishRecordRequest b = SchoolPart(by_upn, "141999", "", Dob(2026, 1, 5));
  ev1::PublishRecordResponse b_resp;
  // Knowing the UPN is not a relationship.
  grpc::Status no_proof = Publish(kSchoolB, b, &b_resp, "wp-b-1");
  EXPECT_EQ(no_proof.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(no_proof.error_message(), absl::StrCat(kUniform, "wp-b-1)"));
  *b.mutable_proof_date_of_birth() = Dob(2015, 4, 3);
  grpc::Status wrong_dob = Publish(kSchoolB, b, &b_resp, "wp-b-1");
  EXPECT_EQ(wrong_dob.error_code(), no_proof.error_code());
  EXPECT_EQ(wrong_dob.error_message(), no_proof.error_message());
  EXPECT_TRUE(b_resp.kinex_id().empty());

  // A school may name only itself.
  ev1::PublishRecordRequest lie = SchoolPart(by_upn, "137000", "", Dob(2026, 1, 5));
  *lie.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
  grpc::Status named_other = Publish(kSchoolB, lie, &b_resp);
  EXPECT_EQ(named_other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(named_other.error_message(),
            "part.scope.current_school_urn: a school may name only itself (the code in its "
            "certificate)");

  // With the right date of birth it claims a link: its part is stored, and
  // gives it (and everyone else) nothing until the LA confirms.
  *b.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
  ASSERT_TRUE(Publish(kSchoolB, b, &b_resp).ok());
  EXPECT_EQ(b_resp.link_state(), rv1::CLAIMED);
  EXPECT_EQ(b_resp.kinex_id(), kid);
  ev1::GetChildRecordResponse seen;
  EXPECT_EQ(Get(kSchoolB, kid, cv1::SAFEGUARDING, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ev1::GetChildRecordResponse by_a;
  ASSERT_TRUE(Get(kSchoolA, kid, cv1::SAFEGUARDING, &by_a).ok());
  ev1::GetChildRecordResponse by_la;
  ASSERT_TRUE(Get(kLa, kid, cv1::CARE_PLANNING, &by_la).ok());
  EXPECT_EQ(by_la.record().scope().current_school_urn(), "137000");
  ASSERT_EQ(by_la.record().education().enrolments_size(), 1);
  EXPECT_EQ(by_la.record().education().enrolments(0).urn(), "137000");
  EXPECT_THAT(Sources(by_la),
              ::testing::UnorderedElementsAre("local-authority/E09000033 v1", "school/137000 v1"));

  // The LA sees the claim, and confirming it is a school move: both parts
  // combine, the current school follows the latest open enrolment.
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "wp-claims");
    ev1::ListLinkClaimsRequest req;
    req.set_state(rv1::CLAIMED);
    ev1::ListLinkClaimsResponse claims;
    ASSERT_TRUE(Exchange(kLa)->ListLinkClaims(&ctx, req, &claims).ok());
    bool found = false;
    for (const auto& l : claims.links()) {
      if (l.kinex_id() == kid && l.agency().agency_code() == "141999") found = true;
      EXPECT_EQ(l.state(), rv1::CLAIMED);
    }
    EXPECT_TRUE(found);
  }
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "wp-confirm");
    ev1::DecideLinkClaimRequest req;
    *req.mutable_child() = by_kid;
    req.mutable_agency()->set_agency_kind(cv1::SCHOOL);
    req.mutable_agency()->set_agency_code("141999");
    req.set_decision(rv1::CONFIRMED);
    ev1::DecideLinkClaimResponse resp;
    grpc::Status s = Exchange(kIro)->DecideLinkClaim(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message(),
              "role independent-reviewing-officer may not confirm or reject links "
              "(social-worker or team-manager)");
    grpc::ClientContext ctx2;
    Prepare(ctx2, "wp-confirm-2");
    ASSERT_TRUE(Exchange(kLa)->DecideLinkClaim(&ctx2, req, &resp).ok());
    EXPECT_EQ(resp.link().state(), rv1::CONFIRMED);
  }
  ASSERT_TRUE(Get(kLa, kid, cv1::CARE_PLANNING, &by_la).ok());
  EXPECT_EQ(by_la.record().scope().current_school_urn(), "141999");
  std::vector<std::string> urns;
  for (const auto& e : by_la.record().education().enrolments()) urns.push_back(e.urn());
  EXPECT_THAT(urns, ::testing::UnorderedElementsAre("137000", "141999"));
  // The receipt says which agency parts, at which versions, the record came
  // from.
  EXPECT_THAT(Sources(by_la),
              ::testing::UnorderedElementsAre("local-authority/E09000033 v1", "school/137000 v1",
                                              "school/141999 v1"));
  EXPECT_TRUE(Get(kSchoolB, kid, cv1::SAFEGUARDING, &seen).ok());

  // Every write and refusal above that resolved the child is one event
  // findable by its Kinex id: the LA's publish, school A's first part (a
  // link, confirmed at once), the two refused attempts without proof, school
  // B's claim, the IRO's refused decision and the confirmation. (The attempt
  // naming another school failed before any child was resolved: it is
  // findable by the UPN it used.)
  const std::vector<av1::AuditEvent> events = EventsAbout(by_kid);
  std::vector<av1::EventKind> writes;
  for (const auto& e : events) {
    if (e.kind() != av1::DISCLOSURE) writes.push_back(e.kind());
  }
  EXPECT_THAT(writes, ElementsAre(av1::PART_PUBLISHED, av1::LINK_CLAIMED, av1::WRITE_REFUSED,
                                  av1::WRITE_REFUSED, av1::LINK_CLAIMED, av1::WRITE_REFUSED,
                                  av1::LINK_CONFIRMED));
  int by_upn_refusals = 0;
  for (const auto& e : EventsAbout(by_upn)) {
    if (e.kind() == av1::WRITE_REFUSED) ++by_upn_refusals;
  }
  EXPECT_EQ(by_upn_refusals, 3);
}

TEST_P(WritePathE2E, OnlyALocalAuthorityCreatesChildren) {
  const int seed = NextSeed();
  for (const auto& [agency, ref] :
       std::vector<std::pair<Agency, cv1::ChildRef>>{{kSchoolA, {}}, {kGp, {}}, {kMet, {}}}) {
    (void)ref;
    ev1::PublishRecordRequest req;
    if (agency.kind == "school") {
      req.mutable_child()->set_upn(TestUpn(seed + 1));
      req.mutable_record()->mutable_scope()->set_current_school_urn(agency.code);
    } else if (agency.kind == "health") {
      req.mutable_child()->set_nhs_number(TestNhs(seed + 1));
      req.mutable_record()->mutable_scope()->set_registered_gp_ods_code(agency.code);
    } else {
      req.mutable_child()->set_nhs_number(TestNhs(seed + 1));
      req.mutable_record()->mutable_scope()->set_police_force_code(agency.code);
    }
    *req.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
    ev1::PublishRecordResponse resp;
    grpc::Status s = Publish(agency, req, &resp, "wp-orphan");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << agency.kind;
    EXPECT_EQ(s.error_message(), absl::StrCat(kUniform, "wp-orphan)")) << agency.kind;
    EXPECT_TRUE(resp.kinex_id().empty());
    // Nothing stored: the agency has no part of any child by that identifier.
    grpc::ClientContext ctx;
    Prepare(ctx, "wp-mine");
    ev1::GetMyPartRequest mine;
    *mine.mutable_child() = req.child();
    ev1::GetMyPartResponse part;
    grpc::Status m = Exchange(agency)->GetMyPart(&ctx, mine, &part);
    EXPECT_EQ(m.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(m.error_message(), "no part of yours exists for this child reference");
  }
}

TEST_P(WritePathE2E, AnotherForceOrGpClaimsButGetsNothing) {
  const int seed = NextSeed();
  const std::string nhs = TestNhs(seed);
  const std::string kid =
      CreateChild(absl::StrCat("WP-", seed), nhs, {{cv1::HEALTH, "Y01234"}, {cv1::POLICE, "01"}});
  ev1::PublishRecordRequest met;
  met.mutable_child()->set_kinex_id(kid);
  *met.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
  met.mutable_record()->mutable_scope()->set_police_force_code("01");
  met.mutable_record()->mutable_police()->set_criminal_exploitation_risk(true);
  ev1::PublishRecordResponse resp;
  ASSERT_TRUE(Publish(kMet, met, &resp).ok());
  EXPECT_EQ(resp.link_state(), rv1::CONFIRMED);

  ev1::PublishRecordRequest wm;
  wm.mutable_child()->set_nhs_number(nhs);
  *wm.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
  wm.mutable_record()->mutable_scope()->set_police_force_code("20");
  ASSERT_TRUE(Publish(kWestMids, wm, &resp).ok());
  EXPECT_EQ(resp.link_state(), rv1::CLAIMED);
  ev1::GetChildRecordResponse seen;
  EXPECT_EQ(Get(kWestMids, kid, cv1::SAFEGUARDING, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Get(kLa, kid, cv1::CARE_PLANNING, &seen).ok());
  EXPECT_EQ(seen.record().scope().police_force_code(), "01");

  // A community trust (CAMHS) the LA did not name: the same.
  ev1::PublishRecordRequest trust;
  trust.mutable_child()->set_nhs_number(nhs);
  *trust.mutable_proof_date_of_birth() = Dob(2015, 4, 2);
  trust.mutable_record()->mutable_scope()->add_health_provider_ods_codes("RJ1");
  trust.mutable_record()->mutable_health()->set_camhs(rv1::CAMHS_OPEN);
  ASSERT_TRUE(Publish(kTrust, trust, &resp).ok());
  EXPECT_EQ(resp.link_state(), rv1::CLAIMED);
  ASSERT_TRUE(Get(kLa, kid, cv1::CARE_PLANNING, &seen,
                  "Care plan review: health providers involved with the child.")
                  .ok());
  EXPECT_EQ(seen.record().health().camhs(), rv1::CAMHS_STATUS_UNSPECIFIED);
  EXPECT_EQ(seen.record().scope().registered_gp_ods_code(), "Y01234");
  EXPECT_EQ(seen.record().scope().health_provider_ods_codes_size(), 0);

  // Once the LA confirms the trust, the GP's and the trust's parts combine.
  grpc::ClientContext ctx;
  Prepare(ctx, "wp-confirm-trust");
  ev1::DecideLinkClaimRequest req;
  req.mutable_child()->set_kinex_id(kid);
  req.mutable_agency()->set_agency_kind(cv1::HEALTH);
  req.mutable_agency()->set_agency_code("RJ1");
  req.set_decision(rv1::CONFIRMED);
  ev1::DecideLinkClaimResponse decided;
  ASSERT_TRUE(Exchange(kLaManager)->DecideLinkClaim(&ctx, req, &decided).ok());
  // Provider codes are health data: the LA sees them with a justification.
  ASSERT_TRUE(Get(kLa, kid, cv1::CARE_PLANNING, &seen,
                  "Care plan review: health providers involved with the child.")
                  .ok());
  EXPECT_EQ(seen.record().scope().registered_gp_ods_code(), "Y01234");
  EXPECT_THAT(seen.record().scope().health_provider_ods_codes(), ElementsAre("RJ1"));
  // Provider codes are HEALTH (naming a CAMHS provider reveals health
  // involvement), not IDENTITY: the force in scope gets the child's identity
  // and scope links, but not them.
  ASSERT_TRUE(Get(kMet, kid, cv1::SAFEGUARDING, &seen,
                  "Strategy discussion: who is working with the child.")
                  .ok());
  EXPECT_EQ(seen.record().scope().police_force_code(), "01");
  EXPECT_EQ(seen.record().scope().health_provider_ods_codes_size(), 0);
  EXPECT_THAT(seen.receipt().disclosed_paths(), Not(Contains("scope.health_provider_ods_codes")));
}

TEST_P(WritePathE2E, ResponsibilityMovesOnlyByTransfer) {
  const int seed = NextSeed();
  const std::string kid = CreateChild(absl::StrCat("WP-", seed), "");
  cv1::ChildRef by_kid;
  by_kid.set_kinex_id(kid);
  auto transfer = [&](const Agency& who, const std::string& to, const std::string& reason,
                      ev1::TransferResponsibilityResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(ctx, "wp-transfer");
    ev1::TransferResponsibilityRequest req;
    *req.mutable_child() = by_kid;
    req.set_to_la_code(to);
    req.set_reason(reason);
    return Exchange(who)->TransferResponsibility(&ctx, req, resp);
  };
  ev1::TransferResponsibilityResponse resp;
  grpc::Status s = transfer(kOtherLa, "E08000025", "taking it", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "transferring responsibility is a team-manager's decision (role social-worker may "
            "not)");
  s = transfer(kLaManager, "E08000025", "", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "reason: required, at most 2000 characters (recorded in the audit log)");
  ASSERT_TRUE(transfer(kLaManager, "E08000025", "family moved to Sandwell", &resp).ok())
      << s.error_message();
  EXPECT_EQ(resp.responsible_la_code(), "E08000025");

  ev1::GetChildRecordResponse seen;
  ASSERT_TRUE(Get(kOtherLa, kid, cv1::CARE_PLANNING, &seen).ok());
  EXPECT_EQ(seen.record().scope().responsible_la_code(), "E08000025");
  EXPECT_EQ(Get(kLa, kid, cv1::CARE_PLANNING, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The old LA can no longer write; the new one can.
  ev1::PublishRecordRequest old_la;
  old_la.mutable_child()->set_kinex_id(kid);
  old_la.mutable_record()->mutable_identity()->set_given_name("Renamed");
  ev1::PublishRecordResponse pub;
  s = Publish(kLa, old_la, &pub, "wp-old-la");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), absl::StrCat(kUniform, "wp-old-la)"));
  ev1::PublishRecordRequest new_la = old_la;
  new_la.mutable_record()->mutable_identity()->set_given_name("Wren");
  *new_la.mutable_record()->mutable_identity()->mutable_date_of_birth() = Dob(2015, 4, 2);
  ASSERT_TRUE(Publish(kOtherLa, new_la, &pub).ok());
  EXPECT_EQ(pub.version(), 1);

  const std::vector<av1::AuditEvent> events = EventsAbout(by_kid);
  std::vector<av1::EventKind> writes;
  for (const auto& e : events) {
    if (e.kind() != av1::DISCLOSURE) writes.push_back(e.kind());
  }
  EXPECT_THAT(writes, ElementsAre(av1::PART_PUBLISHED, av1::WRITE_REFUSED, av1::WRITE_REFUSED,
                                  av1::RESPONSIBILITY_TRANSFERRED, av1::WRITE_REFUSED,
                                  av1::PART_PUBLISHED));
}

TEST_P(WritePathE2E, ALostEtagIsRecoveredWithGetMyPart) {
  const int seed = NextSeed();
  const std::string kid = CreateChild(absl::StrCat("WP-", seed), "");
  ev1::PublishRecordRequest again;
  again.mutable_child()->set_kinex_id(kid);
  again.mutable_record()->mutable_placement()->set_postcode("SW1A 1AA");
  ev1::PublishRecordResponse resp;
  grpc::Status s = Publish(kLa, again, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(s.error_message(),
            "etag: required; this local-authority's part already exists at version 1 "
            "(GetMyPart returns it with its etag; retry with that etag)");
  grpc::ClientContext ctx;
  Prepare(ctx, "wp-mine");
  ev1::GetMyPartRequest req;
  req.mutable_child()->set_kinex_id(kid);
  ev1::GetMyPartResponse mine;
  ASSERT_TRUE(Exchange(kLa)->GetMyPart(&ctx, req, &mine).ok());
  EXPECT_EQ(mine.version(), 1);
  EXPECT_EQ(mine.record().identity().given_name(), "Wren");
  again.set_etag(mine.etag());
  ASSERT_TRUE(Publish(kLa, again, &resp).ok());
  EXPECT_EQ(resp.version(), 2);
  // Another agency cannot read the LA's part through GetMyPart.
  grpc::ClientContext ctx2;
  Prepare(ctx2, "wp-mine-2");
  grpc::Status other = Exchange(kOtherLa)->GetMyPart(&ctx2, req, &mine);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(other.error_message(), "no part of yours exists for this child reference");
}

TEST_P(WritePathE2E, ConsentProbesLearnNeitherBirthDatesNorWhichChildrenExist) {
  const int seed = NextSeed();
  const std::string nhs = TestNhs(seed);
  CreateChild(absl::StrCat("WP-", seed), nhs, {{cv1::HEALTH, "Y01234"}});  // born 2015-04-02
  auto consent = kinex::consent::v1::Consent::NewStub(
      cluster_->AgencyChannel(kSchoolB.kind, kSchoolB.code, kSchoolB.role));
  auto probe = [&](const std::string& child_nhs, int64_t valid_from_seconds) {
    grpc::ClientContext ctx;
    Prepare(ctx, "wp-consent-probe");
    kinex::consent::v1::RecordConsentRequest req;
    req.mutable_child()->set_nhs_number(child_nhs);
    auto* grant = req.mutable_entry()->mutable_consent();
    grant->set_decision(kinex::consent::v1::CONSENT_GIVEN);
    grant->mutable_given_by()->set_kind(kinex::consent::v1::CHILD_AGED_16_OR_OVER);
    grant->mutable_given_by()->set_name("W. Halloway");
    grant->mutable_scope()->add_categories(rv1::EDUCATION);
    grant->mutable_scope()->add_recipient_kinds(cv1::SCHOOL);
    grant->mutable_scope()->add_purposes(cv1::EDUCATION_SUPPORT);
    req.mutable_entry()->mutable_valid_from()->set_seconds(valid_from_seconds);
    kinex::consent::v1::RecordConsentResponse resp;
    return consent->RecordConsent(&ctx, req, &resp);
  };
  // Either side of the child's 16th birthday (2031-04-02), and an unknown
  // child: one answer, so neither the date of birth nor the child's
  // existence leaks to an agency with no relationship.
  const int64_t before_16 = 1932768000;  // 2031-04-01T00:00:00Z
  const int64_t after_16 = 1932940800;   // 2031-04-03T00:00:00Z
  std::vector<grpc::Status> answers = {probe(nhs, before_16), probe(nhs, after_16),
                                       probe(TestNhs(seed + 5), before_16)};
  for (const grpc::Status& s : answers) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message(), "no child you may record consent for matches this reference");
  }
  // Each probe is audited, findable by the identifier it used.
  cv1::ChildRef by_nhs;
  by_nhs.set_nhs_number(nhs);
  int refused = 0;
  for (const auto& e : EventsAbout(by_nhs)) {
    if (e.kind() == av1::WRITE_REFUSED && e.agency_code() == "141999") ++refused;
  }
  EXPECT_EQ(refused, 2);
}

INSTANTIATE_TEST_SUITE_P(Deployments, WritePathE2E, ::testing::ValuesIn(AllDeployments()),
                         DeploymentName);

}  // namespace
}  // namespace kinex::testing
