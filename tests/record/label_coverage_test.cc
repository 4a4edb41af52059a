// Every field reachable from ChildRecord carries a category, a sensitivity
// and an owner: policy, redaction and publishing all depend on it.
#include "services/common/record_labels.h"

#include <map>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kinex/record/v1/record.pb.h"
#include "kinex_test/unlabelled.pb.h"

namespace kinex {
namespace {

using kinex::record::v1::ChildRecord;
using ::testing::ElementsAre;

TEST(LabelCoverage, EveryChildRecordFieldIsLabelled) {
  std::vector<std::string> problems = UnlabelledFields(ChildRecord::descriptor());
  EXPECT_THAT(problems, ::testing::IsEmpty());
}

TEST(LabelCoverage, WalkReachesEverySection) {
  std::vector<LabelledField> fields = LabelledFields(ChildRecord::descriptor());
  std::set<std::string> paths;
  for (const auto& f : fields) paths.insert(f.path);
  // The walk is not vacuous: it reaches deep leaves of every section.
  for (const char* p :
       {"identity.nhs_number", "identity.date_of_birth", "scope.police_force_code",
        "legal_status.arrangement", "placement.carers.holds_parental_responsibility",
        "education.attendance_sessions.code", "education.pep.status", "health.sdq.band",
        "safeguarding.missing_episodes.return_interview_offered",
        "police.encompass_notifications.summary",
        "financial_support.allowances.weekly_amount_pence"}) {
    EXPECT_TRUE(paths.count(p)) << p;
  }
  // Value types are leaves: the walk does not descend into Date or Timestamp.
  EXPECT_FALSE(paths.count("identity.date_of_birth.year"));
  EXPECT_FALSE(paths.count("safeguarding.missing_episodes.start_time.seconds"));
  EXPECT_GT(fields.size(), 120u);
}

TEST(LabelCoverage, LabelsMatchTheLaw) {
  for (const auto& f : LabelledFields(ChildRecord::descriptor())) {
    // Health data is special category data (UK GDPR Art. 9) throughout.
    if (f.category == kinex::record::v1::HEALTH) {
      EXPECT_EQ(f.sensitivity, kinex::record::v1::SPECIAL_CATEGORY) << f.path;
    }
  }
  // Named fields by path: a rename or removal fails here (a guard that
  // skips a missing field would silently stop checking it).
  std::map<std::string, LabelledField> by_path;
  for (const auto& f : LabelledFields(ChildRecord::descriptor())) by_path.emplace(f.path, f);
  auto field = [&](const std::string& path) -> const LabelledField& {
    static const LabelledField kMissing{};
    auto it = by_path.find(path);
    if (it == by_path.end()) {
      ADD_FAILURE() << path << " is not a field of ChildRecord";
      return kMissing;
    }
    return it->second;
  };
  EXPECT_EQ(field("identity.ethnicity").sensitivity, kinex::record::v1::SPECIAL_CATEGORY);
  EXPECT_EQ(field("police.incidents.classification").sensitivity,
            kinex::record::v1::CRIMINAL_OFFENCE);
  EXPECT_EQ(field("identity.nhs_number").owner, kinex::common::v1::HEALTH);
  EXPECT_EQ(field("identity.upn").owner, kinex::common::v1::SCHOOL);
  EXPECT_EQ(field("education.pep.status").owner, kinex::common::v1::VIRTUAL_SCHOOL);
}

TEST(LabelCoverage, EveryLeafFieldHasExactlyOnePath) {
  // The gateway maps leaf field descriptors to paths (PresentLeafPaths);
  // that holds only while no message type is reused at two places.
  std::set<const google::protobuf::FieldDescriptor*> descriptors;
  size_t leaves = 0;
  for (const auto& f : LabelledFields(ChildRecord::descriptor())) {
    if (!f.leaf) continue;
    ++leaves;
    EXPECT_TRUE(descriptors.insert(f.field).second) << f.path << " shares its descriptor";
  }
  EXPECT_EQ(descriptors.size(), leaves);
}

TEST(LabelCoverage, DetectsMissingLabels) {
  EXPECT_THAT(
      UnlabelledFields(kinex_test::MislabelledRecord::descriptor()),
      ElementsAre("bare: no category, no sensitivity, no owner", "inner.no_owner: no owner"));
}

}  // namespace
}  // namespace kinex
