// Policy loading and validation: every error names file:line:column and the
// bad token, exactly.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "services/policy/compiled_policy.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::policy {
namespace {

using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;

// Line 1-4 of every test policy: the roles.
constexpr char kRoles[] =
    "roles { agency_kind: LOCAL_AUTHORITY names: \"social-worker\" }\n"
    "roles { agency_kind: SCHOOL names: \"designated-safeguarding-lead\" }\n"
    "roles { agency_kind: VIRTUAL_SCHOOL names: \"virtual-school-head\" }\n"
    "roles { agency_kind: AUDITOR names: \"auditor\" }\n";

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> Compile(const std::string& rules) {
  return CompilePolicy({PolicySource{"p.textproto", kRoles + rules}}, Schema::ChildRecordSchema());
}

// A valid rule, with `extra` spliced in before the closing brace.
std::string Rule(const std::string& extra, const std::string& id = "r1") {
  return absl::StrCat(
      "rules {\n"  // 5
      "  id: \"",
      id,
      "\"\n"  // 6
      "  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
      "CA1989_S17_CHILDREN_IN_NEED }\n"                                           // 7
      "  principals { agency_kind: LOCAL_AUTHORITY roles: \"social-worker\" }\n"  // 8
      "  purposes: CARE_PLANNING\n"                                               // 9
      "  scope: RESPONSIBLE_AUTHORITY\n",                                         // 10
      extra,                                                                      // 11...
      "}\n");
}

TEST(PolicyLoaderTest, ValidRuleLoads) {
  auto policy = Compile(Rule("  categories: IDENTITY\n"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_EQ((*policy)->rules.size(), 1u);
  EXPECT_EQ((*policy)->rules[0].id, "r1");
  EXPECT_EQ((*policy)->version.size(), 64u);
}

TEST(PolicyLoaderTest, UnknownFieldPath) {
  auto policy = Compile(Rule("  field_paths: \"educaton.pep\"\n"));
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: unknown field path \"educaton.pep\": no field "
            "\"educaton\" in kinex.record.v1.ChildRecord");
  // The file does not load; the first error is an unknown path.
  EXPECT_THAT(policy, HasErrorReason("POLICY_INVALID"));
  EXPECT_THAT(policy, HasErrorMetadata("file", "p.textproto"));
  EXPECT_THAT(policy, HasErrorMetadata("line", "11"));
  EXPECT_THAT(policy, HasErrorMetadata("path", "educaton.pep"));
}

TEST(PolicyLoaderTest, SchemaResolveNamesTheUnknownPath) {
  const auto schema = Schema::ChildRecordSchema();
  EXPECT_THAT(schema->Resolve("education.nope"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "no field \"nope\" in kinex.record.v1.Education"));
  EXPECT_THAT(schema->Resolve("education.nope"), HasErrorReason("POLICY_UNKNOWN_PATH"));
  EXPECT_THAT(schema->Resolve("education.nope"), HasErrorMetadata("path", "education.nope"));
  EXPECT_THAT(schema->Resolve(""),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty field path"));
  EXPECT_THAT(schema->Resolve(""), HasErrorReason("POLICY_UNKNOWN_PATH"));
  EXPECT_THAT(schema->Resolve("identity.date_of_birth.year"),
              HasErrorReason("POLICY_UNKNOWN_PATH"));
  EXPECT_THAT(Schema::Create(nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, "schema root is null"));
  EXPECT_THAT(Schema::Create(nullptr), HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(Schema::Create(nullptr), HasErrorMetadata("field", "root"));
}

TEST(PolicyLoaderTest, UnknownNestedFieldPath) {
  auto policy = Compile(Rule("  field_paths: [\"health.sdq.band\", \"health.sdq.bnd\"]\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: unknown field path \"health.sdq.bnd\": no field "
            "\"bnd\" in kinex.record.v1.Sdq");
}

TEST(PolicyLoaderTest, PathInsideValueTypeIsRejected) {
  auto policy = Compile(Rule("  field_paths: \"identity.date_of_birth.year\"\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: unknown field path "
            "\"identity.date_of_birth.year\": cannot select inside "
            "\"identity.date_of_birth\": value type kinex.record.v1.Date is "
            "granted whole");
}

TEST(PolicyLoaderTest, UnknownCategoryName) {
  auto policy = Compile(Rule("  categories: EDUCATIN\n"));
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:15: Unknown enumeration value of \"EDUCATIN\" for "
            "field \"categories\".");
  // A parse error: the line of the token the parser names.
  EXPECT_THAT(policy, HasErrorReason("POLICY_INVALID"));
  EXPECT_THAT(policy, HasErrorMetadata("file", "p.textproto"));
  EXPECT_THAT(policy, HasErrorMetadata("line", "11"));
}

TEST(PolicyLoaderTest, UnknownCategoryNumber) {
  auto policy = Compile(Rule("  categories: 42\n"));
  EXPECT_EQ(policy.status().message(), "p.textproto:11:3: unknown category 42");
}

TEST(PolicyLoaderTest, UnknownRole) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
      "CA1989_S17_CHILDREN_IN_NEED }\n"
      "  principals { agency_kind: LOCAL_AUTHORITY roles: \"socal-worker\" }\n"
      "  purposes: CARE_PLANNING\n"
      "  scope: RESPONSIBLE_AUTHORITY\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(),
            "p.textproto:8:45: unknown role \"socal-worker\" for agency kind "
            "LOCAL_AUTHORITY");
}

TEST(PolicyLoaderTest, RoleDeclaredForAnotherKindIsUnknown) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
      "CA1989_S17_CHILDREN_IN_NEED }\n"
      "  principals { agency_kind: SCHOOL roles: \"social-worker\" }\n"
      "  purposes: EDUCATION_SUPPORT\n"
      "  scope: SCHOOL_ROLL\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(),
            "p.textproto:8:36: unknown role \"social-worker\" for agency kind "
            "SCHOOL");
}

TEST(PolicyLoaderTest, UnknownAgencyKindName) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: DENY\n"
      "  principals { agency_kind: SCHOOLS }\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(),
            "p.textproto:8:29: Unknown enumeration value of \"SCHOOLS\" for "
            "field \"agency_kind\".");
}

TEST(PolicyLoaderTest, MissingAgencyKind) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: DENY\n"
      "  principals { roles: \"auditor\" }\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(), "p.textproto:8:3: agency_kind is required");
}

TEST(PolicyLoaderTest, UnknownPurposeName) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
      "CA1989_S17_CHILDREN_IN_NEED }\n"
      "  principals { agency_kind: LOCAL_AUTHORITY }\n"
      "  purposes: CARE_PLANING\n"
      "  scope: RESPONSIBLE_AUTHORITY\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(),
            "p.textproto:9:13: Unknown enumeration value of \"CARE_PLANING\" "
            "for field \"purposes\".");
}

TEST(PolicyLoaderTest, UnknownPurposeNumber) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
      "CA1989_S17_CHILDREN_IN_NEED }\n"
      "  principals { agency_kind: LOCAL_AUTHORITY }\n"
      "  purposes: 99\n"
      "  scope: RESPONSIBLE_AUTHORITY\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(), "p.textproto:9:3: unknown purpose 99");
}

TEST(PolicyLoaderTest, UnknownFieldInPolicySyntax) {
  auto policy = Compile(Rule("  catgories: IDENTITY\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: Message type \"kinex.policy.v1.Rule\" has no "
            "field named \"catgories\".");
}

TEST(PolicyLoaderTest, ScopeThatNeverHoldsForThePrincipal) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
      "CA1989_S17_CHILDREN_IN_NEED }\n"
      "  principals { agency_kind: LOCAL_AUTHORITY }\n"
      "  purposes: CARE_PLANNING\n"
      "  scope: SCHOOL_ROLL\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(),
            "p.textproto:10:3: rule \"r1\" can never match: scope SCHOOL_ROLL "
            "never holds for agency kind LOCAL_AUTHORITY");
}

TEST(PolicyLoaderTest, GrantWithoutPurposesNeverMatches) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: "
      "CA1989_S17_CHILDREN_IN_NEED }\n"
      "  principals { agency_kind: LOCAL_AUTHORITY }\n"
      "  scope: RESPONSIBLE_AUTHORITY\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(), "p.textproto:6:3: rule \"r1\" can never match: no purposes");
}

TEST(PolicyLoaderTest, RuleWithoutPrincipalsNeverMatches) {
  auto policy = Compile(
      "rules {\n"
      "  id: \"r1\"\n"
      "  effect: DENY\n"
      "  categories: IDENTITY\n"
      "}\n");
  EXPECT_EQ(policy.status().message(),
            "p.textproto:6:3: rule \"r1\" can never match: no principals");
}

TEST(PolicyLoaderTest, SensitiveOnlyGrantWithoutBasisNeverGrants) {
  auto policy = Compile(Rule("  categories: HEALTH\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:6:3: rule \"r1\" can never grant anything: every "
            "field it names is unlabelled or needs a basis requirement it "
            "does not state");
}

TEST(PolicyLoaderTest, StatutoryBasisOnSpecialCategoryNeedsJustification) {
  auto policy =
      Compile(Rule("  categories: HEALTH\n"
                   "  basis_requirements {\n"
                   "    sensitivity: SPECIAL_CATEGORY\n"
                   "    alternatives { basis: HEALTH_OR_SOCIAL_CARE inherent: true }\n"
                   "  }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:14:20: rule \"r1\": statutory basis "
            "HEALTH_OR_SOCIAL_CARE for SPECIAL_CATEGORY data must set "
            "requires_justification");
}

TEST(PolicyLoaderTest, ConsentCannotBeInherent) {
  auto policy =
      Compile(Rule("  categories: HEALTH\n"
                   "  basis_requirements {\n"
                   "    sensitivity: SPECIAL_CATEGORY\n"
                   "    alternatives { basis: CONSENT inherent: true }\n"
                   "  }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:14:35: CONSENT cannot be inherent: it must be on file");
}

TEST(PolicyLoaderTest, DuplicateRuleIdAcrossFiles) {
  auto policy =
      CompilePolicy({PolicySource{"a.textproto", kRoles + Rule("  categories: IDENTITY\n")},
                     PolicySource{"b.textproto", kRoles + Rule("  categories: EDUCATION\n")}},
                    Schema::ChildRecordSchema());
  EXPECT_EQ(policy.status().message(),
            "b.textproto:6:3: duplicate rule id \"r1\" (first defined at "
            "a.textproto:6:3)");
  EXPECT_THAT(policy, HasErrorReason("POLICY_INVALID"));
  EXPECT_THAT(policy, HasErrorMetadata("file", "b.textproto"));
  EXPECT_THAT(policy, HasErrorMetadata("line", "6"));
}

TEST(PolicyLoaderTest, RowFilterOnNonRepeatedField) {
  auto policy =
      Compile(Rule("  categories: EDUCATION\n"
                   "  row_filters { repeated_field: \"education.sen\" key_field: \"x\" "
                   "equals: PRINCIPAL_AGENCY_CODE }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:12:17: row filter field \"education.sen\" is not a "
            "repeated message field");
}

TEST(PolicyLoaderTest, RowFilterUnknownKey) {
  auto policy =
      Compile(Rule("  categories: EDUCATION\n"
                   "  row_filters { repeated_field: \"education.exclusions\" key_field: "
                   "\"urn\" equals: PRINCIPAL_AGENCY_CODE }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:12:56: unknown key field \"urn\": no field \"urn\" in "
            "kinex.record.v1.Exclusion");
  EXPECT_THAT(policy, HasErrorReason("POLICY_INVALID"));
  EXPECT_THAT(policy, HasErrorMetadata("line", "12"));
  EXPECT_THAT(policy, HasErrorMetadata("path", "urn"));
}

TEST(PolicyLoaderTest, RowFilterThatNeverApplies) {
  auto policy =
      Compile(Rule("  categories: IDENTITY\n"
                   "  row_filters { repeated_field: \"education.exclusions\" key_field: "
                   "\"school_urn\" equals: PRINCIPAL_AGENCY_CODE }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:12:17: row filter on \"education.exclusions\" never "
            "applies: rule \"r1\" grants nothing under it");
}

TEST(PolicyLoaderTest, SeveralErrorsAreReportedTogether) {
  auto policy = Compile(Rule("  categories: 42\n  field_paths: \"nope\"\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: unknown category 42\n"
            "p.textproto:12:3: unknown field path \"nope\": no field \"nope\" "
            "in kinex.record.v1.ChildRecord");
  // The metadata names the first error; it is not about a path.
  EXPECT_THAT(policy, HasErrorReason("POLICY_INVALID"));
  EXPECT_THAT(policy, HasErrorMetadata("line", "11"));
  EXPECT_THAT(policy, ::testing::Not(HasErrorMetadata("path", ::testing::_)));
}

TEST(PolicyLoaderTest, ConsentRecorderUnknownRoleAndBasis) {
  auto policy = Compile(
      "consent_recorders {\n"
      "  id: \"c1\"\n"
      "  principals { agency_kind: LOCAL_AUTHORITY roles: \"sw\" }\n"
      "  scope: RESPONSIBLE_AUTHORITY\n"
      "  bases: 77\n"
      "}\n");
  EXPECT_EQ(policy.status().message(),
            "p.textproto:7:45: unknown role \"sw\" for agency kind "
            "LOCAL_AUTHORITY\n"
            "p.textproto:9:3: unknown legal basis 77");
}

TEST(PolicyLoaderTest, NoSourcesIsAnError) {
  auto policy = CompilePolicy({}, Schema::ChildRecordSchema());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.status().message(), "no policy files to load");
  EXPECT_THAT(policy, HasErrorReason("POLICY_FILES_MISSING"));
  EXPECT_THAT(CompilePolicy({PolicySource{"p.textproto", kRoles}}, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, "no schema"));
  EXPECT_THAT(CompilePolicy({PolicySource{"p.textproto", kRoles}}, nullptr),
              HasErrorMetadata("field", "schema"));
}

TEST(PolicyLoaderTest, VersionIgnoresFormattingButNotContent) {
  auto a = Compile(Rule("  categories: IDENTITY\n"));
  auto b = Compile("# a comment\n\n" + Rule("  categories:    [IDENTITY]   # same\n"));
  auto c = Compile(Rule("  categories: EDUCATION\n"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ((*a)->version, (*b)->version);
  EXPECT_NE((*a)->version, (*c)->version);
}

class PolicyDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kinex::testing::MakeUniqueTempDir("policy-dir");
    std::filesystem::create_directories(dir_ / "tests");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(kinex::WriteFileAtomically((dir_ / name).string(), text).ok());
  }
  std::filesystem::path dir_;
};

TEST_F(PolicyDirTest, LoadsOnlyTextprotoFilesAtTopLevel) {
  Write("roles.textproto", kRoles);
  Write("rules.textproto", Rule("  categories: IDENTITY\n"));
  Write("README.md", "not policy");
  Write("tests/case.textproto", "this is not a PolicySet");
  auto policy = LoadPolicyDir(dir_.string(), Schema::ChildRecordSchema());
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ((*policy)->files.size(), 2u);
}

TEST_F(PolicyDirTest, ErrorNamesTheFilePath) {
  Write("roles.textproto", kRoles);
  Write("rules.textproto", Rule("  categories: 42\n"));
  auto policy = LoadPolicyDir(dir_.string(), Schema::ChildRecordSchema());
  EXPECT_EQ(policy.status().message(),
            (dir_ / "rules.textproto").string() + ":7:3: unknown category 42");
  EXPECT_THAT(policy, HasErrorReason("POLICY_INVALID"));
  EXPECT_THAT(policy, HasErrorMetadata("file", (dir_ / "rules.textproto").string()));
  EXPECT_THAT(policy, HasErrorMetadata("line", "7"));
}

TEST_F(PolicyDirTest, EmptyDirectoryIsAnError) {
  auto policy = LoadPolicyDir(dir_.string(), Schema::ChildRecordSchema());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(policy.status().message(), HasSubstr("no *.textproto policy files in"));
  EXPECT_THAT(policy, HasErrorReason("POLICY_FILES_MISSING"));
}

TEST_F(PolicyDirTest, MissingDirectoryIsNotFound) {
  auto policy = LoadPolicyDir((dir_ / "nope").string(), Schema::ChildRecordSchema());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(policy.status().message(), HasSubstr("does not exist"));
  EXPECT_THAT(policy, HasErrorReason("POLICY_FILES_MISSING"));
}

// --- Lawful bases and arrangement conditions (issue #14) ------------------

// Like Rule(), without a lawful basis: `extra` starts at line 11.
std::string BareRule(const std::string& extra) {
  return absl::StrCat(
      "rules {\n"                                                                 // 5
      "  id: \"r1\"\n"                                                            // 6
      "  effect: GRANT\n"                                                         // 7
      "  principals { agency_kind: LOCAL_AUTHORITY roles: \"social-worker\" }\n"  // 8
      "  purposes: CARE_PLANNING\n"                                               // 9
      "  scope: RESPONSIBLE_AUTHORITY\n",                                         // 10
      extra, "  categories: IDENTITY\n}\n");
}

TEST(PolicyLoaderTest, GrantWithoutLawfulBasisIsRefused) {
  auto policy = Compile(BareRule(""));
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.status().message(),
            "p.textproto:6:3: rule \"r1\" grants but declares no lawful_basis (article6 and at "
            "least one statutory gateway)");
}

TEST(PolicyLoaderTest, LawfulBasisWithoutGatewayIsRefused) {
  auto policy = Compile(BareRule("  lawful_basis { article6: ARTICLE6_PUBLIC_TASK }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: rule \"r1\": lawful_basis names no statutory gateway");
}

TEST(PolicyLoaderTest, LawfulBasisWithoutArticle6IsRefused) {
  auto policy = Compile(BareRule("  lawful_basis { gateways: CA1989_S17_CHILDREN_IN_NEED }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: rule \"r1\": lawful_basis.article6 is required");
}

TEST(PolicyLoaderTest, RecognisedLegitimateInterestNeedsAnnex1Condition) {
  auto policy =
      Compile(BareRule("  lawful_basis { article6: ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST "
                       "gateways: CA1989_S17_CHILDREN_IN_NEED }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: rule \"r1\": a recognised legitimate interest needs an "
            "annex1_condition");
}

TEST(PolicyLoaderTest, Annex1ConditionOnlyWithRecognisedLegitimateInterest) {
  auto policy =
      Compile(BareRule("  lawful_basis {\n"                                  // 11
                       "    article6: ARTICLE6_PUBLIC_TASK\n"                // 12
                       "    annex1_condition: ANNEX1_PUBLIC_BODY_REQUEST\n"  // 13
                       "    gateways: CA1989_S17_CHILDREN_IN_NEED\n"
                       "  }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:13:5: rule \"r1\": annex1_condition only goes with "
            "ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST");
}

TEST(PolicyLoaderTest, EnglandOnlyGatewaysNeedAnEnglandCondition) {
  const std::string basis =
      "  lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: VSH_KINSHIP_EXTENSION_GUIDANCE "
      "gateways: CA2004_S16LA_DUTY_TO_SHARE }\n";
  auto policy = Compile(BareRule(basis));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:11:3: rule \"r1\": every gateway it relies on is England-only, so it "
            "needs condition { jurisdictions: ENGLAND }");
  auto england = Compile(BareRule(basis + "  condition { jurisdictions: ENGLAND }\n"));
  EXPECT_TRUE(england.ok()) << england.status();
  // One gateway that also exists in Wales is enough.
  auto both = Compile(BareRule(
      "  lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA2004_S16LA_DUTY_TO_SHARE "
      "gateways: CA2004_S11_SAFEGUARDING_ARRANGEMENTS }\n"));
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_THAT((*both)->rules[0].lawful_basis.gateways(),
              ::testing::ElementsAre(kinex::common::v1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS,
                                     kinex::common::v1::CA2004_S16LA_DUTY_TO_SHARE));
}

TEST(PolicyLoaderTest, Part3IsForPolicePrincipalsOnly) {
  auto policy =
      Compile(BareRule("  lawful_basis {\n"                             // 11
                       "    article6: ARTICLE6_LAW_ENFORCEMENT_TASK\n"  // 12
                       "    regime: DPA_2018_PART_3\n"                  // 13
                       "    gateways: CA1989_S47_CHILD_PROTECTION\n"
                       "  }\n"));
  EXPECT_EQ(policy.status().message(),
            "p.textproto:13:5: rule \"r1\": DPA_2018_PART_3 is law-enforcement processing, for "
            "police principals only");
}

TEST(PolicyLoaderTest, DenyTakesNoLawfulBasis) {
  auto policy = Compile(
      "rules {\n"                               // 5
      "  id: \"d1\"\n"                          // 6
      "  effect: DENY\n"                        // 7
      "  principals { agency_kind: SCHOOL }\n"  // 8
      "  categories: HEALTH\n"                  // 9
      "  lawful_basis { article6: ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED }\n"
      "}\n");
  EXPECT_EQ(policy.status().message(),
            "p.textproto:10:3: rule \"d1\": a DENY rule takes no lawful_basis");
}

TEST(PolicyLoaderTest, UnknownArrangementType) {
  auto policy = Compile(Rule("  categories: IDENTITY\n  condition { arrangement_types: 42 }\n"));
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.status().message(), "p.textproto:12:15: unknown arrangement type 42");
}

}  // namespace
}  // namespace kinex::policy
