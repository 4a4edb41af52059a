// The lawful-basis tuple of a disclosure: decided by the default policy set,
// joined with the controllers whose parts were read. One tuple per
// controller and basis; the regime, Art 6, Art 9/10 and gateways right for
// each; Welsh records cited under Welsh law; never empty on a disclosure.
#include "services/policy/lawful_basis.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluator.h"
#include "tests/testing/paths.h"

namespace kinex::policy {
namespace {

namespace cv1 = ::kinex::common::v1;
namespace pv1 = ::kinex::policy::v1;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::shared_ptr<const CompiledPolicy> DefaultPolicy() {
  static const auto* policy = new std::shared_ptr<const CompiledPolicy>(
      *LoadPolicyDir(kinex::testing::SourceDir() + "/policy", Schema::ChildRecordSchema()));
  return *policy;
}

pv1::Decision Decide(const std::string& text) {
  pv1::DecisionRequest r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r)) << text;
  return Evaluate(*DefaultPolicy(), r).decision;
}

const Controller kLa{cv1::LOCAL_AUTHORITY, "E09000033"};
const Controller kWelshLa{cv1::LOCAL_AUTHORITY, "W06000015"};
const Controller kForce{cv1::POLICE, "01"};
const Controller kGp{cv1::HEALTH, "F84001"};

TEST(LawfulBasisTest, GatewaysAreCitedForTheChildsJurisdiction) {
  EXPECT_EQ(GatewayCitation(cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS, pv1::ENGLAND),
            "Children Act 2004 s11: arrangements to safeguard and promote the welfare of "
            "children");
  EXPECT_EQ(GatewayCitation(cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS, pv1::WALES),
            "Children Act 2004 s28: arrangements to safeguard and promote the welfare of "
            "children (Wales)");
  EXPECT_EQ(GatewayCitation(cv1::CA1989_S17_CHILDREN_IN_NEED, pv1::WALES),
            "Social Services and Well-being (Wales) Act 2014 s37: duty to meet the care and "
            "support needs of a child");
  EXPECT_EQ(GatewayCitation(cv1::CA1989_S22_LOOKED_AFTER_CHILDREN, pv1::WALES),
            "Social Services and Well-being (Wales) Act 2014 s78: general duty of a local "
            "authority to looked-after children");
  // England-only duties have no Welsh citation.
  EXPECT_EQ(GatewayCitation(cv1::CA2004_S16LA_DUTY_TO_SHARE, pv1::WALES), "");
  EXPECT_EQ(GatewayCitation(cv1::VSH_KINSHIP_EXTENSION_GUIDANCE, pv1::WALES), "");
  EXPECT_EQ(GatewayCitation(cv1::CA1989_S23ZZA_PREVIOUSLY_LOOKED_AFTER, pv1::WALES), "");
  // An unknown jurisdiction cites nothing (fail closed).
  EXPECT_EQ(
      GatewayCitation(cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS, pv1::JURISDICTION_UNSPECIFIED),
      "");
  // Every gateway has an English citation.
  for (int g = 1; g < cv1::StatutoryGateway_ARRAYSIZE; ++g) {
    if (!cv1::StatutoryGateway_IsValid(g)) continue;
    EXPECT_NE(GatewayCitation(static_cast<cv1::StatutoryGateway>(g), pv1::ENGLAND), "")
        << cv1::StatutoryGateway_Name(g);
  }
}

TEST(LawfulBasisTest, SocialWorkerInEnglandPublicTaskAndSafeguardingCondition) {
  pv1::Decision d = Decide(
      "principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" role: "
      "\"social-worker\" } child { scope { responsible_la_code: \"E09000033\" } } "
      "purpose: SAFEGUARDING justification: \"s47 strategy discussion\"");
  ASSERT_TRUE(d.allowed());
  // The LA's own identity (name) and its ethnicity (special category); the
  // GP's immunisation status.
  std::vector<cv1::LawfulBasis> bases = LawfulBasesFor(
      d, {"identity.given_name", "identity.ethnicity", "health.immunisations_up_to_date"},
      {kLa, kGp}, pv1::ENGLAND, "");
  ASSERT_EQ(bases.size(), 3u);
  // Sorted by controller: the LA (kind 1) first, then the GP (kind 4).
  const cv1::LawfulBasis& la_personal = bases[0];
  EXPECT_EQ(la_personal.controller_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(la_personal.regime(), cv1::UK_GDPR);
  EXPECT_EQ(la_personal.article6(), cv1::ARTICLE6_PUBLIC_TASK);
  EXPECT_EQ(la_personal.special_category_condition(), cv1::SENSITIVE_DATA_CONDITION_UNSPECIFIED);
  EXPECT_THAT(la_personal.gateways(),
              ElementsAre(cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS,
                          cv1::CA2004_S16LA_DUTY_TO_SHARE, cv1::CA1989_S17_CHILDREN_IN_NEED,
                          cv1::CA1989_S47_CHILD_PROTECTION, cv1::CA1989_S22_LOOKED_AFTER_CHILDREN));
  EXPECT_THAT(la_personal.categories(), ElementsAre(kinex::record::v1::IDENTITY));
  const cv1::LawfulBasis& la_special = bases[1];
  EXPECT_EQ(la_special.controller_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(la_special.special_category_condition(),
            cv1::SAFEGUARDING_OF_CHILDREN_AND_INDIVIDUALS_AT_RISK);
  EXPECT_THAT(la_special.citations(),
              ::testing::Contains("UK GDPR Art 9(2)(g) with DPA 2018 Sch 1 para 18: "
                                  "safeguarding of children and of individuals at risk"));
  const cv1::LawfulBasis& gp = bases[2];
  EXPECT_EQ(gp.controller_kind(), cv1::HEALTH);
  EXPECT_EQ(gp.controller_code(), "F84001");
  EXPECT_THAT(gp.categories(), ElementsAre(kinex::record::v1::HEALTH));
  EXPECT_NE(gp.special_category_condition(), cv1::SENSITIVE_DATA_CONDITION_UNSPECIFIED);
}

TEST(LawfulBasisTest, WelshRecordCitesWelshLawAndDropsEnglishOnlyDuties) {
  pv1::Decision d = Decide(
      "principal { agency_kind: LOCAL_AUTHORITY agency_code: \"W06000015\" role: "
      "\"social-worker\" } child { scope { responsible_la_code: \"W06000015\" } } "
      "purpose: CARE_PLANNING");
  ASSERT_TRUE(d.allowed());
  std::vector<cv1::LawfulBasis> bases =
      LawfulBasesFor(d, {"identity.given_name"}, {kWelshLa}, pv1::WALES, "");
  ASSERT_EQ(bases.size(), 1u);
  EXPECT_THAT(
      bases[0].gateways(),
      ElementsAre(cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS, cv1::CA1989_S17_CHILDREN_IN_NEED,
                  cv1::CA1989_S47_CHILD_PROTECTION, cv1::CA1989_S22_LOOKED_AFTER_CHILDREN));
  EXPECT_THAT(
      bases[0].citations(),
      ElementsAre("UK GDPR and Data Protection Act 2018 Part 2", "UK GDPR Art 6(1)(e): public task",
                  "Children Act 2004 s28: arrangements to safeguard and promote the welfare of "
                  "children (Wales)",
                  "Social Services and Well-being (Wales) Act 2014 s37: duty to meet the care "
                  "and support needs of a child",
                  "Children Act 1989 s47 and Social Services and Well-being (Wales) Act 2014 "
                  "s130: child protection enquiries, duty to report children at risk",
                  "Social Services and Well-being (Wales) Act 2014 s78: general duty of a local "
                  "authority to looked-after children"));
}

TEST(LawfulBasisTest, PoliceOwnDataIsPart3AndTheLasIsUkGdpr) {
  pv1::Decision d = Decide(
      "principal { agency_kind: POLICE agency_code: \"01\" role: \"public-protection-officer\" } "
      "child { scope { responsible_la_code: \"E09000033\" police_force_code: \"01\" } } "
      "purpose: SAFEGUARDING justification: \"MASH referral 123\"");
  ASSERT_TRUE(d.allowed());
  std::vector<cv1::LawfulBasis> bases =
      LawfulBasesFor(d, {"identity.given_name", "police.incidents.classification"}, {kLa, kForce},
                     pv1::ENGLAND, "");
  ASSERT_EQ(bases.size(), 2u);
  EXPECT_EQ(bases[0].controller_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(bases[0].regime(), cv1::UK_GDPR);
  EXPECT_EQ(bases[0].article6(), cv1::ARTICLE6_PUBLIC_TASK);
  EXPECT_EQ(bases[1].controller_kind(), cv1::POLICE);
  EXPECT_EQ(bases[1].regime(), cv1::DPA_2018_PART_3);
  EXPECT_EQ(bases[1].article6(), cv1::ARTICLE6_LAW_ENFORCEMENT_TASK);
  EXPECT_EQ(bases[1].criminal_offence_condition(), cv1::LAW_ENFORCEMENT_SAFEGUARDING_SCH8);
  EXPECT_THAT(bases[1].categories(), ElementsAre(kinex::record::v1::POLICE));
  EXPECT_THAT(
      bases[1].gateways(),
      ElementsAre(cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS, cv1::CA2004_S16LA_DUTY_TO_SHARE,
                  cv1::CA1989_S47_CHILD_PROTECTION, cv1::CDA1998_S115_CRIME_PREVENTION));
}

TEST(LawfulBasisTest, BreakGlassIsVitalInterests) {
  pv1::Decision d = Decide(
      "principal { agency_kind: POLICE agency_code: \"01\" role: \"public-protection-officer\" } "
      "child { scope { responsible_la_code: \"E09000033\" police_force_code: \"01\" } } "
      "purpose: SAFEGUARDING justification: \"child found injured, medication needed now\" "
      "break_glass: true");
  ASSERT_TRUE(d.allowed());
  std::vector<cv1::LawfulBasis> bases =
      LawfulBasesFor(d, {"health.immunisations_up_to_date"}, {kGp}, pv1::ENGLAND, "");
  ASSERT_EQ(bases.size(), 1u);
  EXPECT_EQ(bases[0].regime(), cv1::UK_GDPR);
  EXPECT_EQ(bases[0].article6(), cv1::ARTICLE6_VITAL_INTERESTS);
  EXPECT_EQ(bases[0].special_category_condition(), cv1::VITAL_INTERESTS_OF_THE_CHILD);
}

TEST(LawfulBasisTest, ConsentNamesTheConsentAndExplicitConsent) {
  pv1::Decision d = Decide(
      "principal { agency_kind: VIRTUAL_SCHOOL agency_code: \"E09000033\" role: "
      "\"virtual-school-head\" } child { scope { responsible_la_code: \"E09000033\" } "
      "looked_after: true } purpose: EDUCATION_SUPPORT bases { basis: CONSENT consent_id: "
      "\"cn_1\" categories: HEALTH recipient_agency_kind: VIRTUAL_SCHOOL purposes: "
      "EDUCATION_SUPPORT }");
  // The SDQ is the LA's (SSDA903), so the LA is the controller.
  std::vector<cv1::LawfulBasis> bases =
      LawfulBasesFor(d, {"health.sdq.band"}, {kLa, kGp}, pv1::ENGLAND, "");
  ASSERT_EQ(bases.size(), 1u);
  EXPECT_EQ(bases[0].controller_kind(), cv1::LOCAL_AUTHORITY);
  EXPECT_EQ(bases[0].article6(), cv1::ARTICLE6_PUBLIC_TASK);
  EXPECT_EQ(bases[0].special_category_condition(), cv1::EXPLICIT_CONSENT);
  EXPECT_EQ(bases[0].consent_id(), "cn_1");
  EXPECT_THAT(bases[0].gateways(), ElementsAre(cv1::CA1989_S22_LOOKED_AFTER_CHILDREN,
                                               cv1::CA1989_S23ZZA_PREVIOUSLY_LOOKED_AFTER));
}

TEST(LawfulBasisTest, RecognisedLegitimateInterestCarriesTheStatedFunction) {
  pv1::Decision d;
  pv1::Ground* g = d.add_grounds();
  g->set_category(kinex::record::v1::IDENTITY);
  g->set_sensitivity(kinex::record::v1::PERSONAL);
  g->set_rule_id("rli");
  g->mutable_declared()->set_article6(cv1::ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST);
  g->mutable_declared()->set_annex1_condition(cv1::ANNEX1_PUBLIC_BODY_REQUEST);
  g->mutable_declared()->add_gateways(cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS);
  std::vector<cv1::LawfulBasis> bases = LawfulBasesFor(
      d, {"identity.given_name"}, {kLa}, pv1::ENGLAND, "Children Act 1989 s17 assessment");
  ASSERT_EQ(bases.size(), 1u);
  EXPECT_EQ(bases[0].annex1_condition(), cv1::ANNEX1_PUBLIC_BODY_REQUEST);
  EXPECT_EQ(bases[0].stated_function(), "Children Act 1989 s17 assessment");
  EXPECT_EQ(bases[0].citations(bases[0].citations_size() - 1),
            "Stated function: Children Act 1989 s17 assessment");
}

TEST(LawfulBasisTest, OnlyControllersWhoseDataWasDisclosed) {
  pv1::Decision d = Decide(
      "principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" role: "
      "\"social-worker\" } child { scope { responsible_la_code: \"E09000033\" } } "
      "purpose: CARE_PLANNING");
  // The force's part was read but nothing of it was disclosed.
  std::vector<cv1::LawfulBasis> bases =
      LawfulBasesFor(d, {"identity.given_name"}, {kLa, kForce}, pv1::ENGLAND, "");
  ASSERT_EQ(bases.size(), 1u);
  EXPECT_EQ(bases[0].controller_kind(), cv1::LOCAL_AUTHORITY);
  // Nothing disclosed: no tuple.
  EXPECT_THAT(LawfulBasesFor(d, {}, {kLa}, pv1::ENGLAND, ""), IsEmpty());
}

}  // namespace
}  // namespace kinex::policy
