// Decision semantics: deny by default, denies override grants, scope,
// conditions (jurisdiction, child status), legal bases per sensitivity,
// break-glass, obligations, row filters, fail-closed on bad requests.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluator.h"
#include "tests/policy/full_record.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
namespace cv1 = ::kinex::common::v1;
namespace rv1 = ::kinex::record::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kRoles[] =
    "roles { agency_kind: LOCAL_AUTHORITY names: [\"social-worker\"] }\n"
    "roles { agency_kind: SCHOOL names: [\"dsl\"] }\n";

std::shared_ptr<const CompiledPolicy> MustCompile(const std::string& rules) {
  auto p =
      CompilePolicy({PolicySource{"t.textproto", kRoles + rules}}, Schema::ChildRecordSchema());
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : nullptr;
}

pv1::DecisionRequest Request(const std::string& text) {
  pv1::DecisionRequest r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r)) << text;
  return r;
}

// A social worker of E09000033 asking about a child of E09000033.
constexpr char kSocialWorker[] =
    "principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" "
    "role: \"social-worker\" } child { scope { responsible_la_code: "
    "\"E09000033\" } } purpose: CARE_PLANNING ";

std::string Withheld(const pv1::Decision& d, rv1::Category c) {
  for (const auto& w : d.withheld()) {
    if (w.category() == c) {
      return absl::StrCat(pv1::WithheldReason_Name(w.reason()),
                          w.rule_id().empty() ? "" : ":" + w.rule_id(),
                          w.partial() ? " partial" : "");
    }
  }
  return "visible";
}

constexpr char kGrantIdentity[] = R"(
rules {
  id: "grant-identity"
  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED }
  principals { agency_kind: LOCAL_AUTHORITY roles: "social-worker" }
  purposes: CARE_PLANNING
  scope: RESPONSIBLE_AUTHORITY
  categories: [IDENTITY, LEGAL_STATUS]
}
)";

TEST(PolicyEvaluatorTest, DenyByDefault) {
  auto policy = MustCompile(kGrantIdentity);
  Evaluation e = Evaluate(
      *policy,
      Request(absl::StrCat("principal { agency_kind: SCHOOL agency_code: \"100869\" role: \"dsl\" }"
                           " child { scope { responsible_la_code: \"E09000033\" } }"
                           " purpose: SAFEGUARDING")));
  EXPECT_FALSE(e.decision.allowed());
  EXPECT_THAT(e.decision.allowed_paths(), IsEmpty());
  EXPECT_EQ(Withheld(e.decision, rv1::IDENTITY), "NOT_GRANTED");
  EXPECT_EQ(e.decision.withheld_size(), 8);
  EXPECT_EQ(e.decision.deny_reason(),
            "nothing may be disclosed: no rule grants school/dsl this for "
            "SAFEGUARDING");
  EXPECT_FALSE(e.plan->visible().Any());
  EXPECT_EQ(e.decision.policy_version(), policy->version);
}

TEST(PolicyEvaluatorTest, GrantByCategoryGivesCoarsestPaths) {
  auto policy = MustCompile(kGrantIdentity);
  Evaluation e = Evaluate(*policy, Request(kSocialWorker));
  EXPECT_TRUE(e.decision.allowed());
  // Ethnicity is special category and the rule states no basis for it.
  EXPECT_THAT(e.decision.allowed_paths(),
              ElementsAre("identity.date_of_birth", "identity.family_name", "identity.given_name",
                          "identity.kinex_id", "identity.la_child_id", "identity.nhs_number",
                          "identity.sex", "identity.upn", "legal_status",
                          "scope.current_school_urn", "scope.police_force_code",
                          "scope.registered_gp_ods_code", "scope.responsible_la_code"));
  EXPECT_EQ(Withheld(e.decision, rv1::IDENTITY), "NEEDS_CONSENT_OR_BASIS partial");
  EXPECT_EQ(Withheld(e.decision, rv1::HEALTH), "NOT_GRANTED");
  EXPECT_THAT(e.decision.matched_rule_ids(), ElementsAre("grant-identity"));
}

TEST(PolicyEvaluatorTest, DenyOverridesGrant) {
  auto policy = MustCompile(absl::StrCat(kGrantIdentity, R"(
rules {
  id: "no-legal-status"
  effect: DENY
  principals { agency_kind: LOCAL_AUTHORITY }
  field_paths: "legal_status.ssda903_legal_status"
}
)"));
  Evaluation e = Evaluate(*policy, Request(kSocialWorker));
  EXPECT_EQ(Withheld(e.decision, rv1::LEGAL_STATUS), "DENIED_BY_RULE:no-legal-status partial");
  EXPECT_FALSE(e.plan->visible().Test(
      policy->schema->Resolve("legal_status.ssda903_legal_status")->leaf_begin));
  EXPECT_THAT(e.decision.matched_rule_ids(), ElementsAre("grant-identity", "no-legal-status"));
}

TEST(PolicyEvaluatorTest, OutOfScope) {
  auto policy = MustCompile(kGrantIdentity);
  pv1::DecisionRequest r = Request(kSocialWorker);
  r.mutable_child()->mutable_scope()->set_responsible_la_code("E09000001");
  Evaluation e = Evaluate(*policy, r);
  EXPECT_FALSE(e.decision.allowed());
  EXPECT_EQ(Withheld(e.decision, rv1::IDENTITY), "OUT_OF_SCOPE");
  EXPECT_EQ(Withheld(e.decision, rv1::HEALTH), "NOT_GRANTED");
  EXPECT_THAT(e.decision.deny_reason(), HasSubstr("the child is outside the principal's scope"));
}

TEST(PolicyEvaluatorTest, EmptyPrincipalCodeNeverInScope) {
  auto policy = MustCompile(kGrantIdentity);
  pv1::DecisionRequest r = Request(kSocialWorker);
  r.mutable_principal()->clear_agency_code();
  r.mutable_child()->mutable_scope()->clear_responsible_la_code();
  EXPECT_FALSE(Evaluate(*policy, r).decision.allowed());
}

constexpr char kGrantHealth[] = R"(
rules {
  id: "grant-health"
  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED }
  principals { agency_kind: LOCAL_AUTHORITY roles: "social-worker" }
  purposes: CARE_PLANNING
  scope: RESPONSIBLE_AUTHORITY
  categories: HEALTH
  basis_requirements {
    sensitivity: SPECIAL_CATEGORY
    alternatives { basis: CONSENT }
    alternatives { basis: SAFEGUARDING_OF_CHILDREN requires_justification: true }
    alternatives { break_glass: true }
  }
  obligations: NOTIFY_RESPONSIBLE_LA
}
)";

TEST(PolicyEvaluatorTest, SpecialCategoryNeedsBasis) {
  auto policy = MustCompile(kGrantHealth);
  Evaluation e = Evaluate(*policy, Request(kSocialWorker));
  EXPECT_FALSE(e.decision.allowed());
  EXPECT_EQ(Withheld(e.decision, rv1::HEALTH), "NEEDS_CONSENT_OR_BASIS");
  EXPECT_THAT(e.decision.obligations(), IsEmpty());
}

TEST(PolicyEvaluatorTest, ConsentCoveringCategoryRecipientAndPurpose) {
  auto policy = MustCompile(kGrantHealth);
  Evaluation e = Evaluate(
      *policy,
      Request(absl::StrCat(kSocialWorker,
                           "bases { basis: CONSENT consent_id: \"c1\" categories: HEALTH "
                           "recipient_agency_kind: LOCAL_AUTHORITY purposes: CARE_PLANNING }")));
  EXPECT_TRUE(e.decision.allowed());
  EXPECT_THAT(e.decision.allowed_paths(), ElementsAre("health", "scope.health_provider_ods_codes"));
  ASSERT_EQ(e.decision.bases_used_size(), 1);
  EXPECT_EQ(e.decision.bases_used(0).basis(), cv1::CONSENT);
  EXPECT_EQ(e.decision.bases_used(0).consent_id(), "c1");
  EXPECT_EQ(e.decision.bases_used(0).category(), rv1::HEALTH);
  EXPECT_THAT(e.decision.obligations(), ElementsAre(pv1::NOTIFY_RESPONSIBLE_LA));
}

TEST(PolicyEvaluatorTest, ConsentThatDoesNotCoverIsIgnored) {
  auto policy = MustCompile(kGrantHealth);
  for (const char* basis : {
           // wrong category
           "bases { basis: CONSENT consent_id: \"c\" categories: POLICE "
           "recipient_agency_kind: LOCAL_AUTHORITY purposes: CARE_PLANNING }",
           // wrong recipient kind
           "bases { basis: CONSENT consent_id: \"c\" categories: HEALTH "
           "recipient_agency_kind: SCHOOL purposes: CARE_PLANNING }",
           // wrong recipient agency
           "bases { basis: CONSENT consent_id: \"c\" categories: HEALTH "
           "recipient_agency_kind: LOCAL_AUTHORITY recipient_agency_code: "
           "\"E09000001\" purposes: CARE_PLANNING }",
           // wrong purpose
           "bases { basis: CONSENT consent_id: \"c\" categories: HEALTH "
           "recipient_agency_kind: LOCAL_AUTHORITY purposes: SAFEGUARDING }",
           // no consent id
           "bases { basis: CONSENT categories: HEALTH "
           "recipient_agency_kind: LOCAL_AUTHORITY purposes: CARE_PLANNING }",
           // consent naming no categories covers nothing
           "bases { basis: CONSENT consent_id: \"c\" "
           "recipient_agency_kind: LOCAL_AUTHORITY purposes: CARE_PLANNING }",
           // statutory basis on file, but no justification
           "bases { basis: SAFEGUARDING_OF_CHILDREN consent_id: \"b\" }",
       }) {
    Evaluation e = Evaluate(*policy, Request(absl::StrCat(kSocialWorker, basis)));
    EXPECT_FALSE(e.decision.allowed()) << basis;
    EXPECT_EQ(Withheld(e.decision, rv1::HEALTH), "NEEDS_CONSENT_OR_BASIS") << basis;
  }
}

TEST(PolicyEvaluatorTest, StatutoryBasisOnFileWithJustification) {
  auto policy = MustCompile(kGrantHealth);
  Evaluation e = Evaluate(
      *policy, Request(absl::StrCat(kSocialWorker,
                                    "bases { basis: SAFEGUARDING_OF_CHILDREN consent_id: \"b1\" } "
                                    "justification: \"s47 enquiry\"")));
  EXPECT_THAT(e.decision.allowed_paths(), ElementsAre("health", "scope.health_provider_ods_codes"));
  EXPECT_THAT(e.decision.obligations(),
              ElementsAre(pv1::REQUIRE_JUSTIFICATION, pv1::NOTIFY_RESPONSIBLE_LA));
  EXPECT_EQ(e.decision.bases_used(0).basis(), cv1::SAFEGUARDING_OF_CHILDREN);
}

TEST(PolicyEvaluatorTest, BreakGlassNeedsJustification) {
  auto policy = MustCompile(kGrantHealth);
  Evaluation without = Evaluate(*policy, Request(absl::StrCat(kSocialWorker, "break_glass: true")));
  EXPECT_FALSE(without.decision.allowed());
  Evaluation with = Evaluate(
      *policy,
      Request(absl::StrCat(kSocialWorker, "break_glass: true justification: \"injured\"")));
  EXPECT_THAT(with.decision.allowed_paths(),
              ElementsAre("health", "scope.health_provider_ods_codes"));
  EXPECT_EQ(with.decision.bases_used(0).basis(), cv1::VITAL_INTERESTS);
  EXPECT_THAT(with.decision.obligations(),
              ElementsAre(pv1::NOTIFY_RESPONSIBLE_LA, pv1::BREAK_GLASS_REVIEW));
}

TEST(PolicyEvaluatorTest, ObligationsOnlyFromRulesThatDisclose) {
  auto policy = MustCompile(absl::StrCat(kGrantHealth, R"(
rules {
  id: "no-health"
  effect: DENY
  principals { agency_kind: LOCAL_AUTHORITY }
  categories: HEALTH
}
)"));
  Evaluation e = Evaluate(
      *policy,
      Request(absl::StrCat(kSocialWorker, "break_glass: true justification: \"injured\"")));
  EXPECT_FALSE(e.decision.allowed());
  EXPECT_THAT(e.decision.obligations(), IsEmpty());
  EXPECT_THAT(e.decision.bases_used(), IsEmpty());
  EXPECT_EQ(Withheld(e.decision, rv1::HEALTH), "DENIED_BY_RULE:no-health");
}

TEST(PolicyEvaluatorTest, JurisdictionCondition) {
  auto policy = MustCompile(R"(
rules {
  id: "england-only"
  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED }
  principals { agency_kind: LOCAL_AUTHORITY }
  purposes: CARE_PLANNING
  scope: RESPONSIBLE_AUTHORITY
  condition { jurisdictions: ENGLAND }
  categories: LEGAL_STATUS
}
)");
  EXPECT_TRUE(Evaluate(*policy, Request(kSocialWorker)).decision.allowed());
  pv1::DecisionRequest welsh = Request(kSocialWorker);
  welsh.mutable_principal()->set_agency_code("W06000015");
  welsh.mutable_child()->mutable_scope()->set_responsible_la_code("W06000015");
  Evaluation e = Evaluate(*policy, welsh);
  EXPECT_FALSE(e.decision.allowed());
  EXPECT_EQ(Withheld(e.decision, rv1::LEGAL_STATUS), "NOT_GRANTED");
  // An LA code of no known jurisdiction matches no jurisdiction condition.
  pv1::DecisionRequest odd = Request(kSocialWorker);
  odd.mutable_principal()->set_agency_code("X1");
  odd.mutable_child()->mutable_scope()->set_responsible_la_code("X1");
  EXPECT_FALSE(Evaluate(*policy, odd).decision.allowed());
}

TEST(PolicyEvaluatorTest, ChildStatusCondition) {
  auto policy = MustCompile(R"(
rules {
  id: "looked-after-only"
  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED }
  principals { agency_kind: LOCAL_AUTHORITY }
  purposes: CARE_PLANNING
  scope: RESPONSIBLE_AUTHORITY
  condition { child_statuses: LOOKED_AFTER }
  categories: LEGAL_STATUS
}
)");
  EXPECT_FALSE(Evaluate(*policy, Request(kSocialWorker)).decision.allowed());
  pv1::DecisionRequest r = Request(kSocialWorker);
  r.mutable_child()->set_looked_after(true);
  EXPECT_TRUE(Evaluate(*policy, r).decision.allowed());
}

TEST(PolicyEvaluatorTest, RequiresJustificationRule) {
  auto policy = MustCompile(R"(
rules {
  id: "justified"
  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED }
  principals { agency_kind: LOCAL_AUTHORITY }
  purposes: CARE_PLANNING
  scope: RESPONSIBLE_AUTHORITY
  requires_justification: true
  categories: LEGAL_STATUS
}
)");
  Evaluation e = Evaluate(*policy, Request(kSocialWorker));
  EXPECT_EQ(Withheld(e.decision, rv1::LEGAL_STATUS), "NEEDS_CONSENT_OR_BASIS");
  Evaluation j =
      Evaluate(*policy, Request(absl::StrCat(kSocialWorker, "justification: \"review\"")));
  EXPECT_THAT(j.decision.allowed_paths(), ElementsAre("legal_status"));
  EXPECT_THAT(j.decision.obligations(), ElementsAre(pv1::REQUIRE_JUSTIFICATION));
}

TEST(PolicyEvaluatorTest, RowFilterBoundToPrincipalCode) {
  auto policy = MustCompile(R"(
rules {
  id: "dsl"
  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED }
  principals { agency_kind: SCHOOL roles: "dsl" }
  purposes: SAFEGUARDING
  scope: SCHOOL_ROLL
  field_paths: "education.attendance_sessions"
  row_filters { repeated_field: "education.attendance_sessions" key_field: "school_urn" equals: PRINCIPAL_AGENCY_CODE }
}
)");
  Evaluation e = Evaluate(
      *policy,
      Request("principal { agency_kind: SCHOOL agency_code: \"100869\" role: \"dsl\" }"
              " child { scope { current_school_urn: \"100869\" } } purpose: SAFEGUARDING"));
  EXPECT_THAT(e.decision.allowed_paths(), ElementsAre("education.attendance_sessions"));
  ASSERT_EQ(e.decision.row_filters_size(), 1);
  EXPECT_EQ(e.decision.row_filters(0).equals(), "100869");
  EXPECT_EQ(e.decision.row_filters(0).key_field(), "school_urn");
}

TEST(PolicyEvaluatorTest, MalformedRequestsFailClosed) {
  auto policy = MustCompile(kGrantIdentity);
  struct Case {
    std::string request;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {"child {} purpose: CARE_PLANNING principal { role: \"x\" }",
            "invalid request: principal agency kind is unset"},
           {"purpose: CARE_PLANNING principal { agency_kind: LOCAL_AUTHORITY }",
            "invalid request: principal role is empty"},
           {"principal { agency_kind: LOCAL_AUTHORITY role: \"social-worker\" }",
            "invalid request: purpose is unset"},
           {"purpose: 99 principal { agency_kind: LOCAL_AUTHORITY role: "
            "\"social-worker\" }",
            "invalid request: purpose is unset"},
       }) {
    Evaluation e = Evaluate(*policy, Request(c.request));
    EXPECT_FALSE(e.decision.allowed());
    EXPECT_EQ(e.decision.deny_reason(), c.reason);
    EXPECT_EQ(Withheld(e.decision, rv1::IDENTITY), "EVALUATION_ERROR");
    EXPECT_FALSE(e.plan->visible().Any());
  }
}

TEST(PolicyEvaluatorTest, CacheKeyIgnoresChildIdentityButNotRelations) {
  pv1::DecisionRequest a = Request(kSocialWorker);
  pv1::DecisionRequest b = a;
  b.mutable_child()->mutable_scope()->set_current_school_urn("123456");
  EXPECT_EQ(EvaluationCacheKey(a), EvaluationCacheKey(b));
  pv1::DecisionRequest c = a;
  c.mutable_child()->mutable_scope()->set_responsible_la_code("E09000001");
  EXPECT_NE(EvaluationCacheKey(a), EvaluationCacheKey(c));
  pv1::DecisionRequest d = a;
  d.set_justification("why");
  EXPECT_NE(EvaluationCacheKey(a), EvaluationCacheKey(d));
  // Out-of-range enum values never alias valid ones.
  pv1::DecisionRequest e = a;
  e.set_purpose(static_cast<cv1::Purpose>(cv1::CARE_PLANNING + 32));
  EXPECT_NE(EvaluationCacheKey(a), EvaluationCacheKey(e));
  // A consent that cannot cover this principal does not change the key...
  pv1::DecisionRequest f = a;
  auto* other = f.add_bases();
  other->set_basis(cv1::CONSENT);
  other->set_consent_id("c");
  other->add_categories(rv1::HEALTH);
  other->set_recipient_agency_kind(cv1::SCHOOL);
  other->add_purposes(cv1::CARE_PLANNING);
  EXPECT_EQ(EvaluationCacheKey(a), EvaluationCacheKey(f));
  // ...one that can, does.
  other->set_recipient_agency_kind(cv1::LOCAL_AUTHORITY);
  EXPECT_NE(EvaluationCacheKey(a), EvaluationCacheKey(f));
}

TEST(PolicyEvaluatorTest, TraceExplainsEachRule) {
  auto policy = MustCompile(absl::StrCat(kGrantIdentity, kGrantHealth));
  std::vector<std::string> trace;
  Evaluate(*policy, Request(kSocialWorker), &trace);
  EXPECT_THAT(trace,
              ::testing::Contains(HasSubstr("rule \"grant-identity\" (GRANT, t.textproto:4:1): "
                                            "applies: grants")));
  EXPECT_THAT(trace,
              ::testing::Contains(HasSubstr("HEALTH/SPECIAL_CATEGORY withheld: no consent or "
                                            "basis satisfies the rule")));
  EXPECT_THAT(trace, ::testing::Contains("category HEALTH: withheld NEEDS_CONSENT_OR_BASIS"));
}

TEST(PolicyEvaluatorTest, MayRecordConsent) {
  auto policy = MustCompile(absl::StrCat(kGrantIdentity, R"(
consent_recorders {
  id: "la"
  principals { agency_kind: LOCAL_AUTHORITY roles: "social-worker" }
  scope: RESPONSIBLE_AUTHORITY
  bases: [CONSENT, SAFEGUARDING_OF_CHILDREN]
}
)"));
  pv1::DecisionRequest r = Request(kSocialWorker);
  EXPECT_TRUE(MayRecordConsent(*policy, r.principal(), r.child(), cv1::CONSENT).ok());
  absl::Status other_basis =
      MayRecordConsent(*policy, r.principal(), r.child(), cv1::HEALTH_OR_SOCIAL_CARE);
  EXPECT_EQ(other_basis.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(other_basis.message(), HasSubstr("does not let local-authority/social-worker record "
                                               "HEALTH_OR_SOCIAL_CARE for this child"));
  r.mutable_child()->mutable_scope()->set_responsible_la_code("E09000001");
  EXPECT_EQ(MayRecordConsent(*policy, r.principal(), r.child(), cv1::CONSENT).code(),
            absl::StatusCode::kPermissionDenied);
}

// --- Arrangements, stated functions and shields (issue #14) ---------------

constexpr char kKinshipOnly[] = R"(
rules {
  id: "kinship-only"
  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED }
  principals { agency_kind: LOCAL_AUTHORITY roles: "social-worker" }
  purposes: CARE_PLANNING
  scope: RESPONSIBLE_AUTHORITY
  condition { arrangement_types: [SPECIAL_GUARDIANSHIP_ORDER, CHILD_ARRANGEMENTS_ORDER] }
  categories: IDENTITY
}
)";

TEST(PolicyEvaluatorTest, ArrangementConditionNeedsACurrentMatchingArrangement) {
  auto policy = MustCompile(kKinshipOnly);
  const std::string who =
      "principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" role: "
      "\"social-worker\" } purpose: CARE_PLANNING ";
  EXPECT_TRUE(Evaluate(*policy, Request(who + "child { scope { responsible_la_code: "
                                              "\"E09000033\" } arrangement_types: "
                                              "SPECIAL_GUARDIANSHIP_ORDER }"))
                  .decision.allowed());
  EXPECT_FALSE(Evaluate(*policy, Request(who + "child { scope { responsible_la_code: "
                                               "\"E09000033\" } arrangement_types: "
                                               "PRIVATE_FOSTERING }"))
                   .decision.allowed());
  // No current arrangement matches no arrangement condition (fail closed).
  Evaluation none =
      Evaluate(*policy, Request(who + "child { scope { responsible_la_code: \"E09000033\" } }"));
  EXPECT_FALSE(none.decision.allowed());
  EXPECT_EQ(Withheld(none.decision, rv1::IDENTITY), "NOT_GRANTED");
}

TEST(PolicyEvaluatorTest, ArrangementsArePartOfTheCacheKey) {
  pv1::DecisionRequest a = Request(absl::StrCat(kSocialWorker));
  pv1::DecisionRequest b = a;
  b.mutable_child()->add_arrangement_types(rv1::SPECIAL_GUARDIANSHIP_ORDER);
  EXPECT_NE(EvaluationCacheKey(a), EvaluationCacheKey(b));
}

constexpr char kPublicBodyRequest[] = R"(
rules {
  id: "rli-on-request"
  effect: GRANT
  lawful_basis {
    article6: ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST
    annex1_condition: ANNEX1_PUBLIC_BODY_REQUEST
    gateways: CA2004_S11_SAFEGUARDING_ARRANGEMENTS
  }
  principals { agency_kind: LOCAL_AUTHORITY roles: "social-worker" }
  purposes: CARE_PLANNING
  scope: RESPONSIBLE_AUTHORITY
  categories: IDENTITY
}
)";

TEST(PolicyEvaluatorTest, RecognisedLegitimateInterestOnRequestNeedsAStatedFunction) {
  auto policy = MustCompile(kPublicBodyRequest);
  Evaluation without = Evaluate(*policy, Request(kSocialWorker));
  EXPECT_FALSE(without.decision.allowed());
  EXPECT_EQ(Withheld(without.decision, rv1::IDENTITY), "NEEDS_CONSENT_OR_BASIS");
  Evaluation blank =
      Evaluate(*policy, Request(absl::StrCat(kSocialWorker, "stated_function: \"   \"")));
  EXPECT_FALSE(blank.decision.allowed());
  Evaluation with = Evaluate(
      *policy, Request(absl::StrCat(kSocialWorker, "stated_function: \"Children Act 1989 s17\"")));
  ASSERT_TRUE(with.decision.allowed());
  ASSERT_FALSE(with.decision.grounds().empty());
  EXPECT_EQ(with.decision.grounds(0).rule_id(), "rli-on-request");
  EXPECT_EQ(with.decision.grounds(0).declared().article6(),
            cv1::ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST);
  EXPECT_NE(EvaluationCacheKey(Request(kSocialWorker)),
            EvaluationCacheKey(Request(absl::StrCat(kSocialWorker, "stated_function: \"x\""))));
}

TEST(PolicyEvaluatorTest, ResponsibleLaSeesThroughItsOwnShield) {
  auto policy = MustCompile(kGrantIdentity);
  const std::string school_la =
      "principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" role: "
      "\"social-worker\" } purpose: CARE_PLANNING ";
  // The responsible LA sees through its own shield: the same decision as
  // with no shield.
  Evaluation own =
      Evaluate(*policy, Request(school_la + "child { scope { responsible_la_code: "
                                            "\"E09000033\" } shielded_paths: \"identity\" "
                                            "shield_locating: true }"));
  Evaluation unshielded = Evaluate(
      *policy, Request(school_la + "child { scope { responsible_la_code: \"E09000033\" } }"));
  ASSERT_TRUE(own.decision.allowed());
  EXPECT_THAT(own.decision.allowed_paths(),
              ::testing::ElementsAreArray(unshielded.decision.allowed_paths()));
  EXPECT_THAT(own.decision.allowed_paths(), ::testing::Contains("identity.given_name"));
  EXPECT_THAT(own.decision.shielded(), IsEmpty());
}

constexpr char kGrantIdentityToSchool[] = R"(
rules {
  id: "school-identity"
  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA2004_S11_SAFEGUARDING_ARRANGEMENTS }
  principals { agency_kind: SCHOOL roles: "dsl" }
  purposes: SAFEGUARDING
  scope: SCHOOL_ROLL
  categories: [IDENTITY, LEGAL_STATUS]
}
)";

TEST(PolicyEvaluatorTest, ShieldBindsOtherAgenciesEvenOnBreakGlass) {
  auto policy = MustCompile(kGrantIdentityToSchool);
  const std::string dsl =
      "principal { agency_kind: SCHOOL agency_code: \"100869\" role: \"dsl\" } "
      "purpose: SAFEGUARDING justification: \"urgent, the child is missing tonight\" "
      "break_glass: true ";
  Evaluation e = Evaluate(
      *policy, Request(dsl + "child { scope { responsible_la_code: \"E09000033\" "
                             "current_school_urn: \"100869\" } shielded_paths: \"legal_status\" "
                             "shield_locating: true }"));
  ASSERT_TRUE(e.decision.allowed());
  EXPECT_EQ(Withheld(e.decision, rv1::LEGAL_STATUS), "NOT_GRANTED");
  EXPECT_THAT(e.decision.shielded(), ElementsAre(rv1::IDENTITY, rv1::LEGAL_STATUS));
  for (const std::string& p : e.decision.allowed_paths()) {
    EXPECT_NE(p, "scope.current_school_urn");
    EXPECT_NE(p, "scope");
  }
  // A shield is per child: part of the cache key when it binds.
  pv1::DecisionRequest plain = Request(dsl +
                                       "child { scope { responsible_la_code: "
                                       "\"E09000033\" current_school_urn: \"100869\" } }");
  EXPECT_NE(EvaluationCacheKey(plain),
            EvaluationCacheKey(Request(dsl + "child { scope { responsible_la_code: \"E09000033\" "
                                             "current_school_urn: \"100869\" } "
                                             "shield_locating: true }")));
}

TEST(PolicyEvaluatorTest, ShieldNamingAnUnknownPathFailsClosed) {
  auto policy = MustCompile(kGrantIdentityToSchool);
  Evaluation e = Evaluate(
      *policy,
      Request("principal { agency_kind: SCHOOL agency_code: \"100869\" role: \"dsl\" } "
              "purpose: SAFEGUARDING child { scope { responsible_la_code: \"E09000033\" "
              "current_school_urn: \"100869\" } shielded_paths: \"identity.no_such_field\" }"));
  EXPECT_FALSE(e.decision.allowed());
  EXPECT_EQ(Withheld(e.decision, rv1::IDENTITY), "EVALUATION_ERROR");
  EXPECT_THAT(e.decision.deny_reason(), HasSubstr("a shield names an unknown field path"));
}

}  // namespace
}  // namespace kinex::policy
