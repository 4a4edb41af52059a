// The redactor: keeps exactly what a plan names, through nested and
// repeated messages; clears everything else, including fields no rule grants,
// unlabelled fields and unknown fields; filters rows.
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "services/common/record_labels.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluator.h"
#include "services/policy/redactor.h"
#include "tests/policy/full_record.h"
#include "tests/policy/record_paths.h"
#include "tests/policy/test_record.pb.h"
#include "tests/testing/status_matchers.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
namespace rv1 = ::kinex::record::v1;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;
using ::testing::HasSubstr;
using testing::PresentPaths;

std::string SourceDir() {
  const char* dir = std::getenv("KINEX_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::shared_ptr<const CompiledPolicy> DefaultPolicy() {
  static auto* policy = new std::shared_ptr<const CompiledPolicy>(
      *LoadPolicyDir(SourceDir() + "/policy", Schema::ChildRecordSchema()));
  return *policy;
}

pv1::DecisionRequest Request(const std::string& text) {
  pv1::DecisionRequest r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r)) << text;
  return r;
}

// Every present path is under an allowed path.
void ExpectOnlyAllowed(const google::protobuf::Message& m, const pv1::Decision& d) {
  std::vector<std::string> allowed(d.allowed_paths().begin(), d.allowed_paths().end());
  for (const std::string& p : PresentPaths(m)) {
    EXPECT_TRUE(testing::Covered(p, allowed)) << p << " survived redaction";
  }
}

TEST(PolicyRedactorTest, WholeRecordPlanKeepsEverything) {
  Evaluation e =
      Evaluate(*DefaultPolicy(),
               Request("principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" "
                       "role: \"social-worker\" } child { scope { responsible_la_code: "
                       "\"E09000033\" } } purpose: SAFEGUARDING justification: \"s47\""));
  rv1::ChildRecord record = testing::FullRecord();
  rv1::ChildRecord redacted = record;
  ASSERT_TRUE(Redactor().Apply(*e.plan, &redacted).ok());
  EXPECT_EQ(redacted.SerializeAsString(), record.SerializeAsString());
}

TEST(PolicyRedactorTest, VirtualSchoolHeadSeesOnlyItsPaths) {
  Evaluation e =
      Evaluate(*DefaultPolicy(),
               Request("principal { agency_kind: VIRTUAL_SCHOOL agency_code: \"E09000033\" "
                       "role: \"virtual-school-head\" } child { scope { responsible_la_code: "
                       "\"E09000033\" } looked_after: true } purpose: EDUCATION_SUPPORT "
                       "bases { basis: CONSENT consent_id: \"c\" categories: HEALTH "
                       "recipient_agency_kind: VIRTUAL_SCHOOL purposes: EDUCATION_SUPPORT }"));
  rv1::ChildRecord record = testing::FullRecord();
  ASSERT_TRUE(Redactor().Apply(*e.plan, &record).ok());
  ExpectOnlyAllowed(record, e.decision);
  EXPECT_FALSE(record.has_police());
  EXPECT_FALSE(record.has_safeguarding());
  EXPECT_FALSE(record.has_financial_support());
  EXPECT_FALSE(record.has_placement());
  EXPECT_TRUE(record.identity().ethnicity().empty());
  EXPECT_EQ(record.health().sdq().band(), rv1::SDQ_CONCERN);
  EXPECT_EQ(record.health().sdq().total_score(), 0);
  EXPECT_EQ(record.health().assessments_size(), 0);
  EXPECT_EQ(record.education().attendance_sessions_size(), 200);
  EXPECT_EQ(record.legal_status_size(), 10);
}

TEST(PolicyRedactorTest, SchoolSeesOnlyItsOwnRows) {
  Evaluation e =
      Evaluate(*DefaultPolicy(),
               Request("principal { agency_kind: SCHOOL agency_code: \"100869\" role: "
                       "\"designated-safeguarding-lead\" } child { scope { "
                       "responsible_la_code: \"E09000033\" current_school_urn: \"100869\" } } "
                       "purpose: SAFEGUARDING"));
  rv1::ChildRecord record = testing::FullRecord();
  ASSERT_TRUE(Redactor().Apply(*e.plan, &record).ok());
  ExpectOnlyAllowed(record, e.decision);
  ASSERT_EQ(record.education().attendance_sessions_size(), 100);
  for (const auto& s : record.education().attendance_sessions()) {
    EXPECT_EQ(s.school_urn(), testing::kSchoolUrn);
  }
  ASSERT_EQ(record.education().enrolments_size(), 1);
  EXPECT_EQ(record.education().enrolments(0).urn(), testing::kSchoolUrn);
  ASSERT_EQ(record.police().encompass_notifications_size(), 15);
  for (const auto& n : record.police().encompass_notifications()) {
    EXPECT_EQ(n.school_urn(), testing::kSchoolUrn);
    EXPECT_TRUE(n.summary().empty());  // criminal offence data, no basis
    EXPECT_TRUE(n.has_incident_time());
  }
  EXPECT_EQ(record.police().incidents_size(), 0);
  EXPECT_FALSE(record.has_health());
  EXPECT_TRUE(record.safeguarding().child_protection_plan_open());
  EXPECT_EQ(record.safeguarding().child_protection_plans_size(), 0);
  EXPECT_FALSE(record.safeguarding().social_worker().name().empty());
}

TEST(PolicyRedactorTest, DenyPlanClearsEverything) {
  Evaluation e =
      Evaluate(*DefaultPolicy(),
               Request("principal { agency_kind: AUDITOR agency_code: \"ICO\" role: \"auditor\" }"
                       " child { scope { responsible_la_code: \"E09000033\" } } "
                       "purpose: SAFEGUARDING"));
  rv1::ChildRecord record = testing::FullRecord();
  ASSERT_TRUE(Redactor().Apply(*e.plan, &record).ok());
  EXPECT_EQ(record.ByteSizeLong(), 0u);
}

TEST(PolicyRedactorTest, UnknownFieldsNeverSurvive) {
  Evaluation e =
      Evaluate(*DefaultPolicy(),
               Request("principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E09000033\" "
                       "role: \"social-worker\" } child { scope { responsible_la_code: "
                       "\"E09000033\" } } purpose: SAFEGUARDING justification: \"s47\""));
  rv1::ChildRecord record = testing::FullRecord();
  // Field 99 at the root, and inside identity, a date and an attendance row:
  // as if published with a newer schema.
  auto add_unknown = [](google::protobuf::Message* m) {
    m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(99,
                                                                    "secret from a newer schema");
  };
  add_unknown(&record);
  add_unknown(record.mutable_identity());
  add_unknown(record.mutable_identity()->mutable_date_of_birth());
  add_unknown(record.mutable_education()->mutable_attendance_sessions(5));
  ASSERT_TRUE(testing::HasUnknownFields(record));
  ASSERT_TRUE(Redactor().Apply(*e.plan, &record).ok());
  EXPECT_FALSE(testing::HasUnknownFields(record));
  EXPECT_EQ(record.SerializeAsString().find("secret"), std::string::npos);
}

TEST(PolicyRedactorTest, FromDecisionMatchesCompiledPlan) {
  Evaluation e =
      Evaluate(*DefaultPolicy(),
               Request("principal { agency_kind: SCHOOL agency_code: \"100869\" role: "
                       "\"designated-safeguarding-lead\" } child { scope { "
                       "responsible_la_code: \"E09000033\" current_school_urn: \"100869\" } } "
                       "purpose: SAFEGUARDING"));
  auto plan = RedactionPlan::FromDecision(Schema::ChildRecordSchema(), e.decision);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE((*plan)->visible() == e.plan->visible());
  rv1::ChildRecord a = testing::FullRecord(), b = testing::FullRecord();
  ASSERT_TRUE(Redactor().Apply(*e.plan, &a).ok());
  ASSERT_TRUE(Redactor().Apply(**plan, &b).ok());
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
}

TEST(PolicyRedactorTest, FromDecisionRejectsUnknownPaths) {
  pv1::Decision d;
  d.set_allowed(true);
  d.add_allowed_paths("identity.secret");
  auto plan = RedactionPlan::FromDecision(Schema::ChildRecordSchema(), d);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(),
              HasSubstr("decision names unknown path \"identity.secret\""));
  EXPECT_THAT(plan, HasErrorReason("POLICY_UNKNOWN_PATH"));
  EXPECT_THAT(plan, HasErrorMetadata("path", "identity.secret"));
}

TEST(PolicyRedactorTest, PlansThatDoNotFitAreNamed) {
  const auto schema = Schema::ChildRecordSchema();
  const LeafSet all(schema->leaf_count());
  auto plan = RedactionPlan::Build(schema, all, {BoundRowFilter{"education.sen", "x", "100869"}});
  EXPECT_THAT(plan, StatusIs(absl::StatusCode::kInvalidArgument,
                             "row filter field \"education.sen\" is not a repeated message field"));
  EXPECT_THAT(plan, HasErrorReason("REDACTION_PLAN_INVALID"));
  EXPECT_THAT(plan, HasErrorMetadata("path", "education.sen"));
  plan = RedactionPlan::Build(schema, all, {BoundRowFilter{"education.nope", "x", "100869"}});
  EXPECT_THAT(plan, HasErrorReason("POLICY_UNKNOWN_PATH"));
  EXPECT_THAT(plan, HasErrorMetadata("path", "education.nope"));
  plan = RedactionPlan::Build(schema, LeafSet(schema->leaf_count() + 1), {});
  EXPECT_THAT(plan,
              StatusIs(absl::StatusCode::kInvalidArgument, "leaf set does not fit the schema"));
  EXPECT_THAT(plan, HasErrorReason("REDACTION_PLAN_INVALID"));
  plan = RedactionPlan::Build(nullptr, all, {});
  EXPECT_THAT(plan, StatusIs(absl::StatusCode::kInvalidArgument, "no schema"));
  EXPECT_THAT(plan, HasErrorReason("INVALID_FIELD"));
  EXPECT_THAT(plan, HasErrorMetadata("field", "schema"));
  plan = RedactionPlan::Build(schema, all, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(Redactor().Apply(**plan, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, "null message"));
  EXPECT_THAT(Redactor().Apply(**plan, nullptr), HasErrorMetadata("field", "message"));
}

TEST(PolicyRedactorTest, FromDeniedDecisionKeepsNothing) {
  pv1::Decision d;
  d.set_allowed(false);
  d.add_allowed_paths("identity");  // ignored: not allowed
  auto plan = RedactionPlan::FromDecision(Schema::ChildRecordSchema(), d);
  ASSERT_TRUE(plan.ok());
  rv1::ChildRecord record = testing::FullRecord();
  ASSERT_TRUE(Redactor().Apply(**plan, &record).ok());
  EXPECT_EQ(record.ByteSizeLong(), 0u);
}

TEST(PolicyRedactorTest, EmptyFilterValueRemovesAllRows) {
  auto schema = Schema::ChildRecordSchema();
  LeafSet visible = schema->AllLeaves();
  auto plan = RedactionPlan::Build(
      schema, visible, {BoundRowFilter{"education.attendance_sessions", "school_urn", ""}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  rv1::ChildRecord record = testing::FullRecord();
  ASSERT_TRUE(Redactor().Apply(**plan, &record).ok());
  EXPECT_EQ(record.education().attendance_sessions_size(), 0);
  EXPECT_EQ(record.legal_status_size(), 10);
}

// Every set message field and every repeated row in `m` holds at least one
// set field: nothing empty that would betray withheld data. Appends the
// paths of empty ones to `empty`.
void CollectEmptyMessages(const google::protobuf::Message& m, const std::string& prefix,
                          std::vector<std::string>& empty) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        const auto& row = r->GetRepeatedMessage(m, f, i);
        if (row.ByteSizeLong() == 0) empty.push_back(absl::StrCat(path, "[", i, "]"));
        CollectEmptyMessages(row, path, empty);
      }
    } else {
      const auto& sub = r->GetMessage(m, f);
      if (sub.ByteSizeLong() == 0) empty.push_back(path);
      CollectEmptyMessages(sub, path, empty);
    }
  }
}

// How many times each leaf path is set in `m`, every row counted.
void CountLeaves(const google::protobuf::Message& m, const std::string& prefix,
                 std::map<std::string, int>& counts) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (kinex::IsLeafField(f)) {
      counts[path] += f->is_repeated() ? r->FieldSize(m, f) : 1;
    } else if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        CountLeaves(r->GetRepeatedMessage(m, f, i), path, counts);
      }
    } else {
      CountLeaves(r->GetMessage(m, f), path, counts);
    }
  }
}

// No presence leaks: for every combination of the eight categories granted
// (and with special-category or criminal-offence leaves withheld on top), a
// record holding any single leaf of the schema, or all of them, comes out
// with no empty section and no empty row (an empty `police {}` would tell a
// DSL that police data exists). And nothing kept is lost with them: every
// occurrence of every kept leaf, in every row, is still there.
TEST(PolicyRedactorTest, NoCategoryCombinationLeavesAnEmptyMessage) {
  auto schema = Schema::ChildRecordSchema();
  const std::vector<rv1::Category> categories = {
      rv1::IDENTITY, rv1::LEGAL_STATUS, rv1::PLACEMENT, rv1::EDUCATION,
      rv1::HEALTH,   rv1::SAFEGUARDING, rv1::POLICE,    rv1::FINANCIAL_SUPPORT};
  // The records: the full one, and one per leaf holding only that leaf.
  std::vector<rv1::ChildRecord> records = {testing::FullRecord()};
  for (int leaf = 0; leaf < schema->leaf_count(); ++leaf) {
    LeafSet one(schema->leaf_count());
    one.Set(leaf);
    auto only = RedactionPlan::Build(schema, one, {});
    ASSERT_TRUE(only.ok()) << only.status();
    rv1::ChildRecord sparse = testing::FullRecord();
    ASSERT_TRUE(Redactor().Apply(**only, &sparse).ok());
    if (sparse.ByteSizeLong() > 0) records.push_back(std::move(sparse));
  }
  ASSERT_GT(records.size(), 100u);
  int checked = 0;
  for (int mask = 0; mask < (1 << categories.size()); ++mask) {
    LeafSet visible(schema->leaf_count());
    for (size_t c = 0; c < categories.size(); ++c) {
      if (mask & (1 << c)) visible |= schema->CategoryLeaves(categories[c]);
    }
    for (rv1::Sensitivity withheld :
         {rv1::SENSITIVITY_UNSPECIFIED, rv1::SPECIAL_CATEGORY, rv1::CRIMINAL_OFFENCE}) {
      LeafSet kept = visible;
      if (withheld != rv1::SENSITIVITY_UNSPECIFIED) {
        kept.AndNot(schema->SensitivityLeaves(withheld));
      }
      auto plan = RedactionPlan::Build(schema, kept, {});
      ASSERT_TRUE(plan.ok()) << plan.status();
      for (const rv1::ChildRecord& original : records) {
        rv1::ChildRecord record = original;
        ASSERT_TRUE(Redactor().Apply(**plan, &record).ok());
        std::vector<std::string> empty;
        CollectEmptyMessages(record, "", empty);
        ASSERT_THAT(empty, ::testing::IsEmpty())
            << "categories mask " << mask << ", withheld sensitivity " << withheld << ", record "
            << original.ShortDebugString().substr(0, 200);
        std::map<std::string, int> before, after, expected;
        CountLeaves(original, "", before);
        CountLeaves(record, "", after);
        for (const auto& [path, n] : before) {
          auto leaf = schema->Resolve(path);
          ASSERT_TRUE(leaf.ok()) << leaf.status();
          if (kept.Test(leaf->leaf_begin)) expected[path] = n;
        }
        ASSERT_EQ(after, expected)
            << "categories mask " << mask << ", withheld sensitivity " << withheld << ", record "
            << original.ShortDebugString().substr(0, 200);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 256 * 3 * static_cast<int>(records.size()));
}

TEST(PolicyRedactorTest, OnlyCriminalOffenceDataLeavesNoPoliceSection) {
  // A school DSL may see Operation Encompass notifications, not incidents:
  // a child whose only police data is incidents gets no `police` at all.
  auto schema = Schema::ChildRecordSchema();
  LeafSet visible = schema->CategoryLeaves(rv1::POLICE);
  visible.AndNot(schema->SensitivityLeaves(rv1::CRIMINAL_OFFENCE));
  auto plan = RedactionPlan::Build(schema, visible, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  rv1::ChildRecord record;
  record.mutable_police()->add_incidents()->set_reference("MET-1");
  ASSERT_TRUE(Redactor().Apply(**plan, &record).ok());
  EXPECT_FALSE(record.has_police());
  EXPECT_EQ(record.ByteSizeLong(), 0u);
}

TEST(PolicyRedactorTest, WrongMessageTypeIsRejectedUnchanged) {
  auto plan = RedactionPlan::Build(Schema::ChildRecordSchema(),
                                   LeafSet(Schema::ChildRecordSchema()->leaf_count()), {});
  ASSERT_TRUE(plan.ok());
  rv1::Identity identity;
  identity.set_given_name("A");
  absl::Status s = Redactor().Apply(**plan, &identity);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "cannot redact a kinex.record.v1.Identity with a plan for "
            "kinex.record.v1.ChildRecord");
  EXPECT_THAT(s, HasErrorReason("REDACTION_PLAN_INVALID"));
  EXPECT_THAT(s, HasErrorMetadata("field", "message"));
  EXPECT_EQ(identity.given_name(), "A");
}

// The test record has fields no rule grants: a FINANCIAL_SUPPORT note, an
// unlabelled string and an unlabelled Date, an ungranted section, and an
// ungranted field inside each repeated row. Whatever the record holds,
// only identity data survives.
TEST(PolicyRedactorTest, FieldsNoRuleGrantsNeverSurvive) {
  auto schema = Schema::Create(testing::TestRecord::descriptor());
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto policy = CompilePolicy(
      {PolicySource{"t.textproto",
                    "roles { agency_kind: LOCAL_AUTHORITY names: \"sw\" }\n"
                    "rules { id: \"identity\" effect: GRANT lawful_basis { article6: "
                    "ARTICLE6_PUBLIC_TASK gateways: CA1989_S17_CHILDREN_IN_NEED } principals { "
                    "agency_kind: LOCAL_AUTHORITY } purposes: CARE_PLANNING "
                    "scope: ANY categories: [IDENTITY, LEGAL_STATUS] }\n"}},
      *schema);
  ASSERT_TRUE(policy.ok()) << policy.status();
  Evaluation e = Evaluate(
      **policy, Request("principal { agency_kind: LOCAL_AUTHORITY agency_code: \"E1\" role: "
                        "\"sw\" } purpose: CARE_PLANNING"));
  testing::TestRecord record;
  testing::FillAllFields(&record, 3);
  ASSERT_FALSE(record.extra_note().empty());
  ASSERT_FALSE(record.unlabelled().empty());
  ASSERT_TRUE(record.has_unlabelled_date());
  ASSERT_TRUE(Redactor().Apply(*e.plan, &record).ok());
  EXPECT_TRUE(record.extra_note().empty());
  EXPECT_TRUE(record.unlabelled().empty());
  EXPECT_FALSE(record.has_unlabelled_date());
  EXPECT_FALSE(record.has_extra_section());
  ASSERT_EQ(record.rows_size(), 3);
  for (const auto& row : record.rows()) {
    EXPECT_FALSE(row.key().empty());
    EXPECT_FALSE(row.value().empty());
    EXPECT_TRUE(row.has_date());
    EXPECT_TRUE(row.extra().empty());
  }
  EXPECT_FALSE(record.identity().given_name().empty());
  EXPECT_TRUE(record.identity().ethnicity().empty());  // special category
  std::set<std::string> present = PresentPaths(record);
  for (const std::string& p : present) {
    EXPECT_TRUE(p.rfind("identity.", 0) == 0 || p.rfind("rows.", 0) == 0) << p;
  }
}

TEST(PolicyRedactorTest, UnlabelledFieldCannotBeGrantedByPath) {
  auto schema = Schema::Create(testing::TestRecord::descriptor());
  ASSERT_TRUE(schema.ok());
  auto policy = CompilePolicy(
      {PolicySource{"t.textproto",
                    "roles { agency_kind: LOCAL_AUTHORITY names: \"sw\" }\n"
                    "rules { id: \"u\" effect: GRANT lawful_basis { article6: ARTICLE6_PUBLIC_TASK "
                    "gateways: CA1989_S17_CHILDREN_IN_NEED } principals { "
                    "agency_kind: LOCAL_AUTHORITY } purposes: CARE_PLANNING "
                    "scope: ANY field_paths: \"unlabelled\" }\n"}},
      *schema);
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(policy.status().message(), HasSubstr("rule \"u\" can never grant anything"));
}

}  // namespace
}  // namespace kinex::policy
